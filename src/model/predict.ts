/**
 * Prediction (assignment step 5): per image, keep the window with the highest max log-softmax
 * class score, and convert its box from the window frame back to image pixels
 * (`y = windowTop + v · size`, likewise for x).
 *
 * @module
 */
import { type Tensor4D, tf } from "../deps.ts";
import type { WindowGeometry } from "../geometry.ts";
import type { Model } from "./model.ts";
import { OUTPUT } from "./layout.ts";
import { ensureBackend } from "../backends/backend.ts";

/** Predictions for N images. */
export interface Prediction {
  /** Predicted digit per image. */
  labels: Int32Array;
  /** N × 4 boxes `[top, bottom, left, right]` in image pixels (continuous, like boundingBoxes). */
  boxes: Float32Array;
  /** The chosen window's max log-softmax class score per image (≤ 0). */
  scores: Float32Array;
  /** Index `row · cols + col` of the chosen window per image. */
  windows: Int32Array;
}

/**
 * Decodes network outputs [N, rows, cols, 15] into one prediction per image. `geometry` places
 * window (r, c) at `top = offset + r · stride`, `left = offset + c · stride`, side `size`.
 *
 * @example
 * ```ts
 * import { decodeOutput } from "./predict.ts";
 * import { type Tensor4D, tf } from "../deps.ts";
 * const out = tf.zeros([1, 2, 2, 15]) as Tensor4D;
 * const p = await decodeOutput(out, { size: 40, stride: 4, offset: 0 });
 * console.log(p.labels, p.boxes); // Int32Array [0], Float32Array [0, 0, 0, 0]
 * ```
 */
export async function decodeOutput(
  out: Tensor4D,
  geometry: WindowGeometry,
): Promise<Prediction> {
  const [n, rows, cols, channels] = out.shape;
  if (channels !== OUTPUT.channels) {
    throw new RangeError(`out must have ${OUTPUT.channels} channels, got ${channels}`);
  }
  const packed = tf.tidy(() => {
    const [, classLogits, box] = tf.split(out, [...OUTPUT.split], 3);
    const logp = tf.logSoftmax(classLogits);
    const score = tf.max(logp, 3, true);
    const label = tf.reshape(tf.cast(tf.argMax(logp, 3), "float32"), [n, rows, cols, 1]);
    return tf.concat([score, label, box], 3); // [N, r, c, 6]
  });
  const values = await packed.data();
  packed.dispose();
  const { size, stride, offset } = geometry;
  const cells = rows * cols;
  const labels = new Int32Array(n);
  const boxes = new Float32Array(n * 4);
  const scores = new Float32Array(n);
  const windows = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestScore = -Infinity;
    for (let w = 0; w < cells; w++) {
      const s = values[(i * cells + w) * 6];
      if (s > bestScore) {
        bestScore = s;
        best = w;
      }
    }
    const v = (i * cells + best) * 6;
    const top = offset + Math.floor(best / cols) * stride;
    const left = offset + (best % cols) * stride;
    labels[i] = values[v + 1];
    scores[i] = bestScore;
    windows[i] = best;
    boxes[i * 4] = top + values[v + 2] * size;
    boxes[i * 4 + 1] = top + values[v + 3] * size;
    boxes[i * 4 + 2] = left + values[v + 4] * size;
    boxes[i * 4 + 3] = left + values[v + 5] * size;
  }
  return { labels, boxes, scores, windows };
}

/** Options of {@linkcode predict}. */
export interface PredictOptions {
  /** Images per forward pass; default 256. */
  batchSize?: number;
  /**
   * Runs each forward pass instead of `model.apply`: a training step of
   * ../training/step.ts, e.g. a `GradientPool` (the batch split over all cores); default none.
   */
  step?: ForwardRunner;
  /** @deprecated The old name of {@linkcode PredictOptions.step}. */
  pool?: ForwardRunner;
}

/** Something that runs a model's forward pass on a batch (every training step does). */
export interface ForwardRunner {
  /** The raw outputs `[N, rows, cols, 15]` of `model` on `images`, like `model.apply`. */
  forward(model: Model, images: Tensor4D): Promise<Tensor4D>;
}

/**
 * Checks that `images` is a `[N, H, W, C]` batch at least one window wide and high, so the model
 * has a window to slide; throws a one-line error naming `images` otherwise.
 *
 * @example
 * ```ts
 * import { buildModel } from "./model.ts";
 * import { checkImages } from "./predict.ts";
 * import { tf } from "../deps.ts";
 * checkImages(buildModel(), tf.zeros([1, 64, 64, 1])); // fine; 32×32 would throw
 * ```
 */
export function checkImages(model: Model, images: Tensor4D): void {
  if (images.rank !== 4) {
    throw new TypeError(`images must be a [N, H, W, 1] tensor, got shape [${images.shape}]`);
  }
  const [, h, w] = images.shape;
  const { size } = model.geometry;
  if (h < size || w < size) {
    throw new RangeError(`images must be at least ${size}×${size} (the window), got ${h}×${w}`);
  }
}

/**
 * Localizes and classifies the single digit of each image [N, H, W, 1] (any H, W ≥ the window).
 *
 * @example
 * ```ts
 * import { buildModel } from "./model.ts";
 * import { predict } from "./predict.ts";
 * import { type Tensor4D, tf } from "../deps.ts";
 * const model = buildModel();
 * const { labels, boxes } = await predict(model, tf.zeros([2, 128, 128, 1]));
 * console.log(labels.length, boxes.length); // 2 8
 * ```
 */
export async function predict(
  model: Model,
  images: Tensor4D,
  options: PredictOptions = {},
): Promise<Prediction> {
  await ensureBackend();
  checkImages(model, images);
  const [n] = images.shape;
  const batchSize = options.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`options.batchSize must be a positive integer, got ${batchSize}`);
  }
  const parts: Prediction[] = [];
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    const batch = n === count
      ? images
      : tf.slice(images, [start, 0, 0, 0], [count, -1, -1, -1]) as Tensor4D;
    const runner = options.step ?? options.pool;
    const out = runner ? await runner.forward(model, batch) : tf.tidy(() => model.apply(batch));
    if (batch !== images) batch.dispose();
    parts.push(await decodeOutput(out, model.geometry));
    out.dispose();
  }
  return concatPredictions(parts);
}

function concatPredictions(parts: Prediction[]): Prediction {
  if (parts.length === 1) return parts[0];
  const cat = <T extends Int32Array | Float32Array>(
    key: keyof Prediction,
    make: (n: number) => T,
  ) => {
    const total = parts.reduce((s, p) => s + p[key].length, 0);
    const out = make(total);
    let at = 0;
    for (const p of parts) {
      out.set(p[key], at);
      at += p[key].length;
    }
    return out;
  };
  return {
    labels: cat("labels", (k) => new Int32Array(k)),
    boxes: cat("boxes", (k) => new Float32Array(k)),
    scores: cat("scores", (k) => new Float32Array(k)),
    windows: cat("windows", (k) => new Int32Array(k)),
  };
}
