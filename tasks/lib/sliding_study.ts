/**
 * Part 1's timing study: the sequential sliding window (crop every window, run the per-window
 * network) against the convolutional one (run the whole image once) on Andrew's network.
 *
 * @module
 */
import {
  ANDREW_LAYERS,
  type AndrewNets,
  buildAndrewNets,
  slideSequential,
} from "../../src/part1/andrew.ts";
import { type Tensor4D, tf } from "../../src/deps.ts";
import { windowCount, windowGeometry } from "../../src/geometry.ts";
import { median } from "./stats.ts";

/** One row of the timing table. */
export interface SlidingTiming {
  /** Input side in pixels (inputs are `batch × size × size × 3`). */
  size: number;
  /** Images per call. */
  batch: number;
  /** Windows computed per call: `batch · rows · cols`. */
  windows: number;
  /** Median milliseconds of the sequential form. */
  sequentialMs: number;
  /** Median milliseconds of the convolutional form. */
  convolutionalMs: number;
  /** sequentialMs / convolutionalMs. */
  speedup: number;
  /** Timed runs per method (after one warm-up run). */
  runs: number;
  /** ‖conv − seq‖ / ‖conv‖ on this input: the two forms must agree while being timed. */
  relativeDifference: number;
  /** Forward FLOPs of each form (multiply and add counted as 2). */
  sequentialGflop: number;
  /** Forward FLOPs of the convolutional form. */
  convolutionalGflop: number;
}

/** Timed runs per form after the warm-up, by default: 5 below 500 px, else 3. */
export const DEFAULT_RUNS = (size: number): number => size < 500 ? 5 : 3;

/** Options of {@linkcode timeSliding}. */
export interface TimeSlidingOptions {
  /** Input sides (default the assignment's 16, 28, 720, 1080). */
  sizes?: number[];
  /** Images per call (default 5). */
  batch?: number;
  /** Timed runs per method; default 5 below 500 px, else 3. */
  runs?: (size: number) => number;
  /** Seed of weights and inputs (default 0). */
  seed?: number;
  /** Called after each row. */
  onRow?: (row: SlidingTiming) => void;
  /** Called after every timed call of either form (the warm-up is run 0). */
  onProgress?: (step: SlidingStep) => void;
}

/** One call of one form, as {@linkcode TimeSlidingOptions.onProgress} reports it. */
export interface SlidingStep {
  /** Input side. */
  size: number;
  /** Which form ran. */
  method: "sequential" | "convolutional";
  /** 0 for the warm-up (and agreement check), then 1 … runs. */
  run: number;
  /** Timed runs of this size. */
  runs: number;
  /** Milliseconds the call took. */
  ms: number;
}

/**
 * Estimates how long a timing study still runs: each form's milliseconds per GFLOP, from its
 * latest call, times the GFLOPs left (every size runs one warm-up plus `runs(size)` calls of
 * each form). Before a form has run, it guesses 1 s per GFLOP.
 *
 * @example
 * ```ts
 * import { SlidingEta } from "./sliding_study.ts";
 * const eta = new SlidingEta({ sizes: [16, 28], batch: 5, runs: () => 1 });
 * eta.record({ size: 16, method: "sequential", run: 0, runs: 1, ms: 2 });
 * console.log(eta.remainingMs() > 0); // true
 * ```
 */
export class SlidingEta {
  readonly #steps: { size: number; method: SlidingStep["method"]; gflop: number }[] = [];
  #done = 0;
  readonly #msPerGflop = { sequential: NaN, convolutional: NaN };

  constructor(options: { sizes: number[]; batch: number; runs: (size: number) => number }) {
    for (const size of options.sizes) {
      const flops = andrewFlops(size, options.batch);
      for (let r = 0; r <= options.runs(size); r++) {
        // the study runs conv then seq for the warm-up, seq then conv for the timed runs
        const order = r === 0
          ? (["convolutional", "sequential"] as const)
          : (["sequential", "convolutional"] as const);
        for (const method of order) {
          const gflop = method === "sequential" ? flops.sequential : flops.conv;
          this.#steps.push({ size, method, gflop });
        }
      }
    }
  }

  /** GFLOPs of all the calls the study will make. */
  get totalGflop(): number {
    return this.#steps.reduce((s, x) => s + x.gflop, 0);
  }

  /** Notes a finished call. */
  record(step: SlidingStep): void {
    const gflop = this.#steps[this.#done]?.gflop ?? 0;
    if (gflop > 0) this.#msPerGflop[step.method] = step.ms / gflop;
    this.#done++;
  }

  /** Estimated milliseconds left, in all or (with `size`) for that input size alone. */
  remainingMs(size?: number): number {
    let ms = 0;
    for (const s of this.#steps.slice(this.#done)) {
      if (size !== undefined && s.size !== size) continue;
      const rate = this.#msPerGflop[s.method];
      ms += s.gflop * (Number.isFinite(rate) ? rate : 1000);
    }
    return ms;
  }
}

/** Runs the convolutional form one image at a time (bounded memory on large inputs). */
export async function slideConvolutional(
  nets: AndrewNets,
  images: Tensor4D,
): Promise<Float32Array> {
  const [n] = images.shape;
  const parts: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const out = tf.tidy(() => nets.convolutional.apply(tf.slice(images, i, 1)));
    parts.push(await out.data() as Float32Array);
    out.dispose();
  }
  const all = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}

async function sequentialData(nets: AndrewNets, images: Tensor4D): Promise<Float32Array> {
  const { size, stride } = windowGeometry(nets.sequential.layers);
  const out = slideSequential(nets.sequential, images, { size, stride, chunk: 8192 });
  const data = await out.data() as Float32Array;
  out.dispose();
  return data;
}

/** Forward GFLOPs of Andrew's network: per window (sequential) and per image (convolutional). */
export function andrewFlops(size: number, batch: number): { sequential: number; conv: number } {
  const rows = windowCount(ANDREW_LAYERS, size);
  const c1 = (side: number) => (side - 4) ** 2 * 16 * 75 * 2; // conv 5×5×3→16
  const fc = (cells: number) => cells * (400 * 400 * 2 * 2 + 400 * 4 * 2); // fc1 (5×5×16), fc2, fc3
  const perWindow = c1(14) + fc(1);
  return {
    sequential: batch * rows * rows * perWindow / 1e9,
    conv: batch * (c1(size) + fc(rows * rows)) / 1e9,
  };
}
/**
 * Times the sequential and convolutional sliding windows of Andrew's network on random inputs:
 * one warm-up run, then the median of several; checks that both give the same numbers.
 *
 * @example
 * ```ts
 * import { timeSliding } from "./sliding_study.ts";
 * import { useBackend } from "../../src/backends/backend.ts";
 * await useBackend("wasm");
 * const [row] = await timeSliding({ sizes: [28], runs: () => 2 });
 * console.log(row.windows, row.speedup > 0); // 320 true
 * ```
 */
export async function timeSliding(options: TimeSlidingOptions = {}): Promise<SlidingTiming[]> {
  const {
    sizes = [16, 28, 720, 1080],
    batch = 5,
    runs = DEFAULT_RUNS,
    seed = 0,
    onRow,
    onProgress,
  } = options;
  const nets = buildAndrewNets({ seed });
  const rows: SlidingTiming[] = [];
  try {
    for (const size of sizes) {
      const images = tf.randomUniform([batch, size, size, 3], 0, 1, "float32", seed + size);
      const x = images as Tensor4D;
      const n = runs(size);
      const timed = async <T>(method: SlidingStep["method"], run: number, f: () => Promise<T>) => {
        const t = performance.now();
        const result = await f();
        const ms = performance.now() - t;
        onProgress?.({ size, method, run, runs: n, ms });
        return { result, ms };
      };
      // warm-up, and the agreement check
      const conv = (await timed("convolutional", 0, () => slideConvolutional(nets, x))).result;
      const seq = (await timed("sequential", 0, () => sequentialData(nets, x))).result;
      let diff = 0;
      let norm = 0;
      for (let i = 0; i < conv.length; i++) {
        diff += (conv[i] - seq[i]) ** 2;
        norm += conv[i] ** 2;
      }
      const seqTimes: number[] = [];
      const convTimes: number[] = [];
      for (let r = 0; r < n; r++) {
        seqTimes.push((await timed("sequential", r + 1, () => sequentialData(nets, x))).ms);
        convTimes.push((await timed("convolutional", r + 1, () => slideConvolutional(nets, x))).ms);
      }
      images.dispose();
      const count = windowCount(nets.convolutional.layers, size);
      const flops = andrewFlops(size, batch);
      const row: SlidingTiming = {
        size,
        batch,
        windows: batch * count * count,
        sequentialMs: median(seqTimes),
        convolutionalMs: median(convTimes),
        speedup: median(seqTimes) / median(convTimes),
        runs: n,
        relativeDifference: Math.sqrt(diff / norm),
        sequentialGflop: flops.sequential,
        convolutionalGflop: flops.conv,
      };
      rows.push(row);
      onRow?.(row);
    }
  } finally {
    nets.dispose();
  }
  return rows;
}
