/**
 * Training-step micro-benchmark: images per second of a representative localization CNN
 * (64×64×1 input; conv3×3(32)+relu, maxpool2, conv3×3(32)+relu, maxpool2, conv3×3(64)+relu,
 * conv5×5(48)+relu, conv1×1(15); ~106k parameters, ~3.2 GFLOP per batch-32 step) with a
 * sigmoid-BCE + MSE + softmax-CE loss and Adam, on the current tfjs backend.
 *
 * @module
 */
import { tf } from "../deps.ts";
import "../gradients.ts";
import { makeRng } from "../rng.ts";

/** One layer of the benchmark network. */
export type BenchLayer =
  | { kind: "conv"; kernel: number; filters: number; relu?: boolean }
  | { kind: "maxpool"; size: number };

/** The default benchmark network (~106k parameters). */
export const BENCH_LAYERS: readonly BenchLayer[] = [
  { kind: "conv", kernel: 3, filters: 32, relu: true },
  { kind: "maxpool", size: 2 },
  { kind: "conv", kernel: 3, filters: 32, relu: true },
  { kind: "maxpool", size: 2 },
  { kind: "conv", kernel: 3, filters: 64, relu: true },
  { kind: "conv", kernel: 5, filters: 48, relu: true },
  { kind: "conv", kernel: 1, filters: 15 },
];

/** Options of {@linkcode benchTrainStep}. */
export interface BenchOptions {
  /** Images per step; default 32. */
  batch?: number;
  /** Input side; default 64. */
  size?: number;
  /** Timed steps; default 5. */
  steps?: number;
  /** Untimed steps first (kernel setup, XNNPACK operator creation); default 2. */
  warmup?: number;
  /** Network; default {@linkcode BENCH_LAYERS}. The last conv must have ≥ 5 filters. */
  layers?: readonly BenchLayer[];
  /** Also return the per-kernel time of one step (tf.profile); default false. */
  profile?: boolean;
  /** Seed of weights and data; default 1. */
  seed?: number;
}

/** What {@linkcode benchTrainStep} measured. */
export interface BenchResult {
  /** tfjs backend that ran the steps. */
  backend: string;
  /** Trainable parameters. */
  params: number;
  /** Median images per second over the timed steps. */
  imagesPerSecond: number;
  /** Median step time, ms. */
  medianMs: number;
  /** Every timed step, ms. */
  stepMs: number[];
  /** Kernel name → ms in one profiled step, slowest first (when `profile`). */
  kernels?: [string, number][];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function initWeights(layers: readonly BenchLayer[], seed: number): tf.Variable[] {
  const rng = makeRng(seed);
  const vars: tf.Variable[] = [];
  let ch = 1;
  for (const l of layers) {
    if (l.kind !== "conv") continue;
    const n = l.kernel * l.kernel * ch * l.filters;
    const w = new Float32Array(n);
    const scale = Math.sqrt(6 / (l.kernel * l.kernel * ch));
    for (let i = 0; i < n; i++) w[i] = rng.uniform(-scale, scale);
    vars.push(tf.variable(tf.tensor4d(w, [l.kernel, l.kernel, ch, l.filters])));
    vars.push(tf.variable(tf.zeros([l.filters])));
    ch = l.filters;
  }
  return vars;
}

function forward(layers: readonly BenchLayer[], vars: tf.Variable[], x: tf.Tensor4D): tf.Tensor4D {
  let h = x;
  let v = 0;
  for (const l of layers) {
    if (l.kind === "maxpool") {
      h = tf.maxPool(h, l.size, l.size, "valid");
      continue;
    }
    h = tf.add(tf.conv2d(h, vars[v] as tf.Tensor4D, 1, "valid"), vars[v + 1]);
    if (l.relu) h = tf.relu(h);
    v += 2;
  }
  return h;
}

function outputShape(layers: readonly BenchLayer[], size: number): number[] {
  let n = size, c = 1;
  for (const l of layers) {
    n = l.kind === "conv" ? n - l.kernel + 1 : Math.floor(n / l.size);
    if (l.kind === "conv") c = l.filters;
    if (n < 1) throw new RangeError(`Option size ${size} is too small for these layers; use ≥ 40`);
  }
  return [1, n, n, c];
}

/** Objectness BCE (channel 0) + box MSE (1–4) + class CE (5…) over every output cell. */
function loss(out: tf.Tensor4D, target: tf.Tensor4D, labels: tf.Tensor4D): tf.Scalar {
  const c = out.shape[3];
  const logit = tf.slice(out, [0, 0, 0, 0], [-1, -1, -1, 1]);
  const box = tf.sigmoid(tf.slice(out, [0, 0, 0, 1], [-1, -1, -1, 4]));
  const cls = tf.logSoftmax(tf.slice(out, [0, 0, 0, 5], [-1, -1, -1, c - 5]));
  const t = tf.slice(target, [0, 0, 0, 0], [-1, -1, -1, 1]);
  const bce = tf.mean(tf.sub(tf.softplus(logit), tf.mul(logit, t)));
  const mse = tf.mean(
    tf.mul(t, tf.square(tf.sub(box, tf.slice(target, [0, 0, 0, 1], [-1, -1, -1, 4])))),
  );
  const ce = tf.neg(tf.mean(tf.mul(t, tf.sum(tf.mul(labels, cls), -1, true))));
  return tf.addN([bce, mse, ce]) as tf.Scalar;
}

/**
 * Times Adam training steps of the benchmark network on the current backend (select it first
 * with `useBackend`). Call with small `steps` on slow backends (cpu: ~seconds per step).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * import { benchTrainStep } from "./bench.ts";
 * await useBackend("wasm");
 * const r = await benchTrainStep({ batch: 2, size: 40, steps: 1, warmup: 0 });
 * console.log(r.backend, r.imagesPerSecond > 0); // wasm true
 * ```
 */
export async function benchTrainStep(opts: BenchOptions = {}): Promise<BenchResult> {
  const { batch = 32, size = 64, steps = 5, warmup = 2, layers = BENCH_LAYERS, seed = 1 } = opts;
  if (!Number.isInteger(steps) || steps < 1) {
    throw new RangeError(`Option steps must be a positive integer, got ${steps}`);
  }
  const vars = initWeights(layers, seed);
  const params = vars.reduce((a, v) => a + v.size, 0);
  const rng = makeRng(seed + 1);
  const xs = new Float32Array(batch * size * size).map(() => rng.next());
  const x = tf.tensor4d(xs, [batch, size, size, 1]);
  const outShape = outputShape(layers, size);
  const [, oh, ow, oc] = outShape;
  if (oc < 6) throw new RangeError("Option layers must end with a conv of at least 6 filters");
  const cells = batch * oh * ow;
  const target = tf.tensor4d(
    new Float32Array(cells * 5).map((_, i) => (i % 5 === 0 ? rng.int(2) : rng.next())),
    [batch, oh, ow, 5],
  );
  const labels = tf.tidy(() =>
    tf.reshape(
      tf.oneHot(tf.tensor1d(Array.from({ length: cells }, () => rng.int(oc - 5)), "int32"), oc - 5),
      [batch, oh, ow, oc - 5],
    ) as tf.Tensor4D
  );
  const opt = tf.train.adam(1e-3);
  const step = () => {
    const cost = opt.minimize(() => loss(forward(layers, vars, x), target, labels), true, vars);
    return cost!;
  };
  for (let i = 0; i < warmup; i++) {
    const c = step();
    await c.data();
    c.dispose();
  }
  const stepMs: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    const c = step();
    await c.data();
    stepMs.push(performance.now() - t0);
    c.dispose();
  }
  let kernels: [string, number][] | undefined;
  if (opts.profile) {
    const info = await tf.profile(async () => {
      const c = step();
      await c.data();
      c.dispose();
    });
    const byName = new Map<string, number>();
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
      byName.set(k.name, (byName.get(k.name) ?? 0) + ms);
    }
    kernels = [...byName].sort((a, b) => b[1] - a[1]);
  }
  tf.dispose([x, target, labels, ...vars]);
  opt.dispose();
  const medianMs = median(stepMs);
  return {
    backend: tf.getBackend(),
    params,
    imagesPerSecond: (batch * 1000) / medianMs,
    medianMs,
    stepMs,
    kernels,
  };
}
