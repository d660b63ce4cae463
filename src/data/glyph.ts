/**
 * One MNIST digit drawn as a person writes it: scaled to a height, stretched, slanted and rotated
 * (one affine map, bilinear, in plain TypeScript), on a local canvas just large enough for its ink,
 * with the sharp box of that ink. Written numbers (./written.ts) are made of glyphs.
 *
 * Coordinates as in ./render.ts: pixel (r, c) has its centre at (r, c) and covers
 * [r, r + 1) × [c, c + 1) in box coordinates; a box is `[top, bottom, left, right]` of the pixels
 * with ink > 0 (bottom and right one past the last ink row and column).
 *
 * @module
 */
import { DIGIT_PIXELS, DIGIT_SIDE } from "./mnist.ts";
import type { SceneSource } from "./render.ts";

/** How to draw one digit. */
export interface GlyphPose {
  /** Vertical scale: output pixels per pixel of the 28 × 28 digit. */
  scaleY: number;
  /** Horizontal scale. */
  scaleX: number;
  /** Rotation in degrees (positive: clockwise on screen). */
  angle: number;
  /** Slant: x shifts by −shear · y (y down), so a positive shear leans the top to the right. */
  shear: number;
}

/** A drawn digit on its own canvas. */
export interface Glyph {
  /** Canvas height in pixels. */
  height: number;
  /** Canvas width in pixels. */
  width: number;
  /** `height × width` ink values in [0, 1], row-major. */
  pixels: Float32Array;
  /** Sharp ink box on the canvas, `[top, bottom, left, right]`; zero size when no ink. */
  box: [number, number, number, number];
}

const CENTER = (DIGIT_SIDE - 1) / 2;

/** First and last ink rows of digit `index` (index coordinates). */
export function inkRows(source: SceneSource, index: number): [number, number] {
  const digit = source.images.subarray(index * DIGIT_PIXELS, (index + 1) * DIGIT_PIXELS);
  let first = -1, last = -1;
  for (let r = 0; r < DIGIT_SIDE; r++) {
    for (let c = 0; c < DIGIT_SIDE; c++) {
      if (digit[r * DIGIT_SIDE + c] !== 0) {
        if (first < 0) first = r;
        last = r;
        break;
      }
    }
  }
  return [first, last];
}

/**
 * Draws digit `index` of `source` with `pose`: every output pixel samples the digit bilinearly at
 * the inverse-mapped point (zero outside the 28 × 28 grid), on the smallest canvas holding the
 * mapped square around the digit's grid, whose centre sits on a pixel corner (the canvas size and
 * position of that centre follow from the pose alone).
 *
 * @example
 * ```ts
 * import { renderGlyph } from "./glyph.ts";
 * const source = { images: new Uint8Array(784).fill(255), labels: new Uint8Array([1]), count: 1 };
 * const g = renderGlyph(source, 0, { scaleY: 2, scaleX: 1, angle: 0, shear: 0 });
 * console.log(g.height, g.width); // 59 29
 * ```
 */
export function renderGlyph(source: SceneSource, index: number, pose: GlyphPose): Glyph {
  const { scaleY, scaleX, angle, shear } = pose;
  if (!(scaleY > 0 && scaleX > 0)) {
    throw new RangeError(`pose scales must be > 0, got ${scaleY} and ${scaleX}`);
  }
  const t = angle * Math.PI / 180, cos = Math.cos(t), sin = Math.sin(t);
  // Forward map of an offset d = (dy, dx) from the grid centre: o = R · K · S · d, where S scales,
  // K slants (x −= shear · y) and R rotates.
  const a = [
    // row y: [ayy, ayx], row x: [axy, axx]
    cos * scaleY + sin * (-shear * scaleY),
    sin * scaleX,
    -sin * scaleY + cos * (-shear * scaleY),
    cos * scaleX,
  ];
  // a as [[a0, a1], [a2, a3]] mapping (dy, dx) → (oy, ox).
  const det = a[0] * a[3] - a[1] * a[2];
  const inv = [a[3] / det, -a[1] / det, -a[2] / det, a[0] / det];
  // Bilinear support of the grid: the open square (−1, 28) around the centre.
  const reach = CENTER + 1;
  let minY = Infinity, maxY = -Infinity, minX = Infinity, maxX = -Infinity;
  for (const dy of [-reach, reach]) {
    for (const dx of [-reach, reach]) {
      const oy = a[0] * dy + a[1] * dx, ox = a[2] * dy + a[3] * dx;
      minY = Math.min(minY, oy), maxY = Math.max(maxY, oy);
      minX = Math.min(minX, ox), maxX = Math.max(maxX, ox);
    }
  }
  // Canvas position of the grid centre: half-integer like the grid's own (13.5), so an unrotated
  // digit at scale 1 lands on whole pixels.
  const cy = Math.ceil(-minY - 0.5) + 0.5, cx = Math.ceil(-minX - 0.5) + 0.5;
  const height = Math.ceil(cy + maxY), width = Math.ceil(cx + maxX);
  const pixels = new Float32Array(height * width);
  const digit = source.images.subarray(index * DIGIT_PIXELS, (index + 1) * DIGIT_PIXELS);
  let top = height, bottom = 0, left = width, right = 0;
  for (let r = 0; r < height; r++) {
    const oy = r - cy;
    for (let c = 0; c < width; c++) {
      const ox = c - cx;
      const y = inv[0] * oy + inv[1] * ox + CENTER, x = inv[2] * oy + inv[3] * ox + CENTER;
      if (!(y > -1 && y < DIGIT_SIDE && x > -1 && x < DIGIT_SIDE)) continue;
      const y0 = Math.floor(y), x0 = Math.floor(x), fy = y - y0, fx = x - x0;
      let v = 0;
      if (y0 >= 0) {
        const row = y0 * DIGIT_SIDE;
        if (x0 >= 0) v += (1 - fy) * (1 - fx) * digit[row + x0];
        if (x0 + 1 < DIGIT_SIDE) v += (1 - fy) * fx * digit[row + x0 + 1];
      }
      if (y0 + 1 < DIGIT_SIDE) {
        const row = (y0 + 1) * DIGIT_SIDE;
        if (x0 >= 0) v += fy * (1 - fx) * digit[row + x0];
        if (x0 + 1 < DIGIT_SIDE) v += fy * fx * digit[row + x0 + 1];
      }
      if (v > 0) {
        const ink = Math.min(1, v / 255);
        pixels[r * width + c] = ink;
        if (pixels[r * width + c] > 0) {
          if (r < top) top = r;
          if (r + 1 > bottom) bottom = r + 1;
          if (c < left) left = c;
          if (c + 1 > right) right = c + 1;
        }
      }
    }
  }
  const box: [number, number, number, number] = bottom > top
    ? [top, bottom, left, right]
    : [0, 0, 0, 0];
  return { height, width, pixels, box };
}
