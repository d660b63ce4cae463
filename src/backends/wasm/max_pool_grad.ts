/**
 * `MaxPoolGrad` for the wasm backend as one cache-friendly pass in JavaScript over the wasm heap:
 * per output pixel, find the first maximum of each channel's window (row-major scan, strict `>`,
 * exactly as tfjs-backend-cpu) and add `dy` there. The built-in wasm kernel is a per-element loop
 * that revisits every window for every input pixel.
 *
 * @module
 */
import { tf } from "../../deps.ts";
import { heapF32, type Info, type WasmBackend } from "./wasm_heap.ts";

/** Attributes of tfjs's `MaxPoolGrad` kernel. */
export interface MaxPoolGradAttrs {
  /** Window size `[h, w]` or one number. */
  filterSize: [number, number] | number;
  /** Window step `[h, w]` or one number. */
  strides: [number, number] | number;
  /** "valid", "same", a number, or explicit pads. */
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  /** Rounding of output sizes for numeric pads. */
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/**
 * Gradient of a 2-D max pool (NHWC) with respect to its input, on the wasm heap.
 *
 * @example
 * ```ts
 * import { tf } from "../../deps.ts";
 * import "../backend.ts";
 * import { maxPoolGradWasm } from "./max_pool_grad.ts";
 * import type { WasmBackend } from "./wasm_heap.ts";
 * await tf.setBackend("wasm");
 * const x = tf.tensor4d([1, 3, 2, 3], [1, 2, 2, 1]);
 * const dy = tf.tensor4d([5], [1, 1, 1, 1]);
 * const backend = tf.backend() as unknown as WasmBackend;
 * const dx = maxPoolGradWasm({ inputs: { dy, input: x }, backend, attrs: { filterSize: 2, strides: 2, pad: "valid" } });
 * console.log(Array.from(await tf.engine().makeTensorFromTensorInfo(dx).data())); // [0, 5, 0, 0]
 * ```
 */
export function maxPoolGradWasm(
  args: { inputs: { dy: Info; input: Info }; backend: WasmBackend; attrs: MaxPoolGradAttrs },
): Info {
  const { inputs: { dy, input }, backend, attrs } = args;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const out = backend.makeOutput(input.shape.slice(), "float32");
  const dx = heapF32(backend, out);
  const x = heapF32(backend, input);
  const g = heapF32(backend, dy);
  dx.fill(0);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c } = info;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const fh = info.effectiveFilterHeight, fw = info.effectiveFilterWidth;
  const top = info.padInfo.top, left = info.padInfo.left;
  const maxv = new Float32Array(c);
  const arg = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < oh; r++) {
      const r0 = r * sh - top;
      const rLo = Math.max(0, r0), rHi = Math.min(h, r0 + fh);
      for (let q = 0; q < ow; q++) {
        const c0 = q * sw - left;
        const cLo = Math.max(0, c0), cHi = Math.min(w, c0 + fw);
        maxv.fill(-Infinity);
        arg.fill(-1);
        for (let xr = rLo; xr < rHi; xr++) {
          for (let xc = cLo; xc < cHi; xc++) {
            const off = ((b * h + xr) * w + xc) * c;
            for (let d = 0; d < c; d++) {
              const v = x[off + d];
              if (v > maxv[d]) {
                maxv[d] = v;
                arg[d] = off + d;
              }
            }
          }
        }
        const gOff = ((b * oh + r) * ow + q) * c;
        for (let d = 0; d < c; d++) {
          if (arg[d] >= 0) dx[arg[d]] += g[gOff + d];
        }
      }
    }
  }
  return out;
}
