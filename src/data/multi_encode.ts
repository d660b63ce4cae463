/**
 * Per-window training targets for multi-digit scenes, in the layout of
 * {@link ./encode.ts}: one `[objectness, label, top, bottom, left, right]` per window.
 *
 * A window is positive when some digit's box overlaps it with positive area (the single-digit
 * rule); when several do, it takes the digit covering most of the window (ties: the first), or
 * with `assign: "centre"` the digit whose box centre is nearest the window's centre (what a window
 * over a written number, holding a digit and parts of its neighbours, should report). With
 * one digit per scene this is exactly {@linkcode encodeTargetsData}. With `minCover` > 0, a digit
 * only makes a window positive when the window covers at least that fraction of what the best
 * window covers of its box (e.g. 1: only the windows that hold the whole digit; 0.5: windows that
 * see a sliver of a digit, or mostly its neighbour, become negatives). Measured against the best
 * window, not the box, so a digit larger than any window still has positives.
 *
 * @module
 */
import { type Tensor4D, tf } from "../deps.ts";
import { candidateWindows, checkGrid, TARGET_CHANNELS } from "./encode.ts";
import type { WindowGrid } from "../geometry.ts";
import type { SceneObject } from "./multi_scenes.ts";

/** Options of {@linkcode encodeObjects}. */
export interface EncodeObjectsOptions {
  /**
   * Least fraction of a digit's box, of what the best window covers of it, that a positive window
   * covers; default 0 (any overlap).
   */
  minCover?: number;
  /**
   * Which digit a window covering several takes: the one covering most of it ("area", the
   * default) or the one whose box centre is nearest the window's centre ("centre").
   */
  assign?: "area" | "centre";
}

/**
 * The targets of multi-digit scenes as a Float32Array laid out `[N, rows, cols, 6]`.
 *
 * @example
 * ```ts
 * import { encodeObjectsData } from "./multi_encode.ts";
 * const grid = { size: 10, stride: 10, offset: 0, rows: 1, cols: 2 };
 * const y = encodeObjectsData([[
 *   { label: 7, box: [2, 8, 5, 12] }, // covers 30 px of window 0, 12 of window 1
 *   { label: 1, box: [0, 10, 13, 20] }, // covers 70 px of window 1
 * ]], grid);
 * console.log(y); // window 0: [1, 7, 0.2, 0.8, 0.5, 1.2], window 1: [1, 1, 0, 1, 0.3, 1]
 * ```
 */
export function encodeObjectsData(
  objects: readonly (readonly SceneObject[])[],
  grid: WindowGrid,
  options: EncodeObjectsOptions = {},
): Float32Array {
  const { size, stride, offset, rows, cols } = grid;
  const { minCover = 0, assign = "area" } = options;
  if (!(minCover >= 0 && minCover <= 1)) {
    throw new RangeError(`options.minCover must be in [0, 1], got ${minCover}`);
  }
  if (assign !== "area" && assign !== "centre") {
    throw new RangeError(`options.assign must be "area" or "centre", got ${assign}`);
  }
  const centre = assign === "centre";
  checkGrid(grid);
  const n = objects.length;
  const out = new Float32Array(n * rows * cols * TARGET_CHANNELS);
  // Per window, how good its digit so far is: the area it covers, or minus the squared distance
  // between the centres.
  const merit = new Float64Array(rows * cols);
  for (let k = 0; k < n; k++) {
    merit.fill(centre ? -Infinity : 0);
    for (const { label, box } of objects[k]) {
      const [top, bottom, left, right] = box;
      if (!(bottom > top && right > left)) continue;
      // a superset of windows; the overlap test decides
      const [i0, i1, j0, j1] = candidateWindows(grid, top, bottom, left, right);
      const needed = minCover > 0 ? minCover * bestCover(grid, box, i0, i1, j0, j1) : 0;
      const cy = (top + bottom) / 2, cx = (left + right) / 2;
      for (let i = i0; i <= i1; i++) {
        const wTop = offset + i * stride;
        const h = Math.min(bottom, wTop + size) - Math.max(top, wTop);
        if (!(h > 0)) continue;
        for (let j = j0; j <= j1; j++) {
          const wLeft = offset + j * stride;
          const w = Math.min(right, wLeft + size) - Math.max(left, wLeft);
          if (!(w > 0) || h * w < needed) continue;
          const m = centre ? -((wTop + size / 2 - cy) ** 2 + (wLeft + size / 2 - cx) ** 2) : h * w;
          if (m <= merit[i * cols + j]) continue;
          merit[i * cols + j] = m;
          const at = ((k * rows + i) * cols + j) * TARGET_CHANNELS;
          out[at] = 1;
          out[at + 1] = label;
          out[at + 2] = (top - wTop) / size;
          out[at + 3] = (bottom - wTop) / size;
          out[at + 4] = (left - wLeft) / size;
          out[at + 5] = (right - wLeft) / size;
        }
      }
    }
  }
  return out;
}

/**
 * The largest overlap area of `box` with one window of the grid (rows `i0…i1`, columns `j0…j1`
 * hold every window that overlaps it). Overlap is height × width, so the best window is the best
 * row times the best column.
 */
function bestCover(
  grid: WindowGrid,
  box: readonly number[],
  i0: number,
  i1: number,
  j0: number,
  j1: number,
): number {
  const { size, stride, offset } = grid;
  const [top, bottom, left, right] = box;
  let h = 0, w = 0;
  for (let i = i0; i <= i1; i++) {
    const wTop = offset + i * stride;
    h = Math.max(h, Math.min(bottom, wTop + size) - Math.max(top, wTop));
  }
  for (let j = j0; j <= j1; j++) {
    const wLeft = offset + j * stride;
    w = Math.max(w, Math.min(right, wLeft + size) - Math.max(left, wLeft));
  }
  return h * w;
}

/**
 * One-digit scenes (labels N, boxes N × 4) as the object lists {@linkcode encodeObjects} takes.
 *
 * @example
 * ```ts
 * import { singleObjects } from "./multi_encode.ts";
 * const objects = singleObjects(new Int32Array([7]), new Float32Array([1, 9, 2, 8]));
 * console.log(objects); // [[{ label: 7, box: [1, 9, 2, 8] }]]
 * ```
 */
export function singleObjects(
  labels: ArrayLike<number>,
  boxes: ArrayLike<number>,
): SceneObject[][] {
  if (boxes.length !== 4 * labels.length) {
    throw new RangeError(
      `boxes must hold 4 numbers per label (${4 * labels.length}), got ${boxes.length}`,
    );
  }
  return Array.from(labels, (label, k) => [{
    label,
    box: [boxes[4 * k], boxes[4 * k + 1], boxes[4 * k + 2], boxes[4 * k + 3]],
  }]);
}

/**
 * Encodes multi-digit scenes as `[N, rows, cols, 6]` per-window targets (see the module doc;
 * `minCover` as there).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backends/backend.ts";
 * await useBackend("cpu");
 * import { windowGrid } from "../geometry.ts";
 * import { S8_ARCH } from "../model/model.ts";
 * import { encodeObjects } from "./multi_encode.ts";
 * const grid = windowGrid(S8_ARCH, 128);
 * const y = encodeObjects([[{ label: 3, box: [10, 30, 20, 41] }]], grid);
 * console.log(y.shape); // [1, 12, 12, 6]
 * y.dispose();
 * ```
 */
export function encodeObjects(
  objects: readonly (readonly SceneObject[])[],
  grid: WindowGrid,
  options: EncodeObjectsOptions = {},
): Tensor4D {
  const data = encodeObjectsData(objects, grid, options);
  return tf.tensor4d(data, [objects.length, grid.rows, grid.cols, TARGET_CHANNELS]);
}
