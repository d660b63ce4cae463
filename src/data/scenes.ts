/**
 * Seeded localisation scenes (assignment step 1): one MNIST digit per `size × size` canvas,
 * rotated by a uniform angle in ±maxRotation degrees, scaled by a uniform factor, and placed
 * uniformly at random so that the whole digit lies inside the canvas (./render.ts draws and renders
 * them), with their sharp boxes; and an endless stream of such batches for training.
 *
 * @module
 */
import { type Tensor4D, tf } from "../deps.ts";
import { boundingBoxes } from "./boxes.ts";
import { encodeTargets } from "./encode.ts";
import type { WindowGrid } from "../geometry.ts";
import { makeMultiScenes, type SceneObject } from "./multi_scenes.ts";
import { encodeObjects, singleObjects } from "./multi_encode.ts";
import { ReadingSceneMaker } from "./reading_scenes.ts";
import { makeRng, type Rng } from "../rng.ts";
import { drawScenes, renderScenes, type SceneOptions, type SceneSource } from "./render.ts";

export {
  drawScenes,
  renderScenes,
  type SceneOptions,
  type SceneParams,
  type SceneSource,
} from "./render.ts";

/** A batch of scenes. Dispose `images` when done. */
export interface Scenes {
  /** `[N, size, size, 1]` float32 in [0, 1]. */
  images: Tensor4D;
  /** Digit label per scene. */
  labels: Int32Array;
  /** Sharp boxes `[top, bottom, left, right]` per scene (= `boundingBoxes(images)`), N × 4. */
  boxes: Float32Array;
}

/**
 * Makes `count` seeded scenes with their labels and sharp boxes.
 *
 * @example
 * ```ts
 * import "../backends/backend.ts";
 * import { loadMnist } from "./mnist.ts";
 * import { makeScenes } from "./scenes.ts";
 * const { train } = await loadMnist();
 * const scenes = await makeScenes(train, { count: 8, seed: 1 });
 * console.log(scenes.images.shape, scenes.labels.length, scenes.boxes.length); // [8, 64, 64, 1] 8 32
 * scenes.images.dispose();
 * ```
 */
export async function makeScenes(source: SceneSource, options: SceneOptions): Promise<Scenes> {
  const params = drawScenes(source, options);
  const images = renderScenes(source, params);
  const labels = Int32Array.from(params.indices, (i) => source.labels[i]);
  try {
    const boxes = params.indices.length === 0 ? new Float32Array(0) : await boundingBoxes(images);
    return { images, labels, boxes };
  } catch (error) {
    images.dispose();
    throw error;
  }
}

/** Options of {@linkcode sceneStream}. */
export interface SceneStreamOptions extends Omit<SceneOptions, "count" | "seed" | "indices"> {
  /** Scenes per batch (the last batch of an epoch may be smaller). */
  batchSize: number;
  /** Scenes per epoch. */
  epochSize: number;
  /**
   * Which digits an epoch of one-digit scenes shows: `"permutation"` (default) takes the first
   * `epochSize` digits of a fresh shuffle of the source each epoch (`epochSize` = the source's
   * count is one pass over every digit; past the end, the next shuffle); `"random"` draws each
   * scene's digit with replacement. Multi-digit and reading streams always draw with replacement.
   */
  sampling?: Sampling;
  /** Base seed: epoch `e` draws its scenes from seed `seed + e`. */
  seed: number;
  /** Number of epochs to stream; default 1. */
  epochs?: number;
  /** Index of the first epoch (to resume a run); default 0. */
  firstEpoch?: number;
  /**
   * Batches of the first epoch to skip (to resume a run mid-epoch); default 0. The skipped
   * batches are neither drawn nor rendered: each batch has its own seed, drawn from the epoch's.
   */
  firstBatch?: number;
  /** When given, each batch also carries its per-window `targets` for this grid. */
  grid?: WindowGrid;
  /**
   * Digits per scene `[min, max]`: anything but `[1, 1]` streams multi-digit scenes
   * (./multi_scenes.ts) with their `objects`, and targets from every digit a window covers
   * (./multi_encode.ts); default one digit per scene.
   */
  digits?: readonly [number, number];
  /**
   * Targets: the least fraction of a digit's box (of what the best window covers) a positive
   * window covers (./multi_encode.ts); default 0, the assignment's any-overlap rule.
   */
  minCover?: number;
  /** Targets: which digit a window covering several takes (./multi_encode.ts); default "area". */
  assign?: "area" | "centre";
  /**
   * "reading": the number reader's mix of written numbers, scattered digits and paper
   * (./reading_scenes.ts, `size` default 128) instead of `digits`.
   */
  recipe?: "digits" | "reading";
}

/** How a {@linkcode sceneStream} picks the digits of an epoch. */
export type Sampling = "permutation" | "random";

/**
 * The digits of one epoch: `length` indices below `count`, the concatenation of fresh
 * Fisher–Yates shuffles of `0 … count − 1` drawn from `rng` (so any prefix up to `count` holds
 * no digit twice).
 *
 * @example
 * ```ts
 * import { epochOrder } from "./scenes.ts";
 * import { makeRng, type Rng } from "../rng.ts";
 * const order = epochOrder(5, 5, makeRng(1));
 * console.log([...order].sort()); // [0, 1, 2, 3, 4]
 * ```
 */
export function epochOrder(count: number, length: number, rng: Rng): Int32Array {
  const order = new Int32Array(length);
  const deck = new Int32Array(count);
  for (let at = 0; at < length; at += count) {
    for (let i = 0; i < count; i++) deck[i] = i;
    for (let i = count - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = deck[i];
      deck[i] = deck[j];
      deck[j] = t;
    }
    order.set(deck.subarray(0, Math.min(count, length - at)), at);
  }
  return order;
}

/** One batch of a {@linkcode sceneStream}. Dispose `images` (and `targets`) when done. */
export interface SceneBatch extends Scenes {
  /** Epoch index. */
  epoch: number;
  /** Batch index within the epoch. */
  batch: number;
  /** `[N, rows, cols, 6]` targets when the stream was given a grid. */
  targets?: Tensor4D;
  /** One-digit streams with `sampling: "permutation"`: each scene's digit index in the source. */
  indices?: Int32Array;
  /**
   * Multi-digit streams: every digit of every scene (then `labels` and `boxes` describe each
   * scene's first digit).
   */
  objects?: SceneObject[][];
}

/**
 * Streams fresh random scenes, epoch after epoch (on-the-fly augmentation): epoch `e` uses seed
 * `seed + e`, and by default shows the digits of a fresh permutation of the source (see
 * {@linkcode SceneStreamOptions.sampling}). While the consumer works on one batch, the next is
 * made as soon as the consumer yields to the event loop (e.g. awaits a `data()` call).
 *
 * @example
 * ```ts
 * import "../backends/backend.ts";
 * import { loadMnist } from "./mnist.ts";
 * import { sceneStream } from "./scenes.ts";
 * const { train } = await loadMnist();
 * for await (const b of sceneStream(train, { batchSize: 4, epochSize: 8, seed: 0, epochs: 2 })) {
 *   console.log(b.epoch, b.batch, b.images.shape[0]); // 0 0 4, 0 1 4, 1 0 4, 1 1 4
 *   b.images.dispose();
 * }
 * ```
 */
export async function* sceneStream(
  source: SceneSource,
  options: SceneStreamOptions,
): AsyncGenerator<SceneBatch> {
  const {
    batchSize,
    epochSize,
    seed,
    epochs = 1,
    firstEpoch = 0,
    firstBatch = 0,
    grid,
    digits,
    minCover,
    sampling = "permutation",
    assign,
    recipe = "digits",
    ...sceneOptions
  } = options;
  const multi = digits !== undefined && !(digits[0] === 1 && digits[1] === 1);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  if (!Number.isInteger(epochSize) || epochSize < 1) {
    throw new RangeError(`epochSize must be a positive integer, got ${epochSize}`);
  }
  if (!Number.isInteger(firstBatch) || firstBatch < 0) {
    throw new RangeError(`firstBatch must be a non-negative integer, got ${firstBatch}`);
  }
  if (sampling !== "permutation" && sampling !== "random") {
    throw new RangeError(`sampling must be "permutation" or "random", got ${sampling}`);
  }
  const permute = sampling === "permutation" && !multi && recipe === "digits";
  if (permute && !(source?.count > 0)) {
    throw new TypeError("source must be a non-empty MNIST split { images, labels, count }");
  }
  const plan: {
    epoch: number;
    batch: number;
    count: number;
    seed: number;
    indices?: Int32Array;
  }[] = [];
  for (let epoch = firstEpoch; epoch < firstEpoch + epochs; epoch++) {
    const rng = makeRng(seed + epoch);
    const order = permute ? epochOrder(source.count, epochSize, makeRng(rng.seed())) : undefined;
    for (let start = 0, batch = 0; start < epochSize; start += batchSize, batch++) {
      const batchSeed = rng.seed();
      if (epoch === firstEpoch && batch < firstBatch) continue;
      const count = Math.min(batchSize, epochSize - start);
      const indices = order?.subarray(start, start + count);
      plan.push({ epoch, batch, count, seed: batchSeed, ...(indices ? { indices } : {}) });
    }
  }
  // Reading scenes are drawn on a Worker beside the training step.
  let maker: ReadingSceneMaker | undefined;
  const produce = async (step: number): Promise<SceneBatch> => {
    // Let the consumer run first: the batch is made when it next awaits.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const { epoch, batch, count, seed, indices } = plan[step];
    if (recipe === "reading") {
      const size = sceneOptions.size ?? 128;
      maker ??= ReadingSceneMaker.create(source);
      const r = await maker.make({ count, seed, size });
      return {
        images: tf.tensor4d(r.pixels, [count, size, size, 1]),
        ...firstObjects(r.objects),
        objects: r.objects,
        epoch,
        batch,
        targets: grid ? encodeObjects(r.objects, grid, { minCover, assign }) : undefined,
      };
    }
    if (multi) {
      const m = await makeMultiScenes(source, { ...sceneOptions, count, seed, digits });
      const targets = grid ? encodeObjects(m.objects, grid, { minCover, assign }) : undefined;
      const first = firstObjects(m.objects);
      return { images: m.images, ...first, objects: m.objects, epoch, batch, targets };
    }
    const scenes = await makeScenes(source, { ...sceneOptions, count, seed, indices });
    const targets = grid ? singleTargets(scenes, grid, minCover) : undefined;
    return { ...scenes, epoch, batch, targets, ...(indices ? { indices } : {}) };
  };
  const start = (step: number): Promise<SceneBatch> => {
    const promise = produce(step);
    promise.catch(() => {}); // reported when awaited, not as an unhandled rejection meanwhile
    return promise;
  };
  let next: Promise<SceneBatch> | undefined = plan.length > 0 ? start(0) : undefined;
  try {
    for (let step = 0; step < plan.length; step++) {
      const current: SceneBatch = await next!;
      next = step + 1 < plan.length ? start(step + 1) : undefined;
      yield current;
    }
  } finally {
    // Consumer stopped early: free the prefetched batch.
    if (next) {
      const pending = await next.catch(() => undefined);
      if (pending) tf.dispose([pending.images, ...(pending.targets ? [pending.targets] : [])]);
    }
    maker?.close();
  }
}

/**
 * The first digit of each scene as `labels` and `boxes` (label −1 and an empty box for a scene
 * without digits).
 */
export function firstObjects(
  objects: readonly (readonly SceneObject[])[],
): { labels: Int32Array; boxes: Float32Array } {
  return {
    labels: Int32Array.from(objects, (o) => o[0]?.label ?? -1),
    boxes: Float32Array.from(objects.flatMap((o) => o[0]?.box ?? [0, 0, 0, 0])),
  };
}

/**
 * Targets of one-digit scenes: the assignment's encoder ({@linkcode encodeTargets}) for
 * `minCover` 0, else {@linkcode encodeObjects} with that least cover.
 *
 * @example
 * ```ts
 * import "../backends/backend.ts";
 * import { singleTargets } from "./scenes.ts";
 * const grid = { size: 40, stride: 8, offset: 0, rows: 4, cols: 4 };
 * const scene = { labels: new Int32Array([3]), boxes: new Float32Array([10, 30, 12, 26]) };
 * const y = singleTargets(scene, grid, 1);
 * console.log(y.shape); // [1, 4, 4, 6]
 * y.dispose();
 * ```
 */
export function singleTargets(
  scenes: { labels: Int32Array; boxes: Float32Array },
  grid: WindowGrid,
  minCover = 0,
): Tensor4D {
  return minCover > 0
    ? encodeObjects(singleObjects(scenes.labels, scenes.boxes), grid, { minCover })
    : encodeTargets(scenes.boxes, scenes.labels, grid);
}
