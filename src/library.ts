/**
 * The library's front door (what mod.ts exports): the calls that need a tfjs backend select the
 * default one first when the caller has chosen none — `auto` by the table's order, as
 * ./backends/backend.ts `ensureBackend` does — so a program that never calls `useBackend` still
 * runs on the fastest backend here. Below the door, model/, data/ and detection/ run on whatever
 * backend is in use and know nothing of the backend table.
 *
 * @module
 */
import type { Tensor4D } from "./deps.ts";
import { ensureBackend } from "./backends/backend.ts";
import { loadModel as load, PRETRAINED_MODEL } from "./model/checkpoint.ts";
import type { Model } from "./model/model.ts";
import { predict as predictOn, type Prediction, type PredictOptions } from "./model/predict.ts";
import {
  makeScenes as make,
  type SceneBatch,
  type SceneOptions,
  type Scenes,
  type SceneSource,
  sceneStream as stream,
  type SceneStreamOptions,
} from "./data/scenes.ts";
import { detect as detectOn, type Detection, type DetectOptions } from "./detection/detect.ts";
import type { ForwardRunner } from "./model/predict.ts";
import { type Reading, readNumbers as readOn, type ReadOptions } from "./detection/read.ts";

/**
 * Loads a model saved by `saveModel` from a folder path or an http(s)/file URL (default: the
 * pretrained model shipped with the library), selecting the default backend first when the
 * caller has chosen none. See ./model/checkpoint.ts `loadModel`.
 *
 * @example
 * ```ts
 * import { loadModel } from "./library.ts";
 * const { model } = await loadModel();
 * console.log(model.geometry); // { size: 40, stride: 8, offset: 0 }
 * ```
 */
export async function loadModel(
  dirOrUrl: string | URL = PRETRAINED_MODEL,
): Promise<{ model: Model; extra: Record<string, unknown> }> {
  await ensureBackend();
  return await load(dirOrUrl);
}

/**
 * Localizes and classifies the single digit of each image `[N, H, W, 1]`, selecting the default
 * backend first when the caller has chosen none. See ./model/predict.ts `predict`.
 *
 * @example
 * ```ts
 * import { loadModel, predict } from "./library.ts";
 * import { tf } from "./deps.ts";
 * const { model } = await loadModel();
 * const { labels } = await predict(model, tf.zeros([1, 64, 64, 1]));
 * console.log(labels.length); // 1
 * ```
 */
export async function predict(
  model: Model,
  images: Tensor4D,
  options: PredictOptions = {},
): Promise<Prediction> {
  await ensureBackend();
  return await predictOn(model, images, options);
}

/**
 * Detects digits in images `[N, H, W, 1]`, selecting the default backend first when the caller
 * has chosen none. See ./detection/detect.ts `detect`.
 *
 * @example
 * ```ts
 * import { detect, loadModel } from "./library.ts";
 * import { PRETRAINED_DETECTOR } from "./model/checkpoint.ts";
 * import { tf } from "./deps.ts";
 * const { model } = await loadModel(PRETRAINED_DETECTOR);
 * const [found] = await detect(model, tf.zeros([1, 128, 128, 1]));
 * console.log(found.length); // 0: an empty scene
 * ```
 */
export async function detect(
  model: Model,
  images: Tensor4D,
  options: DetectOptions & { batchSize?: number; step?: ForwardRunner } = {},
): Promise<Detection[][]> {
  await ensureBackend();
  return await detectOn(model, images, options);
}

/**
 * Reads the numbers in images `[N, H, W, 1]` (white ink on black, e.g. from `prepareImage`),
 * selecting the default backend first when the caller has chosen none. See
 * ./detection/read.ts `readNumbers`.
 *
 * @example
 * ```ts
 * import { loadModel, readNumbers } from "./library.ts";
 * import { PRETRAINED_DETECTOR } from "./model/checkpoint.ts";
 * import { tf } from "./deps.ts";
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
  await ensureBackend();
  return await readOn(model, images, options);
}

/**
 * Makes `count` seeded scenes with their labels and sharp boxes, selecting the default backend
 * first when the caller has chosen none. See ./data/scenes.ts `makeScenes`.
 *
 * @example
 * ```ts
 * import { makeScenes } from "./library.ts";
 * import { loadMnist } from "./data/mnist.ts";
 * const { test } = await loadMnist();
 * const scenes = await makeScenes(test, { count: 4, seed: 1 });
 * console.log(scenes.images.shape); // [4, 64, 64, 1]
 * ```
 */
export async function makeScenes(source: SceneSource, options: SceneOptions): Promise<Scenes> {
  await ensureBackend();
  return await make(source, options);
}

/**
 * Batches of fresh seeded scenes (with targets when given a grid), selecting the default backend
 * first when the caller has chosen none. See ./data/scenes.ts `sceneStream`.
 *
 * @example
 * ```ts
 * import { sceneStream } from "./library.ts";
 * import { loadMnist } from "./data/mnist.ts";
 * const { train } = await loadMnist();
 * for await (const batch of sceneStream(train, { batchSize: 8, epochSize: 16, seed: 1 })) {
 *   console.log(batch.images.shape); // [8, 64, 64, 1]
 *   batch.images.dispose();
 * }
 * ```
 */
export async function* sceneStream(
  source: SceneSource,
  options: SceneStreamOptions,
): AsyncGenerator<SceneBatch> {
  await ensureBackend();
  return yield* stream(source, options);
}
