/**
 * Per-window training targets (assignment step 3-2): one 6-vector
 * `[objectness, label, top, bottom, left, right]` per window of the sliding-window grid.
 *
 * Window (i, j) covers rows `[offset + i·stride, offset + i·stride + size)` and the same for
 * columns. It is positive iff the box and the window overlap with positive area; then the box is
 * written in the window's frame, `(y − windowTop) / size` and `(x − windowLeft) / size` (values fall
 * outside [0, 1] where the box sticks out of the window). Negative windows are all zeros.
 *
 * @module
 */
import { type Tensor4D, tf } from "../deps.ts";
import type { WindowGrid } from "../geometry.ts";

import { TARGET_CHANNELS } from "../model/layout.ts";

export { TARGET_CHANNELS };

/**
 * Checks a window grid (integers; size and stride ≥ 1) and throws a one-line error naming the
 * field otherwise.
 *
 * @example
 * ```ts
 * import { checkGrid } from "./encode.ts";
 * checkGrid({ size: 40, stride: 8, offset: 0, rows: 4, cols: 4 }); // fine
 * ```
 */
export function checkGrid(grid: WindowGrid): void {
  for (const key of ["size", "stride", "offset", "rows", "cols"] as const) {
    if (!Number.isInteger(grid?.[key])) {
      throw new TypeError(
        `grid.${key} must be an integer, got ${grid?.[key]}; build grid with windowGrid()`,
      );
    }
  }
  if (grid.size < 1 || grid.stride < 1 || grid.rows < 0 || grid.cols < 0) {
    throw new RangeError(`grid needs size ≥ 1, stride ≥ 1, rows ≥ 0, cols ≥ 0; use windowGrid()`);
  }
}

/**
 * The rows `i0…i1` and columns `j0…j1` of the windows that may overlap the box
 * `[top, bottom) × [left, right)`: a superset (one extra on each side against rounding), clipped
 * to the grid; callers test the exact overlap.
 *
 * @example
 * ```ts
 * import { candidateWindows } from "./encode.ts";
 * const grid = { size: 40, stride: 8, offset: 0, rows: 4, cols: 4 };
 * console.log(candidateWindows(grid, 10, 30, 50, 60)); // [0, 3, 1, 3]
 * ```
 */
export function candidateWindows(
  grid: WindowGrid,
  top: number,
  bottom: number,
  left: number,
  right: number,
): [number, number, number, number] {
  const { size, stride, offset, rows, cols } = grid;
  return [
    Math.max(0, Math.floor((top - size - offset) / stride)),
    Math.min(rows - 1, Math.ceil((bottom - offset) / stride)),
    Math.max(0, Math.floor((left - size - offset) / stride)),
    Math.min(cols - 1, Math.ceil((right - offset) / stride)),
  ];
}

/**
 * The targets of {@linkcode encodeTargets} as a plain Float32Array, laid out `[N, rows, cols, 6]`.
 *
 * @example
 * ```ts
 * import { encodeTargetsData } from "./encode.ts";
 * const grid = { size: 10, stride: 10, offset: 0, rows: 1, cols: 2 };
 * const y = encodeTargetsData(new Float32Array([2, 8, 5, 15]), new Int32Array([7]), grid);
 * console.log(y); // window 0: [1, 7, 0.2, 0.8, 0.5, 1.5], window 1: [1, 7, 0.2, 0.8, -0.5, 0.5]
 * ```
 */
export function encodeTargetsData(
  boxes: Float32Array,
  labels: Int32Array,
  grid: WindowGrid,
): Float32Array {
  checkGrid(grid);
  const n = labels.length;
  if (boxes.length !== 4 * n) {
    throw new RangeError(
      `boxes must hold 4 numbers per label (${4 * n} for ${n} labels), got ${boxes.length}`,
    );
  }
  const { size, stride, offset, rows, cols } = grid;
  const out = new Float32Array(n * rows * cols * TARGET_CHANNELS);
  for (let k = 0; k < n; k++) {
    const top = boxes[4 * k], bottom = boxes[4 * k + 1];
    const left = boxes[4 * k + 2], right = boxes[4 * k + 3];
    if (!(bottom > top && right > left)) continue; // empty box: no window overlaps it
    const label = labels[k];
    // the exact overlap test below decides: start < bottom and start + size > top
    const [i0, i1, j0, j1] = candidateWindows(grid, top, bottom, left, right);
    for (let i = i0; i <= i1; i++) {
      const wTop = offset + i * stride;
      if (!(wTop < bottom && wTop + size > top)) continue;
      const t = (top - wTop) / size, b = (bottom - wTop) / size;
      for (let j = j0; j <= j1; j++) {
        const wLeft = offset + j * stride;
        if (!(wLeft < right && wLeft + size > left)) continue;
        const at = ((k * rows + i) * cols + j) * TARGET_CHANNELS;
        out[at] = 1;
        out[at + 1] = label;
        out[at + 2] = t;
        out[at + 3] = b;
        out[at + 4] = (left - wLeft) / size;
        out[at + 5] = (right - wLeft) / size;
      }
    }
  }
  return out;
}

/**
 * Encodes one box and label per image as `[N, rows, cols, 6]` per-window targets
 * `[objectness, label, top, bottom, left, right]` (see the module doc for the rules).
 *
 * @example
 * ```ts
 * import "../backends/backend.ts";
 * import { encodeTargets } from "./encode.ts";
 * import { windowGrid } from "../geometry.ts";
 * const grid = windowGrid([{ kind: "conv", kernel: 40 }, { kind: "pool", kernel: 4 }], 64); // 7×7
 * const y = encodeTargets(new Float32Array([10, 30, 20, 41]), new Int32Array([3]), grid);
 * console.log(y.shape); // [1, 7, 7, 6]
 * y.dispose();
 * ```
 */
export function encodeTargets(
  boxes: Float32Array,
  labels: Int32Array,
  grid: WindowGrid,
): Tensor4D {
  const data = encodeTargetsData(boxes, labels, grid);
  return tf.tensor4d(data, [labels.length, grid.rows, grid.cols, TARGET_CHANNELS]);
}
