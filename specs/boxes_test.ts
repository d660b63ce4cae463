import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import { boundingBoxes } from "../src/data/boxes.ts";
import { makeRng } from "../src/rng.ts";

/** Plain loop, as in the assignment's cell: first/last row and column above the threshold. */
function naiveBox(img: Float32Array, h: number, w: number, threshold: number): number[] {
  let top = Infinity, bottom = -Infinity, left = Infinity, right = -Infinity;
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      if (img[r * w + c] > threshold) {
        top = Math.min(top, r);
        bottom = Math.max(bottom, r + 1);
        left = Math.min(left, c);
        right = Math.max(right, c + 1);
      }
    }
  }
  return [top, bottom, left, right];
}

function randomImages(seed: number, n: number, h: number, w: number): Float32Array {
  const rng = makeRng(seed);
  const data = new Float32Array(n * h * w);
  for (let i = 0; i < n; i++) {
    // A few random blobs per image, sometimes on the border, sometimes a single pixel.
    const blobs = 1 + rng.int(3);
    for (let b = 0; b < blobs; b++) {
      const r0 = rng.int(h), c0 = rng.int(w);
      const r1 = Math.min(h, r0 + 1 + rng.int(8)), c1 = Math.min(w, c0 + 1 + rng.int(8));
      for (let r = r0; r < r1; r++) {
        for (let c = c0; c < c1; c++) data[(i * h + r) * w + c] = rng.next() < 0.5 ? 0 : rng.next();
      }
    }
    data[(i * h + rng.int(h)) * w + rng.int(w)] = 0.9; // at least one ink pixel
  }
  return data;
}

// webgpu too where an adapter exists (llvmpipe here): its argMax does not return the first of
// equal maxima, which once gave every scene made on webgpu the box [32, 32, 32, 32].
const adapter = await navigator.gpu?.requestAdapter().catch(() => null);

for (const backend of ["wasm", "cpu", "webgpu"] as const) {
  Deno.test({
    name: `boundingBoxes equals a naive loop (${backend})`,
    ignore: backend === "webgpu" && !adapter,
    sanitizeOps: backend !== "webgpu",
    sanitizeResources: backend !== "webgpu",
  }, async () => {
    await useBackend(backend);
    const [n, h, w] = [300, 64, 48];
    const data = randomImages(7, n, h, w);
    const images = tf.tensor4d(data, [n, h, w, 1]);
    for (const threshold of [0, 0.3]) {
      const boxes = await boundingBoxes(images, threshold);
      for (let i = 0; i < n; i++) {
        const img = data.subarray(i * h * w, (i + 1) * h * w);
        if (!img.some((v) => v > threshold)) continue;
        assert.deepEqual([...boxes.subarray(i * 4, i * 4 + 4)], naiveBox(img, h, w, threshold));
      }
    }
    images.dispose();
  });
}

Deno.test("boundingBoxes: full-canvas and single-pixel boxes, multi-channel", async () => {
  await useBackend("wasm");
  const full = tf.ones([1, 5, 7, 2]) as tf.Tensor4D;
  assert.deepEqual([...await boundingBoxes(full)], [0, 5, 0, 7]);
  const one = tf.buffer([1, 5, 7, 2]);
  one.set(1, 0, 4, 6, 1); // bottom-right corner, second channel
  const t = one.toTensor() as tf.Tensor4D;
  assert.deepEqual([...await boundingBoxes(t)], [4, 5, 6, 7]);
  tf.dispose([full, t]);
});

Deno.test("boundingBoxes rejects an image with no ink and leaks no tensors", async () => {
  await useBackend("wasm");
  const images = tf.concat([tf.ones([1, 4, 4, 1]), tf.zeros([1, 4, 4, 1])]) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  await assert.rejects(boundingBoxes(images), /Image 1 has no pixel above threshold 0/);
  await assert.rejects(boundingBoxes(images, 1), /Image 0 has no pixel above threshold 1/);
  assert.equal(tf.memory().numTensors, before);
  images.dispose();
});
