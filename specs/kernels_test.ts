import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import "../src/backends/backend.ts";
import "../src/gradients.ts";
import { registerWasmTrainingKernels } from "../src/backends/wasm/training_kernels.ts";
import { randArray, relErr } from "./support.ts";

registerWasmTrainingKernels();

type Pad = "valid" | "same" | number | [[0, 0], [number, number], [number, number], [0, 0]];

/** Runs `f` on a backend with fresh tensors and returns its output values. */
async function on(backend: string, f: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(backend);
  const t = tf.tidy(f);
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}

async function compare(f: () => tf.Tensor, label: string, tol = 1e-4): Promise<void> {
  const want = await on("cpu", f);
  const got = await on("wasm", f);
  const err = relErr(got, want);
  assert.ok(err <= tol, `${label}: relative error ${err}`);
}

const sq = (n: number): [number, number] => [n, n];

const convCases: {
  x: [number, number, number, number];
  k: [number, number];
  co: number;
  s: number | [number, number];
  pad: Pad;
}[] = [
  { x: [2, 7, 7, 1], k: sq(3), co: 4, s: 1, pad: "valid" },
  { x: [1, 8, 9, 3], k: sq(3), co: 5, s: 2, pad: "valid" },
  { x: [3, 9, 8, 2], k: [3, 2], co: 3, s: 2, pad: "same" },
  { x: [2, 6, 6, 4], k: sq(5), co: 2, s: 1, pad: "same" },
  { x: [1, 11, 10, 2], k: sq(4), co: 3, s: [3, 2], pad: "valid" },
  { x: [2, 5, 7, 3], k: sq(3), co: 2, s: 1, pad: 1 },
  { x: [2, 6, 5, 2], k: [2, 3], co: 3, s: 2, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { x: [1, 4, 4, 1], k: sq(3), co: 1, s: 1, pad: [[0, 0], [4, 0], [0, 3], [0, 0]] },
  { x: [1, 9, 9, 1], k: sq(1), co: 3, s: 3, pad: "valid" },
  // strided input gradients go by phases (src/backends/wasm/conv_backprop.ts): the default model's
  // layer shapes, a stride above the kernel, and odd sizes with "same"
  { x: [2, 15, 15, 4], k: sq(4), co: 6, s: 2, pad: "valid" },
  { x: [1, 17, 16, 1], k: sq(6), co: 5, s: 2, pad: "valid" },
  { x: [2, 10, 11, 3], k: sq(2), co: 2, s: 3, pad: "valid" },
  { x: [1, 13, 12, 2], k: [5, 3], co: 3, s: [2, 3], pad: "same" },
];

for (const [i, c] of convCases.entries()) {
  const ci = c.x[3];
  const fShape: [number, number, number, number] = [c.k[0], c.k[1], ci, c.co];
  const info = tf.backend_util.computeConv2DInfo(c.x, fShape, c.s, 1, c.pad);
  const xs = randArray(c.x.reduce((a, b) => a * b), 10 + i);
  const ws = randArray(fShape.reduce((a, b) => a * b), 20 + i);
  const dys = randArray(info.outShape.reduce((a, b) => a * b), 30 + i);
  const label = `case ${i} ${JSON.stringify(c)}`;
  Deno.test(`Conv2DBackpropFilter on wasm matches cpu: ${label}`, async () => {
    await compare(
      () =>
        tf.engine().runKernel("Conv2DBackpropFilter", {
          x: tf.tensor4d(xs, c.x),
          dy: tf.tensor4d(dys, info.outShape),
        }, { strides: c.s, pad: c.pad, dataFormat: "NHWC", filterShape: fShape }) as tf.Tensor,
      label,
    );
  });
  Deno.test(`Conv2DBackpropInput on wasm matches cpu: ${label}`, async () => {
    await compare(
      () =>
        tf.engine().runKernel("Conv2DBackpropInput", {
          dy: tf.tensor4d(dys, info.outShape),
          filter: tf.tensor4d(ws, fShape),
        }, { strides: c.s, pad: c.pad, dataFormat: "NHWC", inputShape: c.x }) as tf.Tensor,
      label,
    );
  });
}

const poolCases: {
  x: [number, number, number, number];
  f: number | [number, number];
  s: number | [number, number];
  pad: "valid" | "same" | number;
}[] = [
  { x: [2, 6, 6, 3], f: 2, s: 2, pad: "valid" },
  { x: [1, 7, 9, 1], f: 2, s: 2, pad: "valid" },
  { x: [2, 7, 7, 4], f: 3, s: 2, pad: "same" },
  { x: [1, 8, 8, 2], f: 3, s: 1, pad: "same" },
  { x: [3, 9, 6, 5], f: [3, 2], s: [2, 1], pad: 1 },
  { x: [1, 5, 5, 1], f: 5, s: 1, pad: "valid" },
];

for (const [i, c] of poolCases.entries()) {
  for (const ints of [false, true]) {
    const label = `case ${i} ${JSON.stringify(c)}${ints ? " with ties" : ""}`;
    const xs = randArray(c.x.reduce((a, b) => a * b), 40 + i, ints);
    Deno.test(`MaxPoolGrad on wasm matches cpu: ${label}`, async () => {
      await compare(() => {
        const x = tf.tensor4d(xs, c.x);
        // The forward output is not read by either kernel; wasm's own MaxPool crashes on numeric pads.
        const info = tf.backend_util.computePool2DInfo(c.x, c.f, c.s, 1, c.pad);
        const y = tf.zeros(info.outShape);
        const dy = tf.tensor4d(randArray(y.size, 50 + i), info.outShape);
        return tf.engine().runKernel("MaxPoolGrad", { dy, input: x, output: y }, {
          filterSize: c.f,
          strides: c.s,
          pad: c.pad,
        }) as tf.Tensor;
      }, label);
    });
  }
}

Deno.test("gradients of conv→relu→maxpool→conv on wasm match cpu", async () => {
  const xs = randArray(2 * 12 * 12 * 1, 60);
  const w1s = randArray(3 * 3 * 1 * 4, 61), w2s = randArray(3 * 3 * 4 * 3, 62);
  const b1s = randArray(4, 63);
  const grads = async (backend: string) => {
    await tf.setBackend(backend);
    const out = tf.tidy(() => {
      const x = tf.tensor4d(xs, [2, 12, 12, 1]);
      const f = (w1: tf.Tensor, b1: tf.Tensor, w2: tf.Tensor) => {
        const h = tf.relu(tf.add(tf.conv2d(x, w1 as tf.Tensor4D, 1, "same"), b1)) as tf.Tensor4D;
        const p = tf.maxPool(h, 2, 2, "valid");
        const y = tf.conv2d(p, w2 as tf.Tensor4D, 2, "valid");
        return tf.mean(tf.square(tf.sigmoid(y)));
      };
      const [w1, b1, w2] = [
        tf.tensor4d(w1s, [3, 3, 1, 4]),
        tf.tensor1d(b1s),
        tf.tensor4d(w2s, [3, 3, 4, 3]),
      ];
      return tf.grads(f)([w1, b1, w2]);
    });
    const values = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
    tf.dispose(out);
    return values;
  };
  const want = await grads("cpu");
  const got = await grads("wasm");
  for (let i = 0; i < want.length; i++) {
    const err = relErr(got[i], want[i]);
    assert.ok(err <= 1e-4, `gradient ${i}: relative error ${err}`);
  }
});

const sumCases: { shape: number[]; axis: number | number[]; keepDims: boolean }[] = [
  { shape: [4, 5, 6, 3], axis: [0, 1, 2], keepDims: false },
  { shape: [4, 5, 6, 3], axis: [2, 0, 1], keepDims: true },
  { shape: [7, 5], axis: 0, keepDims: false },
  { shape: [3, 4, 5], axis: [-3, -2], keepDims: false },
  { shape: [3, 4, 5], axis: [1, 2], keepDims: false },
  { shape: [3, 4, 5], axis: [0, 2], keepDims: true },
  { shape: [3, 4], axis: [0, 1], keepDims: false },
];
for (const [i, c] of sumCases.entries()) {
  Deno.test(`Sum on wasm matches cpu: ${JSON.stringify(c)}`, async () => {
    const xs = randArray(c.shape.reduce((a, b) => a * b), 70 + i);
    await compare(() => tf.sum(tf.tensor(xs, c.shape), c.axis, c.keepDims), JSON.stringify(c));
    await setBackendShape(() => tf.sum(tf.tensor(xs, c.shape), c.axis, c.keepDims));
  });
}

Deno.test("PadV2 on wasm equals cpu's exactly on 300 random shapes, paddings and values", async () => {
  let seed = 90, before = 0;
  for (let trial = 0; trial < 300; trial++) {
    const rank = 1 + (trial % 5);
    const r = randArray(4 * rank, seed++); // uniform in [-1, 1): sizes 0–4, paddings 0–3
    const shape = Array.from({ length: rank }, (_, i) => Math.floor((r[i] + 1) * 2.5));
    const paddings = shape.map((_, i) =>
      [0, 1].map((k) => Math.max(0, Math.floor((r[rank + 2 * i + k] + 1) * 2.4) - 1))
    ) as [number, number][];
    const constantValue = trial % 3 === 0 ? 0 : r[3 * rank];
    const xs = randArray(shape.reduce((a, b) => a * b, 1), seed++);
    const f = () => tf.pad(tf.tensor(xs, shape), paddings, constantValue);
    const label = JSON.stringify({ shape, paddings, constantValue });
    assert.deepEqual(await on("wasm", f), await on("cpu", f), label);
    await setBackendShape(f);
    if (trial === 0) before = tf.memory().numTensors;
  }
  assert.equal(tf.memory().numTensors, before, "no tensor left behind");
  // int32 goes to tfjs's own kernel
  const ints = () => tf.pad(tf.tensor2d([[1, 2]], [1, 2], "int32"), [[1, 0], [0, 1]], 7);
  assert.deepEqual(Array.from(await on("wasm", ints)), [7, 7, 7, 1, 2, 7]);
});

/** Shapes agree between cpu and wasm too (compare only checks values). */
async function setBackendShape(f: () => tf.Tensor): Promise<void> {
  await tf.setBackend("cpu");
  const want = tf.tidy(f);
  await tf.setBackend("wasm");
  const got = tf.tidy(f);
  assert.deepEqual(got.shape, want.shape);
  tf.dispose([want, got]);
}

Deno.test("registerWasmTrainingKernels is idempotent", () => {
  registerWasmTrainingKernels();
  registerWasmTrainingKernels();
  assert.ok(tf.getKernel("Conv2DBackpropFilter", "wasm"));
});
