/**
 * Canvas helpers of the page: grey images upscaled, boxes, labels, a window grid.
 *
 * @module
 */

/** Box `[top, bottom, left, right]` in image pixels. */
export type BoxLike = ArrayLike<number>;

/** Colours of the page's pictures. */
export const COLORS = {
  truth: "#2ecc40",
  predicted: "#ff4136",
  window: "#ffdc00",
} as const;

/**
 * A canvas `scale` times the size of the grey image `pixels` (`height × width`, values 0–1),
 * drawn with nearest-neighbour upscaling.
 */
export function greyCanvas(
  pixels: ArrayLike<number>,
  size: { height: number; width: number; scale: number },
): HTMLCanvasElement {
  const { height, width, scale } = size;
  const small = document.createElement("canvas");
  small.width = width;
  small.height = height;
  const ctx = small.getContext("2d")!;
  const img = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const v = Math.max(0, Math.min(255, Math.round(pixels[i] * 255)));
    img.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
  const big = document.createElement("canvas");
  big.width = width * scale;
  big.height = height * scale;
  const g = big.getContext("2d")!;
  g.imageSmoothingEnabled = false;
  g.drawImage(small, 0, 0, big.width, big.height);
  return big;
}

/** Strokes box `[top, bottom, left, right]` (image pixels) on a canvas upscaled by `scale`. */
export function strokeBox(
  ctx: CanvasRenderingContext2D,
  box: BoxLike,
  options: { scale: number; color: string; width?: number; dash?: number[] },
): void {
  const { scale, color, width = 2 } = options;
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.setLineDash(options.dash ?? []);
  ctx.strokeRect(
    box[2] * scale,
    box[0] * scale,
    (box[3] - box[2]) * scale,
    (box[1] - box[0]) * scale,
  );
  ctx.restore();
}

/** Writes `text` at (x, y) on a dark background pad. */
export function label(
  ctx: CanvasRenderingContext2D,
  text: string,
  at: { x: number; y: number; color: string; font?: string },
): void {
  ctx.save();
  ctx.font = at.font ?? "bold 13px system-ui, sans-serif";
  const w = ctx.measureText(text).width;
  ctx.fillStyle = "rgba(0, 0, 0, 0.7)";
  ctx.fillRect(at.x, at.y, w + 6, 17);
  ctx.fillStyle = at.color;
  ctx.textBaseline = "top";
  ctx.fillText(text, at.x + 3, at.y + 2);
  ctx.restore();
}
