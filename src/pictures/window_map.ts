/**
 * The window map: one scene with every sliding window's objectness (viridis) and class, the chosen
 * window and its box — the convolutional sliding window made visible. Drawn with ./canvas.ts.
 *
 * @module
 */
import type { Tensor } from "../deps.ts";
import { canvasKit, type Paint } from "./png.ts";
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
