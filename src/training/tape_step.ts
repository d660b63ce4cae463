/**
 * The tape step: `tf.variableGrads` of the conditional loss on the model's own variables, on
 * whatever backend is active. The only place the code base calls `variableGrads`; the pool's
 * per-thread tape step (./shard_step.ts) runs it on a replica.
 *
 * @module
 */
import "../gradients.ts";
import { type NamedTensorMap, type Tensor, type Tensor4D, tf } from "../deps.ts";
import { checkBoxReduction } from "../model/layout.ts";
import type { BoxReduction } from "../model/layout.ts";
import { LOSS_TERMS, type LossParts, lossParts } from "../model/loss/terms.ts";
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
   * With `outputs`, also the batch's outputs `[N, rows, cols, 15]` from the same forward pass
   * (dispose them), e.g. to score the batch.
   */
  async compute(
    model: Model,
    images: Tensor4D,
    targets: Tensor4D,
    options: { outputs?: boolean } = {},
  ): Promise<{ named: NamedTensorMap; parts: LossParts<number>; outputs?: Tensor4D }> {
    const { named, parts, outputs } = this.deferred(model, images, targets, options);
    const v = await parts.data();
    parts.dispose();
    return { named, parts: lossParts(v), ...(outputs ? { outputs } : {}) };
  }

  /**
   * The gradients with the loss parts left on the device: `parts` is a tensor of the terms' sums
   * in `LOSS_TERMS` order (../model/loss/terms.ts `lossParts` reads it back) that the caller
   * reads when it wants (e.g. every N steps on a GPU, where each read-back stalls the queue) and
   * disposes; with `outputs`, also the forward pass's outputs.
   */
  deferred(
    model: Model,
    images: Tensor4D,
    targets: Tensor4D,
    options: { outputs?: boolean } = {},
  ): { named: NamedTensorMap; parts: Tensor; outputs?: Tensor4D } {
    const vars = [...model.variables.values()];
    let stacked: Tensor | undefined, outputs: Tensor4D | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const out = model.apply(images);
      if (options.outputs) outputs = tf.keep(out);
      const p = loss(out, targets, { box: this.#box });
      stacked = tf.keep(tf.stack(LOSS_TERMS.map((term) => p[term.name])));
      return p.total;
    }, vars);
    value.dispose();
    return { named: grads, parts: stacked!, ...(outputs ? { outputs } : {}) };
  }

  /** Gradients of the summed loss of the batch at the model's current weights. */
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
