/**
 * The training program (assignment step 4): Adam on fresh random scenes every epoch, validation
 * on fixed scenes after each epoch, checkpoints (model, optimizer, metrics, config) written
 * atomically to the output folder, and `--resume`.
 *
 * @module
 */
import "../gradients.ts";
import { type Tensor, type Tensor4D, tf } from "../deps.ts";
import { Adam } from "./adam.ts";
import { defaultTrainConfig, type TrainConfig } from "./config.ts";
import { loadModel, loadTensors, saveModel, saveTensors } from "../model/checkpoint.ts";
import { encodeTargets } from "../data/encode.ts";
import { writeFileAtomic, writeJsonAtomic } from "../io.ts";
import { localizationMetrics, objectnessCounts, precisionRecall } from "../metrics.ts";
import { loadMnist, type Mnist } from "../data/mnist.ts";
import {
  ARCHITECTURES,
  type ArchLayer,
  buildModel,
  DEFAULT_ARCH,
  type Model,
  modelCost,
} from "../model/model.ts";
import { loss } from "../model/loss.ts";
import { decodeOutput } from "../model/predict.ts";
import { Progress } from "./progress.ts";
import { GradientPool } from "./pool.ts";
import { lockDir } from "./lock.ts";
import { makeScenes, sceneStream } from "../data/scenes.ts";

/** Loss parts per image. */
export interface LossRecord {
  /** Objectness BCE, summed over the windows of one image. */
  detection: number;
  /** Class NLL over the masked windows of one image. */
  classification: number;
  /** Box MSE over the masked windows of one image. */
  regression: number;
  /** The sum of the three. */
  total: number;
}

/** Validation results of one epoch. */
export interface ValRecord extends LossRecord {
  /** Class accuracy of the chosen window. */
  accuracy: number;
  /** Mean IoU of predicted vs true box. */
  meanIou: number;
  /** Correct class and IoU ≥ 0.5. */
  hitRate: number;
  /** Objectness precision over all windows. */
  precision: number;
  /** Objectness recall over all windows. */
  recall: number;
  /** Validation scenes. */
  count: number;
}

/** One line of metrics.json. */
export interface EpochRecord {
  /** 1-based epoch. */
  epoch: number;
  /** Seconds since the run started (training + validation, summed over resumed sessions). */
  time: number;
  /** Seconds of training in this epoch. */
  trainSeconds: number;
  /** Seconds of validation in this epoch. */
  valSeconds: number;
  /** Training images per second in this epoch. */
  imagesPerSecond: number;
  /** Learning rate at the end of the epoch. */
  lr: number;
  /** tfjs backend. */
  backend: string;
  /** Mean training loss parts per image over the epoch. */
  train: LossRecord;
  /** Validation results. */
  val: ValRecord;
}

/**
 * The last line of metrics.json after an interrupted run (Ctrl-C): where in the epoch training
 * stopped. `--resume` continues from there and drops this record.
 */
export interface InterruptedRecord {
  /** The 1-based epoch that was interrupted. */
  epoch: number;
  /** Always true. */
  interrupted: true;
  /** Batches of this epoch already trained (the next one is batch `batch`, 0-based). */
  batch: number;
  /** Batches per epoch. */
  batches: number;
  /** Scenes of this epoch already trained. */
  seen: number;
  /** Adam steps taken since the start of the run. */
  steps: number;
  /** Seconds since the run started. */
  time: number;
  /** Mean training loss parts per image over the trained part of the epoch. */
  train: LossRecord;
}

/**
 * Learning rate at `step` of `totalSteps`: constant, or one-cycle (linear warm-up from lr/25 over
 * the first 30 % of steps, then cosine annealing to lr/1e4), PyTorch's OneCycleLR shape.
 *
 * @example
 * ```ts
 * import { learningRate } from "./train.ts";
 * console.log(learningRate(2e-3, { step: 30, totalSteps: 100, schedule: "onecycle" })); // 0.002
 * ```
 */
export function learningRate(
  peak: number,
  options: { step: number; totalSteps: number; schedule: string },
): number {
  const { step, totalSteps, schedule } = options;
  if (schedule === "constant") return peak;
  const warm = Math.max(1, Math.round(0.3 * totalSteps));
  const start = peak / 25, end = peak / 1e4;
  if (step <= warm) return start + (peak - start) * (step / warm);
  const t = Math.min(1, (step - warm) / Math.max(1, totalSteps - warm));
  return end + (peak - end) * 0.5 * (1 + Math.cos(Math.PI * t));
}

/** Validation scenes, kept in chunks with their targets. */
export interface ValSet {
  chunks: { images: Tensor4D; targets: Tensor4D; labels: Int32Array; boxes: Float32Array }[];
  count: number;
}

/**
 * Makes `count` validation scenes from the val digits, fixed by `seed`, with their targets.
 *
 * @example
 * ```ts
 * import { makeValSet } from "./train.ts";
 * import { buildModel } from "../model/model.ts";
 * import { loadMnist } from "../data/mnist.ts";
 * const val = await makeValSet((await loadMnist()).val, { count: 100, seed: 0, model: buildModel() });
 * ```
 */
export async function makeValSet(
  source: Mnist["val"],
  options: { count: number; seed: number; model: Model; chunk?: number },
): Promise<ValSet> {
  const { count, seed, model, chunk = 500 } = options;
  const grid = model.grid(64);
  const chunks: ValSet["chunks"] = [];
  for (let start = 0, i = 0; start < count; start += chunk, i++) {
    const n = Math.min(chunk, count - start);
    const s = await makeScenes(source, { count: n, seed: seed * 7919 + 1_000_003 + i });
    chunks.push({ ...s, targets: encodeTargets(s.boxes, s.labels, grid) });
  }
  return { chunks, count };
}

/**
 * Validates `model` on `val`: loss parts per image, class accuracy, mean IoU, hit rate and
 * objectness precision/recall.
 *
 * @example
 * ```ts
 * import { evaluate, makeValSet } from "./train.ts";
 * import { buildModel } from "../model/model.ts";
 * import { loadMnist } from "../data/mnist.ts";
 * const model = buildModel();
 * const val = await makeValSet((await loadMnist()).val, { count: 100, seed: 0, model });
 * console.log((await evaluate(model, val)).accuracy);
 * ```
 */
export async function evaluate(
  model: Model,
  val: ValSet,
  options: { box?: "sum" | "mean"; batchSize?: number } = {},
): Promise<ValRecord> {
  const batchSize = options.batchSize ?? 250;
  const sums = [0, 0, 0];
  const counts = { tp: 0, fp: 0, fn: 0, tn: 0 };
  const labels: number[] = [], boxes: number[] = [], trueLabels: number[] = [];
  const trueBoxes: number[] = [];
  for (const c of val.chunks) {
    const n = c.images.shape[0];
    for (let start = 0; start < n; start += batchSize) {
      const k = Math.min(batchSize, n - start);
      const [out, target] = tf.tidy(() => [
        model.apply(tf.slice(c.images, [start, 0, 0, 0], [k, -1, -1, -1])),
        tf.slice(c.targets, [start, 0, 0, 0], [k, -1, -1, -1]),
      ]) as [Tensor4D, Tensor4D];
      const parts = tf.tidy(() => {
        const p = loss(out, target, { box: options.box });
        return tf.stack([p.detection, p.classification, p.regression]);
      });
      const v = await parts.data();
      for (let j = 0; j < 3; j++) sums[j] += v[j];
      const p = await decodeOutput(out, model.geometry);
      const oc = await objectnessCounts(out, target);
      for (const key of ["tp", "fp", "fn", "tn"] as const) counts[key] += oc[key];
      labels.push(...p.labels);
      boxes.push(...p.boxes);
      tf.dispose([out, target, parts]);
    }
    trueLabels.push(...c.labels);
    trueBoxes.push(...c.boxes);
  }
  const m = localizationMetrics({ labels, boxes }, { labels: trueLabels, boxes: trueBoxes });
  const pr = precisionRecall(counts);
  const n = m.count;
  return {
    detection: sums[0] / n,
    classification: sums[1] / n,
    regression: sums[2] / n,
    total: (sums[0] + sums[1] + sums[2]) / n,
    accuracy: m.accuracy,
    meanIou: m.meanIou,
    hitRate: m.hitRate,
    precision: pr.precision,
    recall: pr.recall,
    count: n,
  };
}

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
  /** Architecture of a new model; default DEFAULT_ARCH (a resumed run keeps its own). */
  arch?: readonly ArchLayer[];
  /**
   * When aborted (e.g. on Ctrl-C), training finishes the current step, saves a checkpoint and an
   * {@linkcode InterruptedRecord}, and returns with `interrupted` set.
   */
  signal?: AbortSignal;
  /** Called after every training step (e.g. to watch memory). */
  onStep?: (info: { step: number; epoch: number; batch: number }) => void;
  /**
   * For tests: replaces a step's loss parts (detection, classification, regression sums) before
   * they are checked for NaN/Inf.
   */
  lossHook?: (parts: number[], step: number) => number[];
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

const HEADER = "epoch   time  img/s   det    cls    reg  | acc     IoU    hit     P      R";

function row(r: EpochRecord): string {
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`.padStart(7);
  return [
    String(r.epoch).padStart(5),
    `${r.time.toFixed(0)}s`.padStart(6),
    r.imagesPerSecond.toFixed(0).padStart(6),
    r.val.detection.toFixed(3).padStart(6),
    r.val.classification.toFixed(3).padStart(6),
    r.val.regression.toFixed(3).padStart(6),
    "|" + pct(r.val.accuracy),
    r.val.meanIou.toFixed(3).padStart(6),
    pct(r.val.hitRate),
    r.val.precision.toFixed(3).padStart(6),
    r.val.recall.toFixed(3).padStart(6),
  ].join(" ");
}

/** Formats epoch records as the printed table (header + one row per epoch). */
export function formatTable(records: readonly EpochRecord[]): string {
  return [HEADER, ...records.map(row)].join("\n");
}

/** Writes `<out>/curves.png` (loss parts and validation scores per epoch); warns on failure. */
async function writeCurves(
  out: string,
  records: readonly EpochRecord[],
  log: (line: string) => void,
): Promise<void> {
  try {
    const { trainingCurves } = await import("../pictures/charts.ts");
    const png = await trainingCurves(records.map((r) => ({
      epoch: r.epoch,
      loss: r.train,
      accuracy: r.val.accuracy,
      meanIoU: r.val.meanIou,
      hitRate: r.val.hitRate,
    })));
    await writeFileAtomic(`${out}/curves.png`, png);
  } catch (e) {
    log(`warning: curves.png not written: ${(e as Error).message.split("\n")[0]}`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Trains a localization model with `config` (see src/config.ts), writing checkpoints and
 * metrics to `config.out` after every epoch. With `config.resume`, continues the run saved there.
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
  if (options.lock === false) return await trainUnlocked(config, options);
  const log = options.log ?? ((line: string) => console.log(line));
  const lock = await lockDir(config.out, { notice: log });
  try {
    return await trainUnlocked(config, options);
  } finally {
    await lock.release();
  }
}

async function trainUnlocked(
  config: TrainConfig,
  options: TrainOptions,
): Promise<TrainResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const backend = options.backend ?? tf.getBackend();
  const out = config.out;
  let settings = { ...config };
  let records: EpochRecord[] = [];
  let model: Model;
  let steps = 0;
  if (config.resume) {
    if (!(await exists(`${out}/model.json`))) {
      throw new Error(`Nothing to resume in ${out}: model.json not found; run without --resume`);
    }
    const saved = JSON.parse(await Deno.readTextFile(`${out}/config.json`)).settings as TrainConfig;
    settings = { ...saved, epochs: config.epochs, out, resume: true, backend: config.backend };
    const savedRecords: (EpochRecord | InterruptedRecord)[] = JSON.parse(
      await Deno.readTextFile(`${out}/metrics.json`),
    );
    records = savedRecords.filter((r): r is EpochRecord => !("interrupted" in r));
    model = (await loadModel(out)).model;
  } else {
    model = buildModel(options.arch ?? ARCHITECTURES[settings.arch] ?? DEFAULT_ARCH, {
      seed: settings.seed,
    });
  }
  const box = settings.box as "sum" | "mean";
  const adam = new Adam(model.variables);
  // Where an interrupted epoch stopped: batches and scenes done, loss sums, seconds trained.
  let partial = { batch: 0, seen: 0, sums: [0, 0, 0], seconds: 0, time: 0 };
  if (config.resume) {
    try {
      const { json, tensors } = await loadTensors(out, "optimizer.json");
      steps = Number(json.extra?.steps ?? 0);
      adam.restore(tensors, steps);
      tf.dispose([...tensors.values()]);
      const p = json.extra?.partial as typeof partial | undefined;
      if (p && Number(json.extra?.epoch) === records.length && p.batch > 0) partial = p;
    } catch (error) {
      adam.dispose();
      model.dispose();
      throw error;
    }
  }
  const firstEpoch = records.length;
  const stepsPerEpoch = Math.ceil(settings.trainSize / settings.batchSize);
  const totalSteps = settings.epochs * stepsPerEpoch;
  const mnist = options.mnist ??
    await loadMnist({
      seed: settings.seed,
      ...(settings.mnistDir ? { dir: settings.mnistDir } : {}),
    });
  const grid = model.grid(64);
  const cost = modelCost(model.arch);
  const runConfig = {
    settings,
    architecture: model.arch,
    model: { params: cost.params, flopsPerImage: cost.flops, grid: cost.grid },
    backend,
    versions: { slidewin: "0.1.0", tfjs: tf.version_core, deno: Deno.version.deno },
    startedAt: new Date().toISOString(),
  };
  if (firstEpoch === 0) {
    log(
      `model: ${cost.params} params, ${(cost.flops / 1e6).toFixed(1)} MFLOPs/image, window ` +
        `${grid.size} stride ${grid.stride}, grid ${grid.rows}×${grid.cols}; backend ${backend}`,
    );
  }
  if (firstEpoch >= settings.epochs) {
    log(`${out} already has ${firstEpoch} epochs; pass a larger --epochs to continue`);
    adam.dispose();
    return { model, records };
  }
  const val = await makeValSet(mnist.val, { count: settings.valSize, seed: settings.seed, model });
  const vars = [...model.variables.values()];
  // On "native" the pool runs the tape-free step of ./native/step.ts, with or without Workers.
  const pool = config.workers > 0 || tf.getBackend() === "native"
    ? await GradientPool.create(model.arch, { workers: config.workers, box })
    : undefined;
  let elapsed = partial.batch > 0 ? partial.time : records.at(-1)?.time ?? 0;
  log(formatTable(records));
  const means = (sums: number[], seen: number): LossRecord => ({
    detection: sums[0] / Math.max(seen, 1),
    classification: sums[1] / Math.max(seen, 1),
    regression: sums[2] / Math.max(seen, 1),
    total: (sums[0] + sums[1] + sums[2]) / Math.max(seen, 1),
  });
  try {
    for (let epoch = firstEpoch; epoch < settings.epochs; epoch++) {
      const progress = new Progress(`epoch ${epoch + 1}/${settings.epochs}`, settings.trainSize, {
        ...options.progress,
      });
      const resumed = epoch === firstEpoch ? partial : undefined;
      const sums = [...(resumed?.sums ?? [0, 0, 0])];
      const running = [0, 0, 0];
      let seen = resumed?.seen ?? 0;
      let done = resumed?.batch ?? 0;
      let lr = 0;
      const t0 = performance.now() - 1000 * (resumed?.seconds ?? 0);
      const stream = sceneStream(mnist.train, {
        batchSize: settings.batchSize,
        epochSize: settings.trainSize,
        seed: settings.seed,
        firstEpoch: epoch,
        firstBatch: done,
        grid,
      });
      let stopped = false;
      for await (const batch of stream) {
        lr = learningRate(settings.lr, { step: steps, totalSteps, schedule: settings.schedule });
        let v: number[];
        if (pool) {
          const { named, parts } = await pool.gradients(model, batch.images, batch.targets!);
          v = [parts.detection, parts.classification, parts.regression];
          if (options.lossHook) v = options.lossHook(v, steps);
          if (!v.every(Number.isFinite)) tf.dispose(Object.values(named));
          else adam.step(named, lr);
        } else {
          let parts: Tensor | undefined;
          const { value, grads } = tf.variableGrads(() => {
            const p = loss(model.apply(batch.images), batch.targets!, { box });
            parts = tf.keep(tf.stack([p.detection, p.classification, p.regression]));
            return p.total;
          }, vars);
          v = [...await parts!.data()];
          tf.dispose([value, parts!]);
          if (options.lossHook) v = options.lossHook(v, steps);
          if (!v.every(Number.isFinite)) tf.dispose(Object.values(grads));
          else adam.step(grads, lr);
        }
        tf.dispose([batch.images, batch.targets!]);
        if (!v.every(Number.isFinite)) {
          progress.done();
          const what = v.some(Number.isNaN) ? "NaN" : "infinite";
          throw new Error(
            `Training loss became ${what} at epoch ${epoch + 1}, batch ${batch.batch + 1} ` +
              `(step ${steps + 1}, lr ${lr.toPrecision(3)}); stopped without saving it: ` +
              (records.length > 0 || partial.batch > 0
                ? `the last good checkpoint is in ${out}`
                : `no checkpoint was written`) +
              `; try a lower --lr`,
          );
        }
        steps++;
        done = batch.batch + 1;
        const n = batch.labels.length;
        seen += n;
        for (let j = 0; j < 3; j++) {
          sums[j] += v[j];
          running[j] = seen === n ? v[j] / n : 0.98 * running[j] + 0.02 * v[j] / n;
        }
        progress.update(seen, { det: running[0], cls: running[1], reg: running[2] });
        options.onStep?.({ step: steps, epoch, batch: batch.batch });
        if (options.signal?.aborted && seen < settings.trainSize) {
          stopped = true;
          break;
        }
      }
      progress.done();
      const trainSeconds = (performance.now() - t0) / 1000;
      if (stopped) {
        const interrupted: InterruptedRecord = {
          epoch: epoch + 1,
          interrupted: true,
          batch: done,
          batches: stepsPerEpoch,
          seen,
          steps,
          time: elapsed + trainSeconds - (resumed?.seconds ?? 0),
          train: means(sums, seen),
        };
        const saved = { batch: done, seen, sums, seconds: trainSeconds, time: interrupted.time };
        await saveModel(model, out, { epoch, steps, batch: done });
        await saveTensors(out, adam.stateTensors(), {
          json: "optimizer.json",
          bin: "optimizer.bin",
          fields: { extra: { epoch, steps, partial: saved } },
        });
        await writeJsonAtomic(`${out}/metrics.json`, [...records, interrupted]);
        await writeJsonAtomic(`${out}/config.json`, runConfig);
        log(
          `interrupted at epoch ${epoch + 1}, batch ${done}/${stepsPerEpoch}: saved to ${out}; ` +
            `continue with --resume`,
        );
        return { model, records, interrupted };
      }
      const t1 = performance.now();
      const valRecord = await evaluate(model, val, { box });
      const valSeconds = (performance.now() - t1) / 1000;
      elapsed += trainSeconds - (resumed?.seconds ?? 0) + valSeconds;
      const record: EpochRecord = {
        epoch: epoch + 1,
        time: elapsed,
        trainSeconds,
        valSeconds,
        imagesPerSecond: seen / trainSeconds,
        lr,
        backend,
        train: means(sums, seen),
        val: valRecord,
      };
      records.push(record);
      log(row(record));
      await saveModel(model, out, { epoch: epoch + 1, steps });
      await saveTensors(out, adam.stateTensors(), {
        json: "optimizer.json",
        bin: "optimizer.bin",
        fields: { extra: { epoch: epoch + 1, steps } },
      });
      await writeJsonAtomic(`${out}/metrics.json`, records);
      await writeJsonAtomic(`${out}/config.json`, runConfig);
      await writeCurves(out, records, log);
      if (options.signal?.aborted && epoch + 1 < settings.epochs) {
        const interrupted: InterruptedRecord = {
          epoch: epoch + 2,
          interrupted: true,
          batch: 0,
          batches: stepsPerEpoch,
          seen: 0,
          steps,
          time: elapsed,
          train: means([0, 0, 0], 0),
        };
        await writeJsonAtomic(`${out}/metrics.json`, [...records, interrupted]);
        log(`interrupted after epoch ${epoch + 1}: saved to ${out}; continue with --resume`);
        return { model, records, interrupted };
      }
    }
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    pool?.close();
    adam.dispose();
    for (const c of val.chunks) tf.dispose([c.images, c.targets]);
  }
  return { model, records };
}
