/**
 * `deno task bench` — how fast an architecture (default: the one `deno task train` trains) trains
 * and infers on each available backend, against PyTorch (tasks/bench_torch.py, the same layers,
 * training and inference) and ONNX Runtime (the model's ONNX export, inference) measured in the
 * same interleaved rounds; GFLOP/s and the fraction of the CPU's estimated peak
 * (tasks/lib/cpu_peak.ts); then the data pipeline, RSS over a long stretch of training, and
 * sequential vs convolutional sliding at 1080×1080. Prints tables and writes `<out>/bench.json`.
 */
import { Adam } from "../src/training/adam.ts";
import {
  autoNotice,
  type Backend,
  backendNamed,
  BACKENDS,
  decideAuto,
  describeBackend,
  nativeNotice,
  useBackend,
} from "../src/backends/backend.ts";
import {
  defineTask,
  type FlagValues,
  nonNegativeInt,
  positiveInt,
  UsageError,
} from "../src/cli.ts";
import { benchData } from "./lib/data_bench.ts";
import { type Tensor4D, tf } from "../src/deps.ts";
import { encodeTargets } from "../src/data/encode.ts";
import { writeJsonAtomic } from "../src/io.ts";
import { createStep, type GradientStep } from "../src/training/step.ts";
import { trainingProbe } from "../src/training/probe.ts";
import { TRAIN_FLAGS } from "../src/training/config.ts";
import { loadMnist, type MnistSplit } from "../src/data/mnist.ts";
import {
  ARCHITECTURES,
  type ArchLayer,
  buildModel,
  type Model,
  modelCost,
} from "../src/model/model.ts";
import { LOSS_TERMS } from "../src/model/loss/terms.ts";
import { predict } from "../src/model/predict.ts";
import { encodeOnnx } from "../src/model/onnx_export.ts";
import { readExportWeights } from "../src/model/export_weights.ts";
import { makeScenes } from "../src/data/scenes.ts";
import { timeSliding } from "./lib/sliding_study.ts";
import { slidingPeers } from "./lib/sliding_peers.ts";
import { pictureSpeed } from "./lib/picture_speed.ts";
import { medianMs } from "./lib/stats.ts";
import { runBenchTorch } from "./lib/torch_ref.ts";
import { type CpuPeak, readPeak } from "./lib/cpu_peak.ts";
import { loadOrt, type Ort, ORT_VERSION, ortSession } from "./lib/ort.ts";
import {
  type OrtResult,
  type Round,
  type RowResult,
  summarizeRounds,
  summaryTable,
  throughput,
  type TorchResult,
} from "./lib/bench_summary.ts";

const FLAGS = {
  /** Architecture measured (ARCHITECTURES in src/model/model.ts); default what train trains. */
  arch: { ...TRAIN_FLAGS.arch, help: "Architecture to measure (train's by default)" },
  /** Training batch size (the default run's). */
  batchSize: { default: 32, help: "Scenes per training step", check: positiveInt },
  /** Timed steps per measurement (median reported), after warm-up. */
  steps: { default: 20, help: "Timed steps per measurement", check: positiveInt },
  /**
   * Backends to measure, comma-separated; "available" = native (when OpenBLAS is found), wasm,
   * cpu, and webgpu on a real GPU.
   */
  backends: { default: "available", help: "Backends to measure (comma-separated)" },
  /** Time sequential vs convolutional sliding at 1080×1080 (several minutes on 2 cores). */
  sliding: { default: true as boolean, help: "Include the 1080×1080 sliding comparison" },
  /** Side of the one-picture comparison: detect vs ONNX Runtime and PyTorch (0: skip). */
  picture: {
    default: 1080,
    help: "Side of one picture timed through detect, ONNX Runtime and PyTorch (0: skip)",
    check: nonNegativeInt,
  },
  /** Side of part 1's convolutional sliding window against ONNX Runtime and PyTorch (0: skip). */
  slidingPicture: {
    default: 1080,
    help:
      "Side of one RGB picture slid over by part 1's net in slidewin, ONNX Runtime, PyTorch (0: skip)",
    check: nonNegativeInt,
  },
  /** Run tasks/bench_torch.py when python3 has torch. */
  torch: { default: true as boolean, help: "Measure PyTorch on the same architecture" },
  /** Run the ONNX export on ONNX Runtime (npm onnxruntime-node) when it loads. */
  ort: { default: true as boolean, help: "Measure ONNX Runtime on the model's ONNX export" },
  /** Steps of the long-run memory check (RSS sampled along the way). */
  memorySteps: {
    default: 300,
    help: "Training steps of the RSS check (0: skip)",
    check: nonNegativeInt,
  },
  /** Interleaved rounds of all rows, PyTorch and ONNX Runtime; medians and ranges. */
  repeat: { default: 1, help: "Interleaved rounds of every row and reference", check: positiveInt },
  /** Where bench.json goes. */
  out: { default: "runs/bench", help: "Output folder" },
};

type Flags = FlagValues<typeof FLAGS>;

/** One row of the bench: a backend, its Worker threads, and how gradients are computed. */
interface Row {
  backend: Backend;
  workers: number;
  /** Forces tfjs's tape on a backend whose own step is native (its kernels under the tape). */
  tape: boolean;
}

/** What every round needs. */
interface BenchContext {
  flags: Flags;
  arch: readonly ArchLayer[];
  rows: Row[];
  digits: MnistSplit;
  cores: number;
  /** ONNX Runtime and the model's export, or why not. */
  ort: { ort: Ort; onnx: Uint8Array } | string;
  benchJson: string;
}

/** A row's measurement, with what the tables print beside the numbers. */
interface BackendResult extends RowResult {
  description: string;
  batchSize: number;
  firstStepMs: number;
  trainStepMs: number;
  steps: number;
}

/**
 * The rows for `backends`, derived from the table: each backend alone; with a Worker per other
 * core where its engines run in Workers; under tfjs's tape too where its own step is native.
 */
function rowsFor(backends: readonly Backend[], cores: number): Row[] {
  return backends.flatMap((backend) => [
    { backend, workers: 0, tape: false },
    ...(backend.threads && backend.fast && cores > 1
      ? [{ backend, workers: cores - 1, tape: false }]
      : []),
    ...(backend.method === "native" ? [{ backend, workers: 0, tape: true }] : []),
  ]);
}

const rowName = ({ backend, workers, tape }: Row) =>
  tape ? `${backend.name}-tape` : workers > 0 ? `${backend.name}+${workers}w` : backend.name;

/** One `model.apply` with its outputs read back. */
async function applyOnce(model: Model, images: Tensor4D): Promise<void> {
  const out = tf.tidy(() => model.apply(images));
  await out.data();
  out.dispose();
}

/**
 * Training, `predict` (as the tasks run it on the plain row; through the row's step on Worker and
 * tape rows), and `model.apply` on the row's backend.
 */
async function benchRow(row: Row, ctx: BenchContext): Promise<BackendResult> {
  const { backend, workers, tape } = row;
  await useBackend(backend.name);
  // cpu is pure JavaScript (seconds per step): a few small steps tell its speed
  const slow = !backend.fast;
  const batchSize = slow ? 4 : ctx.flags.batchSize;
  const steps = slow ? 2 : ctx.flags.steps;
  const warm = slow ? 0 : 3;
  const model: Model = buildModel(ctx.arch, { seed: 0 });
  const adam = new Adam(model.variables);
  const scenes = await makeScenes(ctx.digits, { count: batchSize, seed: 1 });
  const targets = encodeTargets(scenes.boxes, scenes.labels, model.grid(64));
  // the training step of `deno task train` (src/training/step.ts)
  const step: GradientStep = await createStep(model.arch, {
    backend,
    workers,
    box: "sum",
    ...(tape ? { method: "tape" as const } : {}),
  });
  try {
    const trainStep = async () => {
      const { named, parts } = await step.gradients(model, scenes.images, targets);
      adam.step(named, 1e-3);
      void parts.total;
    };
    // described while training runs (the pool sets OpenBLAS to one thread per caller)
    const description = describeBackend() + (workers > 0 ? ` + ${workers} Worker(s)` : "") +
      (tape ? ", gradients by tfjs's tape" : backend.method === "native" ? ", native step" : "");
    const t0 = performance.now();
    await trainStep();
    const firstStepMs = performance.now() - t0;
    const trainMs = await medianMs(trainStep, warm, steps);
    // `predict` end to end, forward then decoding: on the plain row as the tasks run it
    // (model.apply on the backend's kernels), on a Worker row through the step (all its threads)
    const plain = workers === 0 && !tape;
    const predictMs = await medianMs(
      () => predict(model, scenes.images, plain ? { batchSize } : { step, batchSize }),
      warm,
      steps,
    );
    // `model.apply` on this backend's kernels: once per backend, on its plain row
    const applyMs = plain
      ? await medianMs(() => applyOnce(model, scenes.images), warm, steps)
      : undefined;
    return {
      backend: rowName(row),
      description,
      batchSize,
      firstStepMs,
      trainStepMs: trainMs,
      trainImagesPerSecond: batchSize / (trainMs / 1000),
      predictImagesPerSecond: batchSize / (predictMs / 1000),
      ...(applyMs !== undefined ? { applyImagesPerSecond: batchSize / (applyMs / 1000) } : {}),
      steps,
    };
  } finally {
    step.close();
    tf.dispose([scenes.images, targets]);
    adam.dispose();
    model.dispose();
  }
}

/** PyTorch on the architecture recorded in bench.json (tasks/bench_torch.py), or null. */
async function torchReference(
  benchJson: string,
  batchSize: number,
  steps: number,
): Promise<(TorchResult & { framework: string }) | null> {
  const args = [benchJson, "--batch", String(batchSize), "--steps", String(steps)];
  return await runBenchTorch(args) as (TorchResult & { framework: string }) | null;
}

/**
 * ONNX Runtime's inference of the model's export on the rows' batch of scenes, on `threads`
 * intra-op threads (a fresh session each round, released after, so its threads leave the cores
 * to the next row).
 */
async function ortReference(ctx: BenchContext): Promise<OrtResult | null> {
  if (typeof ctx.ort === "string") return null;
  const { ort, onnx } = ctx.ort;
  const { batchSize, steps } = ctx.flags;
  const scenes = await makeScenes(ctx.digits, { count: batchSize, seed: 1 });
  // one channel: [N, H, W, 1] and [N, 1, H, W] are the same bytes
  const [n, h, w] = scenes.images.shape;
  const images = new ort.Tensor("float32", await scenes.images.data() as Float32Array, [
    n,
    1,
    h,
    w,
  ]);
  scenes.images.dispose();
  const session = await ortSession(ort, onnx, ctx.cores);
  try {
    const ms = await medianMs(
      async () => {
        const out = await session.run({ [session.inputNames[0]]: images });
        void out[session.outputNames[0]].data;
      },
      3,
      steps,
    );
    return { inferImagesPerSecond: batchSize / (ms / 1000) };
  } finally {
    await session.release();
  }
}

/** One interleaved round: every row, then PyTorch, then ONNX Runtime; printed as it goes. */
async function runRound(index: number, ctx: BenchContext): Promise<Round> {
  const { flags } = ctx;
  if (flags.repeat > 1) console.log(`  round ${index + 1}/${flags.repeat}`);
  console.log(
    `  ${"row".padEnd(12)} ${"train img/s".padStart(11)} ${"step ms".padStart(8)} ` +
      `${"first ms".padStart(8)} ${"predict".padStart(8)} ${"apply".padStart(8)}  what`,
  );
  const results: BackendResult[] = [];
  for (const row of ctx.rows) {
    const r = await benchRow(row, ctx);
    results.push(r);
    console.log(
      `  ${r.backend.padEnd(12)} ${r.trainImagesPerSecond.toFixed(1).padStart(11)} ${
        r.trainStepMs.toFixed(1).padStart(8)
      } ${r.firstStepMs.toFixed(0).padStart(8)} ${
        r.predictImagesPerSecond.toFixed(0).padStart(8)
      } ${
        (r.applyImagesPerSecond?.toFixed(0) ?? "—").padStart(8)
      }  ${r.description} (batch ${r.batchSize})`,
    );
  }
  const torch = flags.torch
    ? await torchReference(ctx.benchJson, flags.batchSize, flags.steps)
    : null;
  if (torch) {
    console.log(
      `  ${torch.framework} (${torch.threads} threads): train ${
        torch.trainImagesPerSecond.toFixed(1)
      } img/s, infer ${torch.inferImagesPerSecond.toFixed(0)} img/s`,
    );
  } else if (flags.torch && index === 0) {
    console.log("  PyTorch: not installed (apt-get install python3-torch), skipped");
  }
  const ort = flags.ort ? await ortReference(ctx) : null;
  if (ort) {
    console.log(
      `  ONNX Runtime ${ORT_VERSION} (${ctx.cores} threads): infer ${
        ort.inferImagesPerSecond.toFixed(0)
      } img/s`,
    );
  } else if (flags.ort && index === 0 && typeof ctx.ort === "string") {
    console.log(`  ONNX Runtime: ${ctx.ort}; skipped`);
  }
  printRatios(results, torch, ort);
  return { results, torch, ort };
}

/** This round's ratios, row by row. */
function printRatios(results: RowResult[], torch: TorchResult | null, ort: OrtResult | null) {
  if (!torch && !ort) return;
  for (const r of results) {
    const parts = [
      torch
        ? `train / PyTorch ${(r.trainImagesPerSecond / torch.trainImagesPerSecond).toFixed(2)}×`
        : "",
      ort
        ? `predict / ORT ${(r.predictImagesPerSecond / ort.inferImagesPerSecond).toFixed(2)}×`
        : "",
      ort && r.applyImagesPerSecond !== undefined
        ? `apply / ORT ${(r.applyImagesPerSecond / ort.inferImagesPerSecond).toFixed(2)}×`
        : "",
    ].filter(Boolean);
    console.log(`    ${r.backend.padEnd(12)} ${parts.join(", ")}`);
  }
}

/** The backends `--backends` names, each checked to run here. */
async function selectBackends(names: string): Promise<Backend[]> {
  const backends: Backend[] = [];
  if (names === "available") {
    for (const b of BACKENDS) {
      const usable = b.device === "gpu" ? await b.pickedByAuto() : !(await b.unavailable());
      if (usable) backends.push(b);
    }
    return backends;
  }
  for (const text of names.split(",")) {
    const name = text.trim();
    const b = BACKENDS.find((d) => d.name === name);
    if (!b) {
      const known = BACKENDS.map((d) => d.name).join(", ");
      throw new UsageError(`--backends: unknown backend "${name}"; use ${known}`);
    }
    const why = await b.unavailable();
    if (why) throw new UsageError(`--backends: "${b.name}" cannot run here: ${why}`);
    backends.push(b);
  }
  return backends;
}

/** The header lines and the record of what is measured (bench_torch.py reads `arch` from it). */
async function describeRun(ctx: BenchContext, peak: CpuPeak | null) {
  const { flags, arch } = ctx;
  const cost = modelCost(arch);
  console.log(
    `Model "${flags.arch}": ${cost.params} parameters, ${(cost.flops / 1e6).toFixed(1)} ` +
      `MFLOP/image forward (a training image counted as 3×), grid ${cost.grid.rows}×` +
      `${cost.grid.cols}; batch ${flags.batchSize}`,
  );
  console.log(`  CPU: ${
    peak
      ? `${peak.name}; peak ≈ ${peak.gflops.toFixed(0)} GFLOP/s = ` +
        peak.assumption
      : "unknown (no /proc/cpuinfo): no fraction of peak"
  }`);
  console.log(`  ${nativeNotice()}`);
  // what `deno task train`'s auto picks here for this model, and why (measured once, then cached)
  const auto = await decideAuto({
    probe: trainingProbe({ arch, batchSize: flags.batchSize, threads: ctx.cores }),
  });
  console.log(`  ${autoNotice(auto)}`);
  return {
    date: new Date().toISOString(),
    deno: Deno.version.deno,
    tfjs: tf.version_core,
    cpu: peak?.name ?? "",
    peak,
    openblasCoretype: Deno.env.get("OPENBLAS_CORETYPE") ?? null,
    archName: flags.arch,
    arch,
    lossTerms: LOSS_TERMS.map((t) => t.name),
    inputSize: 64,
    batchSize: flags.batchSize,
    threads: ctx.cores,
    model: cost,
    flopsNote: "forward FLOPs per image (2 per multiply-add, + bias, ReLU, pool compares); " +
      "a training image counted as 3× the forward",
    auto: { notice: autoNotice(auto), ...auto },
  } as Record<string, unknown>;
}

/** Milliseconds as seconds for a line, "—" when not measured. */
const seconds = (ms?: number) => ms === undefined ? "—" : `${(ms / 1000).toFixed(2)} s`;

/**
 * Activates the backend auto chose for this run; the threads and ONNX Runtime (when it loaded)
 * that the one-picture rows pass on.
 */
async function onAutoBackend(ctx: BenchContext, bench: Record<string, unknown>) {
  await useBackend(backendNamed((bench.auto as { backend: string }).backend).name);
  return { threads: ctx.cores, ...(typeof ctx.ort === "string" ? {} : { ort: ctx.ort.ort }) };
}

/**
 * One large picture through detect (on the backend auto picks, as the tasks run it), ONNX Runtime
 * and PyTorch: tasks/lib/picture_speed.ts.
 */
async function pictureRow(ctx: BenchContext, bench: Record<string, unknown>) {
  const size = ctx.flags.picture;
  const p = await pictureSpeed({ source: ctx.digits, size, ...await onAutoBackend(ctx, bench) });
  bench.picture = p;
  console.log(
    `  one ${size}×${size} picture, the detector's net (median of ${p.runs}): ` +
      `${p.backend} model.apply ${seconds(p.applyMs)}, detect one level ${
        seconds(p.detectOneLevelMs)
      }, ` +
      `detect with the pyramid (${p.levels.length} levels) ${seconds(p.detectPyramidOnePassMs)}, ` +
      `and with ${p.offsets}×${p.offsets} offset passes (the default) ${
        seconds(p.detectPyramidMs)
      }; ` +
      `ONNX Runtime ${seconds(p.ortMs)}, ${p.torch ?? "PyTorch"} ${
        seconds(p.torchMs)
      } (forward passes)`,
  );
}

/** Part 1's convolutional sliding window on one picture, slidewin against ORT and PyTorch. */
async function slidingPeersRow(ctx: BenchContext, bench: Record<string, unknown>) {
  const p = await slidingPeers({
    size: ctx.flags.slidingPicture,
    ...await onAutoBackend(ctx, bench),
  });
  bench.slidingPeers = p;
  console.log(
    `  part 1, one ${p.size}×${p.size} RGB picture slid over by Andrew's net (convolutional form, ` +
      `median of ${p.runs}): ${p.backend} ${seconds(p.slidewinMs)}; ONNX Runtime ${
        seconds(p.ortMs)
      }` +
      (p.ortDifference === undefined
        ? ""
        : ` (max difference ${p.ortDifference.toExponential(1)})`) +
      `, ${p.torch ?? "PyTorch"} ${seconds(p.torchMs)}`,
  );
}

/**
 * The one-picture rows, the data pipeline, RSS over many steps and the 1080×1080 sliding
 * comparison (wasm).
 */
async function extras(ctx: BenchContext, bench: Record<string, unknown>) {
  const { flags } = ctx;
  if (flags.picture > 0) await pictureRow(ctx, bench);
  if (flags.slidingPicture > 0) await slidingPeersRow(ctx, bench);
  await useBackend("wasm");
  const data = await benchData({ source: ctx.digits });
  bench.data = data;
  console.log(
    `  data pipeline (wasm, batch ${data.batchSize}): ${data.scenesPerSecond.toFixed(0)} scenes/s`,
  );
  if (flags.memorySteps > 0) {
    const samples = await memoryCheck(ctx, flags.memorySteps);
    bench.memory = samples;
    console.log(
      `  memory over ${flags.memorySteps} steps: RSS ${samples[0].rssMiB.toFixed(0)} → ${
        samples.at(-1)!.rssMiB.toFixed(0)
      } MiB, tensors ${samples[0].tensors} → ${samples.at(-1)!.tensors}`,
    );
  }
  if (flags.sliding) {
    await useBackend("wasm");
    const [row] = await timeSliding({ sizes: [1080], runs: () => 1 });
    bench.sliding1080 = row;
    console.log(
      `  sliding 1080×1080 ×5 (wasm): sequential ${(row.sequentialMs / 1000).toFixed(1)} s, ` +
        `convolutional ${(row.convolutionalMs / 1000).toFixed(1)} s, ${row.speedup.toFixed(2)}×`,
    );
  }
}

/** RSS over a long stretch of training steps on wasm (fresh scenes every step). */
async function memoryCheck(ctx: BenchContext, steps: number) {
  await useBackend("wasm");
  const batchSize = ctx.flags.batchSize;
  const model = buildModel(ctx.arch, { seed: 0 });
  const adam = new Adam(model.variables);
  const step = await createStep(model.arch, { backend: "wasm", box: "sum" });
  const samples: { step: number; rssMiB: number; tensors: number }[] = [];
  for (let s = 0; s < steps; s++) {
    const scenes = await makeScenes(ctx.digits, { count: batchSize, seed: 100 + s });
    const targets = encodeTargets(scenes.boxes, scenes.labels, model.grid(64));
    const { named } = await step.gradients(model, scenes.images, targets);
    adam.step(named, 1e-3);
    tf.dispose([scenes.images, targets]);
    if (s % Math.max(1, Math.floor(steps / 10)) === 0 || s === steps - 1) {
      samples.push({
        step: s + 1,
        rssMiB: Deno.memoryUsage().rss / 2 ** 20,
        tensors: tf.memory().numTensors,
      });
    }
  }
  step.close();
  adam.dispose();
  model.dispose();
  return samples;
}

/** ONNX Runtime and the export of the measured model (seed 0, as the rows build it), or why not. */
async function prepareOrt(flags: Flags, arch: readonly ArchLayer[]): Promise<BenchContext["ort"]> {
  if (!flags.ort) return "not asked for (--ort=false)";
  const ort = await loadOrt();
  if (typeof ort === "string") return ort;
  await useBackend("cpu");
  const model = buildModel(arch, { seed: 0 });
  const onnx = encodeOnnx(await readExportWeights(model));
  model.dispose();
  return { ort, onnx };
}

/** The task: usage, flags and what it does. */
export const task = defineTask({
  usage: "deno task bench",
  about: "Speed of training and inference against PyTorch and ONNX Runtime, and of the data.",
  flags: FLAGS,
  async run(flags) {
    const backends = await selectBackends(flags.backends);
    const arch = ARCHITECTURES[flags.arch];
    const cores = navigator.hardwareConcurrency ?? 1;
    const ctx: BenchContext = {
      flags,
      arch,
      rows: rowsFor(backends, cores),
      digits: (await loadMnist()).train,
      cores,
      ort: await prepareOrt(flags, arch),
      benchJson: `${flags.out}/bench.json`,
    };
    const peak = readPeak();
    const bench = await describeRun(ctx, peak);
    await writeJsonAtomic(ctx.benchJson, bench); // bench_torch.py reads the arch
    // rounds: every row, then the references, so the machine's slow minutes hit them alike
    const rounds: Round[] = [];
    for (let i = 0; i < flags.repeat; i++) rounds.push(await runRound(i, ctx));
    const summary = summarizeRounds(rounds);
    Object.assign(bench, { rounds, summary, backends: rounds[0].results });
    const table = summaryTable(summary, {
      forwardFlops: modelCost(arch).flops,
      peakGflops: peak?.gflops,
      torchThreads: rounds.find((r) => r.torch)?.torch?.threads,
      ortThreads: cores,
    });
    bench.table = table;
    console.log(
      `  medians (ranges) over ${flags.repeat} interleaved round(s); ratios within rounds:`,
    );
    for (const line of table) console.log(`  ${line}`);
    if (summary.ort && peak) {
      const t = throughput(summary.ort.infer.median, modelCost(arch).flops, 1, peak.gflops);
      console.log(
        `  ONNX Runtime reaches ${t.gflops.toFixed(0)} GFLOP/s, ${
          (100 * t.ofPeak!).toFixed(0)
        } % ` +
          `of the estimated peak, ${peak.assumption}`,
      );
    }
    await extras(ctx, bench);
    await writeJsonAtomic(ctx.benchJson, bench);
    console.log(`Wrote ${ctx.benchJson}`);
  },
});

if (import.meta.main) await task.main();
