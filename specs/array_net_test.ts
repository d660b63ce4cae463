/**
 * The network on arrays (src/model/array_net.ts), the hand-written training step, against tfjs:
 * its gradients and loss parts equal those of `tf.variableGrads(loss(model.apply(x), y))` on
 * tfjs-cpu, and its forward equals `model.apply`, for every named architecture (strided convs,
 * max-pools, padding), both box reductions and batch 1 — on each convolution engine that loads
 * here (OpenBLAS's im2col + sgemm, oneDNN). Engines that are not installed are skipped.
 */
import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import {
  ARCHITECTURES,
  type ArchLayer,
  buildModel,
  S8_ARCH,
  variableShapes,
} from "../src/model/model.ts";
import { ArrayNet } from "../src/model/array_net.ts";
import type { ConvEngine } from "../src/layers/engine.ts";
import { openBlas } from "../src/backends/native/openblas.ts";
import { Im2colEngine } from "../src/backends/native/im2col_engine.ts";
import { oneDnn } from "../src/backends/onednn/dnnl.ts";
import { assertStepMatches, batch, relErr, tapeReference } from "./support.ts";

type Shape4 = [number, number, number, number];

const ENGINES: { name: string; engine: () => ConvEngine | null }[] = [
  {
    name: "OpenBLAS im2col",
    engine: () => {
      const blas = openBlas();
      return blas ? new Im2colEngine(blas.sgemm) : null;
    },
  },
  { name: "oneDNN", engine: () => oneDnn() },
];

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

for (const { name: engineName, engine } of ENGINES) {
  for (const c of cases) {
    Deno.test({
      name:
        `array net on ${engineName}: gradients, loss parts and outputs equal tfjs-cpu's (${c.name})`,
      ignore: engine() === null,
      fn: async () => {
        await useBackend("cpu");
        const model = buildModel(c.arch, { seed: 7 });
        const grid = model.grid(c.size);
        const { images, targets } = batch(c.n, c.size, grid, 11);
        const imageShape: Shape4 = [c.n, c.size, c.size, 1];
        const targetShape: Shape4 = [c.n, grid.rows, grid.cols, 6];
        // make most windows positive: the class and box terms need sigmoid(logit) > 0.5
        const head = model.variables.get(`conv${c.arch.length - 1}/bias`)!;
        head.assign(tf.tensor1d(Array.from({ length: 15 }, (_, i) => (i === 0 ? 0.5 : 0))));
        const want = tapeReference(
          model,
          { data: images, shape: imageShape },
          { data: targets, shape: targetShape },
          c.box,
        );
        const net = new ArrayNet(c.arch, engine()!, { box: c.box });
        const vars = [...model.variables.values()];
        const weights = vars.map((v) => v.dataSync() as Float32Array);
        // twice: the second call reuses the buffers of the first
        net.gradients(weights, { images, imageShape, targets, targetShape });
        const got = net.gradients(weights, { images, imageShape, targets, targetShape });
        assertStepMatches(got, want, vars.map((v) => v.shape));
        const out = net.forward(weights, images, imageShape);
        const ref = tf.tidy(() =>
          model.apply(tf.tensor4d(images, imageShape)).dataSync() as Float32Array
        );
        assert.ok(relErr(out, ref) <= 1e-4, "forward equals model.apply");
        model.dispose();
      },
    });
  }
}

Deno.test({
  name: "array net rejects inputs of the wrong size with one-line errors",
  ignore: openBlas() === null,
  fn: () => {
    const net = new ArrayNet(S8_ARCH, new Im2colEngine(openBlas()!.sgemm));
    const weights = [...variableShapes(S8_ARCH).values()].map((s) =>
      new Float32Array(s.reduce((a, b) => a * b, 1))
    );
    const good = {
      images: new Float32Array(64 * 64),
      imageShape: [1, 64, 64, 1] as Shape4,
      targets: new Float32Array(4 * 4 * 6),
      targetShape: [1, 4, 4, 6] as Shape4,
    };
    assert.doesNotThrow(() => net.gradients(weights, good));
    assert.throws(
      () => net.gradients(weights, { ...good, images: new Float32Array(10) }),
      /images: 10 values for shape \[1,64,64,1\]/,
    );
    assert.throws(
      () => net.gradients(weights, { ...good, targetShape: [1, 3, 3, 6] }),
      /targets must have shape \[1,4,4,6\]/,
    );
    assert.throws(
      () => net.gradients([...weights.slice(0, 9), new Float32Array(2)], good),
      /weights of conv4: expected 1920 and 15 values, got 1920 and 2/,
    );
    assert.throws(() => net.gradients(weights.slice(1), good), /expected 10 arrays, got 9/);
  },
});

Deno.test({
  name: "OpenBLAS single-thread holds nest: the thread count comes back once the last releases",
  ignore: openBlas() === null,
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
