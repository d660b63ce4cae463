import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import {
  autoCandidates,
  type BackendName,
  backendNamed,
  bf16Auto,
  bf16Candidates,
  decideAuto,
  describeBackend,
  isSoftwareAdapter,
  nativeAvailable,
  resolveAuto,
  useBackend,
} from "../src/backends/backend.ts";

Deno.test("useBackend selects cpu and wasm and describes them", async () => {
  assert.equal((await useBackend("cpu")).name, "cpu");
  assert.match(describeBackend(), /^cpu/);
  assert.equal(await useBackend("wasm"), backendNamed("wasm"), "the descriptor travels");
  assert.match(describeBackend(), /^wasm \(XNNPACK (SIMD|no SIMD), \d+ threads?\)$/);
});

Deno.test("useBackend rejects unknown names with a one-line error naming the choices", async () => {
  await assert.rejects(
    () => useBackend("gpu" as BackendName),
    (e: Error) =>
      /Unknown backend "gpu"; use one of auto, webgpu, onednn, onednn-bf16, native, wasm, cpu/.test(
        e.message,
      ),
  );
});

Deno.test("auto picks webgpu on a hardware GPU, else onednn, else native, else wasm", async () => {
  const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
  const onednn = await backendNamed("onednn").unavailable() === undefined;
  const want = adapter && !isSoftwareAdapter(adapter)
    ? "webgpu"
    : onednn
    ? "onednn"
    : nativeAvailable()
    ? "native"
    : "wasm";
  assert.equal(await resolveAuto(), want);
  if (want !== "webgpu") assert.equal((await useBackend("auto")).name, want);
});

Deno.test("isSoftwareAdapter recognises llvmpipe and fallback adapters", () => {
  const fake = (info: Record<string, unknown>) => ({ info }) as unknown as GPUAdapter;
  assert.ok(isSoftwareAdapter(fake({ description: "llvmpipe (LLVM 15.0.6, 256 bits)" })));
  assert.ok(isSoftwareAdapter(fake({ isFallbackAdapter: true, description: "x" })));
  assert.ok(!isSoftwareAdapter(fake({ vendor: "nvidia", description: "NVIDIA H100" })));
});

Deno.test("wasm trains a conv net after useBackend (training kernels registered)", async () => {
  await import("../src/gradients.ts");
  await useBackend("wasm");
  const g = tf.tidy(() => {
    const w = tf.ones([3, 3, 1, 2]) as tf.Tensor4D;
    const f = (x: tf.Tensor) =>
      tf.sum(tf.maxPool(tf.conv2d(x as tf.Tensor4D, w, 1, "same"), 2, 2, "valid"));
    return tf.grad(f)(tf.ones([1, 6, 6, 1]));
  });
  assert.deepEqual(g.shape, [1, 6, 6, 1]);
  g.dispose();
});

Deno.test("the backend table: every descriptor activates or says why not, and describes itself", async () => {
  const { BACKENDS, currentBackend } = await import("../src/backends/backend.ts");
  assert.deepEqual(BACKENDS.map((b) => b.name), [
    "webgpu",
    "onednn",
    "onednn-bf16",
    "native",
    "wasm",
    "cpu",
  ]);
  for (const b of BACKENDS) {
    const why = await b.unavailable();
    if (why !== undefined) {
      assert.equal(typeof why, "string");
      assert.ok(why.length > 0 && !why.includes("\n"), `${b.name}: one line, got ${why}`);
      await assert.rejects(() => b.activate(), `${b.name} is unavailable but activated`);
      continue;
    }
    if (b.device === "gpu" && !(await b.pickedByAuto())) continue; // software GPU: webgpu_test.ts
    await useBackend(b.name);
    assert.equal(tf.getBackend(), b.name);
    assert.equal(currentBackend(), b);
    assert.ok(describeBackend().startsWith(`${b.name} (`), describeBackend());
    // a tiny forward pass and gradient run on it
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)))(tf.ones([3])));
    assert.deepEqual([...await g.data()], [2, 2, 2]);
    g.dispose();
  }
  // auto is the first descriptor that says it may be picked
  let first = "wasm";
  for (const b of BACKENDS) {
    if (await b.pickedByAuto()) {
      first = b.name;
      break;
    }
  }
  assert.equal(await resolveAuto(), first);
});

Deno.test("a library user who never calls useBackend gets the default backend, not tfjs's error", async () => {
  const script = `
import * as sw from "${new URL("../mod.ts", import.meta.url)}";
const { model } = await sw.loadModel();
const mnist = await sw.loadMnist({ dir: "${
    new URL("../fixtures/mnist", import.meta.url).pathname
  }" });
const scenes = await sw.makeScenes(mnist.test, { count: 2, seed: 1 });
const p = await sw.predict(model, scenes.images);
console.log(JSON.stringify({ backend: sw.currentBackend().name, n: p.labels.length }));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", script],
    env: { SLIDEWIN_BLAS: "off", SLIDEWIN_DNNL: "off" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const last = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!;
  // auto without OpenBLAS and without a hardware GPU is wasm
  const { backend, n } = JSON.parse(last);
  assert.equal(n, 2);
  const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
  if (!adapter || isSoftwareAdapter(adapter)) assert.equal(backend, "wasm");
  assert.doesNotMatch(stderr, /has not yet been initialized/);
});

Deno.test("inference's and training's auto put onednn-bf16 just before onednn where the CPU has bfloat16; the measuring tasks' never", async () => {
  const plain = (await autoCandidates()).map((b) => b.name);
  assert.ok(!plain.includes("onednn-bf16"), "auto for the measuring tasks stays float32");
  const inference = (await bf16Candidates()).map((b) => b.name);
  const bf16 = (await backendNamed("onednn-bf16").unavailable()) === undefined;
  if (bf16 && plain.includes("onednn")) {
    const at = plain.indexOf("onednn");
    assert.deepEqual(inference, [...plain.slice(0, at), "onednn-bf16", ...plain.slice(at)]);
    assert.match((await bf16Auto()).orderNote ?? "", /^inference: bfloat16/);
    assert.match((await bf16Auto("training")).orderNote ?? "", /^training: bfloat16/);
    assert.equal((await decideAuto(await bf16Auto())).backend, inference[0]);
  } else assert.deepEqual(inference, plain);
});
