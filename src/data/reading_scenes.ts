/**
 * The scenes the number reader trains on: a seeded mix of written numbers (touching digits, one
 * height per number over a wide range) and scattered single digits (any rotation), a share of
 * them written dark on lit paper and normalised back to white ink on black the way every picture
 * is before the net sees it — without the denoising step (./normalize.ts step 3), which came
 * after the shipped detector was trained on these scenes: its recipe stays reproducible, and the
 * blur's gain at reading time was measured on that model.
 *
 * @module
 */
import { makeWrittenScenes, type WrittenNumber } from "./written.ts";
import { onPaper } from "./paper.ts";
import { normalizeImage } from "./normalize.ts";
import type { SceneSource } from "./render.ts";
import type { SceneObject } from "./multi_scenes.ts";
import { makeRng } from "../rng.ts";

/** Options of {@linkcode makeReadingScenes}. */
export interface ReadingSceneOptions {
  /** Number of scenes. */
  count: number;
  /** Seed. */
  seed: number;
  /** Canvas side; default 128. */
  size?: number;
  /** Share of scenes on paper; default 0.4. */
  paper?: number;
  /** Share of scenes of scattered single digits (the rest: written numbers); default 0.3. */
  scattered?: number;
}

/** A batch of reading scenes. */
export interface ReadingScenes {
  /** Canvas side. */
  size: number;
  /** `count × size × size` white ink on black in [0, 1]. */
  pixels: Float32Array;
  /** The digits of each scene. */
  objects: SceneObject[][];
  /** The written numbers of each scene (empty for scattered digits). */
  numbers: WrittenNumber[][];
}

/**
 * Makes `count` seeded reading scenes (see the module doc).
 *
 * @example
 * ```ts
 * import { loadMnist } from "./mnist.ts";
 * import { makeReadingScenes } from "./reading_scenes.ts";
 * const s = makeReadingScenes((await loadMnist()).val, { count: 4, seed: 0 });
 * console.log(s.pixels.length); // 65536
 * ```
 */
export function makeReadingScenes(
  source: SceneSource,
  options: ReadingSceneOptions,
): ReadingScenes {
  const { count, seed, size = 128, paper = 0.4, scattered = 0.3 } = options;
  const rng = makeRng(seed);
  const area = size * size;
  const pixels = new Float32Array(count * area);
  const objects: SceneObject[][] = [];
  const numbers: WrittenNumber[][] = [];
  for (let s = 0; s < count; s++) {
    const single = rng.next() < scattered;
    const scene = makeWrittenScenes(source, {
      count: 1,
      seed: rng.seed(),
      size,
      ...(single
        ? {
          numbers: [1, 6],
          length: [1, 1],
          height: [10, 48],
          rotation: 45,
          slant: 0,
          spacing: 0.15,
        }
        : { numbers: [1, 3], length: [1, 6], height: [10, 40] }),
    });
    const at = pixels.subarray(s * area, (s + 1) * area);
    if (rng.next() < paper) {
      const picture = onPaper(scene.pixels, size, size, { seed: rng.seed() });
      normalizeImage({ width: size, height: size, data: picture }, { out: at, denoise: false });
    } else at.set(scene.pixels);
    objects.push(scene.objects[0]);
    numbers.push(single ? [] : scene.numbers[0]);
  }
  return { size, pixels, objects, numbers };
}

/**
 * Makes reading scenes on a Worker thread (./reading_worker.ts), the same as
 * {@linkcode makeReadingScenes} would on this one: while a training step runs on this thread and
 * the gradient Workers, the next batch is drawn beside them. Where Workers cannot start, it makes
 * them on this thread. Close it when done.
 *
 * @example
 * ```ts
 * import { loadMnist } from "./mnist.ts";
 * import { ReadingSceneMaker } from "./reading_scenes.ts";
 * const maker = ReadingSceneMaker.create((await loadMnist()).val);
 * const batch = await maker.make({ count: 4, seed: 0 });
 * console.log(batch.objects.length); // 4
 * maker.close();
 * ```
 */
export class ReadingSceneMaker {
  #worker: Worker | undefined;
  #source: SceneSource;
  #next = 0;
  #waiting = new Map<number, { resolve: (s: ReadingScenes) => void; reject: (e: Error) => void }>();

  private constructor(source: SceneSource, worker: Worker | undefined) {
    this.#source = source;
    this.#worker = worker;
    if (!worker) return;
    worker.onmessage = (e: MessageEvent) => {
      const { id, type } = e.data;
      const job = this.#waiting.get(id);
      if (!job) return;
      this.#waiting.delete(id);
      if (type === "made") {
        const { size, pixels, objects, numbers } = e.data as ReadingScenes;
        job.resolve({ size, pixels, objects, numbers });
      } else job.reject(new Error(`Scene worker: ${e.data.message}`));
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      for (const job of this.#waiting.values()) job.reject(new Error(`Scene worker: ${e.message}`));
      this.#waiting.clear();
    };
  }

  /** A maker over `source`, on a Worker where one can start. */
  static create(source: SceneSource): ReadingSceneMaker {
    let worker: Worker | undefined;
    try {
      worker = new Worker(new URL("./reading_worker.ts", import.meta.url), { type: "module" });
      worker.postMessage({ type: "init", source });
    } catch {
      worker = undefined;
    }
    return new ReadingSceneMaker(source, worker);
  }

  /** The scenes {@linkcode makeReadingScenes} makes with these options. */
  make(options: ReadingSceneOptions): Promise<ReadingScenes> {
    if (!this.#worker) return Promise.resolve(makeReadingScenes(this.#source, options));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#worker!.postMessage({ type: "make", id, options });
    });
  }

  /** Stops the Worker; pending batches are rejected. */
  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    for (const job of this.#waiting.values()) job.reject(new Error("Scene maker closed"));
    this.#waiting.clear();
  }
}
