/**
 * One test condition scored (`deno task evaluate`, and `deno task train --val-conditions N` after
 * each epoch of a reading run): a seeded set of pictures from ../data/conditions.ts, each
 * normalised as a user's picture is (../data/normalize.ts), detected over the image pyramid
 * (./detect.ts) and scored COCO-style (./map.ts); for written numbers, also read (./read.ts) and
 * counted right or wrong.
 *
 * @module
 */
import { tf } from "../deps.ts";
import type { Model } from "../model/model.ts";
import type { MnistSplit } from "../data/mnist.ts";
import type { SceneObject } from "../data/multi_scenes.ts";
import { type ConditionName, makeCondition } from "../data/conditions.ts";
import { normalizeImage } from "../data/normalize.ts";
import { detect, type Detection, type PyramidOptions } from "./detect.ts";
import { meanAveragePrecision } from "./map.ts";
import { type NumberAccuracy, numberAccuracy, type ReadNumber, readNumbers } from "./read.ts";

/** Pictures made at once: a set is the same for a (seed, count), whatever the batch size. */
export const CONDITION_CHUNK = 100;

/** One condition's scores, with what they were made from. */
export interface ConditionScore {
  /** The condition. */
  condition: ConditionName;
  /** Pictures scored. */
  pictures: number;
  /** True digits in them. */
  objects: number;
  /** Detections kept. */
  detections: number;
  /** mAP at IoU 0.5. */
  map50: number;
  /** mAP at IoU 0.75. */
  map75: number;
  /** mAP over IoU 0.50:0.05:0.95. */
  map: number;
  /** Written numbers: how many were read right. */
  numbers?: NumberAccuracy;
  /** Per-class AP. */
  perClass: ReturnType<typeof meanAveragePrecision>["perClass"];
  /** The detections and truths, for confusions. */
  found: Detection[][];
  /** The true digits per picture. */
  truths: SceneObject[][];
  /** Seconds it took. */
  seconds: number;
}

/** Options of {@linkcode scoreCondition}. */
export interface ConditionScoreOptions {
  /** Pictures. */
  count: number;
  /** Seed of the set: chunk `c` is made with seed `seed · 1000 + c`. */
  seed: number;
  /** Picture side. */
  size: number;
  /** Detection options (reading uses its own NMS, with the same pyramid, batches and step). */
  detect?: PyramidOptions;
  /** Called after each chunk with the pictures done. */
  onChunk?: (done: number) => void | Promise<void>;
}

/**
 * Scores `model` on condition `name` made from `source` (the MNIST test digits).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backends/backend.ts";
 * await useBackend("wasm");
 * import { scoreCondition } from "./condition_score.ts";
 * import { loadModel, PRETRAINED_DETECTOR } from "../model/checkpoint.ts";
 * import { loadMnist } from "../data/mnist.ts";
 * const { model } = await loadModel(PRETRAINED_DETECTOR);
 * const s = await scoreCondition(model, "strings", (await loadMnist()).val, {
 *   count: 4, seed: 0, size: 128,
 * });
 * console.log(s.map50, s.numbers?.accuracy);
 * model.dispose();
 * ```
 */
export async function scoreCondition(
  model: Model,
  name: ConditionName,
  source: MnistSplit,
  options: ConditionScoreOptions,
): Promise<ConditionScore> {
  const { count: total, seed, size, detect: detectOptions = {} } = options;
  const truths: SceneObject[][] = [];
  const numbers: { text: string; box: number[] }[][] = [];
  const found: Detection[][] = [];
  const readings: ReadNumber[][] = [];
  const started = performance.now();
  for (let first = 0, chunk = 0; first < total; first += CONDITION_CHUNK, chunk++) {
    const count = Math.min(CONDITION_CHUNK, total - first);
    const set = await makeCondition(name, source, { count, seed: seed * 1000 + chunk, size });
    const area = size * size;
    for (let i = 0; i < count; i++) {
      const picture = set.pixels.subarray(i * area, (i + 1) * area);
      normalizeImage({ width: size, height: size, data: picture.slice() }, { out: picture });
    }
    const images = tf.tensor4d(set.pixels, [count, size, size, 1]);
    try {
      found.push(...await detect(model, images, detectOptions));
      if (set.numbers) {
        // reading's own NMS (READ_DETECTION), the same pyramid, batches and step
        const { scales, batchSize, step } = detectOptions;
        const read = await readNumbers(model, images, { scales, batchSize, step });
        readings.push(...read.map((r) => r.numbers));
      }
    } finally {
      images.dispose();
    }
    truths.push(...set.objects);
    if (set.numbers) numbers.push(...set.numbers);
    await options.onChunk?.(first + count);
  }
  const m = meanAveragePrecision(found, truths);
  return {
    condition: name,
    pictures: total,
    objects: truths.reduce((s, t) => s + t.length, 0),
    detections: found.reduce((s, d) => s + d.length, 0),
    map50: m.map50,
    map75: m.map75,
    map: m.map,
    ...(numbers.length ? { numbers: numberAccuracy(readings, numbers) } : {}),
    perClass: m.perClass,
    found,
    truths,
    seconds: (performance.now() - started) / 1000,
  };
}
