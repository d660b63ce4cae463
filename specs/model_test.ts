import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import {
  ARCHITECTURES,
  type ArchLayer,
  buildModel,
  DEFAULT_ARCH,
  modelCost,
  POOL_ARCH,
  S8_ARCH,
  WIDE_ARCH,
} from "../src/model/model.ts";
import { defaultTrainConfig } from "../src/training/config.ts";
import { windowGrid } from "../src/geometry.ts";
import { makeRng } from "../src/rng.ts";

Deno.test("pool architecture: window 40, stride 4, 7×7 grid on 64×64", () => {
  assert.deepEqual(windowGrid(POOL_ARCH, 64), { size: 40, stride: 4, offset: 0, rows: 7, cols: 7 });
  assert.equal(modelCost(POOL_ARCH).params, 114_639);
});

Deno.test("DEFAULT_ARCH is what deno task train trains (wide); buildModel() builds the small s8", async () => {
  assert.equal(ARCHITECTURES[defaultTrainConfig().arch], DEFAULT_ARCH);
  assert.equal(DEFAULT_ARCH, WIDE_ARCH);
  assert.equal(modelCost(DEFAULT_ARCH).params, 464239);
  await useBackend("cpu");
  const model = buildModel();
  assert.deepEqual(model.arch, S8_ARCH);
  model.dispose();
  const shipped = JSON.parse(
    await Deno.readTextFile(new URL("../models/default/model.json", import.meta.url)),
  );
  assert.deepEqual(shipped.architecture, DEFAULT_ARCH, "the shipped model is what train trains");
});

Deno.test("s8 architecture: window 40, stride 8, 4×4 grid on 64×64, params counted", async () => {
  await useBackend("cpu");
  const model = buildModel(S8_ARCH, { seed: 1 });
  assert.deepEqual(model.geometry, { size: 40, stride: 8, offset: 0 });
  assert.deepEqual(model.grid(64), { size: 40, stride: 8, offset: 0, rows: 4, cols: 4 });
  const counted = [...model.variables.values()].reduce((s, v) => s + v.size, 0);
  const cost = modelCost(S8_ARCH);
  assert.equal(cost.params, counted);
  assert.ok(cost.params >= 100_000 && cost.params <= 150_000, `params ${cost.params}`);
  const x = tf.zeros([2, 64, 64, 1]) as tf.Tensor4D;
  const out = model.apply(x);
  assert.deepEqual(out.shape, [2, 4, 4, 15]);
  const big = tf.zeros([1, 200, 150, 1]) as tf.Tensor4D;
  const outBig = model.apply(big);
  const g = model.grid(200, 150);
  assert.deepEqual(outBig.shape, [1, g.rows, g.cols, 15]);
  tf.dispose([x, out, big, outBig]);
  model.dispose();
});

Deno.test("modelCost counts multiply-adds like a naive loop over output cells", () => {
  const arch: ArchLayer[] = [
    { kind: "conv", kernel: 3, filters: 4, stride: 2, padding: 1 },
    { kind: "pool", kernel: 2 },
    { kind: "conv", kernel: 3, filters: 15, activation: "linear" },
  ];
  // 20×20 → conv s2 p1: 10×10×4 → pool: 5×5×4 → conv3: 3×3×15
  const conv1 = 10 * 10 * 4 * (2 * 9 * 1 + 1 + 1);
  const pool = 5 * 5 * 4 * 3;
  const conv2 = 3 * 3 * 15 * (2 * 9 * 4 + 1);
  const c = modelCost(arch, { height: 20 });
  assert.equal(c.flops, conv1 + pool + conv2);
  assert.equal(c.params, (9 + 1) * 4 + (36 + 1) * 15);
  assert.deepEqual([c.grid.rows, c.grid.cols], [3, 3]);
});

Deno.test("buildModel is deterministic in the seed, and two models can coexist", async () => {
  await useBackend("cpu");
  const a = buildModel(undefined, { seed: 3 }), b = buildModel(undefined, { seed: 3 });
  const c = buildModel(undefined, { seed: 4 });
  for (const [name, v] of a.variables) {
    assert.deepEqual(await v.data(), await b.variables.get(name)!.data());
  }
  assert.notDeepEqual(
    await a.variables.get("conv0/kernel")!.data(),
    await c.variables.get("conv0/kernel")!.data(),
  );
  for (const m of [a, b, c]) m.dispose();
});

Deno.test("each output cell equals the network run on its window alone (conv = sequential)", async () => {
  await useBackend("cpu");
  const model = buildModel(undefined, { seed: 2 });
  const rng = makeRng(1);
  const image = tf.tensor4d(new Float32Array(64 * 72).map(() => rng.next()), [1, 64, 72, 1]);
  const out = model.apply(image);
  const values = await out.data();
  const { rows, cols, size, stride } = model.grid(64, 72);
  for (const [r, c] of [[0, 0], [rows - 1, cols - 1], [1, 2]]) {
    const crop = tf.slice(image, [0, r * stride, c * stride, 0], [1, size, size, 1]);
    const cropOut = model.apply(crop);
    const single = await cropOut.data();
    tf.dispose([crop, cropOut]);
    for (let k = 0; k < 15; k++) {
      assert.ok(Math.abs(single[k] - values[(r * cols + c) * 15 + k]) < 1e-4);
    }
  }
  tf.dispose([image, out]);
  model.dispose();
});

Deno.test("buildModel rejects bad architectures naming the problem", () => {
  assert.throws(
    () => buildModel([{ kind: "conv", kernel: 3, filters: 10, activation: "linear" }]),
    /last layer must be a conv with 15 filters/,
  );
  assert.throws(() => buildModel([{ kind: "conv", kernel: 3, filters: 15 }]), /"linear"/);
  assert.throws(
    () =>
      buildModel([{ kind: "conv", kernel: 3, filters: 0 }, {
        kind: "conv",
        kernel: 1,
        filters: 15,
        activation: "linear",
      }]),
    /arch\[0\]\.filters must be a positive integer/,
  );
});

Deno.test("applyLayers: the layers from one depth on, continuing the ones below, is apply", async () => {
  await useBackend("cpu");
  for (const arch of [WIDE_ARCH, POOL_ARCH]) {
    const model = buildModel(arch, { seed: 3 });
    const x = tf.randomUniform([2, 72, 64, 1], 0, 1, "float32", 5) as tf.Tensor4D;
    const whole = await model.apply(x).array();
    for (let k = 0; k <= arch.length; k++) {
      const below = model.applyLayers(x, 0, k);
      const out = model.applyLayers(below, k);
      const got = await out.array();
      tf.dispose([below, out]);
      const diff = Math.max(
        ...(got as number[][][][]).flat(3).map((v, i) =>
          Math.abs(v - (whole as number[][][][]).flat(3)[i])
        ),
      );
      assert.ok(diff < 1e-5, `${arch.length} layers, split at ${k}: ${diff}`);
    }
    assert.throws(() => model.applyLayers(x, 2, 1), /layers \[2, 1\) must lie in/);
    assert.throws(() => model.applyLayers(x, 0, arch.length + 1), /must lie in/);
    x.dispose();
    model.dispose();
  }
});
