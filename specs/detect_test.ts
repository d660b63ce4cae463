import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import {
  decodeDetections,
  defaultBorder,
  detect,
  type Detection,
  nonMaxSuppression,
  pyramidScales,
  selectDetections,
  windowProposals,
} from "../src/detection/detect.ts";
import { sharedPrefix, windowGrid } from "../src/geometry.ts";
import { meanAveragePrecision } from "../src/detection/map.ts";
import { iou } from "../src/metrics.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { buildModel, S8_ARCH } from "../src/model/model.ts";
import { type Box, makeMultiScenes } from "../src/data/multi_scenes.ts";
import { makeRng } from "../src/rng.ts";

const { train } = await loadMnist({ dir: new URL("../fixtures/mnist/", import.meta.url) });

/** Plain greedy NMS: best score first, skip a box overlapping a kept one of its label. */
function naiveNms(
  all: Detection[],
  iouThreshold: number,
  maxDetections: number,
  agnostic = false,
): Detection[] {
  const sorted = [...all].sort((a, b) => b.score - a.score);
  const kept: Detection[] = [];
  for (const d of sorted) {
    if (kept.length === maxDetections) break;
    let suppressed = false;
    for (const k of kept) {
      const same = agnostic || k.label === d.label;
      if (same && iou(k.box, d.box) >= iouThreshold) suppressed = true;
    }
    if (!suppressed) kept.push(d);
  }
  return kept;
}

Deno.test("nonMaxSuppression agrees with a naive greedy loop on seeded random boxes", async () => {
  await useBackend("cpu");
  const rng = makeRng(21);
  for (let trial = 0; trial < 30; trial++) {
    const n = 1 + rng.int(120);
    // Distinct scores exact in float32 (tf keeps them as float32).
    const ranks = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [ranks[i], ranks[j]] = [ranks[j], ranks[i]];
    }
    const boxes: Detection[] = ranks.map((rank) => {
      const top = rng.int(80), left = rng.int(80);
      const box: Box = [top, top + 4 + rng.int(30), left, left + 4 + rng.int(30)];
      return { label: rng.int(3), score: (rank + 1) / 256, box };
    });
    const iouThreshold = [0.1, 0.3, 0.5, 0.7][trial % 4];
    const maxDetections = [1, 5, 20, 200][Math.floor(trial / 4) % 4];
    const got = await nonMaxSuppression(boxes, { iouThreshold, maxDetections });
    const want = naiveNms(boxes, iouThreshold, maxDetections);
    assert.deepEqual(
      got,
      want,
      `trial ${trial}: n ${n}, IoU ${iouThreshold}, max ${maxDetections}`,
    );
  }
  assert.deepEqual(await nonMaxSuppression([]), []);
  await assert.rejects(() => nonMaxSuppression([], { iouThreshold: 2 }), /iouThreshold must be/);
});

/** Asserts two boxes agree to float32 precision. */
function closeBox(got: readonly number[], want: readonly number[]): void {
  assert.ok(got.every((x, k) => Math.abs(x - want[k]) < 1e-4), `${got} vs ${want}`);
}

/** One window's 15 output values. */
function windowValues(objectness: number, label: number, frame: number[]): number[] {
  const v = new Array(15).fill(0);
  v[0] = objectness;
  v[1 + label] = 6;
  v.splice(11, 4, ...frame);
  return v;
}

Deno.test("decodeDetections on a hand-made output: threshold, box mapping, clipping, NMS", async () => {
  await useBackend("cpu");
  const geometry = { size: 40, stride: 4, offset: -2 };
  const [rows, cols] = [2, 3];
  const values = new Float32Array(rows * cols * 15);
  const set = (r: number, c: number, v: number[]) => values.set(v, (r * cols + c) * 15);
  // Window (0, 0) at top −2, left −2: a 7 at [8, 28, 3, 20] in the image.
  set(0, 0, windowValues(3, 7, [10 / 40, 30 / 40, 5 / 40, 22 / 40]));
  // Window (0, 1) at left 2: the same 7, box off by one pixel, lower objectness: suppressed.
  set(0, 1, windowValues(1, 7, [10 / 40, 30 / 40, 2 / 40, 19 / 40]));
  // Window (1, 2) at top 2, left 6: a 1 sticking out of the 50 × 48 image → clipped.
  set(1, 2, windowValues(2, 1, [20 / 40, 60 / 40, 30 / 40, 50 / 40]));
  // Window (1, 0): objectness just below 0.5 → no proposal.
  set(1, 0, windowValues(-0.01, 4, [0, 0.5, 0, 0.5]));
  // Window (1, 1): upside-down box → dropped.
  set(1, 1, windowValues(4, 2, [0.5, 0.25, 0, 0.5]));
  // Everything else: objectness logit −6.
  for (let w = 0; w < rows * cols; w++) if (values[w * 15] === 0) values[w * 15] = -6;
  const out = tf.tensor4d(values, [1, rows, cols, 15]);
  const [found] = await decodeDetections(out, geometry, {
    imageSize: [50, 48],
    containment: 0,
    vote: 0,
  });
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  const p = 1 / (1 + 9 * Math.exp(-6)); // softmax probability of the class logit 6
  assert.equal(found.length, 2);
  assert.deepEqual(found.map((d) => d.label), [7, 1]);
  closeBox(found[0].box, [8, 28, 3, 20]);
  closeBox(found[1].box, [22, 50, 36, 48]);
  assert.ok(Math.abs(found[0].score - sig(3) * p) < 1e-6, `${found[0].score}`);
  assert.ok(Math.abs(found[1].score - sig(2) * p) < 1e-6);
  // Rescored by the fraction of the box inside its window (rows 2–42, cols 6–46): 20/28 · 10/12.
  const [rescored] = await decodeDetections(out, geometry, {
    imageSize: [50, 48],
    containment: 2,
    vote: 0,
  });
  assert.equal(rescored[0].score, found[0].score);
  const f = (20 / 28) * (10 / 12);
  assert.ok(Math.abs(rescored[1].score - found[1].score * f * f) < 1e-6, `${rescored[1].score}`);
  // Box voting: the kept 7 becomes the score-weighted mean of both 7s (IoU 16/18 ≥ 0.5).
  const [voted] = await decodeDetections(out, geometry, { imageSize: [50, 48], containment: 0 });
  const [s1, s2] = [sig(3) * p, sig(1) * p];
  const mean = (a: number, b: number) => (a * s1 + b * s2) / (s1 + s2);
  closeBox(voted[0].box, [8, 28, mean(3, 4), mean(20, 21)]);
  assert.equal(voted[0].score, found[0].score);
  closeBox(voted[1].box, found[1].box);
  // Lower threshold: window (1, 0) proposes; no clipping without imageSize.
  const [more] = await decodeDetections(out, geometry, {
    scoreThreshold: 0.4,
    containment: 0,
    vote: 0,
  });
  assert.deepEqual(more.map((d) => d.label), [7, 1, 4]);
  closeBox(more[1].box, [22, 62, 36, 56]);
  // No NMS overlap with iouThreshold 1: both 7s stay.
  const [all] = await decodeDetections(out, geometry, { iouThreshold: 1, containment: 0, vote: 0 });
  assert.deepEqual(all.map((d) => d.label), [7, 1, 7]);
  const [one] = await decodeDetections(out, geometry, { maxDetections: 1 });
  assert.equal(one.length, 1);
  out.dispose();
});

Deno.test("detection on a fixture scene: a perfect hand-made output recovers every digit, mAP 1", async () => {
  await useBackend("wasm");
  const size = 128;
  const scenes = await makeMultiScenes(train, { count: 4, seed: 3, size, digits: [2, 5] });
  const grid = windowGrid(S8_ARCH, size);
  const { rows, cols, stride, offset } = grid;
  const values = new Float32Array(4 * rows * cols * 15);
  for (const [i, objects] of scenes.objects.entries()) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const [wt, wl] = [offset + r * stride, offset + c * stride];
        // The digit covering most of the window, if any.
        let best = -1, bestArea = 0;
        for (const [k, o] of objects.entries()) {
          const [t, b, l, rt] = o.box;
          const area = Math.max(0, Math.min(b, wt + grid.size) - Math.max(t, wt)) *
            Math.max(0, Math.min(rt, wl + grid.size) - Math.max(l, wl));
          if (area > bestArea) [best, bestArea] = [k, area];
        }
        const at = ((i * rows + r) * cols + c) * 15;
        if (best < 0) {
          values[at] = -8;
          continue;
        }
        const [t, b, l, rt] = objects[best].box;
        const frame = [t - wt, b - wt, l - wl, rt - wl].map((x) => x / grid.size);
        values.set(windowValues(8, objects[best].label, frame), at);
      }
    }
  }
  const out = tf.tensor4d(values, [4, rows, cols, 15]);
  const found = await decodeDetections(out, grid, { imageSize: [size, size] });
  out.dispose();
  for (const [i, objects] of scenes.objects.entries()) {
    const byBox = (a: { box: number[] }, b: { box: number[] }) =>
      Math.round(a.box[0]) - Math.round(b.box[0]) || Math.round(a.box[2]) - Math.round(b.box[2]);
    const want = [...objects].sort(byBox).map((o) => o.label);
    assert.deepEqual([...found[i]].sort(byBox).map((d) => d.label), want, `scene ${i}`);
    for (const d of found[i]) {
      assert.ok(objects.some((o) => iou(o.box, d.box) > 0.9999), `scene ${i}: ${d.box}`);
    }
  }
  const m = meanAveragePrecision(found, scenes.objects);
  assert.ok(m.map50 === 1 && m.map > 0.9999, `${m.map50} ${m.map}`);

  // detect() with a real (untrained) model = its output decoded, in any batch size.
  const model = buildModel(undefined, { seed: 2 });
  const options = { scoreThreshold: 0.4, iouThreshold: 0.5 };
  const direct = tf.tidy(() => model.apply(scenes.images));
  const want = await decodeDetections(direct, model.geometry, {
    ...options,
    imageSize: [size, size],
  });
  direct.dispose();
  assert.deepEqual(
    await detect(model, scenes.images, {
      ...options,
      batchSize: 3,
      scales: [1],
      offsets: 1,
      border: 0,
    }),
    want,
  );
  assert.ok(want.some((list) => list.length > 0), "the untrained model proposes something");

  // A pyramid [1, ½] = the proposals of the image and of its 2×2 means (a naive loop), boxes of
  // the half level doubled, then one NMS and vote over both.
  const [n, h, w] = scenes.images.shape;
  const pixels = await scenes.images.data();
  const half = new Float32Array(n * (h >> 1) * (w >> 1));
  for (let i = 0, at = 0; i < n; i++) {
    for (let r = 0; r < h >> 1; r++) {
      for (let c = 0; c < w >> 1; c++, at++) {
        const p = (i * h + 2 * r) * w + 2 * c;
        half[at] = (pixels[p] + pixels[p + 1] + pixels[p + w] + pixels[p + w + 1]) / 4;
      }
    }
  }
  // The level is their 2×2 means (to float32 rounding; the proposals then use tf's own, since an
  // objectness at the threshold may flip with the last bit).
  const halfImages = tf.avgPool(scenes.images, 2, 2, "valid") as tf.Tensor4D;
  const pooled = await halfImages.data();
  assert.ok(half.every((v, k) => Math.abs(v - pooled[k]) < 1e-6), "the ½ level is the 2×2 means");
  const [full, small] = tf.tidy(() => [model.apply(scenes.images), model.apply(halfImages)]);
  const p1 = await windowProposals(full, model.geometry, { ...options, imageSize: [h, w] });
  const p2 = await windowProposals(small, model.geometry, {
    ...options,
    imageSize: [h, w],
    scale: 0.5,
  });
  tf.dispose([full, small, halfImages]);
  const pyramid = await detect(model, scenes.images, {
    ...options,
    batchSize: 3,
    scales: [1, 0.5],
    levelRange: [0, Infinity],
    offsets: 1,
    border: 0,
  });
  for (let i = 0; i < n; i++) {
    const expected = await selectDetections([...p1[i], ...p2[i]], options);
    assert.equal(pyramid[i].length, expected.length, `scene ${i}`);
    for (const [k, d] of pyramid[i].entries()) {
      assert.equal(d.label, expected[k].label);
      assert.ok(Math.abs(d.score - expected[k].score) < 1e-5, `scene ${i}: ${d.score}`);
      closeBox(d.box, expected[k].box);
    }
  }
  assert.ok(p2.some((list) => list.length > 0), "the half level proposes something");
  // With level ranges, the finest level keeps boxes up to 36 px, the coarsest from 28 px on.
  const ranged = await detect(model, scenes.images, { ...options, scales: [1, 0.5], border: 0 });
  for (const d of ranged.flat()) {
    const side = Math.max(d.box[1] - d.box[0], d.box[3] - d.box[2]);
    assert.ok(d.level === 1 ? side <= 36 : side >= 28, `level ${d.level}: ${side}`);
  }
  model.dispose();
  scenes.images.dispose();
});

Deno.test("offset passes and border: detect pools the proposals of the image padded by k·stride/offsets and a border, moved back", async () => {
  await useBackend("wasm");
  const size = 96;
  const scenes = await makeMultiScenes(train, { count: 3, seed: 5, size, digits: [2, 4] });
  const model = buildModel(undefined, { seed: 2 });
  const { stride } = model.geometry; // 8
  // detect shares the first two stride-2 layers between the passes (a 4-pixel crop = 1 position)
  assert.deepEqual(sharedPrefix(model.arch, stride / 2), { depth: 2, crop: 1 });
  const options = { scoreThreshold: 0.3, iouThreshold: 0.5, vote: 0.5 };
  const [n, h, w] = scenes.images.shape;
  const pixels = await scenes.images.data();
  // the default border: half of the 40-pixel window in whole strides
  assert.equal(defaultBorder(model.geometry), 16);
  const byBorder: Detection[][][] = [];
  for (const border of [0, 12]) {
    const pooled: Detection[][] = Array.from({ length: n }, () => []);
    let shifted = 0;
    for (const dy of [0, stride / 2]) {
      for (const dx of [0, stride / 2]) {
        // padded by a naive loop: dy + border rows and dx + border columns of background on top
        // and left, border ones on the bottom and right, and the whole net run on it (detect
        // runs the first layers once and crops their activations)
        const [top, left] = [dy + border, dx + border];
        const [ph, pw] = [h + top + border, w + left + border];
        const padded = new Float32Array(n * ph * pw);
        for (let i = 0; i < n; i++) {
          for (let r = 0; r < h; r++) {
            for (let c = 0; c < w; c++) {
              padded[(i * ph + r + top) * pw + c + left] = pixels[(i * h + r) * w + c];
            }
          }
        }
        const input = tf.tensor4d(padded, [n, ph, pw, 1]);
        const out = tf.tidy(() => model.apply(input));
        const found = await windowProposals(out, model.geometry, {
          ...options,
          imageSize: [h, w],
          shift: [-top, -left],
        });
        tf.dispose([input, out]);
        found.forEach((list, i) => pooled[i].push(...list));
        if (dy || dx) shifted += found.flat().length;
      }
    }
    const got = await detect(model, scenes.images, {
      ...options,
      scales: [1],
      offsets: 2,
      border,
    });
    for (let i = 0; i < n; i++) {
      const expected = await selectDetections(pooled[i], options);
      assert.equal(got[i].length, expected.length, `border ${border}, scene ${i}`);
      for (const [k, d] of got[i].entries()) {
        assert.equal(d.label, expected[k].label);
        assert.ok(Math.abs(d.score - expected[k].score) < 1e-5, `scene ${i}: ${d.score}`);
        closeBox(d.box, expected[k].box);
      }
    }
    assert.ok(shifted > 0 && got.flat().length > 0, "the offset passes propose something");
    byBorder.push(got);
  }
  assert.notDeepEqual(byBorder[0], byBorder[1], "the border's windows change what is found");
  // a window of a padded pass is moved back by the padding, a cropped one's on, before the scale
  const v = new Float32Array(15);
  v.set([5, 0, 0, 4], 0);
  v.set([0.25, 0.75, 0.25, 0.5], 11);
  const one = tf.tensor4d(v, [1, 1, 1, 15]);
  const geometry = { size: 40, stride: 8, offset: 0 };
  const [[moved]] = await windowProposals(one, geometry, { shift: [4, 2], scale: 0.5 });
  assert.deepEqual(moved.box, [(10 + 4) / 0.5, (30 + 4) / 0.5, (10 + 2) / 0.5, (20 + 2) / 0.5]);
  const [[back]] = await windowProposals(one, geometry, { shift: [-4, -2] });
  assert.deepEqual(back.box, [10 - 4, 30 - 4, 10 - 2, 20 - 2]);
  await assert.rejects(windowProposals(one, geometry, { shift: [NaN, 0] }), /shift must be/);
  one.dispose();
  await assert.rejects(detect(model, scenes.images, { offsets: 3 }), /offsets must be/);
  await assert.rejects(detect(model, scenes.images, { offsets: 0 }), /offsets must be/);
  await assert.rejects(detect(model, scenes.images, { border: -1 }), /border must be/);
  await assert.rejects(detect(model, scenes.images, { border: 1.5 }), /border must be/);
  model.dispose();
  scenes.images.dispose();
});

Deno.test("pyramidScales: 1, ½, ¼, … while a level holds a window; explicit lists checked", () => {
  assert.deepEqual(pyramidScales(64, 64, 40), [1]);
  assert.deepEqual(pyramidScales(80, 200, 40), [1, 0.5]);
  assert.deepEqual(pyramidScales(1080, 1080, 40), [1, 0.5, 0.25, 0.125, 0.0625]);
  assert.deepEqual(pyramidScales(100, 100, 40, [2, 1, 0.3]), [2, 1]);
  assert.throws(() => pyramidScales(100, 100, 40, [0.1]), /no level/);
  assert.throws(() => pyramidScales(100, 100, 40, []), /non-empty/);
  assert.throws(() => pyramidScales(100, 100, 40, [-1]), /factors > 0/);
});
