/**
 * What every backend of the table in ./backend.ts says about itself. Adding a backend means one
 * new file exporting a {@linkcode BackendDescriptor} and one line in that table (plus its spec).
 *
 * @module
 */

import type { ConvEngine } from "../layers/engine.ts";

/** What every backend says about itself, whatever its training method. */
export interface DescribedBackend<N extends string = string, T extends boolean = boolean> {
  /** The name `--backend` takes and `tf.getBackend()` reports. */
  readonly name: N;
  /** One line for `--help` and the docs. */
  readonly summary: string;
  /**
   * Whether Deno Workers can run shards of a batch on their own engine of this backend (the
   * data-parallel pool of ../training/pool.ts). False for webgpu: one device, no read-backs.
   */
  readonly threads: T;
  /**
   * Whether one call of its kernels already runs on every core (oneDNN's OpenMP threads): Workers
   * would only split the same cores, so training's `--workers auto` starts none on it.
   */
  readonly spansCores?: boolean;
  /** Where it computes: "gpu" backends count only on real hardware (bench, auto). */
  readonly device: "cpu" | "gpu";
  /** Fast enough for full-size benchmark rows (false: pure JavaScript, seconds per step). */
  readonly fast: boolean;
  /** Why it cannot run here (one line), or `undefined` when it can. */
  unavailable(): Promise<string | undefined>;
  /** Whether `--backend auto` may pick it here (the first such one in the table's order wins). */
  pickedByAuto(): Promise<boolean>;
  /** Registers its kernels and makes it tfjs's backend; throws a one-line error when it cannot. */
  activate(): Promise<void>;
  /** One line about it while it is active, e.g. "wasm (XNNPACK SIMD, 1 thread)". */
  describe(): string;
  /**
   * Its thread policy: holds the library it computes with to one thread for the calls of the
   * calling thread (process-wide for a library whose setting is, like OpenBLAS's) until the
   * returned release is called; holds nest. The pool calls it on every thread when Workers share
   * the cores, and the probe for every candidate, so that a rate is one thread's. A no-op for a
   * backend that always runs on one thread.
   */
  singleThreaded(): () => void;
  /**
   * What its speed here depends on besides the CPU, OS and versions that ./backend.ts `autoKey`
   * records (its library, that library's settings, the GPU adapter): part of the key of the
   * cached `auto` decision, so that a library upgrade or a changed setting measures again.
   */
  cacheFacts(): Record<string, string>;
  /** One line to tell a user who trains on it what does the work (e.g. its library), if any. */
  notice?(): string;
}

/**
 * One tfjs backend as slidewin uses it. Its training `method`: `"native"` runs the network on
 * arrays (../model/array_net.ts) with every convolution on its `convEngine()`; `"tape"` runs
 * tfjs's tape (`tf.variableGrads`) on its kernels.
 */
export type BackendDescriptor<N extends string = string, T extends boolean = boolean> =
  | DescribedBackend<N, T> & {
    /** How a training step computes gradients on it: the array network. */
    readonly method: "native";
    /** The convolution engine its native step runs on, or `null` when it cannot load here. */
    convEngine(): ConvEngine | null;
  }
  | DescribedBackend<N, T> & {
    /** How a training step computes gradients on it: tfjs's tape. */
    readonly method: "tape";
    /** No convolution engine of its own. */
    convEngine?: undefined;
  };

/** A release that releases nothing: the thread policy of a one-thread backend. */
export const NO_HOLD = (): () => void => () => {};

/** Sets a tfjs backend, turning a refusal or a throw into `false`. */
export async function trySetBackend(
  tf: { setBackend(name: string): Promise<boolean> },
  name: string,
): Promise<boolean> {
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}
