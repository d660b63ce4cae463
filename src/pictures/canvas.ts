/**
 * The drawing kit shared by every picture: CanvasKit surfaces, scenes upscaled, boxes stroked,
 * text fitted, fonts, legend, PNG encoding.
 *
 * Box convention: a box is `[top, bottom, left, right]` in continuous pixel coordinates, pixel
 * (r, c) covering `[r, r+1) × [c, c+1)`. Scenes are upscaled by an integer `scale` with nearest
 * neighbour, so image coordinate `x` lands on picture coordinate `origin + x·scale` (rounded to the
 * nearest picture pixel when `x·scale` is fractional).
 *
 * Stroke alignment: a box edge is the line between two picture pixels. The **true** box (green) is
 * stroked just **outside** that line and the **predicted** box (red) just **inside** it, each
 * {@linkcode strokeWidth} pixels thick; so both stay visible when they coincide, and the first
 * red pixel of a predicted box's left edge is column `origin + left·scale`, the last green pixel of
 * a true box's left edge is column `origin + left·scale − 1`.
 *
 * @module
 */
import type { Tensor } from "../deps.ts";
import { typeface } from "./png.ts";
import type { Canvas, CanvasKit, Font, Paint, Surface } from "./png.ts";

/** Green of true boxes, `[r, g, b]`. */
export const TRUE_COLOR: readonly [number, number, number] = [0, 200, 60];
/** Red of predicted boxes and of wrong titles, `[r, g, b]`. */
export const PRED_COLOR: readonly [number, number, number] = [235, 30, 30];

/** Margin around a picture, px. */
export const MARGIN = 16;
/** Gap between tiles, px. */
export const GAP = 14;
/** Height of a tile title, px. */
export const TITLE_BAND = 24;
/** Height of a picture header, px. */
export const HEADER_BAND = 30;
/** Height of the legend, px. */
export const LEGEND_BAND = 24;

/**
 * Stroke width in picture pixels of the boxes drawn at a given upscaling factor: half a scene
 * pixel, at least 1.
 *
 * @example
 * ```ts
 * import { strokeWidth } from "./draw.ts";
 * console.log(strokeWidth(4), strokeWidth(1)); // 2 1
 * ```
 */
export function strokeWidth(scale: number): number {
  return Math.max(1, Math.round(scale / 2));
}

export async function pixelsOf(
  images: Float32Array | Tensor,
  imageSize: readonly [number, number] | undefined,
  n: number,
): Promise<{ data: Float32Array; h: number; w: number }> {
  if (images instanceof Float32Array) {
    const side = Math.round(Math.sqrt(images.length / n));
    const [h, w] = imageSize ?? [side, side];
    if (h * w * n !== images.length) {
      throw new RangeError(
        `images has ${images.length} values, not ${n} × ${h} × ${w}; pass imageSize: [H, W]`,
      );
    }
    return { data: images, h, w };
  }
  const [count, h, w] = images.shape;
  if (count !== n || images.size !== n * h * w) {
    throw new RangeError(
      `images must have shape [${n}, H, W, 1] to match the labels, got [${images.shape}]`,
    );
  }
  return { data: (await images.data()) as Float32Array, h, w };
}

export function grayImage(ck: CanvasKit, data: Float32Array, start: number, h: number, w: number) {
  const rgba = new Uint8Array(h * w * 4);
  for (let p = 0; p < h * w; p++) {
    const v = Math.round(255 * Math.min(1, Math.max(0, data[start + p])));
    rgba[4 * p] = rgba[4 * p + 1] = rgba[4 * p + 2] = v;
    rgba[4 * p + 3] = 255;
  }
  return rgbaImage(ck, rgba, h, w);
}

export function rgbaImage(ck: CanvasKit, rgba: Uint8Array, h: number, w: number) {
  const image = ck.MakeImage(
    {
      width: w,
      height: h,
      colorType: ck.ColorType.RGBA_8888,
      alphaType: ck.AlphaType.Unpremul,
      colorSpace: ck.ColorSpace.SRGB,
    },
    rgba,
    4 * w,
  );
  if (!image) throw new Error("Could not make a CanvasKit image from the scene pixels");
  return image;
}

/** A paint that fills with one colour; antialiasing off so fills land on whole pixels. */
export function fill(ck: CanvasKit, rgb: readonly number[], alpha = 1) {
  const paint = new ck.Paint();
  paint.setColor(ck.Color(rgb[0], rgb[1], rgb[2], alpha));
  paint.setStyle(ck.PaintStyle.Fill);
  paint.setAntiAlias(false);
  return paint;
}

/**
 * Fills the frame between rectangle edges `[top, bottom, left, right]` (picture pixels) and the
 * same rectangle grown by `d` (d < 0: shrunk), so a box is stroked exactly outside or inside its
 * pixel edges.
 *
 * @example
 * ```ts
 * import { frame } from "./draw.ts";
 * import { canvasKit } from "./png.ts";
 * const ck = await canvasKit();
 * const surface = ck.MakeSurface(20, 20)!;
 * frame(surface.getCanvas(), ck, new ck.Paint(), [4, 12, 4, 12], 2); // a 2-px frame outside the box
 * ```
 */
export function frame(
  canvas: Canvas,
  ck: CanvasKit,
  paint: Paint,
  [t, b, l, r]: number[],
  d: number,
) {
  const [ol, or, ot, ob] = [
    Math.min(l, l - d),
    Math.max(r, r + d),
    Math.min(t, t - d),
    Math.max(b, b + d),
  ];
  const [il, ir, it, ib] = [
    Math.max(l, l - d),
    Math.min(r, r + d),
    Math.max(t, t - d),
    Math.min(b, b + d),
  ];
  if (ir <= il || ib <= it) {
    canvas.drawRect(ck.LTRBRect(ol, ot, or, ob), paint);
    return;
  }
  canvas.drawRect(ck.LTRBRect(ol, ot, or, it), paint);
  canvas.drawRect(ck.LTRBRect(ol, ib, or, ob), paint);
  canvas.drawRect(ck.LTRBRect(ol, it, il, ib), paint);
  canvas.drawRect(ck.LTRBRect(ir, it, or, ib), paint);
}

/**
 * Draws a box `[top, bottom, left, right]` (image coordinates) of a scene whose upscaled image has
 * its top-left corner at (`x0`, `y0`); `outside` strokes just outside the edges, else just inside.
 */
export function drawBox(
  canvas: Canvas,
  ck: CanvasKit,
  paint: Paint,
  box: number[],
  at: { x0: number; y0: number; scale: number; h: number; w: number; outside: boolean },
) {
  const { x0, y0, scale, h, w, outside } = at;
  const t = strokeWidth(scale);
  const clampY = (v: number) => Math.min(h, Math.max(0, v));
  const clampX = (v: number) => Math.min(w, Math.max(0, v));
  if (!box.every(Number.isFinite)) return;
  const edges = [
    Math.round(y0 + clampY(box[0]) * scale),
    Math.round(y0 + clampY(box[1]) * scale),
    Math.round(x0 + clampX(box[2]) * scale),
    Math.round(x0 + clampX(box[3]) * scale),
  ];
  if (edges[1] <= edges[0] || edges[3] <= edges[2]) return;
  frame(canvas, ck, paint, edges, outside ? t : -t);
}

export function textWidth(font: Font, text: string): number {
  return font.getGlyphWidths(font.getGlyphIDs(text)).reduce((a, b) => a + b, 0);
}

/** Draws `text` with its baseline at `y`, shrinking the font until it fits `maxWidth`. */
export function drawTextFit(
  canvas: Canvas,
  ck: CanvasKit,
  text: string,
  at: { x: number; y: number; maxWidth: number; font: Font; color: readonly number[] },
) {
  const { font } = at;
  const size = font.getSize();
  let width = textWidth(font, text);
  // glyph widths do not scale exactly with the size (hinting): shrink until the text fits
  while (width > at.maxWidth && font.getSize() > 6) {
    font.setSize(
      Math.max(6, Math.min(font.getSize() * 0.98, font.getSize() * at.maxWidth / width)),
    );
    width = textWidth(font, text);
  }
  const paint = new ck.Paint();
  paint.setColor(ck.Color(at.color[0], at.color[1], at.color[2], 1));
  paint.setAntiAlias(true);
  canvas.drawText(text, at.x, at.y, paint, font);
  paint.delete();
  font.setSize(size);
  return width;
}

export async function fonts(ck: CanvasKit) {
  const regular = await typeface("DejaVuSans");
  const bold = await typeface("DejaVuSans-Bold");
  const make = (face: typeof regular, size: number) => {
    const font = new ck.Font(face, size);
    font.setEdging(ck.FontEdging.AntiAlias);
    font.setSubpixel(true);
    return font;
  };
  return { make, regular, bold };
}

/**
 * A white `width × height` CanvasKit surface and its canvas, for one picture.
 *
 * @example
 * ```ts
 * import { encodeSurface, whiteSurface } from "./draw.ts";
 * import { canvasKit } from "./png.ts";
 * const { surface } = whiteSurface(await canvasKit(), 8, 8);
 * console.log(encodeSurface(surface).length > 0); // true
 * ```
 */
export function whiteSurface(
  ck: CanvasKit,
  width: number,
  height: number,
): { surface: Surface; canvas: Canvas } {
  const surface = ck.MakeSurface(width, height);
  if (!surface) throw new Error(`Could not make a ${width}×${height} surface`);
  const canvas = surface.getCanvas();
  canvas.clear(ck.WHITE);
  return { surface, canvas };
}

/**
 * Encodes a surface as PNG bytes and frees it.
 *
 * @example
 * ```ts
 * import { encodeSurface, whiteSurface } from "./draw.ts";
 * import { canvasKit } from "./png.ts";
 * const png = encodeSurface(whiteSurface(await canvasKit(), 8, 8).surface);
 * ```
 */
export function encodeSurface(surface: Surface): Uint8Array {
  const snapshot = surface.makeImageSnapshot();
  const png = snapshot.encodeToBytes();
  snapshot.delete();
  surface.delete();
  if (!png) throw new Error("Could not encode the picture as PNG");
  return png;
}

/** Draws the legend "■ true box  ■ predicted box" with its baseline at y. */
export function drawLegend(
  canvas: Canvas,
  ck: CanvasKit,
  font: Font,
  at: { x: number; y: number; extra?: string },
) {
  let x = at.x;
  const items: [readonly number[], string][] = [[TRUE_COLOR, "true box (outside stroke)"], [
    PRED_COLOR,
    "predicted box (inside stroke)",
  ]];
  for (const [color, label] of items) {
    const paint = fill(ck, color);
    canvas.drawRect(ck.XYWHRect(x, at.y - 11, 22, 12), paint);
    paint.delete();
    x += 28;
    x += drawTextFit(canvas, ck, label, {
      x,
      y: at.y,
      maxWidth: 1e9,
      font,
      color: [40, 40, 40],
    }) + 24;
  }
  if (at.extra) {
    drawTextFit(canvas, ck, at.extra, { x, y: at.y, maxWidth: 1e9, font, color: [90, 90, 90] });
  }
}
