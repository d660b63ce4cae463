/**
 * Backend "native": the wasm backend's engine and heap with the convolutions (forward and both
 * gradients) done by OpenBLAS through Deno FFI (./native/), and training steps run by the array
 * network of ../model/array_net.ts on OpenBLAS's `im2col` + `sgemm` (./native/im2col_engine.ts).
 * It exists where OpenBLAS loads (`--allow-ffi`);
 * `SLIDEWIN_BLAS=off` turns it off, `SLIDEWIN_BLAS=/path/libopenblas.so` picks a library.
 *
 * @module
 */
import { tf } from "../deps.ts";
import { type BackendDescriptor, NO_HOLD, trySetBackend } from "./descriptor.ts";
import { Im2colEngine } from "./native/im2col_engine.ts";
import { registerNativeBackend } from "./native/register.ts";
import { blasMissingReason, openBlas } from "./native/openblas.ts";
import { envGet } from "./permissions.ts";
import { registerWasmTrainingKernels } from "./wasm/training_kernels.ts";

/**
 * Whether the "native" backend (wasm + OpenBLAS convolutions through FFI) can run here: OpenBLAS
 * was found and `--allow-ffi` is granted.
 *
 * @example
 * ```ts
 * import { nativeAvailable } from "./native.ts";
 * console.log(typeof nativeAvailable()); // "boolean"
 * ```
 */
export function nativeAvailable(): boolean {
  return openBlas() !== null;
}

/** "OpenBLAS 0.3.21": the first two words of `openblas_get_config()`. */
function blasVersion(): string {
  return openBlas()?.config.split(/\s+/).slice(0, 2).join(" ") ?? "OpenBLAS";
}

/**
 * One line saying whether the native CPU path is used, and why not when it is not.
 *
 * @example
 * ```ts
 * import { nativeNotice } from "./native.ts";
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

/** The native backend. */
export const native: BackendDescriptor<"native", true> = {
  name: "native",
  summary: "OpenBLAS convolutions through FFI and a hand-written training step (libopenblas)",
  method: "native",
  threads: true,
  device: "cpu",
  fast: true,
  unavailable: () => Promise.resolve(openBlas() ? undefined : blasMissingReason),
  convEngine() {
    const blas = openBlas();
    return blas ? new Im2colEngine(blas.sgemm) : null;
  },
  // OpenBLAS's thread count is process-wide: one holder covers this thread and the Workers
  singleThreaded: () => openBlas()?.singleThreaded() ?? NO_HOLD(),
  cacheFacts() {
    const blas = openBlas();
    return {
      library: blas ? `${blas.config} | core ${blas.core} | ${blas.path}` : "none",
      OPENBLAS_CORETYPE: envGet("OPENBLAS_CORETYPE") ?? "",
      OPENBLAS_NUM_THREADS: envGet("OPENBLAS_NUM_THREADS") ?? "",
    };
  },
  notice: nativeNotice,
  pickedByAuto: () => Promise.resolve(nativeAvailable()),
  async activate() {
    registerWasmTrainingKernels();
    if (!registerNativeBackend()) {
      throw new Error(
        `Backend "native" needs OpenBLAS: ${blasMissingReason}; use "wasm" (--backend=wasm)`,
      );
    }
    if (!(await trySetBackend(tf, "wasm"))) {
      throw new Error('Backend "wasm" could not be initialised; try --backend=cpu');
    }
    if (!(await trySetBackend(tf, "native"))) {
      throw new Error(`Backend "native" could not be initialised; try --backend=wasm or cpu`);
    }
  },
  describe() {
    const n = openBlas()?.threads() ?? 1;
    return `native (${blasVersion()}, ${n} thread${n === 1 ? "" : "s"}; other ops on wasm)`;
  },
};
