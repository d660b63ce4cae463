/**
 * The oneDNN engine (src/backends/onednn/) against tfjs-cpu: its three convolution primitives
 * (forward with bias and fused ReLU, backward-data, backward-weights with the bias gradient) on a
 * range of geometries (the array network on it: specs/array_net_test.ts); its thread policy; and
 * backend "onednn" through tfjs (kernels, gradients
 * under the tape, `model.apply`). Skipped where libdnnl is not installed, failing under CI.
 */
import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { backendNamed, BACKENDS, useBackend } from "../src/backends/backend.ts";
import {
  bf16MissingReason,
  dnnlMissingReason,
  oneDnn,
  oneDnnBf16,
} from "../src/backends/onednn/dnnl.ts";
import { ARCHITECTURES, buildModel } from "../src/model/model.ts";
import { GradientPool } from "../src/training/pool.ts";
import { batch, randArray, relErr } from "./support.ts";

const CI = Deno.env.get("CI") === "true";
const dnnl = oneDnn();
const ignore = !dnnl && !CI;
if (!dnnl) console.error(`onednn specs: ${CI ? "failing" : "skipped"}: ${dnnlMissingReason}`);

type Shape4 = [number, number, number, number];
type Pad = "valid" | "same" | number | [[0, 0], [number, number], [number, number], [0, 0]];

/** Geometries: strides, valid/same/numeric/explicit pads, rounding, 1×1, batch 1, odd sizes. */
const GEOMETRIES: {
  x: Shape4;
  f: Shape4;
  s: number | [number, number];
  pad: Pad;
  round?: "floor" | "ceil" | "round";
}[] = [
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], s: 1, pad: "valid" },
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], s: 1, pad: "same" },
  { x: [3, 10, 11, 2], f: [3, 3, 2, 5], s: 2, pad: "same" },
  { x: [1, 12, 12, 4], f: [5, 5, 4, 6], s: 2, pad: "valid" },
  { x: [2, 8, 8, 5], f: [1, 1, 5, 7], s: 1, pad: "valid" },
  { x: [2, 8, 8, 5], f: [1, 1, 5, 7], s: 2, pad: "valid" },
  { x: [1, 7, 9, 1], f: [3, 2, 1, 8], s: [2, 3], pad: "same" },
  { x: [2, 10, 10, 3], f: [3, 3, 3, 4], s: 3, pad: "valid" },
  { x: [2, 9, 9, 2], f: [4, 4, 2, 3], s: 2, pad: 1, round: "ceil" },
  { x: [2, 9, 8, 2], f: [3, 3, 2, 3], s: 1, pad: [[0, 0], [2, 0], [1, 3], [0, 0]] },
  { x: [3, 16, 16, 32], f: [3, 3, 32, 64], s: 2, pad: "valid" },
  { x: [2, 30, 30, 1], f: [6, 6, 1, 16], s: 2, pad: "valid" },
];

function info(c: (typeof GEOMETRIES)[number]) {
  return tf.backend_util.computeConv2DInfo(c.x, c.f, c.s, 1, c.pad, c.round);
}

for (const [i, c] of GEOMETRIES.entries()) {
  const name = `x [${c.x}] filter [${c.f}] strides ${c.s} pad ${JSON.stringify(c.pad)}${
    c.round ? ` ${c.round}` : ""
  }`;
  Deno.test({
    name: `oneDNN primitives equal tfjs-cpu: ${name}`,
    ignore,
    fn: async () => {
      assert.ok(dnnl, dnnlMissingReason);
      await useBackend("cpu");
      const g = info(c);
      const n = (s: number[]) => s.reduce((a, b) => a * b, 1);
      const x = randArray(n(c.x), 1 + i), w = randArray(n(c.f), 50 + i);
      const b = randArray(c.f[3], 90 + i);
      const dy = randArray(n(g.outShape), 130 + i);
      const attrs = {
        strides: c.s,
        pad: c.pad,
        dataFormat: "NHWC",
        ...(c.round ? { dimRoundingMode: c.round } : {}),
      } as unknown as tf.NamedAttrMap;
      const want = tf.tidy(() => {
        const xt = tf.tensor4d(x, c.x), wt = tf.tensor4d(w, c.f), dyt = tf.tensor4d(dy, g.outShape);
        const y = tf.relu(tf.add(tf.conv2d(xt, wt, c.s, c.pad, "NHWC", 1, c.round), b));
        const dx = tf.engine().runKernel("Conv2DBackpropInput", { dy: dyt, filter: wt }, {
          ...attrs,
          inputShape: c.x,
        }) as tf.Tensor;
        const dw = tf.engine().runKernel("Conv2DBackpropFilter", { x: xt, dy: dyt }, {
          ...attrs,
          filterShape: c.f,
        }) as tf.Tensor;
        const db = tf.sum(dyt, [0, 1, 2]);
        return [y, dx, dw, db].map((t) => t.dataSync() as Float32Array);
      });
      const y = new Float32Array(n(g.outShape)), dx = new Float32Array(n(c.x));
      const dw = new Float32Array(n(c.f)), db = new Float32Array(c.f[3]);
      dnnl.forward(g, { x, w, b, y, relu: true });
      dnnl.backwardData(g, { dy, w, dx });
      dnnl.backwardWeights(g, { x, dy, dw, db });
      // twice: the second call runs the kept primitives
      dnnl.forward(g, { x, w, b, y, relu: true });
      for (
        const [label, got, ref] of [["y", y, want[0]], ["dx", dx, want[1]], ["dw", dw, want[2]], [
          "db",
          db,
          want[3],
        ]] as const
      ) {
        const err = relErr(got, ref);
        assert.ok(err <= 1e-4, `${label}: relative error ${err}`);
      }
      assert.ok(want[0].some((v) => v === 0) && want[0].some((v) => v > 0), "ReLU must bite");
    },
  });
}

const bf16 = oneDnnBf16();
if (dnnl && !bf16) console.error(`onednn-bf16 specs skipped: ${bf16MissingReason}`);

/** `a` rounded to bfloat16 (to nearest, ties to even), as float32 values. */
function roundBf16(a: Float32Array): Float32Array {
  const out = a.slice();
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < u.length; i++) u[i] = (u[i] + 0x7fff + ((u[i] >>> 16) & 1)) & 0xffff0000;
  return out;
}

for (const [i, c] of GEOMETRIES.entries()) {
  Deno.test({
    name:
      `oneDNN bf16 forward and backward-data are float32 sums of bfloat16-rounded operands: x [${c.x}] filter [${c.f}]`,
    // hardware-dependent (AVX512_BF16 or AMX): skipped without it, also under CI
    ignore: !bf16,
    fn: async () => {
      assert.ok(bf16);
      await useBackend("cpu");
      const g = info(c);
      const n = (s: number[]) => s.reduce((a, b) => a * b, 1);
      const x = randArray(n(c.x), 300 + i), w = randArray(n(c.f), 350 + i);
      const b = randArray(c.f[3], 390 + i);
      const conv = (xs: Float32Array, ws: Float32Array) =>
        tf.tidy(() =>
          tf.relu(
            tf.add(
              tf.conv2d(tf.tensor4d(xs, c.x), tf.tensor4d(ws, c.f), c.s, c.pad, "NHWC", 1, c.round),
              b,
            ),
          )
            .dataSync() as Float32Array
        );
      const y = new Float32Array(n(g.outShape));
      bf16.forward(g, { x, w, b, y, relu: true });
      // the oracle: the same sums on operands rounded to bfloat16
      const exact = relErr(y, conv(roundBf16(x), roundBf16(w)));
      assert.ok(exact <= 1e-5, `against rounded operands: relative error ${exact}`);
      // and it is bfloat16, not float32: away from the float32 result, but not far
      const away = relErr(y, conv(x, w));
      assert.ok(away > 1e-6 && away <= 1e-2, `against float32: relative error ${away}`);
      // backward-data likewise, on the output gradient and the filter
      const attrs = {
        strides: c.s,
        pad: c.pad,
        dataFormat: "NHWC",
        inputShape: c.x,
        ...(c.round ? { dimRoundingMode: c.round } : {}),
      } as unknown as tf.NamedAttrMap;
      const backData = (dys: Float32Array, ws: Float32Array) =>
        tf.tidy(() =>
          (tf.engine().runKernel("Conv2DBackpropInput", {
            dy: tf.tensor4d(dys, g.outShape),
            filter: tf.tensor4d(ws, c.f),
          }, attrs) as tf.Tensor).dataSync() as Float32Array
        );
      const dy = randArray(n(g.outShape), 420 + i);
      const dx = new Float32Array(n(c.x));
      bf16.backwardData(g, { dy, w, dx });
      const exactDx = relErr(dx, backData(roundBf16(dy), roundBf16(w)));
      assert.ok(exactDx <= 1e-5, `dx against rounded operands: relative error ${exactDx}`);
      const awayDx = relErr(dx, backData(dy, w));
      assert.ok(awayDx > 1e-6 && awayDx <= 1e-2, `dx against float32: relative error ${awayDx}`);
    },
  });
}

Deno.test({
  name:
    "backend onednn-bf16: model.apply near tfjs-cpu's, never picked by auto, says why it is missing",
  ignore: ignore && !CI,
  fn: async () => {
    const b = backendNamed("onednn-bf16");
    assert.equal(await b.pickedByAuto(), false);
    assert.equal(await b.unavailable(), bf16 ? undefined : bf16MissingReason);
    if (!bf16) return;
    await useBackend("onednn-bf16");
    assert.equal(tf.getBackend(), "onednn-bf16");
    const model = buildModel(ARCHITECTURES.wide, { seed: 4 });
    const images = randArray(2 * 64 * 64, 12);
    const apply = () => [model.apply(tf.tensor4d(images, [2, 64, 64, 1]))];
    const got = await on("onednn-bf16", apply);
    const want = await on("cpu", apply);
    const err = relErr(got[0], want[0]);
    assert.ok(err > 1e-6 && err <= 2e-2, `model.apply: relative error ${err}`);
    model.dispose();
  },
});

Deno.test({
  name: "oneDNN forward without bias or ReLU equals tfjs-cpu's conv2d; sizes are checked",
  ignore,
  fn: async () => {
    assert.ok(dnnl, dnnlMissingReason);
    await useBackend("cpu");
    const c = GEOMETRIES[2], g = info(c);
    const x = randArray(c.x.reduce((a, b) => a * b), 3),
      w = randArray(c.f.reduce((a, b) => a * b), 4);
    const want = tf.tidy(() =>
      tf.conv2d(tf.tensor4d(x, c.x), tf.tensor4d(w, c.f), c.s, c.pad).dataSync() as Float32Array
    );
    const y = new Float32Array(want.length);
    dnnl.forward(g, { x, w, y });
    assert.ok(relErr(y, want) <= 1e-4);
    assert.ok(want.some((v) => v < 0), "linear: negative outputs stay");
    assert.throws(
      () => dnnl.forward(g, { x: x.subarray(1), w, y }),
      /oneDNN convolution: x has \d+ values, needs \d+/,
    );
  },
});

Deno.test({
  name: "oneDNN forward: a keyed filter is reordered once and kept; another key is reordered again",
  ignore,
  fn: async () => {
    assert.ok(dnnl, dnnlMissingReason);
    await useBackend("cpu");
    const c = GEOMETRIES[2], g = info(c);
    const n = c.f.reduce((a, b) => a * b);
    const x = randArray(c.x.reduce((a, b) => a * b), 5);
    const w1 = randArray(n, 6), w2 = randArray(n, 7);
    const conv = (w: Float32Array) =>
      tf.tidy(() =>
        tf.conv2d(tf.tensor4d(x, c.x), tf.tensor4d(w, c.f), c.s, c.pad).dataSync() as Float32Array
      );
    const run = (w: Float32Array, filterKey?: object) => {
      const y = new Float32Array(conv(w).length);
      dnnl.forward(g, { x, w, y, filterKey });
      return y;
    };
    const k1 = {}, k2 = {};
    assert.ok(relErr(run(w1, k1), conv(w1)) <= 1e-4);
    // the same key promises the same values: the kept filter is used, not the array passed
    assert.ok(relErr(run(w2, k1), conv(w1)) <= 1e-4, "kept under k1");
    assert.ok(relErr(run(w2, k2), conv(w2)) <= 1e-4, "a new key is reordered");
    assert.ok(relErr(run(w2), conv(w2)) <= 1e-4, "no key: reordered on the call");
    assert.ok(relErr(run(w1, k1), conv(w1)) <= 1e-4, "k1 kept beside the unkeyed buffer");
  },
});

Deno.test({
  name:
    "backend onednn: model.apply follows new weights (a variable's new tensor, a new filter key)",
  ignore,
  fn: async () => {
    await useBackend("onednn");
    const model = buildModel(ARCHITECTURES.s8, { seed: 3 });
    const images = randArray(2 * 64 * 64, 8);
    const apply = () => [model.apply(tf.tensor4d(images, [2, 64, 64, 1]))];
    const before = await on("onednn", apply);
    for (const v of model.variables.values()) tf.tidy(() => v.assign(tf.mul(v, 1.5)));
    const after = await on("onednn", apply);
    const want = await on("cpu", apply);
    assert.ok(relErr(after[0], want[0]) <= 1e-4, "after assign, as tfjs-cpu");
    assert.ok(relErr(after[0], before[0]) > 1e-2, "the outputs changed");
    model.dispose();
  },
});

Deno.test({
  name:
    "backend onednn: in the table before native, a candidate of auto where it loads, says why it is missing",
  fn: async () => {
    const b = backendNamed("onednn");
    assert.equal(b.method, "native");
    assert.equal(await b.pickedByAuto(), dnnl !== null);
    const names = BACKENDS.map((d) => d.name);
    assert.ok(names.indexOf("onednn") < names.indexOf("native"), "onednn first by order");
    assert.equal(await b.unavailable(), dnnl ? undefined : dnnlMissingReason);
  },
});

/** Runs `f` on backend `name` and reads every returned tensor back. */
async function on(
  name: "cpu" | "onednn" | "onednn-bf16",
  f: () => tf.Tensor[],
): Promise<Float32Array[]> {
  await useBackend(name);
  return tf.tidy(() => f().map((t) => t.dataSync() as Float32Array));
}

Deno.test({
  name: "backend onednn: kernels, gradients under the tape and model.apply equal tfjs-cpu's",
  ignore,
  fn: async () => {
    assert.ok(dnnl, dnnlMissingReason);
    for (const [i, c] of GEOMETRIES.slice(0, 10).entries()) {
      const n = (s: number[]) => s.reduce((a, b) => a * b, 1);
      const x = randArray(n(c.x), 200 + i), w = randArray(n(c.f), 300 + i);
      const b = randArray(c.f[3], 400 + i);
      const run = () => {
        const xt = tf.tensor4d(x, c.x), wt = tf.tensor4d(w, c.f), bt = tf.tensor1d(b);
        const f = (xv: tf.Tensor, wv: tf.Tensor) =>
          tf.sum(tf.square(tf.fused.conv2d({
            x: xv as tf.Tensor4D,
            filter: wv as tf.Tensor4D,
            strides: c.s,
            pad: c.pad as "same",
            dimRoundingMode: c.round,
            bias: bt,
            activation: "relu",
          })));
        const [dx, dw] = tf.grads(f)([xt, wt]);
        return [tf.conv2d(xt, wt, c.s, c.pad as "same", "NHWC", 1, c.round), dx, dw];
      };
      const want = await on("cpu", run);
      const got = await on("onednn", run);
      for (const [j, g] of got.entries()) {
        const err = relErr(g, want[j]);
        assert.ok(err <= 1e-4, `geometry ${i}, output ${j}: relative error ${err}`);
      }
    }
    // dilation (wasm's kernel), and a dy larger than the geometry's output (its top-left block)
    const edges = () => {
      const x = tf.tensor4d(randArray(2 * 9 * 9 * 3, 7), [2, 9, 9, 3]);
      const w = tf.tensor4d(randArray(3 * 3 * 3 * 4, 8), [3, 3, 3, 4]);
      const w8 = tf.tensor4d(randArray(8 * 8 * 8 * 8, 9), [8, 8, 8, 8]);
      const x8 = tf.tensor4d(randArray(8 * 8 * 8, 10), [1, 8, 8, 8]);
      return [
        tf.conv2d(x, w, 1, "same", "NHWC", 2),
        tf.conv2dTranspose(x8, w8, [1, 4, 4, 8], 1, "same"),
      ];
    };
    const edgeWant = await on("cpu", edges);
    const edgeGot = await on("onednn", edges);
    for (const [j, g] of edgeGot.entries()) {
      assert.ok(relErr(g, edgeWant[j]) <= 1e-4, `edge case ${j}: ${relErr(g, edgeWant[j])}`);
    }
    await useBackend("onednn");
    assert.equal(tf.getBackend(), "onednn");
    assert.throws(
      () =>
        tf.conv2d(
          tf.zeros([1, 1, 4, 4]) as tf.Tensor4D,
          tf.zeros([3, 3, 1, 2]) as tf.Tensor4D,
          1,
          "same",
          "NCHW",
        ),
      /dataFormat "NCHW" is not supported on backends "onednn" and "wasm"/,
    );
    const model = buildModel(ARCHITECTURES.s8, { seed: 3 });
    const images = randArray(2 * 64 * 64, 5);
    const apply = () => [model.apply(tf.tensor4d(images, [2, 64, 64, 1]))];
    const got = await on("onednn", apply);
    const want = await on("cpu", apply);
    assert.ok(relErr(got[0], want[0]) <= 1e-4, "model.apply");
    model.dispose();
  },
});

Deno.test({
  name: "backend onednn: a pool with one Worker sums the same gradients as one thread",
  ignore,
  fn: async () => {
    assert.ok(dnnl, dnnlMissingReason);
    await useBackend("onednn");
    const model = buildModel(ARCHITECTURES.s8, { seed: 5 });
    const grid = model.grid(64);
    const { images, targets } = batch(4, 64, grid, 13);
    const x = tf.tensor4d(images, [4, 64, 64, 1]) as tf.Tensor4D;
    const y = tf.tensor4d(targets, [4, grid.rows, grid.cols, 6]) as tf.Tensor4D;
    const results = [];
    for (const workers of [0, 1]) {
      const pool = await GradientPool.create(model.arch, { workers, backend: "onednn" });
      try {
        const { grads } = await pool.gradients(model, x, y);
        results.push([...grads.values()].map((t) => t.dataSync() as Float32Array));
        tf.dispose([...grads.values()]);
      } finally {
        pool.close();
      }
    }
    for (const [i, g] of results[1].entries()) {
      assert.ok(relErr(g, results[0][i]) <= 1e-5, `gradient ${i}`);
    }
    tf.dispose([x, y]);
    model.dispose();
  },
});

Deno.test({
  name: "oneDNN single-thread holds nest per calling thread; the default comes back with the last",
  ignore,
  fn: () => {
    assert.ok(dnnl, dnnlMissingReason);
    const before = dnnl.threads();
    const a = dnnl.singleThreaded();
    const b = backendNamed("onednn").singleThreaded();
    assert.equal(dnnl.threads(), 1);
    a();
    a(); // idempotent
    assert.equal(dnnl.threads(), 1, "b still holds it");
    b();
    assert.equal(dnnl.threads(), before);
    assert.match(dnnl.openmp(), /omp/);
    assert.equal(backendNamed("onednn").cacheFacts().openmp, dnnl.openmp());
  },
});

Deno.test({
  name: "onednn: OpenMP's wait settings are set for libgomp only, not left for child processes",
  ignore,
  async fn() {
    const url = new URL("../src/backends/onednn/dnnl.ts", import.meta.url).href;
    const code = `const { oneDnn } = await import(${JSON.stringify(url)});
      const loaded = oneDnn() !== null;
      console.log(JSON.stringify([loaded, Deno.env.get("OMP_WAIT_POLICY") ?? "unset", Deno.env.get("GOMP_SPINCOUNT") ?? "unset"]));`;
    const env = { ...Deno.env.toObject() };
    delete env.OMP_WAIT_POLICY, delete env.GOMP_SPINCOUNT;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", code],
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.ok(out.success);
    const [loaded, policy, spin] = JSON.parse(new TextDecoder().decode(out.stdout).trim());
    assert.equal(loaded, true);
    assert.equal(policy, "unset", "OMP_WAIT_POLICY left in the environment");
    assert.equal(spin, "unset", "GOMP_SPINCOUNT left in the environment");
  },
});
