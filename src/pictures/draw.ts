/**
 * Pictures of scenes, boxes and windows, drawn with CanvasKit (Skia) and returned as PNG bytes.
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
import { iou as boxIou } from "../metrics.ts";
import { canvasKit, typeface } from "./png.ts";
import type { Canvas, CanvasKit, Font, Paint, Surface } from "./png.ts";

/** Green of true boxes, `[r, g, b]`. */
export const TRUE_COLOR: readonly [number, number, number] = [0, 200, 60];
/** Red of predicted boxes and of wrong titles, `[r, g, b]`. */
export const PRED_COLOR: readonly [number, number, number] = [235, 30, 30];

const MARGIN = 16;
const GAP = 14;
const TITLE_BAND = 24;
const HEADER_BAND = 30;
const LEGEND_BAND = 24;

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

/** Where the parts of a prediction grid lie, in picture pixels. */
export interface PredictionLayout {
  /** Picture width. */
  width: number;
  /** Picture height. */
  height: number;
  /** Upscaling factor of every scene. */
  scale: number;
  /** Top-left picture pixel of scene `i`'s upscaled image. */
  origin(i: number): { x: number; y: number };
}

/** Sizes that fix a prediction grid's layout. */
export interface LayoutOptions {
  /** Scenes per row; default 5. */
  cols?: number;
  /** Nearest-neighbour upscaling factor, an integer ≥ 1; default 4. */
  scale?: number;
  /** Scene `[height, width]` in pixels; default `[64, 64]`. */
  imageSize?: readonly [number, number];
}

/**
 * The layout of {@linkcode renderPredictions}'s picture for `n` scenes: a header band (header
 * line and legend), then `ceil(n / cols)` rows of cells, each a title band over the upscaled scene.
 *
 * @example
 * ```ts
 * import { predictionLayout } from "./draw.ts";
 * const layout = predictionLayout(30, { cols: 5, scale: 4 });
 * console.log(layout.width, layout.height, layout.origin(0)); // 1368 1836 { x: 16, y: 94 }
 * ```
 */
export function predictionLayout(n: number, options: LayoutOptions = {}): PredictionLayout {
  const cols = options.cols ?? 5;
  const scale = options.scale ?? 4;
  const [h, w] = options.imageSize ?? [64, 64];
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be an integer ≥ 1, got ${n}`);
  if (!Number.isInteger(cols) || cols < 1) {
    throw new RangeError(`cols must be an integer ≥ 1, got ${cols}`);
  }
  if (!Number.isInteger(scale) || scale < 1) {
    throw new RangeError(`scale must be an integer ≥ 1 (nearest upscaling), got ${scale}`);
  }
  const usedCols = Math.min(cols, n);
  const rows = Math.ceil(n / cols);
  const cellW = w * scale;
  const cellH = TITLE_BAND + h * scale;
  const top = MARGIN + HEADER_BAND + LEGEND_BAND;
  return {
    width: 2 * MARGIN + usedCols * cellW + (usedCols - 1) * GAP,
    height: top + rows * cellH + (rows - 1) * GAP + MARGIN,
    scale,
    origin: (i) => ({
      x: MARGIN + (i % cols) * (cellW + GAP),
      y: top + Math.floor(i / cols) * (cellH + GAP) + TITLE_BAND,
    }),
  };
}

/** What {@linkcode renderPredictions} draws. */
export interface PredictionsOptions extends LayoutOptions {
  /** Scenes `[N, H, W, 1]` (or `[N, H, W]`) with values in [0, 1]; a flat array needs `imageSize`. */
  images: Float32Array | Tensor;
  /** True boxes, N × 4 `[top, bottom, left, right]`. */
  trueBoxes: ArrayLike<number>;
  /** Predicted boxes, N × 4 `[top, bottom, left, right]`. */
  predBoxes: ArrayLike<number>;
  /** True digit of each scene. */
  trueLabels: ArrayLike<number>;
  /** Predicted digit of each scene. */
  predLabels: ArrayLike<number>;
  /** IoU of each prediction; computed from the boxes when left out. */
  ious?: ArrayLike<number>;
  /** A line above the grid, e.g. the model's validation accuracy and mean IoU. */
  header?: string;
  /** IoU under which a prediction with the right label still counts as wrong; default 0.5. */
  hitIou?: number;
}

async function pixelsOf(
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

function grayImage(ck: CanvasKit, data: Float32Array, start: number, h: number, w: number) {
  const rgba = new Uint8Array(h * w * 4);
  for (let p = 0; p < h * w; p++) {
    const v = Math.round(255 * Math.min(1, Math.max(0, data[start + p])));
    rgba[4 * p] = rgba[4 * p + 1] = rgba[4 * p + 2] = v;
    rgba[4 * p + 3] = 255;
  }
  return rgbaImage(ck, rgba, h, w);
}

function rgbaImage(ck: CanvasKit, rgba: Uint8Array, h: number, w: number) {
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
function fill(ck: CanvasKit, rgb: readonly number[], alpha = 1) {
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
function drawBox(
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

function textWidth(font: Font, text: string): number {
  return font.getGlyphWidths(font.getGlyphIDs(text)).reduce((a, b) => a + b, 0);
}

/** Draws `text` with its baseline at `y`, shrinking the font until it fits `maxWidth`. */
function drawTextFit(
  canvas: Canvas,
  ck: CanvasKit,
  text: string,
  at: { x: number; y: number; maxWidth: number; font: Font; color: readonly number[] },
) {
  const { font } = at;
  const size = font.getSize();
  let width = textWidth(font, text);
  if (width > at.maxWidth) {
    font.setSize(Math.max(6, size * at.maxWidth / width));
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

async function fonts(ck: CanvasKit) {
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
function drawLegend(
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

/**
 * Draws scenes in a grid (default 6 × 5 for 30 scenes), each upscaled with nearest neighbour, with
 * its true box in green (stroked outside), its predicted box in red (stroked inside) and a title
 * "true 7 · pred 7 · IoU 0.91" — red when the label is wrong or the IoU is under `hitIou` — under
 * an optional header line. Returns PNG bytes of the size {@linkcode predictionLayout} gives.
 *
 * @example
 * ```ts
 * import { renderPredictions } from "./draw.ts";
 * const png = await renderPredictions({
 *   images: new Float32Array(64 * 64),
 *   trueBoxes: [10, 38, 20, 48],
 *   predBoxes: [12, 40, 20, 46],
 *   trueLabels: [7],
 *   predLabels: [7],
 *   header: "val accuracy 0.98 · mean IoU 0.85",
 * });
 * await Deno.writeFile("runs/one.png", png);
 * ```
 */
export async function renderPredictions(options: PredictionsOptions): Promise<Uint8Array> {
  const n = options.trueLabels.length;
  for (
    const [name, value, per] of [
      ["trueBoxes", options.trueBoxes, 4],
      ["predBoxes", options.predBoxes, 4],
      ["predLabels", options.predLabels, 1],
    ] as const
  ) {
    if (value.length !== n * per) {
      throw new RangeError(`${name} must hold ${n * per} numbers (N = ${n}), got ${value.length}`);
    }
  }
  if (options.ious && options.ious.length !== n) {
    throw new RangeError(`ious must hold ${n} numbers, got ${options.ious.length}`);
  }
  const { data, h, w } = await pixelsOf(options.images, options.imageSize, n);
  const layout = predictionLayout(n, { ...options, imageSize: [h, w] });
  const { scale } = layout;
  const hitIou = options.hitIou ?? 0.5;
  const ck = await canvasKit();
  const { make, regular, bold } = await fonts(ck);
  const { surface, canvas } = whiteSurface(ck, layout.width, layout.height);
  const headerFont = make(bold, 19);
  const legendFont = make(regular, 14);
  const titleFont = make(regular, Math.min(16, Math.max(9, w * scale / 17)));
  const green = fill(ck, TRUE_COLOR);
  const red = fill(ck, PRED_COLOR);
  const frameGray = fill(ck, [150, 150, 150]);
  try {
    drawTextFit(canvas, ck, options.header ?? `${n} test scenes`, {
      x: MARGIN,
      y: MARGIN + 20,
      maxWidth: layout.width - 2 * MARGIN,
      font: headerFont,
      color: [20, 20, 20],
    });
    let wrong = 0;
    const sampling = { filter: ck.FilterMode.Nearest, mipmap: ck.MipmapMode.None };
    for (let i = 0; i < n; i++) {
      const { x, y } = layout.origin(i);
      const image = grayImage(ck, data, i * h * w, h, w);
      canvas.drawRect(ck.XYWHRect(x - 1, y - 1, w * scale + 2, h * scale + 2), frameGray);
      canvas.drawImageRectOptions(
        image,
        ck.XYWHRect(0, 0, w, h),
        ck.XYWHRect(x, y, w * scale, h * scale),
        sampling.filter,
        sampling.mipmap,
        null,
      );
      image.delete();
      const box = (src: ArrayLike<number>) => Array.from({ length: 4 }, (_, k) => src[4 * i + k]);
      const trueBox = box(options.trueBoxes);
      const predBox = box(options.predBoxes);
      const at = { x0: x, y0: y, scale, h, w };
      drawBox(canvas, ck, green, trueBox, { ...at, outside: true });
      drawBox(canvas, ck, red, predBox, { ...at, outside: false });
      const iou = options.ious ? options.ious[i] : boxIou(trueBox, predBox);
      const ok = options.trueLabels[i] === options.predLabels[i] && iou >= hitIou;
      if (!ok) wrong++;
      const title = `true ${options.trueLabels[i]} · pred ${options.predLabels[i]} · IoU ${
        iou.toFixed(2)
      }`;
      drawTextFit(canvas, ck, title, {
        x,
        y: y - 7,
        maxWidth: w * scale,
        font: titleFont,
        color: ok ? [30, 30, 30] : PRED_COLOR,
      });
    }
    drawLegend(canvas, ck, legendFont, {
      x: MARGIN,
      y: MARGIN + HEADER_BAND + 14,
      extra: `red title = wrong label or IoU < ${hitIou} (${wrong} of ${n})`,
    });
  } finally {
    for (const p of [green, red, frameGray]) p.delete();
    for (const f of [headerFont, legendFont, titleFont]) f.delete();
  }
  return encodeSurface(surface);
}

/** Viridis, sampled at 9 stops: dark purple (0) → teal → yellow (1). */
const VIRIDIS = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

/**
 * The viridis colour `[r, g, b]` of a value in [0, 1] (clamped).
 *
 * @example
 * ```ts
 * import { viridis } from "./draw.ts";
 * console.log(viridis(0), viridis(1)); // [68, 1, 84] [253, 231, 37]
 * ```
 */
export function viridis(value: number): [number, number, number] {
  const v = Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
  const x = v * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const mix = (k: number) => Math.round(VIRIDIS[i][k] + f * (VIRIDIS[i + 1][k] - VIRIDIS[i][k]));
  return [mix(0), mix(1), mix(2)];
}

/** A window grid: geometry plus windows per axis, as `windowGrid` in ./geometry.ts returns. */
export interface GridSpec {
  /** Window side in scene pixels. */
  size: number;
  /** Distance between neighbouring windows. */
  stride: number;
  /** Where window 0 starts (negative when the network pads). */
  offset: number;
  /** Windows along the height. */
  rows: number;
  /** Windows along the width. */
  cols: number;
}

/** What {@linkcode renderWindowMap} draws. */
export interface WindowMapOptions {
  /** One scene, `[H, W]`, `[H, W, 1]` or `[1, H, W, 1]`, values in [0, 1]; a flat array must be square. */
  image: Float32Array | Tensor;
  /** Objectness (probability in [0, 1]) of every window, `rows × cols`, row-major. */
  objectness: ArrayLike<number>;
  /** The window grid of the network on this scene. */
  grid: GridSpec;
  /** The window the model picked; default the one with the highest objectness. */
  chosen?: { row: number; col: number };
  /** Predicted box `[top, bottom, left, right]`, drawn in red (inside stroke). */
  box?: ArrayLike<number>;
  /** True box, drawn in green (outside stroke). */
  trueBox?: ArrayLike<number>;
  /** A line above the picture; default describes the grid. */
  title?: string;
  /** Nearest-neighbour upscaling of the scene; default 6. */
  scale?: number;
}

/** Where the parts of a window map lie, in picture pixels. */
export interface WindowMapLayout {
  /** Picture width. */
  width: number;
  /** Picture height. */
  height: number;
  /** Picture pixel of scene pixel (0, 0) in the left panel. */
  scene: { x: number; y: number };
  /** Top-left of the right panel's objectness grid and the side of one of its cells. */
  map: { x: number; y: number; cell: number };
  /** Scene coordinates `[lo, hi)` the left panel shows (windows may reach outside the scene). */
  span: { lo: number; hiY: number; hiX: number };
}

/**
 * The layout of {@linkcode renderWindowMap}'s picture for an `h × w` scene.
 *
 * @example
 * ```ts
 * import { windowMapLayout } from "./draw.ts";
 * const grid = { size: 28, stride: 4, offset: 0, rows: 10, cols: 10 };
 * console.log(windowMapLayout(grid, { h: 64, w: 64, scale: 6 }).scene); // { x: 16, y: 70 }
 * ```
 */
export function windowMapLayout(
  grid: GridSpec,
  options: { h: number; w: number; scale: number },
): WindowMapLayout {
  const { h, w, scale } = options;
  const lo = Math.min(0, grid.offset);
  const hiY = Math.max(h, grid.offset + (grid.rows - 1) * grid.stride + grid.size);
  const hiX = Math.max(w, grid.offset + (grid.cols - 1) * grid.stride + grid.size);
  const panelW = (hiX - lo) * scale;
  const panelH = (hiY - lo) * scale;
  const top = MARGIN + HEADER_BAND + LEGEND_BAND;
  const cell = Math.max(4, Math.floor(Math.min(panelW / grid.cols, panelH / grid.rows)));
  const mapX = MARGIN + panelW + 3 * GAP;
  const colorbar = 70;
  return {
    width: mapX + cell * grid.cols + colorbar + MARGIN,
    height: top + Math.max(panelH, cell * grid.rows) + MARGIN + 22,
    scene: { x: MARGIN - lo * scale, y: top - lo * scale },
    map: { x: mapX, y: top, cell },
    span: { lo, hiY, hiX },
  };
}

/**
 * Draws one scene with its sliding windows, to make the convolutional sliding window visible.
 * Left: the upscaled scene; every window's objectness painted (viridis, translucent) on the
 * `stride × stride` square around the window's centre, a dot at each centre, the chosen window's
 * full extent outlined in white and the boxes in green (true) and red (predicted). Right: the
 * `rows × cols` objectness map itself with the chosen cell outlined, and a colour bar.
 *
 * @example
 * ```ts
 * import { renderWindowMap } from "./draw.ts";
 * const png = await renderWindowMap({
 *   image: new Float32Array(64 * 64),
 *   objectness: new Float32Array(10 * 10).fill(0.1),
 *   grid: { size: 28, stride: 4, offset: 0, rows: 10, cols: 10 },
 * });
 * await Deno.writeFile("runs/windows.png", png);
 * ```
 */
export async function renderWindowMap(options: WindowMapOptions): Promise<Uint8Array> {
  const { grid, objectness } = options;
  const scale = options.scale ?? 6;
  if (!Number.isInteger(scale) || scale < 1) {
    throw new RangeError(`scale must be an integer ≥ 1 (nearest upscaling), got ${scale}`);
  }
  if (objectness.length !== grid.rows * grid.cols) {
    throw new RangeError(
      `objectness must hold grid.rows × grid.cols = ${
        grid.rows * grid.cols
      } numbers, got ${objectness.length}`,
    );
  }
  let data: Float32Array;
  let h: number;
  let w: number;
  if (options.image instanceof Float32Array) {
    data = options.image;
    h = w = Math.round(Math.sqrt(data.length));
    if (h * w !== data.length) {
      throw new RangeError(`image must be square when flat, got ${data.length} values`);
    }
  } else {
    const shape = options.image.shape.filter((d, k) => !(d === 1 && (k === 0 || k === 3)));
    [h, w] = shape.length === 2 ? shape : [NaN, NaN];
    if (!Number.isFinite(h)) {
      throw new RangeError(`image must have shape [H, W], [H, W, 1] or [1, H, W, 1]`);
    }
    data = (await options.image.data()) as Float32Array;
  }
  let chosen = options.chosen;
  if (!chosen) {
    let best = 0;
    for (let k = 1; k < objectness.length; k++) if (objectness[k] > objectness[best]) best = k;
    chosen = { row: Math.floor(best / grid.cols), col: best % grid.cols };
  }
  const layout = windowMapLayout(grid, { h, w, scale });
  const { scene, map, span } = layout;
  const ck = await canvasKit();
  const { make, regular, bold } = await fonts(ck);
  const { surface, canvas } = whiteSurface(ck, layout.width, layout.height);
  const headerFont = make(bold, 17);
  const smallFont = make(regular, 13);
  const paints: Paint[] = [];
  const paint = (rgb: readonly number[], alpha = 1) => {
    const p = fill(ck, rgb, alpha);
    paints.push(p);
    return p;
  };
  try {
    const title = options.title ??
      `Sliding windows: ${grid.rows}×${grid.cols} windows of ${grid.size}×${grid.size} px, stride ${grid.stride}, offset ${grid.offset}`;
    drawTextFit(canvas, ck, title, {
      x: MARGIN,
      y: MARGIN + 18,
      maxWidth: layout.width - 2 * MARGIN,
      font: headerFont,
      color: [20, 20, 20],
    });
    const k = chosen.row * grid.cols + chosen.col;
    drawTextFit(
      canvas,
      ck,
      `white: chosen window (row ${chosen.row}, col ${chosen.col}), objectness ${
        Number(objectness[k]).toFixed(3)
      } · colour: objectness at each window centre`,
      {
        x: MARGIN,
        y: MARGIN + HEADER_BAND + 12,
        maxWidth: layout.width - 2 * MARGIN,
        font: smallFont,
        color: [70, 70, 70],
      },
    );
    // Left panel: area outside the scene (padding) in light grey, then the scene.
    canvas.drawRect(
      ck.LTRBRect(
        scene.x + span.lo * scale,
        scene.y + span.lo * scale,
        scene.x + span.hiX * scale,
        scene.y + span.hiY * scale,
      ),
      paint([200, 200, 200]),
    );
    const image = grayImage(ck, data, 0, h, w);
    canvas.drawImageRectOptions(
      image,
      ck.XYWHRect(0, 0, w, h),
      ck.XYWHRect(scene.x, scene.y, w * scale, h * scale),
      ck.FilterMode.Nearest,
      ck.MipmapMode.None,
      null,
    );
    image.delete();
    const half = grid.size / 2;
    for (let r = 0; r < grid.rows; r++) {
      for (let c = 0; c < grid.cols; c++) {
        const cy = grid.offset + r * grid.stride + half;
        const cx = grid.offset + c * grid.stride + half;
        const v = Number(objectness[r * grid.cols + c]);
        const rgb = viridis(v);
        const p = fill(ck, rgb, 0.25 + 0.4 * Math.min(1, Math.max(0, v)));
        canvas.drawRect(
          ck.LTRBRect(
            scene.x + (cx - grid.stride / 2) * scale,
            scene.y + (cy - grid.stride / 2) * scale,
            scene.x + (cx + grid.stride / 2) * scale,
            scene.y + (cy + grid.stride / 2) * scale,
          ),
          p,
        );
        p.delete();
        const dot = fill(ck, [255, 255, 255], 0.8);
        canvas.drawRect(
          ck.XYWHRect(scene.x + cx * scale - 1, scene.y + cy * scale - 1, 2, 2),
          dot,
        );
        dot.delete();
        // Right panel: the objectness map.
        const cellPaint = fill(ck, rgb);
        canvas.drawRect(
          ck.XYWHRect(map.x + c * map.cell, map.y + r * map.cell, map.cell, map.cell),
          cellPaint,
        );
        cellPaint.delete();
      }
    }
    const white = paint([255, 255, 255]);
    const top = grid.offset + chosen.row * grid.stride;
    const left = grid.offset + chosen.col * grid.stride;
    const t = strokeWidth(scale);
    frame(canvas, ck, white, [
      scene.y + top * scale,
      scene.y + (top + grid.size) * scale,
      scene.x + left * scale,
      scene.x + (left + grid.size) * scale,
    ], t);
    frame(canvas, ck, white, [
      map.y + chosen.row * map.cell,
      map.y + (chosen.row + 1) * map.cell,
      map.x + chosen.col * map.cell,
      map.x + (chosen.col + 1) * map.cell,
    ], -Math.max(2, Math.round(map.cell / 8)));
    const at = { x0: scene.x, y0: scene.y, scale, h, w };
    if (options.trueBox) {
      drawBox(canvas, ck, paint(TRUE_COLOR), Array.from(options.trueBox), {
        ...at,
        outside: true,
      });
    }
    if (options.box) {
      drawBox(canvas, ck, paint(PRED_COLOR), Array.from(options.box), { ...at, outside: false });
    }
    drawTextFit(
      canvas,
      ck,
      `objectness map: ${grid.rows} rows × ${grid.cols} cols, one cell per window`,
      {
        x: map.x,
        y: map.y + grid.rows * map.cell + 16,
        maxWidth: grid.cols * map.cell + 60,
        font: smallFont,
        color: [70, 70, 70],
      },
    );
    drawTextFit(canvas, ck, span.lo < 0 ? "scene (grey: padding outside it)" : "scene", {
      x: scene.x + span.lo * scale,
      y: scene.y + span.hiY * scale + 16,
      maxWidth: (span.hiX - span.lo) * scale,
      font: smallFont,
      color: [70, 70, 70],
    });
    // Colour bar with ticks 0, 0.5, 1.
    const barX = map.x + grid.cols * map.cell + 14;
    const barH = grid.rows * map.cell;
    for (let y = 0; y < barH; y++) {
      const p = fill(ck, viridis(1 - y / (barH - 1)));
      canvas.drawRect(ck.XYWHRect(barX, map.y + y, 14, 1), p);
      p.delete();
    }
    for (const v of [0, 0.5, 1]) {
      drawTextFit(canvas, ck, v.toFixed(1), {
        x: barX + 18,
        y: map.y + (1 - v) * (barH - 1) + 5,
        maxWidth: 60,
        font: smallFont,
        color: [40, 40, 40],
      });
    }
  } finally {
    for (const p of paints) p.delete();
    headerFont.delete();
    smallFont.delete();
  }
  return encodeSurface(surface);
}
