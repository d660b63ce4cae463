/**
 * Localization metrics: box IoU, class accuracy of the chosen window, mean IoU, hit rate (correct
 * class and IoU ≥ 0.5), and objectness precision/recall over all windows.
 *
 * Boxes are `[top, bottom, left, right]` in continuous pixel coordinates (bottom/right exclusive,
 * like boundingBoxes), so a box's area is `(bottom − top) · (right − left)`.
 *
 * @module
 */
import { type Tensor4D, tf } from "./deps.ts";
import { OUTPUT, TARGET } from "./model/layout.ts";

/**
 * Intersection over union of two boxes `[top, bottom, left, right]`; 0 when they do not overlap
 * or a box is empty (a predicted box with bottom < top counts as empty).
 *
 * @example
 * ```ts
 * import { iou } from "./metrics.ts";
 * console.log(iou([0, 10, 0, 10], [5, 15, 0, 10])); // 0.3333…
 * ```
 */
export function iou(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const areaA = Math.max(0, a[1] - a[0]) * Math.max(0, a[3] - a[2]);
  const areaB = Math.max(0, b[1] - b[0]) * Math.max(0, b[3] - b[2]);
  const ih = Math.max(0, Math.min(a[1], b[1]) - Math.max(a[0], b[0]));
  const iw = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[2], b[2]));
  const inter = ih * iw;
  const union = areaA + areaB - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Box voting: the score-weighted mean of the boxes of the `candidates` that carry `label` and
 * overlap `chosen` with IoU ≥ `minIou`; `chosen` itself (as an array) when none does. `detect`
 * votes each box kept by NMS over its proposals, `predict` the chosen window's box over the
 * windows that detect a digit.
 *
 * @example
 * ```ts
 * import { voteBox } from "./metrics.ts";
 * const near = [
 *   { label: 3, score: 3, box: [0, 10, 0, 10] },
 *   { label: 3, score: 1, box: [2, 12, 0, 10] },
 *   { label: 5, score: 9, box: [2, 12, 0, 10] }, // another label: left out
 * ];
 * console.log(voteBox([0, 10, 0, 10], 3, near, 0.5)); // [0.5, 10.5, 0, 10]
 * ```
 */
export function voteBox(
  chosen: ArrayLike<number>,
  label: number,
  candidates: readonly { label: number; score: number; box: ArrayLike<number> }[],
  minIou: number,
): number[] {
  const sum = [0, 0, 0, 0];
  let weight = 0;
  for (const c of candidates) {
    if (c.label !== label || iou(c.box, chosen) < minIou) continue;
    weight += c.score;
    for (let k = 0; k < 4; k++) sum[k] += c.score * c.box[k];
  }
  return weight > 0 ? sum.map((v) => v / weight) : Array.from(chosen);
}

/** Per-image localization quality over a batch. */
export interface LocalizationMetrics {
  /** Images. */
  count: number;
  /** Fraction with the right label. */
  accuracy: number;
  /** Mean IoU of predicted vs true box. */
  meanIou: number;
  /** Fraction with the right label and IoU ≥ 0.5. */
  hitRate: number;
}

/**
 * Compares predictions with the truth: labels (N) and boxes (N × 4) on both sides.
 *
 * @example
 * ```ts
 * import { localizationMetrics } from "./metrics.ts";
 * const m = localizationMetrics(
 *   { labels: [3], boxes: [0, 10, 0, 10] },
 *   { labels: [3], boxes: [0, 10, 0, 20] },
 * );
 * console.log(m); // { count: 1, accuracy: 1, meanIou: 0.5, hitRate: 1 }
 * ```
 */
export function localizationMetrics(
  predicted: { labels: ArrayLike<number>; boxes: ArrayLike<number> },
  truth: { labels: ArrayLike<number>; boxes: ArrayLike<number> },
): LocalizationMetrics {
  const n = truth.labels.length;
  if (
    predicted.labels.length !== n || predicted.boxes.length !== 4 * n ||
    truth.boxes.length !== 4 * n
  ) {
    throw new RangeError(
      `predicted and truth must hold the same number of images (labels N, boxes 4N), got ` +
        `${predicted.labels.length}/${predicted.boxes.length} vs ${n}/${truth.boxes.length}`,
    );
  }
  let correct = 0, iouSum = 0, hits = 0;
  const pb = Array.from(predicted.boxes);
  const tb = Array.from(truth.boxes);
  for (let i = 0; i < n; i++) {
    const v = iou(pb.slice(4 * i, 4 * i + 4), tb.slice(4 * i, 4 * i + 4));
    const right = predicted.labels[i] === truth.labels[i];
    if (right) correct++;
    iouSum += v;
    if (right && v >= 0.5) hits++;
  }
  return {
    count: n,
    accuracy: n ? correct / n : 0,
    meanIou: n ? iouSum / n : 0,
    hitRate: n ? hits / n : 0,
  };
}

/** Window-level objectness confusion counts (a window is predicted positive when sigmoid > 0.5). */
export interface ObjectnessCounts {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/**
 * Counts objectness true/false positives/negatives over all windows of outputs
 * [N, rows, cols, 15] against targets [N, rows, cols, 6].
 *
 * @example
 * ```ts
 * import { useBackend } from "./backends/backend.ts";
 * await useBackend("cpu");
 * import { objectnessCounts } from "./metrics.ts";
 * import { type Tensor4D, tf } from "./deps.ts";
 * const c = await objectnessCounts(tf.ones([1, 1, 2, 15]) as Tensor4D, tf.ones([1, 1, 2, 6]) as Tensor4D);
 * console.log(c); // { tp: 2, fp: 0, fn: 0, tn: 0 }
 * ```
 */
export async function objectnessCounts(
  out: Tensor4D,
  target: Tensor4D,
): Promise<ObjectnessCounts> {
  const packed = tf.tidy(() => {
    const o = OUTPUT.objectness, t = TARGET.objectness;
    const p = tf.cast(tf.greater(tf.slice(out, [0, 0, 0, o], [-1, -1, -1, 1]), 0), "float32");
    const y = tf.slice(target, [0, 0, 0, t], [-1, -1, -1, 1]);
    const tp = tf.sum(tf.mul(p, y));
    return tf.stack([tp, tf.sum(p), tf.sum(y)]);
  });
  const [tp, predicted, actual] = await packed.data();
  packed.dispose();
  const total = out.size / out.shape[3];
  return { tp, fp: predicted - tp, fn: actual - tp, tn: total - predicted - actual + tp };
}

/**
 * Precision and recall from objectness counts (1 when the denominator is 0).
 *
 * @example
 * ```ts
 * import { precisionRecall } from "./metrics.ts";
 * console.log(precisionRecall({ tp: 3, fp: 1, fn: 0, tn: 5 })); // { precision: 0.75, recall: 1 }
 * ```
 */
export function precisionRecall(c: ObjectnessCounts): { precision: number; recall: number } {
  return {
    precision: c.tp + c.fp ? c.tp / (c.tp + c.fp) : 1,
    recall: c.tp + c.fn ? c.tp / (c.tp + c.fn) : 1,
  };
}
