/**
 * `deno task detect`: detects digits in one scene and draws them. The scene is a seeded
 * multi-digit scene (true boxes drawn in green) or a picture (`--image`: any PNG or JPEG, any size
 * ≥ the window, dark ink on light paper or light ink on dark — found from the picture, or forced
 * with `--invert` / `--polarity` — with its background and contrast normalised unless
 * `--no-normalize`; tasks/lib/picture.ts).
 *
 * Writes the picture to `--out` and prints the detections: one digit per place (reading's
 * class-agnostic NMS; `--no-class-agnostic --iou-threshold 0.3 --inside-threshold 1` for the
 * class-aware NMS `evaluate` scores mAP with).
 */
import { backendFlag, bf16Auto, useBackend } from "../src/backends/backend.ts";
import { backendLine } from "./lib/backend_line.ts";
import { loadModel, resolveModel } from "../src/model/checkpoint.ts";
import type { Model } from "../src/model/model.ts";
import {
  defineTask,
  DETECTION_FLAGS,
  detectionOptions,
  type FlagValues,
  modelFlag,
  PICTURE_FLAGS,
  pictureOptions,
  positiveInt,
  unit,
} from "../src/cli.ts";
import { detect } from "../src/detection/detect.ts";
import { READ_DETECTION } from "../src/detection/read.ts";
import { renderDetections } from "../src/pictures/draw_detections.ts";
import { writeFileAtomic } from "../src/io.ts";
import { pictureOrScene, SCENE_FLAGS, type TaskInput } from "./lib/picture.ts";

const FLAGS = {
  /** Folder of a trained model, or a shipped model by name. */
  model: modelFlag("detector"),
  // image, invert, polarity, normalize
  ...PICTURE_FLAGS,
  // seed, size, digits, mnist: the scene drawn when no --image is given
  ...SCENE_FLAGS,
  // scoreThreshold, iouThreshold, classAgnostic, containment, vote, offsets
  ...DETECTION_FLAGS,
  // one digit per place, as reading does (READ_DETECTION in src/detection/read.ts); `evaluate`
  // keeps class-aware NMS for mAP, where a place's second label is a lower-ranked guess
  classAgnostic: { ...DETECTION_FLAGS.classAgnostic, default: READ_DETECTION.classAgnostic! },
  iouThreshold: { ...DETECTION_FLAGS.iouThreshold, default: READ_DETECTION.iouThreshold! },
  insideThreshold: {
    ...DETECTION_FLAGS.insideThreshold,
    default: READ_DETECTION.insideThreshold!,
  },
  /** Smallest score drawn (all detections are printed). */
  minScore: { default: 0.5, help: "Smallest (rescored) score drawn; all are printed", check: unit },
  /** Upscaling of the picture. */
  scale: { default: 3, help: "Upscaling of the picture (nearest neighbour)", check: positiveInt },
  /** tfjs backend. */
  backend: backendFlag("auto"),
  /** Output PNG. */
  out: { default: "runs/detect/detections.png", help: "Output PNG" },
};

/** The task: usage, flags and what it does. */
export const task = defineTask({
  usage: "deno task detect",
  about: "Detects digits in a seeded multi-digit scene or a PNG and draws them.",
  flags: FLAGS,
  async run(flags) {
    const picture = pictureOptions(flags);
    const where = await resolveModel(flags.model);
    await useBackend(flags.backend, await bf16Auto());
    console.log(backendLine(flags.backend));
    const { model } = await loadModel(where);
    try {
      const input = await pictureOrScene(flags, { ...picture, window: model.geometry.size });
      try {
        await detectAndDraw(model, input, flags);
      } finally {
        input.images.dispose();
      }
    } finally {
      model.dispose();
    }
    return 0;
  },
});

/** Detects, draws and prints. */
async function detectAndDraw(
  model: Model,
  { images, truths, source }: TaskInput,
  flags: FlagValues<typeof FLAGS>,
): Promise<void> {
  const [found] = await detect(model, images, detectionOptions(flags));
  const name = truths ? `${source}, ${truths.length} digits` : source;
  const drawn = found.filter((d) => d.score >= flags.minScore);
  const header =
    `${name}: ${found.length} detections, ${drawn.length} with score ≥ ${flags.minScore}` +
    (truths ? ` · true ${truths.map((t) => t.label).join(" ")}` : "");
  const png = await renderDetections(images, {
    detections: drawn,
    truths,
    scale: flags.scale,
    header,
  });
  await writeFileAtomic(flags.out, png);
  for (const d of found) {
    const box = d.box.map((v) => v.toFixed(1)).join(", ");
    console.log(`${d.label}  score ${d.score.toFixed(3)}  box [${box}]`);
  }
  console.log(`${header}\nwrote ${flags.out}`);
}

if (import.meta.main) await task.main();
