/**
 * Low-level access to the tfjs wasm backend from custom kernels: float views onto the wasm heap,
 * output allocation, and calls into the backend's own (XNNPACK) kernels with plain `TensorInfo`s.
 *
 * Views are taken *after* every allocation of a kernel, because an allocation may grow the wasm
 * memory and detach earlier views.
 *
 * @module
 */
import { tf } from "../../deps.ts";

/** A tensor as kernels see it: a data id, a shape and a dtype. */
export type Info = tf.TensorInfo;

/** The parts of tfjs-backend-wasm's `BackendWasm` that custom kernels use. */
export interface WasmBackend {
  /** Emscripten module: its heap. */
  wasm: { HEAPU8: Uint8Array };
  /** dataId → where the tensor lives on the heap. */
  dataIdMap: { get(dataId: unknown): { memoryOffset: number } };
  /** Allocates an output tensor on the heap (uninitialised unless values are given). */
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  /** Releases a tensor made by `makeOutput` or a kernel (refcount 1). */
  disposeData(dataId: unknown): boolean;
}

/**
 * A float32 view of a tensor's memory on the wasm heap (valid until the next allocation).
 *
 * @example
 * ```ts
 * import { tf } from "../../deps.ts";
 * import "../backend.ts";
 * import { heapF32, type WasmBackend } from "./wasm_heap.ts";
 * await tf.setBackend("wasm");
 * const t = tf.tensor1d([1, 2, 3]);
 * console.log(heapF32(tf.backend() as unknown as WasmBackend, t)[1]); // 2
 * ```
 */
export function heapF32(backend: WasmBackend, info: Info): Float32Array {
  const { memoryOffset } = backend.dataIdMap.get(info.dataId);
  const size = info.shape.reduce((a, b) => a * b, 1);
  return new Float32Array(backend.wasm.HEAPU8.buffer, memoryOffset, size);
}

/**
 * Runs a kernel registered for the wasm backend (e.g. XNNPACK's `Conv2D`) on `TensorInfo`s, without
 * going through the engine. The caller owns (and must dispose) the returned tensor.
 *
 * @example
 * ```ts
 * import { tf } from "../../deps.ts";
 * import "../backend.ts";
 * import { runWasmKernel, type WasmBackend } from "./wasm_heap.ts";
 * await tf.setBackend("wasm");
 * const b = tf.backend() as unknown as WasmBackend;
 * const x = tf.tensor2d([[1, 2], [3, 4]]);
 * const t = runWasmKernel(b, "Transpose", { inputs: { x }, attrs: { perm: [1, 0] } });
 * console.log(t.shape); // [2, 2]
 * b.disposeData(t.dataId);
 * ```
 */
export function runWasmKernel(
  backend: WasmBackend,
  name: string,
  args: { inputs: Record<string, Info>; attrs?: Record<string, unknown> },
): Info {
  const kernel = tf.getKernel(name, "wasm");
  if (!kernel) {
    throw new Error(`Kernel "${name}" is not registered for wasm; import src/backends/wasm.ts`);
  }
  return kernel.kernelFunc({
    inputs: args.inputs,
    attrs: (args.attrs ?? {}) as tf.NamedAttrMap,
    backend: backend as unknown as tf.KernelBackend,
  }) as Info;
}

/**
 * Disposes intermediate tensors made inside a kernel (by `makeOutput` or {@linkcode runWasmKernel}).
 *
 * @example
 * ```ts
 * import { tf } from "../../deps.ts";
 * import "../backend.ts";
 * import { disposeInfos, type WasmBackend } from "./wasm_heap.ts";
 * await tf.setBackend("wasm");
 * const b = tf.backend() as unknown as WasmBackend;
 * disposeInfos(b, [b.makeOutput([4], "float32")]);
 * ```
 */
export function disposeInfos(backend: WasmBackend, infos: Info[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/**
 * Product of a shape's dimensions (the number of elements).
 *
 * @example
 * ```ts
 * import { sizeOf } from "./wasm_heap.ts";
 * console.log(sizeOf([2, 3, 4])); // 24
 * ```
 */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
