import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import { loss, lossAndGradient } from "../src/model/loss.ts";
import { LOSS_TERMS, lossParts, meanParts, sumParts, zeroParts } from "../src/model/loss/terms.ts";
import { makeRng } from "../src/rng.ts";

function randomCase(seed: number, n = 3, rows = 4, cols = 5) {
  const rng = makeRng(seed);
  const out = new Float32Array(n * rows * cols * 15).map(() => rng.uniform(-3, 3));
  const target = new Float32Array(n * rows * cols * 6);
  for (let w = 0; w < n * rows * cols; w++) {
    if (rng.next() < 0.6) {
      target.set([1, rng.int(10), rng.next(), rng.next(), rng.next(), rng.next()], w * 6);
    }
  }
  return { out, target, shape: [n, rows, cols] as const };
}

/** The assignment's loss, one window at a time in float64. */
function naiveLoss(out: Float32Array, target: Float32Array, box: "sum" | "mean") {
  let detection = 0, classification = 0, regression = 0;
  for (let w = 0; w < out.length / 15; w++) {
    const o = out.subarray(w * 15, w * 15 + 15);
    const t = target.subarray(w * 6, w * 6 + 6);
    const p = 1 / (1 + Math.exp(-o[0]));
    detection += -(t[0] * Math.log(p) + (1 - t[0]) * Math.log(1 - p));
    if (p > 0.5 && t[0] === 1) {
      const logits = Array.from(o.subarray(1, 11));
      const m = Math.max(...logits);
      const lse = m + Math.log(logits.reduce((s, v) => s + Math.exp(v - m), 0));
      classification += -(logits[t[1]] - lse);
      let se = 0;
      for (let k = 0; k < 4; k++) se += (o[11 + k] - t[2 + k]) ** 2;
      regression += box === "sum" ? se : se / 4;
    }
  }
  return { detection, classification, regression, total: detection + classification + regression };
}

Deno.test("loss equals a naive per-window loop (sum and mean box reductions)", async () => {
  await useBackend("cpu");
  for (const box of ["sum", "mean"] as const) {
    for (const seed of [1, 2, 3]) {
      const { out, target, shape } = randomCase(seed);
      const want = naiveLoss(out, target, box);
      const got = tf.tidy(() => {
        const parts = loss(
          tf.tensor4d(out, [...shape, 15]),
          tf.tensor4d(target, [...shape, 6]),
          { box },
        );
        return Object.fromEntries(
          Object.entries(parts).map(([k, v]) => [k, v.dataSync()[0]]),
        ) as Record<keyof typeof want, number>;
      });
      for (const key of Object.keys(want) as (keyof typeof want)[]) {
        assert.ok(
          Math.abs(got[key] - want[key]) <= 1e-4 * Math.max(1, Math.abs(want[key])),
          `${box} seed ${seed} ${key}: got ${got[key]}, want ${want[key]}`,
        );
      }
    }
  }
});

Deno.test("loss: class and box outputs of unmasked windows get zero gradient", async () => {
  await useBackend("cpu");
  const { out, target, shape } = randomCase(7);
  const before = tf.memory().numTensors;
  const grad = tf.tidy(() => {
    const g = tf.grad((o: tf.Tensor) =>
      loss(o as tf.Tensor4D, tf.tensor4d(target, [...shape, 6])).total
    );
    return g(tf.tensor4d(out, [...shape, 15])).dataSync();
  });
  assert.equal(tf.memory().numTensors, before, "loss leaked tensors");
  let masked = 0;
  for (let w = 0; w < out.length / 15; w++) {
    const isMasked = out[w * 15] > 0 && target[w * 6] === 1;
    if (isMasked) masked++;
    assert.notEqual(grad[w * 15], 0, `window ${w}: objectness always gets a gradient`);
    for (let c = 1; c < 15; c++) {
      const g = grad[w * 15 + c];
      if (!isMasked) {
        assert.ok(g === 0, `window ${w} channel ${c} is unmasked but has gradient ${g}`);
      }
    }
    if (isMasked) {
      const nonzero = Array.from(grad.subarray(w * 15 + 1, w * 15 + 15)).filter((g) => g !== 0);
      assert.ok(nonzero.length >= 10, `window ${w} is masked: class/box outputs need gradients`);
    }
  }
  assert.ok(masked > 5, "the random case should mask some windows");
});

Deno.test("loss rejects mismatched shapes, naming the argument", async () => {
  await useBackend("cpu");
  assert.throws(
    () => loss(tf.zeros([1, 2, 2, 14]) as tf.Tensor4D, tf.zeros([1, 2, 2, 6]) as tf.Tensor4D),
    /out must have 15 channels/,
  );
  assert.throws(
    () => loss(tf.zeros([1, 2, 2, 15]) as tf.Tensor4D, tf.zeros([1, 3, 2, 6]) as tf.Tensor4D),
    /target must have shape \[1, 2, 2, 6\]/,
  );
});

Deno.test("lossAndGradient: the gradient is the derivative of the loss (central differences)", () => {
  const rng = makeRng(3);
  const windows = 6;
  const out = new Float64Array(windows * 15).map(() => rng.uniform(-2, 2));
  const targets = new Float32Array(windows * 6);
  for (let w = 0; w < windows; w++) {
    targets[w * 6] = w % 3 === 0 ? 0 : 1;
    targets[w * 6 + 1] = rng.int(10);
    for (let j = 2; j < 6; j++) targets[w * 6 + j] = rng.next();
    out[w * 15] = w % 2 ? 1.5 : -1.5; // away from the mask's step at 0
  }
  for (const box of ["sum", "mean"] as const) {
    const grad = new Float32Array(out.length);
    lossAndGradient(Float32Array.from(out), targets, grad, { box });
    const total = (o: Float64Array) =>
      lossAndGradient(Float32Array.from(o), targets, new Float32Array(o.length), { box }).total;
    for (let i = 0; i < out.length; i++) {
      const h = 1e-2, plus = out.slice(), minus = out.slice();
      plus[i] += h;
      minus[i] -= h;
      const numeric = (total(plus) - total(minus)) / (2 * h);
      assert.ok(
        Math.abs(numeric - grad[i]) <= 2e-3 * (1 + Math.abs(numeric)),
        `${box} ${i}: ${numeric} vs ${grad[i]}`,
      );
    }
  }
});

Deno.test("lossAndGradient equals tfjs's loss term by term, labels outside 0–9 included", async () => {
  await useBackend("cpu");
  const rng = makeRng(9);
  const windows = 12;
  const out = new Float32Array(windows * 15).map(() => rng.uniform(-2, 2));
  const targets = new Float32Array(windows * 6);
  for (let w = 0; w < windows; w++) {
    out[w * 15] = 1; // every window a positive prediction
    targets[w * 6] = 1;
    targets[w * 6 + 1] = [0, 9, 4, 11, -1, 3.7][w % 6]; // oneHot gives zeros outside 0–9
    for (let j = 2; j < 6; j++) targets[w * 6 + j] = rng.next();
  }
  const got = lossAndGradient(out, targets, new Float32Array(out.length));
  const want = tf.tidy(() => {
    const p = loss(tf.tensor4d(out, [1, 3, 4, 15]), tf.tensor4d(targets, [1, 3, 4, 6]));
    return Object.fromEntries(LOSS_TERMS.map((t) => [t.name, p[t.name].dataSync()[0]]));
  });
  for (const { name } of LOSS_TERMS) {
    assert.ok(
      Math.abs(got[name] - want[name]) <= 1e-4 * Math.abs(want[name]),
      `${name}: ${got[name]} vs ${want[name]}`,
    );
  }
  assert.throws(
    () => lossAndGradient(out, targets.subarray(6), new Float32Array(out.length)),
    /must hold the same windows/,
  );
});

Deno.test("loss terms: one table names the parts; sums and means keep the total their sum", () => {
  assert.deepEqual(LOSS_TERMS.map((t) => t.name), ["detection", "classification", "regression"]);
  const a = lossParts([1, 2, 3]), b = lossParts([4, 5, 6]);
  assert.deepEqual(sumParts([a, b]), { detection: 5, classification: 7, regression: 9, total: 21 });
  assert.deepEqual(meanParts(sumParts([a, b]), 2), {
    detection: 2.5,
    classification: 3.5,
    regression: 4.5,
    total: 10.5,
  });
  assert.deepEqual(zeroParts(), { detection: 0, classification: 0, regression: 0, total: 0 });
  assert.throws(() => lossParts([1, 2]), /values must hold 3 loss terms, got 2/);
});
