/**
 * The ONNX export (src/model/onnx_export.ts) against its peer runtime: ONNX Runtime
 * (npm onnxruntime-node, tasks/lib/ort.ts) runs the exported graph of every architecture — random
 * initialised, plus the shipped default and detector — on seeded 64×64 and 256×256 scenes and
 * matches `model.apply` within 1e-4; the weight transpose against tfjs's own transpose; the
 * file's schema fields (opset, IR version, dynamic dims, metadata) read back with the schema.
 * ONNX Runtime specs are skipped, with the reason, where it cannot load; under CI on Linux x64
 * they run and fail.
 */
import assert from "node:assert/strict";
import { fromBinary } from "npm:@bufbuild/protobuf@2.17.0";
import { ModelProtoSchema, type ValueInfoProto } from "../src/model/onnx/onnx_pb.ts";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import {
  loadModel,
  PRETRAINED_DETECTOR,
  PRETRAINED_MODEL,
  saveModel,
} from "../src/model/checkpoint.ts";
import { readExportWeights } from "../src/model/export_weights.ts";
import {
  encodeOnnx,
  exportOnnx,
  hwioToOihw,
  ONNX_INPUT,
  ONNX_IR_VERSION,
  ONNX_OPSET,
  ONNX_OUTPUT,
  onnxGraph,
} from "../src/model/onnx_export.ts";
import { ARCHITECTURES, type ArchLayer, buildModel, type Model } from "../src/model/model.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { makeScenes } from "../src/data/scenes.ts";
import { makeMultiScenes } from "../src/data/multi_scenes.ts";
import { LAYER_KINDS, type LayerKindName } from "../src/layers/table.ts";
import { loadOrt, ortRequired, ortRun, ortSession } from "../tasks/lib/ort.ts";
import { randArray } from "./support.ts";
import { buildAndrewNets } from "../src/part1/andrew.ts";
import { andrewOnnx } from "../tasks/lib/sliding_peers.ts";

const ORT = await loadOrt();
const SKIP = typeof ORT === "string" && !ortRequired();
if (SKIP) console.log(`specs/onnx_export_test.ts: ONNX Runtime specs skipped — ${ORT}`);

/** A padded convolution and a pool whose stride differs from its kernel: no named arch has them. */
const PADDED: readonly ArchLayer[] = [
  { kind: "conv", kernel: 3, filters: 8, padding: 1 },
  { kind: "pool", kernel: 3, stride: 2 },
  { kind: "conv", kernel: 5, filters: 16, stride: 2, padding: 2 },
  { kind: "conv", kernel: 7, filters: 24 },
  { kind: "conv", kernel: 1, filters: 15, activation: "linear" },
];

const { train } = await loadMnist({ dir: new URL("../fixtures/mnist/", import.meta.url) });

/** Seeded scenes: 3 one-digit 64×64 ones, and 2 of 256×256 with 1–4 digits. */
async function scenes(size: 64 | 256): Promise<tf.Tensor4D> {
  const s = size === 64
    ? await makeScenes(train, { count: 3, seed: 5 })
    : await makeMultiScenes(train, { count: 2, seed: 6, size: 256, digits: [1, 4] });
  return s.images;
}

/** max |ONNX Runtime − model.apply| of `model`'s export on `images` `[N, H, W, 1]`. */
async function ortVsApply(model: Model, images: tf.Tensor4D): Promise<number> {
  if (typeof ORT === "string") throw new Error(ORT);
  const session = await ortSession(ORT, encodeOnnx(await readExportWeights(model)), 1);
  try {
    const [n, h, w] = images.shape;
    const nchw = tf.tidy(() => tf.transpose(images, [0, 3, 1, 2]));
    const got = await ortRun(ORT, session, await nchw.data() as Float32Array, [n, 1, h, w]);
    nchw.dispose();
    const want = tf.tidy(() => tf.transpose(model.apply(images), [0, 3, 1, 2]));
    assert.deepEqual(got.dims, want.shape);
    const w2 = await want.data();
    want.dispose();
    let d = 0;
    for (let i = 0; i < w2.length; i++) d = Math.max(d, Math.abs(got.data[i] - w2[i]));
    return d;
  } finally {
    await session.release();
  }
}

const CASES: [string, () => Promise<Model>][] = [
  ...Object.entries(ARCHITECTURES).map(([name, arch]): [string, () => Promise<Model>] => [
    `${name} (random)`,
    () => Promise.resolve(buildModel(arch, { seed: 7 })),
  ]),
  [
    "padded conv + overlapping pool (random)",
    () => Promise.resolve(buildModel(PADDED, { seed: 8 })),
  ],
  ["shipped default", async () => (await loadModel(PRETRAINED_MODEL)).model],
  ["shipped detector", async () => (await loadModel(PRETRAINED_DETECTOR)).model],
];

for (const [name, make] of CASES) {
  Deno.test({
    name: `ONNX Runtime runs the export of ${name} as model.apply on 64×64 and 256×256 scenes`,
    ignore: SKIP,
    async fn() {
      await useBackend("wasm");
      const before = tf.memory().numTensors;
      const model = await make();
      for (const size of [64, 256] as const) {
        const images = await scenes(size);
        const d = await ortVsApply(model, images);
        images.dispose();
        assert.ok(d <= 1e-4, `${name} at ${size}×${size}: max |ORT − apply| = ${d}`);
      }
      model.dispose();
      assert.equal(tf.memory().numTensors, before);
    },
  });
}

Deno.test({
  name: "ONNX Runtime sees the dynamic input and output dims and the graph's names",
  ignore: SKIP,
  async fn() {
    if (typeof ORT === "string") throw new Error(ORT);
    await useBackend("wasm");
    const model = buildModel(ARCHITECTURES.pool, { seed: 1 });
    const session = await ortSession(ORT, encodeOnnx(await readExportWeights(model)), 1);
    assert.deepEqual(session.inputNames, [ONNX_INPUT]);
    assert.deepEqual(session.outputNames, [ONNX_OUTPUT]);
    const shape = (m: unknown) => (m as { shape: unknown }).shape;
    assert.deepEqual(shape(session.inputMetadata[0]), ["N", 1, "H", "W"]);
    assert.deepEqual(shape(session.outputMetadata[0]), ["N", 15, "rows", "cols"]);
    // one batch of 1 at a non-square size: rows and cols follow the window stride (4 for pool)
    const out = await ortRun(ORT, session, new Float32Array(1 * 48 * 100), [1, 1, 48, 100]);
    assert.deepEqual(out.dims, [1, 15, 3, 16]);
    await session.release();
    model.dispose();
  },
});

Deno.test({
  name:
    "part 1: Andrew's net exported through the layer table runs in ONNX Runtime as its convolutional form",
  ignore: SKIP,
  async fn() {
    if (typeof ORT === "string") throw new Error(ORT);
    await useBackend("wasm");
    const nets = buildAndrewNets({ seed: 2 });
    const session = await ortSession(ORT, andrewOnnx(nets), 1);
    assert.deepEqual(
      (session.outputMetadata[0] as unknown as { shape: unknown }).shape,
      ["N", 4, "rows", "cols"],
    );
    // 2 RGB pictures of 30×34: windows of 14, stride 2 → 9×11
    const [n, h, w] = [2, 30, 34];
    const nhwc = randArray(n * h * w * 3, 9);
    const want = tf.tidy(() =>
      nets.convolutional.apply(tf.tensor4d(nhwc, [n, h, w, 3])).dataSync() as Float32Array
    );
    const nchw = tf.tidy(() =>
      tf.transpose(tf.tensor4d(nhwc, [n, h, w, 3]), [0, 3, 1, 2]).dataSync() as Float32Array
    );
    const got = await ortRun(ORT, session, nchw, [n, 3, h, w]);
    assert.deepEqual(got.dims, [n, 4, 9, 11]);
    const back = tf.tidy(() =>
      tf.transpose(tf.tensor4d(got.data, [n, 4, 9, 11]), [0, 2, 3, 1]).dataSync() as Float32Array
    );
    const diff = back.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
    assert.ok(diff <= 1e-4, `max |ORT − convolutional form| = ${diff}`);
    await session.release();
    nets.dispose();
  },
});

Deno.test("the shipped model.onnx files are the export of the shipped models", async () => {
  await useBackend("cpu");
  for (
    const [url, path] of [
      [PRETRAINED_MODEL, "models/default/model.onnx"],
      [PRETRAINED_DETECTOR, "models/detector/model.onnx"],
    ] as const
  ) {
    const fresh = encodeOnnx(await readExportWeights(url));
    const shipped = await Deno.readFile(new URL(`../${path}`, import.meta.url));
    assert.ok(
      fresh.length === shipped.length && fresh.every((b, i) => b === shipped[i]),
      `${path} is stale: run deno task export --format onnx (--model detector)`,
    );
  }
});

/** Whether Debian's python3 has ONNX's own package (python3-onnx: its checker). */
const PY_ONNX = await new Deno.Command("/usr/bin/python3", {
  args: ["-c", "import onnx"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);
const NEED_PY_ONNX = Deno.env.get("CI") === "true";
if (!PY_ONNX && !NEED_PY_ONNX) {
  console.log(
    "specs/onnx_export_test.ts: ONNX checker spec skipped — /usr/bin/python3 has no onnx " +
      "(apt-get install python3-onnx)",
  );
}

Deno.test({
  name: "ONNX's own checker (full check, strict shape inference) accepts every export",
  ignore: !PY_ONNX && !NEED_PY_ONNX,
  async fn() {
    await useBackend("cpu");
    const dir = await Deno.makeTempDir();
    const files: string[] = [];
    for (const [name, arch] of [...Object.entries(ARCHITECTURES), ["padded", PADDED] as const]) {
      const model = buildModel(arch, { seed: 1 });
      files.push((await exportOnnx(model, `${dir}/${name}.onnx`)).path);
      model.dispose();
    }
    files.push(new URL("../models/default/model.onnx", import.meta.url).pathname);
    const script = [
      "import sys, onnx",
      "from onnx import checker, shape_inference",
      "for path in sys.argv[1:]:",
      "    m = onnx.load(path)",
      "    checker.check_model(m, full_check=True)",
      "    out = shape_inference.infer_shapes(m, strict_mode=True).graph.output[0]",
      "    dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]",
      "    print(path.split('/')[-1], m.ir_version, m.opset_import[0].version, dims)",
    ].join("\n");
    const out = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", script, ...files],
      stdout: "piped",
      stderr: "piped",
    }).output();
    await Deno.remove(dir, { recursive: true });
    const text = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "");
    const lines = text.trim().split("\n");
    assert.equal(lines.length, files.length);
    for (const line of lines) assert.match(line, / 7 13 \['N', 15, 'rows', 'cols'\]$/);
  },
});

Deno.test("hwioToOihw is tfjs's transpose [3, 2, 0, 1] of the kernel", async () => {
  await useBackend("cpu");
  const [k, i, o] = [3, 2, 5];
  const kernel = randArray(k * k * i * o, 4);
  const want = tf.tidy(() => tf.transpose(tf.tensor4d(kernel, [k, k, i, o]), [3, 2, 0, 1]));
  assert.deepEqual(hwioToOihw(kernel, k, i, o), await want.data());
  want.dispose();
  assert.throws(() => hwioToOihw(kernel, k, i, o + 1), /kernel has 90 values, need 3×3×2×6/);
});

Deno.test("the file: opset 13, IR 7, NCHW input with dynamic N/H/W, metadata, weights as raw float32", async () => {
  await useBackend("cpu");
  const model = buildModel(PADDED, { seed: 2 });
  const source = await readExportWeights(model);
  const m = fromBinary(ModelProtoSchema, encodeOnnx({ ...source, extra: { epoch: 3 } }));
  assert.equal(m.irVersion, BigInt(ONNX_IR_VERSION));
  assert.deepEqual(m.opsetImport.map((o) => [o.domain, o.version]), [["", BigInt(ONNX_OPSET)]]);
  assert.ok(ONNX_OPSET >= 13);
  const dims = (v: ValueInfoProto) =>
    v.type!.value.case === "tensorType"
      ? v.type!.value.value.shape!.dim.map((d) => d.value.value)
      : [];
  const graph = m.graph!;
  assert.deepEqual(dims(graph.input[0]), ["N", 1n, "H", "W"]);
  assert.deepEqual(dims(graph.output[0]), ["N", 15n, "rows", "cols"]);
  assert.deepEqual(graph.node.map((n) => n.opType), [
    "Conv",
    "Relu",
    "MaxPool",
    "Conv",
    "Relu",
    "Conv",
    "Relu",
    "Conv",
  ]);
  const conv2 = graph.node[3];
  const ints = (name: string) => conv2.attribute.find((a) => a.name === name)!.ints.map(Number);
  assert.deepEqual([ints("strides"), ints("pads"), ints("kernel_shape")], [
    [2, 2],
    [2, 2, 2, 2],
    [5, 5],
  ]);
  const meta = Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value]));
  assert.deepEqual(JSON.parse(meta["slidewin.architecture"]), PADDED);
  assert.deepEqual(JSON.parse(meta["slidewin.window"]), model.geometry);
  assert.deepEqual(JSON.parse(meta["slidewin.extra"]), { epoch: 3 });
  // the first conv's weight: OIHW, little-endian float32 of the transposed kernel
  const w0 = graph.initializer.find((t) => t.name === "conv0.weight")!;
  assert.deepEqual(w0.dims.map(Number), [8, 1, 3, 3]);
  const raw = new Float32Array(w0.rawData.slice().buffer);
  assert.deepEqual(raw, hwioToOihw(source.weights.get("conv0/kernel")!.data, 3, 1, 8));
  model.dispose();
});

Deno.test("every layer kind of every architecture has an ONNX export entry", () => {
  const kinds = new Set(Object.values(ARCHITECTURES).flatMap((a) => a.map((l) => l.kind)));
  for (const kind of kinds) {
    assert.equal(typeof LAYER_KINDS[kind as LayerKindName].exports.onnx, "function", kind);
  }
});

Deno.test("bad input: missing weights, no checkpoint, no path — one clear line each", async () => {
  await useBackend("cpu");
  const model = buildModel(ARCHITECTURES.s8, { seed: 1 });
  const source = await readExportWeights(model);
  const weights = new Map(source.weights);
  weights.delete("conv3/bias");
  assert.throws(
    () => onnxGraph({ arch: source.arch, weights }),
    /^Error: weights: "conv3\/bias" needs 128 values \[128\], got none$/,
  );
  const dir = await Deno.makeTempDir();
  await assert.rejects(exportOnnx(dir, `${dir}/m.onnx`), /Cannot read model\.json/);
  await assert.rejects(exportOnnx(model, ""), /path must be a file path/);
  // nothing half-written
  assert.deepEqual([...Deno.readDirSync(dir)], []);
  const { path, bytes } = await exportOnnx(model, `${dir}/sub/m.onnx`);
  assert.equal((await Deno.stat(path)).size, bytes);
  await Deno.remove(dir, { recursive: true });
  model.dispose();
});

/** `deno task export` as a subprocess. */
async function exportTask(args: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/export.ts", ...args],
    stdout: "piped",
    stderr: "piped",
    env: { SLIDEWIN_DEBUG: "0" },
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr).trim() };
}

Deno.test("deno task export --format onnx: next to --model DIR, or to --out; bad flags in one line", async () => {
  await useBackend("cpu");
  const dir = await Deno.makeTempDir();
  const model = buildModel(ARCHITECTURES.s8w48, { seed: 4 });
  await saveModel(model, `${dir}/run`);
  const want = encodeOnnx(await readExportWeights(model));
  model.dispose();
  const same = async (path: string) => {
    const got = await Deno.readFile(path);
    return got.length === want.length && got.every((b, i) => b === want[i]);
  };
  const next = await exportTask(["--format", "onnx", "--model", `${dir}/run`]);
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stdout, /^Wrote .*\/run\/model\.onnx \(\d+ bytes; input images \[N, 1, H, W\]/);
  assert.ok(await same(`${dir}/run/model.onnx`));
  const file = await exportTask(["--format=onnx", `--model=${dir}/run`, `--out=${dir}/a/b.onnx`]);
  assert.equal(file.code, 0, file.stderr);
  assert.ok(await same(`${dir}/a/b.onnx`));
  const folder = await exportTask(["--format=onnx", `--model=${dir}/run`, `--out=${dir}/c/`]);
  assert.equal(folder.code, 0, folder.stderr);
  assert.ok(await same(`${dir}/c/model.onnx`));
  // bad input: one line, the right exit code, nothing written
  const bad = await exportTask(["--format=tflite", `--out=${dir}/x.onnx`]);
  assert.deepEqual([bad.code, bad.stderr], [
    2,
    'error: --format must be one of layers, onnx; got "tflite"',
  ]);
  const none = await exportTask(["--format=onnx", `--model=${dir}/nothing`, `--out=${dir}/y.onnx`]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^error: No model at .*\/nothing\/model\.json; pass --model DIR/);
  assert.equal(none.stderr.split("\n").length, 1);
  for (const name of ["x.onnx", "y.onnx"]) {
    assert.equal(await Deno.stat(`${dir}/${name}`).then(() => true, () => false), false, name);
  }
  await Deno.remove(dir, { recursive: true });
});
