/**
 * The one way a picture reaches the net — in `deno task detect`, `deno task read`, the library's
 * {@linkcode readNumbers} callers and the web app: grey pixels ({@linkcode GrayImage}, from
 * src/data/image_file.ts in Deno or a canvas in the browser), normalised by
 * src/data/normalize.ts (polarity found from the picture, background and contrast), as a
 * `[1, H, W, 1]` tensor.
 *
 * @module
 */
import { type Tensor4D, tf } from "../deps.ts";
import { checkGray, type GrayImage } from "./gray.ts";
import type { DecodeImageOptions } from "./image_file.ts";
import { type NormalizedImage, normalizeImage, type NormalizeOptions } from "./normalize.ts";

/** Options of {@linkcode prepareGray}: normalisation, or none. */
export interface PrepareOptions extends Omit<NormalizeOptions, "out"> {
  /**
   * Remove the background and stretch the contrast (default true). false: the pixels go to the
   * net as they are, only inverted when the polarity (found or forced) is "dark-ink".
   */
  normalize?: boolean;
}

/** A picture ready for the net. Dispose `tensor` when done. */
export interface PreparedImage {
  /** `[1, H, W, 1]` float32, white ink on black in [0, 1]. */
  tensor: Tensor4D;
  /** The pixels of `tensor` with what normalisation did (polarity, noise, levels). */
  image: NormalizedImage;
  /** Background, noise and contrast were normalised (`options.normalize`). */
  normalized: boolean;
}

/**
 * Prepares grey pixels for the net: {@linkcode normalizeImage} (with `normalize: false` only the
 * polarity: no background, denoising or contrast step), then a `[1, H, W, 1]` tensor on the current tfjs backend (choose one first, e.g.
 * `useBackend`, as for `makeScenes`).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backends/backend.ts";
 * await useBackend("cpu");
 * import { prepareGray } from "./prepare.ts";
 * const data = new Float32Array(64 * 64).fill(0.8); // light paper…
 * for (let y = 20; y < 44; y++) data[y * 64 + 32] = 0.1; // …and a dark stroke
 * const { tensor, image } = prepareGray({ width: 64, height: 64, data });
 * console.log(tensor.shape, image.polarity); // [1, 64, 64, 1] dark-ink
 * tensor.dispose();
 * ```
 */
export function prepareGray(gray: GrayImage, options: PrepareOptions = {}): PreparedImage {
  checkGray(gray, "gray");
  const { normalize = true, ...rest } = options;
  const image = normalizeImage(
    gray,
    normalize ? rest : { ...rest, background: false, contrast: false, denoise: false },
  );
  const tensor = tf.tensor4d(image.data, [1, image.height, image.width, 1]);
  return { tensor, image, normalized: normalize };
}

/** Options of {@linkcode prepareImage}: decoding and preparing. */
export interface PrepareImageOptions extends PrepareOptions, DecodeImageOptions {}

/**
 * Prepares a picture for the net: PNG or JPEG bytes are decoded by src/data/image_file.ts
 * (`decodeImage`, loaded on first use, so browser bundles that pass grey pixels do not carry the
 * decoder), grey pixels go straight to {@linkcode prepareGray}.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backends/backend.ts";
 * await useBackend("cpu");
 * import { prepareImage } from "./prepare.ts";
 * const { tensor, image } = await prepareImage(await Deno.readFile("models/default/curves.png"));
 * console.log(image.polarity); // dark-ink (dark curves on a white chart)
 * tensor.dispose();
 * ```
 */
export async function prepareImage(
  input: Uint8Array | GrayImage,
  options: PrepareImageOptions = {},
): Promise<PreparedImage> {
  if (input instanceof Uint8Array) {
    const { name, maxPixels, matte, ...rest } = options;
    const { decodeImage } = await import("./image_file.ts");
    return prepareGray(await decodeImage(input, { name, maxPixels, matte }), rest);
  }
  return prepareGray(input, options);
}
