/**
 * One digit per canvas, as assignment step 1 wants it: the random draws behind a batch of scenes
 * ({@linkcode drawScenes}: digit, rotation, scale, placement that keeps all ink inside) and their
 * rendering ({@linkcode renderScenes}: one projective transform per image, bilinear). Single-digit
 * scenes (./scenes.ts) and multi-digit scenes (./multi_scenes.ts) are both built on it.
 *
 * Coordinates: pixel (r, c) has its centre at (r, c) in the transform's index coordinates and
 * covers [r, r + 1) × [c, c + 1) in box coordinates. The digit's 28 × 28 grid rotates about its
 * centre (13.5, 13.5). Bilinear sampling spreads an ink pixel over the open square of side 2 around
 * it, so placement keeps the rotated, scaled square around the ink box strictly inside
 * (−1, size) on both axes: no ink is ever cut by a border.
 *
 * @module
 */
import { type Tensor2D, type Tensor4D, tf } from "../deps.ts";
import { DIGIT_PIXELS, DIGIT_SIDE, type MnistSplit } from "./mnist.ts";
import { makeRng } from "../rng.ts";

/** Where scenes take their digits from: a split of {@linkcode loadMnist}. */
export type SceneSource = MnistSplit;

/** Options of {@linkcode makeScenes} and {@linkcode drawScenes}. */
export interface SceneOptions {
  /** Number of scenes. */
  count: number;
  /** Seed: the same seed gives bit-identical scenes on the same backend. */
  seed: number;
  /** Canvas side in pixels; default 64. */
  size?: number;
  /** Largest rotation in degrees (uniform in ±maxRotation); default 45. */
  maxRotation?: number;
  /** Range of the uniform scale factor; default [0.75, 1.25]. */
  scale?: readonly [number, number];
  /**
   * The source digit of each scene (`count` indices into the source), e.g. a slice of a shuffled
   * order so that an epoch sees every digit once; default: drawn at random (with replacement).
   */
  indices?: ArrayLike<number>;
}

/** The random draws behind a batch of scenes (what {@linkcode renderScenes} renders). */
export interface SceneParams {
  /** Canvas side in pixels. */
  size: number;
  /** Digit index in the source, per scene. */
  indices: Int32Array;
  /** Rotation in degrees, per scene. */
  angles: Float64Array;
  /** Scale factor, per scene. */
  scales: Float64Array;
  /** Canvas position (row, column; index coordinates) of the digit grid's centre, N × 2. */
  centers: Float64Array;
}

const CENTER = (DIGIT_SIDE - 1) / 2;
// Safety gap (pixels) against rounding when the digit is placed against a border.
const GAP = 0.01;

function checkSource(source: SceneSource): void {
  if (!source || !(source.count > 0) || source.images?.length !== source.count * DIGIT_PIXELS) {
    throw new TypeError(
      "source must be a non-empty MNIST split { images, labels, count } from loadMnist()",
    );
  }
}

// Ink boxes per source, computed on first use of each digit: [top, last, left, right] rows and
// columns (index coordinates), −1 = not computed yet.
const inkCache = new WeakMap<Uint8Array, Int16Array>();

/** Ink box of digit `index` in index coordinates: first/last ink row and column. */
function inkBox(source: SceneSource, index: number, out: Int16Array): void {
  let cache = inkCache.get(source.images);
  if (!cache) {
    cache = new Int16Array(source.count * 4).fill(-1);
    inkCache.set(source.images, cache);
  }
  const at = index * 4;
  if (cache[at] < 0) {
    const digit = source.images.subarray(index * DIGIT_PIXELS, (index + 1) * DIGIT_PIXELS);
    let top = DIGIT_SIDE, last = -1, left = DIGIT_SIDE, right = -1;
    for (let r = 0, p = 0; r < DIGIT_SIDE; r++) {
      for (let c = 0; c < DIGIT_SIDE; c++, p++) {
        if (digit[p] === 0) continue;
        if (top > r) top = r;
        last = r;
        if (left > c) left = c;
        if (right < c) right = c;
      }
    }
    if (last < 0) throw new RangeError(`Digit ${index} of the source has no ink; remove it`);
    cache.set([top, last, left, right], at);
  }
  out.set(cache.subarray(at, at + 4));
}

/**
 * Draws the random parameters of `count` scenes: digit, angle, scale, then a uniform position
 * among those that keep the whole (rotated, scaled) digit inside the canvas.
 *
 * @example
 * ```ts
 * import { drawScenes } from "./scenes.ts";
 * const source = { images: new Uint8Array(784).fill(255), labels: new Uint8Array([1]), count: 1 };
 * const params = drawScenes(source, { count: 2, seed: 0 });
 * console.log(params.angles.every((a) => Math.abs(a) <= 45)); // true
 * ```
 */
export function drawScenes(source: SceneSource, options: SceneOptions): SceneParams {
  checkSource(source);
  const { count, seed, size = 64, maxRotation = 45, scale = [0.75, 1.25], indices: chosen } =
    options;
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`count must be a non-negative integer, got ${count}`);
  }
  if (chosen !== undefined) {
    if (chosen.length !== count) {
      throw new RangeError(`indices must hold count (${count}) digits, got ${chosen.length}`);
    }
    for (let k = 0; k < count; k++) {
      const i = chosen[k];
      if (!Number.isInteger(i) || i < 0 || i >= source.count) {
        throw new RangeError(`indices[${k}] must be a digit index below ${source.count}, got ${i}`);
      }
    }
  }
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`size must be a positive integer, got ${size}`);
  }
  if (!(maxRotation >= 0)) throw new RangeError(`maxRotation must be ≥ 0, got ${maxRotation}`);
  if (!(scale[0] > 0 && scale[1] >= scale[0])) {
    throw new RangeError(`scale must be [lo, hi] with 0 < lo ≤ hi, got [${scale}]`);
  }
  const rng = makeRng(seed);
  const indices = new Int32Array(count);
  const angles = new Float64Array(count);
  const scales = new Float64Array(count);
  const centers = new Float64Array(2 * count);
  const ink = new Int16Array(4);
  for (let k = 0; k < count; k++) {
    const index = chosen ? chosen[k] : rng.int(source.count);
    const angle = rng.uniform(-maxRotation, maxRotation);
    const s = rng.uniform(scale[0], scale[1]);
    inkBox(source, index, ink);
    const [top, last, left, right] = ink;
    // Bilinear support of the ink: open square (top − 1, last + 1) × (left − 1, right + 1).
    const ys = [top - 1 - CENTER, last + 1 - CENTER];
    const xs = [left - 1 - CENTER, right + 1 - CENTER];
    const cos = Math.cos(angle * Math.PI / 180), sin = Math.sin(angle * Math.PI / 180);
    let minY = Infinity, maxY = -Infinity, minX = Infinity, maxX = -Infinity;
    for (const dy of ys) {
      for (const dx of xs) {
        const x = s * (cos * dx - sin * dy), y = s * (sin * dx + cos * dy);
        minY = Math.min(minY, y), maxY = Math.max(maxY, y);
        minX = Math.min(minX, x), maxX = Math.max(maxX, x);
      }
    }
    const [y0, y1] = [-1 - minY + GAP, size - maxY - GAP];
    const [x0, x1] = [-1 - minX + GAP, size - maxX - GAP];
    if (y0 > y1 || x0 > x1) {
      throw new RangeError(
        `size ${size} is too small for digit ${index} at scale ${s.toFixed(2)}; ` +
          `use a larger size or a smaller scale`,
      );
    }
    indices[k] = index;
    angles[k] = angle;
    scales[k] = s;
    centers[2 * k] = rng.uniform(y0, y1);
    centers[2 * k + 1] = rng.uniform(x0, x1);
  }
  return { size, indices, angles, scales, centers };
}

/**
 * Renders drawn scenes as a `[N, size + 2·margin, size + 2·margin, 1]` tensor in [0, 1], the
 * canvas shifted by `margin` pixels (margin 0: the scenes themselves; a margin shows what lies
 * around the canvas, e.g. to check that no ink is cut).
 *
 * @example
 * ```ts
 * import "../backends/backend.ts";
 * import { drawScenes, renderScenes } from "./scenes.ts";
 * const source = { images: new Uint8Array(784).fill(255), labels: new Uint8Array([1]), count: 1 };
 * const images = renderScenes(source, drawScenes(source, { count: 2, seed: 0, maxRotation: 0 }));
 * console.log(images.shape); // [2, 64, 64, 1]
 * images.dispose();
 * ```
 */
export function renderScenes(
  source: SceneSource,
  params: SceneParams,
  options: { margin?: number } = {},
): Tensor4D {
  checkSource(source);
  const { margin = 0 } = options;
  const n = params.indices.length;
  const side = params.size + 2 * margin;
  const digits = new Float32Array(n * DIGIT_PIXELS);
  const transforms = new Float32Array(n * 8);
  for (let k = 0; k < n; k++) {
    const i = params.indices[k];
    const bytes = source.images.subarray(i * DIGIT_PIXELS, (i + 1) * DIGIT_PIXELS);
    digits.set(bytes, k * DIGIT_PIXELS);
    // Output (x, y) → input: d = R(−θ)(out − t) / s + centre.
    const theta = params.angles[k] * Math.PI / 180, s = params.scales[k];
    const cos = Math.cos(theta) / s, sin = Math.sin(theta) / s;
    const ty = params.centers[2 * k] + margin, tx = params.centers[2 * k + 1] + margin;
    transforms.set([
      cos,
      sin,
      CENTER - cos * tx - sin * ty,
      -sin,
      cos,
      CENTER + sin * tx - cos * ty,
      0,
      0,
    ], 8 * k);
  }
  if (n === 0) return tf.zeros([0, side, side, 1]);
  return tf.tidy(() => {
    const input = tf.div(tf.tensor4d(digits, [n, DIGIT_SIDE, DIGIT_SIDE, 1]), 255) as Tensor4D;
    const warp = tf.tensor2d(transforms, [n, 8]);
    let out: Tensor4D;
    if (tf.getBackend() === "cpu") {
      // tfjs-backend-cpu 4.22.0 Transform returns after the first image of a batch: warp one by one.
      const images = tf.split(input, n);
      const ws = tf.split(warp, n);
      out = tf.concat(
        images.map((im, k) =>
          tf.image.transform(im as Tensor4D, ws[k] as Tensor2D, "bilinear", "constant", 0, [
            side,
            side,
          ])
        ),
      );
    } else {
      out = tf.image.transform(input, warp, "bilinear", "constant", 0, [side, side]);
    }
    return tf.clipByValue(out, 0, 1);
  });
}
