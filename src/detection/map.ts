/**
 * COCO-style mean average precision over the 10 digit classes (issue 9).
 *
 * For one class and one IoU threshold t: all detections of that class over all images, best
 * score first (ties: image order, then list order), are matched greedily — each to the unmatched
 * true box of its class in its image with the highest IoU, if that IoU is ≥ t (a true positive),
 * else it is a false positive. Precision is made non-increasing in recall (the upper envelope),
 * and AP is the mean of the interpolated precision at the 101 recalls 0, 0.01, …, 1 (0 where the
 * recall is never reached). Classes without any true box are left out of the mean, as in COCO.
 * mAP@[0.5:0.95] averages mAP over t = 0.50, 0.55, …, 0.95.
 *
 * @module
 */
import { iou } from "../metrics.ts";
import type { Box } from "../data/multi_scenes.ts";

/** A scored box of one class (a detection). */
export interface ScoredBox {
  /** Class 0–9. */
  label: number;
  /** Confidence; higher first. */
  score: number;
  /** `[top, bottom, left, right]`. */
  box: Box | readonly number[];
}

/** A true box of one class. */
export interface TrueBox {
  /** Class 0–9. */
  label: number;
  /** `[top, bottom, left, right]`. */
  box: Box | readonly number[];
}

/** The COCO IoU thresholds 0.50, 0.55, …, 0.95. */
export const COCO_THRESHOLDS: readonly number[] = Object.freeze(
  Array.from({ length: 10 }, (_, k) => (50 + 5 * k) / 100),
);

const RECALLS = Array.from({ length: 101 }, (_, k) => k / 100);

/** Throws a one-line error unless `detections` and `truths` hold one list per image each. */
export function checkPairs(detections: readonly unknown[], truths: readonly unknown[]): void {
  if (!Array.isArray(detections) || !Array.isArray(truths) || detections.length !== truths.length) {
    throw new RangeError(
      `detections and truths must be arrays with one list per image, got ${
        (detections as unknown[])?.length
      } and ${(truths as unknown[])?.length} images`,
    );
  }
}

/**
 * Average precision (101-point interpolated) of one class at one IoU threshold; `NaN` when the
 * class has no true box.
 *
 * @example
 * ```ts
 * import { averagePrecision } from "./map.ts";
 * const truths = [[{ label: 3, box: [0, 10, 0, 10] }, { label: 3, box: [20, 30, 0, 10] }]];
 * const found = [[{ label: 3, score: 0.9, box: [0, 10, 0, 10] }]]; // one of two digits found
 * console.log(averagePrecision(found, truths, { label: 3 })); // 51 / 101
 * ```
 */
export function averagePrecision(
  detections: readonly (readonly ScoredBox[])[],
  truths: readonly (readonly TrueBox[])[],
  options: { label: number; iouThreshold?: number },
): number {
  checkPairs(detections, truths);
  const { label, iouThreshold = 0.5 } = options;
  let total = 0;
  for (const list of truths) for (const t of list) if (t.label === label) total++;
  if (total === 0) return NaN;
  const ranked: { image: number; d: ScoredBox }[] = [];
  detections.forEach((list, image) => {
    for (const d of list) if (d.label === label) ranked.push({ image, d });
  });
  ranked.sort((a, b) => b.d.score - a.d.score); // stable
  const used = truths.map((list) => list.map(() => false));
  const precision: number[] = [];
  const recall: number[] = [];
  let tp = 0;
  for (const [k, { image, d }] of ranked.entries()) {
    let best = -1;
    let bestIou = iouThreshold;
    for (const [j, t] of truths[image].entries()) {
      if (t.label !== label || used[image][j]) continue;
      const v = iou(d.box, t.box);
      if (v >= bestIou) [best, bestIou] = [j, v];
    }
    if (best >= 0) {
      used[image][best] = true;
      tp++;
    }
    precision.push(tp / (k + 1));
    recall.push(tp / total);
  }
  for (let k = precision.length - 2; k >= 0; k--) {
    precision[k] = Math.max(precision[k], precision[k + 1]);
  }
  let sum = 0;
  let k = 0;
  for (const r of RECALLS) {
    while (k < recall.length && recall[k] < r) k++;
    if (k === recall.length) break;
    sum += precision[k];
  }
  return sum / RECALLS.length;
}

/** The result of {@linkcode meanAveragePrecision}. */
export interface MapResult {
  /** mAP at IoU 0.5. */
  map50: number;
  /** mAP at IoU 0.75. */
  map75: number;
  /** mAP averaged over the IoU thresholds (COCO: 0.50:0.05:0.95). */
  map: number;
  /** mAP at each IoU threshold. */
  byThreshold: { iouThreshold: number; map: number }[];
  /** Per class that has true boxes: their count, detections, AP@0.5 and AP@[thresholds]. */
  perClass: { label: number; truths: number; detections: number; ap50: number; ap: number }[];
}

/**
 * COCO-style mAP@0.5, mAP@0.75 and mAP@[0.5:0.95] over the classes that have true boxes.
 *
 * @example
 * ```ts
 * import { meanAveragePrecision } from "./map.ts";
 * const truths = [[{ label: 1, box: [0, 10, 0, 10] }], [{ label: 7, box: [5, 25, 5, 20] }]];
 * const found = [[{ label: 1, score: 0.8, box: [0, 10, 0, 10] }], []];
 * console.log(meanAveragePrecision(found, truths).map50); // 0.5 (class 1: 1, class 7: 0)
 * ```
 */
export function meanAveragePrecision(
  detections: readonly (readonly ScoredBox[])[],
  truths: readonly (readonly TrueBox[])[],
  options: { iouThresholds?: readonly number[] } = {},
): MapResult {
  checkPairs(detections, truths);
  const thresholds = options.iouThresholds ?? COCO_THRESHOLDS;
  if (thresholds.length === 0 || !thresholds.every((t) => t > 0 && t <= 1)) {
    throw new RangeError(`iouThresholds must be a non-empty list in (0, 1], got [${thresholds}]`);
  }
  const labels = [...new Set(truths.flatMap((list) => list.map((t) => t.label)))].sort((a, b) =>
    a - b
  );
  const count = (lists: readonly (readonly { label: number }[])[], label: number) =>
    lists.reduce((s, list) => s + list.filter((x) => x.label === label).length, 0);
  const table = labels.map((label) =>
    thresholds.map((t) => averagePrecision(detections, truths, { label, iouThreshold: t }))
  );
  const mean = (xs: number[]) => xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0;
  const byThreshold = thresholds.map((t, k) => ({
    iouThreshold: t,
    map: mean(table.map((row) => row[k])),
  }));
  const at = (t: number) => {
    const k = thresholds.findIndex((x) => Math.abs(x - t) < 1e-9);
    if (k >= 0) return byThreshold[k].map;
    return mean(
      labels.map((label) => averagePrecision(detections, truths, { label, iouThreshold: t })),
    );
  };
  return {
    map50: at(0.5),
    map75: at(0.75),
    map: mean(byThreshold.map((b) => b.map)),
    byThreshold,
    perClass: labels.map((label, i) => ({
      label,
      truths: count(truths, label),
      detections: count(detections, label),
      ap50: averagePrecision(detections, truths, { label, iouThreshold: 0.5 }),
      ap: mean(table[i]),
    })),
  };
}
