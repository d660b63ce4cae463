/**
 * The localization network: a small fully convolutional stack (tfjs-core only, no tf.layers) whose
 * windows come from the geometry functions. Run on a whole image it gives one 15-vector per
 * window: objectness logit, 10 class logits, 4 box values (top, bottom, left, right in the window
 * frame).
 *
 * @module
 */
import { type Tensor4D, tf, type Variable } from "../deps.ts";
import { resolveLayers, type WindowGeometry, windowGeometry, windowGrid } from "../geometry.ts";
import type { WindowGrid } from "../geometry.ts";
import { type ArchLayer, kindOf } from "../layers/table.ts";
import { outSize } from "../layers/layer.ts";
import { makeRng, type Rng } from "../rng.ts";

import { OUTPUT_CHANNELS } from "./layout.ts";
import type { PredictionRule } from "./predict.ts";

export { OUTPUT_CHANNELS };

export type { ArchLayer } from "../layers/table.ts";

const conv = (kernel: number, filters: number, stride = 1): ArchLayer => ({
  kind: "conv",
  kernel,
  filters,
  ...(stride !== 1 ? { stride } : {}),
});
const head: ArchLayer = { kind: "conv", kernel: 1, filters: OUTPUT_CHANNELS, activation: "linear" };

/**
 * The small net `s8` (what {@linkcode buildModel} builds when given no architecture): window 40,
 * stride 8, a 4×4 grid on 64×64 scenes, 117 439 parameters, about 9.1 MFLOPs per 64×64 image
 * forward (see {@linkcode modelCost}). `deno task train` trains {@linkcode DEFAULT_ARCH} (`wide`),
 * the same windows with twice the filters.
 *
 * conv 6×6·16 stride 2 → conv 4×4·32 stride 2 → conv 4×4·64 stride 2 → conv 3×3·128 (the "fully
 * connected" layer of one window) → conv 1×1·15 (linear). Strided convolutions instead of
 * conv + max-pool: ~2.7× faster to train on wasm than {@linkcode POOL_ARCH} for the same window.
 */
export const S8_ARCH: readonly ArchLayer[] = Object.freeze([
  conv(6, 16, 2),
  conv(4, 32, 2),
  conv(4, 64, 2),
  conv(3, 128),
  head,
]);

/**
 * The conv/max-pool stack of the PyTorch reference: window 40, stride 4, a 7×7 grid on 64×64,
 * 114 639 parameters, about 30.3 MFLOPs per image.
 *
 * conv 5×5·16 → max-pool 2 → conv 5×5·32 → max-pool 2 → conv 7×7·64 → conv 1×1·15 (linear).
 */
export const POOL_ARCH: readonly ArchLayer[] = Object.freeze([
  { kind: "conv", kernel: 5, filters: 16 },
  { kind: "pool", kernel: 2 },
  { kind: "conv", kernel: 5, filters: 32 },
  { kind: "pool", kernel: 2 },
  { kind: "conv", kernel: 7, filters: 64 },
  head,
]);

/**
 * The net `wide`: {@linkcode S8_ARCH}'s windows (40, stride 8) with twice the filters in every
 * layer: 464 239 parameters, about 34 MFLOPs per 64×64 image. After 4 epochs it beat `s8` by 1.1
 * points of accuracy and 0.05 of mean IoU (docs/quality.md) at 2.5× the time per epoch.
 *
 * conv 6×6·32 stride 2 → conv 4×4·64 stride 2 → conv 4×4·128 stride 2 → conv 3×3·256 →
 * conv 1×1·15 (linear).
 */
export const WIDE_ARCH: readonly ArchLayer[] = Object.freeze([
  conv(6, 32, 2),
  conv(4, 64, 2),
  conv(4, 128, 2),
  conv(3, 256),
  head,
]);

/**
 * What `deno task train` trains by default ({@linkcode WIDE_ARCH}, `--arch wide`), and what the
 * shipped models are (models/default, models/detector).
 */
export const DEFAULT_ARCH: readonly ArchLayer[] = WIDE_ARCH;

/**
 * Named architectures (`--arch` of `deno task train`). `wide`: {@linkcode WIDE_ARCH} (the
 * default); `s8`: {@linkcode S8_ARCH}; `pool`: {@linkcode POOL_ARCH}; `strided`: the pool geometry
 * (window 40, stride 4, 7×7) with strided convolutions (1.5× faster than `pool`); `s8w48`:
 * stride 8 with a 48-pixel window (3×3 grid).
 */
export const ARCHITECTURES: Readonly<Record<string, readonly ArchLayer[]>> = Object.freeze({
  s8: S8_ARCH,
  pool: POOL_ARCH,
  strided: [conv(6, 16, 2), conv(4, 32, 2), conv(8, 64), head],
  s8w48: [conv(6, 16, 2), conv(4, 32, 2), conv(4, 64, 2), conv(4, 96), head],
  wide: WIDE_ARCH,
});

/** A built model: named variables plus the forward pass and its window geometry. */
export interface Model {
  /** The architecture it was built from. */
  readonly arch: readonly ArchLayer[];
  /**
   * Trainable variables by our name (`conv0/kernel`, `conv0/bias`, …), in layer order. Their tfjs
   * names (`variable.name`) are engine-unique and differ.
   */
  readonly variables: Map<string, Variable>;
  /** Window size, stride and offset in input pixels. */
  readonly geometry: WindowGeometry;
  /** Window grid on an input of `height × width`. */
  grid(height: number, width?: number): WindowGrid;
  /** Forward pass: images [N, H, W, 1] → [N, rows, cols, 15]. */
  apply(x: Tensor4D): Tensor4D;
  /**
   * Layers `[from, to)` alone (default: to the last), on the activations of layer `from − 1`
   * (the images for 0): `applyLayers(applyLayers(x, 0, k), k)` is `apply(x)`. Detection's offset
   * passes share the layers a cropped input has in common with the whole one (../geometry.ts
   * `sharedPrefix`).
   */
  applyLayers(x: Tensor4D, from: number, to?: number): Tensor4D;
  /** Frees the variables. */
  dispose(): void;
  /**
   * The prediction rule that fits the model, as its training run recorded it (checkpoints save
   * and load it; ./predict.ts uses it unless told otherwise); unset: `DEFAULT_RULE`.
   */
  rule?: PredictionRule;
}

/** Options of {@linkcode buildModel}. */
export interface BuildOptions {
  /** Seed of the He-normal initialisation; default 0. */
  seed?: number;
  /** Input channels; default 1 (grey scenes). */
  inputChannels?: number;
}

function checkArch(
  arch: readonly ArchLayer[],
  inputChannels: number,
  outputChannels = OUTPUT_CHANNELS,
): void {
  if (!Array.isArray(arch) || arch.length === 0) {
    throw new TypeError("arch must be a non-empty array of layers like { kind: 'conv', ... }");
  }
  windowGeometry(arch); // validates kinds, kernels, strides, padding
  for (const [i, l] of arch.entries()) kindOf(l).check(l, `arch[${i}]`);
  const last = arch[arch.length - 1];
  if (last.kind !== "conv" || last.filters !== outputChannels) {
    throw new RangeError(`arch: the last layer must be a conv with ${outputChannels} filters`);
  }
  if ((last.activation ?? "relu") !== "linear") {
    throw new RangeError('arch: the last layer must have activation "linear"');
  }
  if (inputChannels < 1) throw new RangeError("arch needs inputChannels ≥ 1");
}

/** Standard normal via Box–Muller from the seeded generator. */
function normal(rng: Rng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/**
 * Shapes of the variables of an architecture, by name, in layer order. `outputChannels`: what
 * the last (linear) convolution must give; default slidewin's 15 (another only for a network that
 * is not a localizer, such as part 1's).
 */
export function variableShapes(
  arch: readonly ArchLayer[],
  inputChannels = 1,
  outputChannels: number = OUTPUT_CHANNELS,
): Map<string, number[]> {
  checkArch(arch, inputChannels, outputChannels);
  const shapes = new Map<string, number[]>();
  let channels = inputChannels;
  for (const [index, l] of arch.entries()) {
    const kind = kindOf(l);
    for (const [name, shape] of kind.variables(l, { index, inChannels: channels })) {
      shapes.set(name, shape);
    }
    channels = kind.channels(l, channels);
  }
  return shapes;
}

/**
 * Builds a model of `arch` with He-normal kernels (Glorot-normal for the linear last layer) and
 * zero biases, drawn from `seed`. Without an architecture it builds the small net
 * {@linkcode S8_ARCH} (pass {@linkcode DEFAULT_ARCH} for what `deno task train` trains).
 *
 * @example
 * ```ts
 * import { buildModel } from "./model.ts";
 * import { type Tensor4D, type Variable, tf } from "../deps.ts";
 * const model = buildModel(undefined, { seed: 1 });
 * const out = model.apply(tf.zeros([2, 64, 64, 1]));
 * console.log(out.shape); // [2, 4, 4, 15]
 * ```
 */
export function buildModel(
  arch: readonly ArchLayer[] = S8_ARCH,
  options: BuildOptions = {},
): Model {
  const inputChannels = options.inputChannels ?? 1;
  const rng = makeRng(options.seed ?? 0);
  const shapes = variableShapes(arch, inputChannels);
  const variables = new Map<string, Variable>();
  const lastConv = `conv${arch.length - 1}/kernel`;
  for (const [name, shape] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (name.endsWith("/kernel")) {
      const fanIn = shape[0] * shape[1] * shape[2];
      const fanOut = shape[0] * shape[1] * shape[3];
      const std = name === lastConv ? Math.sqrt(2 / (fanIn + fanOut)) : Math.sqrt(2 / fanIn);
      for (let i = 0; i < size; i++) values[i] = normal(rng) * std;
    }
    // tfjs variable names are global to the engine: let it pick unique ones (the map holds ours).
    const initial = tf.tensor(values, shape);
    variables.set(name, tf.variable(initial, true));
    initial.dispose(); // the variable holds its own reference to the data
  }
  return modelFromVariables(arch, variables, inputChannels);
}

/**
 * Wraps existing variables (e.g. loaded from a checkpoint) as a model. Their names and shapes must
 * match {@linkcode variableShapes} of `arch`.
 *
 * @example
 * ```ts
 * import { buildModel, modelFromVariables } from "./model.ts";
 * const a = buildModel();
 * const b = modelFromVariables(a.arch, a.variables);
 * console.log(b.geometry); // { size: 40, stride: 8, offset: 0 }
 * ```
 */
export function modelFromVariables(
  arch: readonly ArchLayer[],
  variables: Map<string, Variable>,
  inputChannels = 1,
): Model {
  const shapes = variableShapes(arch, inputChannels);
  for (const [name, shape] of shapes) {
    const v = variables.get(name);
    if (!v) throw new Error(`variables: missing "${name}" for this architecture`);
    if (v.shape.join(",") !== shape.join(",")) {
      throw new Error(
        `variables: "${name}" has shape [${v.shape}] but the architecture needs [${shape}]`,
      );
    }
  }
  const geometry = windowGeometry(arch);
  const frozenArch = Object.freeze(arch.map((l) => ({ ...l }))) as readonly ArchLayer[];
  // each layer's variables, in its kind's order
  const weights: Variable[][] = [];
  let channels = inputChannels;
  for (const [index, l] of arch.entries()) {
    const kind = kindOf(l);
    weights.push(
      kind.variables(l, { index, inChannels: channels }).map(([name]) => variables.get(name)!),
    );
    channels = kind.channels(l, channels);
  }
  const applyLayers = (x: Tensor4D, from: number, to = arch.length): Tensor4D => {
    if (
      !(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to &&
        to <= arch.length)
    ) {
      throw new RangeError(`layers [${from}, ${to}) must lie in [0, ${arch.length}]`);
    }
    return tf.tidy(() => {
      let a: Tensor4D = x;
      for (let i = from; i < to; i++) {
        a = kindOf(arch[i]).apply(arch[i], a, { tf, weights: weights[i] });
      }
      return from === to ? tf.clone(a) : a;
    });
  };
  return {
    arch: frozenArch,
    variables,
    geometry,
    grid: (height, width = height) => windowGrid(arch, height, width),
    apply: (x) => applyLayers(x, 0),
    applyLayers,
    dispose() {
      for (const v of variables.values()) v.dispose();
    },
  };
}

/** Size and cost of an architecture. */
export interface ModelCost {
  /** Trainable parameters. */
  params: number;
  /** Forward floating-point operations per image (2 per multiply-add, plus bias and pooling). */
  flops: number;
  /** Window geometry and grid on the given input. */
  grid: WindowGrid;
}

/**
 * Parameter count and forward FLOPs per image of an architecture on a `height × width` input
 * (2 FLOPs per multiply-add; bias, relu and max-pool compares counted once per element).
 *
 * @example
 * ```ts
 * import { modelCost, S8_ARCH } from "./model.ts";
 * const { params, flops, grid } = modelCost(S8_ARCH, { height: 64 });
 * console.log(params, (flops / 1e6).toFixed(1), grid.rows); // 117439 "9.1" 4
 * ```
 */
export function modelCost(
  arch: readonly ArchLayer[] = S8_ARCH,
  options: { height?: number; width?: number; inputChannels?: number } = {},
): ModelCost {
  const height = options.height ?? 64;
  const width = options.width ?? height;
  let channels = options.inputChannels ?? 1;
  checkArch(arch, channels);
  let h = height;
  let w = width;
  let params = 0;
  let flops = 0;
  for (const [i, r] of resolveLayers(arch).entries()) {
    h = outSize(h, r);
    w = outSize(w, r);
    if (h < 1 || w < 1) throw new RangeError(`Input ${height}×${width} is smaller than the window`);
    const l = arch[i], kind = kindOf(l);
    const cost = kind.cost(l, { inChannels: channels, outHeight: h, outWidth: w });
    params += cost.params;
    flops += cost.flops;
    channels = kind.channels(l, channels);
  }
  return { params, flops, grid: windowGrid(arch, height, width) };
}
