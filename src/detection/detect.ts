/**
 * Multi-digit detection (issue 9): the fully convolutional model run once on a large image gives
 * one 15-vector per window; every window whose objectness passes a threshold proposes a box
 * (mapped from the window frame to the image, `y = windowTop + v · size`), and class-aware
 * non-maximum suppression keeps the best box per digit.
 *
 * Scores: `objectness = sigmoid(logit)`, `classProb = max softmax(class logits)`, and the score a
 * detection is ranked by is `objectness · classProb · fᵏ` (YOLO's, times the fraction f of the
 * predicted box that lies inside its window to the power `containment`, default 2: on 1–8-digit
 * 256 × 256 scenes this rescoring raised mAP@0.5 from 0.76 to 0.83 for one trained model).
 *
 * @module
 */
import { type Tensor4D, tf } from "../deps.ts";
import { sharedPrefix, type WindowGeometry } from "../geometry.ts";
import { iou, voteBox } from "../metrics.ts";
import type { Model } from "../model/model.ts";
import {
  checkImages,
  type ForwardRunner,
  predictionRule,
  type WindowSelection,
} from "../model/predict.ts";
import { OUTPUT } from "../model/layout.ts";
import type { Box } from "../data/multi_scenes.ts";

/** One detected digit. */
export interface Detection {
  /** Predicted digit 0–9. */
  label: number;
  /** Ranking score: objectness · class probability · (box fraction in its window)ᵏ, in [0, 1]. */
  score: number;
  /** Box `[top, bottom, left, right]` in image pixels. */
  box: Box;
  /** The pyramid level it was found on (the factor the image was resized by; 1: as it is). */
  level?: number;
}

/** Options of {@linkcode detect} and {@linkcode decodeDetections}. */
export interface DetectOptions {
  /** Smallest objectness probability (sigmoid) of a window that proposes a box; default 0.5. */
  scoreThreshold?: number;
  /** NMS drops a box whose IoU with a better box of the same label is ≥ this; default 0.3. */
  iouThreshold?: number;
  /** Most detections kept per image (best scores first); default 20. */
  maxDetections?: number;
  /** Suppress across labels too (one digit per place); default false (class-aware). */
  classAgnostic?: boolean;
  /** NMS also drops a box a kept one covers this much of, in (0, 1]; default off. */
  insideThreshold?: number;
  /**
   * Exponent k of a rescoring by the fraction f of the predicted box inside its window:
   * score = objectness · classProb · fᵏ; default 2 (0: no rescoring). A window that sees the
   * whole digit is trusted more than one extrapolating from a part of it or mixing two digits.
   */
  containment?: number;
  /**
   * Box voting: each kept box becomes the score-weighted mean of the proposals of its label whose
   * IoU with it is ≥ this; default 0.5 (0: off). On 1–8-digit scenes it raised mAP@[0.5:0.95]
   * from 0.34 to 0.47 for one trained model.
   */
  vote?: number;
  /**
   * What a proposal's score starts from: `"detection"` (default) objectness · class probability;
   * `"class"` the class probability alone, as the assignment's rule ranks windows
   * (../model/predict.ts). Proposals pass `scoreThreshold` on objectness either way.
   */
  select?: WindowSelection;
}

/** Options of {@linkcode nonMaxSuppression}. */
export interface NmsOptions {
  /** Drop a box whose IoU with a kept box of the same label is ≥ this; default 0.3. */
  iouThreshold?: number;
  /**
   * Also drop a box that lies mostly inside a kept one: when the kept box covers ≥ this fraction
   * of its area, in (0, 1]; default off. A part of a digit read as another digit (the loop of a
   * 9 as a 0) is such a box.
   */
  insideThreshold?: number;
  /** Most boxes kept; default 20. */
  maxDetections?: number;
  /** Suppress across labels too; default false (class-aware). */
  classAgnostic?: boolean;
}

function checkNms(options: NmsOptions): Required<Omit<NmsOptions, "insideThreshold">> & {
  insideThreshold: number;
} {
  const {
    iouThreshold = 0.3,
    insideThreshold = Infinity,
    maxDetections = 20,
    classAgnostic = false,
  } = options;
  if (!(iouThreshold >= 0 && iouThreshold <= 1)) {
    throw new RangeError(`iouThreshold must be in [0, 1], got ${iouThreshold}`);
  }
  if (!(insideThreshold > 0 && insideThreshold <= 1) && insideThreshold !== Infinity) {
    throw new RangeError(`insideThreshold must be in (0, 1], got ${insideThreshold}`);
  }
  if (!Number.isInteger(maxDetections) || maxDetections < 0) {
    throw new RangeError(`maxDetections must be a non-negative integer, got ${maxDetections}`);
  }
  return { iouThreshold, insideThreshold, maxDetections, classAgnostic };
}

/**
 * Greedy non-maximum suppression: boxes are taken best score first (ties: earlier first); a box
 * is dropped when a kept box of the same label (any label with `classAgnostic`) overlaps it with
 * IoU ≥ `iouThreshold`, or covers ≥ `insideThreshold` of its area; at most `maxDetections` are
 * kept, best score first.
 *
 * @example
 * ```ts
 * import { nonMaxSuppression } from "./detect.ts";
 * const kept = await nonMaxSuppression([
 *   { label: 3, score: 0.9, box: [0, 10, 0, 10] },
 *   { label: 3, score: 0.8, box: [1, 11, 0, 10] }, // IoU 0.82 with the first: dropped
 *   { label: 5, score: 0.7, box: [1, 11, 0, 10] }, // another label: kept
 *   { label: 5, score: 0.6, box: [2, 6, 2, 6] }, // inside the 5 above: dropped at 0.8
 * ], { insideThreshold: 0.8 });
 * console.log(kept.map((d) => d.score)); // [0.9, 0.7]
 * ```
 */
// deno-lint-ignore require-await
export async function nonMaxSuppression(
  detections: readonly Detection[],
  options: NmsOptions = {},
): Promise<Detection[]> {
  const { iouThreshold, insideThreshold, maxDetections, classAgnostic } = checkNms(options);
  const order = detections.map((_, i) => i).sort((a, b) =>
    detections[b].score - detections[a].score || a - b
  );
  const kept: Detection[] = [];
  for (const i of order) {
    if (kept.length >= maxDetections) break;
    const d = detections[i];
    const area = (d.box[1] - d.box[0]) * (d.box[3] - d.box[2]);
    const suppressed = kept.some((k) => {
      if (!classAgnostic && k.label !== d.label) return false;
      const inter = Math.max(0, Math.min(d.box[1], k.box[1]) - Math.max(d.box[0], k.box[0])) *
        Math.max(0, Math.min(d.box[3], k.box[3]) - Math.max(d.box[2], k.box[2]));
      return iou(d.box, k.box) >= iouThreshold || (area > 0 && inter / area >= insideThreshold);
    });
    if (!suppressed) kept.push(d);
  }
  return kept;
}

/** Options of {@linkcode windowProposals}. */
export interface ProposalOptions {
  /** Smallest objectness probability (sigmoid) of a window that proposes a box; default 0.5. */
  scoreThreshold?: number;
  /** Exponent of the containment rescoring (see {@linkcode DetectOptions}); default 2. */
  containment?: number;
  /** Clip boxes to this `[height, width]` (in the output's image pixels). */
  imageSize?: readonly [number, number];
  /**
   * The output came from the image resized by this factor, or `[vertical, horizontal]` factors (a
   * pyramid level): boxes are mapped back to the original image by dividing by it; default 1.
   */
  scale?: number | readonly [number, number];
  /** The pyramid level's nominal factor, recorded in each proposal; default 1. */
  level?: number;
  /**
   * The output's windows start `[top, left]` pixels further down and right than the image's own
   * (an offset pass, {@linkcode PyramidOptions.offsets}: negative for an image padded by that
   * much at the top and left, positive for one cropped); default `[0, 0]`.
   */
  shift?: readonly [number, number];
  /** Score from objectness · class probability ("detection", default) or the class alone. */
  select?: WindowSelection;
}

function checkProposalOptions(
  options: ProposalOptions,
): {
  scoreThreshold: number;
  containment: number;
  scale: [number, number];
  select: WindowSelection;
} {
  const { scoreThreshold = 0.5, containment = 2, scale = 1, select = "detection" } = options;
  if (select !== "detection" && select !== "class") {
    throw new RangeError(`select must be "detection" or "class", got ${JSON.stringify(select)}`);
  }
  if (!(containment >= 0)) throw new RangeError(`containment must be ≥ 0, got ${containment}`);
  if (!(scoreThreshold >= 0 && scoreThreshold <= 1)) {
    throw new RangeError(`scoreThreshold must be in [0, 1], got ${scoreThreshold}`);
  }
  const [sy, sx] = typeof scale === "number" ? [scale, scale] : scale;
  if (!(sy > 0 && sx > 0)) throw new RangeError(`scale must be > 0, got ${scale}`);
  return { scoreThreshold, containment, scale: [sy, sx], select };
}

/**
 * The box every window of network outputs `[N, rows, cols, 15]` proposes, per image: windows with
 * objectness ≥ `scoreThreshold`, boxes mapped from the window frame to the image (and back from a
 * pyramid level by `scale`), clipped to `imageSize` when given (boxes left empty by clipping or
 * predicted upside down are dropped), scored objectness · class probability · fᵏ (the class
 * probability · fᵏ with `select: "class"`).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backends/backend.ts";
 * await useBackend("cpu");
 * import { tf } from "../deps.ts";
 * import { windowProposals } from "./detect.ts";
 * const v = new Float32Array(15);
 * v.set([5, 0, 0, 4], 0); // objectness logit 5, class 2 logit 4
 * v.set([0.25, 0.75, 0.25, 0.5], 11); // box in the window frame
 * const out = tf.tensor4d(v, [1, 1, 1, 15]);
 * const [found] = await windowProposals(out, { size: 40, stride: 4, offset: 0 }, { scale: 0.5 });
 * console.log(found[0].label, found[0].box); // 2 [20, 60, 20, 40]
 * out.dispose();
 * ```
 */
export async function windowProposals(
  out: Tensor4D,
  geometry: WindowGeometry,
  options: ProposalOptions = {},
): Promise<Detection[][]> {
  const [n, rows, cols, channels] = out.shape;
  if (channels !== OUTPUT.channels) {
    throw new RangeError(`out must have ${OUTPUT.channels} channels, got ${channels}`);
  }
  const { scoreThreshold, containment, scale: [sy, sx], select } = checkProposalOptions(options);
  const { level = 1, shift = [0, 0] } = options;
  if (!(shift.length === 2 && shift.every((v) => Number.isFinite(v)))) {
    throw new RangeError(`shift must be [top, left] pixels, got ${JSON.stringify(shift)}`);
  }
  const packed = tf.tidy(() => {
    const [logit, classLogits, box] = tf.split(out, [...OUTPUT.split], 3);
    const probs = tf.softmax(classLogits);
    const label = tf.reshape(tf.cast(tf.argMax(probs, 3), "float32"), [n, rows, cols, 1]);
    return tf.concat([tf.sigmoid(logit), tf.max(probs, 3, true), label, box], 3); // [N, r, c, 7]
  });
  const values = await packed.data();
  packed.dispose();
  const { size, stride, offset } = geometry;
  const [h, w] = options.imageSize ?? [Infinity, Infinity];
  const result: Detection[][] = [];
  for (let i = 0; i < n; i++) {
    const proposals: Detection[] = [];
    for (let r = 0; r < rows; r++) {
      const top = offset + r * stride + shift[0];
      for (let c = 0; c < cols; c++) {
        const v = ((i * rows + r) * cols + c) * 7;
        const objectness = values[v];
        if (!(objectness >= scoreThreshold)) continue;
        const left = offset + c * stride + shift[1];
        // The box in image pixels, clipped; containment is measured in the level's pixels.
        const box: Box = [
          Math.max(0, (top + values[v + 3] * size) / sy),
          Math.min(h, (top + values[v + 4] * size) / sy),
          Math.max(0, (left + values[v + 5] * size) / sx),
          Math.min(w, (left + values[v + 6] * size) / sx),
        ];
        if (!(box[1] > box[0] && box[3] > box[2])) continue;
        let score = select === "class" ? values[v + 1] : objectness * values[v + 1];
        if (containment > 0) {
          const [t, b, l, r2] = [box[0] * sy, box[1] * sy, box[2] * sx, box[3] * sx];
          const inside = (Math.min(b, top + size) - Math.max(t, top)) *
            (Math.min(r2, left + size) - Math.max(l, left));
          score *= Math.pow(Math.max(0, inside) / ((b - t) * (r2 - l)), containment);
        }
        proposals.push({ label: values[v + 2], score, box, level });
      }
    }
    result.push(proposals);
  }
  return result;
}

/**
 * One image's proposals (from one or several pyramid levels) → detections: {@linkcode
 * nonMaxSuppression}, then each kept box voted with the proposals of its label and its level that
 * overlap it (`vote`, 0: off).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backends/backend.ts";
 * await useBackend("cpu");
 * import { selectDetections } from "./detect.ts";
 * const kept = await selectDetections([
 *   { label: 3, score: 0.9, box: [0, 10, 0, 10] },
 *   { label: 3, score: 0.9, box: [0, 12, 0, 10] },
 * ], { vote: 0.5 });
 * console.log(kept.length, kept[0].box); // 1 [0, 11, 0, 10]
 * ```
 */
export async function selectDetections(
  proposals: readonly Detection[],
  options: NmsOptions & { vote?: number } = {},
): Promise<Detection[]> {
  const { vote = 0.5 } = options;
  if (!(vote >= 0 && vote <= 1)) throw new RangeError(`vote must be in [0, 1], got ${vote}`);
  const kept = await nonMaxSuppression(proposals, checkNms(options));
  if (vote === 0) return kept;
  // Votes come from the kept box's own level: a coarser level's boxes are rougher.
  return kept.map((d) => {
    const same = proposals.filter((p) => (p.level ?? 1) === (d.level ?? 1));
    return { ...d, box: voteBox(d.box, d.label, same, vote) as Box };
  });
}

/**
 * Decodes network outputs `[N, rows, cols, 15]` into detections per image:
 * {@linkcode windowProposals} then {@linkcode selectDetections}.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backends/backend.ts";
 * await useBackend("cpu");
 * import { type Tensor4D, tf } from "../deps.ts";
 * import { decodeDetections } from "./detect.ts";
 * const v = new Float32Array(15);
 * v.set([5, 0, 0, 4], 0); // objectness logit 5, class 2 logit 4
 * v.set([0.25, 0.75, 0.25, 0.5], 11); // box in the window frame
 * const out = tf.tensor4d(v, [1, 1, 1, 15]);
 * const [found] = await decodeDetections(out, { size: 40, stride: 4, offset: 0 });
 * console.log(found[0].label, found[0].box); // 2 [10, 30, 10, 20]
 * out.dispose();
 * ```
 */
export async function decodeDetections(
  out: Tensor4D,
  geometry: WindowGeometry,
  options: DetectOptions & { imageSize?: readonly [number, number] } = {},
): Promise<Detection[][]> {
  const { vote = 0.5 } = options;
  if (!(vote >= 0 && vote <= 1)) throw new RangeError(`vote must be in [0, 1], got ${vote}`);
  const nms = checkNms(options);
  const proposals = await windowProposals(out, geometry, options);
  const result: Detection[][] = [];
  for (const list of proposals) result.push(await selectDetections(list, { ...nms, vote }));
  return result;
}

/**
 * The pyramid levels {@linkcode detect} runs for an `height × width` image: `scales` as given,
 * or for "auto" 1, ½, ¼, … while the level still holds a window of `windowSize` pixels.
 *
 * @example
 * ```ts
 * import { pyramidScales } from "./detect.ts";
 * console.log(pyramidScales(256, 300, 40)); // [1, 0.5, 0.25]
 * console.log(pyramidScales(64, 64, 40, [1])); // [1]
 * ```
 */
export function pyramidScales(
  height: number,
  width: number,
  windowSize: number,
  scales: readonly number[] | "auto" = "auto",
): number[] {
  if (scales !== "auto") {
    if (!Array.isArray(scales) || scales.length === 0 || !scales.every((f) => f > 0)) {
      throw new RangeError(
        `scales must be "auto" or a non-empty list of factors > 0, got ${scales}`,
      );
    }
    const fit = scales.filter((f) =>
      Math.round(height * f) >= windowSize && Math.round(width * f) >= windowSize
    );
    if (fit.length === 0) {
      throw new RangeError(
        `no level of scales [${scales}] holds a ${windowSize}-pixel window on a ${width}×${height} image`,
      );
    }
    return [...fit];
  }
  const levels = [1];
  for (let f = 0.5; Math.min(height, width) * f >= windowSize; f /= 2) levels.push(f);
  return levels;
}

/**
 * `images` resized by `factor`: 2×2 averaging per halving, bilinear (half-pixel centres) for the
 * rest; with the exact vertical and horizontal factors from image to level coordinates.
 */
function resizeLevel(
  images: Tensor4D,
  factor: number,
): { level: Tensor4D; scale: [number, number] } {
  let sy = 1, sx = 1;
  const level = tf.tidy(() => {
    let x = images;
    let f = factor;
    while (f <= 0.5 + 1e-9) {
      x = tf.avgPool(x, 2, 2, "valid"); // level pixel i covers image pixels [2i, 2i + 2)
      f *= 2, sy /= 2, sx /= 2;
    }
    if (Math.abs(f - 1) > 1e-9) {
      const [, h, w] = x.shape;
      const [h2, w2] = [Math.max(1, Math.round(h * f)), Math.max(1, Math.round(w * f))];
      x = tf.image.resizeBilinear(x, [h2, w2], false, true);
      sy *= h2 / h, sx *= w2 / w;
    }
    return x;
  });
  return { level, scale: [sy, sx] };
}

/** Offset passes per axis {@linkcode detect} runs by default (see `PyramidOptions.offsets`). */
export const DEFAULT_OFFSETS = 2;

/**
 * The border {@linkcode detect} adds around each pyramid level by default: half a window, rounded
 * down to whole strides, so that a window is centred within a stride of every pixel of the
 * picture, its edges included. On held-out pictures of the shipped detector a border of 12 to 24
 * pixels read 1.5–2.3 points more numbers than none (most misses of 0 were digits touching the
 * edge), and 12–24 read the same.
 *
 * @example
 * ```ts
 * import { defaultBorder } from "./detect.ts";
 * console.log(defaultBorder({ size: 40, stride: 8 })); // 16
 * ```
 */
export function defaultBorder(geometry: { size: number; stride: number }): number {
  return Math.floor(geometry.size / 2 / geometry.stride) * geometry.stride;
}

/** Options of {@linkcode detect}: decoding, the pyramid and batching. */
export interface PyramidOptions extends DetectOptions {
  /** Images per forward pass; default 16. */
  batchSize?: number;
  /** Runs the forward passes (e.g. a `GradientPool`); default `model.apply`. */
  step?: ForwardRunner;
  /** Pyramid levels (factors applied to the image); default "auto". */
  scales?: readonly number[] | "auto";
  /**
   * Offset passes per axis (OverFeat's fine-stride evaluation): each level is also run padded by
   * `k · stride / offsets` pixels of background at the top and left, `k < offsets`, so windows sit
   * every `stride / offsets` pixels instead of every `stride` (and the border gets windows reaching
   * past it) — `offsets²` passes per level, their proposals pooled before NMS and box voting. A
   * digit then has windows centred closer to it and more boxes to vote on. As in OverFeat, the
   * passes share the layers below: the level is padded once by the largest amount, its first
   * layers run once, and each pass crops their activations (../geometry.ts `sharedPrefix`: for
   * `wide`, 4 pixels are one position after the first two stride-2 convolutions) and runs only
   * the layers above. Default 2 (`wide`'s stride 8: windows every 4 pixels, 4 passes); 1: one pass. It
   * must divide the stride.
   */
  offsets?: number;
  /**
   * Background pixels added on every side of each pyramid level (in the level's pixels) before
   * the net runs, so that windows reach past the picture's edge: a digit touching the border is
   * then seen whole by a window centred on it, not only by windows that end at the edge. Default
   * {@linkcode defaultBorder}: half a window, rounded down to whole strides (16 for `wide`'s
   * 40-pixel windows at stride 8); 0: none.
   */
  border?: number;
  /**
   * With several levels, the sizes each level answers for (SNIP's valid ranges): a proposal is
   * kept only when its box's longer side, in the level's pixels, lies in `[min, max]` (the
   * finest level keeps anything smaller, the coarsest anything larger); default [18, 40]:
   * digits the net was trained on sizes of, with overlap between levels.
   */
  levelRange?: readonly [number, number];
}

/**
 * Detects digits in images `[N, H, W, 1]` (any H, W ≥ the window): runs the model on every level
 * of an image pyramid (OverFeat's multi-scale; `scales`, default "auto": 1, ½, ¼, … while a level
 * holds a window), in batches of `batchSize` (default 16), gathers the proposals of all levels in
 * image pixels and keeps the best with {@linkcode selectDetections}; boxes clipped to the image.
 * `select` and `vote` default to the model's prediction rule (`model.rule`).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backends/backend.ts";
 * await useBackend("cpu");
 * import { type Tensor4D, tf } from "../deps.ts";
 * import { detect } from "./detect.ts";
 * import { buildModel } from "../model/model.ts";
 * const found = await detect(buildModel(), tf.zeros([2, 128, 128, 1]), { scoreThreshold: 0.9 });
 * console.log(found.length); // 2 (lists of { label, score, box })
 * ```
 */
export async function detect(
  model: Model,
  images: Tensor4D,
  options: PyramidOptions = {},
): Promise<Detection[][]> {
  checkImages(model, images);
  const [n, h, w] = images.shape;
  const {
    batchSize = 16,
    step,
    scales = "auto",
    levelRange = [18, 40],
    offsets = DEFAULT_OFFSETS,
    border = defaultBorder(model.geometry),
    ...given
  } = options;
  // select and vote: the options where they set them, else the model's recorded rule
  const { vote, ...rest } = { ...given, ...predictionRule(model, given) };
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`options.batchSize must be a positive integer, got ${batchSize}`);
  }
  if (!(vote >= 0 && vote <= 1)) throw new RangeError(`vote must be in [0, 1], got ${vote}`);
  const nms = checkNms(rest);
  checkProposalOptions(rest);
  const { stride } = model.geometry;
  if (!(Number.isInteger(offsets) && offsets >= 1 && stride % offsets === 0)) {
    throw new RangeError(
      `options.offsets must be a whole number ≥ 1 that divides the net's stride ${stride}, got ${offsets}`,
    );
  }
  if (!(Number.isInteger(border) && border >= 0)) {
    throw new RangeError(`options.border must be a whole number ≥ 0, got ${border}`);
  }
  // pass (a, b) pads by [a·unit, b·unit]: the level padded once by `pad`, then cropped by the rest
  const unit = stride / offsets, pad = stride - unit;
  const pads: [number, number][] = [];
  for (let a = 0; a < offsets; a++) {
    for (let b = 0; b < offsets; b++) pads.push([a * unit, b * unit]);
  }
  // the layers the passes share (none with one pass, or through a ForwardRunner, which runs the
  // whole net); a crop of k·unit pixels is k·crop positions at that depth
  const shared = offsets === 1 || step ? { depth: 0, crop: unit } : sharedPrefix(model.arch, unit);
  const levels = pyramidScales(h, w, model.geometry.size, scales);
  if (!(levelRange[0] >= 0 && levelRange[1] >= levelRange[0])) {
    throw new RangeError(`levelRange must be [min, max] with 0 ≤ min ≤ max, got ${levelRange}`);
  }
  const finest = Math.max(...levels), coarsest = Math.min(...levels);
  const result: Detection[][] = [];
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    const batch = n === count
      ? images
      : tf.slice(images, [start, 0, 0, 0], [count, -1, -1, -1]) as Tensor4D;
    const proposals: Detection[][] = Array.from({ length: count }, () => []);
    try {
      for (const factor of levels) {
        const { level, scale } = factor === 1
          ? { level: batch, scale: 1 }
          : resizeLevel(batch, factor);
        const before = pad + border; // top and left: the offset passes' padding and the border
        const padded = before > 0
          ? tf.pad(level, [[0, 0], [before, border], [before, border], [0, 0]]) as Tensor4D
          : level;
        const below = shared.depth > 0 ? model.applyLayers(padded, 0, shared.depth) : padded;
        if (below !== padded && padded !== level) padded.dispose();
        const lo = factor === finest ? 0 : levelRange[0];
        const hi = factor === coarsest ? Infinity : levelRange[1];
        try {
          for (const [py, px] of pads) {
            const shift: [number, number] = [-py - border, -px - border];
            const [cy, cx] = [(pad - py) / unit * shared.crop, (pad - px) / unit * shared.crop];
            const input = cy || cx
              ? tf.slice(below, [0, cy, cx, 0], [-1, -1, -1, -1]) as Tensor4D
              : below;
            const out = step
              ? await step.forward(model, input)
              : model.applyLayers(input, shared.depth);
            if (input !== below) input.dispose();
            try {
              const found = await windowProposals(out, model.geometry, {
                ...rest,
                scale,
                shift,
                level: factor,
                imageSize: [h, w],
              });
              found.forEach((list, i) => {
                for (const d of list) {
                  const side = factor * Math.max(d.box[1] - d.box[0], d.box[3] - d.box[2]);
                  if (levels.length === 1 || (side >= lo && side <= hi)) proposals[i].push(d);
                }
              });
            } finally {
              out.dispose();
            }
          }
        } finally {
          if (below !== level) below.dispose();
          if (level !== batch) level.dispose();
        }
      }
    } finally {
      if (batch !== images) batch.dispose();
    }
    for (const list of proposals) result.push(await selectDetections(list, { ...nms, vote }));
  }
  return result;
}
