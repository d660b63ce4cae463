/**
 * `deno task read` — reads the numbers in a picture: detects the digits (src/detection/detect.ts)
 * and groups them into lines and numbers (src/detection/read.ts). The picture is `--image` (any
 * PNG or JPEG, dark ink on light paper or light ink on dark; tasks/lib/picture.ts) or a seeded
 * multi-digit scene. Prints each number with its box and confidence, lines top to bottom, and
 * draws them (`--out`).
 */
import { backendFlag, bf16Auto, useBackend } from "../src/backends/backend.ts";
import { backendLine } from "./lib/backend_line.ts";
import { loadModel, resolveModel } from "../src/model/checkpoint.ts";
import {
  defineTask,
  DETECTION_FLAGS,
  detectionOptions,
  modelFlag,
  PICTURE_FLAGS,
  pictureOptions,
  positiveInt,
  unit,
} from "../src/cli.ts";
import { READ_DETECTION, type ReadNumber, readNumbers } from "../src/detection/read.ts";
import { renderDetections } from "../src/pictures/draw_detections.ts";
import { writeFileAtomic } from "../src/io.ts";
import { pictureOrScene, SCENE_FLAGS } from "./lib/picture.ts";

const FLAGS = {
  /** Folder of a trained model, or a shipped model by name. */
  model: modelFlag("detector"),
  // image, invert, polarity, normalize
  ...PICTURE_FLAGS,
  // seed, size, digits, mnist: the scene drawn when no --image is given
  ...SCENE_FLAGS,
  // scoreThreshold, iouThreshold, classAgnostic, containment, select, vote, maxDetections
  ...DETECTION_FLAGS,
  // reading's NMS: one digit per place (READ_DETECTION in src/detection/read.ts)
  classAgnostic: { ...DETECTION_FLAGS.classAgnostic, default: READ_DETECTION.classAgnostic! },
  iouThreshold: { ...DETECTION_FLAGS.iouThreshold, default: READ_DETECTION.iouThreshold! },
  insideThreshold: {
    ...DETECTION_FLAGS.insideThreshold,
    default: READ_DETECTION.insideThreshold!,
  },
  /** Most digits kept per picture. */
  maxDetections: {
    default: READ_DETECTION.maxDetections!,
    help: "Most digits per picture",
    check: positiveInt,
  },
  /** Digits with a lower score are not read. */
  minScore: {
    default: 0.5,
    help: "Smallest (rescored) score of a digit that is read",
    check: unit,
  },
  /** Share of the smaller height two digits of a line overlap by. */
  lineOverlap: {
    default: 0.65,
    help:
      "Vertical overlap (share of the smaller height) that puts a digit reaching over its left neighbour on its line (0.5 beside it)",
    check: unit,
  },
  /** Gap that ends a number, in digit heights. */
  numberGap: {
    default: 0.6,
    help: "A gap wider than this times the taller digit's height starts a new number",
    check: (v: number): string | undefined => v >= 0 ? undefined : "must be ≥ 0",
  },
  /** Upscaling of the picture. */
  scale: { default: 3, help: "Upscaling of the picture (nearest neighbour)", check: positiveInt },
  /** tfjs backend. */
  backend: backendFlag("auto"),
  /** Output PNG. */
  out: { default: "runs/read/numbers.png", help: "Output PNG" },
};

const box = (b: readonly number[]) => `[${b.map((v) => v.toFixed(1)).join(", ")}]`;

/** The lines of the report: one per number, grouped by line top to bottom. */
function report(numbers: readonly ReadNumber[]): string[] {
  return numbers.map((n) =>
    `line ${n.line + 1}  ${n.text.padEnd(8)} box ${box(n.box)}  confidence ` +
    `${n.confidence.toFixed(3)}  (${
      n.digits.map((d) => `${d.label} ${d.score.toFixed(2)}`).join(", ")
    })`
  );
}

/** The task: usage, flags and what it does. */
export const task = defineTask({
  usage: "deno task read",
  about: "Reads the numbers in a PNG or JPEG (or a seeded scene): digits grouped into lines " +
    "and numbers, printed with boxes and confidence, and drawn.",
  flags: FLAGS,
  async run(flags) {
    const picture = pictureOptions(flags);
    const where = await resolveModel(flags.model);
    await useBackend(flags.backend, await bf16Auto());
    console.log(backendLine(flags.backend));
    const { model } = await loadModel(where);
    try {
      const { images, truths, source } = await pictureOrScene(flags, {
        ...picture,
        window: model.geometry.size,
      });
      try {
        const [reading] = await readNumbers(model, images, {
          ...detectionOptions(flags),
          maxDetections: flags.maxDetections,
          group: {
            minScore: flags.minScore,
            lineOverlap: flags.lineOverlap,
            numberGap: flags.numberGap,
          },
        });
        const { numbers } = reading;
        const lines = numbers.length ? numbers[numbers.length - 1].line + 1 : 0;
        const header = `${source}: ${numbers.length} number${numbers.length === 1 ? "" : "s"} ` +
          `on ${lines} line${lines === 1 ? "" : "s"}: ` +
          (numbers.map((n, i) => (i && n.line !== numbers[i - 1].line ? "| " : "") + n.text).join(
            " ",
          ) || "none") +
          (truths ? ` · true digits ${truths.map((t) => t.label).join(" ")}` : "");
        const png = await renderDetections(images, {
          detections: reading.detections.filter((d) => d.score >= flags.minScore),
          truths,
          numbers,
          scale: flags.scale,
          header,
        });
        await writeFileAtomic(flags.out, png);
        for (const line of report(numbers)) console.log(line);
        console.log(`${header}\nwrote ${flags.out}`);
      } finally {
        images.dispose();
      }
    } finally {
      model.dispose();
    }
    return 0;
  },
});

if (import.meta.main) await task.main();
