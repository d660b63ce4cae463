/**
 * `--image` of `deno task detect` and `deno task read`: the picture file decoded
 * (src/data/image_file.ts), prepared for the net (src/data/prepare.ts), checked against the
 * model's window, and described in one line.
 *
 * @module
 */
import { UsageError } from "../../src/cli.ts";
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
