/**
 * Adam's fused update kernel (src/backends/wasm/adam_kernel.ts) against the tfjs ops it replaces
 * (src/training/adam.ts with `fused: false`): the same bits, on every backend that has it.
 */
import assert from "node:assert/strict";
import { tf, type Variable } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import { Adam } from "../src/training/adam.ts";
import { ADAM_KERNEL, adamElements, adamRunsSimd } from "../src/backends/wasm/adam_kernel.ts";
import { makeRng } from "../src/rng.ts";
import { oneDnn } from "../src/backends/onednn/dnnl.ts";
import { openBlas } from "../src/backends/native/openblas.ts";

/** Values over many magnitudes, both signs, zeros and subnormals: where roundings differ. */
function awkward(n: number, seed: number): Float32Array {
  const rng = makeRng(seed).next;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const pick = rng();
    a[i] = pick < 0.05
      ? 0
      : pick < 0.1
      ? (rng() - 0.5) * 1e-40
      : (rng() - 0.5) * 10 ** (rng() * 12 - 9);
  }
  return a;
}

async function trainedBits(
  fused: boolean,
  backend: "wasm" | "onednn" | "native",
): Promise<Float32Array[]> {
  await useBackend(backend);
  const shapes = [[3, 3, 1, 7], [7], [1000]];
  const vars = new Map<string, Variable>(
    shapes.map((
      s,
      i,
    ) => [
      `v${i}`,
      tf.tidy(() =>
        tf.variable(
          tf.tensor(awkward(s.reduce((a, b) => a * b), i), s),
          true,
          `adam_spec_${fused}_${i}`,
        )
      ),
    ]),
  );
  const adam = new Adam(vars, { fused });
  for (let t = 0; t < 25; t++) {
    const grads: tf.NamedTensorMap = {};
    for (const [i, v] of [...vars.values()].entries()) {
      grads[v.name] = tf.tensor(awkward(v.size, 100 + 7 * t + i), v.shape);
    }
    adam.step(grads, t % 2 ? 3e-3 : 1e-4);
  }
  const out = [...vars.values(), ...adam.stateTensors().values()].map((v) =>
    v.dataSync() as Float32Array
  );
  adam.dispose();
  tf.dispose([...vars.values()]);
  return out;
}

const CI = Deno.env.get("CI") === "true";
/** The backends with the kernel; one whose library is missing is skipped here, failing under CI. */
const BACKENDS_WITH_KERNEL = [
  { name: "wasm", here: true },
  { name: "onednn", here: oneDnn() !== null },
  { name: "native", here: openBlas() !== null },
] as const;

for (const { name: backend, here } of BACKENDS_WITH_KERNEL) {
  Deno.test({
    name: `Adam: the fused kernel gives the ops' bits on ${backend}`,
    ignore: !here && !CI,
    async fn() {
      await useBackend(backend);
      assert.ok(tf.getKernel(ADAM_KERNEL, backend), `${ADAM_KERNEL} registered for ${backend}`);
      assert.ok(adamRunsSimd(), "the SIMD pass runs (Deno has WebAssembly SIMD)");
      const before = tf.memory().numTensors;
      const fused = await trainedBits(true, backend);
      const ops = await trainedBits(false, backend);
      assert.equal(tf.memory().numTensors, before, "no tensor left behind");
      for (const [i, a] of fused.entries()) {
        const x = new Uint32Array(a.buffer), y = new Uint32Array(ops[i].buffer);
        const differ = x.findIndex((b, j) => b !== y[j]);
        assert.equal(
          differ,
          -1,
          `array ${i} differs at ${differ}: ${a[differ]} vs ${ops[i][differ]}`,
        );
      }
    },
  });
}

Deno.test("Adam: one element by hand (m, v from zero, bias-corrected step of lr)", () => {
  const w2 = new Float32Array(1), m2 = new Float32Array(1), v2 = new Float32Array(1);
  const lr = 0.01, b1 = 0.9, b2 = 0.999;
  // the first step: α = lr·√(1−β₂)/(1−β₁), so w moves by lr·sign(g) (up to ε)
  const alpha = lr * Math.sqrt(1 - b2) / (1 - b1);
  adamElements(
    {
      w: new Float32Array([2]),
      m: new Float32Array(1),
      v: new Float32Array(1),
      g: new Float32Array([-4]),
    },
    { w2, m2, v2 },
    { beta1: b1, beta2: b2, epsilon: 1e-8, alpha },
  );
  assert.ok(Math.abs(m2[0] - -0.4) < 1e-6, `m ${m2[0]}`);
  assert.ok(Math.abs(v2[0] - 0.016) < 1e-6, `v ${v2[0]}`);
  assert.ok(Math.abs(w2[0] - 2.01) < 1e-6, `w ${w2[0]}`);
});

Deno.test("Adam: the fused kernel refuses arrays of different sizes, naming the argument", () => {
  const a = new Float32Array(3), b = new Float32Array(2);
  assert.throws(
    () =>
      adamElements({ w: a, m: a, v: a, g: b }, { w2: a.slice(), m2: a.slice(), v2: a.slice() }, {
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
        alpha: 1e-3,
      }),
    /g has 2 values, w has 3/,
  );
});
