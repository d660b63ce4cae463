import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import { buildModel } from "../src/model/model.ts";
import { decodeOutput, predict } from "../src/model/predict.ts";
import { makeRng } from "../src/rng.ts";

Deno.test("decodeOutput picks the window with the best max log-softmax and maps its box", async () => {
  await useBackend("cpu");
  const rng = makeRng(3);
  const [n, rows, cols] = [4, 3, 5];
  const values = new Float32Array(n * rows * cols * 15).map(() => rng.uniform(-4, 4));
  const geometry = { size: 40, stride: 8, offset: -2 };
  const out = tf.tensor4d(values, [n, rows, cols, 15]);
  const p = await decodeOutput(out, geometry);
  out.dispose();
  for (let i = 0; i < n; i++) {
    let best = -Infinity, bestW = -1, bestLabel = -1;
    for (let w = 0; w < rows * cols; w++) {
      const logits = Array.from(values.subarray((i * rows * cols + w) * 15 + 1).slice(0, 10));
      const m = Math.max(...logits);
      const lse = m + Math.log(logits.reduce((s, v) => s + Math.exp(v - m), 0));
      if (m - lse > best) [best, bestW, bestLabel] = [m - lse, w, logits.indexOf(m)];
    }
    assert.equal(p.windows[i], bestW, `image ${i}: window`);
    assert.equal(p.labels[i], bestLabel, `image ${i}: label`);
    assert.ok(Math.abs(p.scores[i] - best) < 1e-5);
    const o = (i * rows * cols + bestW) * 15;
    const top = -2 + Math.floor(bestW / cols) * 8, left = -2 + (bestW % cols) * 8;
    const want = [
      top + values[o + 11] * 40,
      top + values[o + 12] * 40,
      left + values[o + 13] * 40,
      left + values[o + 14] * 40,
    ];
    for (let k = 0; k < 4; k++) {
      assert.ok(Math.abs(p.boxes[i * 4 + k] - want[k]) < 1e-4, `image ${i} box ${k}`);
    }
  }
});

Deno.test("predict on a large image agrees with the model run on the chosen window's crop", async () => {
  await useBackend("cpu");
  const model = buildModel(undefined, { seed: 5 });
  const rng = makeRng(9);
  const [h, w] = [100, 72];
  const image = tf.tensor4d(new Float32Array(2 * h * w).map(() => rng.next()), [2, h, w, 1]);
  const p = await predict(model, image, { batchSize: 1 });
  const { size, stride, offset, cols } = model.grid(h, w);
  for (let i = 0; i < 2; i++) {
    const top = offset + Math.floor(p.windows[i] / cols) * stride;
    const left = offset + (p.windows[i] % cols) * stride;
    const crop = tf.slice(image, [i, top, left, 0], [1, size, size, 1]);
    const q = await predict(model, crop);
    crop.dispose();
    assert.equal(q.labels[0], p.labels[i]);
    assert.ok(Math.abs(q.scores[0] - p.scores[i]) < 1e-4);
    const shift = [top, top, left, left];
    for (let k = 0; k < 4; k++) {
      assert.ok(Math.abs(q.boxes[k] + shift[k] - p.boxes[i * 4 + k]) < 1e-3, `image ${i} box ${k}`);
    }
  }
  image.dispose();
  model.dispose();
});

Deno.test("predict rejects images smaller than the window", async () => {
  await useBackend("cpu");
  const model = buildModel(undefined, { seed: 1 });
  await assert.rejects(
    () => predict(model, tf.zeros([1, 39, 64, 1]) as tf.Tensor4D),
    /at least 40×40/,
  );
  model.dispose();
});

Deno.test("the trained default model localizes on 128×128 and 200×150 scenes as well as on 64×64", async () => {
  const { loadMnist } = await import("../src/data/mnist.ts");
  const { makeScenes } = await import("../src/data/scenes.ts");
  const { loadModel } = await import("../src/model/checkpoint.ts");
  const { localizationMetrics } = await import("../src/metrics.ts");
  await useBackend("wasm");
  try {
    const { val } = await loadMnist({ dir: "fixtures/mnist", testCount: 0 });
    const { model } = await loadModel("models/default");
    const accuracy: Record<string, number> = {};
    for (const [h, w] of [[64, 64], [128, 128], [150, 200]]) {
      const s = await makeScenes(val, { count: 500, seed: 21, size: Math.min(h, w) });
      // Widen square scenes with blank columns (25 on the left) to reach w × h.
      const images = tf.pad(s.images, [[0, 0], [0, 0], [
        25 * Math.sign(w - h),
        w - h - 25 * Math.sign(w - h),
      ], [0, 0]]) as tf.Tensor4D;
      const boxes = s.boxes.map((v, i) => (i % 4 >= 2 ? v + 25 * Math.sign(w - h) : v));
      const p = await predict(model, images, { batchSize: 100 });
      const m = localizationMetrics(p, { labels: s.labels, boxes });
      accuracy[`${h}×${w}`] = m.accuracy;
      assert.ok(m.meanIou > 0.5, `${h}×${w}: mean IoU ${m.meanIou}`);
      tf.dispose([s.images, images]);
    }
    model.dispose();
    console.log("accuracy by scene size:", accuracy);
    const base = accuracy["64×64"];
    assert.ok(base > 0.85, `64×64 accuracy ${base}`);
    for (const [size, acc] of Object.entries(accuracy)) {
      assert.ok(acc >= base - 0.02, `${size}: accuracy ${acc} vs ${base} on 64×64`);
    }
  } finally {
    await useBackend("cpu");
  }
});
