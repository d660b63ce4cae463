/**
 * The training step seam's interface: "the gradients of one batch at a model's current weights",
 * whatever computes them. Implementations: ./tape_step.ts and ./pool.ts; the factory that picks
 * one from a backend is ./step.ts.
 *
 * @module
 */
import type { NamedTensorMap, Tensor, Tensor4D } from "../deps.ts";
import type { LossParts } from "../model/layout.ts";
import type { Model } from "../model/model.ts";

/** What a step's `gradients` returns. Dispose the gradients (or let Adam do it). */
export interface StepGradients {
  /** Gradient of the summed loss per variable, keyed like `model.variables` (`conv0/kernel`…). */
  grads: Map<string, Tensor>;
  /**
   * The same tensors keyed by tfjs variable name (`variable.name`), the form `Adam.step` and
   * `tf.variableGrads` use.
   */
  named: NamedTensorMap;
  /** The loss parts summed over the whole batch. */
  parts: LossParts<number>;
  /** Milliseconds: this thread's shard, each worker's job, the whole call. */
  timing: { mainMs: number; workerMs: number[]; totalMs: number };
}

/** One way of computing a batch's gradients (and outputs) at a model's current weights. */
export interface GradientStep {
  /** Which implementation: "tape", or a "pool" of per-thread steps (native or tape). */
  readonly kind: "tape" | "pool";
  /**
   * Gradients of the conditional loss summed over the batch `images` [N, H, W, C] with `targets`
   * [N, rows, cols, 6], at the current weights of `model`.
   */
  gradients(model: Model, images: Tensor4D, targets: Tensor4D): Promise<StepGradients>;
  /** The raw outputs [N, rows, cols, 15] of `model` on `images`, as `model.apply` gives them. */
  forward(model: Model, images: Tensor4D): Promise<Tensor4D>;
  /** Frees what the step holds (Workers, buffers). Idempotent. */
  close(): void;
}
