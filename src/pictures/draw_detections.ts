/**
 * A picture of one scene with its detections (issue 9): the scene upscaled with nearest neighbour,
 * true boxes in green stroked just outside their edges, detections in red stroked just inside,
 * each detection tagged "label score" at its top-left corner, numbers read in blue with their text
 * and confidence, under a header line. Same
 * conventions as {@link ./draw.ts}: image coordinate `x` lands on picture pixel
 * `origin + round(x · scale)`.
 *
 * @module
 */
import type { Tensor } from "../deps.ts";
import { encodeSurface, frame, PRED_COLOR, strokeWidth, TRUE_COLOR, whiteSurface } from "./draw.ts";
import { canvasKit, typeface } from "./png.ts";
import type { CanvasKit, Paint } from "./png.ts";

/** Picture margin around the scene, in picture pixels. */
export const DETECTIONS_MARGIN = 16;
/** Height of the header band above the scene. */
export const DETECTIONS_HEADER = 28;

/** What {@linkcode renderDetections} draws. */
export interface DetectionsPictureOptions {
  /** Detected digits: label, score, box `[top, bottom, left, right]` in image pixels. */
  detections: readonly { label: number; score: number; box: readonly number[] }[];
  /** True digits, drawn in green when given. */
  truths?: readonly { label: number; box: readonly number[] }[];
  /** Nearest-neighbour upscaling, an integer ≥ 1; default 3. */
  scale?: number;
  /** A line above the scene. */
  header?: string;
  /**
   * Numbers read (src/detection/read.ts), drawn in blue around their digits, tagged
   * "text confidence" above the box; the digits' own tags then show the label only.
   */
  numbers?: readonly { text: string; confidence: number; box: readonly number[] }[];
}

/** Colour of the numbers' boxes and tags. */
export const NUMBER_COLOR: readonly [number, number, number] = [20, 110, 235];

function fillPaint(ck: CanvasKit, rgb: readonly number[]): Paint {
  const paint = new ck.Paint();
  paint.setColor(ck.Color(rgb[0], rgb[1], rgb[2], 1));
  paint.setStyle(ck.PaintStyle.Fill);
  paint.setAntiAlias(false);
  return paint;
}

/**
 * Draws one grayscale scene (`[H, W]` values in [0, 1] as a Float32Array with `imageSize`, or a
 * tensor `[H, W]`, `[H, W, 1]` or `[1, H, W, 1]`) with its detections and true boxes; returns PNG
 * bytes of `2·16 + W·scale` × `2·16 + 28 + H·scale` pixels.
 *
 * @example
 * ```ts
 * import { renderDetections } from "./draw_detections.ts";
 * const png = await renderDetections(new Float32Array(64 * 64), {
 *   detections: [{ label: 7, score: 0.93, box: [10, 38, 20, 40] }],
 *   truths: [{ label: 7, box: [10, 38, 21, 40] }],
 *   header: "1 detection",
 * });
 * await Deno.writeFile("runs/detections.png", png);
 * ```
 */
export async function renderDetections(
  image: Float32Array | Tensor,
  options: DetectionsPictureOptions & { imageSize?: readonly [number, number] },
): Promise<Uint8Array> {
  const { detections, truths = [], scale = 3, header = "", numbers = [] } = options;
  if (!Number.isInteger(scale) || scale < 1) {
    throw new RangeError(`scale must be an integer ≥ 1 (nearest upscaling), got ${scale}`);
  }
  let data: Float32Array, h: number, w: number;
  if (image instanceof Float32Array) {
    const side = Math.round(Math.sqrt(image.length));
    [h, w] = options.imageSize ?? [side, side];
    data = image;
  } else {
    const dims = image.shape.filter((d, k) => !(d === 1 && (k === 0 || k === image.rank - 1)));
    if (dims.length !== 2) {
      throw new RangeError(`image must be one grayscale scene [H, W(, 1)], got [${image.shape}]`);
    }
    [h, w] = dims;
    data = await image.data() as Float32Array;
  }
  if (h * w !== data.length || h < 1) {
    throw new RangeError(`image has ${data.length} values, not ${h} × ${w}; pass imageSize`);
  }
  const ck = await canvasKit();
  const [x0, y0] = [DETECTIONS_MARGIN, DETECTIONS_MARGIN + DETECTIONS_HEADER];
  const { surface, canvas } = whiteSurface(
    ck,
    2 * x0 + w * scale,
    y0 + DETECTIONS_MARGIN + h * scale,
  );
  const rgba = new Uint8Array(h * w * 4);
  for (let p = 0; p < h * w; p++) {
    const v = Math.round(255 * Math.min(1, Math.max(0, data[p])));
    rgba[4 * p] = rgba[4 * p + 1] = rgba[4 * p + 2] = v;
    rgba[4 * p + 3] = 255;
  }
  const info = {
    width: w,
    height: h,
    colorType: ck.ColorType.RGBA_8888,
    alphaType: ck.AlphaType.Unpremul,
    colorSpace: ck.ColorSpace.SRGB,
  };
  const scene = ck.MakeImage(info, rgba, 4 * w);
  if (!scene) throw new Error("Could not make a CanvasKit image from the scene pixels");
  canvas.drawImageRectOptions(
    scene,
    ck.XYWHRect(0, 0, w, h),
    ck.XYWHRect(x0, y0, w * scale, h * scale),
    ck.FilterMode.Nearest,
    ck.MipmapMode.None,
    null,
  );
  scene.delete();
  const font = new ck.Font(await typeface("DejaVuSans-Bold"), Math.max(9, 4 * scale));
  font.setEdging(ck.FontEdging.AntiAlias);
  const headerFont = new ck.Font(await typeface("DejaVuSans"), 14);
  headerFont.setEdging(ck.FontEdging.AntiAlias);
  const stroke = strokeWidth(scale);
  const edges = (box: readonly number[]) => [
    Math.round(y0 + Math.min(h, Math.max(0, box[0])) * scale),
    Math.round(y0 + Math.min(h, Math.max(0, box[1])) * scale),
    Math.round(x0 + Math.min(w, Math.max(0, box[2])) * scale),
    Math.round(x0 + Math.min(w, Math.max(0, box[3])) * scale),
  ];
  const green = fillPaint(ck, TRUE_COLOR);
  const red = fillPaint(ck, PRED_COLOR);
  const white = fillPaint(ck, [255, 255, 255]);
  const dark = fillPaint(ck, [30, 30, 30]);
  const blue = fillPaint(ck, NUMBER_COLOR);
  for (const t of truths) {
    const e = edges(t.box);
    if (e[1] > e[0] && e[3] > e[2]) frame(canvas, ck, green, e, stroke);
  }
  for (const d of detections) {
    const e = edges(d.box);
    if (!(e[1] > e[0] && e[3] > e[2])) continue;
    frame(canvas, ck, red, e, -stroke);
    const text = numbers.length ? `${d.label}` : `${d.label} ${d.score.toFixed(2)}`;
    const width = font.getGlyphWidths(font.getGlyphIDs(text)).reduce((a, b) => a + b, 0);
    const tagH = Math.ceil(font.getSize() * 1.2);
    canvas.drawRect(ck.XYWHRect(e[2], e[0], Math.ceil(width) + 4, tagH), red);
    canvas.drawText(text, e[2] + 2, e[0] + tagH - Math.ceil(font.getSize() * 0.25), white, font);
  }
  for (const n of numbers) {
    const e = edges(n.box);
    if (!(e[1] > e[0] && e[3] > e[2])) continue;
    const gap = 2 * stroke; // around the digits' frames
    frame(canvas, ck, blue, [e[0] - gap, e[1] + gap, e[2] - gap, e[3] + gap], stroke);
    const text = `${n.text} ${n.confidence.toFixed(2)}`;
    const width = font.getGlyphWidths(font.getGlyphIDs(text)).reduce((a, b) => a + b, 0);
    const tagH = Math.ceil(font.getSize() * 1.2);
    // above the box, or below it when the top of the scene is too close
    const top = e[0] - gap - stroke - tagH >= y0 ? e[0] - gap - stroke - tagH : e[1] + gap + stroke;
    const left = e[2] - gap - stroke;
    canvas.drawRect(ck.XYWHRect(left, top, Math.ceil(width) + 4, tagH), blue);
    canvas.drawText(text, left + 2, top + tagH - Math.ceil(font.getSize() * 0.25), white, font);
  }
  if (header) canvas.drawText(header, x0, DETECTIONS_MARGIN + 16, dark, headerFont);
  [green, red, white, dark, blue].forEach((p) => p.delete());
  font.delete();
  headerFont.delete();
  return encodeSurface(surface);
}
