import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { nativeAvailable, useBackend } from "../src/backends/backend.ts";
import "../src/gradients.ts";
import { Adam } from "../src/training/adam.ts";
import { encodeTargets } from "../src/data/encode.ts";
import { loss } from "../src/model/loss.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { buildModel, type Model, S8_ARCH } from "../src/model/model.ts";
import { windowGrid } from "../src/geometry.ts";
import { makeScenes } from "../src/data/scenes.ts";
import { GradientPool, shardSizes } from "../src/training/pool.ts";
import { relErr as relError } from "./support.ts";

await useBackend("wasm");
const { train } = await loadMnist({ dir: "fixtures/mnist", testCount: 4 });

/** Seeded real scenes and their targets for the default 7×7 grid. */
async function batch(n: number, seed: number): Promise<[tf.Tensor4D, tf.Tensor4D]> {
  const scenes = await makeScenes(train, { count: n, seed });
  return [scenes.images, encodeTargets(scenes.boxes, scenes.labels, windowGrid(S8_ARCH, 64))];
}

/** The oracle: one tf.variableGrads over the whole batch on this thread. */
function reference(
  model: Model,
  x: tf.Tensor4D,
  y: tf.Tensor4D,
): { grads: Map<string, tf.Tensor>; parts: tf.Tensor } {
  const vars = [...model.variables.values()];
  const result = tf.tidy(() => {
    let parts: tf.Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const p = loss(model.apply(x), y);
      parts = tf.keep(tf.stack([p.detection, p.classification, p.regression]));
      return p.total;
    }, vars);
    value.dispose();
    return { list: vars.map((v) => grads[v.name]), parts: parts! };
  });
  const names = [...model.variables.keys()];
  return { grads: new Map(names.map((k, i) => [k, result.list[i]])), parts: result.parts };
}

Deno.test("shardSizes splits rows as evenly as possible, extras to the workers", () => {
  assert.deepEqual(shardSizes(32, 2), [16, 16]);
  assert.deepEqual(shardSizes(7, 2), [3, 4]);
  assert.deepEqual(shardSizes(1, 2), [0, 1]);
  assert.deepEqual(shardSizes(7, 3), [2, 2, 3]);
  assert.deepEqual(shardSizes(0, 2), [0, 0]);
});

Deno.test("pooled gradients and loss parts equal the single-thread ones (batch 1, 7, 32)", async () => {
  const model = buildModel(undefined, { seed: 3 });
  const pools = [
    await GradientPool.create(model.arch, { workers: 1 }),
    await GradientPool.create(model.arch, { workers: 2, mainShard: false }),
  ];
  try {
    for (const n of [1, 7, 32]) {
      const [x, y] = await batch(n, 10 + n);
      const ref = reference(model, x, y);
      const refParts = ref.parts.dataSync();
      assert.ok(refParts[1] > 0 || n === 1, "classification part should be exercised");
      for (const pool of pools) {
        const { grads, parts } = await pool.gradients(model, x, y);
        const label = `n=${n}, ${pool.size} workers`;
        for (const [name, g] of ref.grads) {
          const e = relError(grads.get(name)!.dataSync(), g.dataSync());
          assert.ok(e <= 1e-5, `${label}: ${name} relative error ${e}`);
        }
        const got = [parts.detection, parts.classification, parts.regression];
        assert.ok(relError(got, refParts) <= 1e-5, `${label}: parts ${got} vs ${refParts}`);
        assert.ok(Math.abs(parts.total - got.reduce((a, b) => a + b)) < 1e-6);
        tf.dispose([...grads.values()]);
      }
      tf.dispose([x, y, ref.parts, ...ref.grads.values()]);
    }
  } finally {
    for (const p of pools) p.close();
    model.dispose();
  }
});

Deno.test("workers: 0 starts no Worker and gives exactly tf.variableGrads", async () => {
  const model = buildModel(undefined, { seed: 4 });
  const pool = await GradientPool.create(model.arch, { workers: 0 });
  const [x, y] = await batch(5, 1);
  try {
    assert.equal(pool.size, 0);
    const ref = reference(model, x, y);
    const { grads, named, parts } = await pool.gradients(model, x, y);
    for (const [name, g] of ref.grads) {
      assert.deepEqual(grads.get(name)!.dataSync(), g.dataSync(), name);
      assert.equal(named[model.variables.get(name)!.name], grads.get(name));
    }
    assert.deepEqual([parts.detection, parts.classification, parts.regression], [
      ...ref.parts.dataSync(),
    ]);
    tf.dispose([ref.parts, ...ref.grads.values(), ...grads.values()]);
  } finally {
    pool.close();
    tf.dispose([x, y]);
    model.dispose();
  }
});

Deno.test("Adam steps with the pool equal steps without, and leak no tensors", async () => {
  const plain = buildModel(undefined, { seed: 5 });
  const pooled = buildModel(undefined, { seed: 5 });
  const adamPlain = new Adam(plain.variables);
  const adamPooled = new Adam(pooled.variables);
  const pool = await GradientPool.create(pooled.arch, { workers: 1 });
  const counts: number[] = [];
  try {
    for (let step = 0; step < 4; step++) {
      const [x, y] = await batch(9, 100 + step);
      const ref = reference(plain, x, y);
      ref.parts.dispose();
      const named = Object.fromEntries(
        [...ref.grads].map(([k, g]) => [plain.variables.get(k)!.name, g]),
      );
      adamPlain.step(named, 1e-3);
      const { grads, named: pooledNamed } = await pool.gradients(pooled, x, y);
      adamPooled.step(pooledNamed, 1e-3);
      tf.dispose([...grads.values()]); // already disposed by Adam: a no-op
      tf.dispose([x, y]);
      counts.push(tf.memory().numTensors);
    }
    assert.ok(counts.every((c) => c === counts[0]), `numTensors over steps: ${counts}`);
    for (const [name, v] of plain.variables) {
      const e = relError(pooled.variables.get(name)!.dataSync(), v.dataSync());
      assert.ok(e <= 1e-4, `${name}: relative error ${e} after 4 Adam steps`);
    }
  } finally {
    pool.close();
    adamPlain.dispose();
    adamPooled.dispose();
    plain.dispose();
    pooled.dispose();
  }
});

Deno.test("close() ends the workers: later calls reject, close is idempotent", async () => {
  const model = buildModel(undefined, { seed: 6 });
  const pool = await GradientPool.create(model.arch, { workers: 1 });
  const [x, y] = await batch(2, 7);
  pool.close();
  pool.close();
  await assert.rejects(() => pool.gradients(model, x, y), /closed/);
  tf.dispose([x, y]);
  model.dispose();
});

Deno.test("create checks its options", async () => {
  const arch = buildModel().arch;
  await assert.rejects(() => GradientPool.create(arch, { workers: -1 }), /non-negative/);
  await assert.rejects(() => GradientPool.create(arch, { workers: 0, mainShard: false }), /worker/);
});

Deno.test({
  name: "native pools (main thread alone, and with a Worker) give the wasm tape's gradients",
  ignore: !nativeAvailable(),
  fn: async () => {
    const model = buildModel(undefined, { seed: 8 });
    const [x, y] = await batch(9, 21);
    const ref = reference(model, x, y); // on wasm
    const refParts = ref.parts.dataSync();
    await useBackend("native");
    const pools = [
      await GradientPool.create(model.arch, { workers: 0 }),
      await GradientPool.create(model.arch, { workers: 1 }),
    ];
    try {
      for (const pool of pools) {
        const { grads, parts } = await pool.gradients(model, x, y);
        const label = `native, ${pool.size} workers`;
        for (const [name, g] of ref.grads) {
          const e = relError(grads.get(name)!.dataSync(), g.dataSync());
          assert.ok(e <= 1e-4, `${label}: ${name} relative error ${e}`);
        }
        const got = [parts.detection, parts.classification, parts.regression];
        assert.ok(relError(got, refParts) <= 1e-4, `${label}: parts ${got} vs ${refParts}`);
        tf.dispose([...grads.values()]);
      }
    } finally {
      for (const p of pools) p.close();
      tf.dispose([x, y, ref.parts, ...ref.grads.values()]);
      model.dispose();
      await useBackend("wasm");
    }
  },
});

Deno.test("forward splits the batch over the workers and equals model.apply (wasm; native where found)", async () => {
  const { predict } = await import("../src/model/predict.ts");
  const model = buildModel(undefined, { seed: 9 });
  const backends = nativeAvailable() ? ["wasm", "native"] as const : ["wasm"] as const;
  try {
    for (const backend of backends) {
      await useBackend(backend);
      const pool = await GradientPool.create(model.arch, { workers: 1 });
      try {
        for (const [n, size] of [[1, 64], [5, 64], [3, 96]]) {
          const scenes = await makeScenes(train, { count: n, seed: 30 + n, size });
          await useBackend("wasm");
          const want = tf.tidy(() => model.apply(scenes.images));
          await useBackend(backend);
          const got = await pool.forward(model, scenes.images);
          assert.deepEqual(got.shape, want.shape);
          const e = relError(got.dataSync(), want.dataSync());
          assert.ok(e <= 1e-4, `${backend}, n=${n}, ${size}px: relative error ${e}`);
          const a = await predict(model, scenes.images);
          const b = await predict(model, scenes.images, { step: pool });
          assert.deepEqual(b.labels, a.labels);
          assert.deepEqual(b.windows, a.windows);
          tf.dispose([got, want, scenes.images]);
        }
      } finally {
        pool.close();
      }
    }
  } finally {
    model.dispose();
    await useBackend("wasm");
  }
});

Deno.test("a pool's create and close leave the main thread's tensor count where it was", async () => {
  const { createStep } = await import("../src/training/step.ts");
  await useBackend("wasm");
  const before = tf.memory().numTensors;
  for (const workers of [0, 1]) {
    const step = await createStep(S8_ARCH, { backend: "wasm", workers, method: "tape" });
    step.close();
    assert.equal(tf.memory().numTensors, before, `${workers} workers: tensors leaked`);
  }
});
