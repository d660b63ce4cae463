/**
 * Sliding-window geometry of a convolutional stack, in plain TypeScript (no tfjs), so it can be
 * checked exhaustively against brute force.
 *
 * A stack of convolutions and poolings run on a whole image computes the same numbers as the stack
 * run on every window of the image (OverFeat; C4W3L04). The stack alone fixes those windows:
 *
 * - size = receptive field: `1 + Σ (kₗ − 1) · Jₗ₋₁`,
 * - stride = product of strides: `J = Π sₗ`,
 * - offset = where window 0 starts: `−Σ pₗ · Jₗ₋₁` (negative with padding),
 *
 * with `Jₗ = s₁ · … · sₗ` (J₀ = 1). Window `i` along one axis covers input pixels
 * `[offset + i·stride, offset + i·stride + size)`; the number of windows is the output size,
 * propagated layer by layer with `n ← ⌊(n + 2p − k) / s⌋ + 1`.
 *
 * @module
 */

import { checkInteger, type Window } from "./layers/layer.ts";
import { kindOf, type LayerKindName, type LayerSpec } from "./layers/table.ts";

export type { LayerSpec } from "./layers/table.ts";

/** Where the windows of a stack lie along one axis, in input pixels. */
export interface WindowGeometry {
  /** Window side: the receptive field of one output cell. */
  size: number;
  /** Distance between the starts of neighbouring windows: the product of all strides. */
  stride: number;
  /** Input coordinate where window 0 starts; negative when layers pad. */
  offset: number;
}

/** A layer with its defaults filled in. */
export interface ResolvedLayer extends Window {
  /** The layer's kind ("conv" or "pool"). */
  kind: LayerKindName;
}

/**
 * Checks one layer and fills in its defaults (conv stride 1, pool stride = kernel, padding 0):
 * the window arithmetic of its kind (./layers/).
 *
 * @example
 * ```ts
 * import { resolveLayer } from "./geometry.ts";
 * console.log(resolveLayer({ kind: "pool", kernel: 2 })); // { kind: "pool", kernel: 2, stride: 2, padding: 0 }
 * ```
 */
export function resolveLayer(layer: LayerSpec, index = 0): ResolvedLayer {
  const where = `Layer ${index}`;
  if (layer === null || typeof layer !== "object") {
    throw new TypeError(`${where} must be an object like { kind: "conv", kernel: 3 }`);
  }
  const window = kindOf(layer, where).window(layer, `${where} (${layer.kind})`);
  return { kind: layer.kind, ...window };
}

/**
 * Checks a whole stack and fills in defaults.
 *
 * @example
 * ```ts
 * import { resolveLayers } from "./geometry.ts";
 * resolveLayers([{ kind: "conv", kernel: 5 }, { kind: "pool", kernel: 2 }]);
 * ```
 */
export function resolveLayers(layers: readonly LayerSpec[]): ResolvedLayer[] {
  if (!Array.isArray(layers) || layers.length === 0) {
    throw new TypeError("layers must be a non-empty array of LayerSpec");
  }
  return layers.map((layer, i) => resolveLayer(layer, i));
}

/**
 * Window size (receptive field), stride (product of strides) and offset (start of window 0) of a
 * stack, in input pixels along one axis.
 *
 * @example
 * ```ts
 * import { windowGeometry } from "./geometry.ts";
 * // Andrew's C4W3 network: conv 5×5, max-pool 2, then FC layers as 5×5 and 1×1 convolutions.
 * const g = windowGeometry([
 *   { kind: "conv", kernel: 5 },
 *   { kind: "pool", kernel: 2 },
 *   { kind: "conv", kernel: 5 },
 *   { kind: "conv", kernel: 1 },
 *   { kind: "conv", kernel: 1 },
 * ]);
 * console.log(g); // { size: 14, stride: 2, offset: 0 }
 * ```
 */
export function windowGeometry(layers: readonly LayerSpec[]): WindowGeometry {
  let size = 1;
  let stride = 1;
  let offset = 0;
  for (const layer of resolveLayers(layers)) {
    size += (layer.kernel - 1) * stride;
    offset -= layer.padding * stride;
    stride *= layer.stride;
  }
  return { size, stride, offset };
}

/**
 * Number of windows (output cells) along one axis for an input of `inputSize` pixels, propagated
 * layer by layer with floor semantics; 0 when the input is too small for the stack.
 *
 * @example
 * ```ts
 * import { windowCount } from "./geometry.ts";
 * const andrew = [
 *   { kind: "conv", kernel: 5 }, { kind: "pool", kernel: 2 },
 *   { kind: "conv", kernel: 5 }, { kind: "conv", kernel: 1 }, { kind: "conv", kernel: 1 },
 * ] as const;
 * console.log(windowCount([...andrew], 16), windowCount([...andrew], 28)); // 2 8
 * ```
 */
export function windowCount(layers: readonly LayerSpec[], inputSize: number): number {
  checkInteger(inputSize, 0, "inputSize");
  let n = inputSize;
  for (const layer of resolveLayers(layers)) {
    const span = n + 2 * layer.padding - layer.kernel;
    if (span < 0) return 0;
    n = Math.floor(span / layer.stride) + 1;
  }
  return n;
}

/**
 * `[start, end)` in input pixels of window `index` along one axis (may reach outside the image
 * when the stack pads).
 *
 * @example
 * ```ts
 * import { windowSpan } from "./geometry.ts";
 * console.log(windowSpan([{ kind: "conv", kernel: 3 }, { kind: "pool", kernel: 2 }], 3)); // [6, 10]
 * ```
 */
export function windowSpan(layers: readonly LayerSpec[], index: number): [number, number] {
  checkInteger(index, 0, "index");
  const { size, stride, offset } = windowGeometry(layers);
  const start = offset + index * stride;
  return [start, start + size];
}

/** The window grid of a stack on an input of `height × width` pixels. */
export interface WindowGrid extends WindowGeometry {
  /** Windows along the height. */
  rows: number;
  /** Windows along the width. */
  cols: number;
}

/**
 * The full window grid (geometry plus rows and columns) of a stack on a `height × width` input.
 *
 * @example
 * ```ts
 * import { windowGrid } from "./geometry.ts";
 * console.log(windowGrid([{ kind: "conv", kernel: 3 }], 8, 6)); // { size: 3, stride: 1, offset: 0, rows: 6, cols: 4 }
 * ```
 */
export function windowGrid(
  layers: readonly LayerSpec[],
  height: number,
  width: number = height,
): WindowGrid {
  return {
    ...windowGeometry(layers),
    rows: windowCount(layers, height),
    cols: windowCount(layers, width),
  };
}

/** What {@linkcode sharedPrefix} finds. */
export interface SharedPrefix {
  /** Layers `[0, depth)` whose outputs a cropped input shares with the full one. */
  depth: number;
  /** The crop, in positions of layer `depth - 1`'s output (the input's pixels when depth is 0). */
  crop: number;
}

/**
 * How deep an input cropped by `crop` pixels (at its top or left) shares its activations with the
 * whole input: through every leading layer without padding whose stride divides what is left of
 * the crop, the cropped input's output at that depth is the whole input's output cropped by
 * `crop / (product of those strides)` positions. OverFeat's offsets reuse the layers below that
 * depth and recompute only the rest (src/detection/detect.ts).
 *
 * @example
 * ```ts
 * import { sharedPrefix } from "./geometry.ts";
 * const wide = [6, 4, 4].map((kernel) => ({ kind: "conv" as const, kernel, stride: 2 }));
 * console.log(sharedPrefix(wide, 4)); // { depth: 2, crop: 1 }: a 4-pixel crop is 1 position after two stride-2 layers
 * console.log(sharedPrefix(wide, 3)); // { depth: 0, crop: 3 }
 * ```
 */
export function sharedPrefix(layers: readonly LayerSpec[], crop: number): SharedPrefix {
  if (!(Number.isInteger(crop) && crop >= 0)) {
    throw new RangeError(`crop must be a whole number of pixels ≥ 0, got ${crop}`);
  }
  const resolved = resolveLayers(layers);
  if (crop === 0) return { depth: resolved.length, crop: 0 }; // the whole input itself
  let depth = 0, left = crop;
  for (const layer of resolved) {
    if (layer.padding !== 0 || left % layer.stride !== 0) break;
    left /= layer.stride;
    depth++;
  }
  return { depth, crop: left };
}
