/**
 * Patch matrices for convolutions as matrix products (NHWC, float32), in plain TypeScript:
 * `im2col` lays every receptive field out as one row, so a convolution is `cols · W` with the
 * `[kh, kw, Ci, Co]` filter read as a `[kh·kw·Ci, Co]` matrix; `col2im` is its adjoint (adds each
 * row back onto the pixels it came from), which turns `dcols = dy · Wᵀ` into the input gradient.
 *
 * @module
 */

import type { ConvGeometry } from "../../layers/engine.ts";

export type { ConvGeometry } from "../../layers/engine.ts";

/**
 * Whether the patch matrix of `g` is its input itself (a 1×1, stride-1, unpadded convolution):
 * then no `im2col` is needed.
 */
export function isPointwise(g: ConvGeometry): boolean {
  return g.filterHeight === 1 && g.filterWidth === 1 && g.strideHeight === 1 &&
    g.strideWidth === 1 && g.padInfo.top === 0 && g.padInfo.left === 0 &&
    g.outHeight === g.inHeight && g.outWidth === g.inWidth;
}

/**
 * `y = max(y, 0)` in place, on the bits: clearing a float whose sign bit is set needs no branch
 * (a compare-and-branch per element is ~8× slower here: the signs are random).
 *
 * @example
 * ```ts
 * import { relu } from "./im2col.ts";
 * const y = new Float32Array([-1, 2, -0.5, 0]);
 * relu(y);
 * console.log(Array.from(y)); // [0, 2, 0, 0]
 * ```
 */
export function relu(y: Float32Array): void {
  const bits = new Int32Array(y.buffer, y.byteOffset, y.length);
  for (let j = 0; j < bits.length; j++) bits[j] &= ~(bits[j] >> 31);
}

/**
 * Sets each of the first `rows` rows of `y` (row length `row.length`) to `row`, doubling the
 * filled part with `copyWithin` (one `set` per row is ~15× slower for short rows, e.g. a bias).
 *
 * @example
 * ```ts
 * import { fillRows } from "./im2col.ts";
 * const y = new Float32Array(6);
 * fillRows(y, new Float32Array([1, 2]), 3);
 * console.log(Array.from(y)); // [1, 2, 1, 2, 1, 2]
 * ```
 */
export function fillRows(y: Float32Array, row: Float32Array, rows: number): void {
  if (rows <= 0) return;
  const len = row.length;
  y.set(row, 0);
  for (let filled = 1; filled < rows;) {
    const k = Math.min(filled, rows - filled);
    y.copyWithin(filled * len, 0, k * len);
    filled += k;
  }
}

/** Rows (`N·Ho·Wo`) and columns (`kh·kw·Ci`) of the patch matrix. */
export function colsShape(g: ConvGeometry): [number, number] {
  return [
    g.batchSize * g.outHeight * g.outWidth,
    g.filterHeight * g.filterWidth * g.inChannels,
  ];
}

/**
 * Fills `cols` (`N·Ho·Wo × kh·kw·Ci`, row-major) with the receptive fields of `x` (`[N, H, W, Ci]`),
 * zeros where a field hangs over the padding.
 *
 * @example
 * ```ts
 * import { colsShape, im2col } from "./im2col.ts";
 * const g = { batchSize: 1, inHeight: 2, inWidth: 2, inChannels: 1, outHeight: 1, outWidth: 1,
 *   strideHeight: 1, strideWidth: 1, filterHeight: 2, filterWidth: 2, dilationHeight: 1,
 *   dilationWidth: 1, padInfo: { top: 0, left: 0 } };
 * const [r, c] = colsShape(g);
 * const cols = new Float32Array(r * c);
 * im2col(new Float32Array([1, 2, 3, 4]), g, cols);
 * console.log(Array.from(cols)); // [1, 2, 3, 4]
 * ```
 */
export function im2col(x: Float32Array, g: ConvGeometry, cols: Float32Array): void {
  if (isValidDense(g)) return im2colValid(x, g, cols);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c } = g;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = g;
  const { filterHeight: kh, filterWidth: kw, dilationHeight: dh, dilationWidth: dw } = g;
  const top = g.padInfo.top, left = g.padInfo.left;
  const run = kw * c; // one filter row: contiguous in x when dw = 1 and inside the image
  let d = 0;
  for (let b = 0; b < n; b++) {
    const xb = b * h * w * c;
    for (let y = 0; y < oh; y++) {
      const ih0 = y * sh - top;
      for (let xo = 0; xo < ow; xo++) {
        const iw0 = xo * sw - left;
        const inside = dw === 1 && iw0 >= 0 && iw0 + kw <= w;
        for (let i = 0; i < kh; i++) {
          const ih = ih0 + i * dh;
          if (ih < 0 || ih >= h) {
            cols.fill(0, d, d + run);
            d += run;
            continue;
          }
          const row = xb + ih * w * c;
          if (inside) {
            const s = row + iw0 * c;
            if (run >= 32) cols.set(x.subarray(s, s + run), d);
            else for (let t = 0; t < run; t++) cols[d + t] = x[s + t];
            d += run;
            continue;
          }
          for (let j = 0; j < kw; j++) {
            const iw = iw0 + j * dw;
            if (iw < 0 || iw >= w) {
              for (let t = 0; t < c; t++) cols[d + t] = 0;
            } else {
              const s = row + iw * c;
              for (let t = 0; t < c; t++) cols[d + t] = x[s + t];
            }
            d += c;
          }
        }
      }
    }
  }
}

/** No padding, no dilation, every window inside: the common case, with a tight loop. */
function isValidDense(g: ConvGeometry): boolean {
  return g.padInfo.top === 0 && g.padInfo.left === 0 && g.dilationHeight === 1 &&
    g.dilationWidth === 1 && (g.outHeight - 1) * g.strideHeight + g.filterHeight <= g.inHeight &&
    (g.outWidth - 1) * g.strideWidth + g.filterWidth <= g.inWidth;
}

function im2colValid(x: Float32Array, g: ConvGeometry, cols: Float32Array): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c } = g;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = g;
  const kh = g.filterHeight, run = g.filterWidth * c, rowStep = w * c;
  const long = run >= 32, pairs = run >> 1, odd = run & 1;
  let d = 0;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      const base = (b * h + y * sh) * rowStep;
      for (let xo = 0; xo < ow; xo++) {
        let s = base + xo * sw * c;
        if (long) {
          for (let i = 0; i < kh; i++, s += rowStep, d += run) cols.set(x.subarray(s, s + run), d);
          continue;
        }
        // short rows (e.g. 6 floats of a one-channel 6×6 filter): two at a time, ~2× faster
        for (let i = 0; i < kh; i++, s += rowStep) {
          let t = s;
          for (let p = 0; p < pairs; p++, t += 2, d += 2) {
            cols[d] = x[t];
            cols[d + 1] = x[t + 1];
          }
          if (odd) cols[d++] = x[t];
        }
      }
    }
  }
}

/**
 * The adjoint of {@linkcode im2col}: sets `dx` (`[N, H, W, Ci]`) to the sum, over every row of
 * `dcols` and every entry in it, of that entry at the pixel it was read from (padding drops out).
 *
 * @example
 * ```ts
 * import { col2im } from "./im2col.ts";
 * // two 1×2 windows, stride 1, over a 1×3 image: the middle pixel is in both
 * const g = { batchSize: 1, inHeight: 1, inWidth: 3, inChannels: 1, outHeight: 1, outWidth: 2,
 *   strideHeight: 1, strideWidth: 1, filterHeight: 1, filterWidth: 2, dilationHeight: 1,
 *   dilationWidth: 1, padInfo: { top: 0, left: 0 } };
 * const dx = new Float32Array(3);
 * col2im(new Float32Array([1, 1, 1, 1]), g, dx);
 * console.log(Array.from(dx)); // [1, 2, 1]
 * ```
 */
export function col2im(dcols: Float32Array, g: ConvGeometry, dx: Float32Array): void {
  if (isValidDense(g)) return col2imValid(dcols, g, dx);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c } = g;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = g;
  const { filterHeight: kh, filterWidth: kw, dilationHeight: dh, dilationWidth: dw } = g;
  const top = g.padInfo.top, left = g.padInfo.left;
  const run = kw * c;
  dx.fill(0, 0, n * h * w * c);
  let d = 0;
  for (let b = 0; b < n; b++) {
    const xb = b * h * w * c;
    for (let y = 0; y < oh; y++) {
      const ih0 = y * sh - top;
      for (let xo = 0; xo < ow; xo++) {
        const iw0 = xo * sw - left;
        const inside = dw === 1 && iw0 >= 0 && iw0 + kw <= w;
        for (let i = 0; i < kh; i++) {
          const ih = ih0 + i * dh;
          if (ih < 0 || ih >= h) {
            d += run;
            continue;
          }
          const row = xb + ih * w * c;
          if (inside) {
            const s = row + iw0 * c;
            for (let t = 0; t < run; t++) dx[s + t] += dcols[d + t];
            d += run;
            continue;
          }
          for (let j = 0; j < kw; j++) {
            const iw = iw0 + j * dw;
            if (iw >= 0 && iw < w) {
              const s = row + iw * c;
              for (let t = 0; t < c; t++) dx[s + t] += dcols[d + t];
            }
            d += c;
          }
        }
      }
    }
  }
}

function col2imValid(dcols: Float32Array, g: ConvGeometry, dx: Float32Array): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c } = g;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = g;
  const kh = g.filterHeight, run = g.filterWidth * c, rowStep = w * c;
  const pairs = run >> 1, odd = run & 1;
  dx.fill(0, 0, n * h * w * c);
  let d = 0;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      const base = (b * h + y * sh) * rowStep;
      for (let xo = 0; xo < ow; xo++) {
        let s = base + xo * sw * c;
        for (let i = 0; i < kh; i++, s += rowStep) {
          let t = s;
          for (let p = 0; p < pairs; p++, t += 2, d += 2) {
            dx[t] += dcols[d];
            dx[t + 1] += dcols[d + 1];
          }
          if (odd) dx[t] += dcols[d++];
        }
      }
    }
  }
}

/**
 * A cache key of a convolution geometry: every field that shapes its index plans (batch, input and
 * output sizes, strides, kernel, dilation, padding). The oneDNN primitives add the output channels.
 */
export function geometryKey(g: ConvGeometry): string {
  return [
    g.batchSize,
    g.inHeight,
    g.inWidth,
    g.inChannels,
    g.outHeight,
    g.outWidth,
    g.strideHeight,
    g.strideWidth,
    g.filterHeight,
    g.filterWidth,
    g.dilationHeight,
    g.dilationWidth,
    g.padInfo.top,
    g.padInfo.left,
  ].join(",");
}
