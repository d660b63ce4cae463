/**
 * Reading in the page, shared by the writing pad and the detect view: grey pixels from a canvas
 * (src/data/gray.ts), prepared like `deno task read` does (src/data/prepare.ts: polarity,
 * background, contrast), read by `readNumbers` (src/detection/read.ts), and drawn: digits in red,
 * numbers in blue with their text.
 *
 * @module
 */
import { type GrayConversion, grayFromRgba, type GrayImage } from "../data/gray.ts";
import type { NormalizedImage } from "../data/normalize.ts";
import { prepareGray } from "../data/prepare.ts";
import { type Reading, readNumbers } from "../detection/read.ts";
import type { Model } from "../model/model.ts";
import { COLORS, label, strokeBox } from "./canvas.ts";

/** Colour of the numbers' boxes (as `deno task read` draws them). */
export const NUMBER_COLOR = "#1e6eeb";
/** Digits with a lower score are neither read nor drawn. */
export const MIN_SCORE = 0.5;

/** What the page read in a picture. */
export interface PageReading {
  /** The pixels the net saw (white ink on black) and the polarity found. */
  image: NormalizedImage;
  /** Numbers and digits. */
  reading: Reading;
  /** Milliseconds from grey pixels to numbers. */
  ms: number;
}

/** The grey pixels of a canvas: luma, transparent pixels on the picture's own background. */
export function canvasGray(canvas: HTMLCanvasElement): GrayConversion {
  const ctx = canvas.getContext("2d", { willReadFrequently: true })!;
  const { width, height, data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
  return grayFromRgba({ width, height, pixels: data });
}

/** Prepares `gray` (normalised, polarity found) and reads its numbers with `model`. */
export async function readGray(model: Model, gray: GrayImage): Promise<PageReading> {
  const started = performance.now();
  const { tensor, image } = prepareGray(gray);
  try {
    const [reading] = await readNumbers(model, tensor, { group: { minScore: MIN_SCORE } });
    return { image, reading, ms: performance.now() - started };
  } finally {
    tensor.dispose();
  }
}

/**
 * Draws a reading on a canvas showing the picture `scale` times enlarged: digits (score ≥
 * MIN_SCORE) in red with their label, numbers in blue with "text confidence" above.
 */
export function drawReading(
  ctx: CanvasRenderingContext2D,
  reading: Reading,
  options: { scale: number; digitLabels?: boolean },
): void {
  const { scale, digitLabels = true } = options;
  for (const d of reading.detections) {
    if (d.score < MIN_SCORE) continue;
    strokeBox(ctx, d.box, { scale, color: COLORS.predicted, width: 2 });
    if (digitLabels) {
      label(ctx, String(d.label), { x: d.box[2] * scale, y: d.box[0] * scale, color: "#fff" });
    }
  }
  for (const n of reading.numbers) {
    const [t, b, l, r] = n.box;
    const pad = 3 / scale;
    strokeBox(ctx, [t - pad, b + pad, l - pad, r + pad], {
      scale,
      color: NUMBER_COLOR,
      width: 2,
    });
    label(ctx, `${n.text}  ${n.confidence.toFixed(2)}`, {
      x: (l - pad) * scale,
      y: Math.max(0, (t - pad) * scale - 18),
      color: "#9cc4ff",
    });
  }
}

/** One line for the page: the numbers read, line by line ("17 42 | 5"), or "no number". */
export function readingText(reading: Reading): string {
  const { numbers } = reading;
  return numbers.map((n, i) => (i && n.line !== numbers[i - 1].line ? "| " : "") + n.text)
    .join(" ") || "no number";
}

/** The reading as plain data for `host.dataset` (the specs read it). */
export function readingData(result: PageReading) {
  return {
    polarity: result.image.polarity,
    numbers: result.reading.numbers.map((n) => ({
      text: n.text,
      box: n.box,
      confidence: n.confidence,
      line: n.line,
      digits: n.digits.map((d) => ({ label: d.label, score: d.score, box: d.box })),
    })),
    detections: result.reading.detections.filter((d) => d.score >= MIN_SCORE).length,
  };
}
