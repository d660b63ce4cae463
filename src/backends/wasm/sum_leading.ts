/**
 * `Sum` over leading axes (e.g. a bias gradient: NHWC summed over N, H, W) for the wasm backend,
 * as one streaming pass in JavaScript with float64 accumulators. tfjs's wasm `Sum` first
 * transposes the reduced axes to the end, which costs more than the sum. Other reductions go to
 * the original kernel.
 *
 * @module
 */
import type { tf } from "../../deps.ts";
import { heapF32, type Info, sizeOf, type WasmBackend } from "./wasm_heap.ts";

/** Attributes of tfjs's `Sum` kernel. */
export interface SumAttrs {
  /** Axis or axes to reduce (negative counts from the end). */
  axis: number | number[];
  /** Keep reduced axes with size 1. */
  keepDims: boolean;
}

/**
 * Makes a `Sum` kernel that handles float32 reductions over the leading axes `0..k−1` and hands
 * every other case to `fallback` (tfjs's own wasm kernel).
 *
 * @example
 * ```ts
 * import { tf } from "../../deps.ts";
 * import "../backend.ts";
 * import { makeSumLeading } from "./sum_leading.ts";
 * import type { WasmBackend } from "./wasm_heap.ts";
 * await tf.setBackend("wasm");
 * const sum = makeSumLeading(tf.getKernel("Sum", "wasm")!.kernelFunc);
 * const x = tf.tensor2d([[1, 2], [3, 4]]);
 * const backend = tf.backend() as unknown as WasmBackend;
 * const s = sum({ inputs: { x }, backend, attrs: { axis: 0, keepDims: false } });
 * console.log(Array.from(await tf.engine().makeTensorFromTensorInfo(s).data())); // [4, 6]
 * ```
 */
export function makeSumLeading(
  fallback: tf.KernelFunc,
): (args: { inputs: { x: Info }; backend: WasmBackend; attrs: SumAttrs }) => Info {
  return (args) => {
    const { inputs: { x }, backend, attrs } = args;
    const rank = x.shape.length;
    const axes = (Array.isArray(attrs.axis) ? attrs.axis : [attrs.axis])
      .map((a) => (a < 0 ? a + rank : a))
      .sort((a, b) => a - b);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (!leading || x.dtype !== "float32") {
      return fallback(args as unknown as Parameters<tf.KernelFunc>[0]) as Info;
    }
    const inner = x.shape.slice(axes.length);
    const c = sizeOf(inner);
    const outShape = attrs.keepDims ? [...axes.map(() => 1), ...inner] : inner;
    const out = backend.makeOutput(outShape, "float32");
    const dst = heapF32(backend, out);
    const src = heapF32(backend, x);
    const acc = new Float64Array(c);
    for (let off = 0; off < src.length; off += c) {
      for (let j = 0; j < c; j++) acc[j] += src[off + j];
    }
    dst.set(acc);
    return out;
  };
}
