/**
 * Normalisation (src/data/normalize.ts): near-identity on the project's own scenes (one gain per
 * scene, 1.00–1.02 at the median; the shipped detector finds the same digits), pencil on unevenly lit noisy paper comes out
 * as white strokes on black (metrics below), polarity found both ways or forced, blank and noisy
 * pages stay dark, options and errors; selection against sorting.
 */
import assert from "node:assert/strict";
import { useBackend } from "../src/backends/backend.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { makeMultiScenes } from "../src/data/multi_scenes.ts";
import { normalizeImage, select } from "../src/data/normalize.ts";
import { gaussianBlur } from "../src/data/paper.ts";
import { prepareGray, prepareImage } from "../src/data/prepare.ts";
import { detect } from "../src/detection/detect.ts";
import { tf } from "../src/deps.ts";
import { loadModel, PRETRAINED_DETECTOR } from "../src/model/checkpoint.ts";
import { makeRng } from "../src/rng.ts";
import type { GrayImage } from "../src/data/gray.ts";
import { numbersPicture, pencil } from "./number_pictures.ts";
import { encodePng } from "./image_fixtures.ts";

await useBackend("wasm");
const { val } = await loadMnist({
  dir: new URL("../fixtures/mnist", import.meta.url),
  testCount: 0,
});

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

Deno.test("select equals sorting, with and without many equal values", () => {
  const rng = makeRng(3);
  for (let trial = 0; trial < 300; trial++) {
    const n = 1 + rng.int(trial % 3 === 0 ? 3000 : 40);
    const a = Float32Array.from({ length: n }, () => trial % 2 ? rng.int(4) : rng.next());
    const sorted = a.slice().sort();
    const k = rng.int(n);
    assert.equal(select(a.slice(), k), sorted[k]);
    // ordered inputs, and an array selected in twice
    assert.equal(select(sorted.slice(), k), sorted[k]);
    assert.equal(select(sorted.slice().reverse(), k), sorted[k]);
    const twice = a.slice();
    select(twice, n >> 1);
    assert.equal(select(twice, k), sorted[k]);
  }
  assert.throws(() => select(new Float32Array(3), 3), /k must be an integer in \[0, 3\)/);
});

Deno.test("the project's own scenes come out (nearly) unchanged, and the detector finds the same digits", async () => {
  // The only change is one gain per scene, 1 / (strokes' level): no background, no floor.
  const gains: number[] = [];
  for (const size of [64, 128, 256]) {
    const scenes = await makeMultiScenes(val, {
      count: 24,
      seed: 11,
      size,
      digits: size === 64 ? [1, 1] : [1, 6],
    });
    const pixels = await scenes.images.data() as Float32Array;
    scenes.images.dispose();
    for (let i = 0; i < 24; i++) {
      const data = pixels.slice(i * size * size, (i + 1) * size * size);
      const n = normalizeImage({ width: size, height: size, data });
      const what = `scene ${i} at ${size}`;
      assert.equal(n.polarity, "light-ink", what);
      assert.ok(n.auto);
      assert.deepEqual([n.floor, n.noise], [0, 0], `${what}: clean black`);
      const gain = 1 / n.stroke;
      const stretched = data.map((v) => Math.min(1, v * gain));
      assert.ok(maxDiff(n.data, stretched) <= 1e-6, `${what}: more than a gain`);
      gains.push(gain);
    }
  }
  gains.sort((a, b) => a - b);
  const median = gains[gains.length >> 1], p90 = gains[Math.floor(0.9 * gains.length)];
  // faint scenes (a thin digit shrunk to 0.75, its ink peaking at 0.9) are stretched by design
  assert.ok(median <= 1.02 && p90 <= 1.07 && gains.at(-1)! <= 1.3, `gains ${gains.join(" ")}`);

  const { model } = await loadModel(PRETRAINED_DETECTOR);
  const scenes = await makeMultiScenes(val, { count: 8, seed: 4, size: 256, digits: [2, 8] });
  const pixels = await scenes.images.data() as Float32Array;
  const area = 256 * 256;
  const normalized = new Float32Array(pixels.length);
  for (let i = 0; i < 8; i++) {
    normalizeImage(
      { width: 256, height: 256, data: pixels.subarray(i * area, (i + 1) * area) },
      { out: normalized.subarray(i * area, (i + 1) * area) },
    );
  }
  const images = tf.tensor4d(normalized, [8, 256, 256, 1]);
  // one level: what normalising changes, not what the pyramid adds
  const before = await detect(model, scenes.images, { scales: [1] });
  const after = await detect(model, images, { scales: [1] });
  tf.dispose([images, scenes.images]);
  model.dispose();
  let found = 0;
  before.forEach((list, i) => {
    const kept = (ds: typeof list) => ds.filter((d) => d.score >= 0.5);
    const [a, b] = [kept(list), kept(after[i])];
    assert.equal(b.length, a.length, `scene ${i}: ${a.length} → ${b.length} detections`);
    for (const d of a) {
      const twin = b.find((e) => e.label === d.label && maxDiff(e.box, d.box) <= 1);
      assert.ok(twin, `scene ${i}: ${d.label} at [${d.box}] is not found after normalising`);
      assert.ok(
        Math.abs(twin.score - d.score) <= 0.05,
        `scene ${i}: score ${d.score} → ${twin.score}`,
      );
    }
    found += a.length;
  });
  assert.ok(found >= 30, `the scenes hold digits the detector finds (${found})`);
});

/** Pixels within `r` of ink, and the ink's stroke centres (ridges of ink ≥ 0.9). */
function inkMasks(picture: GrayImage, r: number) {
  const { width: w, height: h, data } = picture;
  const near = new Uint8Array(w * h), centres: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x, v = data[p];
      if (v <= 0) continue;
      for (let dy = -r; dy <= r; dy++) {
        for (let dx = -r; dx <= r; dx++) {
          const yy = y + dy, xx = x + dx;
          if (yy >= 0 && xx >= 0 && yy < h && xx < w) near[yy * w + xx] = 1;
        }
      }
      const inner = x > 0 && y > 0 && x < w - 1 && y < h - 1;
      if (
        v >= 0.9 && inner &&
        ((v >= data[p - 1] && v >= data[p + 1]) || (v >= data[p - w] && v >= data[p + w]))
      ) centres.push(p);
    }
  }
  return { near, centres };
}

const quantileOf = (values: number[], q: number) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(q * (s.length - 1))];
};

/**
 * The metric of "background ≈ 0, strokes ≈ 1": background = pixels farther than 3 px from any
 * ink, its mean and 99.9th percentile; strokes = the stroke centres of the clean ink (ridge
 * pixels of MNIST ink ≥ 0.9), their median; and the mean absolute difference to the clean ink.
 * Measured on 8 pencil pictures: background mean ≤ 5e-5, 99.9th percentile ≤ 0.014, stroke
 * centres' median 0.76–0.86 (the 3 × 3 blur lowers thin strokes' centres), difference 0.006–0.015.
 */
function paperMetrics(out: Float32Array, clean: GrayImage) {
  const { near, centres } = inkMasks(clean, 3);
  const background: number[] = [];
  for (let p = 0; p < out.length; p++) if (!near[p]) background.push(out[p]);
  let mae = 0;
  for (let p = 0; p < out.length; p++) mae += Math.abs(out[p] - clean.data[p]);
  return {
    backgroundMean: background.reduce((s, v) => s + v, 0) / background.length,
    background999: quantileOf(background, 0.999),
    strokeMedian: quantileOf(centres.map((p) => out[p]), 0.5),
    mae: mae / out.length,
  };
}

Deno.test("dark pencil on unevenly lit, noisy paper: background ≈ 0, strokes ≈ 1, polarity found", () => {
  for (let seed = 0; seed < 8; seed++) {
    const clean = numbersPicture(val, { seed, width: 192, height: 140 });
    const paper = pencil(clean, { seed }); // darkness 0.4–0.9, gradient, σ 0.03, 3×3 blur
    const n = normalizeImage(paper);
    const m = paperMetrics(n.data, clean);
    const what = `seed ${seed} (darkness ${paper.darkness.toFixed(2)}): ${JSON.stringify(m)}`;
    assert.equal(n.polarity, "dark-ink", what);
    assert.ok(m.backgroundMean <= 0.002, what);
    assert.ok(m.background999 <= 0.05, what);
    assert.ok(m.strokeMedian >= 0.72, what);
    assert.ok(m.mae <= 0.03, what);
    // without background removal the floor, raised by the gradient, eats the strokes in the
    // shade (often all of them: median 0)
    const flat = paperMetrics(normalizeImage(paper, { background: false }).data, clean);
    assert.ok(flat.strokeMedian < m.strokeMedian - 0.05 && flat.mae > m.mae, JSON.stringify(flat));
  }
});

Deno.test("denoising: grainy paper is blurred (σ 0.5 px) before the contrast step, clean pictures are not", () => {
  const rng = makeRng(11);
  for (let seed = 0; seed < 4; seed++) {
    const clean = numbersPicture(val, { seed, width: 192, height: 140 });
    const paper = pencil(clean, { seed });
    // sensor grain well above the threshold: σ 0.08 of full scale on top of the pencil picture
    const grainy = {
      ...paper,
      data: paper.data.map((v) => {
        const g = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
        return Math.min(1, Math.max(0, v + 0.08 * g));
      }),
    };
    const on = normalizeImage(grainy), off = normalizeImage(grainy, { denoise: false });
    assert.ok(on.denoised && !off.denoised && on.noise === off.noise && on.noise > 0.03);
    // the oracle, on the path without background removal and contrast (inversion only, values
    // stay in [0, 1]): the result is gaussianBlur of the inverted picture
    const bare = { polarity: "dark-ink" as const, background: false, contrast: false };
    const inverted = grainy.data.map((v) => 1 - v);
    assert.ok(
      maxDiff(
        normalizeImage(grainy, bare).data,
        gaussianBlur(inverted, grainy.height, grainy.width, 0.5),
      ) <
        1e-6,
      `seed ${seed}: the denoised picture is the blurred one`,
    );
    assert.ok(maxDiff(normalizeImage(grainy, { ...bare, denoise: false }).data, inverted) < 1e-6);
    // grain off the strokes is what the blur takes away: the background is darker and smoother
    const m = paperMetrics(on.data, clean), mOff = paperMetrics(off.data, clean);
    assert.ok(m.mae < mOff.mae, `seed ${seed}: ${m.mae} vs ${mOff.mae} without`);
    // the pencil picture itself (σ 0.03 grain) is at the threshold's edge; a clean one is not
    // touched at all
    const plain = normalizeImage(clean);
    assert.equal(plain.denoised, false);
    assert.deepEqual(
      Array.from(plain.data),
      Array.from(normalizeImage(clean, { denoise: false }).data),
    );
  }
});

Deno.test("light ink on a dark, unevenly lit background: found, background removed", () => {
  for (let seed = 0; seed < 4; seed++) {
    const clean = numbersPicture(val, { seed, width: 160, height: 100 });
    const paper = pencil(clean, { seed });
    const chalk = { ...paper, data: paper.data.map((v) => 1 - v) }; // light strokes, dark board
    const n = normalizeImage(chalk);
    const m = paperMetrics(n.data, clean);
    assert.equal(n.polarity, "light-ink");
    assert.ok(m.backgroundMean <= 0.002 && m.strokeMedian >= 0.6, JSON.stringify(m));
  }
});

Deno.test("polarity can be forced; without background, denoising and contrast only the inversion is left", () => {
  const data = Float32Array.from({ length: 64 * 48 }, (_, p) => ((p * 7919) % 101) / 100);
  const image = { width: 64, height: 48, data };
  const bare = { background: false, denoise: false, contrast: false };
  const dark = normalizeImage(image, { polarity: "dark-ink", ...bare });
  assert.deepEqual([dark.polarity, dark.auto], ["dark-ink", false]);
  assert.ok(maxDiff(dark.data, data.map((v) => 1 - v)) < 1e-6);
  const light = normalizeImage(image, { polarity: "light-ink", ...bare });
  assert.deepEqual(Array.from(light.data), Array.from(data));
  // prepareGray's normalize: false is the same: polarity only
  const { tensor, image: prepared } = prepareGray(image, {
    normalize: false,
    polarity: "dark-ink",
  });
  assert.deepEqual(tensor.shape, [1, 48, 64, 1]);
  assert.deepEqual(Array.from(prepared.data), Array.from(dark.data));
  tensor.dispose();
});

Deno.test("blank and noise-only pages stay dark; flat pages give zeros", () => {
  for (const level of [0, 0.5, 1]) {
    const n = normalizeImage({ width: 40, height: 30, data: new Float32Array(1200).fill(level) });
    assert.ok(n.data.every((v) => v === 0), `constant ${level}`);
  }
  const rng = makeRng(2);
  const noisy = Float32Array.from({ length: 128 * 128 }, () => {
    const g = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    return Math.min(1, Math.max(0, 0.8 + 0.03 * g));
  });
  const n = normalizeImage({ width: 128, height: 128, data: noisy });
  const mean = n.data.reduce((s, v) => s + v, 0) / n.data.length;
  assert.ok(mean <= 0.005, `noise-only page: mean ${mean}`);
});

Deno.test("normalizeImage: out, tile, and one-line errors naming the argument", () => {
  const image = { width: 20, height: 10, data: new Float32Array(200).fill(0.3) };
  const out = new Float32Array(200).fill(7);
  assert.equal(normalizeImage(image, { out }).data, out);
  assert.ok(out.every((v) => v === 0));
  assert.equal(normalizeImage(image, { tile: 3 }).data.length, 200);
  const bad = (data: Float32Array) => ({ width: 20, height: 10, data });
  assert.throws(
    () => normalizeImage(bad(new Float32Array(200).fill(1.5))),
    /image\.data\[0\] is 1\.5; values must lie in \[0, 1\]/,
  );
  const nan = new Float32Array(200);
  nan[17] = NaN;
  assert.throws(() => normalizeImage(bad(nan)), /image\.data\[17\] is NaN/);
  assert.throws(
    () => normalizeImage(bad(new Float32Array(199))),
    /image\.data has 199 values, not 20 × 10/,
  );
  assert.throws(
    () => normalizeImage({ width: 0, height: 10, data: new Float32Array() }),
    /positive integers/,
  );
  assert.throws(
    () => normalizeImage(image, { polarity: "dark" as "dark-ink" }),
    /polarity must be auto, dark-ink or light-ink/,
  );
  assert.throws(() => normalizeImage(image, { tile: 0 }), /tile must be a positive integer/);
  assert.throws(
    () => normalizeImage(image, { out: new Float32Array(3) }),
    /out must be a Float32Array of 200/,
  );
  assert.throws(() => normalizeImage(image, { out: image.data }), /must not share memory/);
});

Deno.test("prepareImage: PNG bytes of a dark-on-light picture become white ink on black", async () => {
  const clean = numbersPicture(val, { seed: 1, width: 96, height: 60 });
  const paper = pencil(clean, { seed: 1 });
  const bytes = await encodePng({
    width: 96,
    height: 60,
    colorType: 2,
    depth: 8,
    sample: (x, y) => Array(3).fill(Math.round(255 * paper.data[y * 96 + x])),
  });
  const { tensor, image, normalized } = await prepareImage(bytes, { name: "paper.png" });
  assert.deepEqual([tensor.shape, image.polarity, normalized], [[1, 60, 96, 1], "dark-ink", true]);
  const m = paperMetrics(await tensor.data() as Float32Array, clean);
  tensor.dispose();
  assert.ok(m.backgroundMean <= 0.002 && m.strokeMedian >= 0.7, JSON.stringify(m));
  await assert.rejects(
    prepareImage(bytes.subarray(0, 30), { name: "paper.png" }),
    /paper\.png is not a valid PNG: its IHDR chunk is missing/,
  );
});
