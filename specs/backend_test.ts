import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import {
  type BackendName,
  describeBackend,
  isSoftwareAdapter,
  nativeAvailable,
  resolveAuto,
  useBackend,
} from "../src/backends/backend.ts";

Deno.test("useBackend selects cpu and wasm and describes them", async () => {
  assert.equal(await useBackend("cpu"), "cpu");
  assert.match(describeBackend(), /^cpu/);
  assert.equal(await useBackend("wasm"), "wasm");
  assert.match(describeBackend(), /^wasm \(XNNPACK (SIMD|no SIMD), \d+ threads?\)$/);
});

Deno.test("useBackend rejects unknown names with a one-line error naming the choices", async () => {
  await assert.rejects(
    () => useBackend("gpu" as BackendName),
    (e: Error) =>
      /Unknown backend "gpu"; use one of auto, webgpu, native, wasm, cpu/.test(e.message),
  );
});

Deno.test("auto picks webgpu on a hardware GPU, else native when OpenBLAS is found, else wasm", async () => {
  const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
  const want = adapter && !isSoftwareAdapter(adapter)
    ? "webgpu"
    : nativeAvailable()
    ? "native"
    : "wasm";
  assert.equal(await resolveAuto(), want);
  if (want !== "webgpu") assert.equal(await useBackend("auto"), want);
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
