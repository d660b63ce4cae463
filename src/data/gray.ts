/**
 * Grey pictures as the detector reads them: one `Float32Array` of luma in [0, 1], row-major, and
 * the conversion from RGBA pixels (a decoded PNG or JPEG in Deno, a canvas in the browser).
 *
 * Luma is Rec. 601's `Y' = 0.299 R' + 0.587 G' + 0.114 B'` on the gamma-encoded (sRGB) values, the
 * grey of JPEG, of PIL's `convert("L")` and of the tasks before this module.
 *
 * Transparency: a pixel of opacity α becomes `α · Y' + (1 − α) · matte`. The matte is the
 * picture's own background ({@linkcode grayFromRgba} says which one it took):
 *
 * - when the visible pixels (weighted by α) cover at least half of the picture, they are the page
 *   and the holes take the page's level: the α-weighted median luma of the visible pixels;
 * - otherwise the visible pixels are the ink (strokes drawn on a transparent layer) and the matte
 *   is their opposite: white (1) under dark ink (α-weighted mean luma < 0.5), black (0) under
 *   light ink.
 *
 * So black strokes exported on a transparent layer read as black on white, white strokes as white
 * on black, and a scan with transparent margins gets margins of paper.
 *
 * @module
 */

/** A grey picture: `width × height` values in [0, 1], row-major. */
export interface GrayImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `width × height` luma values in [0, 1], row-major (0 black, 1 white). */
  data: Float32Array;
}

/** RGBA pixels, not premultiplied: bytes 0–255 or floats in [0, 1], 4 values per pixel. */
export interface RgbaImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `width × height × 4` values: red, green, blue, alpha. */
  pixels: Uint8Array | Uint8ClampedArray | Float32Array;
}

/** Options of {@linkcode grayFromRgba}. */
export interface GrayOptions {
  /**
   * Level in [0, 1] that transparent pixels are composited on, or "auto" (default): the
   * picture's own background (see the module doc).
   */
  matte?: "auto" | number;
}

/** A grey picture converted from RGBA, with what was done about transparency. */
export interface GrayConversion extends GrayImage {
  /** Some pixel was not fully opaque. */
  transparent: boolean;
  /** The level transparent pixels were composited on; null when every pixel is opaque. */
  matte: number | null;
}

/** Rec. 601 luma weights of gamma-encoded R', G', B'. */
export const LUMA = [0.299, 0.587, 0.114] as const;

function checkSize(width: number, height: number, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`${what} must be positive integers, got ${width}×${height}`);
  }
}

/**
 * Checks a {@linkcode GrayImage}: positive integer sides and `width × height` values. Returns it.
 *
 * @example
 * ```ts
 * import { checkGray } from "./gray.ts";
 * checkGray({ width: 2, height: 1, data: new Float32Array(2) }); // fine
 * ```
 */
export function checkGray<T extends GrayImage>(image: T, what = "image"): T {
  if (!image || !(image.data instanceof Float32Array)) {
    throw new TypeError(`${what} must be { width, height, data: Float32Array }`);
  }
  checkSize(image.width, image.height, `${what}.width × ${what}.height`);
  if (image.data.length !== image.width * image.height) {
    throw new RangeError(
      `${what}.data has ${image.data.length} values, not ${image.width} × ${image.height}`,
    );
  }
  return image;
}

/**
 * Converts RGBA pixels to luma in [0, 1], compositing transparent pixels on a matte: `options.matte`
 * or the picture's own background (module doc).
 *
 * @example
 * ```ts
 * import { grayFromRgba } from "./gray.ts";
 * // black ink on a transparent layer: read as black on white
 * const g = grayFromRgba({
 *   width: 4,
 *   height: 1,
 *   pixels: new Uint8Array([0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
 * });
 * console.log(Array.from(g.data), g.matte); // [0, 1, 1, 1] 1
 * ```
 */
export function grayFromRgba(image: RgbaImage, options: GrayOptions = {}): GrayConversion {
  const { width, height, pixels } = image ?? {};
  checkSize(width, height, "image.width × image.height");
  const n = width * height;
  if (!pixels || pixels.length !== 4 * n) {
    throw new RangeError(
      `image.pixels must hold 4 values per pixel (${4 * n}), got ${pixels?.length}`,
    );
  }
  const { matte = "auto" } = options;
  if (matte !== "auto" && !(typeof matte === "number" && matte >= 0 && matte <= 1)) {
    throw new RangeError(`options.matte must be "auto" or a level in [0, 1], got ${matte}`);
  }
  const unit = pixels instanceof Float32Array ? 1 : 1 / 255;
  const [wr, wg, wb] = [LUMA[0] * unit, LUMA[1] * unit, LUMA[2] * unit];
  const data = new Float32Array(n);
  const alpha = new Float32Array(n);
  let transparent = false;
  for (let p = 0, q = 0; p < n; p++, q += 4) {
    const y = wr * pixels[q] + wg * pixels[q + 1] + wb * pixels[q + 2];
    data[p] = y < 0 ? 0 : y > 1 ? 1 : y;
    const a = pixels[q + 3] * unit;
    alpha[p] = a < 0 ? 0 : a > 1 ? 1 : a;
    if (a < 1) transparent = true;
  }
  if (!transparent) return { width, height, data, transparent, matte: null };
  const level = matte === "auto" ? ownMatte(data, alpha) : matte;
  for (let p = 0; p < n; p++) data[p] = alpha[p] * data[p] + (1 - alpha[p]) * level;
  return { width, height, data, transparent, matte: level };
}

/** The picture's own background under its transparent pixels (module doc). */
function ownMatte(luma: Float32Array, alpha: Float32Array): number {
  const bins = new Float64Array(256);
  let weight = 0, sum = 0;
  for (let p = 0; p < luma.length; p++) {
    const a = alpha[p];
    if (a <= 0) continue;
    weight += a;
    sum += a * luma[p];
    bins[Math.round(luma[p] * 255)] += a;
  }
  if (weight === 0) return 1; // nothing visible: a blank page
  if (weight >= 0.5 * luma.length) {
    // the visible pixels are the page: its α-weighted median level
    let seen = 0;
    for (let b = 0; b < 256; b++) {
      seen += bins[b];
      if (seen >= weight / 2) return b / 255;
    }
    return 1;
  }
  return sum / weight < 0.5 ? 1 : 0; // the visible pixels are ink: its opposite
}

/**
 * Shrinks a grey picture by an integer `factor`: each output pixel is the mean of a `factor ×
 * factor` block (a trailing partial row or column of blocks is dropped).
 *
 * @example
 * ```ts
 * import { shrinkGray } from "./gray.ts";
 * const half = shrinkGray({ width: 4, height: 2, data: new Float32Array([0, 1, 1, 1, 0, 1, 0, 0]) }, 2);
 * console.log(half.width, half.height, Array.from(half.data)); // 2 1 [0.5, 0.5]
 * ```
 */
export function shrinkGray(image: GrayImage, factor: number): GrayImage {
  checkGray(image);
  if (!Number.isInteger(factor) || factor < 1) {
    throw new RangeError(`factor must be a positive integer, got ${factor}`);
  }
  const width = Math.floor(image.width / factor), height = Math.floor(image.height / factor);
  if (width < 1 || height < 1) {
    throw new RangeError(
      `image is ${image.width}×${image.height}, smaller than factor ${factor} on a side`,
    );
  }
  const data = new Float32Array(width * height);
  const norm = 1 / (factor * factor);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let dy = 0; dy < factor; dy++) {
        const row = (y * factor + dy) * image.width + x * factor;
        for (let dx = 0; dx < factor; dx++) s += image.data[row + dx];
      }
      data[y * width + x] = s * norm;
    }
  }
  return { width, height, data };
}
