/**
 * Sharp bounding boxes of the ink in a batch of images (assignment step 3-1), vectorised with tf ops.
 *
 * Coordinates are continuous: pixel (r, c) covers [r, r + 1) × [c, c + 1), so a box
 * `[top, bottom, left, right]` has `top` = the first row holding a pixel above the threshold and
 * `bottom` = the last such row + 1 (likewise for columns).
 *
 * @module
 */
import { type Tensor4D, tf } from "../deps.ts";

/**
 * Bounding box `[top, bottom, left, right]` of the pixels `> threshold` in each image of a
 * `[N, H, W, C]` batch, as a Float32Array of N × 4 numbers. Throws if an image has no such pixel.
 *
 * @example
 * ```ts
 * import { type Tensor4D, tf } from "../deps.ts";
 * import "../backends/backend.ts";
 * import { boundingBoxes } from "./boxes.ts";
 * const image = tf.buffer([1, 4, 5, 1]);
 * image.set(1, 0, 1, 2, 0);
 * image.set(1, 0, 2, 3, 0);
 * const t = image.toTensor() as Tensor4D;
 * console.log(await boundingBoxes(t)); // Float32Array(4) [ 1, 3, 2, 4 ]
 * t.dispose();
 * ```
 */
export async function boundingBoxes(images: Tensor4D, threshold = 0): Promise<Float32Array> {
  if (images.rank !== 4) {
    throw new TypeError(`images must be a [N, H, W, C] tensor, got shape [${images.shape}]`);
  }
  const [n, h, w] = images.shape;
  const packed = tf.tidy(() => {
    // Row / column profiles: is there ink anywhere in row r (column c)?
    const rows = tf.cast(tf.greater(tf.max(images, [2, 3]), threshold), "int32"); // [N, H]
    const cols = tf.cast(tf.greater(tf.max(images, [1, 3]), threshold), "int32"); // [N, W]
    // Weighting the profile by n − i (first ink) or i + 1 (last ink) makes the maximum unique:
    // argMax breaks ties differently per backend (webgpu's parallel reduction need not return the
    // first maximum).
    const first = (p: tf.Tensor, n: number) => tf.argMax(tf.mul(p, tf.range(n, 0, -1, "int32")), 1);
    const last = (p: tf.Tensor, n: number) =>
      tf.argMax(tf.mul(p, tf.range(1, n + 1, 1, "int32")), 1);
    return tf.stack(
      [first(rows, h), last(rows, h), first(cols, w), last(cols, w), tf.max(rows, 1)],
      1,
    );
    // [N, 5] int32: first ink row, last ink row, first ink column, last ink column, any ink
  });
  const values = await packed.data();
  packed.dispose();
  const boxes = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const v = i * 5;
    if (values[v + 4] === 0) {
      throw new RangeError(
        `Image ${i} has no pixel above threshold ${threshold}; every image needs ink for a box`,
      );
    }
    boxes[i * 4] = values[v];
    boxes[i * 4 + 1] = values[v + 1] + 1;
    boxes[i * 4 + 2] = values[v + 2];
    boxes[i * 4 + 3] = values[v + 3] + 1;
  }
  return boxes;
}
