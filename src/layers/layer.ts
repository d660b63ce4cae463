/**
 * What a layer kind is: every fact about one kind of layer (a convolution, a max-pool), side by
 * side in one file per kind (./conv.ts, ./pool.ts), gathered in one table (./table.ts):
 *
 * - its window arithmetic (kernel, stride, padding: what ../geometry.ts composes) and its cost;
 * - its variables and output channels;
 * - its tfjs forward (what `model.apply` runs; the tape differentiates it);
 * - its array forward and backward on `Float32Array`s over a convolution engine (./engine.ts:
 *   what the hand-written training step of ../model/array_net.ts runs);
 * - its entry in each export format (Keras for tfjs-layers, ONNX).
 *
 * The files are plain TypeScript: the tfjs forward is handed the tfjs namespace, so that
 * ../geometry.ts reads the window arithmetic without loading tfjs.
 *
 * @module
 */
import type { Tensor, Tensor4D, tf } from "../deps.ts";
import type { ChainLink, ConvEngine } from "./engine.ts";

/** The tfjs namespace, as ../deps.ts exports it. */
export type Tfjs = typeof tf;

/** A shape `[N, H, W, C]`. */
export type Shape4 = [number, number, number, number];

/** A layer's window along one axis, defaults filled in: what ../geometry.ts composes. */
export interface Window {
  /** Kernel side. */
  kernel: number;
  /** Step between kernel positions. */
  stride: number;
  /** Zero padding on each side. */
  padding: number;
}

/** A Keras layer config as tfjs-layers serialises it. */
export interface KerasLayer {
  /** Keras class, e.g. "Conv2D". */
  class_name: string;
  /** The layer's Keras config (name, filters, kernel_size, strides, …). */
  config: Record<string, unknown>;
}

/** One node of an ONNX graph in plain form: an operator with integer attributes. */
export interface OnnxNode {
  /** ONNX operator type, e.g. "Conv". */
  op: string;
  /** Names of its input values (graph input, earlier outputs or initializers). */
  inputs: readonly string[];
  /** Name of its single output value. */
  output: string;
  /** Integer (INT) and integer-list (INTS) attributes, e.g. `strides: [2, 2]`. */
  attributes?: Readonly<Record<string, number | readonly number[]>>;
}

/** A constant of an ONNX graph (a weight), float32 in ONNX's layout. */
export interface OnnxInitializer {
  /** Value name the nodes refer to. */
  name: string;
  /** Shape, e.g. `[filters, inChannels, k, k]` for a Conv weight. */
  dims: readonly number[];
  /** Values, row-major in `dims`. */
  data: Float32Array;
}

/** Where a layer sits when it is exported to ONNX. */
export interface OnnxPlace {
  /** Index of the layer in the architecture (names its nodes and weights: `conv<i>`). */
  index: number;
  /** Name of the value it reads. */
  input: string;
  /** Channels of that value. */
  channels: number;
  /** The model's weights by our name, tfjs layout (kernels `[k, k, in, out]`). */
  weights: ReadonlyMap<string, { data: Float32Array }>;
}

/** What one layer adds to an ONNX graph. */
export interface OnnxPart {
  /** Its nodes, in order; the last one's output is the layer's output. */
  nodes: OnnxNode[];
  /** Its weights. */
  initializers: OnnxInitializer[];
  /** Channels of the layer's output. */
  channels: number;
}

/**
 * A layer kind's entry in each export format: one field per format, read only by that format's
 * exporter. A new format adds its field here and an entry in every kind's file.
 */
export interface LayerExports<L> {
  /** The Keras layers (tfjs LayersModel) of the layer at `index`: ../model/layers_export.ts. */
  keras(layer: L, index: number): KerasLayer[];
  /** The ONNX nodes and initializers of the layer: ../model/onnx_export.ts. */
  onnx(layer: L, at: OnnxPlace): OnnxPart;
}

/**
 * One layer at one input shape, on arrays: the forward into an output buffer, and the backward
 * from the output's gradient. Made by {@linkcode LayerKind.arrays}; it keeps what it needs between
 * a forward and the backward that follows it (argmax of a pool, the engine's kernels).
 */
export interface ArrayLayer {
  /** The output shape `[N, Ho, Wo, Co]`. */
  readonly outShape: Shape4;
  /** `y` (overwritten) from `x` at the layer's `weights` (in its `variables` order). */
  forward(x: Float32Array, y: Float32Array, weights: readonly Float32Array[]): void;
  /**
   * The gradients of the layer's variables (fresh arrays, its `variables` order) from `dy`, the
   * gradient at its output, and `dx` (overwritten) unless null (the first layer). `x`, `y` are
   * the last forward's input and output; `dy` may be overwritten.
   */
  backward(io: {
    x: Float32Array;
    y: Float32Array;
    dy: Float32Array;
    dx: Float32Array | null;
    weights: readonly Float32Array[];
  }): Float32Array[];
}

/** Where a layer sits in an architecture, for its variables and its array form. */
export interface LayerPlace {
  /** Index of the layer in the architecture (names its variables: `conv<i>/kernel`). */
  index: number;
  /** Channels of its input. */
  inChannels: number;
}

/**
 * Everything about one kind of layer. `S` is the layer's window-only form (what ../geometry.ts
 * takes), `L` its form in an architecture (with filters, activation, …).
 */
export interface LayerKind<S extends { kind: string }, L extends S = S> {
  /** The `kind` of its layers. */
  readonly kind: S["kind"];
  /** One line about it. */
  readonly summary: string;
  /**
   * Window arithmetic: checks the window fields of `layer` and fills in their defaults; throws a
   * one-line error starting with `where` (e.g. "Layer 2 (pool)").
   */
  window(layer: S, where: string): Window;
  /** Checks the fields of an architecture's layer besides the window; throws a one-line error. */
  check(layer: L, where: string): void;
  /** Channels of its output for `inChannels` channels in. */
  channels(layer: L, inChannels: number): number;
  /** Its trainable variables, `[name, shape]` in order (`conv<i>/kernel`, `conv<i>/bias`). */
  variables(layer: L, at: LayerPlace): [string, number[]][];
  /**
   * Parameters and forward FLOPs per image (2 per multiply-add; bias, ReLU and pooling compares
   * once per element) for an output of `outHeight × outWidth`.
   */
  cost(
    layer: L,
    at: { inChannels: number; outHeight: number; outWidth: number },
  ): { params: number; flops: number };
  /** The tfjs forward of `x` `[N, H, W, C]` at its variables `weights` (`variables` order). */
  apply(layer: L, x: Tensor4D, at: { tf: Tfjs; weights: readonly Tensor[] }): Tensor4D;
  /** Its array forward and backward at input shape `inShape`, its convolutions on `engine`. */
  arrays(layer: L, at: LayerPlace & { inShape: Shape4; engine: ConvEngine }): ArrayLayer;
  /**
   * The layer as one link of a convolution chain (./engine.ts `ConvChain`) at input shape
   * `inShape`; kinds that are not one convolution have none (a network with one runs layer by
   * layer).
   */
  link?(layer: L, inShape: Shape4): ChainLink;
  /** Its entries in the export formats. */
  readonly exports: LayerExports<L>;
}

/**
 * Checks that `value` is an integer ≥ `min`; throws a one-line `RangeError` naming `what`.
 *
 * @example
 * ```ts
 * import { checkInteger } from "./layer.ts";
 * console.log(checkInteger(3, 1, "kernel")); // 3
 * ```
 */
export function checkInteger(value: unknown, min: number, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    const need = min === 0 ? "a non-negative integer" : `an integer ≥ ${min}`;
    throw new RangeError(`${what} must be ${need}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * The output size along one axis of a window on `size` input pixels (floor semantics, as tfjs
 * and ../geometry.ts count); at most 0 when the window does not fit.
 *
 * @example
 * ```ts
 * import { outSize } from "./layer.ts";
 * console.log(outSize(64, { kernel: 6, stride: 2, padding: 0 })); // 30
 * ```
 */
export function outSize(size: number, w: Window): number {
  const span = size + 2 * w.padding - w.kernel;
  return span < 0 ? 0 : Math.floor(span / w.stride) + 1;
}
