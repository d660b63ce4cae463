import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import { buildModel } from "../src/model/model.ts";
import {
  ASSIGNMENT_RULE,
  decodeOutput,
  DEFAULT_RULE,
  predict,
  predictionRule,
} from "../src/model/predict.ts";
import { loadModel, saveModel } from "../src/model/checkpoint.ts";
import { makeRng } from "../src/rng.ts";
import { iou } from "../src/metrics.ts";

/** Max log-softmax and its label of the 10 class logits after `at`. */
function classScore(values: Float32Array, at: number): [number, number] {
  const logits = Array.from(values.subarray(at + 1, at + 11));
  const m = Math.max(...logits);
  const lse = m + Math.log(logits.reduce((s, v) => s + Math.exp(v - m), 0));
  return [m - lse, logits.indexOf(m)];
}

const logSigmoid = (x: number) => -Math.log1p(Math.exp(-x));

for (const select of ["class", "detection"] as const) {
  Deno.test(`decodeOutput (select ${select}, no vote) picks the best window by brute force and maps its box`, async () => {
    await useBackend("cpu");
    const rng = makeRng(3);
    const [n, rows, cols] = [4, 3, 5];
    const values = new Float32Array(n * rows * cols * 15).map(() => rng.uniform(-4, 4));
    const geometry = { size: 40, stride: 8, offset: -2 };
    const out = tf.tensor4d(values, [n, rows, cols, 15]);
    const p = await decodeOutput(out, geometry, { select, vote: 0 });
    const q = await decodeOutput(out, geometry, {
      select: select === "class" ? "detection" : "class",
      vote: 0,
    });
    out.dispose();
    let differ = 0;
    for (let i = 0; i < n; i++) {
      let best = -Infinity, bestW = -1, bestLabel = -1;
      for (let w = 0; w < rows * cols; w++) {
        const at = (i * rows * cols + w) * 15;
        const [score, label] = classScore(values, at);
        const s = select === "class" ? score : score + logSigmoid(values[at]);
        if (s > best) [best, bestW, bestLabel] = [s, w, label];
      }
      assert.equal(p.windows[i], bestW, `image ${i}: window`);
      assert.equal(p.labels[i], bestLabel, `image ${i}: label`);
      assert.ok(Math.abs(p.scores[i] - best) < 1e-5);
      if (q.windows[i] !== p.windows[i]) differ++;
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
    assert.ok(differ > 0, "the two rules pick different windows on random outputs");
  });
}

Deno.test("decodeOutput's box vote is the score-weighted mean of the agreeing windows (brute force)", async () => {
  await useBackend("cpu");
  const rng = makeRng(11);
  const [n, rows, cols] = [6, 4, 4];
  const values = new Float32Array(n * rows * cols * 15);
  const geometry = { size: 40, stride: 8, offset: 0 };
  const imageBox = (i: number, w: number) => {
    const at = (i * rows * cols + w) * 15;
    const top = Math.floor(w / cols) * 8, left = (w % cols) * 8;
    return [0, 1, 2, 3].map((k) => (k < 2 ? top : left) + values[at + 11 + k] * 40);
  };
  // every window sees the same digit at about [20, 40, 24, 38], with noise; labels 3 or 5
  for (let i = 0; i < n; i++) {
    for (let w = 0; w < rows * cols; w++) {
      const at = (i * rows * cols + w) * 15;
      const top = Math.floor(w / cols) * 8, left = (w % cols) * 8;
      values[at] = rng.uniform(-3, 3);
      values[at + 1 + (rng.next() < 0.7 ? 3 : 5)] = rng.uniform(0, 6);
      const truth = [20, 40, 24, 38];
      for (let k = 0; k < 4; k++) {
        const jitter = rng.next() < 0.2 ? rng.uniform(-15, 15) : rng.uniform(-2, 2);
        values[at + 11 + k] = (truth[k] + jitter - (k < 2 ? top : left)) / 40;
      }
    }
  }
  const out = tf.tensor4d(values, [n, rows, cols, 15]);
  const plain = await decodeOutput(out, geometry, { vote: 0 });
  const voted = await decodeOutput(out, geometry, { vote: 0.5 });
  out.dispose();
  let changed = 0;
  for (let i = 0; i < n; i++) {
    assert.equal(voted.windows[i], plain.windows[i]);
    assert.equal(voted.labels[i], plain.labels[i]);
    const chosen = Array.from(plain.boxes.subarray(4 * i, 4 * i + 4));
    const sum = [0, 0, 0, 0];
    let weight = 0;
    for (let w = 0; w < rows * cols; w++) {
      const at = (i * rows * cols + w) * 15;
      const [score, label] = classScore(values, at);
      const b = imageBox(i, w);
      if (label !== plain.labels[i] || !(values[at] > 0) || iou(b, chosen) < 0.5) continue;
      const p = Math.exp(score + logSigmoid(values[at]));
      weight += p;
      b.forEach((x, k) => (sum[k] += p * x));
    }
    const want = sum.map((x) => x / weight);
    for (let k = 0; k < 4; k++) {
      assert.ok(Math.abs(voted.boxes[4 * i + k] - want[k]) < 1e-3, `image ${i} box ${k}`);
    }
    if (Math.abs(want[0] - chosen[0]) > 1e-3) changed++;
  }
  assert.ok(changed >= n / 2, `the vote moved ${changed} of ${n} boxes`);
});

Deno.test("decodeOutput rejects a bad select or vote with one line", async () => {
  await useBackend("cpu");
  const out = tf.zeros([1, 2, 2, 15]) as tf.Tensor4D;
  const g = { size: 40, stride: 8, offset: 0 };
  await assert.rejects(
    () => decodeOutput(out, g, { select: "best" as unknown as "class" }),
    /options\.select must be/,
  );
  await assert.rejects(
    () => decodeOutput(out, g, { vote: 2 }),
    /options\.vote must be in \[0, 1\]/,
  );
  out.dispose();
});

Deno.test("predict on a large image agrees with the model run on the chosen window's crop", async () => {
  await useBackend("cpu");
  const model = buildModel(undefined, { seed: 5 });
  const rng = makeRng(9);
  const [h, w] = [100, 72];
  const image = tf.tensor4d(new Float32Array(2 * h * w).map(() => rng.next()), [2, h, w, 1]);
  const p = await predict(model, image, { batchSize: 1, vote: 0 });
  const { size, stride, offset, cols } = model.grid(h, w);
  for (let i = 0; i < 2; i++) {
    const top = offset + Math.floor(p.windows[i] / cols) * stride;
    const left = offset + (p.windows[i] % cols) * stride;
    const crop = tf.slice(image, [i, top, left, 0], [1, size, size, 1]);
    const q = await predict(model, crop, { vote: 0 });
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

Deno.test("predict uses the model's recorded rule unless told otherwise; checkpoints carry the rule", async () => {
  await useBackend("cpu");
  const model = buildModel(undefined, { seed: 3 });
  const rng = makeRng(4);
  const images = tf.tensor4d(new Float32Array(6 * 96 * 96).map(() => rng.next()), [6, 96, 96, 1]);
  const out = model.apply(images);
  const explicit = {
    assignment: await decodeOutput(out, model.geometry, ASSIGNMENT_RULE),
    default: await decodeOutput(out, model.geometry, DEFAULT_RULE),
  };
  out.dispose();
  // the two rules pick different windows on these images (else this spec could not fail)
  assert.notDeepEqual(explicit.assignment.windows, explicit.default.windows);
  // no recorded rule: the default one (what checkpoints written before the record get)
  assert.equal(model.rule, undefined);
  assert.deepEqual(await predict(model, images), explicit.default);
  const dir = await Deno.makeTempDir();
  try {
    await saveModel(model, dir);
    const old = (await loadModel(dir)).model;
    assert.equal(old.rule, undefined);
    assert.deepEqual(predictionRule(old), DEFAULT_RULE);
    old.dispose();
    model.rule = { ...ASSIGNMENT_RULE };
    assert.deepEqual(await predict(model, images), explicit.assignment);
    // the options win over the record, key by key
    assert.deepEqual(await predict(model, images, DEFAULT_RULE), explicit.default);
    assert.deepEqual(predictionRule(model, { vote: 0.5 }), { select: "class", vote: 0.5 });
    await saveModel(model, dir, { epoch: 1 });
    const { model: loaded, extra } = await loadModel(dir);
    assert.deepEqual(extra, { epoch: 1, predict: { select: "class", vote: 0 } });
    assert.deepEqual(loaded.rule, ASSIGNMENT_RULE);
    assert.deepEqual(await predict(loaded, images), explicit.assignment);
    loaded.dispose();
    // a bad record is a one-line error naming it
    const json = JSON.parse(await Deno.readTextFile(`${dir}/model.json`));
    json.extra.predict = { select: "best" };
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(json));
    await assert.rejects(() => loadModel(dir), /prediction rule is invalid: .*select/);
  } finally {
    await Deno.remove(dir, { recursive: true });
    images.dispose();
    model.dispose();
  }
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
