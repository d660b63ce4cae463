/**
 * Seeded multi-digit scenes (issue 9): several MNIST digits on one `size × size` canvas, each
 * rotated, scaled and placed like the single-digit scenes of {@link ./scenes.ts}, each with its own
 * sharp box, and no two boxes overlapping (or overlapping with IoU ≤ `maxOverlap`).
 *
 * How: candidates are drawn with {@linkcode drawScenes} (so placement keeps every digit inside the
 * canvas), rendered one digit per small local canvas with {@linkcode renderScenes} (the same
 * bilinear transform, shifted by an integer offset), boxed with {@linkcode boundingBoxes} on that
 * digit alone, then accepted greedily while their box keeps the overlap bound with the boxes
 * already placed, and composited onto the scene with a pixelwise max.
 *
 * @module
 */
import { type Tensor4D, tf } from "../deps.ts";
import { boundingBoxes } from "./boxes.ts";
import { DIGIT_SIDE } from "./mnist.ts";
import { iou } from "../metrics.ts";
import { makeRng } from "../rng.ts";
import { drawScenes, renderScenes, type SceneOptions, type SceneSource } from "./render.ts";

/** A box `[top, bottom, left, right]` in continuous pixel coordinates (like boundingBoxes). */
export type Box = [number, number, number, number];

/** One digit of a scene. */
export interface SceneObject {
  /** Digit 0–9. */
  label: number;
  /** Sharp box of this digit's ink alone. */
  box: Box;
}

/** Options of {@linkcode makeMultiScenes}. */
export interface MultiSceneOptions extends Omit<SceneOptions, "size"> {
  /** Canvas side in pixels; default 256. */
  size?: number;
  /** Digits per scene, `[min, max]`, uniform; default [1, 8]. */
  digits?: readonly [number, number];
  /** Largest IoU between two boxes of a scene; default 0 (boxes do not overlap). */
  maxOverlap?: number;
  /** Placement rounds before giving up on a crowded scene; default 20. */
  maxRounds?: number;
}

/** A batch of multi-digit scenes. Dispose `images` when done. */
export interface MultiScenes {
  /** `[N, size, size, 1]` float32 in [0, 1]. */
  images: Tensor4D;
  /** The digits of each scene, in placement order. */
  objects: SceneObject[][];
}

/**
 * Parses a digit range as the tasks take it: `"1-8"` → `[1, 8]`, `"3"` → `[3, 3]`; throws a
 * RangeError naming `what` otherwise.
 *
 * @example
 * ```ts
 * import { parseDigitRange } from "./multi_scenes.ts";
 * console.log(parseDigitRange("1-8")); // [1, 8]
 * ```
 */
export function parseDigitRange(text: string, what = "digits"): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  const range: [number, number] | null = m ? [Number(m[1]), Number(m[2] ?? m[1])] : null;
  if (!range || range[0] < 1 || range[1] < range[0]) {
    throw new RangeError(`${what} must look like 1-8 (min-max, 1 ≤ min ≤ max), got "${text}"`);
  }
  return range;
}

// Scenes rendered per batch of candidates (bounds the memory of the local canvases).
const CHUNK = 64;

/**
 * Side of the local canvas that holds one digit at scale ≤ `maxScale`: the 28 × 28 grid's
 * bilinear support reaches `s · (14.5·√2)` from its centre, the centre sits in
 * `[side/2, side/2 + 1)`.
 */
function localSide(maxScale: number): number {
  const reach = maxScale * ((DIGIT_SIDE + 1) / 2) * Math.SQRT2;
  return 2 * (Math.ceil(reach) + 2);
}

function checkOptions(options: MultiSceneOptions): Required<Pick<MultiSceneOptions, "digits">> {
  const { digits = [1, 8], maxOverlap = 0, maxRounds = 20 } = options;
  if (
    !Array.isArray(digits) || digits.length !== 2 || !Number.isInteger(digits[0]) ||
    !Number.isInteger(digits[1]) || digits[0] < 1 || digits[1] < digits[0]
  ) {
    throw new RangeError(
      `digits must be [min, max] integers with 1 ≤ min ≤ max, got ${JSON.stringify(digits)}`,
    );
  }
  if (!(maxOverlap >= 0 && maxOverlap < 1)) {
    throw new RangeError(`maxOverlap must be in [0, 1), got ${maxOverlap}`);
  }
  if (!Number.isInteger(maxRounds) || maxRounds < 1) {
    throw new RangeError(`maxRounds must be a positive integer, got ${maxRounds}`);
  }
  return { digits };
}

/** Does `box` keep the overlap bound with every placed box? (0: no positive-area overlap.) */
function fits(box: Box, placed: SceneObject[], maxOverlap: number): boolean {
  for (const o of placed) {
    const v = iou(box, o.box);
    if (maxOverlap === 0 ? v > 0 : v > maxOverlap) return false;
  }
  return true;
}

/**
 * Makes `count` seeded scenes of `digits[0]`–`digits[1]` MNIST digits each (uniform count),
 * with one sharp box per digit. Same seed, same backend: bit-identical scenes. Throws when a
 * scene cannot hold its digits within `maxRounds` placement rounds (canvas too small).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backends/backend.ts";
 * await useBackend("cpu");
 * import { loadMnist } from "./mnist.ts";
 * import { makeMultiScenes } from "./multi_scenes.ts";
 * const { val } = await loadMnist();
 * const { images, objects } = await makeMultiScenes(val, { count: 2, seed: 1, digits: [3, 5] });
 * console.log(images.shape, objects.map((o) => o.length)); // [2, 256, 256, 1] e.g. [4, 3]
 * images.dispose();
 * ```
 */
export async function makeMultiScenes(
  source: SceneSource,
  options: MultiSceneOptions,
): Promise<MultiScenes> {
  const { digits } = checkOptions(options);
  const {
    count,
    seed,
    size = 256,
    maxRotation = 45,
    scale = [0.75, 1.25],
    maxOverlap = 0,
    maxRounds = 20,
  } = options;
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`count must be a non-negative integer, got ${count}`);
  }
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`size must be a positive integer, got ${size}`);
  }
  const rng = makeRng(seed);
  const wanted = Int32Array.from(
    { length: count },
    () => digits[0] + rng.int(digits[1] - digits[0] + 1),
  );
  const side = localSide(scale[1]);
  const half = side / 2;
  const area = size * size;
  const pixels = new Float32Array(count * area);
  const objects: SceneObject[][] = Array.from({ length: count }, () => []);
  for (let first = 0; first < count; first += CHUNK) {
    const last = Math.min(count, first + CHUNK);
    for (let round = 0;; round++) {
      const needy: number[] = [];
      for (let s = first; s < last; s++) if (objects[s].length < wanted[s]) needy.push(s);
      if (needy.length === 0) break;
      if (round === maxRounds) {
        const s = needy[0];
        throw new RangeError(
          `Could not place ${wanted[s]} digits on a ${size}×${size} canvas (scene ${s}) in ` +
            `${maxRounds} rounds; use a larger size, fewer digits or a larger maxOverlap`,
        );
      }
      // Candidates: twice what is missing, plus two, per scene, placed on the whole canvas.
      const owners: number[] = [];
      const parts = needy.map((s) => {
        const pool = 2 * (wanted[s] - objects[s].length) + 2;
        for (let k = 0; k < pool; k++) owners.push(s);
        return drawScenes(source, { count: pool, seed: rng.seed(), size, maxRotation, scale });
      });
      const n = owners.length;
      const indices = new Int32Array(n);
      const angles = new Float64Array(n);
      const scales = new Float64Array(n);
      const centers = new Float64Array(2 * n);
      const origins = new Int32Array(2 * n);
      let at = 0;
      for (const p of parts) {
        for (let k = 0; k < p.indices.length; k++, at++) {
          indices[at] = p.indices[k];
          angles[at] = p.angles[k];
          scales[at] = p.scales[k];
          const oy = Math.floor(p.centers[2 * k]) - half;
          const ox = Math.floor(p.centers[2 * k + 1]) - half;
          origins[2 * at] = oy;
          origins[2 * at + 1] = ox;
          centers[2 * at] = p.centers[2 * k] - oy;
          centers[2 * at + 1] = p.centers[2 * k + 1] - ox;
        }
      }
      const local = renderScenes(source, { size: side, indices, angles, scales, centers });
      let localBoxes: Float32Array, localPixels: Float32Array;
      try {
        localBoxes = await boundingBoxes(local);
        localPixels = await local.data() as Float32Array;
      } finally {
        local.dispose();
      }
      for (let c = 0; c < n; c++) {
        const s = owners[c];
        if (objects[s].length >= wanted[s]) continue;
        const oy = origins[2 * c], ox = origins[2 * c + 1];
        const box: Box = [
          localBoxes[4 * c] + oy,
          localBoxes[4 * c + 1] + oy,
          localBoxes[4 * c + 2] + ox,
          localBoxes[4 * c + 3] + ox,
        ];
        if (!fits(box, objects[s], maxOverlap)) continue;
        objects[s].push({ label: source.labels[indices[c]], box });
        paste(localPixels.subarray(c * side * side, (c + 1) * side * side), pixels, {
          side,
          size,
          offset: s * area,
          top: oy,
          left: ox,
        });
      }
    }
  }
  return { images: tf.tensor4d(pixels, [count, size, size, 1]), objects };
}

/** Max-composites a `side × side` local canvas onto a scene at (`top`, `left`), clipped. */
function paste(
  local: Float32Array,
  scenes: Float32Array,
  at: { side: number; size: number; offset: number; top: number; left: number },
): void {
  const { side, size, offset, top, left } = at;
  for (let r = Math.max(0, -top); r < side && top + r < size; r++) {
    const row = offset + (top + r) * size + left;
    for (let c = Math.max(0, -left); c < side && left + c < size; c++) {
      const v = local[r * side + c];
      if (v > scenes[row + c]) scenes[row + c] = v;
    }
  }
}
