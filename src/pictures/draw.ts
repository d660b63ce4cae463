/**
 * The prediction grid of assignment part 2, step 6: test scenes in a grid with the true box
 * (green) and the predicted box (red), drawn with the kit of ./canvas.ts (box convention there).
 * The window map lives in ./window_map.ts; both are re-exported here.
 *
 * @module
 */
import type { Tensor } from "../deps.ts";
import { iou as boxIou } from "../metrics.ts";
import { canvasKit } from "./png.ts";
import {
  drawBox,
  drawLegend,
  drawTextFit,
  encodeSurface,
  fill,
  fonts,
  GAP,
  grayImage,
  HEADER_BAND,
  LEGEND_BAND,
  MARGIN,
  pixelsOf,
  PRED_COLOR,
  TITLE_BAND,
  TRUE_COLOR,
  whiteSurface,
} from "./canvas.ts";

export {
  encodeSurface,
  frame,
  PRED_COLOR,
  strokeWidth,
  TRUE_COLOR,
  whiteSurface,
} from "./canvas.ts";
export {
  type GridSpec,
  renderWindowMap,
  viridis,
  type WindowMapLayout,
  windowMapLayout,
  type WindowMapOptions,
} from "./window_map.ts";

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
