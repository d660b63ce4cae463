/**
 * Backend "webgpu": tfjs-backend-webgpu on Deno's WebGPU, imported only when asked for. `auto`
 * picks it only on a real GPU adapter: software rasterisers (Mesa llvmpipe, SwiftShader, WARP)
 * train slower than wasm.
 *
 * @module
 */
import { tf } from "../deps.ts";
import { type BackendDescriptor, NO_HOLD, trySetBackend } from "./descriptor.ts";

/** What is known about the GPU adapter, once webgpu was probed. */
let adapterLabel: string | undefined;

/**
 * True for adapters that are really CPU rasterisers (Mesa llvmpipe, SwiftShader, WARP): slower
 * for training than wasm.
 *
 * @example
 * ```ts
 * import { isSoftwareAdapter } from "./webgpu.ts";
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

/**
 * The adapter found by the last {@linkcode requestAdapter}, described ("NVIDIA H100", "llvmpipe
 * (LLVM 15.0.6, 256 bits), software"), or undefined before one was found.
 */
export function adapterDescription(): string | undefined {
  return adapterLabel;
}

/** The first WebGPU adapter (high-performance preference), or null; remembers its label. */
export async function requestAdapter(): Promise<GPUAdapter | null> {
  if (typeof navigator === "undefined" || !navigator.gpu) return null;
  try {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
    if (adapter) adapterLabel = describeAdapter(adapter);
    return adapter;
  } catch {
    return null;
  }
}

let loaded: Promise<void> | undefined;

/**
 * Imports tfjs-backend-webgpu (its kernels) and registers a webgpu backend factory that works
 * under Deno: a fresh adapter per device (an adapter gives one device, tfjs#8518), and
 * `requiredFeatures` as a flat list of names (tfjs 4.22 pushes `["bgra8unorm-storage"]`, an
 * array, into it).
 */
function load(): Promise<void> {
  loaded ??= (async () => {
    const mod = await import("npm:@tensorflow/tfjs-backend-webgpu@4.22.0");
    if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
    tf.registerBackend("webgpu", async () => {
      const adapter = await requestAdapter();
      if (!adapter) throw new Error("No WebGPU adapter; use --backend=wasm");
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
  return loaded;
}

/** The webgpu backend. */
export const webgpu: BackendDescriptor<"webgpu", false> = {
  name: "webgpu",
  summary: "WebGPU (tfjs-backend-webgpu); auto picks it on a real GPU only",
  method: "tape",
  threads: false,
  device: "gpu",
  fast: true,
  async unavailable() {
    return (await requestAdapter()) ? undefined : "no WebGPU adapter";
  },
  async pickedByAuto() {
    const adapter = await requestAdapter();
    return adapter !== null && !isSoftwareAdapter(adapter);
  },
  async activate() {
    await load();
    if (!(await trySetBackend(tf, "webgpu"))) {
      throw new Error(`Backend "webgpu" could not be initialised; try --backend=wasm or cpu`);
    }
  },
  describe: () => `webgpu (${adapterLabel ?? "unknown adapter"})`,
  singleThreaded: NO_HOLD,
  cacheFacts: () => ({ adapter: adapterLabel ?? "none" }),
};
