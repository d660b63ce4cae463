/**
 * Data-parallel gradients on several CPU cores: a pool of Deno Workers, each with its own tfjs
 * engine (wasm by default) and a replica of the architecture, computes the gradients of shards of
 * a batch while the main thread computes shard 0. The loss of ../loss.ts is a sum over images, so
 * the batch gradient is the sum of the shard gradients; the model and the optimizer stay on the
 * main thread, and the workers get the current weights with every job.
 *
 * tfjs's own threaded wasm build cannot start its pthread Workers under Deno (docs/kernels.md);
 * this gets the other cores at the level of whole shards instead.
 *
 * @module
 */
import "../gradients.ts";
import { type NamedTensorMap, type Tensor, type Tensor4D, tf, type Variable } from "../deps.ts";
import { type ArchLayer, type Model, OUTPUT_CHANNELS, variableShapes } from "../model/model.ts";
import { loss } from "../model/loss.ts";
import { blasMissingReason, openBlas } from "../backends/native/openblas.ts";
import { NativeStep } from "../backends/native/step.ts";
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
  /** Reduction of the box error, as in ../loss.ts; default "sum". */
  box?: "sum" | "mean";
  /**
   * Whether the main thread computes a shard too; default true. False leaves the main thread free
   * (e.g. to make the next batch) and splits the batch among the workers only.
   */
  mainShard?: boolean;
  /**
   * Backend of the workers' engines; default the main thread's when it is "cpu" or "native", else
   * "wasm". "native" also makes this thread's shard use the native step (../native/step.ts), and,
   * with workers, runs OpenBLAS on one thread per caller (its thread count is process-wide) until
   * {@linkcode GradientPool.close}.
   */
  backend?: "wasm" | "native" | "cpu";
  /** Input channels of the architecture; default 1. */
  inputChannels?: number;
}

/** The loss parts of a batch, summed over windows and images. */
export interface BatchLoss {
  /** BCE of objectness on every window. */
  detection: number;
  /** NLL of the label on true-positive windows. */
  classification: number;
  /** Box error on true-positive windows. */
  regression: number;
  /** The sum of the three. */
  total: number;
}

/** What {@linkcode GradientPool.gradients} returns. Dispose the gradients (or let Adam do it). */
export interface PoolGradients {
  /** Gradient of the summed loss per variable, keyed like `model.variables` (`conv0/kernel`…). */
  grads: Map<string, Tensor>;
  /**
   * The same tensors keyed by tfjs variable name (`variable.name`), the form `Adam.step` and
   * `tf.variableGrads` use.
   */
  named: NamedTensorMap;
  /** The loss parts summed over the whole batch. */
  parts: BatchLoss;
  /** Milliseconds: main-thread shard, each worker's job, the whole call. */
  timing: { mainMs: number; workerMs: number[]; totalMs: number };
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

/**
 * A pool of gradient workers for one architecture.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backends/backend.ts";
 * import { type Tensor, type Tensor4D, tf } from "../deps.ts";
 * import { Adam } from "./adam.ts";
 * import { buildModel } from "../model/model.ts";
 * import { GradientPool } from "./pool.ts";
 * await useBackend("wasm");
 * const model = buildModel(undefined, { seed: 1 });
 * const adam = new Adam(model.variables);
 * const pool = await GradientPool.create(model.arch, { workers: 1 });
 * const images = tf.zeros([8, 64, 64, 1]) as Tensor4D;
 * const targets = tf.zeros([8, 7, 7, 6]) as Tensor4D;
 * const { named, parts } = await pool.gradients(model, images, targets);
 * adam.step(named, 1e-3); // disposes the gradients
 * console.log(parts.detection); // 8·49·ln 2 ≈ 271.7 for zero outputs
 * pool.close();
 * ```
 */
export class GradientPool {
  readonly #workers: Worker[];
  readonly #pending = new Map<number, Pending>();
  readonly #names: string[];
  readonly #box: "sum" | "mean";
  readonly #mainShard: boolean;
  #nextId = 0;
  #failure: Error | undefined;
  #closed = false;
  #onClose: (() => void) | undefined;
  /** The main thread's shard on the native backend: the tape-free step of ../native/step.ts. */
  #native: NativeStep | undefined;

  private constructor(
    workers: Worker[],
    names: string[],
    box: "sum" | "mean",
    mainShard: boolean,
  ) {
    this.#workers = workers;
    this.#names = names;
    this.#box = box;
    this.#mainShard = mainShard;
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
    const box = options.box ?? "sum";
    if (box !== "sum" && box !== "mean") {
      throw new RangeError(`options.box must be "sum" or "mean", got ${JSON.stringify(box)}`);
    }
    const mainShard = options.mainShard ?? true;
    if (!mainShard && count === 0) {
      throw new RangeError("options.mainShard: false needs at least one worker");
    }
    const inputChannels = options.inputChannels ?? 1;
    const names = [...variableShapes(arch, inputChannels).keys()];
    const current = tf.getBackend();
    const backend = options.backend ??
      (current === "cpu" || current === "native" ? current : "wasm");
    const blas = backend === "native" ? openBlas() : null;
    if (backend === "native" && !blas) {
      throw new Error(`Backend "native" needs OpenBLAS: ${blasMissingReason}; use "wasm"`);
    }
    const init: InitMessage = {
      type: "init",
      arch: arch.map((l) => ({ ...l })),
      inputChannels,
      backend,
      box,
    };
    const workers: Worker[] = [];
    try {
      const ready: Promise<void>[] = [];
      for (let i = 0; i < count; i++) {
        const w = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
        workers.push(w);
        ready.push(
          new Promise<void>((resolve, reject) => {
            w.onmessage = (e: MessageEvent) => {
              if (e.data?.type === "ready") resolve();
              else reject(new Error(`Gradient worker failed to start: ${e.data?.message}`));
            };
            w.onerror = (e: ErrorEvent) => {
              e.preventDefault();
              reject(new Error(`Gradient worker failed to start: ${e.message}`));
            };
          }),
        );
        w.postMessage(init);
      }
      await Promise.all(ready);
    } catch (error) {
      for (const w of workers) w.terminate();
      throw error;
    }
    const pool = new GradientPool(workers, names, box, mainShard);
    if (blas) {
      // OpenBLAS's thread count is process-wide: one thread per caller while Workers call it too
      if (count > 0) pool.#onClose = blas.singleThreaded();
      pool.#native = new NativeStep(arch, blas.sgemm, { box, inputChannels });
    }
    return pool;
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

  /** The model's variables in the pool's order (the workers' `variableShapes` order). */
  #variables(model: Model): Variable[] {
    return this.#names.map((name) => {
      const v = model.variables.get(name);
      if (!v) throw new Error(`model has no variable "${name}"; build it from the pool's arch`);
      return v;
    });
  }

  /** Rows per shard (shard 0 is this thread's when it takes one) and where each starts. */
  #shards(n: number): { local: 0 | 1; sizes: number[]; starts: number[] } {
    const local = this.#mainShard ? 1 : 0;
    const sizes = shardSizes(n, this.#workers.length + local);
    const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    return { local, sizes, starts };
  }

  /**
   * Posts one job per worker whose shard is not empty (`make(i)` builds worker i's message) and
   * returns the replies to come, `undefined` for the empty shards.
   */
  #post<R>(
    sizes: number[],
    local: number,
    make: (worker: number, id: number) => { message: unknown; transfer: Transferable[] },
  ): Promise<R | undefined>[] {
    return this.#workers.map((worker, i) => {
      if (sizes[i + local] === 0) return Promise.resolve(undefined);
      const id = this.#nextId++;
      const job = new Promise<R>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
      job.catch(() => {}); // reported when awaited, or moot if this thread's shard threw
      const { message, transfer } = make(i, id);
      worker.postMessage(message, transfer);
      return job;
    });
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }

  /**
   * Gradients of the loss of ../loss.ts summed over the batch `images` [N, H, W, C] with `targets`
   * [N, rows, cols, 6], at the current weights of `model`: shard 0 on this thread, the others on
   * the workers, summed.
   *
   * @example
   * ```ts
   * import { type Tensor, type Tensor4D, tf } from "../deps.ts";
   * import { buildModel } from "../model/model.ts";
   * import { GradientPool } from "./pool.ts";
   * const model = buildModel();
   * const pool = await GradientPool.create(model.arch, { workers: 0 });
   * const { grads, parts } = await pool.gradients(
   *   model,
   *   tf.zeros([2, 64, 64, 1]) as Tensor4D,
   *   tf.zeros([2, 7, 7, 6]) as Tensor4D,
   * );
   * console.log(grads.get("conv0/kernel")?.shape, parts.total > 0); // [5, 5, 1, 16] true
   * tf.dispose([...grads.values()]);
   * ```
   */
  async gradients(
    model: Model,
    images: Tensor4D,
    targets: Tensor4D,
  ): Promise<PoolGradients> {
    if (this.#closed) throw new Error("GradientPool is closed");
    if (this.#failure) throw this.#failure;
    const t0 = performance.now();
    const n = images.shape[0];
    if (targets.shape[0] !== n) {
      throw new RangeError(`targets has ${targets.shape[0]} rows but images has ${n}`);
    }
    const vars = this.#variables(model);
    const k = this.#workers.length;
    const { local, sizes, starts } = this.#shards(n);

    // Send the workers their jobs first, so they run while this thread computes its shard.
    let jobs: Promise<GradReply | undefined>[] = [];
    const native = this.#native && local && sizes[0] > 0 ? this.#native : undefined;
    const sending = k > 0 && sizes.slice(local).some((s) => s > 0);
    const [, h, w, c] = images.shape;
    const [, rows, cols, ch] = targets.shape;
    const per = h * w * c, perT = rows * cols * ch;
    let weights: Float32Array[] = [], imageData: Float32Array = new Float32Array(0);
    let targetData: Float32Array = new Float32Array(0);
    if (sending || native) {
      weights = vars.map((v) => v.dataSync() as Float32Array);
      imageData = images.dataSync() as Float32Array;
      targetData = targets.dataSync() as Float32Array;
    }
    if (sending) {
      jobs = this.#post<GradReply>(sizes, local, (i, id) => {
        const size = sizes[i + local], start = starts[i + local];
        const message: GradMessage = {
          type: "grad",
          id,
          weights,
          images: imageData.slice(start * per, (start + size) * per),
          imageShape: [size, h, w, c],
          targets: targetData.slice(start * perT, (start + size) * perT),
          targetShape: [size, rows, cols, ch],
        };
        return { message, transfer: [message.images.buffer, message.targets.buffer] };
      });
    }

    // Shard 0 here (the whole batch when there are no workers).
    const t1 = performance.now();
    let mainGrads: Tensor[] | undefined;
    let mainArrays: Float32Array[] | undefined;
    let mainParts: ArrayLike<number> | undefined;
    if (native) {
      const m = sizes[0];
      const result = native.gradients(weights, {
        images: imageData.subarray(0, m * per),
        imageShape: [m, h, w, c],
        targets: targetData.subarray(0, m * perT),
        targetShape: [m, rows, cols, ch],
      });
      mainArrays = result.grads;
      mainParts = result.parts;
    } else if (local && sizes[0] > 0) {
      const result = tf.tidy(() => {
        const x = sizes[0] === n ? images : tf.slice(images, 0, sizes[0]);
        const y = sizes[0] === n ? targets : tf.slice(targets, 0, sizes[0]);
        let stacked: Tensor | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const p = loss(model.apply(x), y, { box: this.#box });
          stacked = tf.keep(tf.stack([p.detection, p.classification, p.regression]));
          return p.total;
        }, vars);
        value.dispose();
        return { grads: vars.map((v) => grads[v.name]), parts: stacked! };
      });
      mainGrads = result.grads;
      mainParts = result.parts.dataSync() as Float32Array;
      result.parts.dispose();
    }
    const mainMs = performance.now() - t1;

    let replies: (GradReply | undefined)[];
    try {
      replies = await Promise.all(jobs);
    } catch (error) {
      if (mainGrads) tf.dispose(mainGrads);
      throw error;
    }
    const done = replies.filter((r): r is GradReply => r !== undefined);
    const totals = [0, 0, 0];
    for (const p of [...(mainParts ? [mainParts] : []), ...done.map((r) => r.parts)]) {
      for (let j = 0; j < 3; j++) totals[j] += p[j];
    }
    const grads = new Map<string, Tensor>();
    const named: tf.NamedTensorMap = {};
    for (const [i, v] of vars.entries()) {
      let g: Tensor;
      if (done.length === 0) {
        g = mainGrads?.[i] ??
          (mainArrays ? tf.tensor(mainArrays[i], v.shape) : tf.zerosLike(v));
      } else {
        const mine = mainArrays?.[i] ??
          (mainGrads ? (mainGrads[i].dataSync() as Float32Array).slice() : undefined);
        const sum = mine ?? done[0].grads[i];
        for (const r of done.slice(mine ? 0 : 1)) {
          const a = r.grads[i];
          for (let j = 0; j < sum.length; j++) sum[j] += a[j];
        }
        g = tf.tensor(sum, v.shape);
        mainGrads?.[i].dispose();
      }
      grads.set(this.#names[i], g);
      named[v.name] = g;
    }
    return {
      grads,
      named,
      parts: {
        detection: totals[0],
        classification: totals[1],
        regression: totals[2],
        total: totals[0] + totals[1] + totals[2],
      },
      timing: { mainMs, workerMs: replies.map((r) => r?.ms ?? 0), totalMs: performance.now() - t0 },
    };
  }

  /**
   * The network's raw outputs `[N, rows, cols, 15]` for `images` `[N, H, W, C]` at the current
   * weights of `model` — what `model.apply` gives — with the batch split between this thread and
   * the workers (inference on all cores). On "native" every shard runs the native forward pass.
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
    if (this.#closed) throw new Error("GradientPool is closed");
    if (this.#failure) throw this.#failure;
    const vars = this.#variables(model);
    const [n, h, w, c] = images.shape;
    const grid = model.grid(h, w);
    const perOut = grid.rows * grid.cols * OUTPUT_CHANNELS, per = h * w * c;
    const { local, sizes, starts } = this.#shards(n);
    const weights = vars.map((v) => v.dataSync() as Float32Array);
    const imageData = images.dataSync() as Float32Array;
    const jobs = this.#post<ForwardReply>(sizes, local, (i, id) => {
      const size = sizes[i + local], start = starts[i + local];
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
    if (local && sizes[0] > 0) {
      const m = sizes[0];
      if (this.#native) {
        const shard = imageData.subarray(0, m * per);
        out.set(this.#native.forward(weights, shard, [m, h, w, c]));
      } else {
        const y = tf.tidy(() => model.apply(m === n ? images : tf.slice(images, 0, m)));
        out.set(y.dataSync() as Float32Array);
        y.dispose();
      }
    }
    const replies = await Promise.all(jobs);
    for (const [i, r] of replies.entries()) {
      if (r) out.set(r.out, starts[i + local] * perOut);
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
    this.#onClose?.();
  }
}
