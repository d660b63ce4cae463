/**
 * The network on plain `Float32Array`s: forward pass, the conditional loss and its gradient
 * (./loss.ts `lossAndGradient`), and backward pass, without tfjs — a generic executor over the
 * architecture's layers, each run by its kind's array form (../layers/), every convolution on one
 * convolution engine (../layers/engine.ts: OpenBLAS's `im2col` + `sgemm`, or oneDNN). Where the
 * engine has chains (oneDNN: ../backends/onednn/chain.ts) and every layer is a convolution, the
 * whole network runs as one chain instead, its activations kept in the engine's own layouts; only
 * the loss is computed here then.
 *
 * It computes what `tf.variableGrads(() => loss(model.apply(x), y).total)` computes — the spec
 * (specs/array_net_test.ts) holds it to tfjs-cpu's gradients — without tfjs's ~300 kernel
 * dispatches, tape and temporary tensors per step: on 2 cores that is most of a step once the
 * convolutions are native. The training step seam (../training/step.ts) runs it on the main
 * thread and in the pool's Workers for the backends whose training method is "native"; the
 * optimizer stays in tfjs.
 *
 * @module
 */
import type { ChainLink, ConvChain, ConvEngine } from "../layers/engine.ts";
import type { ArrayLayer, Shape4 } from "../layers/layer.ts";
import { type ArchLayer, kindOf } from "../layers/table.ts";
import type { BoxReduction } from "./layout.ts";
import { TARGET } from "./layout.ts";
import { lossAndGradient } from "./loss.ts";
import type { LossParts } from "./loss/terms.ts";

/** Gradients (in `variableShapes(arch)` order) and the loss parts of one batch. */
export interface ArrayGradients {
  /** One fresh array per variable: `conv{i}/kernel`, `conv{i}/bias`, … in layer order. */
  grads: Float32Array[];
  /** The loss parts, summed over windows and images. */
  parts: LossParts<number>;
}

/** One layer at the planned shape, with its variables' names and sizes. */
interface Planned {
  layer: ArrayLayer;
  /** `conv{i}` of `conv{i}/kernel`: names the layer in errors. */
  label: string;
  /** Values per variable, in the kind's order. */
  sizes: number[];
  /** Where its variables start in the flat list of weights. */
  first: number;
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * The network of one architecture on arrays, with buffers kept between calls of the same batch
 * shape.
 *
 * @example
 * ```ts
 * import { S8_ARCH, variableShapes } from "./model.ts";
 * import { ArrayNet } from "./array_net.ts";
 * import { openBlas } from "../backends/native/openblas.ts";
 * import { Im2colEngine } from "../backends/native/im2col_engine.ts";
 * const blas = openBlas();
 * if (blas) {
 *   const net = new ArrayNet(S8_ARCH, new Im2colEngine(blas.sgemm));
 *   const weights = [...variableShapes(S8_ARCH).values()]
 *     .map((s) => new Float32Array(s.reduce((a, b) => a * b, 1)));
 *   const { parts } = net.gradients(weights, {
 *     images: new Float32Array(64 * 64), imageShape: [1, 64, 64, 1],
 *     targets: new Float32Array(4 * 4 * 6), targetShape: [1, 4, 4, 6],
 *   });
 *   console.log(parts.detection.toFixed(4)); // 16·ln 2 = "11.0904"
 * }
 * ```
 */
export class ArrayNet {
  readonly #arch: readonly ArchLayer[];
  readonly #engine: ConvEngine;
  readonly #box: BoxReduction;
  readonly #inputChannels: number;
  #key = "";
  #layers: Planned[] = [];
  #weightCount = 0;
  /** Activations: acts[0] is the input, acts[i + 1] the output of layer i. */
  #acts: Float32Array[] = [];
  /** Gradient at the input of each layer (unused for layer 0). */
  #dx: Float32Array[] = [];
  #dOut = new Float32Array(0);
  /** The engine's chain of every layer, where it has one and every layer is a convolution. */
  #chain: ConvChain | null = null;

  /**
   * `engine`: the convolution engine every convolution runs on; `box`: reduction of the box
   * error as in ./loss.ts; `inputChannels`: default 1.
   */
  constructor(
    arch: readonly ArchLayer[],
    engine: ConvEngine,
    options: { box?: BoxReduction; inputChannels?: number } = {},
  ) {
    this.#arch = arch;
    this.#engine = engine;
    this.#box = options.box ?? "sum";
    this.#inputChannels = options.inputChannels ?? 1;
  }

  /** Plans every layer for input shape `imageShape` (kept while the shape stays). */
  #plan(imageShape: Shape4): void {
    const key = imageShape.join(",");
    if (key === this.#key) return;
    const layers: Planned[] = [];
    // the layers as links of a chain, while every one is a convolution
    const links: ChainLink[] = [];
    let shape = imageShape, first = 0, chained = true;
    for (const [index, l] of this.#arch.entries()) {
      const kind = kindOf(l);
      const place = { index, inChannels: shape[3] };
      const variables = kind.variables(l, place);
      const layer = kind.arrays(l, { ...place, inShape: shape, engine: this.#engine });
      const label = variables[0]?.[0].split("/")[0] ?? `${l.kind}${index}`;
      layers.push({ layer, label, sizes: variables.map(([, s]) => sizeOf(s)), first });
      const link = kind.link?.(l, shape);
      if (link) links.push(link);
      else chained = false;
      first += variables.length;
      shape = layer.outShape;
    }
    this.#layers = layers;
    this.#weightCount = first;
    this.#chain = chained ? this.#engine.chain?.(links) ?? null : null;
    // a chain keeps its own activations: only the layer-by-layer pass needs these
    const buffer = (shape: Shape4) => new Float32Array(this.#chain ? 0 : sizeOf(shape));
    this.#acts = [new Float32Array(0), ...layers.map((p) => buffer(p.layer.outShape))];
    let inShape = imageShape;
    this.#dx = layers.map((p) => {
      const dx = buffer(inShape);
      inShape = p.layer.outShape;
      return dx;
    });
    this.#key = key;
  }

  /** Checks the weights and images, plans the buffers; the weights of each layer. */
  #prepare(
    weights: readonly Float32Array[],
    images: Float32Array,
    imageShape: Shape4,
  ): Float32Array[][] {
    if (imageShape[3] !== this.#inputChannels) {
      throw new RangeError(
        `images must have ${this.#inputChannels} channel(s), got ${imageShape[3]}`,
      );
    }
    if (images.length !== sizeOf(imageShape)) {
      throw new RangeError(`images: ${images.length} values for shape [${imageShape}]`);
    }
    this.#plan(imageShape);
    if (weights.length !== this.#weightCount) {
      throw new RangeError(`weights: expected ${this.#weightCount} arrays, got ${weights.length}`);
    }
    return this.#layers.map((p) => {
      const mine = weights.slice(p.first, p.first + p.sizes.length);
      if (mine.some((w, i) => w.length !== p.sizes[i])) {
        throw new RangeError(
          `weights of ${p.label}: expected ${p.sizes.join(" and ")} values, ` +
            `got ${mine.map((w) => w.length).join(" and ")}`,
        );
      }
      return mine;
    });
  }

  /** The forward pass into the activations (acts[0] = images; on a chain, only the last). */
  #forward(images: Float32Array, weights: Float32Array[][]): void {
    const acts = this.#acts;
    acts[0] = images;
    if (this.#chain) {
      acts[this.#layers.length] = this.#chain.forward(images, weights.flat());
      return;
    }
    for (const [i, p] of this.#layers.entries()) p.layer.forward(acts[i], acts[i + 1], weights[i]);
  }

  /**
   * The network's raw outputs `[N, rows, cols, 15]` (flat, a fresh array) for `images`
   * `[N, H, W, C]` at `weights` (`variableShapes(arch)` order): what `model.apply` computes.
   */
  forward(
    weights: readonly Float32Array[],
    images: Float32Array,
    imageShape: Shape4,
  ): Float32Array {
    this.#forward(images, this.#prepare(weights, images, imageShape));
    return this.#acts[this.#layers.length].slice();
  }

  /**
   * Gradients of the summed conditional loss with respect to every variable, at `weights`
   * (`variableShapes(arch)` order), for `images` `[N, H, W, C]` and `targets` `[N, rows, cols, 6]`.
   * The returned arrays are fresh (safe to transfer).
   */
  gradients(
    weights: readonly Float32Array[],
    batch: { images: Float32Array; imageShape: Shape4; targets: Float32Array; targetShape: Shape4 },
  ): ArrayGradients {
    const { images, imageShape, targets, targetShape } = batch;
    const layerWeights = this.#prepare(weights, images, imageShape);
    const layers = this.#layers, acts = this.#acts;
    const last = layers[layers.length - 1].layer.outShape;
    const want = [last[0], last[1], last[2], TARGET.channels];
    if (targetShape.join(",") !== want.join(",") || targets.length !== sizeOf(want)) {
      throw new RangeError(
        `targets must have shape [${want}], got [${targetShape}] (${targets.length} values)`,
      );
    }
    this.#forward(images, layerWeights);

    // the loss and its gradient with respect to the output
    const out = acts[layers.length];
    if (this.#dOut.length !== out.length) this.#dOut = new Float32Array(out.length);
    const parts = lossAndGradient(out, targets, this.#dOut, { box: this.#box });

    if (this.#chain) return { grads: this.#chain.backward(this.#dOut), parts };
    // backward, last layer first; the first layer needs no input gradient
    const grads: Float32Array[][] = [];
    let dy: Float32Array = this.#dOut;
    for (let i = layers.length - 1; i >= 0; i--) {
      const dx = i > 0 ? this.#dx[i] : null;
      grads[i] = layers[i].layer.backward({
        x: acts[i],
        y: acts[i + 1],
        dy,
        dx,
        weights: layerWeights[i],
      });
      if (dx) dy = dx;
    }
    return { grads: grads.flat(), parts };
  }
}
