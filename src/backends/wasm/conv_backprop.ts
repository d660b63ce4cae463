/**
 * The two gradients of a 2-D convolution, for the wasm backend, written as *forward*
 * convolutions so XNNPACK's fast `Conv2D` does the arithmetic:
 *
 * - filter gradient: `dW[a,b,i,o] = Σₙₕw x[n, h·s+a−p, w·s+b−p, i] · dy[n,h,w,o]` is a convolution
 *   of `x` transposed to `[Ci, H, W, N]` (batch ↔ channels) with `dy` transposed to `[Ho, Wo, N, Co]`
 *   as the filter, dilated by the stride; the `[Ci, kh, kw, Co]` result is transposed back.
 * - input gradient: at stride 1, a convolution of `dy` (padded by `k−1−p`) with the filter flipped in
 *   space and with its channel axes swapped; at larger strides, one such convolution per phase
 *   (`(h + p) mod s`) with the taps of that phase, interleaved into `dx` (no zeros multiplied).
 *
 * Negative paddings (explicit pads larger than the kernel, leftover rows of a strided "valid"
 * convolution) become crops. A `dy` larger than the geometry's output is read in its top-left
 * block, as tfjs-cpu does (./conv_edges.ts).
 *
 * @module
 */
import type { tf } from "../../deps.ts";
import { fitBackpropFilter, fitBackpropInput, zerosOutput } from "./conv_edges.ts";
import { disposeInfos, heapF32, type Info, runWasmKernel, type WasmBackend } from "./wasm_heap.ts";

/** Attributes of tfjs's `Conv2DBackpropFilter` / `Conv2DBackpropInput` kernels. */
export interface ConvBackpropAttrs {
  /** Stride `[h, w]` or one number. */
  strides: [number, number] | number;
  /** "valid", "same", a number, or explicit pads. */
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  /** Only "NHWC" is supported (NCHW: an error naming --backend=cpu). */
  dataFormat: "NHWC" | "NCHW";
  /** Rounding of output sizes for numeric pads. */
  dimRoundingMode?: "floor" | "round" | "ceil";
  /** Shape of the filter (filter gradient only). */
  filterShape?: [number, number, number, number];
  /** Shape of the input (input gradient only). */
  inputShape?: [number, number, number, number];
  /** Not an attribute of tfjs's kernels; anything but 1 is an error. */
  dilations?: [number, number] | number;
}

type Pads = { top: number; bottom: number; left: number; right: number };

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
    if (size[1] <= 0 || size[2] <= 0) {
      // cropped away: no window meets a row (column) of x (XNNPACK refuses an empty input)
      const [fh, fw, , co] = filter.shape, [dh, dw] = opts.dilations;
      const oh = h + top + bottom - (fh - 1) * dh, ow = w + left + right - (fw - 1) * dw;
      return zerosOutput(backend, [n, oh, ow, co]);
    }
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
 * import { tf } from "../../deps.ts";
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
  const { inputs: { x }, backend, attrs } = args;
  const { info, block: dy, temps } = fitBackpropFilter(backend, { ...args.inputs, attrs });
  const [kh, kw, ci, co] = info.filterShape;
  if (!dy) return zerosOutput(backend, [kh, kw, ci, co]);
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
  disposeInfos(backend, [xt, dyt, conv, ...temps]);
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

/**
 * `Conv2DBackpropInput` on wasm: the gradient of a convolution with respect to its input
 * (also what `tf.conv2dTranspose` runs).
 *
 * @example
 * ```ts
 * import { tf } from "../../deps.ts";
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
  const { inputs: { filter }, backend, attrs } = args;
  const { info, block: dy, temps } = fitBackpropInput(backend, { ...args.inputs, attrs });
  if (!dy) return zerosOutput(backend, info.inShape);
  try {
    return backpropInput(backend, dy, filter, info);
  } finally {
    disposeInfos(backend, temps);
  }
}

function backpropInput(
  backend: WasmBackend,
  dy: Info,
  filter: Info,
  info: tf.backend_util.Conv2DInfo,
): Info {
  const [kh, kw] = filter.shape;
  const { inHeight: h, inWidth: w, strideHeight: sh, strideWidth: sw } = info;
  if (sh > 1 || sw > 1) return backpropInputByPhases(backend, dy, filter, info);
  // stride 1: a full convolution of dy with the flipped, channel-swapped filter
  const flipped = flipFilter(backend, filter);
  const top = kh - 1 - info.padInfo.top, left = kw - 1 - info.padInfo.left;
  const pads = {
    top,
    bottom: h + kh - 1 - dy.shape[1] - top,
    left,
    right: w + kw - 1 - dy.shape[2] - left,
  };
  const out = convPadded(backend, dy, flipped, { pads, dilations: [1, 1] });
  disposeInfos(backend, [flipped]);
  return out;
}

/**
 * The input gradient of a strided convolution without dilating `dy`: the rows `h` of `dx` with
 * `(h + padTop) mod s = p` (one "phase" per `(p, q)`) only meet the filter taps `p, p + s, …`, so
 * each phase is a stride-1 "full" convolution of `dy` with that sub-filter (flipped, channels
 * swapped), and the phases interleave into `dx`. Same arithmetic as the forward pass, where
 * dilating `dy` by the stride costs `s²` times more (3/4 of it multiplying zeros at stride 2).
 */
function backpropInputByPhases(
  backend: WasmBackend,
  dy: Info,
  filter: Info,
  info: tf.backend_util.Conv2DInfo,
): Info {
  const [kh, kw, ci, co] = filter.shape;
  const { batchSize: n, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow } = info;
  const sh = info.strideHeight, sw = info.strideWidth;
  const pt = info.padInfo.top, pl = info.padInfo.left;
  const out = backend.makeOutput([n, h, w, ci], "float32");
  heapF32(backend, out).fill(0);
  for (let ph = 0; ph < sh; ph++) {
    const ka = Math.ceil((kh - ph) / sh); // taps ph, ph + sh, … below kh
    if (ka <= 0) continue;
    for (let pw = 0; pw < sw; pw++) {
      const kb = Math.ceil((kw - pw) / sw);
      if (kb <= 0) continue;
      // F[a', b', o, i] = W[ph + (ka−1−a')·sh, pw + (kb−1−b')·sw, i, o]
      const sub = backend.makeOutput([ka, kb, co, ci], "float32");
      {
        const f = heapF32(backend, sub), wv = heapF32(backend, filter);
        for (let a = 0; a < ka; a++) {
          for (let b = 0; b < kb; b++) {
            const src = ((ph + (ka - 1 - a) * sh) * kw + pw + (kb - 1 - b) * sw) * ci * co;
            const dst = (a * kb + b) * co * ci;
            for (let i = 0; i < ci; i++) {
              for (let o = 0; o < co; o++) f[dst + o * ci + i] = wv[src + i * co + o];
            }
          }
        }
      }
      // Z[q, r] = Σ dy[q − a, r − b]·W[ph + a·sh, pw + b·sw]: rows 0 … oh + ka − 2
      const z = runWasmKernel(backend, "Conv2D", {
        inputs: { x: dy, filter: sub },
        attrs: {
          strides: 1,
          pad: [[0, 0], [ka - 1, ka - 1], [kb - 1, kb - 1], [0, 0]],
          dataFormat: "NHWC",
          dilations: 1,
        },
      });
      const zh = oh + ka - 1, zw = ow + kb - 1;
      const zv = heapF32(backend, z), dx = heapF32(backend, out);
      // dx[y = q·sh + ph − pt, x = r·sw + pw − pl] = Z[q, r]
      const q0 = Math.max(0, Math.ceil((pt - ph) / sh)),
        r0 = Math.max(0, Math.ceil((pl - pw) / sw));
      for (let b = 0; b < n; b++) {
        for (let q = q0; q < zh; q++) {
          const y = q * sh + ph - pt;
          if (y >= h) break;
          for (let r = r0; r < zw; r++) {
            const x = r * sw + pw - pl;
            if (x >= w) break;
            const zo = ((b * zh + q) * zw + r) * ci, xo = ((b * h + y) * w + x) * ci;
            for (let c = 0; c < ci; c++) dx[xo + c] = zv[zo + c];
          }
        }
      }
      disposeInfos(backend, [sub, z]);
    }
  }
  return out;
}
