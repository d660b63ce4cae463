/**
 * `deno task bench` — how fast the default model trains and infers on each available backend,
 * how fast the data pipeline makes scenes, and sequential vs convolutional sliding at 1080×1080;
 * with PyTorch's numbers on the same architecture measured in the same run when torch is
 * installed. Prints a table and writes `<out>/bench.json`.
 */
import { Adam } from "../src/training/adam.ts";
import {
  autoNotice,
  type Backend,
  BACKENDS,
  decideAuto,
  describeBackend,
  nativeNotice,
  useBackend,
} from "../src/backends/backend.ts";
import { defineTask, nonNegativeInt, positiveInt, UsageError } from "../src/cli.ts";
import { benchData } from "./lib/data_bench.ts";
import { tf } from "../src/deps.ts";
import { encodeTargets } from "../src/data/encode.ts";
import { writeJsonAtomic } from "../src/io.ts";
import { createStep } from "../src/training/step.ts";
import { trainingProbe } from "../src/training/probe.ts";
import { loadMnist, type MnistSplit } from "../src/data/mnist.ts";
import { buildModel, DEFAULT_ARCH, type Model, modelCost } from "../src/model/model.ts";
import { LOSS_TERMS } from "../src/model/loss/terms.ts";
import { makeScenes } from "../src/data/scenes.ts";
import { timeSliding } from "./lib/sliding_study.ts";
import { median } from "./lib/stats.ts";
import { formatSpread, type Round, summarizeRounds } from "./lib/bench_summary.ts";

const FLAGS = {
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
  /** Run tasks/bench_torch.py when python3 has torch. */
  torch: { default: true as boolean, help: "Measure PyTorch on the same architecture" },
  /** Steps of the long-run memory check (RSS sampled along the way). */
  memorySteps: {
    default: 300,
    help: "Training steps of the RSS check (0: skip)",
    check: nonNegativeInt,
  },
  /** Interleaved rounds of all rows and PyTorch; medians and ranges when more than one. */
  repeat: { default: 1, help: "Rounds of every row and PyTorch, interleaved", check: positiveInt },
  /** Where bench.json goes. */
  out: { default: "runs/bench", help: "Output folder" },
};

interface BackendResult {
  backend: string;
  description: string;
  batchSize: number;
  firstStepMs: number;
  trainImagesPerSecond: number;
  trainStepMs: number;
  inferImagesPerSecond: number;
  steps: number;
}

/** One row of the bench: a backend, its Worker threads, and how gradients are computed. */
interface Row {
  backend: Backend;
  workers: number;
  /** Forces tfjs's tape on a backend whose own step is native (its kernels under the tape). */
  tape: boolean;
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

async function benchRow(
  row: Row,
  digits: MnistSplit,
  options: { batchSize: number; steps: number },
): Promise<BackendResult> {
  const { backend, workers, tape } = row;
  await useBackend(backend.name);
  // cpu is pure JavaScript (seconds per step): a few small steps tell its speed
  const slow = !backend.fast;
  const batchSize = slow ? 4 : options.batchSize;
  const steps = slow ? 2 : options.steps;
  const model: Model = buildModel(DEFAULT_ARCH, { seed: 0 });
  const adam = new Adam(model.variables);
  const scenes = await makeScenes(digits, { count: batchSize, seed: 1 });
  const targets = encodeTargets(scenes.boxes, scenes.labels, model.grid(64));
  // the training step of `deno task train` (src/training/step.ts)
  const step = await createStep(model.arch, {
    backend,
    workers,
    box: "sum",
    ...(tape ? { method: "tape" as const } : {}),
  });
  const trainStep = async () => {
    const t = performance.now();
    const { named, parts } = await step.gradients(model, scenes.images, targets);
    adam.step(named, 1e-3);
    void parts.total;
    return performance.now() - t;
  };
  // described while training runs (the pool sets OpenBLAS to one thread per caller)
  const describe = describeBackend() + (workers > 0 ? ` + ${workers} Worker(s)` : "") +
    (tape ? ", gradients by tfjs's tape" : backend.method === "native" ? ", native step" : "");
  const firstStepMs = await trainStep();
  for (let i = 0; i < (slow ? 0 : 3); i++) await trainStep();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) times.push(await trainStep());
  // inference as `predict` runs it: the step's forward (all its threads)
  const infer = async () => {
    const t = performance.now();
    const out = await step.forward(model, scenes.images);
    await out.data();
    out.dispose();
    return performance.now() - t;
  };
  for (let i = 0; i < (slow ? 0 : 3); i++) await infer();
  const inferTimes: number[] = [];
  for (let i = 0; i < steps; i++) inferTimes.push(await infer());
  step.close();
  const result = {
    backend: tape
      ? `${backend.name}-tape`
      : workers > 0
      ? `${backend.name}+${workers}w`
      : backend.name,
    description: describe,
    batchSize,
    firstStepMs,
    trainStepMs: median(times),
    trainImagesPerSecond: batchSize / (median(times) / 1000),
    inferImagesPerSecond: batchSize / (median(inferTimes) / 1000),
    steps,
  };
  tf.dispose([scenes.images, targets]);
  adam.dispose();
  model.dispose();
  return result;
}

/** RSS over a long stretch of training steps on wasm (fresh scenes every step). */
async function memoryCheck(digits: MnistSplit, steps: number, batchSize: number) {
  await useBackend("wasm");
  const model = buildModel(DEFAULT_ARCH, { seed: 0 });
  const adam = new Adam(model.variables);
  const step = await createStep(model.arch, { backend: "wasm", box: "sum" });
  const samples: { step: number; rssMiB: number; tensors: number }[] = [];
  for (let s = 0; s < steps; s++) {
    const scenes = await makeScenes(digits, { count: batchSize, seed: 100 + s });
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

async function torchReference(benchJson: string, batchSize: number) {
  for (const python of ["/usr/bin/python3", "python3"]) {
    try {
      const out = await new Deno.Command(python, {
        args: ["tasks/bench_torch.py", benchJson, "--batch", String(batchSize), "--steps", "20"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (out.code === 0) return JSON.parse(new TextDecoder().decode(out.stdout).trim());
    } catch {
      // no such interpreter
    }
  }
  return null;
}

/** The CPU's model name (Linux /proc/cpuinfo), for the record; "" elsewhere. */
function cpuModel(): string {
  try {
    const text = Deno.readTextFileSync("/proc/cpuinfo");
    return text.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? "";
  } catch {
    return "";
  }
}

/** The backends worth a row here: CPU ones that run, GPU ones only on real hardware. */
async function availableBackends(): Promise<Backend[]> {
  const list: Backend[] = [];
  for (const b of BACKENDS) {
    const usable = b.device === "gpu" ? await b.pickedByAuto() : !(await b.unavailable());
    if (usable) list.push(b);
  }
  return list;
}

/** The task: usage, flags and what it does. */
export const task = defineTask({
  usage: "deno task bench",
  about: "Speed of training, inference and data.",
  flags: FLAGS,
  async run(flags) {
    const backends = flags.backends === "available"
      ? await availableBackends()
      : flags.backends.split(",").map((text) => {
        const name = text.trim();
        const b = BACKENDS.find((d) => d.name === name);
        if (!b) {
          const names = BACKENDS.map((d) => d.name).join(", ");
          throw new UsageError(`--backends: unknown backend "${name}"; use ${names}`);
        }
        return b;
      });
    for (const b of backends) {
      const why = await b.unavailable();
      if (why) throw new UsageError(`--backends: "${b.name}" cannot run here: ${why}`);
    }
    const mnist = await loadMnist();
    const cost = modelCost(DEFAULT_ARCH);
    console.log(
      `Model wide (what deno task train trains): ${cost.params} parameters, ` +
        `${(cost.flops / 1e6).toFixed(1)} MFLOP/image forward, grid ${cost.grid.rows}×` +
        `${cost.grid.cols}; batch ${flags.batchSize}`,
    );
    console.log(`  ${nativeNotice()}`);
    // what `deno task train`'s auto picks here, and why (measured once, then cached)
    const auto = await decideAuto({
      probe: trainingProbe({ arch: DEFAULT_ARCH, batchSize: flags.batchSize }),
    });
    console.log(`  ${autoNotice(auto)}`);
    const cores = navigator.hardwareConcurrency ?? 1;
    const runs = rowsFor(backends, cores);
    const bench: Record<string, unknown> = {
      date: new Date().toISOString(),
      deno: Deno.version.deno,
      tfjs: tf.version_core,
      cpu: cpuModel(),
      openblasCoretype: Deno.env.get("OPENBLAS_CORETYPE") ?? null,
      arch: DEFAULT_ARCH,
      lossTerms: LOSS_TERMS.map((t) => t.name),
      inputSize: 64,
      batchSize: flags.batchSize,
      model: cost,
      auto: { notice: autoNotice(auto), ...auto },
    };
    await writeJsonAtomic(`${flags.out}/bench.json`, bench); // bench_torch.py reads the arch
    // rounds: every row, then PyTorch, so the machine's slow minutes hit them alike
    const rounds: Round[] = [];
    for (let round = 0; round < flags.repeat; round++) {
      if (flags.repeat > 1) console.log(`  round ${round + 1}/${flags.repeat}`);
      console.log(
        `  ${"row".padEnd(12)} ${"train img/s".padStart(11)} ${"step ms".padStart(8)} ` +
          `${"first ms".padStart(8)} ${"infer img/s".padStart(11)}  what`,
      );
      const results: BackendResult[] = [];
      for (const row of runs) {
        const r = await benchRow(row, mnist.train, flags);
        results.push(r);
        console.log(
          `  ${r.backend.padEnd(12)} ${r.trainImagesPerSecond.toFixed(1).padStart(11)} ${
            r.trainStepMs.toFixed(1).padStart(8)
          } ${r.firstStepMs.toFixed(0).padStart(8)} ${
            r.inferImagesPerSecond.toFixed(0).padStart(11)
          }  ${r.description} (batch ${r.batchSize})`,
        );
      }
      const torch = flags.torch
        ? await torchReference(`${flags.out}/bench.json`, flags.batchSize)
        : null;
      if (torch) {
        console.log(
          `  ${torch.framework} (${torch.threads} threads): train ${
            torch.trainImagesPerSecond.toFixed(1)
          } img/s, infer ${torch.inferImagesPerSecond.toFixed(0)} img/s`,
        );
        for (const r of results) {
          const train = r.trainImagesPerSecond / torch.trainImagesPerSecond;
          const infer = r.inferImagesPerSecond / torch.inferImagesPerSecond;
          console.log(
            `    ${r.backend.padEnd(10)} / PyTorch: train ${train.toFixed(2)}×, ` +
              `infer ${infer.toFixed(2)}×`,
          );
        }
      } else if (flags.torch && round === 0) {
        console.log("  PyTorch: not installed (apt-get install python3-torch), skipped");
      }
      rounds.push({ results, torch });
    }
    const summary = summarizeRounds(rounds);
    bench.backends = rounds[0].results;
    bench.pytorch = rounds[0].torch;
    bench.rounds = rounds;
    bench.summary = summary;
    if (summary.torch) {
      bench.ratios = Object.fromEntries(
        summary.rows.map((
          r,
        ) => [r.backend, { train: r.trainRatio!.median, infer: r.inferRatio!.median }]),
      );
    }
    if (flags.repeat > 1) {
      console.log(`  medians (ranges) over ${flags.repeat} interleaved rounds:`);
      for (const r of summary.rows) {
        const ratio = r.trainRatio
          ? `; vs PyTorch train ${formatSpread(r.trainRatio, 2)}, infer ${
            formatSpread(r.inferRatio!, 2)
          }`
          : "";
        console.log(
          `    ${r.backend.padEnd(12)} train ${formatSpread(r.train)} img/s, infer ${
            formatSpread(r.infer)
          }${ratio}`,
        );
      }
      if (summary.torch) {
        console.log(
          `    ${"PyTorch".padEnd(12)} train ${formatSpread(summary.torch.train)} img/s, infer ${
            formatSpread(summary.torch.infer)
          }`,
        );
      }
    }
    await useBackend("wasm");
    const data = await benchData({ source: mnist.train });
    bench.data = data;
    console.log(
      `  data pipeline (wasm, batch ${data.batchSize}): ${
        data.scenesPerSecond.toFixed(0)
      } scenes/s`,
    );
    if (flags.memorySteps > 0) {
      const samples = await memoryCheck(mnist.train, flags.memorySteps, flags.batchSize);
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
    await writeJsonAtomic(`${flags.out}/bench.json`, bench);
    console.log(`Wrote ${flags.out}/bench.json`);
  },
});

if (import.meta.main) await task.main();
