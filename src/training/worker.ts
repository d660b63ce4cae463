/**
 * The Worker side of {@linkcode GradientPool} (./pool.ts): its own tfjs engine on the pool's
 * backend, held to one thread (the descriptor's `singleThreaded()`: the pool shares the cores out
 * by Workers), a per-thread step (./shard_step.ts), and two jobs — the gradients of a shard, or the
 * outputs of a shard of images — answered with transferred `Float32Array`s.
 *
 * Messages in: {@linkcode InitMessage} once, then {@linkcode GradMessage}s and
 * {@linkcode ForwardMessage}s. Messages out: `{ type: "ready", backend }`, {@linkcode GradReply},
 * {@linkcode ForwardReply}, or `{ type: "error", id?, message }`.
 *
 * @module
 */
import "../gradients.ts";
import { type ThreadBackendName, useBackend } from "../backends/backend.ts";
import type { ArchLayer } from "../model/model.ts";
import type { BoxReduction } from "../model/layout.ts";
import type { LossParts } from "../model/loss/terms.ts";
import { createShardStep, type Shape4, type Shard, type ShardStep } from "./shard_step.ts";

/** First message to a worker: what to build. */
export interface InitMessage {
  /** Message tag. */
  type: "init";
  /** The architecture to replicate. */
  arch: readonly ArchLayer[];
  /** Input channels; default 1. */
  inputChannels?: number;
  /** Backend of the worker's engine (a name: a descriptor cannot cross `postMessage`). */
  backend: ThreadBackendName;
  /** How the worker computes gradients: the array network or tfjs's tape. */
  method: "native" | "tape";
  /** Reduction of the box error (see ../model/loss.ts). */
  box: BoxReduction;
}

/** A gradient job: current weights (in variable order) and a shard of the batch. */
export interface GradMessage extends Shard {
  /** Message tag. */
  type: "grad";
  /** Job id, echoed in the reply. */
  id: number;
  /** Weights, one array per variable in `variableShapes(arch)` order. */
  weights: Float32Array[];
}

/** The answer to a {@linkcode GradMessage}. */
export interface GradReply {
  /** Message tag. */
  type: "grads";
  /** The job id. */
  id: number;
  /** Gradients, one array per variable in `variableShapes(arch)` order. */
  grads: Float32Array[];
  /** The loss parts, summed over the shard. */
  parts: LossParts<number>;
  /** Milliseconds the worker spent on the job (weights in to gradients read out). */
  ms: number;
}

/** A forward job (inference): current weights and a shard of the images. */
export interface ForwardMessage {
  /** Message tag. */
  type: "forward";
  /** Job id, echoed in the reply. */
  id: number;
  /** Weights, one array per variable in `variableShapes(arch)` order. */
  weights: Float32Array[];
  /** Images of the shard, `[n, H, W, C]` row-major. */
  images: Float32Array;
  /** Shape of the images. */
  imageShape: Shape4;
}

/** The answer to a {@linkcode ForwardMessage}: the raw outputs `[n, rows, cols, 15]`, flat. */
export interface ForwardReply {
  /** Message tag. */
  type: "out";
  /** The job id. */
  id: number;
  /** The outputs (transferred). */
  out: Float32Array;
}

/** Any message a worker can receive. */
export type WorkerMessage = InitMessage | GradMessage | ForwardMessage | { type: "close" };

// deno-lint-ignore no-explicit-any
const scope = self as any as {
  onmessage: ((e: MessageEvent<WorkerMessage>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
  close(): void;
};

let step: (ShardStep & { dispose?(): void }) | undefined;

async function init(message: InitMessage): Promise<void> {
  const backend = await useBackend(message.backend); // throws one line without its library
  backend.singleThreaded(); // held until the Worker ends
  step = createShardStep(message.arch, { ...message, backend });
  scope.postMessage({ type: "ready", backend: backend.name });
}

async function run(message: GradMessage | ForwardMessage): Promise<void> {
  const t0 = performance.now();
  if (message.type === "grad") {
    const { grads, parts } = await step!.gradients(message.weights, message);
    const reply: GradReply = {
      type: "grads",
      id: message.id,
      grads,
      parts,
      ms: performance.now() - t0,
    };
    scope.postMessage(reply, grads.map((a) => a.buffer));
  } else {
    const out = await step!.forward(message.weights, message.images, message.imageShape);
    const reply: ForwardReply = { type: "out", id: message.id, out };
    scope.postMessage(reply, [out.buffer]);
  }
}

scope.onmessage = (e: MessageEvent<WorkerMessage>) => {
  const message = e.data;
  const fail = (error: unknown) => {
    const id = message.type === "grad" || message.type === "forward" ? message.id : undefined;
    scope.postMessage({ type: "error", id, message: String(error) });
  };
  if (message.type === "init") init(message).catch(fail);
  else if (message.type === "grad" || message.type === "forward") run(message).catch(fail);
  else if (message.type === "close") {
    step?.dispose?.();
    scope.close();
  }
};
