/**
 * `deno task visualize` — part 2, step 6 of the assignment: the 30 test scenes in a 6 × 5 grid with
 * the true box (green) and the predicted box (red), or with `--windows` one scene with its sliding
 * windows and their objectness.
 *
 * Writes `<model>/predictions.png` (or `<model>/windows.png`) unless `--out` says otherwise.
 */
import { backendFlag, useBackend } from "../src/backends/backend.ts";
import { backendLine } from "./lib/backend_line.ts";
import {
  defineTask,
  modelFlag,
  nonNegativeInt,
  positiveInt,
  PREDICTION_FLAGS,
  predictionFlagOptions,
  UsageError,
} from "../src/cli.ts";
import { tf } from "../src/deps.ts";
import { renderPredictions, renderWindowMap } from "../src/pictures/draw.ts";
import { writeFileAtomic } from "../src/io.ts";
import { iou, localizationMetrics } from "../src/metrics.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { buildModel } from "../src/model/model.ts";
import { loadModel, PRETRAINED_MODEL, resolveModel } from "../src/model/checkpoint.ts";
import { predict, type PredictionRule, predictionRule } from "../src/model/predict.ts";
import { makeScenes } from "../src/data/scenes.ts";
import { OUTPUT } from "../src/model/layout.ts";

const FLAGS = {
  /** Folder of the trained model. */
  model: modelFlag("runs/latest"),
  /** Output PNG; default `<model>/predictions.png` or `<model>/windows.png`. */
  out: { default: "", help: "Output PNG (default: <model>/predictions.png or windows.png)" },
  /** Seed choosing the 30 test digits and their scenes. */
  seed: { default: 0, help: "Seed of the test digits and scenes", check: nonNegativeInt },
  /** Draw one scene's window map instead of the prediction grid. */
  windows: { default: false, help: "Draw one scene's sliding windows and objectness instead" },
  /** Which of the test scenes the window map shows. */
  index: { default: 0, help: "Test scene shown by --windows (0-29)", check: nonNegativeInt },
  /** Scenes per row of the grid. */
  cols: { default: 5, help: "Scenes per row of the grid", check: positiveInt },
  /** Upscaling of each scene (nearest neighbour). */
  scale: { default: 4, help: "Upscaling of each scene (≥ 4 for the grid)", check: positiveInt },
  /** The prediction rule: the model's recorded one unless given. */
  ...PREDICTION_FLAGS,
  /** Use a freshly initialised model (to try the pictures without training). */
  untrained: { default: false, help: "Use an untrained model (to try the pictures)" },
  /** tfjs backend. */
  backend: backendFlag("auto"),
};

const TEST_COUNT = 30;

/**
 * The model `--model` names and where its pictures go: a folder holding model.json, a shipped model
 * by name (pictures to runs/<name>/), or, for the default runs/latest with nothing trained there
 * yet, the shipped localizer (with a notice); null otherwise.
 */
async function openModel(name: string, isDefault: boolean) {
  let where = await resolveModel(name).catch(() => null);
  if (where === null && isDefault) {
    console.error(
      `notice: no model in ${name}; using the pretrained model (models/default). ` +
        "Train your own with `deno task train`.",
    );
    where = PRETRAINED_MODEL;
  }
  if (where === null) return null;
  const shipped = typeof where !== "string";
  const label = where === PRETRAINED_MODEL ? "default" : name;
  return {
    ...await loadModel(where),
    modelName: shipped ? `pretrained models/${label}` : name,
    outDir: shipped && !isDefault ? `runs/${name}` : name,
  };
}

const pct = (v: number) => v.toFixed(3);

/** "select class, vote 0": the prediction rule as the flags spell it, for the picture's header. */
export function ruleText(rule: PredictionRule): string {
  return `select ${rule.select}, vote ${rule.vote}`;
}

/** The task: usage, flags and what it does. */
export const task = defineTask({
  usage: "deno task visualize",
  about:
    "Draws the 30 test scenes with true (green) and predicted (red) boxes, or with --windows " +
    "one scene's sliding windows.",
  flags: FLAGS,
  async run(flags) {
    if (flags.index >= TEST_COUNT) {
      throw new UsageError(
        `--index must be below ${TEST_COUNT} (the test scenes), got ${flags.index}`,
      );
    }
    await useBackend(flags.backend);
    console.log(backendLine(flags.backend));
    const loaded = flags.untrained
      ? {
        model: buildModel(undefined, { seed: flags.seed }),
        extra: {},
        modelName: "untrained",
        outDir: flags.model,
      }
      : await openModel(flags.model, flags.model === FLAGS.model.default);
    if (!loaded) {
      throw new Error(
        `No trained model in ${flags.model} (no model.json): train one with \`deno task train\` ` +
          `(or pass --model DIR, a shipped model: default, detector, assignment, or --untrained)`,
      );
    }
    const { modelName, outDir } = loaded;
    const { model } = loaded;
    const mnist = await loadMnist({ seed: flags.seed, testCount: TEST_COUNT });
    const scenes = await makeScenes(mnist.test, { count: TEST_COUNT, seed: flags.seed });
    try {
      const rule = predictionRule(model, predictionFlagOptions(flags));
      const p = await predict(model, scenes.images, rule);
      const name = (flags.untrained ? "untrained model" : `model ${modelName}`) +
        ` · ${ruleText(rule)}`;
      let png: Uint8Array;
      let out = flags.out;
      if (!flags.windows) {
        const m = localizationMetrics(p, scenes);
        png = await renderPredictions({
          images: scenes.images,
          trueBoxes: scenes.boxes,
          predBoxes: p.boxes,
          trueLabels: scenes.labels,
          predLabels: p.labels,
          cols: flags.cols,
          scale: flags.scale,
          header: `${name} · ${TEST_COUNT} test scenes (seed ${flags.seed}): accuracy ${
            pct(m.accuracy)
          } · mean IoU ${pct(m.meanIou)} · hit rate ${pct(m.hitRate)}`,
        });
        out ||= `${outDir}/predictions.png`;
      } else {
        const i = flags.index;
        const [, h, w] = scenes.images.shape;
        const grid = model.grid(h, w);
        const objectness = tf.tidy(() => {
          const one = tf.slice(scenes.images, [i, 0, 0, 0], [1, -1, -1, -1]);
          return tf.sigmoid(
            tf.slice(model.apply(one), [0, 0, 0, OUTPUT.objectness], [1, -1, -1, 1]),
          );
        });
        const image = tf.slice(scenes.images, [i, 0, 0, 0], [1, -1, -1, -1]);
        const box = p.boxes.slice(4 * i, 4 * i + 4);
        const trueBox = scenes.boxes.slice(4 * i, 4 * i + 4);
        const chosen = { row: Math.floor(p.windows[i] / grid.cols), col: p.windows[i] % grid.cols };
        png = await renderWindowMap({
          image,
          objectness: (await objectness.data()) as Float32Array,
          grid,
          chosen,
          box,
          trueBox,
          scale: Math.max(flags.scale, 6),
          title: `${name} · test scene ${i}: true ${scenes.labels[i]}, pred ${p.labels[i]}, IoU ${
            iou(box, trueBox).toFixed(2)
          } · ${grid.rows}×${grid.cols} windows of ${grid.size} px, stride ${grid.stride}`,
        });
        image.dispose();
        objectness.dispose();
        out ||= `${outDir}/windows.png`;
      }
      await writeFileAtomic(out, png); // makes the folder too
      console.log(`Wrote ${out}`);
    } finally {
      scenes.images.dispose();
      model.dispose();
    }
  },
});

if (import.meta.main) await task.main();
