/**
 * Backend selection. Importing this module registers the cpu and wasm backends of tfjs 4.22.0
 * with the one engine in ./deps.ts; webgpu is imported lazily, only when asked for.
 *
 * The wasm backend gets the training kernels of ./kernels/wasm_training.ts (tfjs 4.22's wasm
 * cannot train a CNN on its own). XNNPACK runs single-threaded under Deno: the threaded wasm
 * build needs `SharedArrayBuffer` + Emscripten pthread Workers loaded from blob URLs, which tfjs
 * does not enable outside browsers (see docs/kernels.md).
 *
 * @module
 */
import { tf } from "./deps.ts";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import { getThreadsCount } from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import { registerWasmTrainingKernels } from "./kernels/wasm_training.ts";
import { registerNativeBackend } from "./native/backend.ts";
import { blasMissingReason, openBlas } from "./native/openblas.ts";

registerWasmTrainingKernels();

/** A backend name accepted by {@linkcode useBackend}. */
export type BackendName = "auto" | "webgpu" | "native" | "wasm" | "cpu";

const NAMES: readonly BackendName[] = ["auto", "webgpu", "native", "wasm", "cpu"];

/**
 * Whether the "native" backend (wasm + OpenBLAS convolutions through FFI, src/native/) can run
 * here: OpenBLAS was found and `--allow-ffi` is granted.
 *
 * @example
 * ```ts
 * import { nativeAvailable } from "./backend.ts";
 * console.log(typeof nativeAvailable()); // "boolean"
 * ```
 */
export function nativeAvailable(): boolean {
  return openBlas() !== null;
}

/**
 * One line saying whether the native CPU path is used, and why not when it is not.
 *
 * @example
 * ```ts
 * import { nativeNotice } from "./backend.ts";
 * console.log(nativeNotice());
 * // e.g. "native: OpenBLAS 0.3.21 (Cooperlake, chosen by OpenBLAS; CPU has AVX-512 BF16) from
 * // libopenblas.so.0 runs the convolutions"
 * ```
 */
export function nativeNotice(): string {
  const blas = openBlas();
  if (!blas) return `native: not used, ${blasMissingReason} (convolutions run on wasm)`;
  const words = blas.config.split(/\s+/);
  const core = blas.core || words.find((w) => /^[A-Z][a-z]/.test(w) && w !== "OpenBLAS");
  const about = [core, blas.coreNote].filter(Boolean).join(", ");
  return `native: ${blasVersion()}${
    about ? ` (${about})` : ""
  } from ${blas.path} runs the convolutions`;
}

/** "OpenBLAS 0.3.21": the first two words of `openblas_get_config()`. */
function blasVersion(): string {
  return openBlas()?.config.split(/\s+/).slice(0, 2).join(" ") ?? "OpenBLAS";
}

/** What is known about the GPU adapter, when webgpu was probed. */
let adapterLabel: string | undefined;

/**
 * True for adapters that are really CPU rasterisers (Mesa llvmpipe, SwiftShader, WARP): slower
 * for training than wasm.
 *
 * @example
 * ```ts
 * import { isSoftwareAdapter } from "./backend.ts";
 * const adapter = await navigator.gpu?.requestAdapter();
 * console.log(adapter ? isSoftwareAdapter(adapter) : "no adapter");
 * ```
 */
export function isSoftwareAdapter(adapter: GPUAdapter): boolean {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const flagged = info?.isFallbackAdapter === true ||
    (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const text = `${info?.vendor ?? ""} ${info?.device ?? ""} ${info?.description ?? ""}`;
  return flagged || /llvmpipe|lavapipe|swiftshader|software|warp/i.test(text);
}

function describeAdapter(adapter: GPUAdapter): string {
  const info = adapter.info;
  const name = info?.description || `${info?.vendor ?? "?"} ${info?.device ?? "?"}`;
  return `${name}${isSoftwareAdapter(adapter) ? ", software" : ""}`;
}

async function requestAdapter(): Promise<GPUAdapter | null> {
  if (typeof navigator === "undefined" || !navigator.gpu) return null;
  try {
    return await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch {
    return null;
  }
}

let webgpuLoaded: Promise<void> | undefined;

/**
 * Imports tfjs-backend-webgpu (its kernels) and registers a webgpu backend factory that works
 * under Deno: a fresh adapter per device (an adapter gives one device), and `requiredFeatures` as
 * a flat list of names (tfjs 4.22 pushes `["bgra8unorm-storage"]`, an array, into it).
 */
function loadWebgpu(): Promise<void> {
  webgpuLoaded ??= (async () => {
    const mod = await import("npm:@tensorflow/tfjs-backend-webgpu@4.22.0");
    if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
    tf.registerBackend("webgpu", async () => {
      const adapter = await requestAdapter();
      if (!adapter) throw new Error("No WebGPU adapter; use --backend=wasm");
      adapterLabel = describeAdapter(adapter);
      const requiredFeatures: GPUFeatureName[] = [];
      if (adapter.features.has("timestamp-query")) requiredFeatures.push("timestamp-query");
      const l = adapter.limits;
      const device = await adapter.requestDevice({
        requiredFeatures,
        requiredLimits: {
          maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
          maxBufferSize: l.maxBufferSize,
          maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        },
      });
      // deno-lint-ignore no-explicit-any
      return new mod.WebGPUBackend(device, adapter.info as any);
    }, 1);
  })();
  return webgpuLoaded;
}

/**
 * Picks the backend "auto" means here: webgpu when the first adapter is a real GPU, else native
 * when OpenBLAS is found, else wasm.
 *
 * @example
 * ```ts
 * import { resolveAuto } from "./backend.ts";
 * console.log(await resolveAuto()); // "native" or "wasm" on a machine without a hardware GPU
 * ```
 */
export async function resolveAuto(): Promise<"webgpu" | "native" | "wasm"> {
  const adapter = await requestAdapter();
  if (adapter) adapterLabel = describeAdapter(adapter);
  if (adapter && !isSoftwareAdapter(adapter)) return "webgpu";
  return nativeAvailable() ? "native" : "wasm";
}

/**
 * Selects a tfjs backend and waits until it is ready; returns the name of the one in use.
 * "auto" is webgpu on a hardware GPU, else native (wasm with OpenBLAS convolutions) when
 * OpenBLAS is found, else wasm (with the training kernels of ./kernels/wasm_training.ts).
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * console.log(await useBackend("cpu")); // "cpu"
 * ```
 */
export async function useBackend(name: BackendName = "auto"): Promise<string> {
  if (!NAMES.includes(name)) {
    throw new Error(`Unknown backend "${name}"; use one of ${NAMES.join(", ")}`);
  }
  registerWasmTrainingKernels();
  const target = name === "auto" ? await resolveAuto() : name;
  if (target === "webgpu") await loadWebgpu();
  if (target === "native") {
    if (!registerNativeBackend()) {
      throw new Error(
        `Backend "native" needs OpenBLAS: ${blasMissingReason}; use "wasm" (--backend=wasm)`,
      );
    }
    if (!(await tf.setBackend("wasm"))) {
      throw new Error('Backend "wasm" could not be initialised; try --backend=cpu');
    }
  }
  let ok = false;
  try {
    ok = await tf.setBackend(target);
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new Error(`Backend "${target}" could not be initialised; try --backend=wasm or cpu`);
  }
  await tf.ready();
  return tf.getBackend();
}

/**
 * One line about the backend in use: name, adapter (webgpu) or threads (wasm).
 *
 * @example
 * ```ts
 * import { describeBackend, useBackend } from "./backend.ts";
 * await useBackend("wasm");
 * console.log(describeBackend()); // "wasm (XNNPACK SIMD, 1 thread)"
 * ```
 */
export function describeBackend(): string {
  const name = tf.getBackend();
  if (name === "wasm") {
    const simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT") ? "SIMD" : "no SIMD";
    const n = getThreadsCount();
    return `wasm (XNNPACK ${simd}, ${n} thread${n === 1 ? "" : "s"})`;
  }
  if (name === "native") {
    const blas = openBlas();
    const n = blas?.threads() ?? 1;
    return `native (${blasVersion()}, ${n} thread${n === 1 ? "" : "s"}; other ops on wasm)`;
  }
  if (name === "webgpu") return `webgpu (${adapterLabel ?? "unknown adapter"})`;
  if (name === "cpu") return "cpu (plain JavaScript)";
  return name ?? "none";
}
