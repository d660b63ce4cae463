/**
 * The two gradients of a 2-D convolution, for the wasm backend, written as *forward*
 * convolutions so XNNPACK's fast `Conv2D` does the arithmetic:
 *
 * - filter gradient: `dW[a,b,i,o] = Σₙₕw x[n, h·s+a−p, w·s+b−p, i] · dy[n,h,w,o]` is a convolution
 *   of `x` transposed to `[Ci, H, W, N]` (batch ↔ channels) with `dy` transposed to `[Ho, Wo, N, Co]`
 *   as the filter, dilated by the stride; the `[Ci, kh, kw, Co]` result is transposed back.
 * - input gradient: `dx` is a convolution of `dy` (dilated by the stride, padded by `k−1−p`) with the
 *   filter flipped in space and with its channel axes swapped.
 *
 * Negative paddings (explicit pads larger than the kernel, leftover rows of a strided "valid"
 * convolution) become crops.
 *
 * @module
 */
import { tf } from "../deps.ts";
import { disposeInfos, heapF32, type Info, runWasmKernel, type WasmBackend } from "./wasm_heap.ts";

/** Attributes of tfjs's `Conv2DBackpropFilter` / `Conv2DBackpropInput` kernels. */
export interface ConvBackpropAttrs {
  /** Stride `[h, w]` or one number. */
  strides: [number, number] | number;
  /** "valid", "same", a number, or explicit pads. */
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  /** Only "NHWC" is supported. */
  dataFormat: "NHWC" | "NCHW";
  /** Rounding of output sizes for numeric pads. */
  dimRoundingMode?: "floor" | "round" | "ceil";
  /** Shape of the filter (filter gradient only). */
  filterShape?: [number, number, number, number];
  /** Shape of the input (input gradient only). */
  inputShape?: [number, number, number, number];
}

type Pads = { top: number; bottom: number; left: number; right: number };

function checkFormat(attrs: ConvBackpropAttrs): void {
  if (attrs.dataFormat === "NCHW") {
    throw new Error('Argument dataFormat must be "NHWC" on wasm; transpose NCHW inputs first');
  }
}

/**
 * A stride-1 forward convolution on the wasm backend with explicit, possibly negative, pads
 * (negative pads crop `x`) and dilation `[dh, dw]`.
 */
function convPadded(
  backend: WasmBackend,
  x: Info,
  filter: Info,
  opts: { pads: Pads; dilations: [number, number] },
): Info {
  const { top, bottom, left, right } = opts.pads;
  let src = x;
  const temps: Info[] = [];
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [n, h, w, c] = x.shape;
    const t = Math.max(0, -top), l = Math.max(0, -left);
    const size = [n, h - t - Math.max(0, -bottom), w - l - Math.max(0, -right), c];
    src = runWasmKernel(backend, "Slice", { inputs: { x }, attrs: { begin: [0, t, l, 0], size } });
    temps.push(src);
  }
  const pad = [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [
    Math.max(0, left),
    Math.max(0, right),
  ], [0, 0]];
  const out = runWasmKernel(backend, "Conv2D", {
    inputs: { x: src, filter },
    attrs: { strides: 1, pad, dataFormat: "NHWC", dilations: opts.dilations },
  });
  disposeInfos(backend, temps);
  return out;
}

/**
 * `Conv2DBackpropFilter` on wasm: the gradient of a convolution with respect to its filter.
 *
 * @example
 * ```ts
 * import { tf } from "../deps.ts";
 * import "../backend.ts";
 * import { conv2dBackpropFilterWasm } from "./conv_backprop.ts";
 * import type { WasmBackend } from "./wasm_heap.ts";
 * await tf.setBackend("wasm");
 * const x = tf.ones([1, 3, 3, 1]), dy = tf.ones([1, 2, 2, 1]);
 * const backend = tf.backend() as unknown as WasmBackend;
 * const dw = conv2dBackpropFilterWasm({ inputs: { x, dy }, backend,
 *   attrs: { strides: 1, pad: "valid", dataFormat: "NHWC", filterShape: [2, 2, 1, 1] } });
 * console.log(Array.from(await tf.engine().makeTensorFromTensorInfo(dw).data())); // [4, 4, 4, 4]
 * ```
 */
export function conv2dBackpropFilterWasm(
  args: { inputs: { x: Info; dy: Info }; backend: WasmBackend; attrs: ConvBackpropAttrs },
): Info {
  const { inputs: { x, dy }, backend, attrs } = args;
  checkFormat(attrs);
  if (!attrs.filterShape) {
    throw new Error("Argument filterShape is required; pass the filter's shape");
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const [kh, kw, ci, co] = attrs.filterShape;
  const { inHeight: h, inWidth: w, outHeight: oh, outWidth: ow } = info;
  const sh = info.strideHeight, sw = info.strideWidth;
  const top = info.padInfo.top, left = info.padInfo.left;
  const xt = runWasmKernel(backend, "Transpose", { inputs: { x }, attrs: { perm: [3, 1, 2, 0] } });
  const dyt = runWasmKernel(backend, "Transpose", {
    inputs: { x: dy },
    attrs: { perm: [1, 2, 0, 3] },
  });
  const pads = {
    top,
    bottom: kh + (oh - 1) * sh - h - top,
    left,
    right: kw + (ow - 1) * sw - w - left,
  };
  const conv = convPadded(backend, xt, dyt, { pads, dilations: [sh, sw] });
  const out = runWasmKernel(backend, "Transpose", {
    inputs: { x: { ...conv, shape: [ci, kh, kw, co] } },
    attrs: { perm: [1, 2, 0, 3] },
  });
  disposeInfos(backend, [xt, dyt, conv]);
  return out;
}

/** `[kh, kw, ci, co]` → flipped in space, channels swapped: `[kh, kw, co, ci]`. */
function flipFilter(backend: WasmBackend, filter: Info): Info {
  const [kh, kw, ci, co] = filter.shape;
  const out = backend.makeOutput([kh, kw, co, ci], "float32");
  const dst = heapF32(backend, out);
  const src = heapF32(backend, filter);
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const s0 = ((kh - 1 - a) * kw + (kw - 1 - b)) * ci * co;
      const d0 = (a * kw + b) * co * ci;
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) dst[d0 + o * ci + i] = src[s0 + i * co + o];
      }
    }
  }
  return out;
}

/** Inserts `s − 1` zeros between rows / columns of an NHWC tensor. */
function dilate(backend: WasmBackend, x: Info, sh: number, sw: number): Info {
  const [n, h, w, c] = x.shape;
  const hd = (h - 1) * sh + 1, wd = (w - 1) * sw + 1;
  const out = backend.makeOutput([n, hd, wd, c], "float32");
  const dst = heapF32(backend, out);
  const src = heapF32(backend, x);
  dst.fill(0);
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < h; r++) {
      for (let q = 0; q < w; q++) {
        const s0 = ((b * h + r) * w + q) * c;
        dst.set(src.subarray(s0, s0 + c), ((b * hd + r * sh) * wd + q * sw) * c);
      }
    }
  }
  return out;
}

/**
 * `Conv2DBackpropInput` on wasm: the gradient of a convolution with respect to its input
 * (also what `tf.conv2dTranspose` runs).
 *
 * @example
 * ```ts
 * import { tf } from "../deps.ts";
 * import "../backend.ts";
 * import { conv2dBackpropInputWasm } from "./conv_backprop.ts";
 * import type { WasmBackend } from "./wasm_heap.ts";
 * await tf.setBackend("wasm");
 * const dy = tf.ones([1, 1, 1, 1]), filter = tf.tensor4d([1, 2, 3, 4], [2, 2, 1, 1]);
 * const backend = tf.backend() as unknown as WasmBackend;
 * const dx = conv2dBackpropInputWasm({ inputs: { dy, filter }, backend,
 *   attrs: { strides: 1, pad: "valid", dataFormat: "NHWC", inputShape: [1, 2, 2, 1] } });
 * console.log(Array.from(await tf.engine().makeTensorFromTensorInfo(dx).data())); // [1, 2, 3, 4]
 * ```
 */
export function conv2dBackpropInputWasm(
  args: { inputs: { dy: Info; filter: Info }; backend: WasmBackend; attrs: ConvBackpropAttrs },
): Info {
  const { inputs: { dy, filter }, backend, attrs } = args;
  checkFormat(attrs);
  if (!attrs.inputShape) throw new Error("Argument inputShape is required; pass the input's shape");
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const [kh, kw] = filter.shape;
  const { inHeight: h, inWidth: w, strideHeight: sh, strideWidth: sw } = info;
  const temps: Info[] = [flipFilter(backend, filter)];
  const src = sh > 1 || sw > 1 ? dilate(backend, dy, sh, sw) : dy;
  if (src !== dy) temps.push(src);
  const top = kh - 1 - info.padInfo.top, left = kw - 1 - info.padInfo.left;
  const pads = {
    top,
    bottom: h + kh - 1 - src.shape[1] - top,
    left,
    right: w + kw - 1 - src.shape[2] - left,
  };
  const out = convPadded(backend, src, temps[0], { pads, dilations: [1, 1] });
  disposeInfos(backend, temps);
  return out;
}
