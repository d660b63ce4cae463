/**
 * Backend "onednn-bf16": backend "onednn" (./onednn.ts) with its convolutions in bfloat16 —
 * operands rounded to bfloat16 (8 bits of mantissa), sums float32 — where the CPU has AVX512_BF16
 * or AMX, which do twice the multiply-adds of float32 per instruction. Its tfjs kernels (the
 * forward pass and the gradient to the input) give float32 outputs; its training step runs the
 * network as one oneDNN chain (./onednn/chain.ts) whose activations and their gradients are
 * stored in bfloat16 between the layers, and whose filter gradients are float32 sums of bfloat16
 * operands. Its outputs differ from float32's by about 0.2 % of their range, which moves scores
 * and boxes a little (docs/kernels.md has what it did to accuracy and speed): the measuring
 * tasks' `auto` never picks it; `detect` and `read` prefer it where it runs
 * (`bf16Candidates` in ./backend.ts); `--backend onednn-bf16` picks it anywhere it runs.
 *
 * @module
 */
import { tf } from "../deps.ts";
import { type BackendDescriptor, trySetBackend } from "./descriptor.ts";
import { bf16MissingReason, oneDnnBf16 } from "./onednn/dnnl.ts";
import { registerOneDnnBackend } from "./onednn/register.ts";
import { registerWasmTrainingKernels } from "./wasm/training_kernels.ts";
import { onednn } from "./onednn.ts";

/** The onednn-bf16 backend. */
export const onednnBf16: BackendDescriptor<"onednn-bf16", true> = {
  name: "onednn-bf16",
  summary: "onednn with bfloat16 convolutions (AVX512_BF16 or AMX; sums in float32)",
  method: "native",
  threads: true,
  spansCores: true,
  device: "cpu",
  fast: true,
  unavailable: () => Promise.resolve(oneDnnBf16() ? undefined : bf16MissingReason),
  // it changes the numbers: not for training or measuring (inference's candidates add it)
  pickedByAuto: () => Promise.resolve(false),
  convEngine: () => oneDnnBf16(),
  singleThreaded: onednn.singleThreaded,
  cacheFacts: onednn.cacheFacts,
  notice() {
    const dnnl = oneDnnBf16();
    return dnnl
      ? `onednn-bf16: ${dnnl.name} runs the convolutions in bfloat16 (sums in float32; ` +
        "--backend onednn for float32)"
      : `onednn-bf16: not used, ${bf16MissingReason}`;
  },
  async activate() {
    registerWasmTrainingKernels();
    if (!registerOneDnnBackend("onednn-bf16")) {
      throw new Error(
        `Backend "onednn-bf16" is not available: ${bf16MissingReason}; use "onednn"`,
      );
    }
    if (!(await trySetBackend(tf, "wasm"))) {
      throw new Error('Backend "wasm" could not be initialised; try --backend=cpu');
    }
    if (!(await trySetBackend(tf, "onednn-bf16"))) {
      throw new Error(`Backend "onednn-bf16" could not be initialised; try --backend=onednn`);
    }
  },
  describe() {
    const dnnl = oneDnnBf16();
    const n = dnnl?.threads() || 1;
    return `onednn-bf16 (${dnnl?.name ?? "oneDNN bf16"}, ${n} thread${
      n === 1 ? "" : "s"
    }; other ops on wasm)`;
  },
};
