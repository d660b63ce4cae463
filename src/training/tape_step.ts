/**
 * The tape step: `tf.variableGrads` of the conditional loss on the model's own variables, on
 * whatever backend is active. The only place the code base calls `variableGrads`; the pool's
 * per-thread tape step (./shard_step.ts) runs it on a replica.
 *
 * @module
 */
import "../gradients.ts";
import { type NamedTensorMap, type Tensor, type Tensor4D, tf } from "../deps.ts";
import { checkBoxReduction, type LossParts, lossParts } from "../model/layout.ts";
import type { BoxReduction } from "../model/layout.ts";
import { loss } from "../model/loss.ts";
import type { Model } from "../model/model.ts";
import type { GradientStep, StepGradients } from "./gradient_step.ts";

/**
 * Gradients by tfjs's tape.
 *
 * @example
 * ```ts
 * import { type Tensor4D, tf } from "../deps.ts";
 * import { buildModel } from "../model/model.ts";
 * import { TapeStep } from "./tape_step.ts";
 * const model = buildModel();
 * const step = new TapeStep();
 * const { named, parts } = await step.gradients(
 *   model,
 *   tf.zeros([1, 64, 64, 1]) as Tensor4D,
 *   tf.zeros([1, 4, 4, 6]) as Tensor4D,
 * );
 * console.log(parts.detection.toFixed(3)); // 16·ln 2 = "11.090"
 * tf.dispose(Object.values(named));
 * ```
 */
export class TapeStep implements GradientStep {
  readonly kind = "tape";
  readonly #box: BoxReduction;

  /** `box`: reduction of the box error (default "sum"). */
  constructor(options: { box?: BoxReduction } = {}) {
    this.#box = checkBoxReduction(options.box);
  }

  /**
   * The gradients as tensors (keyed by tfjs variable name) and the loss parts, without reading
   * the gradients back: what {@linkcode TapeStep.gradients} and the per-thread step build on.
   */
  async compute(
    model: Model,
    images: Tensor4D,
    targets: Tensor4D,
  ): Promise<{ named: NamedTensorMap; parts: LossParts<number> }> {
    const { named, parts } = this.deferred(model, images, targets);
    const v = await parts.data();
    parts.dispose();
    return { named, parts: lossParts(v) };
  }

  /** Gradients of the summed loss of the batch at the model's current weights. */
  /**
   * The gradients with the loss parts left on the device: `parts` is a `[3]` tensor (detection,
   * classification, regression sums) the caller reads when it wants (e.g. every N steps on a GPU,
   * where each read-back stalls the queue) and disposes.
   */
  deferred(
    model: Model,
    images: Tensor4D,
    targets: Tensor4D,
  ): { named: NamedTensorMap; parts: Tensor } {
    const vars = [...model.variables.values()];
    let stacked: Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const p = loss(model.apply(images), targets, { box: this.#box });
      stacked = tf.keep(tf.stack([p.detection, p.classification, p.regression]));
      return p.total;
    }, vars);
    value.dispose();
    return { named: grads, parts: stacked! };
  }

  async gradients(model: Model, images: Tensor4D, targets: Tensor4D): Promise<StepGradients> {
    const t0 = performance.now();
    const { named, parts } = await this.compute(model, images, targets);
    const grads = new Map<string, Tensor>();
    for (const [name, v] of model.variables) grads.set(name, named[v.name]);
    const ms = performance.now() - t0;
    return { grads, named, parts, timing: { mainMs: ms, workerMs: [], totalMs: ms } };
  }

  /** `model.apply(images)`. */
  forward(model: Model, images: Tensor4D): Promise<Tensor4D> {
    return Promise.resolve(tf.tidy(() => model.apply(images)));
  }

  /** Nothing to free. */
  close(): void {}
}
