/**
 * Prediction (assignment step 5): per image, keep the best window and convert its box from the
 * window frame back to image pixels (`y = windowTop + v · size`, likewise for x).
 *
 * "Best" is the window most sure that it holds a digit *and* of which digit:
 * `log sigmoid(objectness) + max log_softmax(classes)` (`select: "detection"`, the default; the
 * conditional loss only trains the class of windows that detect the digit, so a window that sees
 * nothing has no reason to have a low class score). `select: "class"` is the assignment's literal
 * rule, the highest max log-softmax class score alone; both pick the same window for models
 * trained with the assignment's targets (every window that sees ink is positive).
 *
 * Box voting (`vote`, default 0.5): the chosen box becomes the mean of the boxes of the windows
 * that agree with it (objectness > 0.5, same label, IoU ≥ `vote` with it), weighted by their
 * `sigmoid(objectness) · max softmax`; on 64×64 scenes it raised mean IoU from 0.780 to 0.811 for
 * one trained model (docs/quality.md). `vote: 0` keeps the chosen window's own box.
 *
 * @module
 */
import { type Tensor4D, tf } from "../deps.ts";
import type { WindowGeometry } from "../geometry.ts";
import type { Model } from "./model.ts";
import { OUTPUT } from "./layout.ts";
import { voteBox } from "../metrics.ts";

/** How {@linkcode decodeOutput} picks a window; see the module doc. */
export type WindowSelection = "detection" | "class";

/** Options of {@linkcode decodeOutput} and {@linkcode predict}. */
export interface DecodeOptions {
  /**
   * `"detection"` (default): the window with the best `log sigmoid(objectness) + max
   * log_softmax`; `"class"`: the best max log-softmax alone (the assignment's rule).
   */
  select?: WindowSelection;
  /**
   * Box voting: the least IoU with the chosen box of the agreeing windows whose boxes are
   * averaged into it; default 0.5, 0 = off (the chosen window's own box).
   */
  vote?: number;
}

function checkDecode(options: DecodeOptions): Required<DecodeOptions> {
  const { select = "detection", vote = 0.5 } = options;
  if (select !== "detection" && select !== "class") {
    throw new RangeError(
      `options.select must be "detection" or "class", got ${JSON.stringify(select)}`,
    );
  }
  if (!(vote >= 0 && vote <= 1)) {
    throw new RangeError(`options.vote must be in [0, 1], got ${vote}`);
  }
  return { select, vote };
}

/** Predictions for N images. */
export interface Prediction {
  /** Predicted digit per image. */
  labels: Int32Array;
  /** N × 4 boxes `[top, bottom, left, right]` in image pixels (continuous, like boundingBoxes). */
  boxes: Float32Array;
  /**
   * The chosen window's score per image (≤ 0): `log sigmoid(objectness) + max log_softmax`
   * (`select: "detection"`) or the max log-softmax alone (`select: "class"`).
   */
  scores: Float32Array;
  /** Index `row · cols + col` of the chosen window per image. */
  windows: Int32Array;
}

/**
 * Decodes network outputs [N, rows, cols, 15] into one prediction per image. `geometry` places
 * window (r, c) at `top = offset + r · stride`, `left = offset + c · stride`, side `size`. See the
 * module doc for `select` and `vote`.
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
  options: DecodeOptions = {},
): Promise<Prediction> {
  const [n, rows, cols, channels] = out.shape;
  if (channels !== OUTPUT.channels) {
    throw new RangeError(`out must have ${OUTPUT.channels} channels, got ${channels}`);
  }
  const { select, vote } = checkDecode(options);
  const K = 7; // per window: class score, log sigmoid(objectness), label, 4 box values
  const packed = tf.tidy(() => {
    const [logit, classLogits, box] = tf.split(out, [...OUTPUT.split], 3);
    const score = tf.max(tf.logSoftmax(classLogits), 3, true);
    const label = tf.reshape(tf.cast(tf.argMax(classLogits, 3), "float32"), [n, rows, cols, 1]);
    return tf.concat([score, tf.logSigmoid(logit), label, box], 3); // [N, r, c, 7]
  });
  const values = await packed.data();
  packed.dispose();
  const { size, stride, offset } = geometry;
  const cells = rows * cols;
  const labels = new Int32Array(n);
  const boxes = new Float32Array(n * 4);
  const scores = new Float32Array(n);
  const windows = new Int32Array(n);
  const windowBox = (i: number, w: number): number[] => {
    const v = (i * cells + w) * K;
    const top = offset + Math.floor(w / cols) * stride;
    const left = offset + (w % cols) * stride;
    return [
      top + values[v + 3] * size,
      top + values[v + 4] * size,
      left + values[v + 5] * size,
      left + values[v + 6] * size,
    ];
  };
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestScore = -Infinity;
    for (let w = 0; w < cells; w++) {
      const v = (i * cells + w) * K;
      const s = select === "class" ? values[v] : values[v] + values[v + 1];
      if (s > bestScore) {
        bestScore = s;
        best = w;
      }
    }
    const label = values[(i * cells + best) * K + 2];
    let box = windowBox(i, best);
    if (vote > 0) box = voteBox(box, label, agreeing(i), vote);
    labels[i] = label;
    scores[i] = bestScore;
    windows[i] = best;
    boxes.set(box, i * 4);
  }
  return { labels, boxes, scores, windows };

  /** The windows of image `i` that detect a digit (σ > 0.5), scored σ · max softmax. */
  function agreeing(i: number): { label: number; score: number; box: number[] }[] {
    const found = [];
    for (let w = 0; w < cells; w++) {
      const v = (i * cells + w) * K;
      if (values[v + 1] <= Math.log(0.5)) continue;
      found.push({
        label: values[v + 2],
        score: Math.exp(values[v] + values[v + 1]),
        box: windowBox(i, w),
      });
    }
    return found;
  }
}

/** Options of {@linkcode predict}. */
export interface PredictOptions extends DecodeOptions {
  /** Images per forward pass; default 256. */
  batchSize?: number;
  /**
   * Runs each forward pass instead of `model.apply`: a training step of
   * ../training/step.ts, e.g. a `GradientPool` (the batch split over all cores); default none.
   */
  step?: ForwardRunner;
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
  checkImages(model, images);
  checkDecode(options);
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
    const out = options.step
      ? await options.step.forward(model, batch)
      : tf.tidy(() => model.apply(batch));
    if (batch !== images) batch.dispose();
    parts.push(await decodeOutput(out, model.geometry, options));
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
