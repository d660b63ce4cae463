/**
 * The window map: one scene with every sliding window's objectness (viridis) and class, the chosen
 * window and its box — the convolutional sliding window made visible. Drawn with ./canvas.ts.
 *
 * @module
 */
import type { Tensor } from "../deps.ts";
import { type Canvas, type CanvasKit, canvasKit, type Font, type Paint } from "./png.ts";
import {
  drawBox,
  drawTextFit,
  encodeSurface,
  fill,
  fonts,
  frame,
  GAP,
  grayImage,
  HEADER_BAND,
  LEGEND_BAND,
  MARGIN,
  PRED_COLOR,
  strokeWidth,
  TRUE_COLOR,
  whiteSurface,
} from "./canvas.ts";

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

/** A window grid: geometry plus windows per axis, as `windowGrid` in ../geometry.ts returns. */
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
  const { data, h, w } = await sceneOf(options.image);
  const chosen = options.chosen ?? mostObject(objectness, grid.cols);
  const layout = windowMapLayout(grid, { h, w, scale });
  const ck = await canvasKit();
  const { make, regular, bold } = await fonts(ck);
  const { surface, canvas } = whiteSurface(ck, layout.width, layout.height);
  const paints: Paint[] = [];
  const at: Drawing = {
    ck,
    canvas,
    grid,
    objectness,
    layout,
    scale,
    chosen,
    headerFont: make(bold, 17),
    smallFont: make(regular, 13),
    paint(rgb: readonly number[], alpha = 1) {
      const p = fill(ck, rgb, alpha);
      paints.push(p);
      return p;
    },
  };
  try {
    drawHeader(at, options.title);
    drawScenePanel(at, { data, h, w });
    drawObjectnessMap(at);
    drawChosen(at, { h, w, box: options.box, trueBox: options.trueBox });
    drawCaptions(at);
    drawColourBar(at);
  } finally {
    for (const p of paints) p.delete();
    at.headerFont.delete();
    at.smallFont.delete();
  }
  return encodeSurface(surface);
}

/** What the parts of a window map draw with. */
interface Drawing {
  ck: CanvasKit;
  canvas: Canvas;
  grid: GridSpec;
  objectness: ArrayLike<number>;
  layout: WindowMapLayout;
  scale: number;
  chosen: { row: number; col: number };
  headerFont: Font;
  smallFont: Font;
  /** A fill paint freed with the picture. */
  paint(rgb: readonly number[], alpha?: number): Paint;
}

/** The scene's pixels and size from a flat square array or a one-image tensor. */
async function sceneOf(image: Float32Array | Tensor): Promise<{
  data: Float32Array;
  h: number;
  w: number;
}> {
  if (image instanceof Float32Array) {
    const side = Math.round(Math.sqrt(image.length));
    if (side * side !== image.length) {
      throw new RangeError(`image must be square when flat, got ${image.length} values`);
    }
    return { data: image, h: side, w: side };
  }
  const shape = image.shape.filter((d, k) => !(d === 1 && (k === 0 || k === 3)));
  const [h, w] = shape.length === 2 ? shape : [NaN, NaN];
  if (!Number.isFinite(h)) {
    throw new RangeError(`image must have shape [H, W], [H, W, 1] or [1, H, W, 1]`);
  }
  return { data: (await image.data()) as Float32Array, h, w };
}

/** The window of highest objectness (the first of equals). */
function mostObject(objectness: ArrayLike<number>, cols: number): { row: number; col: number } {
  let best = 0;
  for (let k = 1; k < objectness.length; k++) if (objectness[k] > objectness[best]) best = k;
  return { row: Math.floor(best / cols), col: best % cols };
}

/** The title and the legend line above the panels. */
function drawHeader(at: Drawing, title: string | undefined): void {
  const { ck, canvas, grid, chosen, layout } = at;
  drawTextFit(
    canvas,
    ck,
    title ??
      `Sliding windows: ${grid.rows}×${grid.cols} windows of ${grid.size}×${grid.size} px, stride ${grid.stride}, offset ${grid.offset}`,
    {
      x: MARGIN,
      y: MARGIN + 18,
      maxWidth: layout.width - 2 * MARGIN,
      font: at.headerFont,
      color: [20, 20, 20],
    },
  );
  const k = chosen.row * grid.cols + chosen.col;
  drawTextFit(
    canvas,
    ck,
    `white: chosen window (row ${chosen.row}, col ${chosen.col}), objectness ${
      Number(at.objectness[k]).toFixed(3)
    } · colour: objectness at each window centre`,
    {
      x: MARGIN,
      y: MARGIN + HEADER_BAND + 12,
      maxWidth: layout.width - 2 * MARGIN,
      font: at.smallFont,
      color: [70, 70, 70],
    },
  );
}

/**
 * The left panel: the area outside the scene (padding) in light grey, the upscaled scene, and
 * every window's objectness on the `stride × stride` square around its centre, with a dot there.
 */
function drawScenePanel(at: Drawing, scene: { data: Float32Array; h: number; w: number }): void {
  const { ck, canvas, grid, scale } = at;
  const { scene: o, span } = at.layout;
  canvas.drawRect(
    ck.LTRBRect(
      o.x + span.lo * scale,
      o.y + span.lo * scale,
      o.x + span.hiX * scale,
      o.y + span.hiY * scale,
    ),
    at.paint([200, 200, 200]),
  );
  const image = grayImage(ck, scene.data, 0, scene.h, scene.w);
  canvas.drawImageRectOptions(
    image,
    ck.XYWHRect(0, 0, scene.w, scene.h),
    ck.XYWHRect(o.x, o.y, scene.w * scale, scene.h * scale),
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
      const v = Number(at.objectness[r * grid.cols + c]);
      const p = fill(ck, viridis(v), 0.25 + 0.4 * Math.min(1, Math.max(0, v)));
      canvas.drawRect(
        ck.LTRBRect(
          o.x + (cx - grid.stride / 2) * scale,
          o.y + (cy - grid.stride / 2) * scale,
          o.x + (cx + grid.stride / 2) * scale,
          o.y + (cy + grid.stride / 2) * scale,
        ),
        p,
      );
      p.delete();
      const dot = fill(ck, [255, 255, 255], 0.8);
      canvas.drawRect(ck.XYWHRect(o.x + cx * scale - 1, o.y + cy * scale - 1, 2, 2), dot);
      dot.delete();
    }
  }
}

/** The right panel: the `rows × cols` objectness map, one cell per window. */
function drawObjectnessMap(at: Drawing): void {
  const { ck, canvas, grid } = at;
  const { map } = at.layout;
  for (let r = 0; r < grid.rows; r++) {
    for (let c = 0; c < grid.cols; c++) {
      const cellPaint = fill(ck, viridis(Number(at.objectness[r * grid.cols + c])));
      canvas.drawRect(
        ck.XYWHRect(map.x + c * map.cell, map.y + r * map.cell, map.cell, map.cell),
        cellPaint,
      );
      cellPaint.delete();
    }
  }
}

/** The chosen window outlined in white on both panels, and the boxes (true green, predicted red). */
function drawChosen(
  at: Drawing,
  scene: { h: number; w: number; box?: ArrayLike<number>; trueBox?: ArrayLike<number> },
): void {
  const { ck, canvas, grid, chosen, scale } = at;
  const { scene: o, map } = at.layout;
  const white = at.paint([255, 255, 255]);
  const top = grid.offset + chosen.row * grid.stride;
  const left = grid.offset + chosen.col * grid.stride;
  frame(canvas, ck, white, [
    o.y + top * scale,
    o.y + (top + grid.size) * scale,
    o.x + left * scale,
    o.x + (left + grid.size) * scale,
  ], strokeWidth(scale));
  frame(canvas, ck, white, [
    map.y + chosen.row * map.cell,
    map.y + (chosen.row + 1) * map.cell,
    map.x + chosen.col * map.cell,
    map.x + (chosen.col + 1) * map.cell,
  ], -Math.max(2, Math.round(map.cell / 8)));
  const place = { x0: o.x, y0: o.y, scale, h: scene.h, w: scene.w };
  if (scene.trueBox) {
    drawBox(canvas, ck, at.paint(TRUE_COLOR), Array.from(scene.trueBox), {
      ...place,
      outside: true,
    });
  }
  if (scene.box) {
    drawBox(canvas, ck, at.paint(PRED_COLOR), Array.from(scene.box), {
      ...place,
      outside: false,
    });
  }
}

/** The captions under the panels. */
function drawCaptions(at: Drawing): void {
  const { ck, canvas, grid, scale } = at;
  const { scene: o, map, span } = at.layout;
  drawTextFit(
    canvas,
    ck,
    `objectness map: ${grid.rows} rows × ${grid.cols} cols, one cell per window`,
    {
      x: map.x,
      y: map.y + grid.rows * map.cell + 16,
      maxWidth: grid.cols * map.cell + 60,
      font: at.smallFont,
      color: [70, 70, 70],
    },
  );
  drawTextFit(canvas, ck, span.lo < 0 ? "scene (grey: padding outside it)" : "scene", {
    x: o.x + span.lo * scale,
    y: o.y + span.hiY * scale + 16,
    maxWidth: (span.hiX - span.lo) * scale,
    font: at.smallFont,
    color: [70, 70, 70],
  });
}

/** The colour bar right of the map, with ticks 0, 0.5, 1. */
function drawColourBar(at: Drawing): void {
  const { ck, canvas, grid } = at;
  const { map } = at.layout;
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
      font: at.smallFont,
      color: [40, 40, 40],
    });
  }
}
