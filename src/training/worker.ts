/**
 * The Worker side of {@linkcode GradientPool} (./pool.ts): its own tfjs engine and backend, a
 * replica of the architecture, and one job — set the weights, compute the gradients of the loss on
 * a shard of the batch, send them back as Float32Arrays (transferred).
 *
 * Messages in: {@linkcode InitMessage} once, then {@linkcode GradMessage}s. Messages out:
 * `{ type: "ready", backend }`, {@linkcode GradReply}, or `{ type: "error", message }`.
 *
 * @module
 */
import "../gradients.ts";
import { type Tensor, tf, type Variable } from "../deps.ts";
import { useBackend } from "../backends/backend.ts";
import { type ArchLayer, modelFromVariables, variableShapes } from "../model/model.ts";
import type { Model } from "../model/model.ts";
import { loss } from "../model/loss.ts";
import { openBlas } from "../backends/native/openblas.ts";
import { NativeStep } from "../backends/native/step.ts";

/** First message to a worker: what to build. */
export interface InitMessage {
  /** Message tag. */
  type: "init";
  /** The architecture to replicate. */
  arch: readonly ArchLayer[];
  /** Input channels; default 1. */
  inputChannels?: number;
  /** Backend of the worker's engine. */
  backend: "wasm" | "native" | "cpu";
  /** Reduction of the box error (see ../loss.ts). */
  box: "sum" | "mean";
}

/** A gradient job: current weights (in variable order) and a shard of the batch. */
export interface GradMessage {
  /** Message tag. */
  type: "grad";
  /** Job id, echoed in the reply. */
  id: number;
  /** Weights, one array per variable in `variableShapes(arch)` order. */
  weights: Float32Array[];
  /** Images of the shard, `[n, H, W, C]` row-major. */
  images: Float32Array;
  /** Shape of the images. */
  imageShape: [number, number, number, number];
  /** Targets of the shard, `[n, rows, cols, 6]` row-major. */
  targets: Float32Array;
  /** Shape of the targets. */
  targetShape: [number, number, number, number];
}

/** The answer to a {@linkcode GradMessage}. */
export interface GradReply {
  /** Message tag. */
  type: "grads";
  /** The job id. */
  id: number;
  /** Gradients, one array per variable in `variableShapes(arch)` order. */
  grads: Float32Array[];
  /** detection, classification, regression: summed over the shard. */
  parts: [number, number, number];
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
  imageShape: [number, number, number, number];
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

let model: Model | undefined;
let names: string[] = [];
let box: "sum" | "mean" = "sum";
/** On "native": the tape-free step of ../native/step.ts instead of tfjs's tape. */
let step: NativeStep | undefined;

async function init(message: InitMessage): Promise<void> {
  const backend = await useBackend(message.backend); // throws one line without OpenBLAS
  if (backend === "native") {
    step = new NativeStep(message.arch, openBlas()!.sgemm, {
      box: message.box,
      inputChannels: message.inputChannels ?? 1,
    });
    scope.postMessage({ type: "ready", backend });
    return; // no tfjs replica needed
  }
  const shapes = variableShapes(message.arch, message.inputChannels ?? 1);
  const variables = new Map<string, Variable>();
  for (const [name, shape] of shapes) variables.set(name, tf.variable(tf.zeros(shape), true));
  model = modelFromVariables(message.arch, variables, message.inputChannels ?? 1);
  names = [...shapes.keys()];
  box = message.box;
  scope.postMessage({ type: "ready", backend });
}

/** Loads the job's weights (in `names` order) into the tfjs replica and returns it. */
function setWeights(weights: Float32Array[]): Model {
  const m = model!;
  for (const [i, name] of names.entries()) {
    const v = m.variables.get(name)!;
    tf.tidy(() => v.assign(tf.tensor(weights[i], v.shape)));
  }
  return m;
}

function gradients(message: GradMessage): void {
  const t0 = performance.now();
  if (step) {
    const { grads, parts } = step.gradients(message.weights, message);
    const reply: GradReply = {
      type: "grads",
      id: message.id,
      grads,
      parts,
      ms: performance.now() - t0,
    };
    scope.postMessage(reply, grads.map((a) => a.buffer));
    return;
  }
  const m = setWeights(message.weights);
  const vars = names.map((n) => m.variables.get(n)!);
  const { grads, parts } = tf.tidy(() => {
    const images = tf.tensor4d(message.images, message.imageShape);
    const targets = tf.tensor4d(message.targets, message.targetShape);
    let stacked: Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const p = loss(m.apply(images), targets, { box });
      stacked = tf.keep(tf.stack([p.detection, p.classification, p.regression]));
      return p.total;
    }, vars);
    value.dispose();
    return { grads: vars.map((v) => grads[v.name]), parts: stacked! };
  });
  const out = grads.map((g) => g.dataSync() as Float32Array);
  const p = parts.dataSync();
  tf.dispose([...grads, parts]);
  // dataSync may hand out backend storage (cpu): copy before transferring.
  const arrays = out.map((a) => a.slice());
  const reply: GradReply = {
    type: "grads",
    id: message.id,
    grads: arrays,
    parts: [p[0], p[1], p[2]],
    ms: performance.now() - t0,
  };
  scope.postMessage(reply, arrays.map((a) => a.buffer));
}

function forward(message: ForwardMessage): void {
  let out: Float32Array;
  if (step) out = step.forward(message.weights, message.images, message.imageShape);
  else {
    const m = setWeights(message.weights);
    const y = tf.tidy(() => m.apply(tf.tensor4d(message.images, message.imageShape)));
    out = (y.dataSync() as Float32Array).slice(); // dataSync may hand out backend storage (cpu)
    y.dispose();
  }
  const reply: ForwardReply = { type: "out", id: message.id, out };
  scope.postMessage(reply, [out.buffer]);
}

scope.onmessage = (e: MessageEvent<WorkerMessage>) => {
  const message = e.data;
  try {
    if (message.type === "init") {
      init(message).catch((error) => scope.postMessage({ type: "error", message: String(error) }));
    } else if (message.type === "grad") {
      gradients(message);
    } else if (message.type === "forward") {
      forward(message);
    } else if (message.type === "close") {
      model?.dispose();
      scope.close();
    }
  } catch (error) {
    const id = message.type === "grad" || message.type === "forward" ? message.id : undefined;
    scope.postMessage({ type: "error", id, message: String(error) });
  }
};
