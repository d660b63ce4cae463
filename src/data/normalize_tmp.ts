// Temporary normaliser for the reading scenes until the library's own lands (see
// src/data/reading_scenes.ts); histogram quantiles, O(pixels).
import { gaussianBlur } from "./paper.ts";

/** The q-quantile of `values` restricted to [lo, hi] by a `bins`-bin histogram. */
function quantile(values: Float32Array, q: number, lo: number, hi: number, bins = 1024): number {
  const hist = new Uint32Array(bins);
  const scale = bins / (hi - lo || 1);
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < lo || v > hi) continue;
    hist[Math.min(bins - 1, Math.floor((v - lo) * scale))]++;
    n++;
  }
  if (n === 0) return lo;
  const want = q * (n - 1);
  let seen = 0;
  for (let b = 0; b < bins; b++) {
    seen += hist[b];
    if (seen > want) return lo + (b + 0.5) / scale;
  }
  return hi;
}

export function normalizeScratch(
  img: Float32Array,
  H: number,
  W: number,
): { out: Float32Array; inverted: boolean } {
  const lo = quantile(img, 0.01, 0, 1, 256), hi = quantile(img, 0.99, 0, 1, 256);
  const med = quantile(img, 0.5, 0, 1, 256);
  const inverted = med - lo > hi - med;
  const v = inverted ? img.map((x) => 1 - x) : img;
  const T = Math.max(8, Math.round(Math.min(H, W) / 8));
  const ty = Math.ceil(H / T), tx = Math.ceil(W / T);
  const bg = new Float32Array(ty * tx);
  const hist = new Uint32Array(64);
  for (let i = 0; i < ty; i++) {
    for (let j = 0; j < tx; j++) {
      hist.fill(0);
      let n = 0;
      for (let r = i * T; r < Math.min(H, (i + 1) * T); r++) {
        for (let c = j * T; c < Math.min(W, (j + 1) * T); c++) {
          hist[Math.min(63, Math.floor(v[r * W + c] * 64))]++;
          n++;
        }
      }
      let seen = 0, b = 0;
      for (; b < 64; b++) if ((seen += hist[b]) > 0.4 * (n - 1)) break;
      bg[i * tx + j] = (b + 0.5) / 64;
    }
  }
  const m1 = new Float32Array(bg.length);
  for (let i = 0; i < ty; i++) {
    for (let j = 0; j < tx; j++) {
      let m = Infinity;
      for (let a = -1; a <= 1; a++) {
        for (let b = -1; b <= 1; b++) {
          const y = i + a, x = j + b;
          if (y >= 0 && y < ty && x >= 0 && x < tx) m = Math.min(m, bg[y * tx + x]);
        }
      }
      m1[i * tx + j] = m;
    }
  }
  let res: Float32Array = new Float32Array(H * W);
  for (let r = 0; r < H; r++) {
    const fy = Math.min(ty - 1, Math.max(0, (r + 0.5) / T - 0.5));
    const y0 = Math.floor(fy), y1 = Math.min(ty - 1, y0 + 1), a = fy - y0;
    for (let c = 0; c < W; c++) {
      const fx = Math.min(tx - 1, Math.max(0, (c + 0.5) / T - 0.5));
      const x0 = Math.floor(fx), x1 = Math.min(tx - 1, x0 + 1), b = fx - x0;
      const b0 = (1 - a) * ((1 - b) * m1[y0 * tx + x0] + b * m1[y0 * tx + x1]) +
        a * ((1 - b) * m1[y1 * tx + x0] + b * m1[y1 * tx + x1]);
      res[r * W + c] = v[r * W + c] - b0;
    }
  }
  let med2 = quantile(res, 0.5, -1, 1, 2048);
  const dev = res.map((x) => Math.abs(x - med2));
  let sigma = 1.4826 * quantile(dev, 0.5, 0, 1, 2048);
  if (sigma > 0.015) {
    res = gaussianBlur(res, H, W, 0.7);
    med2 = quantile(res, 0.5, -1, 1, 2048);
    sigma = 1.4826 * quantile(res.map((x) => Math.abs(x - med2)), 0.5, 0, 1, 2048);
  }
  const t = med2 + 3 * sigma;
  const stroke = quantile(res, 0.9, t + 0.02, 1, 1024);
  const out = new Float32Array(H * W);
  const span = Math.max(0.05, stroke - t);
  for (let p = 0; p < out.length; p++) out[p] = Math.min(1, Math.max(0, (res[p] - t) / span));
  return { out, inverted };
}
