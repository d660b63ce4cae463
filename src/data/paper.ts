/**
 * Ink on paper: turns a scene's ink (white on black, in [0, 1]) into the grey picture a camera or
 * scanner gives of dark pencil or pen on lit paper — uneven light (a gradient and a soft spot),
 * varying ink darkness, stroke width and grain, a little blur, sensor noise, 8-bit levels. Seeded,
 * plain TypeScript; the digits' boxes do not move.
 *
 * @module
 */
import { makeRng, type Rng } from "../rng.ts";

/** Ranges `[min, max]` the paper look is drawn from (uniform), per picture. */
export interface PaperOptions {
  /** Brightness of the paper where the light is strongest; default [0.6, 0.97]. */
  light?: readonly [number, number];
  /** Fall of the light across the page (a fraction of `light`); default [0, 0.45]. */
  shade?: readonly [number, number];
  /** How much light the ink takes away where it is full; default [0.35, 0.9]. */
  ink?: readonly [number, number];
  /** Stroke width change in pixels (negative: thinner); default [-0.5, 1]. */
  stroke?: readonly [number, number];
  /** Standard deviation of the blur in pixels; default [0, 1.2]. */
  blur?: readonly [number, number];
  /** Standard deviation of the sensor noise (of full scale); default [0, 0.05]. */
  noise?: readonly [number, number];
}

function draw(rng: Rng, r: readonly [number, number]): number {
  return rng.uniform(r[0], r[1]);
}

/** A standard normal draw (Box–Muller). */
function normal(rng: Rng): number {
  const u = 1 - rng.next(), v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * The picture of `ink` (`height × width`, white on black) written on paper, dark on light, in
 * [0, 1], quantised to 256 levels. The same seed gives the same picture.
 *
 * @example
 * ```ts
 * import { onPaper } from "./paper.ts";
 * const ink = new Float32Array(16 * 16);
 * ink.fill(1, 100, 110); // a stroke
 * const picture = onPaper(ink, 16, 16, { seed: 1 });
 * console.log(picture[0] > picture[105]); // true: paper is lighter than ink
 * ```
 */
export function onPaper(
  ink: Float32Array,
  height: number,
  width: number,
  options: PaperOptions & { seed: number },
): Float32Array {
  if (ink.length !== height * width) {
    throw new RangeError(
      `ink must hold height × width = ${height * width} values, got ${ink.length}`,
    );
  }
  const {
    seed,
    light = [0.6, 0.97],
    shade = [0, 0.45],
    ink: darkness = [0.35, 0.9],
    stroke = [-0.5, 1],
    blur = [0, 1.2],
    noise = [0, 0.05],
  } = options;
  const rng = makeRng(seed);
  const strokes = widen(ink, height, width, draw(rng, stroke));
  // Grain: pencil leaves uneven ink.
  const grain = rng.uniform(0, 0.35);
  const dark = draw(rng, darkness);
  // Light: a linear fall in a random direction, plus a soft spot (separable: a row factor times a
  // column factor).
  const top = draw(rng, light), fall = draw(rng, shade) * top;
  const angle = rng.uniform(0, 2 * Math.PI), gy = Math.sin(angle), gx = Math.cos(angle);
  const spotY = rng.uniform(0, height), spotX = rng.uniform(0, width);
  const spot = rng.uniform(0, 0.15) * top, spread = rng.uniform(0.3, 1) * Math.max(height, width);
  const span = Math.abs(gy) * height + Math.abs(gx) * width || 1;
  const y0 = gy < 0 ? height : 0, x0 = gx < 0 ? width : 0;
  const colSpot = Float32Array.from(
    { length: width },
    (_, c) => Math.exp(-(((c - spotX) / spread) ** 2)),
  );
  const colFall = Float32Array.from({ length: width }, (_, c) => (c - x0) * gx / span);
  const out = new Float32Array(height * width);
  for (let r = 0; r < height; r++) {
    const rowSpot = spot * Math.exp(-(((r - spotY) / spread) ** 2)), rowFall = (r - y0) * gy / span;
    for (let c = 0, p = r * width; c < width; c++, p++) {
      const paper = top - fall * (rowFall + colFall[c]) + rowSpot * colSpot[c];
      const v = strokes[p];
      out[p] = v > 0 ? paper * (1 - dark * v * (1 - grain * rng.next())) : paper;
    }
  }
  const blurred = gaussianBlur(out, height, width, draw(rng, blur));
  const sigma = draw(rng, noise);
  const table = normals();
  for (let p = 0; p < blurred.length; p++) {
    const v = blurred[p] + sigma * table[rng.int(table.length)];
    blurred[p] = Math.round(255 * Math.min(1, Math.max(0, v))) / 255;
  }
  return blurred;
}

let normalTable: Float32Array | undefined;

/** 4 096 standard normal quantiles (noise is drawn from them: one random index per pixel). */
function normals(): Float32Array {
  if (normalTable) return normalTable;
  const rng = makeRng(4096);
  normalTable = Float32Array.from({ length: 4096 }, () => normal(rng));
  return normalTable;
}

/**
 * Strokes `amount` pixels wider (a grey dilation by a square of that radius, blended for a
 * fraction) or narrower (ink raised to a power, which thins the soft edges).
 */
function widen(ink: Float32Array, height: number, width: number, amount: number): Float32Array {
  if (amount < 0) {
    const power = 1 - 2 * amount; // −0.5 → 2
    return ink.map((v) => v ** power);
  }
  if (amount === 0) return ink;
  const radius = Math.ceil(amount), frac = amount / radius;
  const max = separable(ink, height, width, radius, (line, out, n) => {
    for (let i = 0; i < n; i++) {
      let m = 0;
      for (let k = 0; k <= 2 * radius; k++) if (line[i + k] > m) m = line[i + k];
      out[i] = m;
    }
  });
  for (let p = 0; p < max.length; p++) max[p] = ink[p] + frac * (max[p] - ink[p]);
  return max;
}

/**
 * Applies a 1-D filter of reach `radius` along rows, then along columns: `filter(line, out, n)`
 * gets a line padded by `radius` copies of its end values on each side and writes `n` outputs.
 */
function separable(
  image: Float32Array,
  height: number,
  width: number,
  radius: number,
  filter: (line: Float32Array, out: Float32Array, n: number) => void,
): Float32Array {
  const line = new Float32Array(Math.max(height, width) + 2 * radius);
  const result = new Float32Array(Math.max(height, width));
  const tmp = new Float32Array(image.length), out = new Float32Array(image.length);
  const pass = (
    from: Float32Array,
    to: Float32Array,
    n: number,
    lines: number,
    step: number,
    stride: number,
  ) => {
    for (let l = 0; l < lines; l++) {
      const base = l * stride;
      for (let i = 0; i < n; i++) line[radius + i] = from[base + i * step];
      line.fill(line[radius], 0, radius);
      line.fill(line[radius + n - 1], radius + n, 2 * radius + n);
      filter(line, result, n);
      for (let i = 0; i < n; i++) to[base + i * step] = result[i];
    }
  };
  pass(image, tmp, width, height, 1, width);
  pass(tmp, out, height, width, width, 1);
  return out;
}

/** Separable Gaussian blur with standard deviation `sigma` (edges clamped); a copy for σ < 0.2. */
export function gaussianBlur(
  image: Float32Array,
  height: number,
  width: number,
  sigma: number,
): Float32Array {
  if (!(sigma >= 0.2)) return image.slice();
  const radius = Math.ceil(3 * sigma);
  const kernel = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let k = -radius; k <= radius; k++) {
    sum += kernel[k + radius] = Math.exp(-k * k / (2 * sigma * sigma));
  }
  for (let k = 0; k < kernel.length; k++) kernel[k] /= sum;
  return separable(image, height, width, radius, (line, out, n) => {
    for (let i = 0; i < n; i++) {
      let v = 0;
      for (let k = 0; k < kernel.length; k++) v += kernel[k] * line[i + k];
      out[i] = v;
    }
  });
}
