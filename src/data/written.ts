/**
 * Seeded scenes of written numbers: strings of MNIST digits laid left to right as people write
 * them — neighbours touching or overlapping a little, one height per number with a little jitter
 * per digit, a wobbling baseline, a slant — several numbers per scene, each digit with the sharp
 * box of its own ink. Plain TypeScript (./glyph.ts draws the digits), so a scene is the same on
 * every backend.
 *
 * With `length: [1, 1]` and a positive `spacing` the same generator scatters single digits that do
 * not touch, over any range of heights (the "sizes" scenes).
 *
 * @module
 */
import { type Glyph, inkRows, renderGlyph } from "./glyph.ts";
import type { SceneSource } from "./render.ts";
import type { Box, SceneObject } from "./multi_scenes.ts";
import { makeRng, type Rng } from "../rng.ts";

/** One written number of a scene. */
export interface WrittenNumber {
  /** Its digits, left to right, e.g. "77628". */
  text: string;
  /** The union of its digits' boxes. */
  box: Box;
}

/** Options of {@linkcode makeWrittenScenes}. */
export interface WrittenOptions {
  /** Number of scenes. */
  count: number;
  /** Seed: the same seed gives the same scenes. */
  seed: number;
  /** Canvas side, or `[height, width]`; default 128. */
  size?: number | readonly [number, number];
  /** Numbers per scene `[min, max]` (uniform; fewer when they do not fit); default [1, 3]. */
  numbers?: readonly [number, number];
  /** Digits per number `[min, max]` (uniform); default [2, 6]. */
  length?: readonly [number, number];
  /** Ink height of a number's digits in pixels `[min, max]` (log-uniform); default [12, 34]. */
  height?: readonly [number, number];
  /**
   * Horizontal gap between neighbouring digits' ink boxes, as a fraction of the height
   * `[min, max]` (uniform; negative: the boxes overlap); default [-0.12, 0.06].
   */
  gap?: readonly [number, number];
  /** Largest rotation of a digit in degrees (uniform in ±); default 8. */
  rotation?: number;
  /** Largest slant of a number (uniform in ±, x −= slant · y); default 0.25. */
  slant?: number;
  /** Least free space around a number, as a fraction of its height; default 0.3. */
  spacing?: number;
}

/** A batch of written scenes: grey pixels and, per scene, its digits and its numbers. */
export interface WrittenScenes {
  /** Canvas height. */
  height: number;
  /** Canvas width. */
  width: number;
  /** `count × height × width` ink in [0, 1] (white digits on black), row-major. */
  pixels: Float32Array;
  /** The digits of each scene, number after number, left to right. */
  objects: SceneObject[][];
  /** The numbers of each scene. */
  numbers: WrittenNumber[][];
}

function checkRange(name: string, r: readonly number[], lo: number): void {
  if (!Array.isArray(r) || r.length !== 2 || !(r[0] >= lo) || !(r[1] >= r[0])) {
    throw new RangeError(`${name} must be [min, max] with ${lo} ≤ min ≤ max, got ${r}`);
  }
}

interface Placed {
  glyph: Glyph;
  top: number;
  left: number;
  label: number;
}

/** Lays out one number at the origin: its glyphs with offsets, and the union of their boxes. */
function layNumber(
  source: SceneSource,
  rng: Rng,
  digits: number,
  options: Required<Omit<WrittenOptions, "count" | "seed" | "size" | "numbers" | "length">>,
): { placed: Placed[]; box: Box } {
  const { height, gap, rotation, slant } = options;
  const h = Math.exp(rng.uniform(Math.log(height[0]), Math.log(height[1])));
  const shear = rng.uniform(-slant, slant);
  const placed: Placed[] = [];
  let x = 0;
  const box: Box = [Infinity, -Infinity, Infinity, -Infinity];
  for (let k = 0; k < digits; k++) {
    const index = rng.int(source.count);
    const [first, last] = inkRows(source, index);
    const scaleY = h * rng.uniform(0.92, 1.08) / (last - first + 1);
    const glyph = renderGlyph(source, index, {
      scaleY,
      scaleX: scaleY * rng.uniform(0.85, 1.15),
      angle: rng.uniform(-rotation, rotation),
      shear: shear + rng.uniform(-0.05, 0.05),
    });
    const [gt, gb, gl, gr] = glyph.box;
    if (!(gb > gt)) continue;
    // Bottom of the ink on a baseline at 0 (± a little), left of the ink at x.
    const top = Math.round(-gb + h * rng.uniform(-0.06, 0.06));
    const left = Math.round(x - gl);
    placed.push({ glyph, top, left, label: source.labels[index] });
    box[0] = Math.min(box[0], top + gt), box[1] = Math.max(box[1], top + gb);
    box[2] = Math.min(box[2], left + gl), box[3] = Math.max(box[3], left + gr);
    x = left + gr + h * rng.uniform(gap[0], gap[1]);
  }
  return { placed, box };
}

/**
 * Makes `count` seeded scenes of written numbers (see the module doc); each number is placed at a
 * uniform position where it and its free space fit the canvas and keep clear of the numbers
 * already placed (up to 30 tries, then it is left out; a scene holds at least one number when
 * one fits at all).
 *
 * @example
 * ```ts
 * import { loadMnist } from "./mnist.ts";
 * import { makeWrittenScenes } from "./written.ts";
 * const { val } = await loadMnist();
 * const s = makeWrittenScenes(val, { count: 2, seed: 1 });
 * console.log(s.pixels.length, s.numbers[0].map((n) => n.text)); // 32768 e.g. [ "7762", "31" ]
 * ```
 */
export function makeWrittenScenes(source: SceneSource, options: WrittenOptions): WrittenScenes {
  const {
    count,
    seed,
    size = 128,
    numbers = [1, 3],
    length = [2, 6],
    height = [12, 34],
    gap = [-0.12, 0.06],
    rotation = 8,
    slant = 0.25,
    spacing = 0.3,
  } = options;
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`count must be a non-negative integer, got ${count}`);
  }
  const [H, W] = typeof size === "number" ? [size, size] : size;
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < 1 || W < 1) {
    throw new RangeError(`size must be a positive integer or [height, width], got ${size}`);
  }
  checkRange("numbers", numbers, 1);
  checkRange("length", length, 1);
  checkRange("height", height, 1);
  if (!Array.isArray(gap) || gap.length !== 2 || !(gap[1] >= gap[0]) || !(gap[0] > -1)) {
    throw new RangeError(`gap must be [min, max] with −1 < min ≤ max, got ${gap}`);
  }
  if (!(rotation >= 0) || !(slant >= 0) || !(spacing >= 0)) {
    throw new RangeError("rotation, slant and spacing must be ≥ 0");
  }
  const rng = makeRng(seed);
  const pixels = new Float32Array(count * H * W);
  const objects: SceneObject[][] = [];
  const numberLists: WrittenNumber[][] = [];
  const lay = { height, gap, rotation, slant, spacing };
  for (let s = 0; s < count; s++) {
    const wanted = numbers[0] + rng.int(numbers[1] - numbers[0] + 1);
    const taken: Box[] = [];
    const sceneObjects: SceneObject[] = [];
    const sceneNumbers: WrittenNumber[] = [];
    const canvas = pixels.subarray(s * H * W, (s + 1) * H * W);
    for (let n = 0, misses = 0; n < wanted && misses < 4;) {
      const digits = length[0] + rng.int(length[1] - length[0] + 1);
      const { placed, box } = layNumber(source, rng, digits, lay);
      if (placed.length === 0) continue;
      const margin = spacing * (box[1] - box[0]);
      const at = findPlace(rng, box, margin, taken, H, W);
      if (!at) {
        misses++;
        continue;
      }
      n++;
      const [dy, dx] = at;
      taken.push([
        box[0] + dy - margin,
        box[1] + dy + margin,
        box[2] + dx - margin,
        box[3] + dx + margin,
      ]);
      let text = "";
      for (const p of placed) {
        paste(p.glyph, canvas, H, W, p.top + dy, p.left + dx);
        const [gt, gb, gl, gr] = p.glyph.box;
        const top = p.top + dy, left = p.left + dx;
        sceneObjects.push({ label: p.label, box: [top + gt, top + gb, left + gl, left + gr] });
        text += p.label;
      }
      sceneNumbers.push({ text, box: [box[0] + dy, box[1] + dy, box[2] + dx, box[3] + dx] });
    }
    objects.push(sceneObjects);
    numberLists.push(sceneNumbers);
  }
  return { height: H, width: W, pixels, objects, numbers: numberLists };
}

/** A uniform integer shift that puts `box` (with its margin) on the canvas clear of `taken`. */
function findPlace(
  rng: Rng,
  box: Box,
  margin: number,
  taken: readonly Box[],
  H: number,
  W: number,
): [number, number] | undefined {
  // The ink must lie inside the canvas; the free space may leave it.
  const y0 = Math.ceil(-box[0]), y1 = Math.floor(H - box[1]);
  const x0 = Math.ceil(-box[2]), x1 = Math.floor(W - box[3]);
  if (y1 < y0 || x1 < x0) return undefined;
  for (let tries = 0; tries < 30; tries++) {
    const dy = y0 + rng.int(y1 - y0 + 1), dx = x0 + rng.int(x1 - x0 + 1);
    const t = box[0] + dy - margin, b = box[1] + dy + margin;
    const l = box[2] + dx - margin, r = box[3] + dx + margin;
    if (taken.every((o) => b <= o[0] || t >= o[1] || r <= o[2] || l >= o[3])) return [dy, dx];
  }
  return undefined;
}

/** Max-composites a glyph onto a canvas at (top, left), clipped. */
function paste(g: Glyph, canvas: Float32Array, H: number, W: number, top: number, left: number) {
  for (let r = Math.max(0, -top); r < g.height && top + r < H; r++) {
    const row = (top + r) * W + left, src = r * g.width;
    for (let c = Math.max(0, -left); c < g.width && left + c < W; c++) {
      const v = g.pixels[src + c];
      if (v > canvas[row + c]) canvas[row + c] = v;
    }
  }
}
