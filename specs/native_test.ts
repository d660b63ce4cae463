/**
 * The "native" backend (src/backends/native/): OpenBLAS convolutions on the wasm heap, checked against
 * tfjs-cpu on random shapes, and the "auto" choice with and without the library. The kernel
 * specs are skipped (and say so) where OpenBLAS is not installed; the auto specs always run.
 */
import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { nativeAvailable, nativeNotice, resolveAuto, useBackend } from "../src/backends/backend.ts";
import "../src/gradients.ts";
import { col2im, colsShape, im2col } from "../src/backends/native/im2col.ts";
import { Adam } from "../src/training/adam.ts";
import { loss } from "../src/model/loss.ts";
import { buildModel, S8_ARCH } from "../src/model/model.ts";
import { makeRng } from "../src/rng.ts";
import { randArray as rand, relErr } from "./support.ts";

const HAVE = nativeAvailable();
const ignore = !HAVE;
if (!HAVE) console.log(`specs/native_test.ts: kernel specs skipped — ${nativeNotice()}`);

async function on(backend: "cpu" | "native", f: () => tf.Tensor | tf.Tensor[]) {
  await useBackend(backend);
  const out = tf.tidy(f);
  const list = Array.isArray(out) ? out : [out];
  const values = await Promise.all(list.map((t) => t.data() as Promise<Float32Array>));
  const shapes = list.map((t) => t.shape);
  tf.dispose(list);
  return { values, shapes };
}

async function compare(f: () => tf.Tensor | tf.Tensor[], label: string, tol = 1e-4) {
  const want = await on("cpu", f);
  const got = await on("native", f);
  assert.deepEqual(got.shapes, want.shapes, label);
  for (let i = 0; i < want.values.length; i++) {
    const err = relErr(got.values[i], want.values[i]);
    assert.ok(err <= tol, `${label}, output ${i}: relative error ${err}`);
  }
}

type Pad = "valid" | "same" | number | [[0, 0], [number, number], [number, number], [0, 0]];
const cases: {
  x: [number, number, number, number];
  k: [number, number];
  co: number;
  s: number | [number, number];
  pad: Pad;
  d?: number;
}[] = [
  { x: [1, 7, 7, 1], k: [3, 3], co: 4, s: 1, pad: "valid" },
  { x: [2, 9, 8, 3], k: [3, 3], co: 5, s: 2, pad: "same" },
  { x: [3, 11, 10, 2], k: [4, 4], co: 3, s: [3, 2], pad: "valid" },
  { x: [2, 6, 5, 4], k: [5, 5], co: 2, s: 1, pad: "same" },
  { x: [1, 5, 7, 3], k: [2, 3], co: 2, s: 1, pad: 1 },
  { x: [2, 6, 5, 2], k: [2, 3], co: 3, s: 2, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { x: [2, 4, 4, 1], k: [3, 3], co: 1, s: 1, pad: [[0, 0], [4, 0], [0, 3], [0, 0]] },
  { x: [2, 5, 6, 7], k: [1, 1], co: 3, s: 1, pad: "valid" },
  { x: [1, 9, 9, 2], k: [1, 1], co: 3, s: 3, pad: "valid" },
  { x: [2, 13, 13, 1], k: [6, 6], co: 16, s: 2, pad: "valid" },
  { x: [1, 9, 10, 2], k: [3, 3], co: 2, s: 1, pad: "same", d: 2 },
];

for (const [i, c] of cases.entries()) {
  const fShape: [number, number, number, number] = [c.k[0], c.k[1], c.x[3], c.co];
  const dil = c.d ?? 1;
  const info = tf.backend_util.computeConv2DInfo(c.x, fShape, c.s, dil, c.pad);
  const xs = rand(c.x.reduce((a, b) => a * b), 10 + i);
  const ws = rand(fShape.reduce((a, b) => a * b), 20 + i);
  const bs = rand(c.co, 30 + i);
  const dys = rand(info.outShape.reduce((a, b) => a * b), 40 + i);
  const label = `case ${i} ${JSON.stringify(c)}`;
  const conv = { strides: c.s, pad: c.pad, dataFormat: "NHWC", dilations: dil };
  Deno.test({
    name: `native Conv2D and FusedConv2D (linear, relu) match cpu: ${label}`,
    ignore,
    fn: async () => {
      await compare(() =>
        tf.engine().runKernel("Conv2D", {
          x: tf.tensor4d(xs, c.x),
          filter: tf.tensor4d(ws, fShape),
        }, conv) as tf.Tensor, label);
      for (const activation of ["linear", "relu"]) {
        await compare(() =>
          tf.engine().runKernel("FusedConv2D", {
            x: tf.tensor4d(xs, c.x),
            filter: tf.tensor4d(ws, fShape),
            bias: tf.tensor1d(bs),
          }, { ...conv, activation }) as tf.Tensor, `${label} ${activation}`);
      }
    },
  });
  if (dil !== 1) continue; // tfjs has no gradient for dilated convolutions
  Deno.test({
    name: `native Conv2DBackpropFilter and Conv2DBackpropInput match cpu: ${label}`,
    ignore,
    fn: async () => {
      await compare(() =>
        tf.engine().runKernel("Conv2DBackpropFilter", {
          x: tf.tensor4d(xs, c.x),
          dy: tf.tensor4d(dys, info.outShape),
        }, { ...conv, filterShape: fShape }) as tf.Tensor, label);
      await compare(() =>
        tf.engine().runKernel("Conv2DBackpropInput", {
          dy: tf.tensor4d(dys, info.outShape),
          filter: tf.tensor4d(ws, fShape),
        }, { ...conv, inputShape: c.x }) as tf.Tensor, label);
    },
  });
  Deno.test({
    name:
      `native gradients of fused conv (x, filter, bias; patches from the tape) match cpu: ${label}`,
    ignore,
    fn: async () => {
      await compare(() => {
        const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.square(tf.fused.conv2d({
            x: x as tf.Tensor4D,
            filter: w as tf.Tensor4D,
            bias: b,
            strides: c.s,
            pad: c.pad as "same",
            activation: "relu",
          })));
        return tf.grads(f)([tf.tensor4d(xs, c.x), tf.tensor4d(ws, fShape), tf.tensor1d(bs)]);
      }, label);
    },
  });
}

Deno.test({
  name:
    "native FusedConv2D on a batch whose patch matrix exceeds the scratch size (chunked) matches cpu",
  ignore,
  fn: async () => {
    const xs = rand(3 * 200 * 200 * 2, 95), ws = rand(6 * 6 * 2 * 3, 96), bs = rand(3, 97);
    await compare(() =>
      tf.fused.conv2d({
        x: tf.tensor4d(xs, [3, 200, 200, 2]),
        filter: tf.tensor4d(ws, [6, 6, 2, 3]),
        bias: tf.tensor1d(bs),
        activation: "relu",
        strides: 1,
        pad: "valid",
      }), "chunked");
  },
});

Deno.test({
  name: "native falls back to wasm's kernels for what it does not cover (leakyrelu, NCHW-free)",
  ignore,
  fn: async () => {
    const xs = rand(2 * 6 * 6 * 2, 90), ws = rand(3 * 3 * 2 * 3, 91), bs = rand(3, 92);
    await compare(() =>
      tf.fused.conv2d({
        x: tf.tensor4d(xs, [2, 6, 6, 2]),
        filter: tf.tensor4d(ws, [3, 3, 2, 3]),
        bias: tf.tensor1d(bs),
        activation: "leakyrelu",
        leakyreluAlpha: 0.1,
        strides: 1,
        pad: "same",
      }), "leakyrelu");
  },
});

Deno.test("im2col equals a naive patch loop (valid and padded, strided, dilated, 1–7 channels)", () => {
  const rng = makeRng(6);
  for (let t = 0; t < 60; t++) {
    const k = 1 + rng.int(6), s = 1 + rng.int(3), d = 1 + rng.int(2);
    const h = k * d + rng.int(7), w = k * d + rng.int(7), c = 1 + rng.int(7), n = 1 + rng.int(2);
    const pad = rng.int(2) ? "same" : "valid";
    const g = tf.backend_util.computeConv2DInfo([n, h, w, c], [k, k, c, 1], s, d, pad);
    const [rows, cols] = colsShape(g);
    const x = rand(n * h * w * c, 500 + t);
    const got = new Float32Array(rows * cols).fill(NaN);
    im2col(x, g, got);
    let r = 0;
    for (let b = 0; b < n; b++) {
      for (let oy = 0; oy < g.outHeight; oy++) {
        for (let ox = 0; ox < g.outWidth; ox++, r++) {
          let col = 0;
          for (let i = 0; i < k; i++) {
            for (let j = 0; j < k; j++) {
              for (let ch = 0; ch < c; ch++, col++) {
                const y = oy * s - g.padInfo.top + i * d, xx = ox * s - g.padInfo.left + j * d;
                const want = y < 0 || y >= h || xx < 0 || xx >= w
                  ? 0
                  : x[((b * h + y) * w + xx) * c + ch];
                assert.equal(got[r * cols + col], want, `trial ${t}, row ${r}, column ${col}`);
              }
            }
          }
        }
      }
    }
  }
});

Deno.test("im2col and col2im are adjoint: <im2col(x), c> = <x, col2im(c)>", () => {
  const rng = makeRng(5);
  for (let t = 0; t < 40; t++) {
    const k = 1 + rng.int(4), s = 1 + rng.int(3), d = 1 + rng.int(2);
    const h = k * d + rng.int(6), w = k * d + rng.int(6), c = 1 + rng.int(3), n = 1 + rng.int(2);
    const pad = rng.int(2) ? "same" : "valid";
    const g = tf.backend_util.computeConv2DInfo([n, h, w, c], [k, k, c, 2], s, d, pad);
    const [rows, cols] = colsShape(g);
    const x = rand(n * h * w * c, 100 + t), y = rand(rows * cols, 200 + t);
    const ax = new Float32Array(rows * cols), aty = new Float32Array(x.length);
    im2col(x, g, ax);
    col2im(y, g, aty);
    let lhs = 0, rhs = 0;
    for (let i = 0; i < ax.length; i++) lhs += ax[i] * y[i];
    for (let i = 0; i < x.length; i++) rhs += x[i] * aty[i];
    assert.ok(Math.abs(lhs - rhs) <= 1e-4 * (1 + Math.abs(lhs)), `trial ${t}: ${lhs} vs ${rhs}`);
  }
});

Deno.test({
  name: "native trains the default model like wasm (loss of 5 Adam steps ≤ 1e-3 apart), no leak",
  ignore,
  fn: async () => {
    const xs = rand(8 * 64 * 64, 300).map((v) => Math.max(0, v));
    const target = new Float32Array(8 * 4 * 4 * 6);
    const rng = makeRng(301);
    for (let i = 0; i < target.length; i += 6) {
      target[i] = rng.int(2);
      target[i + 1] = rng.int(10);
      for (let j = 2; j < 6; j++) target[i + j] = rng.next();
    }
    const run = async (backend: "wasm" | "native") => {
      await useBackend(backend);
      const model = buildModel(S8_ARCH, { seed: 3 });
      const adam = new Adam(model.variables);
      const x = tf.tensor4d(xs, [8, 64, 64, 1]), y = tf.tensor4d(target, [8, 4, 4, 6]);
      const losses: number[] = [];
      let tensors = 0;
      for (let s = 0; s < 5; s++) {
        const { value, grads } = tf.variableGrads(
          () => loss(model.apply(x), y, { box: "sum" }).total,
          [...model.variables.values()],
        );
        adam.step(grads, 1e-3);
        losses.push((await value.data())[0]);
        tf.dispose([value, ...Object.values(grads)]);
        if (s === 1) tensors = tf.memory().numTensors;
      }
      assert.equal(tf.memory().numTensors, tensors, `${backend}: tensors grow between steps`);
      tf.dispose([x, y]);
      adam.dispose();
      model.dispose();
      return losses;
    };
    const want = await run("wasm");
    const got = await run("native");
    for (let s = 0; s < want.length; s++) {
      const err = Math.abs(got[s] - want[s]) / Math.abs(want[s]);
      assert.ok(err <= 1e-3, `step ${s}: native ${got[s]} vs wasm ${want[s]}`);
    }
    assert.ok(got[4] < got[0], `loss should fall: ${got}`);
  },
});

async function autoIn(env: Record<string, string>): Promise<string[]> {
  const code = `import { nativeNotice, useBackend } from "${
    new URL("../src/backends/backend.ts", import.meta.url).href
  }";
console.log((await useBackend("auto")).name);
console.log(nativeNotice());`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim().split("\n");
}

Deno.test("auto without the native libraries (SLIDEWIN_BLAS=off, SLIDEWIN_DNNL=off) picks wasm and says why", async () => {
  if ((await resolveAuto()) === "webgpu") return; // a hardware GPU wins over both
  const [backend, notice] = await autoIn({ SLIDEWIN_BLAS: "off", SLIDEWIN_DNNL: "off" });
  assert.equal(backend, "wasm");
  assert.match(notice, /^native: not used, SLIDEWIN_BLAS=off \(convolutions run on wasm\)$/);
  const [b2, n2] = await autoIn({
    SLIDEWIN_BLAS: "/nonexistent/libopenblas.so",
    SLIDEWIN_DNNL: "off",
  });
  assert.equal(b2, "wasm");
  assert.match(n2, /could not be loaded/);
});

Deno.test({
  name: "auto with the native library (and no oneDNN) picks native and names it",
  ignore,
  fn: async () => {
    if ((await resolveAuto()) === "webgpu") return;
    const [backend, notice] = await autoIn({ SLIDEWIN_DNNL: "off" });
    assert.equal(backend, "native");
    assert.match(notice, /^native: OpenBLAS \S+ .*runs the convolutions$/);
  },
});

Deno.test("useBackend('native') without the library is a one-line error naming the fix", async () => {
  if (HAVE) return; // covered by the subprocess below
  await assert.rejects(
    () => useBackend("native"),
    /needs OpenBLAS: .*use "wasm" \(--backend=wasm\)/,
  );
});

Deno.test("useBackend('native') with SLIDEWIN_BLAS=off is a one-line error", async () => {
  const code = `import { useBackend } from "${
    new URL("../src/backends/backend.ts", import.meta.url).href
  }";
try { await useBackend("native"); } catch (e) { console.log(e.message); }`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    env: { SLIDEWIN_BLAS: "off" },
    stdout: "piped",
  }).output();
  assert.match(
    new TextDecoder().decode(out.stdout).trim(),
    /^Backend "native" needs OpenBLAS: SLIDEWIN_BLAS=off; use "wasm" \(--backend=wasm\)$/,
  );
});

Deno.test({
  name: "the pretrained model predicts the same on native as on wasm (200 scenes, 64 and 128 px)",
  ignore,
  fn: async () => {
    const { loadMnist } = await import("../src/data/mnist.ts");
    const { makeScenes } = await import("../src/data/scenes.ts");
    const { loadModel } = await import("../src/model/checkpoint.ts");
    const { predict } = await import("../src/model/predict.ts");
    await useBackend("wasm");
    const { val } = await loadMnist({ dir: "fixtures/mnist", testCount: 0 });
    const { model } = await loadModel("models/default");
    try {
      for (const size of [64, 128]) {
        const s = await makeScenes(val, { count: 100, seed: 5, size });
        const a = await predict(model, s.images);
        await useBackend("native");
        const b = await predict(model, s.images);
        await useBackend("wasm");
        assert.deepEqual(b.labels, a.labels, `${size}: labels`);
        assert.deepEqual(b.windows, a.windows, `${size}: chosen windows`);
        assert.ok(relErr(b.boxes, a.boxes) <= 1e-4, `${size}: boxes`);
        assert.ok(relErr(b.scores, a.scores) <= 1e-4, `${size}: scores`);
        s.images.dispose();
      }
    } finally {
      model.dispose();
    }
  },
});

Deno.test({
  name: "native pool steps (native step + Adam) keep the tensor count flat",
  ignore,
  fn: async () => {
    const { GradientPool } = await import("../src/training/pool.ts");
    await useBackend("native");
    const model = buildModel(S8_ARCH, { seed: 4 });
    const adam = new Adam(model.variables);
    const pool = await GradientPool.create(model.arch, { workers: 1 });
    const x = tf.tensor4d(rand(6 * 64 * 64, 400).map((v) => Math.max(0, v)), [6, 64, 64, 1]);
    const y = tf.zeros([6, 4, 4, 6]) as tf.Tensor4D;
    try {
      let tensors = 0;
      for (let s = 0; s < 12; s++) {
        const { named } = await pool.gradients(model, x, y);
        adam.step(named, 1e-3);
        if (s === 1) tensors = tf.memory().numTensors;
      }
      assert.equal(tf.memory().numTensors, tensors);
    } finally {
      pool.close();
      tf.dispose([x, y]);
      adam.dispose();
      model.dispose();
      await useBackend("wasm");
    }
  },
});
