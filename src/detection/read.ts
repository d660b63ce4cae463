/**
 * Reading: detected digits grouped into lines and numbers, the strings returned with their boxes
 * and confidence, and the share of true numbers read right.
 *
 * {@linkcode groupNumbers} is plain TypeScript on detections (`{ label, score, box }`):
 *
 * 1. **Filter.** Detections with score < `minScore` are dropped. Of two that are one digit seen
 *    twice the lower score is dropped: two that overlap with IoU ≥ `duplicateIou` (e.g. one digit
 *    under two labels), or two of the same label whose intersection covers ≥ `sameLabelOverlap`
 *    of the smaller box (a thin "1" boxed twice, side by side). Then, best score first, a
 *    *straddler* is dropped: a detection whose box is covered at least `straddle` by the kept
 *    detections that score above its score / 0.9 — the detector's reading of the seam between
 *    two touching digits ("815" read "8115"). Digits written overlapping that much are rare (in
 *    the `strings` condition the other digits' boxes cover ≥ 0.6 of 3 of 10 020 true digits'
 *    boxes, at most 0.75), and a real one usually scores as high as its neighbours.
 * 2. **Lines.** Digits are taken left to right (by the centre of their box). Each joins the line
 *    whose last digit is nearest to its left among those that share its rows — the last digit's
 *    band moved by the line's slope over the horizontal distance, so a slanted line is followed —
 *    and are of a like height (the taller at most `heightRatio` times the shorter), or starts a
 *    new line. Sharing rows means a vertical overlap of at least 0.5 of the smaller height, and
 *    of `lineOverlap` (0.65) for a digit whose box reaches over the last digit's columns: written
 *    digits touch or overlap a little in the same rows, while a box drawn half a line off over a
 *    number's columns is the detector's reading of the space between two lines, not one more
 *    digit (on held-out pictures this read 0.4–0.9 points more numbers); side by side,
 *    handwriting's digits sit higher and lower (an MNIST 7 hangs a third of a height below a 6).
 *    The slope is a least-squares fit of the line's centres, shrunk towards 0 (by a prior worth a
 *    run of one digit height), so two jittered digits do not make a slant. Lines are ordered top
 *    to bottom by the mean centre of their digits. The height rule keeps apart what a line of
 *    written digits never holds: a number written half the size next to another, and a box the
 *    detector drew over two lines (a coarse pyramid level reading two rows of small digits as
 *    one).
 * 3. **Numbers.** Within a line, a number ends where the horizontal gap to the next digit
 *    exceeds `numberGap` times the taller of the two digits. Touching and overlapping digits
 *    (negative gaps) stay in one number.
 *
 * A number's confidence is the product of its digits' scores: if the scores were the
 * probabilities that each digit is right, independently, it would be the probability that the
 * whole string is right. Its box is the union of the digits' boxes.
 *
 * {@linkcode numberAccuracy} counts a true number `{ text, box }` as read right when a reading has
 * exactly its text and a box with IoU ≥ 0.5 with its box, each reading matching at most one true
 * number (a maximum matching, so the count does not depend on order).
 *
 * @module
 */
import type { Tensor4D } from "../deps.ts";
import { iou } from "../metrics.ts";
import type { Model } from "../model/model.ts";
import type { Box } from "../data/multi_scenes.ts";
import { detect, type Detection, type DetectOptions, type PyramidOptions } from "./detect.ts";

/** A number read in a picture. */
export interface ReadNumber {
  /** The digits, left to right, e.g. "3051". */
  text: string;
  /** Union of the digits' boxes, `[top, bottom, left, right]` in image pixels. */
  box: Box;
  /** Product of the digits' scores, in [0, 1]. */
  confidence: number;
  /** The digits, left to right. */
  digits: Detection[];
  /** Index of the number's line, 0 at the top. */
  line: number;
}

/** Options of {@linkcode groupNumbers}. */
export interface GroupOptions {
  /** Detections with a lower score are not read; default 0.5. */
  minScore?: number;
  /** Of two detections with IoU ≥ this, the lower score is dropped; default 0.5 (1: off). */
  duplicateIou?: number;
  /**
   * Of two detections of one label whose intersection covers at least this share of the smaller
   * box, the lower score is dropped; default 0.5 (1: off).
   */
  sameLabelOverlap?: number;
  /**
   * Vertical overlap, as a share of the smaller height, that puts two digits on a line; default
   * 0.65 for a digit whose box reaches over the columns of the line's last digit, at most 0.5 for
   * one beside it (module doc): a box the detector draws half a line off over a number (~0.55)
   * starts a line of its own instead of joining the number as one more digit.
   */
  lineOverlap?: number;
  /** A gap wider than this times the taller neighbour's height starts a new number; 0.6. */
  numberGap?: number;
  /** Most ratio of two heights (taller / shorter) on one line; default 1.75 (Infinity: off). */
  heightRatio?: number;
  /**
   * A detection whose box is covered this much by detections scoring above its score / 0.9 is
   * dropped (a seam between two digits read as one more); default 0.6 (0: off).
   */
  straddle?: number;
}

/** A true number of a picture, for {@linkcode numberAccuracy}. */
export interface TrueNumber {
  /** Its digits, e.g. "3051". */
  text: string;
  /** Its box `[top, bottom, left, right]`. */
  box: readonly number[];
}

/** What {@linkcode numberAccuracy} counts. */
export interface NumberAccuracy {
  /** `right / truths`: the share of true numbers read right (NaN when there are none). */
  accuracy: number;
  /** True numbers read right (same text, IoU ≥ the threshold, one reading each). */
  right: number;
  /** True numbers. */
  truths: number;
  /** Numbers read. */
  readings: number;
  /** Readings that match no true number (other text or place). */
  spurious: number;
}

type BoxLike = readonly number[];

/**
 * Vertical overlap (share of the smaller height) that puts a digit beside the line's last one, not
 * over its columns, on the line (`lineOverlap` when that is lower).
 */
const BESIDE_OVERLAP = 0.5;

const height = (b: BoxLike) => b[1] - b[0];
const centreX = (b: BoxLike) => (b[2] + b[3]) / 2;
const centreY = (b: BoxLike) => (b[0] + b[1]) / 2;

/** The grouping options that are shares, in [0, 1]. */
const UNIT_OPTIONS = [
  "minScore",
  "duplicateIou",
  "sameLabelOverlap",
  "lineOverlap",
  "straddle",
] as const;

function checkGroup(options: GroupOptions): Required<GroupOptions> {
  const o: Required<GroupOptions> = {
    minScore: options.minScore ?? 0.5,
    duplicateIou: options.duplicateIou ?? 0.5,
    sameLabelOverlap: options.sameLabelOverlap ?? 0.5,
    lineOverlap: options.lineOverlap ?? 0.65,
    numberGap: options.numberGap ?? 0.6,
    heightRatio: options.heightRatio ?? 1.75,
    straddle: options.straddle ?? 0.6,
  };
  for (const name of UNIT_OPTIONS) {
    const v = o[name];
    if (!(v >= 0 && v <= 1)) throw new RangeError(`options.${name} must be in [0, 1], got ${v}`);
  }
  if (!(o.numberGap >= 0)) {
    throw new RangeError(`options.numberGap must be ≥ 0, got ${o.numberGap}`);
  }
  if (!(o.heightRatio >= 1)) {
    throw new RangeError(`options.heightRatio must be ≥ 1 (Infinity: off), got ${o.heightRatio}`);
  }
  return o;
}

function checkDetection(d: Detection, i: number): void {
  const b = d?.box;
  if (
    !d || !Number.isInteger(d.label) || d.label < 0 || d.label > 9 || !(d.score >= 0) ||
    !b || b.length !== 4 || !b.every(Number.isFinite) || !(b[1] > b[0] && b[3] > b[2])
  ) {
    throw new RangeError(
      `detections[${i}] must be { label: 0–9, score ≥ 0, box: [top, bottom, left, right] with ` +
        `bottom > top and right > left }, got ${JSON.stringify(d)}`,
    );
  }
}

/** A total order on detections by content: left to right, then top, then the rest. */
function leftToRight(a: Detection, b: Detection): number {
  return centreX(a.box) - centreX(b.box) || a.box[0] - b.box[0] || a.box[1] - b.box[1] ||
    a.box[2] - b.box[2] || a.box[3] - b.box[3] || a.label - b.label || a.score - b.score;
}

/** A line being built: its digits left to right and the sums of its centres' fit. */
class Line {
  readonly digits: Detection[] = [];
  #n = 0;
  #sx = 0;
  #sy = 0;
  #sxx = 0;
  #sxy = 0;

  add(d: Detection): void {
    const x = centreX(d.box), y = centreY(d.box);
    this.digits.push(d);
    this.#n++;
    this.#sx += x;
    this.#sy += y;
    this.#sxx += x * x;
    this.#sxy += x * y;
  }

  get last(): Detection {
    return this.digits[this.digits.length - 1];
  }

  /** Least-squares slope of the centres, shrunk by a prior worth a run of one digit height. */
  slope(): number {
    const n = this.#n;
    if (n < 2) return 0;
    const sxx = this.#sxx - this.#sx * this.#sx / n;
    const sxy = this.#sxy - this.#sx * this.#sy / n;
    const h = height(this.last.box);
    const s = sxy / (sxx + h * h);
    return Math.max(-0.3, Math.min(0.3, s));
  }

  /** Mean vertical centre. */
  get meanY(): number {
    return this.#sy / this.#n;
  }
}

/**
 * Vertical overlap of `d` with the line's last digit moved along the line's slope to `d`'s
 * centre, as a share of the smaller height.
 */
function lineOverlapOf(line: Line, d: Detection): number {
  const last = line.last.box;
  const shift = line.slope() * (centreX(d.box) - centreX(last));
  const top = Math.max(last[0] + shift, d.box[0]);
  const bottom = Math.min(last[1] + shift, d.box[1]);
  return (bottom - top) / Math.min(height(last), height(d.box));
}

/** Share of the smaller of two boxes that their intersection covers. */
function overlapOfSmaller(a: BoxLike, b: BoxLike): number {
  const ih = Math.min(a[1], b[1]) - Math.max(a[0], b[0]);
  const iw = Math.min(a[3], b[3]) - Math.max(a[2], b[2]);
  if (ih <= 0 || iw <= 0) return 0;
  const smaller = Math.min((a[1] - a[0]) * (a[3] - a[2]), (b[1] - b[0]) * (b[3] - b[2]));
  return ih * iw / smaller;
}

/** Drops the lower-scored of two detections of one digit (greedy, best first; module doc). */
function dropDuplicates(
  detections: Detection[],
  options: { duplicateIou: number; sameLabelOverlap: number },
): Detection[] {
  const { duplicateIou, sameLabelOverlap } = options;
  const byScore = [...detections].sort((a, b) => b.score - a.score || leftToRight(a, b));
  const kept: Detection[] = [];
  const twin = (k: Detection, d: Detection) =>
    (duplicateIou < 1 && iou(k.box, d.box) >= duplicateIou) ||
    (sameLabelOverlap < 1 && k.label === d.label &&
      overlapOfSmaller(k.box, d.box) >= sameLabelOverlap);
  for (const d of byScore) if (!kept.some((k) => twin(k, d))) kept.push(d);
  return kept;
}

/**
 * Share of box `d`'s area (`[top, bottom, left, right]`) that the union of `boxes` covers: exact,
 * by splitting `d` at every edge of the boxes into cells that each box covers wholly or not at
 * all. {@linkcode groupNumbers} drops a detection that better ones cover this much (`straddle`).
 *
 * @example
 * ```ts
 * import { coveredShare } from "./read.ts";
 * // the seam between two touching digits: covered on its left by one, on its right by the other
 * console.log(coveredShare([0, 20, 10, 20], [[0, 20, 0, 14], [0, 20, 17, 30]])); // 0.7
 * ```
 */
export function coveredShare(
  d: readonly number[],
  boxes: readonly (readonly number[])[],
): number {
  const area = (d[1] - d[0]) * (d[3] - d[2]);
  const clip = (
    b: readonly number[],
  ) => [Math.max(b[0], d[0]), Math.min(b[1], d[1]), Math.max(b[2], d[2]), Math.min(b[3], d[3])];
  const clipped = boxes.map(clip).filter((b) => b[1] > b[0] && b[3] > b[2]);
  if (clipped.length === 0 || !(area > 0)) return 0;
  const cuts = (k0: number, k1: number) =>
    [...new Set([d[k0], d[k1], ...clipped.flatMap((b) => [b[k0], b[k1]])])].sort((x, y) => x - y);
  const ys = cuts(0, 1), xs = cuts(2, 3);
  let covered = 0;
  for (let i = 0; i + 1 < ys.length; i++) {
    const y = (ys[i] + ys[i + 1]) / 2;
    for (let j = 0; j + 1 < xs.length; j++) {
      const x = (xs[j] + xs[j + 1]) / 2;
      if (clipped.some((b) => b[0] <= y && y <= b[1] && b[2] <= x && x <= b[3])) {
        covered += (ys[i + 1] - ys[i]) * (xs[j + 1] - xs[j]);
      }
    }
  }
  return covered / area;
}

/** A straddler scores below this times each detection that covers it. */
const STRADDLE_MARGIN = 0.9;

/**
 * Drops straddlers (module doc, step 1): best score first, a detection is dropped when the kept
 * detections scoring above its score / 0.9 cover at least `straddle` of its box.
 */
function dropStraddlers(byScore: readonly Detection[], straddle: number): Detection[] {
  if (straddle <= 0) return [...byScore];
  const kept: Detection[] = [];
  for (const d of byScore) {
    const better = kept.filter((k) => STRADDLE_MARGIN * k.score > d.score).map((k) => k.box);
    if (coveredShare(d.box, better) < straddle) kept.push(d);
  }
  return kept;
}

/** One number from digits (left to right) of line `line`. */
function makeNumber(digits: Detection[], line: number): ReadNumber {
  const box: Box = [Infinity, -Infinity, Infinity, -Infinity];
  let confidence = 1;
  for (const d of digits) {
    box[0] = Math.min(box[0], d.box[0]);
    box[1] = Math.max(box[1], d.box[1]);
    box[2] = Math.min(box[2], d.box[2]);
    box[3] = Math.max(box[3], d.box[3]);
    confidence *= d.score;
  }
  return { text: digits.map((d) => d.label).join(""), box, confidence, digits, line };
}

/**
 * Groups detected digits into lines (top to bottom) and, within each line, into numbers (left to
 * right); see the module doc for the rules. The result does not depend on the order of
 * `detections`.
 *
 * @example
 * ```ts
 * import { groupNumbers } from "./read.ts";
 * const d = (label: number, left: number, top = 10) => ({
 *   label,
 *   score: 0.9,
 *   box: [top, top + 20, left, left + 12] as [number, number, number, number],
 * });
 * const numbers = groupNumbers([d(4, 54), d(1, 0), d(7, 14), d(2, 40), d(9, 0, 50)]);
 * console.log(numbers.map((n) => `${n.line}: ${n.text}`)); // ["0: 17", "0: 24", "1: 9"]
 * console.log(numbers[0].box, numbers[0].confidence.toFixed(2)); // [10, 30, 0, 26] 0.81
 * ```
 */
export function groupNumbers(
  detections: readonly Detection[],
  options: GroupOptions = {},
): ReadNumber[] {
  if (!Array.isArray(detections)) {
    throw new TypeError("detections must be an array of { label, score, box }");
  }
  detections.forEach(checkDetection);
  const {
    minScore,
    duplicateIou,
    sameLabelOverlap,
    lineOverlap,
    numberGap,
    heightRatio,
    straddle,
  } = checkGroup(options);
  const digits = dropStraddlers(
    dropDuplicates(
      detections.filter((d) => d.score >= minScore),
      { duplicateIou, sameLabelOverlap },
    ),
    straddle,
  ).sort(leftToRight);
  const lines: Line[] = [];
  for (const d of digits) {
    let best: Line | undefined, bestDistance = Infinity, bestOverlap = -Infinity;
    for (const line of lines) {
      const overlap = lineOverlapOf(line, d);
      // reaching over the last digit's columns, a digit must sit in its rows (module doc)
      const over = d.box[2] < line.last.box[3];
      if (overlap < (over ? lineOverlap : Math.min(lineOverlap, BESIDE_OVERLAP))) continue;
      const h = height(d.box), last = height(line.last.box);
      if (Math.max(h, last) > heightRatio * Math.min(h, last)) continue;
      const distance = centreX(d.box) - centreX(line.last.box);
      if (distance < bestDistance || (distance === bestDistance && overlap > bestOverlap)) {
        best = line;
        bestDistance = distance;
        bestOverlap = overlap;
      }
    }
    if (!best) {
      best = new Line();
      lines.push(best);
    }
    best.add(d);
  }
  lines.sort((a, b) => a.meanY - b.meanY || leftToRight(a.digits[0], b.digits[0]));
  const numbers: ReadNumber[] = [];
  lines.forEach((line, index) => {
    let run: Detection[] = [];
    for (const d of line.digits) {
      const prev = run[run.length - 1];
      if (prev) {
        const gap = d.box[2] - prev.box[3];
        if (gap > numberGap * Math.max(height(prev.box), height(d.box))) {
          numbers.push(makeNumber(run, index));
          run = [];
        }
      }
      run.push(d);
    }
    if (run.length) numbers.push(makeNumber(run, index));
  });
  return numbers;
}

/** Options of {@linkcode readNumbers}: those of `detect`, and the grouping's. */
export interface ReadOptions extends PyramidOptions {
  /** How digits are grouped into numbers. */
  group?: GroupOptions;
}

/** What {@linkcode readNumbers} found in one image. */
export interface Reading {
  /** The numbers, by line top to bottom, then left to right. */
  numbers: ReadNumber[];
  /** The digits `detect` found (all of them, before `group.minScore`). */
  detections: Detection[];
}

/**
 * The detection options reading starts from: one digit per place (class-agnostic NMS at IoU 0.25,
 * and a box 60 % inside a better one dropped: a neighbour's part read as a digit of its own), up
 * to 200 digits a picture. mAP is scored with class-aware NMS instead (as COCO does), which keeps
 * the second-best label of a place as a lower-ranked guess.
 */
export const READ_DETECTION: Readonly<DetectOptions> = Object.freeze({
  classAgnostic: true,
  iouThreshold: 0.25,
  insideThreshold: 0.6,
  maxDetections: 200,
});

/**
 * Reads the numbers in images `[N, H, W, 1]` (white ink on black, e.g. from `prepareImage`):
 * `detect` (its options pass through over {@linkcode READ_DETECTION}), then
 * {@linkcode groupNumbers} per image.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backends/backend.ts";
 * await useBackend("cpu");
 * import { tf } from "../deps.ts";
 * import { loadModel, PRETRAINED_DETECTOR } from "../model/checkpoint.ts";
 * import { readNumbers } from "./read.ts";
 * const { model } = await loadModel(PRETRAINED_DETECTOR);
 * const [reading] = await readNumbers(model, tf.zeros([1, 128, 128, 1]));
 * console.log(reading.numbers); // [] (a black picture)
 * ```
 */
export async function readNumbers(
  model: Model,
  images: Tensor4D,
  options: ReadOptions = {},
): Promise<Reading[]> {
  const { group = {}, ...detectOptions } = options;
  checkGroup(group);
  const found = await detect(model, images, { ...READ_DETECTION, ...detectOptions });
  return found.map((detections) => ({ numbers: groupNumbers(detections, group), detections }));
}

/**
 * Largest number of pairs (reading, truth) with equal text and IoU ≥ threshold, each used once
 * (augmenting paths).
 */
function matchCount(
  readings: readonly { text: string; box: BoxLike }[],
  truths: readonly TrueNumber[],
  threshold: number,
): number {
  const edges = truths.map((t) =>
    readings.flatMap((r, j) => r.text === t.text && iou(r.box, t.box) >= threshold ? [j] : [])
  );
  const owner = new Int32Array(readings.length).fill(-1);
  const augment = (t: number, seen: Uint8Array): boolean => {
    for (const j of edges[t]) {
      if (seen[j]) continue;
      seen[j] = 1;
      if (owner[j] < 0 || augment(owner[j], seen)) {
        owner[j] = t;
        return true;
      }
    }
    return false;
  };
  let count = 0;
  for (let t = 0; t < truths.length; t++) {
    if (augment(t, new Uint8Array(readings.length))) count++;
  }
  return count;
}

/**
 * The share of true numbers read right over a set of pictures: `readings[i]` (e.g. the
 * `numbers` of a {@linkcode Reading}) and `truths[i]`
 * are the numbers read in and the true numbers of picture i. A true number is read right when a
 * reading has exactly its text and IoU ≥ `iouThreshold` (default 0.5) with its box; each reading
 * counts for one true number at most (maximum matching).
 *
 * @example
 * ```ts
 * import { numberAccuracy } from "./read.ts";
 * const acc = numberAccuracy(
 *   [[{ text: "17", box: [0, 20, 0, 30] }, { text: "5", box: [0, 20, 50, 60] }]],
 *   [[{ text: "17", box: [1, 20, 0, 29] }, { text: "6", box: [0, 20, 50, 60] }]],
 * );
 * console.log(acc); // { accuracy: 0.5, right: 1, truths: 2, readings: 2, spurious: 1 }
 * ```
 */
export function numberAccuracy(
  readings: readonly (readonly TrueNumber[])[],
  truths: readonly (readonly TrueNumber[])[],
  options: { iouThreshold?: number } = {},
): NumberAccuracy {
  const { iouThreshold = 0.5 } = options;
  if (!(iouThreshold > 0 && iouThreshold <= 1)) {
    throw new RangeError(`options.iouThreshold must be in (0, 1], got ${iouThreshold}`);
  }
  if (!Array.isArray(readings) || !Array.isArray(truths) || readings.length !== truths.length) {
    throw new RangeError(
      `readings and truths must be arrays with one list per picture, got ${readings?.length} ` +
        `and ${truths?.length} lists`,
    );
  }
  let right = 0, total = 0, read = 0;
  readings.forEach((r, i) => {
    const t = truths[i];
    right += matchCount(r, t, iouThreshold);
    total += t.length;
    read += r.length;
  });
  return {
    accuracy: total ? right / total : NaN,
    right,
    truths: total,
    readings: read,
    spurious: read - right,
  };
}
