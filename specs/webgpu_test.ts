import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import "../src/gradients.ts";
import { useBackend } from "../src/backends/backend.ts";
import { randArray as rand } from "./support.ts";

// Any adapter will do (Mesa llvmpipe here: slow, so shapes are tiny and few shaders are compiled).
const adapter = await navigator.gpu?.requestAdapter().catch(() => null);

const xs = rand(2 * 8 * 8, 1), w1s = rand(3 * 3 * 1 * 4, 2), w2s = rand(3 * 3 * 4 * 2, 3);

/** A few SGD steps of conv→relu→maxpool→conv; returns the losses and the final forward output. */
async function train(backend: "webgpu" | "wasm"): Promise<{ losses: number[]; out: Float32Array }> {
  assert.equal((await useBackend(backend)).name, backend);
  const x = tf.tensor4d(xs, [2, 8, 8, 1]);
  const w1 = tf.variable(tf.tensor4d(w1s, [3, 3, 1, 4]));
  const w2 = tf.variable(tf.tensor4d(w2s, [3, 3, 4, 2]));
  const net = () =>
    tf.conv2d(
      tf.maxPool(tf.relu(tf.conv2d(x, w1 as tf.Tensor4D, 1, "valid")), 2, 2, "valid"),
      w2 as tf.Tensor4D,
      1,
      "valid",
    );
  const opt = tf.train.sgd(0.02);
  const losses: number[] = [];
  for (let i = 0; i < 3; i++) {
    const cost = opt.minimize(() => tf.mean(tf.square(net())) as tf.Scalar, true, [w1, w2])!;
    losses.push((await cost.data())[0]);
    cost.dispose();
  }
  const y = tf.tidy(net);
  const out = (await y.data()) as Float32Array;
  tf.dispose([x, w1, w2, y]);
  opt.dispose();
  return { losses, out };
}

Deno.test({
  name: "webgpu trains a tiny conv net and matches wasm to 1e-3",
  ignore: !adapter,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const gpu = await train("webgpu");
    const cpu = await train("wasm");
    for (let i = 0; i < gpu.losses.length; i++) {
      const rel = Math.abs(gpu.losses[i] - cpu.losses[i]) / Math.abs(cpu.losses[i]);
      assert.ok(rel <= 1e-3, `loss ${i}: webgpu ${gpu.losses[i]} vs wasm ${cpu.losses[i]}`);
    }
    const scale = Math.max(...cpu.out.map(Math.abs));
    const diff = Math.max(...gpu.out.map((v, i) => Math.abs(v - cpu.out[i])));
    assert.ok(diff / scale <= 1e-3, `forward relative error ${diff / scale}`);
    assert.ok(gpu.losses[2] < gpu.losses[0], `loss decreases on webgpu: ${gpu.losses}`);
  },
});
