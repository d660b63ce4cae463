/**
 * The "onednn" tfjs backend: the wasm backend's engine and heap (like "native", ../native/
 * register.ts) with `Conv2D`, `FusedConv2D` (bias, ReLU), `Conv2DBackpropFilter` and
 * `Conv2DBackpropInput` run by oneDNN's primitives (./dnnl.ts) straight on the heap. Every other
 * kernel is wasm's, so tensors move freely between "wasm" and "onednn". What oneDNN does not take
 * (dtypes other than float32, other activations, dilation, geometries it refuses) runs on wasm's
 * kernels; gradients read their operands as tfjs-cpu does (../wasm/conv_edges.ts).
 *
 * @module
 */
import { tf } from "../../deps.ts";
import { fitBackpropFilter, fitBackpropInput, zerosOutput } from "../wasm/conv_edges.ts";
import {
  disposeInfos,
  heapF32,
  type Info,
  runWasmKernel,
  sizeOf,
  type WasmBackend,
} from "../wasm/wasm_heap.ts";
import type { ConvGeometry } from "../native/im2col.ts";
import { type OneDnn, oneDnn, oneDnnBf16 } from "./dnnl.ts";
import { registerWasmSibling } from "../wasm/sibling.ts";

type Shape4 = [number, number, number, number];
type Attrs = Record<string, unknown> & {
  strides: [number, number] | number;
  pad: "valid" | "same" | number | number[][];
  dataFormat?: "NHWC" | "NCHW";
  dilations?: [number, number] | number;
  dimRoundingMode?: "floor" | "round" | "ceil";
  activation?: string;
};
type Args<I> = { inputs: I; backend: WasmBackend; attrs: Attrs };

function onWasm(name: string, args: Args<object>): Info {
  return runWasmKernel(args.backend, name, {
    inputs: args.inputs as Record<string, Info>,
    attrs: args.attrs,
  });
}

function checkLayout(kernel: string, attrs: Attrs): void {
  if (attrs.dataFormat === "NCHW") {
    throw new Error(
      `${kernel} with dataFormat "NCHW" is not supported on backends "onednn" and "wasm"; ` +
        "transpose to NHWC first, or use --backend=cpu",
    );
  }
}

/**
 * The oneDNN convolution kernels, bound to one library, for registering under "onednn".
 *
 * @example
 * ```ts
 * import { oneDnn } from "./dnnl.ts";
 * import { oneDnnConvKernels } from "./register.ts";
 * const dnnl = oneDnn();
 * if (dnnl) console.log(Object.keys(oneDnnConvKernels(dnnl)).length); // 4
 * ```
 */
export function oneDnnConvKernels(dnnl: OneDnn): Record<string, tf.KernelFunc> {
  const usable = (g: ConvGeometry & { outChannels: number }) =>
    g.dilationHeight === 1 && g.dilationWidth === 1 && g.outHeight > 0 && g.outWidth > 0 &&
    g.batchSize > 0 && dnnl.supports(g);

  const forward = (
    name: "Conv2D" | "FusedConv2D",
    args: Args<{ x: Info; filter: Info; bias?: Info; preluActivationWeights?: Info }>,
  ): Info => {
    const { inputs: { x, filter, bias, preluActivationWeights }, backend, attrs } = args;
    checkLayout(name, attrs);
    const act = attrs.activation ?? "linear";
    const co = filter.shape[3];
    const biasOk = !bias || (bias.dtype === "float32" && sizeOf(bias.shape) === co);
    if (
      x.dtype !== "float32" || filter.dtype !== "float32" || !biasOk || preluActivationWeights ||
      (act !== "linear" && act !== "relu")
    ) {
      return onWasm(name, args);
    }
    const g = tf.backend_util.computeConv2DInfo(
      x.shape as Shape4,
      filter.shape as Shape4,
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad as "valid",
      attrs.dimRoundingMode,
    );
    if (!usable(g)) return onWasm(name, args);
    const out = backend.makeOutput(g.outShape, "float32");
    dnnl.forward(g, {
      x: heapF32(backend, x),
      w: heapF32(backend, filter),
      b: bias ? heapF32(backend, bias) : undefined,
      y: heapF32(backend, out),
      relu: act === "relu",
      // a tensor's values never change: its filter is reordered once (model.apply, detect)
      filterKey: filter.dataId as object,
    });
    return out;
  };

  const backpropFilter = (args: Args<{ x: Info; dy: Info }>): Info => {
    const { inputs: { x }, backend, attrs } = args;
    if (x.dtype !== "float32") return onWasm("Conv2DBackpropFilter", args);
    const fitted = fitBackpropFilter(backend, {
      ...args.inputs,
      attrs: attrs as Parameters<typeof fitBackpropFilter>[1]["attrs"],
    });
    const { info: g, block: dy, temps } = fitted;
    if (!dy) return zerosOutput(backend, g.filterShape);
    if (!usable(g)) {
      disposeInfos(backend, temps);
      return onWasm("Conv2DBackpropFilter", args);
    }
    const out = backend.makeOutput(g.filterShape, "float32");
    dnnl.backwardWeights(g, {
      x: heapF32(backend, x),
      dy: heapF32(backend, dy),
      dw: heapF32(backend, out),
    });
    disposeInfos(backend, temps);
    return out;
  };

  const backpropInput = (args: Args<{ dy: Info; filter: Info }>): Info => {
    const { inputs: { filter }, backend, attrs } = args;
    if (args.inputs.dy.dtype !== "float32") return onWasm("Conv2DBackpropInput", args);
    const fitted = fitBackpropInput(backend, {
      ...args.inputs,
      attrs: attrs as Parameters<typeof fitBackpropInput>[1]["attrs"],
    });
    const { info: g, block: dy, temps } = fitted;
    if (!dy) return zerosOutput(backend, g.inShape);
    if (!usable(g)) {
      disposeInfos(backend, temps);
      return onWasm("Conv2DBackpropInput", args);
    }
    const out = backend.makeOutput(g.inShape, "float32");
    dnnl.backwardData(g, {
      dy: heapF32(backend, dy),
      w: heapF32(backend, filter),
      dx: heapF32(backend, out),
    });
    disposeInfos(backend, temps);
    return out;
  };

  return {
    Conv2D: ((a: Args<{ x: Info; filter: Info }>) => forward("Conv2D", a)) as tf.KernelFunc,
    FusedConv2D:
      ((a: Args<{ x: Info; filter: Info }>) => forward("FusedConv2D", a)) as tf.KernelFunc,
    Conv2DBackpropFilter: backpropFilter as unknown as tf.KernelFunc,
    Conv2DBackpropInput: backpropInput as unknown as tf.KernelFunc,
  };
}

const own = new Map<string, Record<string, tf.KernelFunc>>();

/**
 * Registers backend "onednn" when oneDNN loads, bringing its kernels up to date with those of
 * "wasm" (the convolutions stay oneDNN's); returns whether it is there. Its factory shares the
 * instance of "wasm", which must be initialised first (`await tf.setBackend("wasm")`). With
 * `name` "onednn-bf16" it registers that backend instead: the same, its convolutions in bfloat16
 * ({@linkcode oneDnnBf16}).
 *
 * @example
 * ```ts
 * import "../backend.ts";
 * import { registerOneDnnBackend } from "./register.ts";
 * console.log(typeof registerOneDnnBackend()); // "boolean"
 * ```
 */
export function registerOneDnnBackend(name: "onednn" | "onednn-bf16" = "onednn"): boolean {
  const dnnl = name === "onednn" ? oneDnn() : oneDnnBf16();
  if (!dnnl) return false;
  let kernels = own.get(name);
  if (!kernels) own.set(name, kernels = oneDnnConvKernels(dnnl));
  registerWasmSibling(name, kernels);
  return true;
}
