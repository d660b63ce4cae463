/**
 * The seeded test conditions a number reader is scored on, each as a user would hand the pictures
 * over (`deno task evaluate` reports each one separately):
 *
 * - `scenes`: 1–8 well separated digits, rotated up to ±45°, scaled 0.75–1.25 (the detector's
 *   original world, ./multi_scenes.ts);
 * - `strings`: written numbers of 2–6 digits, neighbours touching or overlapping a little, 1–4
 *   numbers per scene, digits 16–32 px tall (./written.ts);
 * - `sizes`: 1–4 separated digits scaled 0.5–2.2 (a 28-pixel digit frame of 14–62 px), rotated up
 *   to ±45°;
 * - `paper`: the `strings` scenes written dark on lit paper: uneven light, ink darkness, stroke
 *   width, blur, sensor noise, 8-bit levels (./paper.ts). Not inverted: finding the polarity is
 *   part of the test.
 *
 * All digits come from the source given (the tasks use the MNIST test file, never seen in
 * training); each condition has its own seed offset, so the sets differ from each other and from
 * anything training draws.
 *
 * @module
 */
import type { SceneSource } from "./render.ts";
import { makeMultiScenes, type SceneObject } from "./multi_scenes.ts";
import { makeWrittenScenes, type WrittenNumber } from "./written.ts";
import { onPaper } from "./paper.ts";
import { makeRng } from "../rng.ts";

/** The names of the conditions, in report order. */
export const CONDITIONS = ["scenes", "strings", "sizes", "paper"] as const;

/** One of {@linkcode CONDITIONS}. */
export type ConditionName = typeof CONDITIONS[number];

/** A condition's pictures and what is in them. */
export interface ConditionSet {
  /** Which condition. */
  name: ConditionName;
  /** Picture height. */
  height: number;
  /** Picture width. */
  width: number;
  /** `count × height × width` grey pictures in [0, 1], as a user would hand them over. */
  pixels: Float32Array;
  /** The digits of each picture. */
  objects: SceneObject[][];
  /** The written numbers of each picture (`strings` and `paper`; else absent). */
  numbers?: WrittenNumber[][];
}

/** Options of {@linkcode makeCondition}. */
export interface ConditionOptions {
  /** Pictures. */
  count: number;
  /** Seed of the set. */
  seed: number;
  /** Picture side; default 256. */
  size?: number;
}

const OFFSETS: Record<ConditionName, number> = { scenes: 0, strings: 1, sizes: 2, paper: 1 };

/**
 * Makes the seeded pictures of one condition (see the module doc). `paper` shows the very numbers
 * of `strings` with the same seed.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backends/backend.ts";
 * await useBackend("cpu");
 * import { loadMnist } from "./mnist.ts";
 * import { makeCondition } from "./conditions.ts";
 * const set = await makeCondition("paper", (await loadMnist()).val, { count: 2, seed: 0 });
 * console.log(set.pixels.length, set.numbers?.[0].length); // 131072 e.g. 3
 * ```
 */
export async function makeCondition(
  name: ConditionName,
  source: SceneSource,
  options: ConditionOptions,
): Promise<ConditionSet> {
  if (!CONDITIONS.includes(name)) {
    throw new RangeError(`name must be one of ${CONDITIONS.join(", ")}, got "${name}"`);
  }
  const { count, seed, size = 256 } = options;
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`count must be a non-negative integer, got ${count}`);
  }
  const setSeed = makeRng(seed * 31 + OFFSETS[name]).seed();
  if (name === "scenes" || name === "sizes") {
    const m = await makeMultiScenes(source, {
      count,
      seed: setSeed,
      size,
      ...(name === "sizes" ? { digits: [1, 4] as const, scale: [0.5, 2.2] as const } : {}),
    });
    const pixels = await m.images.data() as Float32Array;
    m.images.dispose();
    return { name, height: size, width: size, pixels, objects: m.objects };
  }
  const w = makeWrittenScenes(source, {
    count,
    seed: setSeed,
    size,
    numbers: [1, 4],
    length: [2, 6],
    height: [16, 32],
  });
  if (name === "paper") {
    const area = size * size, rng = makeRng(setSeed ^ 0x5eed);
    for (let i = 0; i < count; i++) {
      const ink = w.pixels.subarray(i * area, (i + 1) * area);
      ink.set(onPaper(ink, size, size, { seed: rng.seed() }));
    }
  }
  return {
    name,
    height: size,
    width: size,
    pixels: w.pixels,
    objects: w.objects,
    numbers: w.numbers,
  };
}
