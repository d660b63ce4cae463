/**
 * Pictures of written numbers for the specs (no tests here): MNIST digits pasted side by side
 * into numbers and lines, white ink on black with the true number and digit boxes
 * ({@linkcode numbersPicture}), and the same ink as pencil on lit paper ({@linkcode pencil}).
 */
import { DIGIT_SIDE, type MnistSplit } from "../src/data/mnist.ts";
import type { GrayImage } from "../src/data/gray.ts";
import type { Box } from "../src/data/multi_scenes.ts";
import { makeRng } from "../src/rng.ts";

/** A picture of numbers: the ink (white on black) and what is written where. */
export interface NumbersPicture extends GrayImage {
  /** The numbers, line by line, left to right. */
  numbers: { text: string; box: Box }[];
  /** Every digit with its ink box. */
  digits: { label: number; box: Box }[];
}

/** Options of {@linkcode numbersPicture}. */
export interface NumbersOptions {
  seed: number;
  width: number;
  height: number;
  /** Digits per number, [min, max]; default [2, 4]. */
  digits?: readonly [number, number];
  /** Numbers per line, [min, max]; default [1, 2]. */
  numbers?: readonly [number, number];
  /** Lines; default as many as fit (44 px apart). */
  lines?: number;
  /** Gap between the ink of neighbouring digits of a number, [min, max] px; default [2, 6]. */
  gap?: readonly [number, number];
}

/**
 * Seeded numbers of MNIST digits at their own size (ink about 20 px tall), each digit's ink `gap`
 * px right of the previous digit's ink (by default 2–6: separate, not touching), numbers 22–40 px
 * apart, lines 44 px apart, starting 8 px from the top left.
 */
export function numbersPicture(split: MnistSplit, options: NumbersOptions): NumbersPicture {
  const { seed, width, height, digits = [2, 4], numbers = [1, 2], gap = [2, 6] } = options;
  const rng = makeRng(seed);
  const data = new Float32Array(width * height);
  const result: NumbersPicture = { width, height, data, numbers: [], digits: [] };
  const lines = options.lines ?? Math.floor((height - 8) / 44);
  for (let l = 0; l < lines; l++) {
    const top = 8 + 44 * l + rng.int(5);
    let left = 4 + rng.int(8);
    const count = numbers[0] + rng.int(numbers[1] - numbers[0] + 1);
    for (let k = 0; k < count; k++) {
      const n = digits[0] + rng.int(digits[1] - digits[0] + 1);
      if (left + n * (20 + gap[1]) + 8 > width) break;
      const boxes: Box[] = [];
      let text = "";
      for (let d = 0; d < n; d++) {
        const index = rng.int(split.count);
        const [inkLeft] = inkColumns(split, index);
        const box = paste(split, index, data, width, top + rng.int(3) - 1, left - inkLeft);
        if (box) {
          boxes.push(box);
          text += split.labels[index];
          result.digits.push({ label: split.labels[index], box });
        }
        if (box) left = box[3] + gap[0] + rng.int(gap[1] - gap[0] + 1);
      }
      if (boxes.length) {
        result.numbers.push({
          text,
          box: [
            Math.min(...boxes.map((b) => b[0])),
            Math.max(...boxes.map((b) => b[1])),
            Math.min(...boxes.map((b) => b[2])),
            Math.max(...boxes.map((b) => b[3])),
          ],
        });
      }
      left += 22 + rng.int(19);
    }
  }
  return result;
}

/** First and last ink column (+1) of digit `index` in its 28 × 28 cell. */
function inkColumns(split: MnistSplit, index: number): [number, number] {
  let first = DIGIT_SIDE, last = 0;
  for (let y = 0; y < DIGIT_SIDE; y++) {
    for (let x = 0; x < DIGIT_SIDE; x++) {
      if (split.images[index * DIGIT_SIDE * DIGIT_SIDE + y * DIGIT_SIDE + x] > 0) {
        first = Math.min(first, x);
        last = Math.max(last, x + 1);
      }
    }
  }
  return [first, last];
}

/** Max-composites digit `index` with its cell's top left at (top, left); returns its ink box. */
function paste(
  split: MnistSplit,
  index: number,
  data: Float32Array,
  width: number,
  top: number,
  left: number,
): Box | null {
  const height = data.length / width;
  let t = Infinity, b = -Infinity, l = Infinity, r = -Infinity;
  for (let y = 0; y < DIGIT_SIDE; y++) {
    for (let x = 0; x < DIGIT_SIDE; x++) {
      const v = split.images[index * DIGIT_SIDE * DIGIT_SIDE + y * DIGIT_SIDE + x] / 255;
      const py = top + y, px = left + x;
      if (v <= 0 || py < 0 || px < 0 || py >= height || px >= width) continue;
      const p = py * width + px;
      if (v > data[p]) data[p] = v;
      t = Math.min(t, py);
      b = Math.max(b, py + 1);
      l = Math.min(l, px);
      r = Math.max(r, px + 1);
    }
  }
  return t < b ? [t, b, l, r] : null;
}

/** Options of {@linkcode pencil}. */
export interface PencilOptions {
  seed: number;
  /** How dark the pencil is (0: invisible, 1: black), [min, max] drawn once; default [0.4, 0.9]. */
  darkness?: readonly [number, number];
  /** Gaussian sensor noise σ; default 0.03. */
  noise?: number;
}

/**
 * The ink of `picture` as pencil on lit paper: paper brightness a linear gradient across the page
 * (from 0.5–0.65 to 0.85–0.95, in a random direction), ink `paper · (1 − darkness · ink)`,
 * blurred by a 3 × 3 binomial kernel, plus Gaussian noise, clipped to [0, 1].
 */
export function pencil(picture: GrayImage, options: PencilOptions): GrayImage & {
  darkness: number;
} {
  const { seed, darkness: range = [0.4, 0.9], noise = 0.03 } = options;
  const { width, height, data: ink } = picture;
  const rng = makeRng(seed);
  const darkness = range[0] + rng.next() * (range[1] - range[0]);
  const lo = rng.uniform(0.5, 0.65), hi = rng.uniform(0.85, 0.95);
  const angle = rng.uniform(0, 2 * Math.PI);
  const [cx, cy] = [Math.cos(angle), Math.sin(angle)];
  const ends = [0, width - 1].flatMap((x) => [0, height - 1].map((y) => x * cx + y * cy));
  const [min, max] = [Math.min(...ends), Math.max(...ends)];
  const sharp = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const paper = lo + (hi - lo) * ((x * cx + y * cy - min) / (max - min));
      sharp[y * width + x] = paper * (1 - darkness * ink[y * width + x]);
    }
  }
  const data = new Float32Array(width * height);
  const k = [0.25, 0.5, 0.25];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = Math.min(height - 1, Math.max(0, y + dy));
          const xx = Math.min(width - 1, Math.max(0, x + dx));
          s += k[dy + 1] * k[dx + 1] * sharp[yy * width + xx];
        }
      }
      // Box–Muller
      const g = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
      data[y * width + x] = Math.min(1, Math.max(0, s + noise * g));
    }
  }
  return { width, height, data, darkness };
}
