/**
 * The tape-free native training step (src/native/step.ts) against tfjs: its gradients and loss
 * parts equal those of `tf.variableGrads(loss(model.apply(x), y))` on tfjs-cpu for every named
 * architecture (strided convs, max-pools, padding), both box reductions and batch 1.
 * Skipped where OpenBLAS is not installed.
 */
import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { nativeAvailable, useBackend } from "../src/backends/backend.ts";
import { loss } from "../src/model/loss.ts";
import { ARCHITECTURES, type ArchLayer, buildModel, variableShapes } from "../src/model/model.ts";
import { lossAndGradient, NativeStep } from "../src/backends/native/step.ts";
import { openBlas } from "../src/backends/native/openblas.ts";
import { makeRng } from "../src/rng.ts";
import { assertStepMatches, batch } from "./support.ts";

const ignore = !nativeAvailable();

const cases: {
  name: string;
  arch: readonly ArchLayer[];
  n: number;
  size: number;
  box: "sum" | "mean";
}[] = [
  ...Object.entries(ARCHITECTURES).map(([name, arch]) => ({
    name,
    arch,
    n: 3,
    size: 64,
    box: "sum" as const,
  })),
  { name: "s8, batch 1, box mean", arch: ARCHITECTURES.s8, n: 1, size: 64, box: "mean" },
  { name: "s8 on 80×80", arch: ARCHITECTURES.s8, n: 2, size: 80, box: "sum" },
  {
    name: "padded convs and a 3/2 pool",
    arch: [
      { kind: "conv", kernel: 3, filters: 6, padding: 1 },
      { kind: "pool", kernel: 3, stride: 2 },
      { kind: "conv", kernel: 5, filters: 8, stride: 2, padding: 2 },
      { kind: "conv", kernel: 1, filters: 15, activation: "linear" },
    ],
    n: 2,
    size: 23,
    box: "sum",
  },
  {
    name: "a leading max-pool",
    arch: [
      { kind: "pool", kernel: 2 },
      { kind: "conv", kernel: 5, filters: 8, stride: 2 },
      { kind: "conv", kernel: 3, filters: 15, activation: "linear" },
    ],
    n: 2,
    size: 30,
    box: "sum",
  },
];

for (const c of cases) {
  Deno.test({
    name: `native step: gradients and loss parts equal tfjs-cpu's (${c.name})`,
    ignore,
    fn: async () => {
      await useBackend("cpu");
      const model = buildModel(c.arch, { seed: 7 });
      const grid = model.grid(c.size);
      const { images, targets } = batch(c.n, c.size, grid, 11);
      const imageShape: [number, number, number, number] = [c.n, c.size, c.size, 1];
      const targetShape: [number, number, number, number] = [c.n, grid.rows, grid.cols, 6];
      const vars = [...model.variables.values()];
      // make most windows positive: the class and box terms need sigmoid(logit) > 0.5
      const head = model.variables.get(`conv${c.arch.length - 1}/bias`)!;
      head.assign(tf.tensor1d(Array.from({ length: 15 }, (_, i) => (i === 0 ? 0.5 : 0))));
      const want = tf.tidy(() => {
        const x = tf.tensor4d(images, imageShape), y = tf.tensor4d(targets, targetShape);
        let parts: tf.Tensor[] = [];
        const { grads } = tf.variableGrads(() => {
          const p = loss(model.apply(x), y, { box: c.box });
          parts = [p.detection, p.classification, p.regression].map((t) => tf.keep(t));
          return p.total;
        }, vars);
        return {
          grads: vars.map((v) => grads[v.name].dataSync() as Float32Array),
          parts: parts.map((t) => t.dataSync()[0]),
        };
      });
      const step = new NativeStep(c.arch, openBlas()!.sgemm, { box: c.box });
      const weights = vars.map((v) => v.dataSync() as Float32Array);
      // twice: the second call reuses the buffers of the first
      step.gradients(weights, { images, imageShape, targets, targetShape });
      const got = step.gradients(weights, { images, imageShape, targets, targetShape });
      assertStepMatches(got, want, vars.map((v) => v.shape));
      model.dispose();
    },
  });
}

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
    lossAndGradient(Float32Array.from(out), targets, grad, box);
    const total = (o: Float64Array) => {
      const p = lossAndGradient(Float32Array.from(o), targets, new Float32Array(o.length), box);
      return p[0] + p[1] + p[2];
    };
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

Deno.test("lossAndGradient equals tfjs's loss, labels outside 0–9 included (oneHot gives zeros)", async () => {
  await useBackend("cpu");
  const rng = makeRng(9);
  const windows = 12;
  const out = new Float32Array(windows * 15).map(() => rng.uniform(-2, 2));
  const targets = new Float32Array(windows * 6);
  for (let w = 0; w < windows; w++) {
    out[w * 15] = 1; // every window a positive prediction
    targets[w * 6] = 1;
    targets[w * 6 + 1] = [0, 9, 4, 11, -1, 3.7][w % 6];
    for (let j = 2; j < 6; j++) targets[w * 6 + j] = rng.next();
  }
  const want = tf.tidy(() => {
    const p = loss(tf.tensor4d(out, [1, 3, 4, 15]), tf.tensor4d(targets, [1, 3, 4, 6]));
    return [p.detection, p.classification, p.regression].map((t) => t.dataSync()[0]);
  });
  const got = lossAndGradient(out, targets, new Float32Array(out.length));
  for (let i = 0; i < 3; i++) {
    assert.ok(
      Math.abs(got[i] - want[i]) <= 1e-4 * Math.abs(want[i]),
      `part ${i}: ${got[i]} vs ${want[i]}`,
    );
  }
});

Deno.test({
  name: "native step rejects inputs of the wrong size with one-line errors",
  ignore,
  fn: () => {
    const step = new NativeStep(ARCHITECTURES.s8, openBlas()!.sgemm);
    const weights = [...variableShapes(ARCHITECTURES.s8).values()].map((s) =>
      new Float32Array(s.reduce((a, b) => a * b, 1))
    );
    const good = {
      images: new Float32Array(64 * 64),
      imageShape: [1, 64, 64, 1] as [number, number, number, number],
      targets: new Float32Array(4 * 4 * 6),
      targetShape: [1, 4, 4, 6] as [number, number, number, number],
    };
    assert.doesNotThrow(() => step.gradients(weights, good));
    assert.throws(
      () => step.gradients(weights, { ...good, images: new Float32Array(10) }),
      /images: 10 values for shape \[1,64,64,1\]/,
    );
    assert.throws(
      () => step.gradients(weights, { ...good, targetShape: [1, 3, 3, 6] }),
      /targets must have shape \[1,4,4,6\]/,
    );
    assert.throws(
      () => step.gradients([...weights.slice(0, 9), new Float32Array(2)], good),
      /weights of conv4: expected 1920 and 15 values, got 1920 and 2/,
    );
    assert.throws(() => step.gradients(weights.slice(1), good), /expected 10 arrays, got 9/);
  },
});

Deno.test({
  name: "OpenBLAS single-thread holds nest: the thread count comes back once the last releases",
  ignore,
  fn: () => {
    const blas = openBlas()!;
    const before = blas.threads();
    blas.setThreads(2);
    const a = blas.singleThreaded();
    const b = blas.singleThreaded();
    assert.equal(blas.threads(), 1);
    a();
    a(); // idempotent
    assert.equal(blas.threads(), 1, "b still holds it");
    b();
    assert.equal(blas.threads(), 2);
    blas.setThreads(before);
    assert.throws(
      () =>
        blas.sgemm(new Float32Array(1), new Float32Array(1), new Float32Array(1), {
          m: 2,
          n: 1,
          k: 1,
        }),
      /sgemm: a has 1 values, needs 2 for 2×1 · 1×1/,
    );
    assert.throws(
      () =>
        blas.sgemm(new Float32Array(1), new Float32Array(1), new Float32Array(1), {
          m: 1.5,
          n: 1,
          k: 1,
        }),
      /m must be a non-negative integer/,
    );
  },
});
