import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import { boundingBoxes } from "../src/data/boxes.ts";
import { iou } from "../src/metrics.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { makeMultiScenes, parseDigitRange } from "../src/data/multi_scenes.ts";

const { train } = await loadMnist({ dir: new URL("../fixtures/mnist/", import.meta.url) });

/** Scene `i` with everything outside `box` set to 0, as [1, H, W, 1]. */
function cropTo(images: tf.Tensor4D, i: number, box: number[]): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = images.shape;
    const [t, b, l, r] = box;
    const scene = tf.slice(images, [i, 0, 0, 0], [1, -1, -1, -1]);
    const mask = tf.pad(tf.ones([b - t, r - l]), [[t, h - b], [l, w - r]]);
    return tf.mul(scene, tf.reshape(mask, [1, h, w, 1])) as tf.Tensor4D;
  });
}

Deno.test("makeMultiScenes: seeded, digit counts in range, disjoint sharp boxes that hold all ink", async () => {
  await useBackend("wasm");
  const options = { count: 12, seed: 4, size: 128, digits: [2, 6] as const };
  const a = await makeMultiScenes(train, options);
  const b = await makeMultiScenes(train, options);
  assert.deepEqual(a.images.shape, [12, 128, 128, 1]);
  assert.deepEqual(await a.images.data(), await b.images.data());
  assert.deepEqual(a.objects, b.objects);
  const counts = a.objects.map((o) => o.length);
  assert.ok(counts.every((k) => k >= 2 && k <= 6), `${counts}`);
  assert.ok(new Set(counts).size > 2, `counts vary: ${counts}`);
  for (const [i, objects] of a.objects.entries()) {
    for (const [j, o] of objects.entries()) {
      const [t, bottom, l, r] = o.box;
      assert.ok(t >= 0 && l >= 0 && bottom <= 128 && r <= 128 && bottom > t && r > l, `${o.box}`);
      assert.ok(o.box.every(Number.isInteger));
      assert.ok(o.label >= 0 && o.label <= 9);
      for (const p of objects.slice(j + 1)) assert.equal(iou(o.box, p.box), 0, `scene ${i}`);
      // Disjoint boxes: the ink inside a box is that digit's alone, and its box is sharp.
      const crop = cropTo(a.images, i, o.box);
      assert.deepEqual(Array.from(await boundingBoxes(crop)), o.box, `scene ${i} digit ${j}`);
      crop.dispose();
    }
    // No ink outside the boxes.
    const outside = tf.tidy(() => {
      let rest = tf.slice(a.images, [i, 0, 0, 0], [1, -1, -1, -1]);
      for (const o of objects) rest = tf.sub(rest, cropTo(a.images, i, o.box));
      return tf.max(tf.abs(rest));
    });
    assert.equal((await outside.data())[0], 0, `scene ${i}: ink outside every box`);
    outside.dispose();
  }
  tf.dispose([a.images, b.images]);
});

Deno.test("makeMultiScenes: maxOverlap bounds the IoU of crowded scenes; too small a canvas throws", async () => {
  await useBackend("wasm");
  const s = await makeMultiScenes(train, {
    count: 8,
    seed: 2,
    size: 96,
    digits: [6, 6],
    maxOverlap: 0.2,
  });
  let overlapping = 0;
  for (const objects of s.objects) {
    assert.equal(objects.length, 6);
    for (const [j, o] of objects.entries()) {
      for (const p of objects.slice(j + 1)) {
        const v = iou(o.box, p.box);
        assert.ok(v <= 0.2, `IoU ${v}`);
        if (v > 0) overlapping++;
      }
    }
  }
  assert.ok(overlapping > 0, "crowded scenes do overlap a little");
  s.images.dispose();
  await assert.rejects(
    () => makeMultiScenes(train, { count: 1, seed: 0, size: 48, digits: [8, 8], maxRounds: 3 }),
    /Could not place 8 digits on a 48×48 canvas .*use a larger size/,
  );
  await assert.rejects(
    () => makeMultiScenes(train, { count: 1, seed: 0, digits: [3, 2] }),
    /digits must be \[min, max\]/,
  );
});

Deno.test("parseDigitRange: min-max or one number", () => {
  assert.deepEqual(parseDigitRange("1-8"), [1, 8]);
  assert.deepEqual(parseDigitRange(" 3 "), [3, 3]);
  assert.throws(() => parseDigitRange("4-2", "--digits"), /--digits must look like 1-8/);
  assert.throws(() => parseDigitRange("0-2"), /digits must look like/);
});
