/**
 * The probe behind `--backend auto` (../backends/auto.ts): a few real training steps of the run's
 * model on each candidate backend, through the step seam (./step.ts), timed after one warm-up
 * step. Each candidate is timed on one thread — held there by its own thread policy (the
 * descriptor's `singleThreaded()`), as the pool runs it on every core — so that its rate can be
 * counted once per thread training will run. The scenes are seeded noise with well-formed
 * targets: a step's cost does not depend on what the pixels show, and no MNIST needs to be loaded
 * for it.
 *
 * @module
 */
import { type Tensor4D, tf } from "../deps.ts";
import type { Backend, Prober } from "../backends/backend.ts";
import { useBackend } from "../backends/backend.ts";
import type { ProbeResult } from "../backends/auto.ts";
import { ARCHITECTURES, type ArchLayer, buildModel, DEFAULT_ARCH } from "../model/model.ts";
import { TARGET } from "../model/layout.ts";
import { Adam } from "./adam.ts";
import { createStep } from "./step.ts";

/** Options of {@linkcode trainingProbe}. */
export interface ProbeOptions {
  /** The architecture the run trains; default DEFAULT_ARCH (what `deno task train` trains). */
  arch?: readonly ArchLayer[];
  /** Scenes per step; default 32 (the default run's). */
  batchSize?: number;
  /**
   * Milliseconds for all candidates together (activation, warm-up and timed steps); default 2500.
   * A candidate always gets one warm-up and two timed steps, even past its share.
   */
  budgetMs?: number;
  /** Most timed steps per candidate; default 8 (at least 2 are always timed). */
  steps?: number;
  /**
   * Threads training will use on a CPU backend that runs in Workers (a pool of `workers + 1`);
   * default the number of cores. Each CPU candidate is timed on one thread (its descriptor's
   * `singleThreaded()`, as in the pool) and its rate counts this many times against a GPU's.
   */
  threads?: number;
}

/** Seeded noise scenes and targets with an object in every other window. */
function probeBatch(arch: readonly ArchLayer[], batchSize: number) {
  const model = buildModel(arch, { seed: 0 });
  const { rows, cols } = model.grid(64);
  model.dispose();
  return tf.tidy(() => {
    const images = tf.randomUniform([batchSize, 64, 64, 1], 0, 1, "float32", 1) as Tensor4D;
    const n = batchSize * rows * cols;
    const target = new Float32Array(n * TARGET.channels);
    for (let i = 0; i < n; i++) {
      const t = target.subarray(i * TARGET.channels, (i + 1) * TARGET.channels);
      t[TARGET.objectness] = i % 2;
      t[TARGET.label] = i % 10;
      t.set([0.2, 0.8, 0.3, 0.7], TARGET.box);
    }
    const targets = tf.tensor4d(target, [batchSize, rows, cols, TARGET.channels]);
    return { images, targets };
  });
}

/** One candidate: activate, one warm-up step, then timed steps until `steps` or `untilMs`. */
async function measure(
  backend: Backend,
  arch: readonly ArchLayer[],
  options: { batchSize: number; steps: number; untilMs: number; threads: number },
): Promise<ProbeResult> {
  await useBackend(backend.name);
  const model = buildModel(arch, { seed: 0 });
  const adam = new Adam(model.variables);
  const { images, targets } = probeBatch(arch, options.batchSize);
  // one thread, whatever the library would take alone (oneDNN takes every core by default)
  const release = backend.singleThreaded();
  const step = await createStep(model.arch, { backend, workers: 0, box: "sum" }).catch((e) => {
    release();
    throw e;
  });
  try {
    const once = async () => {
      const t = performance.now();
      const { named, parts } = await step.gradients(model, images, targets);
      adam.step(named, 1e-4);
      if (!Number.isFinite(parts.total)) throw new Error("the loss is not finite");
      return performance.now() - t;
    };
    await once(); // warm-up: kernels compiled, buffers allocated
    const times: number[] = [];
    while (
      times.length < Math.min(2, options.steps) ||
      (times.length < options.steps && performance.now() < options.untilMs)
    ) {
      times.push(await once());
    }
    times.sort((a, b) => a - b);
    const median = times[times.length >> 1];
    return {
      backend: backend.name,
      imagesPerSecond: options.batchSize / (median / 1000),
      steps: times.length,
      ...(backend.threads && options.threads > 1 ? { threads: options.threads } : {}),
    };
  } finally {
    step.close();
    release();
    tf.dispose([images, targets]);
    adam.dispose();
    model.dispose();
  }
}

/** The name of `arch` in ARCHITECTURES, or a short description of it. */
function archName(arch: readonly ArchLayer[]): string {
  const text = JSON.stringify(arch);
  const named = Object.entries(ARCHITECTURES).find(([, a]) => JSON.stringify(a) === text);
  return named ? named[0] : `a ${arch.length}-layer net`;
}

/**
 * A prober for `useBackend("auto", { probe })`: it times a few training steps of `arch` (the
 * run's; batch 32 by default) on each candidate, on one thread each, within ~2.5 s in all (longer
 * only when 3 steps of a candidate take longer than its share); a candidate that throws is
 * reported with its reason and skipped.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backends/backend.ts";
 * import { trainingProbe } from "./probe.ts";
 * const backend = await useBackend("auto", { probe: trainingProbe(), cacheFile: null });
 * console.log(backend.name); // e.g. "native"
 * ```
 */
export function trainingProbe(options: ProbeOptions = {}): Prober {
  const arch = options.arch ?? DEFAULT_ARCH;
  const batchSize = options.batchSize ?? 32;
  const budgetMs = options.budgetMs ?? 2500;
  const steps = options.steps ?? 8;
  const threads = Math.max(1, options.threads ?? navigator.hardwareConcurrency ?? 1);
  return {
    about: `training steps after a warm-up round, batch ${batchSize}, ${threads} threads, ${
      JSON.stringify(arch)
    }`,
    label: `${archName(arch)}, batch ${batchSize}`,
    async measure(candidates) {
      const start = performance.now();
      const results: ProbeResult[] = [];
      // A warm-up round over every candidate first: code they share (the step's JavaScript,
      // the loss, Adam) is compiled on first use, and counted against whichever candidate went
      // first it made the table's first CPU backend look up to 2.4× slower than it is.
      for (const backend of candidates) {
        await measure(backend, arch, { batchSize, steps: 1, untilMs: 0, threads }).catch(
          () => {},
        );
      }
      for (const [i, backend] of candidates.entries()) {
        // each candidate gets an equal share of what is left
        const share = (budgetMs - (performance.now() - start)) / (candidates.length - i);
        try {
          const untilMs = performance.now() + share;
          results.push(await measure(backend, arch, { batchSize, steps, untilMs, threads }));
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          results.push({ backend: backend.name, error: message.split("\n")[0] });
        }
      }
      return results;
    },
  };
}
