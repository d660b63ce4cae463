/**
 * Where a detector goes wrong, at one operating point: the detections scoring at least
 * `minScore` are matched to the true digits of their image, best score first, each to the
 * unmatched true digit it overlaps most (IoU ≥ `iouThreshold`), whatever the labels. Matched
 * pairs fill a confusion matrix (true label × detected label); an unmatched true digit is
 * **missed**, an unmatched detection is **spurious** (a stroke read as a digit, a box spanning
 * two digits, or a second box on one digit).
 *
 * @module
 */
import { iou } from "../metrics.ts";
import { checkPairs, type ScoredBox, type TrueBox } from "./map.ts";

/** Options of {@linkcode confusions}. */
export interface ConfusionOptions {
  /** Least score of a detection that counts; default 0.5. */
  minScore?: number;
  /** Least IoU of a match; default 0.5. */
  iouThreshold?: number;
}

/** The outcome of {@linkcode confusions}. */
export interface Confusions {
  /** `matrix[t][d]`: true digits of label t matched by a detection of label d (10 × 10). */
  matrix: number[][];
  /** True digits no detection matched, per label. */
  missed: number[];
  /** Detections that matched no true digit, per detected label. */
  spurious: number[];
  /** Off-diagonal pairs, most frequent first: `{ truth, detected, count }`. */
  pairs: { truth: number; detected: number; count: number }[];
}

/**
 * Confusions of `detections` against `truths` (one list per image each); see the module doc.
 *
 * @example
 * ```ts
 * import { confusions } from "./confusions.ts";
 * const truths = [[{ label: 7, box: [0, 10, 0, 10] }, { label: 1, box: [0, 10, 20, 30] }]];
 * const found = [[{ label: 1, score: 0.9, box: [0, 10, 0, 10] }]]; // a 7 read as a 1
 * const c = confusions(found, truths);
 * console.log(c.pairs, c.missed[1]); // [{ truth: 7, detected: 1, count: 1 }] 1
 * ```
 */
export function confusions(
  detections: readonly (readonly ScoredBox[])[],
  truths: readonly (readonly TrueBox[])[],
  options: ConfusionOptions = {},
): Confusions {
  const { minScore = 0.5, iouThreshold = 0.5 } = options;
  checkPairs(detections, truths);
  if (!(iouThreshold > 0 && iouThreshold <= 1)) {
    throw new RangeError(`options.iouThreshold must be in (0, 1], got ${iouThreshold}`);
  }
  const matrix = Array.from({ length: 10 }, () => new Array<number>(10).fill(0));
  const missed = new Array<number>(10).fill(0);
  const spurious = new Array<number>(10).fill(0);
  for (const [i, list] of detections.entries()) {
    const kept = list
      .map((d, k) => ({ d, k }))
      .filter(({ d }) => d.score >= minScore)
      .sort((a, b) => b.d.score - a.d.score || a.k - b.k);
    const taken = new Array<boolean>(truths[i].length).fill(false);
    for (const { d } of kept) {
      let best = -1, bestIou = iouThreshold;
      for (const [j, t] of truths[i].entries()) {
        if (taken[j]) continue;
        const v = iou(d.box, t.box);
        if (v >= bestIou && (best < 0 || v > bestIou)) [best, bestIou] = [j, v];
      }
      if (best < 0) {
        spurious[d.label]++;
        continue;
      }
      taken[best] = true;
      matrix[truths[i][best].label][d.label]++;
    }
    for (const [j, t] of truths[i].entries()) if (!taken[j]) missed[t.label]++;
  }
  const pairs = matrix
    .flatMap((row, truth) =>
      row.map((count, detected) => ({ truth, detected, count }))
        .filter((p) => p.truth !== p.detected && p.count > 0)
    )
    .sort((a, b) => b.count - a.count || a.truth - b.truth || a.detected - b.detected);
  return { matrix, missed, spurious, pairs };
}
