/**
 * Makes the tfjs 4.22 wasm backend able to train CNNs, and fast at it: registers the kernels that
 * are missing (`Conv2DBackpropFilter`, tfjs#8474) or slow (`Conv2DBackpropInput`, `MaxPoolGrad`,
 * `Sum` over leading axes, `PadV2`: ./pad.ts) for backend "wasm", and Adam's update as one kernel
 * (./adam_kernel.ts). See docs/kernels.md for the measurements.
 *
 * @module
 */
import "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import { tf } from "../../deps.ts";
import { conv2dBackpropFilterWasm, conv2dBackpropInputWasm } from "./conv_backprop.ts";
import { maxPoolGradWasm } from "./max_pool_grad.ts";
import { makeSumLeading } from "./sum_leading.ts";
import { makePad } from "./pad.ts";
import { ADAM_KERNEL, adamKernelFunc } from "./adam_kernel.ts";

/** The kernels {@linkcode registerWasmTrainingKernels} installs for "wasm". */
export const WASM_TRAINING_KERNELS: readonly string[] = [
  "Conv2DBackpropFilter",
  "Conv2DBackpropInput",
  "MaxPoolGrad",
  "Sum",
  "PadV2",
  ADAM_KERNEL,
];

let impls: Record<string, tf.KernelFunc> | undefined;
let setups: Record<string, tf.KernelSetupFunc | undefined> = {};

function makeImpls(): Record<string, tf.KernelFunc> {
  const sum = tf.getKernel("Sum", "wasm"), pad = tf.getKernel("PadV2", "wasm");
  if (!sum || !pad) {
    throw new Error("The wasm backend is not loaded; import src/backends/wasm.ts first");
  }
  setups = { Sum: sum.setupFunc, PadV2: pad.setupFunc };
  return {
    Conv2DBackpropFilter: conv2dBackpropFilterWasm as unknown as tf.KernelFunc,
    Conv2DBackpropInput: conv2dBackpropInputWasm as unknown as tf.KernelFunc,
    MaxPoolGrad: maxPoolGradWasm as unknown as tf.KernelFunc,
    Sum: makeSumLeading(sum.kernelFunc) as unknown as tf.KernelFunc,
    PadV2: makePad(pad.kernelFunc) as unknown as tf.KernelFunc,
    [ADAM_KERNEL]: adamKernelFunc,
  };
}

/**
 * Registers the training kernels for the wasm backend (replacing tfjs's own where they exist).
 * Idempotent; safe to call before or after the wasm backend is initialised.
 *
 * @example
 * ```ts
 * import { tf } from "../../deps.ts";
 * import "../backend.ts";
 * import "../../gradients.ts";
 * import { registerWasmTrainingKernels } from "./training_kernels.ts";
 * registerWasmTrainingKernels();
 * await tf.setBackend("wasm");
 * const w = tf.ones([3, 3, 1, 2]) as tf.Tensor4D;
 * const loss = (x: tf.Tensor) => tf.sum(tf.conv2d(x as tf.Tensor4D, w, 1, "same"));
 * const g = tf.grad(loss)(tf.ones([1, 5, 5, 1]));
 * console.log(g.shape); // [1, 5, 5, 1]
 * ```
 */
export function registerWasmTrainingKernels(): void {
  impls ??= makeImpls();
  for (const name of WASM_TRAINING_KERNELS) {
    const existing = tf.getKernel(name, "wasm");
    if (existing?.kernelFunc === impls[name]) continue;
    if (existing) tf.unregisterKernel(name, "wasm");
    tf.registerKernel({
      kernelName: name,
      backendName: "wasm",
      kernelFunc: impls[name],
      setupFunc: setups[name],
    });
  }
}
