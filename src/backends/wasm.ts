/**
 * Backend "wasm": tfjs's WebAssembly backend (XNNPACK, SIMD) plus the training kernels of
 * ./wasm/training_kernels.ts, registered once when it is activated (tfjs 4.22's wasm cannot train
 * a CNN on its own). XNNPACK runs single-threaded under Deno: the threaded wasm build needs
 * `SharedArrayBuffer` + Emscripten pthread Workers loaded from blob URLs, which tfjs does not
 * enable outside browsers (docs/kernels.md); ../training/pool.ts uses the other cores instead.
 *
 * @module
 */
import { getThreadsCount } from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import { tf } from "../deps.ts";
import { type BackendDescriptor, NO_HOLD, trySetBackend } from "./descriptor.ts";
import { registerWasmTrainingKernels } from "./wasm/training_kernels.ts";

/** The wasm backend. */
export const wasm: BackendDescriptor<"wasm", true> = {
  name: "wasm",
  summary: "WebAssembly (XNNPACK SIMD) with slidewin's training kernels; needs nothing installed",
  method: "tape",
  threads: true,
  device: "cpu",
  fast: true,
  unavailable: () => Promise.resolve(undefined),
  pickedByAuto: () => Promise.resolve(true),
  async activate() {
    registerWasmTrainingKernels();
    if (!(await trySetBackend(tf, "wasm"))) {
      throw new Error(`Backend "wasm" could not be initialised; try --backend=wasm or cpu`);
    }
  },
  describe() {
    const simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT") ? "SIMD" : "no SIMD";
    const n = getThreadsCount();
    return `wasm (XNNPACK ${simd}, ${n} thread${n === 1 ? "" : "s"})`;
  },
  // XNNPACK runs on one thread under Deno (see above)
  singleThreaded: NO_HOLD,
  cacheFacts: () => ({}),
};
