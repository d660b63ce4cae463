/**
 * The "native" tfjs backend: the wasm backend's engine and heap, with the convolutions (forward
 * and both gradients) done by OpenBLAS through Deno FFI (./conv.ts). Everything else — element-wise
 * ops, pooling, the loss, Adam — runs on wasm's kernels, on the same tensors, so tensors move
 * freely between "wasm" and "native".
 *
 * It exists only where {@linkcode openBlas} finds the library; `useBackend("auto")` (../backend.ts)
 * picks it then.
 *
 * @module
 */
import type { tf } from "../../deps.ts";
import { nativeConvKernels } from "./conv.ts";
import { openBlas } from "./openblas.ts";
import { registerWasmSibling } from "../wasm/sibling.ts";

/** The native convolution kernels, made once. */
let own: Record<string, tf.KernelFunc> | undefined;

/**
 * Registers backend "native" when OpenBLAS can be loaded, and brings its kernels up to date with
 * those registered for "wasm" (the convolutions stay native); returns whether it is there.
 * Call it after the wasm backend and its training kernels are registered (../backend.ts does).
 * Its factory shares the instance of "wasm", which must be initialised first
 * (`await tf.setBackend("wasm")`).
 *
 * @example
 * ```ts
 * import "../backend.ts";
 * import { registerNativeBackend } from "./register.ts";
 * console.log(typeof registerNativeBackend()); // "boolean"
 * ```
 */
export function registerNativeBackend(): boolean {
  const blas = openBlas();
  if (!blas) return false;
  own ??= nativeConvKernels(blas);
  registerWasmSibling("native", own);
  return true;
}
