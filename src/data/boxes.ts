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
    // First and last inked index as a min / max over the indices of inked rows (columns); not
    // argMax, whose choice among equal maxima is backend-defined (webgpu's is not the first).
    const firstLast = (profile: tf.Tensor2D, size: number) => {
      const int = (v: number) => tf.scalar(v, "int32");
      const index = tf.expandDims(tf.range(0, size, 1, "int32"), 0); // [1, size]
      const none = tf.sub(int(1), profile);
      return [
        tf.min(tf.add(tf.mul(profile, index), tf.mul(none, int(size))), 1), // size when no ink
        tf.max(tf.sub(tf.mul(profile, tf.add(index, int(1))), none), 1), // last + 1 (-1: none)
      ];
    };
    const [top, bottomEnd] = firstLast(rows as tf.Tensor2D, h);
    const [left, rightEnd] = firstLast(cols as tf.Tensor2D, w);
    return tf.stack([top, bottomEnd, left, rightEnd, tf.max(rows, 1)], 1); // [N, 5] int32
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
    boxes[i * 4 + 1] = values[v + 1];
    boxes[i * 4 + 2] = values[v + 2];
    boxes[i * 4 + 3] = values[v + 3];
  }
  return boxes;
}
