/**
 * The training program (assignment step 4): Adam on fresh random scenes every epoch, validation
 * on fixed scenes after each epoch, and a checkpoint generation after every epoch (and on
 * Ctrl-C) in the run folder (./run_folder.ts), from which `--resume` continues. The gradients of a
 * batch come from the step seam (./step.ts), whichever backend computes them.
 *
 * @module
 */
import { type Tensor4D, tf } from "../deps.ts";
import { currentBackend, ensureBackend } from "../backends/backend.ts";
import { VERSION } from "../version.ts";
import { Adam } from "./adam.ts";
import { defaultTrainConfig, type TrainConfig, workerCount } from "./config.ts";
import { loadMnist, type Mnist, type MnistSplit } from "../data/mnist.ts";
import { CONDITIONS } from "../data/conditions.ts";
import { scoreCondition } from "../detection/condition_score.ts";
import {
  ARCHITECTURES,
  type ArchLayer,
  buildModel,
  DEFAULT_ARCH,
  type Model,
  modelCost,
} from "../model/model.ts";
import type { BoxReduction } from "../model/layout.ts";
import { LOSS_TERMS, type LossParts, meanParts, sumParts, zeroParts } from "../model/loss/terms.ts";
import { Progress } from "./progress.ts";
import { type Sampling, sceneStream } from "../data/scenes.ts";
import { parseDigitRange } from "../data/multi_scenes.ts";
import { createStep, type GradientStep } from "./step.ts";
import { type PredictionRule, predictionRule } from "../model/predict.ts";
import { type PartialEpoch, RunFolder } from "./run_folder.ts";
import {
  type ConditionRecord,
  type EpochRecord,
  formatTable,
  type InterruptedRecord,
  row,
} from "./records.ts";
import { learningRate } from "./schedule.ts";
import { evaluate, makeValSet, type ValSet } from "./validation.ts";

export type { ConditionRecord, EpochRecord, InterruptedRecord, ValRecord } from "./records.ts";
export { formatTable } from "./records.ts";
export { learningRate } from "./schedule.ts";
export { evaluate, makeValSet, type ValSet } from "./validation.ts";

/** Options of {@linkcode train}. */
export interface TrainOptions {
  /** Digits to use instead of loading `config.mnistDir` (specs). */
  mnist?: Mnist;
  /** Where the table rows and notes go; default console.log. */
  log?: (line: string) => void;
  /** Progress display; default: a terminal bar when stderr is a terminal, else plain lines. */
  progress?: { terminal?: boolean; every?: number; write?: (text: string) => void };
  /** Backend name to record (the caller selects it); default tf.getBackend(). */
  backend?: string;
  /** Why the backend was chosen (e.g. auto's decision), recorded in config.json as `backendChoice`. */
  backendChoice?: unknown;
  /** Architecture of a new model; default `config.arch`'s (a resumed run keeps its own). */
  arch?: readonly ArchLayer[];
  /**
   * When aborted (e.g. on Ctrl-C), training finishes the current step, saves a checkpoint and an
   * {@linkcode InterruptedRecord}, and returns with `interrupted` set.
   */
  signal?: AbortSignal;
  /** Called after every training step (e.g. to watch memory). */
  onStep?: (info: { step: number; epoch: number; batch: number }) => void;
  /** For tests: replaces a step's loss parts (the batch's sums) before they are checked for NaN/Inf. */
  lossHook?: (parts: LossParts<number>, step: number) => LossParts<number>;
  /** Lock `out` with `<out>/.lock` while training; default true. */
  lock?: boolean;
}

/** What {@linkcode train} returns. */
export interface TrainResult {
  /** The trained model (dispose it when done). */
  model: Model;
  /** One record per completed epoch, as in metrics.json. */
  records: EpochRecord[];
  /** Set when `signal` stopped the run: the record written to metrics.json. */
  interrupted?: InterruptedRecord;
}

/** A run ready to train: the model and optimizer where the run stands, and its books. */
interface Start {
  settings: TrainConfig;
  model: Model;
  adam: Adam;
  records: EpochRecord[];
  steps: number;
  partial: PartialEpoch;
  runConfig: Record<string, unknown>;
}

const NO_PARTIAL: PartialEpoch = { batch: 0, seen: 0, sums: zeroParts(), seconds: 0, time: 0 };

/** A fresh model, or the newest checkpoint generation of `run` with `config.resume`. */
async function start(config: TrainConfig, options: TrainOptions, run: RunFolder): Promise<Start> {
  const backend = options.backend ?? currentBackend().name;
  let settings = { ...config }, records: EpochRecord[] = [], model: Model, adam: Adam;
  let steps = 0, partial = NO_PARTIAL;
  if (config.resume) {
    const saved = await run.resume();
    if (!saved) {
      throw new Error(`Nothing to resume in ${run.out}: no checkpoint found; run without --resume`);
    }
    const { out, epochs, backend } = config;
    settings = {
      ...(saved.config.settings as unknown as TrainConfig),
      epochs,
      out,
      resume: true,
      backend,
    };
    ({ model, records, steps } = saved);
    partial = saved.partial ?? NO_PARTIAL;
    adam = new Adam(model.variables);
    try {
      adam.restore(saved.optimizer, steps);
    } catch (error) {
      adam.dispose();
      model.dispose();
      throw error;
    } finally {
      tf.dispose([...saved.optimizer.values()]);
    }
  } else {
    model = buildModel(options.arch ?? ARCHITECTURES[settings.arch] ?? DEFAULT_ARCH, {
      seed: settings.seed,
    });
    adam = new Adam(model.variables);
  }
  // the prediction rule validation scores with, recorded with the model (runs saved before the
  // rule was a setting used the default one)
  model.rule = runRule(settings);
  const cost = modelCost(model.arch);
  const runConfig = {
    settings,
    predict: model.rule,
    architecture: model.arch,
    model: { params: cost.params, flopsPerImage: cost.flops, grid: cost.grid },
    backend,
    ...(options.backendChoice ? { backendChoice: options.backendChoice } : {}),
    versions: { slidewin: VERSION, tfjs: tf.version_core, deno: Deno.version.deno },
    startedAt: new Date().toISOString(),
  };
  return { settings, model, adam, records, steps, partial, runConfig };
}

/**
 * Trains a localization model with `config` (see ./config.ts), writing a checkpoint generation,
 * metrics and curves to `config.out` after every epoch. With `config.resume`, continues the run
 * saved there. Selects the default backend first when the caller has not chosen one.
 *
 * @example
 * ```ts
 * import { train } from "./train.ts";
 * import { defaultTrainConfig } from "./config.ts";
 * const { records } = await train({ ...defaultTrainConfig(), epochs: 1, trainSize: 256 });
 * ```
 */
export async function train(
  config: TrainConfig = defaultTrainConfig(),
  options: TrainOptions = {},
): Promise<TrainResult> {
  await ensureBackend();
  const log = options.log ?? ((line: string) => console.log(line));
  const run = await RunFolder.open(config.out, { lock: options.lock, notice: log });
  try {
    return await trainIn(run, config, options, log);
  } finally {
    await run.close();
  }
}

async function trainIn(
  run: RunFolder,
  config: TrainConfig,
  options: TrainOptions,
  log: (line: string) => void,
): Promise<TrainResult> {
  const s = await start(config, options, run);
  const { settings, model, adam, records, runConfig } = s;
  const firstEpoch = records.length;
  const stepsPerEpoch = Math.ceil(settings.trainSize / settings.batchSize);
  const mnist = options.mnist ??
    await loadMnist({
      seed: settings.seed,
      ...(settings.mnistDir ? { dir: settings.mnistDir } : {}),
    });
  const scenes = sceneSettings(settings);
  if (scenes.size < model.geometry.size) {
    adam.dispose();
    model.dispose();
    throw new Error(
      `--size must be at least the model's window (${model.geometry.size}), got ${scenes.size}`,
    );
  }
  if (firstEpoch === 0) log(describeRun(model, scenes.size, runConfig.backend));
  if (firstEpoch >= settings.epochs) {
    log(`${run.out} already has ${firstEpoch} epochs; pass a larger --epochs to continue`);
    adam.dispose();
    return { model, records };
  }
  const val = await makeValSet(mnist.val, {
    count: settings.valSize,
    seed: settings.seed,
    model,
    ...scenes,
  });
  let step: GradientStep | undefined;
  try {
    step = await createStep(model.arch, {
      backend: currentBackend(),
      workers: workerCount(config.workers, currentBackend()),
      box: settings.box as BoxReduction,
    });
    const loop: Loop = { ...s, step, mnist, stepsPerEpoch, options, run, log, val };
    let elapsed = s.partial.batch > 0 ? s.partial.time : records.at(-1)?.time ?? 0;
    log(formatTable(records, { detector: scenes.digits !== undefined }));
    for (let epoch = firstEpoch; epoch < settings.epochs; epoch++) {
      const resumed = epoch === firstEpoch ? s.partial : NO_PARTIAL;
      const e = await trainEpoch(loop, epoch, resumed);
      elapsed += e.seconds - resumed.seconds;
      if (e.stopped) {
        const partial = { batch: e.batch, seen: e.seen, sums: e.sums, seconds: e.seconds };
        const interrupted = interruptedRecord(loop, {
          ...partial,
          epoch: epoch + 1,
          time: elapsed,
        });
        await run.save(
          { ...generation(loop), partial: { ...partial, time: elapsed } },
          interrupted,
        );
        log(
          `interrupted at epoch ${
            epoch + 1
          }, batch ${e.batch}/${stepsPerEpoch}: saved to ${run.out}; continue with --resume`,
        );
        return { model, records, interrupted };
      }
      elapsed = await validateAndSave(loop, epoch, e, elapsed);
      if (options.signal?.aborted && epoch + 1 < settings.epochs) {
        const next = { epoch: epoch + 2, batch: 0, seen: 0, sums: zeroParts(), time: elapsed };
        const interrupted = interruptedRecord(loop, next);
        await run.writeMetrics(records, interrupted);
        log(`interrupted after epoch ${epoch + 1}: saved to ${run.out}; continue with --resume`);
        return { model, records, interrupted };
      }
    }
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    step?.close();
    adam.dispose();
    for (const c of val.chunks) tf.dispose([c.images, c.targets]);
  }
  return { model, records };
}

/** The first line of a new run: the model's size, cost and windows, and the backend. */
function describeRun(model: Model, size: number, backend: unknown): string {
  const grid = model.grid(size), cost = modelCost(model.arch);
  return `model: ${cost.params} params, ${(cost.flops / 1e6).toFixed(1)} MFLOPs/image, window ` +
    `${grid.size} stride ${grid.stride}, grid ${grid.rows}×${grid.cols}; backend ${backend}`;
}

/** The checkpoint generation of the run as it stands. */
function generation(loop: Loop) {
  return {
    model: loop.model,
    optimizer: loop.adam.stateTensors(),
    records: loop.records,
    steps: loop.steps,
    config: loop.runConfig,
  };
}

/** What metrics.json ends with when a run stops part-way through epoch `at.epoch` (1-based). */
function interruptedRecord(
  loop: Loop,
  at: { epoch: number; batch: number; seen: number; sums: LossParts<number>; time: number },
): InterruptedRecord {
  return {
    epoch: at.epoch,
    interrupted: true,
    batch: at.batch,
    batches: loop.stepsPerEpoch,
    seen: at.seen,
    steps: loop.steps,
    time: at.time,
    train: meanParts(at.sums, at.seen),
  };
}

/**
 * The test conditions (../data/conditions.ts) scored as `deno task evaluate` scores them, on
 * `valConditions` pictures each of the run's `size`, seed 1.
 */
async function scoreConditions(
  model: Model,
  source: MnistSplit,
  settings: TrainConfig,
): Promise<Record<string, ConditionRecord>> {
  const result: Record<string, ConditionRecord> = {};
  for (const name of CONDITIONS) {
    const s = await scoreCondition(model, name, source, {
      count: settings.valConditions,
      seed: 1,
      size: settings.size,
      detect: { scoreThreshold: 0.05, maxDetections: 100 },
    });
    result[name] = {
      map50: s.map50,
      map: s.map,
      ...(s.numbers ? { read: s.numbers.accuracy } : {}),
      pictures: s.pictures,
    };
  }
  return result;
}

/** One printed line: each condition's mAP@0.5 / mAP@[.5:.95] (and numbers read right), %. */
function conditionsLine(conditions: Record<string, ConditionRecord>): string {
  const pct = (v: number) => (100 * v).toFixed(1);
  return "      " +
    Object.entries(conditions).map(([name, c]) =>
      `${name} ${pct(c.map50)}/${pct(c.map)}` +
      (c.read === undefined ? "" : ` read ${pct(c.read)} %`)
    ).join(" · ");
}

/**
 * Validates the model after a completed epoch, records the epoch, saves a checkpoint generation
 * and the curves; returns the run's time with validation added.
 */
async function validateAndSave(
  loop: Loop,
  epoch: number,
  e: EpochResult,
  elapsed: number,
): Promise<number> {
  const { model, records, run, log, settings } = loop;
  const t1 = performance.now();
  // scored with the run's prediction rule, the one recorded with the model
  const valRecord = await evaluate(model, loop.val, {
    box: settings.box as BoxReduction,
    ...model.rule,
  });
  const conditions = settings.valConditions > 0
    ? await scoreConditions(model, loop.mnist.val, settings)
    : undefined;
  const valSeconds = (performance.now() - t1) / 1000;
  const time = elapsed + valSeconds;
  records.push({
    epoch: epoch + 1,
    time,
    trainSeconds: e.seconds,
    valSeconds,
    imagesPerSecond: e.seen / e.seconds,
    lr: e.lr,
    backend: loop.runConfig.backend as string,
    train: meanParts(e.sums, e.seen),
    val: valRecord,
    ...(conditions ? { conditions } : {}),
  });
  log(row(records.at(-1)!));
  if (conditions) log(conditionsLine(conditions));
  await run.save(generation(loop));
  await run.writeCurves(records, log);
  return time;
}

/**
 * The scenes a run trains and validates on: single-digit 64×64 scenes by default, else `size`
 * and, for a digit range other than 1, multi-digit scenes; targets with the run's `minCover`
 * (absent in runs saved before it existed: 0, the assignment's any-overlap rule).
 */
function sceneSettings(settings: TrainConfig): {
  size: number;
  digits?: readonly [number, number];
  minCover: number;
  assign: "area" | "centre";
  recipe: "digits" | "reading";
} {
  const size = settings.size ?? 64;
  const digits = parseDigitRange(settings.digits ?? "1", "--digits");
  const minCover = settings.minCover ?? 0;
  const assign = settings.assign === "centre" ? "centre" : "area";
  const recipe = settings.scenes === "reading" ? "reading" : "digits";
  if (recipe === "digits" && digits[0] === 1 && digits[1] === 1) {
    return { size, minCover, assign, recipe };
  }
  return { size, digits, minCover, assign, recipe };
}

/** The prediction rule of a run's settings (absent in runs saved before it was a setting). */
function runRule(settings: TrainConfig): PredictionRule {
  return predictionRule(undefined, {
    select: settings.select as PredictionRule["select"] | undefined,
    vote: settings.vote,
  });
}

/** What every epoch of a run shares. */
interface Loop extends Start {
  step: GradientStep;
  mnist: Mnist;
  stepsPerEpoch: number;
  options: TrainOptions;
  run: RunFolder;
  log: (line: string) => void;
  val: ValSet;
}

/** What an epoch of training did (up to where it stopped). */
interface EpochResult {
  /** Whether `options.signal` stopped it part-way. */
  stopped: boolean;
  /** Batches done (the next is batch `batch`, 0-based). */
  batch: number;
  /** Scenes trained. */
  seen: number;
  /** The loss parts summed over those scenes. */
  sums: LossParts<number>;
  /** The learning rate of the last step. */
  lr: number;
  /** Seconds of training in the epoch (a resumed epoch's earlier seconds included). */
  seconds: number;
}

/** Trains one epoch (from `resumed.batch` on); stops early when `options.signal` is aborted. */
async function trainEpoch(
  loop: Loop,
  epoch: number,
  resumed: PartialEpoch,
): Promise<EpochResult> {
  const { settings, model, adam, options, step } = loop;
  const progress = new Progress(`epoch ${epoch + 1}/${settings.epochs}`, settings.trainSize, {
    ...options.progress,
  });
  let sums = resumed.sums;
  const running = zeroParts();
  let seen = resumed.seen, batchesDone = resumed.batch, lr = 0, stopped = false;
  const totalSteps = settings.epochs * loop.stepsPerEpoch;
  const t0 = performance.now() - 1000 * resumed.seconds;
  const stream = sceneStream(loop.mnist.train, {
    batchSize: settings.batchSize,
    epochSize: settings.trainSize,
    seed: settings.seed,
    firstEpoch: epoch,
    firstBatch: batchesDone,
    // runs saved before --sampling drew digits with replacement; resuming one keeps doing so
    sampling: (settings.sampling ?? "random") as Sampling,
    ...sceneSettings(settings),
    grid: model.grid(settings.size ?? 64),
  });
  for await (const batch of stream) {
    lr = learningRate(settings.lr, { step: loop.steps, totalSteps, schedule: settings.schedule });
    const { named, parts } = await step.gradients(model, batch.images, batch.targets as Tensor4D);
    const v = options.lossHook ? options.lossHook(parts, loop.steps) : parts;
    const finite = LOSS_TERMS.every((term) => Number.isFinite(v[term.name]));
    if (finite) adam.step(named, lr);
    else tf.dispose(Object.values(named));
    tf.dispose([batch.images, batch.targets!]);
    if (!finite) {
      progress.done();
      const what = LOSS_TERMS.some((term) => Number.isNaN(v[term.name])) ? "NaN" : "infinite";
      throw new Error(
        `Training loss became ${what} at epoch ${epoch + 1}, batch ${batch.batch + 1} ` +
          `(step ${loop.steps + 1}, lr ${lr.toPrecision(3)}); stopped without saving it: ` +
          (loop.records.length > 0 || loop.partial.batch > 0
            ? `the last good checkpoint is in ${loop.run.out}`
            : `no checkpoint was written`) +
          `; try a lower --lr`,
      );
    }
    loop.steps++;
    batchesDone = batch.batch + 1;
    const n = batch.labels.length;
    seen += n;
    sums = sumParts([sums, v]);
    const shown: Record<string, number> = {};
    for (const { name, short } of LOSS_TERMS) {
      running[name] = seen === n ? v[name] / n : 0.98 * running[name] + 0.02 * v[name] / n;
      shown[short] = running[name];
    }
    progress.update(seen, shown);
    options.onStep?.({ step: loop.steps, epoch, batch: batch.batch });
    if (options.signal?.aborted && seen < settings.trainSize) {
      stopped = true;
      break;
    }
  }
  progress.done();
  return { stopped, batch: batchesDone, seen, sums, lr, seconds: (performance.now() - t0) / 1000 };
}
