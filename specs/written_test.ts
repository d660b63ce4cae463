import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { renderScenes } from "../src/data/render.ts";
import { inkRows, renderGlyph } from "../src/data/glyph.ts";
import { makeWrittenScenes } from "../src/data/written.ts";
import { gaussianBlur, onPaper } from "../src/data/paper.ts";
import { CONDITIONS, makeCondition } from "../src/data/conditions.ts";
import { iou } from "../src/metrics.ts";
import { makeRng } from "../src/rng.ts";

const { val } = await loadMnist();

/** The sharp box of the pixels > 0 of an `h × w` image (zero size when none). */
function inkBox(pixels: ArrayLike<number>, h: number, w: number): number[] {
  let top = h, bottom = 0, left = w, right = 0;
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      if (pixels[r * w + c] > 0) {
        top = Math.min(top, r), bottom = Math.max(bottom, r + 1);
        left = Math.min(left, c), right = Math.max(right, c + 1);
      }
    }
  }
  return bottom > top ? [top, bottom, left, right] : [0, 0, 0, 0];
}

Deno.test("renderGlyph: rotation and scale equal the tfjs projective warp of render.ts", async () => {
  await useBackend("cpu");
  const rng = makeRng(3);
  for (let k = 0; k < 8; k++) {
    const index = rng.int(val.count), angle = rng.uniform(-45, 45), scale = rng.uniform(0.5, 2);
    const g = renderGlyph(val, index, { scaleY: scale, scaleX: scale, angle, shear: 0 });
    // The glyph's canvas puts the grid centre at (cy, cx): find it from the canvas size.
    const side = Math.max(g.height, g.width) + 2;
    const reach = 14.5 * scale *
      (Math.abs(Math.cos(angle * Math.PI / 180)) + Math.abs(Math.sin(angle * Math.PI / 180)));
    const cy = Math.ceil(reach - 0.5 - 1e-9) + 0.5, cx = cy;
    const image = renderScenes(val, {
      size: side,
      indices: Int32Array.of(index),
      angles: Float64Array.of(angle),
      scales: Float64Array.of(scale),
      centers: Float64Array.of(cy, cx),
    });
    const want = await image.data();
    image.dispose();
    let worst = 0;
    for (let r = 0; r < side; r++) {
      for (let c = 0; c < side; c++) {
        const mine = r < g.height && c < g.width ? g.pixels[r * g.width + c] : 0;
        worst = Math.max(worst, Math.abs(mine - want[r * side + c]));
      }
    }
    assert.ok(worst < 1e-4, `digit ${index}, ${angle.toFixed(1)}°, ×${scale.toFixed(2)}: ${worst}`);
    assert.deepEqual(g.box, inkBox(g.pixels, g.height, g.width));
  }
});

Deno.test("renderGlyph: the identity pose is the digit itself; the ink box is that of pixels > 0", () => {
  const index = 7;
  const g = renderGlyph(val, index, { scaleY: 1, scaleX: 1, angle: 0, shear: 0 });
  // The grid square (−1, 28) around the centre 13.5 maps onto rows and columns 0…28 (the centre
  // at 14.5): the digit shifted by one pixel, sampled exactly.
  assert.equal(g.height, 29);
  assert.equal(g.width, 29);
  for (let r = 0; r < 28; r++) {
    for (let c = 0; c < 28; c++) {
      const want = val.images[index * 784 + r * 28 + c] / 255;
      assert.ok(Math.abs(g.pixels[(r + 1) * 29 + c + 1] - want) < 1e-6);
    }
  }
  const [first, last] = inkRows(val, index);
  assert.equal(g.box[0], first + 1);
  assert.equal(g.box[1], last + 2);
  assert.throws(() => renderGlyph(val, 0, { scaleY: 0, scaleX: 1, angle: 0, shear: 0 }), /> 0/);
});

Deno.test("makeWrittenScenes: numbers of touching digits, each digit boxed exactly, left to right", () => {
  const height: [number, number] = [16, 30];
  const gap: [number, number] = [-0.12, 0.06];
  const s = makeWrittenScenes(val, { count: 40, seed: 4, size: [128, 160], height, gap });
  assert.equal(s.pixels.length, 40 * 128 * 160);
  let digits = 0, touching = 0;
  for (let i = 0; i < 40; i++) {
    const pixels = s.pixels.subarray(i * 128 * 160, (i + 1) * 128 * 160);
    // Every digit lies inside the canvas, and the scene's ink is the union of the digits' boxes.
    const all = inkBox(pixels, 128, 160);
    const union = [Infinity, -Infinity, Infinity, -Infinity];
    for (const o of s.objects[i]) {
      const [t, b, l, r] = o.box;
      assert.ok(t >= 0 && b <= 128 && l >= 0 && r <= 160 && b > t && r > l, `${o.box}`);
      union[0] = Math.min(union[0], t), union[1] = Math.max(union[1], b);
      union[2] = Math.min(union[2], l), union[3] = Math.max(union[3], r);
    }
    assert.deepEqual(all, union, `scene ${i}`);
    // Each number: its text is its digits in order; its box is their union; digits of one
    // number are one height (±8 %) within the range, left to right with gaps in the range.
    let d = 0;
    assert.ok(s.numbers[i].length >= 1);
    for (const n of s.numbers[i]) {
      const own = s.objects[i].slice(d, d + n.text.length);
      d += n.text.length;
      assert.equal(own.map((o) => o.label).join(""), n.text);
      assert.deepEqual(n.box, [
        Math.min(...own.map((o) => o.box[0])),
        Math.max(...own.map((o) => o.box[1])),
        Math.min(...own.map((o) => o.box[2])),
        Math.max(...own.map((o) => o.box[3])),
      ]);
      for (let k = 1; k < own.length; k++) {
        const space = own[k].box[2] - own[k - 1].box[3];
        const h = Math.max(own[k].box[1] - own[k].box[0], own[k - 1].box[1] - own[k - 1].box[0]);
        // rounding to whole pixels and a taller rotated glyph widen the bounds a little
        assert.ok(
          space >= gap[0] * h * 1.3 - 1.5 && space <= gap[1] * h * 1.3 + 1.5,
          `${space} ${h}`,
        );
        if (space <= 0) touching++;
      }
      digits += own.length;
    }
    assert.equal(d, s.objects[i].length);
    // Numbers keep clear of each other.
    for (const [a, x] of s.numbers[i].entries()) {
      for (const y of s.numbers[i].slice(a + 1)) assert.equal(iou(x.box, y.box), 0);
    }
  }
  assert.ok(digits > 150 && touching > digits / 4, `${digits} digits, ${touching} touching`);
  // Seeded.
  const again = makeWrittenScenes(val, { count: 40, seed: 4, size: [128, 160], height, gap });
  assert.deepEqual(again.pixels, s.pixels);
  assert.deepEqual(again.objects, s.objects);
  assert.throws(() => makeWrittenScenes(val, { count: 1, seed: 0, length: [0, 3] }), /length/);
  assert.throws(() => makeWrittenScenes(val, { count: 1, seed: 0, size: 0 }), /size/);
});

Deno.test("makeWrittenScenes: single digits with spacing do not touch, over a 4× range of heights", () => {
  const s = makeWrittenScenes(val, {
    count: 60,
    seed: 2,
    size: 160,
    numbers: [1, 6],
    length: [1, 1],
    height: [10, 48],
    rotation: 0,
    slant: 0,
    spacing: 0.15,
  });
  const heights = s.objects.flat().map((o) => o.box[1] - o.box[0]);
  assert.ok(
    Math.min(...heights) < 13 && Math.max(...heights) > 40,
    `${Math.min(...heights)}–${Math.max(...heights)}`,
  );
  for (const list of s.objects) {
    for (const [a, x] of list.entries()) {
      for (const y of list.slice(a + 1)) assert.equal(iou(x.box, y.box), 0);
    }
  }
});

Deno.test("gaussianBlur equals a naive 2-D convolution with clamped edges", () => {
  const [h, w] = [9, 13];
  const rng = makeRng(1);
  const image = Float32Array.from({ length: h * w }, () => rng.next());
  for (const sigma of [0.5, 1.3]) {
    const radius = Math.ceil(3 * sigma);
    const k = Array.from(
      { length: 2 * radius + 1 },
      (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)),
    );
    const sum = k.reduce((a, b) => a + b);
    const got = gaussianBlur(image, h, w, sigma);
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        let v = 0;
        for (let dy = -radius; dy <= radius; dy++) {
          for (let dx = -radius; dx <= radius; dx++) {
            const y = Math.min(h - 1, Math.max(0, r + dy)),
              x = Math.min(w - 1, Math.max(0, c + dx));
            v += k[dy + radius] * k[dx + radius] / (sum * sum) * image[y * w + x];
          }
        }
        assert.ok(Math.abs(got[r * w + c] - v) < 1e-5);
      }
    }
  }
  assert.deepEqual(gaussianBlur(image, h, w, 0), image);
});

Deno.test("onPaper: dark ink on lighter paper, 8-bit levels, seeded, boxes unmoved", () => {
  const s = makeWrittenScenes(val, { count: 10, seed: 8 });
  const area = 128 * 128;
  for (let i = 0; i < 10; i++) {
    const ink = s.pixels.subarray(i * area, (i + 1) * area);
    const paper = onPaper(ink, 128, 128, { seed: i });
    assert.deepEqual(onPaper(ink, 128, 128, { seed: i }), paper);
    let inkSum = 0, inkN = 0, paperSum = 0, paperN = 0;
    for (let p = 0; p < area; p++) {
      const v = paper[p];
      assert.ok(v >= 0 && v <= 1 && Math.abs(v * 255 - Math.round(v * 255)) < 1e-4);
      if (ink[p] > 0.9) inkSum += v, inkN++;
      else if (ink[p] === 0) paperSum += v, paperN++;
    }
    assert.ok(
      inkSum / inkN < paperSum / paperN - 0.1,
      `scene ${i}: ink ${inkSum / inkN} paper ${paperSum / paperN}`,
    );
  }
  assert.throws(() => onPaper(new Float32Array(3), 2, 2, { seed: 0 }), /height × width/);
});

Deno.test("makeCondition: seeded sets; paper shows the strings' numbers; sizes span 0.5–2.2", async () => {
  await useBackend("cpu");
  const strings = await makeCondition("strings", val, { count: 6, seed: 1, size: 128 });
  const paper = await makeCondition("paper", val, { count: 6, seed: 1, size: 128 });
  assert.deepEqual(paper.objects, strings.objects);
  assert.deepEqual(paper.numbers, strings.numbers);
  assert.ok(paper.pixels.reduce((a, v) => a + v, 0) / paper.pixels.length > 0.4, "lit paper");
  assert.deepEqual(
    (await makeCondition("strings", val, { count: 6, seed: 1, size: 128 })).pixels,
    strings.pixels,
  );
  assert.notDeepEqual(
    (await makeCondition("strings", val, { count: 6, seed: 2, size: 128 })).objects,
    strings.objects,
  );
  const sizes = await makeCondition("sizes", val, { count: 40, seed: 0 });
  const tall = sizes.objects.flat().map((o) => o.box[1] - o.box[0]);
  assert.ok(
    Math.min(...tall) < 16 && Math.max(...tall) > 36,
    `${Math.min(...tall)}–${Math.max(...tall)}`,
  );
  for (const name of CONDITIONS) {
    const set = await makeCondition(name, val, { count: 2, seed: 0, size: 160 });
    assert.equal(set.pixels.length, 2 * 160 * 160);
    assert.equal(set.objects.length, 2);
    assert.equal(set.numbers !== undefined, name === "strings" || name === "paper");
  }
  await assert.rejects(
    () => makeCondition("other" as "paper", val, { count: 1, seed: 0 }),
    /name must be one of/,
  );
  assert.equal(tf.memory().numTensors, 0);
});
