/**
 * Data-parallel gradients on several CPU cores: a pool of Deno Workers, each with its own tfjs
 * engine and a per-thread step (./shard_step.ts), computes the gradients of shards of a batch
 * while this thread computes shard 0 with a step of the same kind. The loss is a sum over images,
 * so the batch gradient is the sum of the shard gradients; the model and the optimizer stay on
 * this thread, and the workers get the current weights with every job.
 *
 * With zero workers it is simply the per-thread step on this thread: that is how the native
 * method runs (./step.ts picks it). With Workers, every thread holds the backend to one thread of
 * its own (the descriptor's `singleThreaded()`): the cores are shared out by shards.
 *
 * tfjs's own threaded wasm build cannot start its pthread Workers under Deno (docs/kernels.md);
 * this gets the other cores at the level of whole shards instead.
 *
 * @module
 */
import "../gradients.ts";
import { type Tensor, type Tensor4D, tf, type Variable } from "../deps.ts";
import { type ArchLayer, type Model, variableShapes } from "../model/model.ts";
import { checkBoxReduction, OUTPUT_CHANNELS } from "../model/layout.ts";
import type { BoxReduction } from "../model/layout.ts";
import { sumParts } from "../model/loss/terms.ts";
import {
  type Backend,
  backendNamed,
  currentBackend,
  type ThreadBackend,
  type ThreadBackendName,
} from "../backends/backend.ts";
import { createShardStep, type Shape4, type ShardGradients, type ShardStep } from "./shard_step.ts";
import type { GradientStep, StepGradients } from "./gradient_step.ts";
import type {
  ForwardMessage,
  ForwardReply,
  GradMessage,
  GradReply,
  InitMessage,
} from "./worker.ts";

/** Options of {@linkcode GradientPool.create}. */
export interface GradientPoolOptions {
  /** Worker threads; default `navigator.hardwareConcurrency − 1` (0 = no Worker, single-thread). */
  workers?: number;
  /** Reduction of the box error, as in ../model/loss.ts; default "sum". */
  box?: BoxReduction;
  /**
   * Whether the main thread computes a shard too; default true. False leaves the main thread free
   * (e.g. to make the next batch) and splits the batch among the workers only.
   */
  mainShard?: boolean;
  /**
   * Backend of every thread's engine (its descriptor, or its name); default the current backend
   * when its engines can run in Workers (onednn, native, wasm, cpu), else wasm.
   */
  backend?: Backend | ThreadBackendName;
  /**
   * How every thread computes its shard: "native" (the array network on the backend's
   * convolution engine) or "tape"; default the backend's own `method`.
   */
  method?: "native" | "tape";
  /** Input channels of the architecture; default 1. */
  inputChannels?: number;
}

interface Pending {
  // deno-lint-ignore no-explicit-any
  resolve: (reply: any) => void;
  reject: (error: Error) => void;
}

/**
 * Splits `n` rows into `parts` contiguous shards whose sizes differ by at most one; the extra rows
 * go to the last shards (the workers), not to the main thread's shard 0.
 *
 * @example
 * ```ts
 * import { shardSizes } from "./pool.ts";
 * console.log(shardSizes(7, 2)); // [3, 4]
 * ```
 */
export function shardSizes(n: number, parts: number): number[] {
  const base = Math.floor(n / parts), extra = n % parts;
  return Array.from({ length: parts }, (_, i) => base + (i >= parts - extra ? 1 : 0));
}

/** A batch laid out for the threads: flat data and where each thread's shard starts. */
interface Layout {
  /** 1 when this thread takes shard 0, else 0. */
  local: 0 | 1;
  sizes: number[];
  starts: number[];
}

/**
 * A pool of gradient workers for one architecture.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backends/backend.ts";
 * import { type Tensor4D, tf } from "../deps.ts";
 * import { Adam } from "./adam.ts";
 * import { buildModel } from "../model/model.ts";
 * import { GradientPool } from "./pool.ts";
 * await useBackend("wasm");
 * const model = buildModel(undefined, { seed: 1 });
 * const adam = new Adam(model.variables);
 * const pool = await GradientPool.create(model.arch, { workers: 1 });
 * const images = tf.zeros([8, 64, 64, 1]) as Tensor4D;
 * const targets = tf.zeros([8, 4, 4, 6]) as Tensor4D;
 * const { named, parts } = await pool.gradients(model, images, targets);
 * adam.step(named, 1e-3); // disposes the gradients
 * console.log(parts.detection); // 8·16·ln 2 ≈ 88.7 for zero outputs
 * pool.close();
 * ```
 */
export class GradientPool implements GradientStep {
  readonly kind = "pool";
  readonly #workers: Worker[];
  readonly #pending = new Map<number, Pending>();
  readonly #names: string[];
  readonly #mainShard: boolean;
  /** This thread's step (shard 0). */
  readonly #local: ShardStep & { dispose?(): void };
  #nextId = 0;
  #failure: Error | undefined;
  #closed = false;
  /** Ends this thread's hold on one engine thread (when there are Workers). */
  readonly #release: () => void;

  private constructor(
    workers: Worker[],
    names: string[],
    mainShard: boolean,
    local: ShardStep & { dispose?(): void },
    release: () => void,
  ) {
    this.#workers = workers;
    this.#names = names;
    this.#mainShard = mainShard;
    this.#local = local;
    this.#release = release;
    for (const w of workers) {
      w.onmessage = (e: MessageEvent) => this.#onMessage(e.data);
      w.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        this.#fail(new Error(`Gradient worker failed: ${e.message}`));
      };
    }
  }

  /**
   * Starts `options.workers` Workers for `arch` and waits until each has its backend ready.
   *
   * @example
   * ```ts
   * import { DEFAULT_ARCH } from "../model/model.ts";
   * import { GradientPool } from "./pool.ts";
   * const pool = await GradientPool.create(DEFAULT_ARCH, { workers: 1 });
   * console.log(pool.size); // 1
   * pool.close();
   * ```
   */
  static async create(
    arch: readonly ArchLayer[],
    options: GradientPoolOptions = {},
  ): Promise<GradientPool> {
    const count = options.workers ?? Math.max(0, (navigator.hardwareConcurrency ?? 1) - 1);
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`options.workers must be a non-negative integer, got ${count}`);
    }
    const box = checkBoxReduction(options.box);
    const mainShard = options.mainShard ?? true;
    if (!mainShard && count === 0) {
      throw new RangeError("options.mainShard: false needs at least one worker");
    }
    const inputChannels = options.inputChannels ?? 1;
    const names = [...variableShapes(arch, inputChannels).keys()];
    const current = tf.getBackend() ? currentBackend() : undefined;
    const chosen = options.backend ?? (current?.threads ? current : "wasm");
    const named = typeof chosen === "string" ? backendNamed(chosen) : chosen;
    if (!named.threads) {
      throw new RangeError(`options.backend "${named.name}" cannot run in Workers`);
    }
    const backend: ThreadBackend = named;
    const method = options.method ?? backend.method;
    // Workers share the cores: every thread runs its engine on one thread (this one from here)
    const release = count > 0 ? backend.singleThreaded() : () => {};
    let local: (ShardStep & { dispose?(): void }) | undefined;
    const workers: Worker[] = [];
    try {
      // throws the one-line "cannot load its convolution engine" error before any Worker starts
      local = createShardStep(arch, { method, box, inputChannels, backend });
      const init: InitMessage = {
        type: "init",
        arch: arch.map((l) => ({ ...l })),
        inputChannels,
        backend: backend.name,
        method,
        box,
      };
      await Promise.all(Array.from({ length: count }, () => {
        const w = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
        workers.push(w);
        return new Promise<void>((resolve, reject) => {
          w.onmessage = (e: MessageEvent) => {
            if (e.data?.type === "ready") resolve();
            else reject(new Error(`Gradient worker failed to start: ${e.data?.message}`));
          };
          w.onerror = (e: ErrorEvent) => {
            e.preventDefault();
            reject(new Error(`Gradient worker failed to start: ${e.message}`));
          };
          w.postMessage(init);
        });
      }));
    } catch (error) {
      for (const w of workers) w.terminate();
      local?.dispose?.();
      release();
      throw error;
    }
    return new GradientPool(workers, names, mainShard, local, release);
  }

  /** Number of workers. */
  get size(): number {
    return this.#workers.length;
  }

  #onMessage(
    data: GradReply | ForwardReply | { type: "error"; id?: number; message: string },
  ): void {
    if (data.type === "grads" || data.type === "out") {
      const p = this.#pending.get(data.id);
      this.#pending.delete(data.id);
      p?.resolve(data);
    } else {
      const error = new Error(`Gradient worker failed: ${data.message}`);
      const p = data.id === undefined ? undefined : this.#pending.get(data.id);
      if (p) {
        this.#pending.delete(data.id!);
        p.reject(error);
      } else this.#fail(error);
    }
  }

  #check(): void {
    if (this.#closed) throw new Error("GradientPool is closed");
    if (this.#failure) throw this.#failure;
  }

  /** The model's variables in the pool's order (the workers' `variableShapes` order). */
  #variables(model: Model): Variable[] {
    return this.#names.map((name) => {
      const v = model.variables.get(name);
      if (!v) throw new Error(`model has no variable "${name}"; build it from the pool's arch`);
      return v;
    });
  }

  /** Rows per shard (shard 0 is this thread's when it takes one) and where each starts. */
  #layout(n: number): Layout {
    const local = this.#mainShard ? 1 : 0;
    const sizes = shardSizes(n, this.#workers.length + local);
    const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    return { local, sizes, starts };
  }

  /**
   * Posts one job per worker whose shard is not empty (`make(shard, id)` builds the message for
   * shard `shard`) and returns the replies to come, `undefined` for the empty shards.
   */
  #post<R>(
    layout: Layout,
    make: (shard: number, id: number) => { message: unknown; transfer: Transferable[] },
  ): Promise<R | undefined>[] {
    return this.#workers.map((worker, i) => {
      const shard = i + layout.local;
      if (layout.sizes[shard] === 0) return Promise.resolve(undefined);
      const id = this.#nextId++;
      const job = new Promise<R>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
      job.catch(() => {}); // reported when awaited, or moot if this thread's shard threw
      const { message, transfer } = make(shard, id);
      worker.postMessage(message, transfer);
      return job;
    });
  }

  /**
   * Gradients of the loss of ../model/loss.ts summed over the batch `images` [N, H, W, C] with
   * `targets` [N, rows, cols, 6], at the current weights of `model`: shard 0 on this thread, the
   * others on the workers, summed.
   *
   * @example
   * ```ts
   * import { type Tensor4D, tf } from "../deps.ts";
   * import { buildModel } from "../model/model.ts";
   * import { GradientPool } from "./pool.ts";
   * const model = buildModel();
   * const pool = await GradientPool.create(model.arch, { workers: 0 });
   * const { grads, parts } = await pool.gradients(
   *   model,
   *   tf.zeros([2, 64, 64, 1]) as Tensor4D,
   *   tf.zeros([2, 4, 4, 6]) as Tensor4D,
   * );
   * console.log(grads.get("conv0/kernel")?.shape, parts.total > 0); // [6, 6, 1, 16] true
   * tf.dispose([...grads.values()]);
   * ```
   */
  async gradients(model: Model, images: Tensor4D, targets: Tensor4D): Promise<StepGradients> {
    this.#check();
    const t0 = performance.now();
    const n = images.shape[0];
    if (targets.shape[0] !== n) {
      throw new RangeError(`targets has ${targets.shape[0]} rows but images has ${n}`);
    }
    const vars = this.#variables(model);
    const layout = this.#layout(n);
    const [, h, w, c] = images.shape;
    const [, rows, cols, ch] = targets.shape;
    const per = h * w * c, perT = rows * cols * ch;
    const weights = vars.map((v) => v.dataSync() as Float32Array);
    const imageData = images.dataSync() as Float32Array;
    const targetData = targets.dataSync() as Float32Array;
    const shardOf = (i: number, copy: boolean) => {
      const size = layout.sizes[i], start = layout.starts[i];
      const cut = (a: Float32Array, k: number) =>
        copy ? a.slice(start * k, (start + size) * k) : a.subarray(start * k, (start + size) * k);
      return {
        images: cut(imageData, per),
        imageShape: [size, h, w, c] as Shape4,
        targets: cut(targetData, perT),
        targetShape: [size, rows, cols, ch] as Shape4,
      };
    };
    // Send the workers their jobs first, so they run while this thread computes its shard.
    const jobs = this.#post<GradReply>(layout, (i, id) => {
      const message: GradMessage = { type: "grad", id, weights, ...shardOf(i, true) };
      return { message, transfer: [message.images.buffer, message.targets.buffer] };
    });
    const t1 = performance.now();
    const mine = layout.local && layout.sizes[0] > 0
      ? await this.#local.gradients(weights, shardOf(0, false))
      : undefined;
    const mainMs = performance.now() - t1;
    const replies = await Promise.all(jobs);
    const results: ShardGradients[] = [...(mine ? [mine] : [])];
    for (const r of replies) if (r) results.push(r);
    const grads = new Map<string, Tensor>();
    const named: tf.NamedTensorMap = {};
    for (const [i, v] of vars.entries()) {
      let g: Tensor;
      if (results.length === 0) g = tf.zerosLike(v);
      else {
        const sum = results[0].grads[i];
        for (const r of results.slice(1)) {
          const a = r.grads[i];
          for (let j = 0; j < sum.length; j++) sum[j] += a[j];
        }
        g = tf.tensor(sum, v.shape);
      }
      grads.set(this.#names[i], g);
      named[v.name] = g;
    }
    return {
      grads,
      named,
      parts: sumParts(results.map((r) => r.parts)),
      timing: { mainMs, workerMs: replies.map((r) => r?.ms ?? 0), totalMs: performance.now() - t0 },
    };
  }

  /**
   * The network's raw outputs `[N, rows, cols, 15]` for `images` `[N, H, W, C]` at the current
   * weights of `model` — what `model.apply` gives — with the batch split between this thread and
   * the workers (inference on all cores).
   *
   * @example
   * ```ts
   * import { type Tensor4D, tf } from "../deps.ts";
   * import { buildModel } from "../model/model.ts";
   * import { GradientPool } from "./pool.ts";
   * const model = buildModel();
   * const pool = await GradientPool.create(model.arch, { workers: 1 });
   * const out = await pool.forward(model, tf.zeros([4, 64, 64, 1]) as Tensor4D);
   * console.log(out.shape); // [4, 4, 4, 15]
   * pool.close();
   * ```
   */
  async forward(model: Model, images: Tensor4D): Promise<Tensor4D> {
    this.#check();
    const vars = this.#variables(model);
    const [n, h, w, c] = images.shape;
    const grid = model.grid(h, w);
    const perOut = grid.rows * grid.cols * OUTPUT_CHANNELS, per = h * w * c;
    const layout = this.#layout(n);
    const weights = vars.map((v) => v.dataSync() as Float32Array);
    const imageData = images.dataSync() as Float32Array;
    const jobs = this.#post<ForwardReply>(layout, (i, id) => {
      const size = layout.sizes[i], start = layout.starts[i];
      const message: ForwardMessage = {
        type: "forward",
        id,
        weights,
        images: imageData.slice(start * per, (start + size) * per),
        imageShape: [size, h, w, c],
      };
      return { message, transfer: [message.images.buffer] };
    });
    const out = new Float32Array(n * perOut);
    if (layout.local && layout.sizes[0] > 0) {
      const m = layout.sizes[0];
      out.set(await this.#local.forward(weights, imageData.subarray(0, m * per), [m, h, w, c]));
    }
    const replies = await Promise.all(jobs);
    for (const [i, r] of replies.entries()) {
      if (r) out.set(r.out, layout.starts[i + layout.local] * perOut);
    }
    return tf.tensor4d(out, [n, grid.rows, grid.cols, OUTPUT_CHANNELS]);
  }

  /**
   * Ends the workers (pending calls reject). Idempotent.
   *
   * @example
   * ```ts
   * import { DEFAULT_ARCH } from "../model/model.ts";
   * import { GradientPool } from "./pool.ts";
   * const pool = await GradientPool.create(DEFAULT_ARCH, { workers: 1 });
   * pool.close();
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#fail(new Error("GradientPool is closed"));
    for (const w of this.#workers) w.terminate();
    this.#local.dispose?.();
    this.#release();
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }
}
