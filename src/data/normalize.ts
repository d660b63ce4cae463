/**
 * What a picture goes through before the net sees it: it becomes white ink on a black background
 * in [0, 1], like the training scenes, whatever the paper, the light and the pen.
 *
 * {@linkcode normalizeImage} works on a grey `Float32Array` (plain TypeScript, no tfjs; about a
 * millisecond for 128 × 128) in four steps:
 *
 * 1. **Polarity.** The picture is split into tiles (side `tile`); each tile's median is its
 *    background level, interpolated bilinearly into a smooth background. Ink is what departs from
 *    it on one side only (noise departs on both): the residual's mass beyond a noise threshold
 *    (3 σ, σ = 1.4826 · MAD of the residual, at least 0.02) is summed above and below the
 *    background. More mass below means dark ink on light paper, and the picture is inverted
 *    (`1 − v`). `polarity` forces either reading.
 * 2. **Background.** Each tile's paper level is a robust percentile, interpolated bilinearly (and
 *    extrapolated linearly beyond the outer tile centres, so a light gradient leaves no slope).
 *    Dark ink on paper: the paper is the tile's 75th percentile (ink may cover up to three
 *    quarters of a tile) and the picture is divided by it — `1 − v / paper` is the ink's darkness
 *    whatever the light falling on the page (the picture is light times reflectance). Light ink on
 *    a dark background: the background is the tile's 25th percentile, subtracted.
 * 3. **Denoising.** When the noise left after step 2 is high (σ = 1.4826 · MAD of the result above
 *    0.03: grainy paper, a phone photo in poor light), the result is blurred a little (Gaussian,
 *    σ = 0.5 px) before the contrast step: the grain is what the net, trained on smooth MNIST
 *    strokes, mistakes for ink. On the `paper` condition (held-out seeds, the shipped detector)
 *    it raised the numbers read right from 86.7 to 88.5 % and mAP@0.5 from 96.4 to 97.2 %. Clean
 *    pictures (σ ≤ 0.03, the project's own scenes have 0) are not touched. `denoise` turns it off.
 * 4. **Contrast.** A noise floor `median + 3 σ` of the result (σ = 1.4826 · MAD) is cut to 0, and
 *    the strokes' level is scaled to 1: the 90th percentile of the strokes' centres (pixels above
 *    the floor at least as bright as both neighbours across, horizontally or vertically). The
 *    scale is at most 10, so a page without ink is not blown up into speckle.
 *
 * On the project's own scenes (white digits on exact black) the background is 0, the noise 0 and
 * the floor 0: the output is the input times one gain, 1 / (strokes' level) — 1.00–1.02 for most
 * scenes, up to 1.25 for a faint one (a thin digit shrunk until its ink peaks at 0.9) — and the
 * detector finds the same digits (specs/normalize_test.ts). On pencil on unevenly lit, noisy
 * paper the background comes out 0 and the strokes' centres about 0.8 (the same spec).
 *
 * @module
 */
import { checkGray, type GrayImage } from "./gray.ts";
import { gaussianBlur } from "./paper.ts";

/** Which way the ink goes: dark ink on light paper, or light ink on a dark background. */
export type Polarity = "dark-ink" | "light-ink";

/** Options of {@linkcode normalizeImage}. */
export interface NormalizeOptions {
  /** "auto" (default): found from the picture; or forced. "dark-ink" inverts the picture. */
  polarity?: "auto" | Polarity;
  /** Remove a smooth background estimated per tile (uneven light); default true. */
  background?: boolean;
  /** Blur a noisy picture a little (σ = 0.5 px) when its noise is above 0.03; default true. */
  denoise?: boolean;
  /** Cut the noise floor to 0 and scale the strokes to 1; default true. */
  contrast?: boolean;
  /** Side of the background tiles in pixels; default max(16, ⌈min(width, height) / 6⌉). */
  tile?: number;
  /** Where to write the result (`width × height` values, not `image.data`); default a new array. */
  out?: Float32Array;
}

/** A normalised picture: white ink on black in [0, 1], and what was done to it. */
export interface NormalizedImage extends GrayImage {
  /** The polarity read (or forced); "dark-ink" pictures were inverted. */
  polarity: Polarity;
  /** The polarity was found from the picture (not forced). */
  auto: boolean;
  /**
   * Robust noise level σ (1.4826 · MAD) after background removal, in output units before scaling
   * (and before denoising: the level that decided it).
   */
  noise: number;
  /** The picture was blurred against its noise (step 3 of the module doc). */
  denoised: boolean;
  /** Level mapped to 0 (the noise floor); 0 without contrast. */
  floor: number;
  /** Level mapped to 1 (the strokes' level); 1 without contrast. */
  stroke: number;
}

/** Most values a tile's percentiles are taken from (larger tiles are sampled on a grid). */
const TILE_SAMPLES = 1024;
/** Most values the global statistics are taken from. */
const GLOBAL_SAMPLES = 1 << 12;
/** Quantile of the ridge values taken as the strokes' level. */
const STROKE_QUANTILE = 0.9;
/** The darkest paper level divided by (darker tiles are taken as this bright). */
const PAPER_MIN = 0.05;
/** Noise σ above which a picture is blurred (step 3). */
const DENOISE_ABOVE = 0.03;
/** Standard deviation, in pixels, of that blur. */
const DENOISE_SIGMA = 0.5;
/** 1.4826 · MAD estimates σ of Gaussian noise. */
const MAD_SIGMA = 1.4826;

/**
 * The `k`-th smallest of `a[0..n)` (0-based), rearranging `a`: quickselect with a median-of-three
 * pivot and Hoare partitioning (linear on average, on sorted or graded runs, and with many equal
 * values); a range still unsettled after 2·log₂ n + 8 rounds is sorted instead, so the worst case
 * is O(n log n).
 *
 * @example
 * ```ts
 * import { select } from "./normalize.ts";
 * console.log(select(new Float32Array([5, 1, 4, 2, 3]), 1)); // 2
 * ```
 */
export function select(a: Float32Array, k: number, n = a.length): number {
  if (!(Number.isInteger(k) && k >= 0 && k < n && n <= a.length)) {
    throw new RangeError(`k must be an integer in [0, ${n}), got ${k}`);
  }
  selectRange(a, k, 0, n - 1);
  return a[k];
}

function selectRange(a: Float32Array, k: number, left: number, right: number): void {
  let rounds = 2 * Math.ceil(Math.log2(right - left + 2)) + 8;
  while (right > left) {
    if (--rounds < 0) {
      a.subarray(left, right + 1).sort();
      return;
    }
    // pivot: the median of the first, middle and last values (sorted or graded runs stay linear)
    const mid = (left + right) >> 1;
    const x = a[left], y = a[mid], z = a[right];
    const p = (x <= y) === (y <= z) ? mid : (y <= x) === (x <= z) ? left : right;
    const t = a[p];
    // Hoare partition around t, with t moved to `left` first
    a[p] = a[left];
    a[left] = t;
    if (a[right] > t) {
      a[left] = a[right];
      a[right] = t;
    }
    let i = left, j = right;
    while (i < j) {
      const v = a[i];
      a[i] = a[j];
      a[j] = v;
      i++;
      j--;
      while (a[i] < t) i++;
      while (a[j] > t) j--;
    }
    if (a[left] === t) {
      const v = a[left];
      a[left] = a[j];
      a[j] = v;
    } else {
      j++;
      const v = a[j];
      a[j] = a[right];
      a[right] = v;
    }
    if (j <= k) left = j + 1;
    if (k <= j) right = j - 1;
  }
}

/** Order statistic at quantile q of a[0..n): the ⌊q·(n−1)⌋-th smallest (rearranges a). */
function quantile(a: Float32Array, q: number, n: number): number {
  return select(a, Math.floor(q * (n - 1)), n);
}

/** Tile boundaries along one axis: `count + 1` edges splitting `length` evenly. */
function edges(length: number, count: number): Int32Array {
  return Int32Array.from({ length: count + 1 }, (_, i) => Math.floor(i * length / count));
}

/**
 * Bilinear interpolation of per-tile levels over the picture, linear extrapolation beyond the
 * outer tile centres: calls `row(y, values)` with the background of each row.
 */
class TileMap {
  readonly width: number;
  readonly height: number;
  readonly #nx: number;
  readonly #ny: number;
  readonly #cx: Float64Array;
  readonly #cy: Float64Array;
  readonly #x0: Int32Array; // per column: left tile index
  readonly #tx: Float32Array; // per column: weight of the right tile
  readonly #line: Float32Array; // the tile row interpolated at the current y
  readonly #row: Float32Array;

  constructor(width: number, height: number, xs: Int32Array, ys: Int32Array) {
    this.width = width;
    this.height = height;
    this.#nx = xs.length - 1;
    this.#ny = ys.length - 1;
    this.#cx = Float64Array.from({ length: this.#nx }, (_, i) => (xs[i] + xs[i + 1] - 1) / 2);
    this.#cy = Float64Array.from({ length: this.#ny }, (_, i) => (ys[i] + ys[i + 1] - 1) / 2);
    this.#x0 = new Int32Array(width);
    this.#tx = new Float32Array(width);
    for (let x = 0; x < width; x++) {
      const [i, t] = locate(this.#cx, x);
      this.#x0[x] = i;
      this.#tx[x] = t;
    }
    this.#line = new Float32Array(this.#nx);
    this.#row = new Float32Array(width);
  }

  /** The background of row `y` from tile levels `levels` (`ny × nx`). */
  row(levels: Float32Array, y: number): Float32Array {
    const nx = this.#nx, line = this.#line, row = this.#row;
    const [j, t] = locate(this.#cy, y);
    if (this.#ny === 1) line.set(levels.subarray(0, nx));
    else {
      for (let i = 0; i < nx; i++) {
        const a = levels[j * nx + i];
        line[i] = a + t * (levels[(j + 1) * nx + i] - a);
      }
    }
    if (nx === 1) row.fill(line[0]);
    else {
      const x0 = this.#x0, tx = this.#tx;
      for (let x = 0; x < row.length; x++) {
        const a = line[x0[x]];
        row[x] = a + tx[x] * (line[x0[x] + 1] - a);
      }
    }
    return row;
  }
}

/** Left index and weight of the right neighbour for position `p` among sorted centres `c`. */
function locate(c: Float64Array, p: number): [number, number] {
  if (c.length === 1) return [0, 0];
  let i = 0;
  while (i < c.length - 2 && p > c[i + 1]) i++;
  return [i, (p - c[i]) / (c[i + 1] - c[i])];
}

/** Per-tile quantiles q of the picture (sampled on a grid in large tiles): `ny × nx` each. */
function tileQuantiles(
  image: GrayImage,
  xs: Int32Array,
  ys: Int32Array,
  qs: readonly number[],
): Float32Array[] {
  const { width, data } = image;
  const nx = xs.length - 1, ny = ys.length - 1;
  const out = qs.map(() => new Float32Array(nx * ny));
  const scratch = new Float32Array(TILE_SAMPLES * 2);
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      const h = ys[j + 1] - ys[j], w = xs[i + 1] - xs[i];
      const step = Math.max(1, Math.ceil(Math.sqrt(h * w / TILE_SAMPLES)));
      let n = 0;
      for (let y = ys[j]; y < ys[j + 1]; y += step) {
        const base = y * width;
        for (let x = xs[i]; x < xs[i + 1]; x += step) scratch[n++] = data[base + x];
      }
      tileLevels(scratch, n, qs).forEach((v, k) => (out[k][j * nx + i] = v));
    }
  }
  return out;
}

/**
 * Quantiles `qs` (one, or the three quartiles 0.25, 0.5, 0.75) of `a[0..n)`: the median first,
 * then each outer quartile within its half of the partitioned array.
 */
function tileLevels(a: Float32Array, n: number, qs: readonly number[]): number[] {
  if (qs.length === 1) return [quantile(a, qs[0], n)];
  const k = (q: number) => Math.floor(q * (n - 1));
  const median = select(a, k(0.5), n);
  if (k(0.25) < k(0.5)) selectRange(a, k(0.25), 0, k(0.5) - 1);
  if (k(0.75) > k(0.5)) selectRange(a, k(0.75), k(0.5) + 1, n - 1);
  return [a[k(0.25)], median, a[k(0.75)]];
}

/** Median and σ (1.4826 · MAD) of `values` sampled with stride (≤ GLOBAL_SAMPLES values). */
function medianSigma(values: Float32Array): [number, number] {
  const step = Math.max(1, Math.ceil(values.length / GLOBAL_SAMPLES));
  const sample = new Float32Array(Math.ceil(values.length / step));
  let n = 0;
  for (let p = 0; p < values.length; p += step) sample[n++] = values[p];
  const work = sample.slice(0, n);
  const median = quantile(work, 0.5, n);
  for (let k = 0; k < n; k++) work[k] = Math.abs(sample[k] - median);
  return [median, MAD_SIGMA * quantile(work, 0.5, n)];
}

function checkOptions(options: NormalizeOptions, image: GrayImage) {
  const { polarity = "auto", background = true, contrast = true, denoise = true, out } = options;
  if (!["auto", "dark-ink", "light-ink"].includes(polarity)) {
    throw new RangeError(`options.polarity must be auto, dark-ink or light-ink, got ${polarity}`);
  }
  const tile = options.tile ?? Math.max(16, Math.ceil(Math.min(image.width, image.height) / 6));
  if (!Number.isInteger(tile) || tile < 1) {
    throw new RangeError(`options.tile must be a positive integer, got ${tile}`);
  }
  if (out !== undefined && !(out instanceof Float32Array && out.length === image.data.length)) {
    throw new RangeError(`options.out must be a Float32Array of ${image.data.length} values`);
  }
  if (out && out.buffer === image.data.buffer) {
    throw new RangeError("options.out must not share memory with image.data; pass another array");
  }
  return { polarity, background, contrast, denoise, tile, out };
}

/**
 * Normalises a grey picture to white ink on black in [0, 1] (module doc): polarity found or
 * forced, smooth background removed, noise floor cut, strokes scaled to 1. Values of `image`
 * must lie in [0, 1].
 *
 * @example
 * ```ts
 * import { normalizeImage } from "./normalize.ts";
 * // a dark stroke on light paper lit from the left
 * const width = 64, height = 64, data = new Float32Array(width * height);
 * for (let y = 0; y < height; y++) {
 *   for (let x = 0; x < width; x++) data[y * width + x] = 0.9 - 0.3 * x / width;
 * }
 * for (let y = 20; y < 44; y++) for (let x = 30; x < 33; x++) data[y * width + x] = 0.2;
 * const n = normalizeImage({ width, height, data });
 * console.log(n.polarity, n.data[0].toFixed(2), n.data[30 * width + 31].toFixed(2)); // dark-ink 0.00 1.00
 * ```
 */
export function normalizeImage(
  image: GrayImage,
  options: NormalizeOptions = {},
): NormalizedImage {
  checkGray(image);
  const { polarity: wanted, background, contrast, denoise, tile, out } = checkOptions(
    options,
    image,
  );
  const { width, height, data } = image;
  const bad = outOfUnit(data);
  if (bad >= 0) {
    throw new RangeError(`image.data[${bad}] is ${data[bad]}; values must lie in [0, 1]`);
  }
  const xs = edges(width, Math.max(1, Math.round(width / tile)));
  const ys = edges(height, Math.max(1, Math.round(height / tile)));
  const map = new TileMap(width, height, xs, ys);
  const result = out ?? new Float32Array(data.length);

  let polarity: Polarity = wanted === "auto" ? "light-ink" : wanted;
  const qs = wanted === "auto" ? [0.25, 0.5, 0.75] : polarity === "dark-ink" ? [0.75] : [0.25];
  const levels = background ? tileQuantiles(image, xs, ys, qs) : [];

  if (wanted === "auto") {
    // residual from the median background; the one-sided mass beyond the noise decides
    if (background) subtractMap(data, result, map, levels[1]);
    else result.set(data);
    const [median, sigma] = medianSigma(result);
    polarity = oneSidedMass(result, median, Math.max(3 * sigma, 0.02)) < 0
      ? "dark-ink"
      : "light-ink";
  }

  // the picture as light ink on black: divided by the paper, or minus the background
  const invert = polarity === "dark-ink";
  if (background) {
    if (invert) divideMap(data, result, map, levels[levels.length - 1]);
    else subtractMap(data, result, map, levels[0]);
  } else if (invert) {
    for (let p = 0; p < data.length; p++) result[p] = 1 - data[p];
  } else result.set(data);

  let [median, sigma] = medianSigma(result);
  const noise = sigma;
  const denoised = denoise && sigma > DENOISE_ABOVE;
  if (denoised) {
    result.set(gaussianBlur(result, height, width, DENOISE_SIGMA));
    [median, sigma] = medianSigma(result);
  }
  let floor = 0, stroke = 1;
  if (contrast) {
    floor = median + 3 * sigma;
    stroke = strokeLevel(result, width, floor);
    scaleClamp(result, floor, 1 / Math.max(stroke - floor, 0.1));
  } else scaleClamp(result, 0, 1);
  return {
    width,
    height,
    data: result,
    polarity,
    auto: wanted === "auto",
    noise,
    denoised,
    floor,
    stroke,
  };
}

/** Index of the first value outside [0, 1] (NaN included), or −1. */
function outOfUnit(data: Float32Array): number {
  for (let p = 0; p < data.length; p++) {
    const v = data[p];
    if (!(v >= 0 && v <= 1)) return p;
  }
  return -1;
}

/** `out = src − background`, the background interpolated from `levels`. */
function subtractMap(src: Float32Array, out: Float32Array, map: TileMap, levels: Float32Array) {
  const { width, height } = map;
  for (let y = 0; y < height; y++) {
    const row = map.row(levels, y);
    const base = y * width;
    for (let x = 0; x < width; x++) out[base + x] = src[base + x] - row[x];
  }
}

/**
 * `out = 1 − src / paper`: the ink's darkness under uneven light (the picture is the paper's
 * brightness times the ink's reflectance), the paper interpolated from `levels`.
 */
function divideMap(src: Float32Array, out: Float32Array, map: TileMap, levels: Float32Array) {
  const { width, height } = map;
  for (let y = 0; y < height; y++) {
    const row = map.row(levels, y);
    const base = y * width;
    for (let x = 0; x < width; x++) {
      const paper = row[x] > PAPER_MIN ? row[x] : PAPER_MIN;
      out[base + x] = 1 - src[base + x] / paper;
    }
  }
}

/** Mass of `r` above `median + t` minus its mass below `median − t`. */
function oneSidedMass(r: Float32Array, median: number, t: number): number {
  const hi = median + t, lo = median - t;
  let mass = 0;
  for (let p = 0; p < r.length; p++) {
    const v = r[p];
    if (v > hi) mass += v - hi;
    else if (v < lo) mass -= lo - v;
  }
  return mass;
}

/**
 * The strokes' level: a quantile of the values above `floor` at the strokes' ridges (pixels at
 * least as bright as both neighbours across, horizontally or vertically), i.e. of the strokes'
 * centres; floor + 1 when there are none.
 */
function strokeLevel(r: Float32Array, width: number, floor: number): number {
  const height = r.length / width;
  const ridge = new Float32Array(r.length);
  let count = 0;
  for (let y = 0; y < height; y++) {
    const base = y * width;
    for (let x = 0; x < width; x++) {
      const p = base + x, v = r[p];
      if (!(v > floor)) continue;
      const left = x > 0 ? r[p - 1] : -Infinity, right = x < width - 1 ? r[p + 1] : -Infinity;
      const up = y > 0 ? r[p - width] : -Infinity;
      const down = y < height - 1 ? r[p + width] : -Infinity;
      if ((v >= left && v >= right) || (v >= up && v >= down)) ridge[count++] = v;
    }
  }
  return count === 0 ? floor + 1 : quantile(ridge, STROKE_QUANTILE, count);
}

/** `r = clamp((r − floor) · gain, 0, 1)` in place. */
function scaleClamp(r: Float32Array, floor: number, gain: number): void {
  for (let p = 0; p < r.length; p++) {
    const v = (r[p] - floor) * gain;
    r[p] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
}
