/**
 * What every backend of the table in ./backend.ts says about itself. Adding a backend means one
 * new file exporting a {@linkcode BackendDescriptor} and one line in that table (plus its spec).
 *
 * @module
 */

import type { ConvEngine } from "./native/step.ts";

/** One tfjs backend as slidewin uses it. */
export interface BackendDescriptor<N extends string = string, T extends boolean = boolean> {
  /** The name `--backend` takes and `tf.getBackend()` reports. */
  readonly name: N;
  /** One line for `--help` and the docs. */
  readonly summary: string;
  /**
   * How a training step computes gradients on it: `"native"` runs the hand-written step of
   * ./native/step.ts, `"tape"` tfjs's tape (`tf.variableGrads`).
   */
  readonly step: "native" | "tape";
  /**
   * Whether Deno Workers can run shards of a batch on their own engine of this backend (the
   * data-parallel pool of ../training/pool.ts). False for webgpu: one device, no read-backs.
   */
  readonly threads: T;
  /** Where it computes: "gpu" backends count only on real hardware (bench, auto). */
  readonly device: "cpu" | "gpu";
  /** Fast enough for full-size benchmark rows (false: pure JavaScript, seconds per step). */
  readonly fast: boolean;
  /**
   * The whole-convolution engine its `"native"` step runs on (e.g. oneDNN), or absent for
   * OpenBLAS's `sgemm` with `im2col`; `null` when it cannot load here.
   */
  convEngine?(): ConvEngine | null;
  /** Why it cannot run here (one line), or `undefined` when it can. */
  unavailable(): Promise<string | undefined>;
  /** Whether `--backend auto` may pick it here (the first such one in the table's order wins). */
  pickedByAuto(): Promise<boolean>;
  /** Registers its kernels and makes it tfjs's backend; throws a one-line error when it cannot. */
  activate(): Promise<void>;
  /** One line about it while it is active, e.g. "wasm (XNNPACK SIMD, 1 thread)". */
  describe(): string;
}

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
