/**
 * The training step seam: one interface for "the gradients of one batch", with three
 * implementations, and one factory that picks among them from a backend value.
 *
 * - {@linkcode TapeStep} (./tape_step.ts): tfjs's tape on the model's own variables — the only
 *   `tf.variableGrads` in the code base; any backend (webgpu, wasm, cpu, native's kernels).
 * - the array network (../model/array_net.ts): forward, loss and backward written out on
 *   `Float32Array`s over the backend's convolution engine (method "native"); it runs as a
 *   {@linkcode GradientPool} of zero or more Workers.
 * - {@linkcode GradientPool} (./pool.ts): a batch split into shards over this thread and Deno
 *   Workers, each shard computed by a per-thread step (./shard_step.ts), the gradients summed.
 *
 * `train`, `bench`, the workers and `predict` (through `forward`) use only this seam.
 *
 * @module
 */
import type { ArchLayer } from "../model/model.ts";
import type { BoxReduction } from "../model/layout.ts";
import type { GradientStep } from "./gradient_step.ts";
import { type Backend, backendNamed, type ConcreteBackendName } from "../backends/backend.ts";
import { TapeStep } from "./tape_step.ts";
import { GradientPool } from "./pool.ts";

export type { GradientStep, StepGradients } from "./gradient_step.ts";

/** Options of {@linkcode createStep}. */
export interface StepOptions {
  /** The backend in use (a value of the table in ../backends/backend.ts, or its name). */
  backend: Backend | ConcreteBackendName;
  /**
   * Worker threads computing shards besides this thread; default 0. Ignored (0) on backends
   * whose engines cannot run in Workers (webgpu).
   */
  workers?: number;
  /** Reduction of the box error; default "sum". */
  box?: BoxReduction;
  /** Input channels of the architecture; default 1. */
  inputChannels?: number;
  /**
   * Forces how gradients are computed: "tape" (tfjs's tape, e.g. the native backend's kernels
   * under the tape) or "native" (the array network; backends with a convolution engine only);
   * default the backend's own (`backend.method`).
   */
  method?: "tape" | "native";
}

/**
 * The training step for `arch` on a backend: a pool when there are workers or when the backend's
 * step is the native one, else tfjs's tape on the model's variables.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backends/backend.ts";
 * import { type Tensor4D, tf } from "../deps.ts";
 * import { buildModel } from "../model/model.ts";
 * import { createStep } from "./step.ts";
 * await useBackend("wasm");
 * const model = buildModel();
 * const step = await createStep(model.arch, { backend: "wasm" });
 * const { grads, parts } = await step.gradients(
 *   model,
 *   tf.zeros([2, 64, 64, 1]) as Tensor4D,
 *   tf.zeros([2, 4, 4, 6]) as Tensor4D,
 * );
 * console.log(step.kind, parts.detection > 0); // "tape" true
 * tf.dispose([...grads.values()]);
 * step.close();
 * ```
 */
export async function createStep(
  arch: readonly ArchLayer[],
  options: StepOptions,
): Promise<GradientStep> {
  const backend = typeof options.backend === "string"
    ? backendNamed(options.backend)
    : options.backend;
  const method = options.method ?? backend.method;
  const workers = backend.threads ? options.workers ?? 0 : 0;
  if (workers === 0 && method === "tape") return new TapeStep({ box: options.box });
  if (!backend.threads) {
    throw new Error(`The native step does not run on backend "${backend.name}"; use "native"`);
  }
  return await GradientPool.create(arch, {
    workers,
    box: options.box,
    backend,
    inputChannels: options.inputChannels,
    method,
  });
}
