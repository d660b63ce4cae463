/**
 * Validation after every epoch: fixed scenes made once from the val digits, and the scores of a
 * model on them (loss parts, class accuracy, mean IoU, hit rate, objectness precision/recall).
 *
 * @module
 */
import { type Tensor4D, tf } from "../deps.ts";
import { localizationMetrics, objectnessCounts, precisionRecall } from "../metrics.ts";
import type { Mnist } from "../data/mnist.ts";
import type { Model } from "../model/model.ts";
import { loss } from "../model/loss.ts";
import type { BoxReduction } from "../model/layout.ts";
import { LOSS_TERMS, lossParts, meanParts, sumParts, zeroParts } from "../model/loss/terms.ts";
import { type DecodeOptions, decodeOutput, predictionRule } from "../model/predict.ts";
import { firstObjects, makeScenes, singleTargets } from "../data/scenes.ts";
import { makeReadingScenes } from "../data/reading_scenes.ts";
import { makeMultiScenes, type SceneObject } from "../data/multi_scenes.ts";
import { encodeObjects } from "../data/multi_encode.ts";
import { decodeDetections, type Detection } from "../detection/detect.ts";
import { meanAveragePrecision } from "../detection/map.ts";
import type { ValRecord } from "./records.ts";

/** Validation scenes, kept in chunks with their targets. */
export interface ValSet {
  /**
   * The scenes and targets; multi-digit sets carry every digit in `objects` (`labels`/`boxes`
   * are then each scene's first digit).
   */
  chunks: {
    images: Tensor4D;
    targets: Tensor4D;
    labels: Int32Array;
    boxes: Float32Array;
    objects?: SceneObject[][];
  }[];
  /** Scenes in all. */
  count: number;
}

/** Proposals kept while validating a detector: as `deno task evaluate` scores mAP. */
const MAP_SCORE_THRESHOLD = 0.05;

/** Reading scenes as a tensor batch. */
function readingBatch(
  source: Mnist["val"],
  options: { count: number; seed: number; size: number },
): { images: Tensor4D; objects: SceneObject[][] } {
  const r = makeReadingScenes(source, options);
  return {
    images: tf.tensor4d(r.pixels, [options.count, r.size, r.size, 1]),
    objects: r.objects,
  };
}

/**
 * Makes `count` validation scenes from the val digits, fixed by `seed`, with their targets.
 *
 * @example
 * ```ts
 * import { makeValSet } from "./validation.ts";
 * import { buildModel } from "../model/model.ts";
 * import { loadMnist } from "../data/mnist.ts";
 * const val = await makeValSet((await loadMnist()).val, { count: 100, seed: 0, model: buildModel() });
 * ```
 */
export async function makeValSet(
  source: Mnist["val"],
  options: {
    count: number;
    seed: number;
    model: Model;
    chunk?: number;
    /** Scene side; default 64. */
    size?: number;
    /** Digits per scene; anything but [1, 1] makes multi-digit scenes. */
    digits?: readonly [number, number];
    /** Targets' least cover (see ../data/multi_encode.ts); default 0 (any overlap). */
    minCover?: number;
    /** Targets: which digit a window covering several takes; default "area". */
    assign?: "area" | "centre";
    /** "reading": the number reader's scene mix (../data/reading_scenes.ts). */
    recipe?: "digits" | "reading";
  },
): Promise<ValSet> {
  const { count, seed, model, size = 64, digits, minCover, assign, recipe = "digits" } = options;
  const reading = recipe === "reading";
  const multi = reading || digits !== undefined && !(digits[0] === 1 && digits[1] === 1);
  const chunk = options.chunk ?? (multi ? Math.max(1, Math.floor(500 * 64 * 64 / size ** 2)) : 500);
  const grid = model.grid(size);
  const chunks: ValSet["chunks"] = [];
  for (let start = 0, i = 0; start < count; start += chunk, i++) {
    const n = Math.min(chunk, count - start);
    const chunkSeed = seed * 7919 + 1_000_003 + i;
    if (multi) {
      const m = reading
        ? readingBatch(source, { count: n, seed: chunkSeed, size })
        : await makeMultiScenes(source, { count: n, seed: chunkSeed, size, digits });
      chunks.push({
        images: m.images,
        targets: encodeObjects(m.objects, grid, { minCover, assign }),
        ...firstObjects(m.objects),
        objects: m.objects,
      });
      continue;
    }
    const s = await makeScenes(source, {
      count: n,
      seed: chunkSeed,
      ...(size !== 64 ? { size } : {}),
    });
    chunks.push({ ...s, targets: singleTargets(s, grid, minCover) });
  }
  return { chunks, count };
}

/**
 * Validates `model` on `val`: loss parts per image, objectness precision/recall, and class
 * accuracy, mean IoU and hit rate of the chosen window (single-digit sets) or mAP@0.5 and
 * mAP@[0.5:0.95] of the detections (multi-digit sets; the others are then NaN). Windows are chosen
 * with the `select` and `vote` options, else the model's prediction rule (`model.rule`).
 *
 * @example
 * ```ts
 * import { evaluate, makeValSet } from "./validation.ts";
 * import { buildModel } from "../model/model.ts";
 * import { loadMnist } from "../data/mnist.ts";
 * const model = buildModel();
 * const val = await makeValSet((await loadMnist()).val, { count: 100, seed: 0, model });
 * console.log((await evaluate(model, val)).accuracy);
 * ```
 */
export async function evaluate(
  model: Model,
  val: ValSet,
  options: { box?: BoxReduction; batchSize?: number } & DecodeOptions = {},
): Promise<ValRecord> {
  const batchSize = options.batchSize ?? 250;
  const rule = predictionRule(model, options);
  let sums = zeroParts();
  const counts = { tp: 0, fp: 0, fn: 0, tn: 0 };
  const labels: number[] = [], boxes: number[] = [], trueLabels: number[] = [];
  const trueBoxes: number[] = [];
  const found: Detection[][] = [], truths: SceneObject[][] = [];
  for (const c of val.chunks) {
    const n = c.images.shape[0];
    for (let start = 0; start < n; start += batchSize) {
      const k = Math.min(batchSize, n - start);
      const [out, target] = tf.tidy(() => [
        model.apply(tf.slice(c.images, [start, 0, 0, 0], [k, -1, -1, -1])),
        tf.slice(c.targets, [start, 0, 0, 0], [k, -1, -1, -1]),
      ]) as [Tensor4D, Tensor4D];
      const parts = tf.tidy(() => {
        const p = loss(out, target, { box: options.box });
        return tf.stack(LOSS_TERMS.map((term) => p[term.name]));
      });
      sums = sumParts([sums, lossParts(await parts.data())]);
      if (c.objects) {
        const [, h, w] = c.images.shape;
        found.push(
          ...await decodeDetections(out, model.geometry, {
            scoreThreshold: MAP_SCORE_THRESHOLD,
            imageSize: [h, w],
            ...rule,
          }),
        );
        truths.push(...c.objects.slice(start, start + k));
      }
      const p = await decodeOutput(out, model.geometry, rule);
      const oc = await objectnessCounts(out, target);
      for (const key of ["tp", "fp", "fn", "tn"] as const) counts[key] += oc[key];
      labels.push(...p.labels);
      boxes.push(...p.boxes);
      tf.dispose([out, target, parts]);
    }
    trueLabels.push(...c.labels);
    trueBoxes.push(...c.boxes);
  }
  const m = localizationMetrics({ labels, boxes }, { labels: trueLabels, boxes: trueBoxes });
  const pr = precisionRecall(counts);
  const n = m.count;
  const record: ValRecord = {
    ...meanParts(sums, n),
    accuracy: m.accuracy,
    meanIou: m.meanIou,
    hitRate: m.hitRate,
    precision: pr.precision,
    recall: pr.recall,
    count: n,
  };
  if (truths.length === 0) return record;
  const map = meanAveragePrecision(found, truths);
  return { ...record, accuracy: NaN, meanIou: NaN, hitRate: NaN, map50: map.map50, map: map.map };
}
