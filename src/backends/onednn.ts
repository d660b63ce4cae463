/**
 * Backend "onednn": the wasm backend's engine and heap with the convolutions (forward with bias
 * and ReLU, and both gradients) run by oneDNN — the library PyTorch's CPU convolutions run on —
 * through Deno FFI (./onednn/), and training steps run by the array network of
 * ../model/array_net.ts with oneDNN doing every convolution. It exists where libdnnl loads
 * (`--allow-ffi`; Debian/Ubuntu `libdnnl2`); `SLIDEWIN_DNNL=off` turns it off,
 * `SLIDEWIN_DNNL=/path/libdnnl.so.2` picks a library.
 *
 * `auto` may pick it where it loads: the tasks' measuring probe (./auto.ts) races it against
 * native and wasm, and by the table's order alone (library callers, inference tasks) it comes
 * before native: on the AMD EPYC measured, its training step ran 2.3× native's per thread and its
 * `model.apply` about 4× (docs/kernels.md).
 *
 * @module
 */
import { tf } from "../deps.ts";
import { type BackendDescriptor, NO_HOLD, trySetBackend } from "./descriptor.ts";
import { envGet } from "./permissions.ts";
import { dnnlMissingReason, oneDnn } from "./onednn/dnnl.ts";
import { registerOneDnnBackend } from "./onednn/register.ts";
import { registerWasmTrainingKernels } from "./wasm/training_kernels.ts";

/** The onednn backend. */
export const onednn: BackendDescriptor<"onednn", true> = {
  name: "onednn",
  summary: "oneDNN convolutions through FFI and the hand-written training step (libdnnl2)",
  method: "native",
  threads: true,
  spansCores: true,
  device: "cpu",
  fast: true,
  unavailable: () => Promise.resolve(oneDnn() ? undefined : dnnlMissingReason),
  pickedByAuto: () => Promise.resolve(oneDnn() !== null),
  convEngine: () => oneDnn(),
  // OpenMP's thread count is per calling thread: each Worker holds its own
  singleThreaded: () => oneDnn()?.singleThreaded() ?? NO_HOLD(),
  cacheFacts() {
    const dnnl = oneDnn();
    return {
      library: dnnl ? `${dnnl.version} | ${dnnl.path}` : "none",
      openmp: dnnl?.openmp() || "none",
      OMP_NUM_THREADS: envGet("OMP_NUM_THREADS") ?? "",
      OMP_WAIT_POLICY: envGet("OMP_WAIT_POLICY") ?? "",
      GOMP_SPINCOUNT: envGet("GOMP_SPINCOUNT") ?? "",
    };
  },
  notice() {
    const dnnl = oneDnn();
    if (!dnnl) return `onednn: not used, ${dnnlMissingReason}`;
    const n = dnnl.threads() || 1;
    return `onednn: ${dnnl.version} from ${dnnl.path} runs the convolutions (${
      dnnl.openmp() || "no OpenMP"
    }, ${n} thread${n === 1 ? "" : "s"} per caller)`;
  },
  async activate() {
    registerWasmTrainingKernels();
    if (!registerOneDnnBackend()) {
      throw new Error(
        `Backend "onednn" needs oneDNN: ${dnnlMissingReason}; use "native" or "wasm"`,
      );
    }
    if (!(await trySetBackend(tf, "wasm"))) {
      throw new Error('Backend "wasm" could not be initialised; try --backend=cpu');
    }
    if (!(await trySetBackend(tf, "onednn"))) {
      throw new Error(`Backend "onednn" could not be initialised; try --backend=wasm or cpu`);
    }
  },
  describe() {
    const dnnl = oneDnn();
    const n = dnnl?.threads() || 1;
    return `onednn (${dnnl?.version ?? "oneDNN"}, ${n} thread${
      n === 1 ? "" : "s"
    }; other ops on wasm)`;
  },
};
