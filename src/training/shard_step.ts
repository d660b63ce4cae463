/**
 * The per-thread step of the pool (./pool.ts): the gradients of one shard of a batch at given
 * weights, on plain `Float32Array`s, so that shards can cross to and from Deno Workers. Two
 * methods: "native", the array network of ../model/array_net.ts on the backend's convolution
 * engine, and "tape", {@linkcode TapeShardStep}: tfjs's tape on a replica of the architecture
 * (./tape_step.ts).
 *
 * @module
 */
import { type Tensor4D, tf, type Variable } from "../deps.ts";
import { type ArchLayer, type Model, modelFromVariables, variableShapes } from "../model/model.ts";
import type { BoxReduction } from "../model/layout.ts";
import type { LossParts } from "../model/loss/terms.ts";
import { ArrayNet } from "../model/array_net.ts";
import type { Shape4 } from "../layers/layer.ts";
import { TapeStep } from "./tape_step.ts";
import type { Backend } from "../backends/backend.ts";

/** An image shape `[N, H, W, C]` or a target shape `[N, rows, cols, 6]`. */
export type { Shape4 } from "../layers/layer.ts";

/** One shard of a batch, flat and row-major. */
export interface Shard {
  /** Images `[n, H, W, C]`. */
  images: Float32Array;
  /** Shape of the images. */
  imageShape: Shape4;
  /** Targets `[n, rows, cols, 6]`. */
  targets: Float32Array;
  /** Shape of the targets. */
  targetShape: Shape4;
}

/** The gradients of a shard: one fresh array per variable, and the summed loss parts. */
export interface ShardGradients {
  /** Gradients in `variableShapes(arch)` order (fresh arrays: safe to transfer or sum into). */
  grads: Float32Array[];
  /** The loss parts, summed over the shard. */
  parts: LossParts<number>;
}

/** A step on plain arrays: the interface of every per-thread step. */
export interface ShardStep {
  /** Gradients of the summed loss of `shard` at `weights` (`variableShapes(arch)` order). */
  gradients(weights: readonly Float32Array[], shard: Shard): Promise<ShardGradients>;
  /** Raw outputs `[n, rows, cols, 15]` (a fresh array) of `images` at `weights`. */
  forward(
    weights: readonly Float32Array[],
    images: Float32Array,
    shape: Shape4,
  ): Promise<Float32Array>;
}

/** Options of {@linkcode createShardStep}. */
export interface ShardStepOptions {
  /**
   * "native" (the array network on the backend's convolution engine; that backend must be
   * active) or "tape" (tfjs's tape on the active backend).
   */
  method: "native" | "tape";
  /** The backend whose convolution engine the native method runs on. */
  backend?: Backend;
  /** Reduction of the box error. */
  box?: BoxReduction;
  /** Input channels; default 1. */
  inputChannels?: number;
}

/**
 * tfjs's tape on a replica of the architecture, on the engine's current backend: set the
 * weights, run {@linkcode TapeStep}, read the gradients back.
 *
 * @example
 * ```ts
 * import { S8_ARCH, variableShapes } from "../model/model.ts";
 * import { TapeShardStep } from "./shard_step.ts";
 * const step = new TapeShardStep(S8_ARCH);
 * const weights = [...variableShapes(S8_ARCH).values()]
 *   .map((s) => new Float32Array(s.reduce((a, b) => a * b, 1)));
 * const { parts } = await step.gradients(weights, {
 *   images: new Float32Array(64 * 64), imageShape: [1, 64, 64, 1],
 *   targets: new Float32Array(4 * 4 * 6), targetShape: [1, 4, 4, 6],
 * });
 * console.log(parts.detection.toFixed(3)); // 16·ln 2 = "11.090"
 * step.dispose();
 * ```
 */
export class TapeShardStep implements ShardStep {
  readonly #model: Model;
  readonly #names: string[];
  readonly #tape: TapeStep;

  /** A replica of `arch` (zero weights until a call sets them). */
  constructor(arch: readonly ArchLayer[], options: Omit<ShardStepOptions, "method"> = {}) {
    const inputChannels = options.inputChannels ?? 1;
    const shapes = variableShapes(arch, inputChannels);
    const variables = new Map<string, Variable>();
    for (const [name, shape] of shapes) {
      variables.set(name, tf.tidy(() => tf.variable(tf.zeros(shape), true)));
    }
    this.#model = modelFromVariables(arch, variables, inputChannels);
    this.#names = [...shapes.keys()];
    this.#tape = new TapeStep({ box: options.box });
  }

  #setWeights(weights: readonly Float32Array[]): Model {
    for (const [i, name] of this.#names.entries()) {
      const v = this.#model.variables.get(name)!;
      tf.tidy(() => v.assign(tf.tensor(weights[i], v.shape)));
    }
    return this.#model;
  }

  async gradients(weights: readonly Float32Array[], shard: Shard): Promise<ShardGradients> {
    const model = this.#setWeights(weights);
    const images = tf.tensor4d(shard.images, shard.imageShape);
    const targets = tf.tensor4d(shard.targets, shard.targetShape);
    const { named, parts } = await this.#tape.compute(model, images, targets);
    tf.dispose([images, targets]);
    const grads = this.#names.map((name) => {
      const g = named[model.variables.get(name)!.name];
      // dataSync may hand out backend storage (cpu): copy, so the array can be transferred
      const a = (g.dataSync() as Float32Array).slice();
      g.dispose();
      return a;
    });
    return { grads, parts };
  }

  forward(
    weights: readonly Float32Array[],
    images: Float32Array,
    shape: Shape4,
  ): Promise<Float32Array> {
    const model = this.#setWeights(weights);
    const y = tf.tidy(() => model.apply(tf.tensor4d(images, shape) as Tensor4D));
    const out = (y.dataSync() as Float32Array).slice();
    y.dispose();
    return Promise.resolve(out);
  }

  /** Frees the replica's variables. */
  dispose(): void {
    this.#model.dispose();
  }
}

/** The array network of ../model/array_net.ts as a {@linkcode ShardStep}. */
class ArrayShardStep implements ShardStep {
  readonly #net: ArrayNet;
  constructor(net: ArrayNet) {
    this.#net = net;
  }
  gradients(weights: readonly Float32Array[], shard: Shard): Promise<ShardGradients> {
    return Promise.resolve(this.#net.gradients(weights, shard));
  }
  forward(
    weights: readonly Float32Array[],
    images: Float32Array,
    shape: Shape4,
  ): Promise<Float32Array> {
    return Promise.resolve(this.#net.forward(weights, images, shape));
  }
}

/**
 * The per-thread step for `arch`: the array network on the backend's convolution engine, or the
 * tape on a replica.
 *
 * @example
 * ```ts
 * import { S8_ARCH } from "../model/model.ts";
 * import { createShardStep } from "./shard_step.ts";
 * const step = createShardStep(S8_ARCH, { method: "tape" });
 * ```
 */
export function createShardStep(
  arch: readonly ArchLayer[],
  options: ShardStepOptions,
): ShardStep & { dispose?(): void } {
  if (options.method === "tape") return new TapeShardStep(arch, options);
  const backend = options.backend;
  if (backend?.method !== "native") {
    throw new Error(
      `Backend "${backend?.name ?? "none"}" has no native training step; use the tape`,
    );
  }
  const engine = backend.convEngine();
  if (!engine) {
    throw new Error(
      `Backend "${backend.name}" cannot load its convolution engine here; use "wasm"`,
    );
  }
  const { box, inputChannels } = options;
  return new ArrayShardStep(new ArrayNet(arch, engine, { box, inputChannels }));
}
