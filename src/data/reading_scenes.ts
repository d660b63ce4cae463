/**
 * The scenes the number reader trains on: a seeded mix of written numbers (touching digits, one
 * height per number over a wide range) and scattered single digits (any rotation), a share of
 * them written dark on lit paper and normalised back to white ink on black the way every picture
 * is before the net sees it.
 *
 * @module
 */
import { makeWrittenScenes, type WrittenNumber } from "./written.ts";
import { onPaper } from "./paper.ts";
import { normalizeScratch } from "./normalize_tmp.ts";
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
    let ink = scene.pixels;
    if (rng.next() < paper) {
      ink = normalizeScratch(onPaper(ink, size, size, { seed: rng.seed() }), size, size).out;
    }
    pixels.set(ink, s * area);
    objects.push(scene.objects[0]);
    numbers.push(single ? [] : scene.numbers[0]);
  }
  return { size, pixels, objects, numbers };
}
