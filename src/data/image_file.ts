/**
 * Pictures as people have them, read into a grey {@linkcode GrayImage}: any PNG (grey,
 * grey + alpha, RGB, RGBA, palette, with or without a tRNS chunk, 1- to 16-bit, interlaced or not)
 * and any JPEG (baseline or progressive, grey, YCbCr or CMYK, with its EXIF orientation applied).
 * GIF, WebP and BMP files load too (first frame).
 *
 * Decoding is Skia's (npm:canvaskit-wasm, the library's picture runtime of
 * src/pictures/png.ts); specs/image_file_test.ts checks every format above against files it
 * writes itself. Skia reads 16-bit PNG samples to 8 bits, so values come in steps of 1/255.
 * Colour pixels become luma, transparent pixels are composited on the picture's own background
 * (src/data/gray.ts says how).
 *
 * Before decoding, the file's header is read: a file that is empty, of another format (PDF,
 * TIFF, HEIC, …), truncated, damaged (a PNG chunk whose CRC does not match), or larger than
 * `maxPixels` is refused with a one-line error. (A damaged JPEG has no checksum: Skia decodes what it
 * can.)
 *
 * @module
 */
import { canvasKit } from "../pictures/png.ts";
import { type GrayConversion, grayFromRgba, type GrayOptions } from "./gray.ts";

/** The formats {@linkcode decodeImage} reads. */
export type ImageFormat = "png" | "jpeg" | "gif" | "webp" | "bmp";

/** What a picture's header says, before decoding. */
export interface ImageHeader {
  /** The format, from the file's first bytes. */
  format: ImageFormat;
  /** Width in pixels (0 when the header does not say, e.g. GIF and WebP are not parsed). */
  width: number;
  /** Height in pixels (0 when the header does not say). */
  height: number;
  /** A few words on the encoding, e.g. "PNG 16-bit grey+alpha" or "JPEG progressive, 3 channels". */
  detail: string;
}

/** Options of {@linkcode decodeImage}. */
export interface DecodeImageOptions extends GrayOptions {
  /** How errors name the picture (a file path); default "the picture". */
  name?: string;
  /** Largest picture accepted, in pixels; default 50 000 000 (e.g. 8 000 × 6 250). */
  maxPixels?: number;
}

/** A decoded picture: grey pixels plus what the file was. */
export interface DecodedImage extends GrayConversion {
  /** The file's format. */
  format: ImageFormat;
  /** The header's description of the encoding. */
  detail: string;
}

const PNG_COLOR: Record<number, string> = {
  0: "grey",
  2: "RGB",
  3: "palette",
  4: "grey+alpha",
  6: "RGBA",
};

const ascii = (bytes: Uint8Array, from: number, to: number) =>
  String.fromCharCode(...bytes.subarray(from, to));

/** Names of formats that are recognised but not read, by their first bytes. */
function otherFormat(bytes: Uint8Array): string | undefined {
  const head = ascii(bytes, 0, 12);
  if (head.startsWith("%PDF")) return "a PDF document";
  if (head.startsWith("II*\0") || head.startsWith("MM\0*")) return "a TIFF picture";
  if (/^....ftyp(heic|heix|hevc|mif1|msf1)/.test(head)) return "a HEIC picture";
  if (/^....ftypavif/.test(head)) return "an AVIF picture";
  if (head.startsWith("<svg") || head.startsWith("<?xml")) return "an SVG/XML file";
  if (bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 1 && bytes[3] === 0) return "an ICO icon";
  return undefined;
}

/**
 * The format of `bytes` from its first bytes (its signature), or null when it is none that
 * {@linkcode decodeImage} reads.
 *
 * @example
 * ```ts
 * import { imageFormat } from "./image_file.ts";
 * console.log(imageFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))); // "jpeg"
 * ```
 */
export function imageFormat(bytes: Uint8Array): ImageFormat | null {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 4) === "PNG") return "png";
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (b.length >= 6 && /^GIF8[79]a/.test(ascii(b, 0, 6))) return "gif";
  if (b.length >= 12 && ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WEBP") return "webp";
  if (b.length >= 26 && ascii(b, 0, 2) === "BM") return "bmp";
  return null;
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (the PNG one) of `bytes`. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * PNG: IHDR's size and encoding; walks the chunks to IEND (a missing IEND means truncated) and
 * checks each chunk's CRC (Skia decodes damaged data silently, as black).
 */
function pngHeader(b: Uint8Array, name: string): ImageHeader {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 33 || ascii(b, 12, 16) !== "IHDR") {
    throw new Error(`${name} is not a valid PNG: its IHDR chunk is missing; the file is damaged`);
  }
  const width = view.getUint32(16), height = view.getUint32(20);
  const depth = b[24], color = b[25], interlaced = b[28] === 1;
  let at = 8, ended = false;
  while (at + 12 <= b.length) {
    const length = view.getUint32(at);
    const type = ascii(b, at + 4, at + 8);
    if (at + 12 + length <= b.length) {
      const crc = view.getUint32(at + 8 + length);
      if (crc32(b.subarray(at + 4, at + 8 + length)) !== crc) {
        throw new Error(
          `${name} is a damaged PNG (its ${JSON.stringify(type)} chunk fails its CRC check); ` +
            `re-save or re-copy it`,
        );
      }
    }
    at += 12 + length;
    if (type === "IEND") {
      ended = at <= b.length;
      break;
    }
  }
  if (!ended) {
    throw new Error(
      `${name} is a truncated PNG (it ends before its IEND chunk); re-save or re-copy it`,
    );
  }
  const kind = PNG_COLOR[color] ?? `colour type ${color}`;
  return {
    format: "png",
    width,
    height,
    detail: `PNG ${depth}-bit ${kind}${interlaced ? ", interlaced" : ""}`,
  };
}

/** JPEG: the frame header's size and encoding; checks that an end marker follows the scans. */
function jpegHeader(b: Uint8Array, name: string): ImageHeader {
  let at = 2;
  let frame: ImageHeader | undefined;
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) {
      throw new Error(`${name} is not a valid JPEG: no marker at byte ${at}; the file is damaged`);
    }
    const marker = b[at + 1];
    if (marker === 0xff) { // fill byte
      at++;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    const length = (b[at + 2] << 8) | b[at + 3];
    const isFrame = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    if (isFrame && at + 10 <= b.length) {
      const precision = b[at + 4];
      const height = (b[at + 5] << 8) | b[at + 6];
      const width = (b[at + 7] << 8) | b[at + 8];
      const channels = b[at + 9];
      const progressive = [0xc2, 0xc6, 0xca, 0xce].includes(marker);
      const coding = marker >= 0xc9 ? ", arithmetic" : "";
      frame = {
        format: "jpeg",
        width,
        height,
        detail: `JPEG ${progressive ? "progressive" : marker === 0xc0 ? "baseline" : "extended"}` +
          `${coding}, ${precision}-bit, ${channels} channel${channels === 1 ? "" : "s"}`,
      };
    }
    if (marker === 0xda) break; // start of scan: entropy-coded data follows
    at += 2 + length;
  }
  if (!frame) {
    throw new Error(`${name} is not a valid JPEG: it has no frame header; the file is damaged`);
  }
  // The entropy-coded data cannot hold FF D9 (FF bytes are stuffed), so its absence after the
  // first scan means the file was cut short.
  let end = -1;
  for (let i = b.length - 2; i > at; i--) {
    if (b[i] === 0xff && b[i + 1] === 0xd9) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    throw new Error(`${name} is a truncated JPEG (no end marker after its image data); re-copy it`);
  }
  return frame;
}

/**
 * Reads a picture's header: its format, size and encoding, without decoding it. Throws a
 * one-line error for an empty file, another format, or a truncated PNG or JPEG.
 *
 * @example
 * ```ts
 * import { imageHeader } from "./image_file.ts";
 * const png = await Deno.readFile("models/default/curves.png");
 * console.log(imageHeader(png)); // { format: "png", width: …, height: …, detail: "PNG 8-bit RGBA" }
 * ```
 */
export function imageHeader(bytes: Uint8Array, options: { name?: string } = {}): ImageHeader {
  const { name = "the picture" } = options;
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`bytes of ${name} must be a Uint8Array`);
  }
  if (bytes.length === 0) throw new Error(`${name} is empty (0 bytes); expected a PNG or JPEG`);
  const format = imageFormat(bytes);
  if (format === "png") return pngHeader(bytes, name);
  if (format === "jpeg") return jpegHeader(bytes, name);
  if (format === "bmp") {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return {
      format,
      width: Math.abs(view.getInt32(18, true)),
      height: Math.abs(view.getInt32(22, true)),
      detail: `BMP ${view.getUint16(28, true)}-bit`,
    };
  }
  if (format) return { format, width: 0, height: 0, detail: format.toUpperCase() };
  const other = otherFormat(bytes);
  const start = Array.from(bytes.subarray(0, 4), (x) => x.toString(16).padStart(2, "0"))
    .join(" ");
  throw new Error(
    other
      ? `${name} is ${other}, which is not read; convert it to PNG or JPEG`
      : `${name} is not a PNG or JPEG picture (it starts with bytes ${start})`,
  );
}

/**
 * Decodes a PNG or JPEG (or GIF, WebP, BMP) into grey pixels in [0, 1]: luma of the colours,
 * transparent pixels composited on the picture's own background (or `options.matte`), EXIF
 * orientation applied. Errors are one line naming `options.name` and what to do.
 *
 * @example
 * ```ts
 * import { decodeImage } from "./image_file.ts";
 * const gray = await decodeImage(await Deno.readFile("models/default/curves.png"));
 * console.log(gray.detail, gray.data.length === gray.width * gray.height); // PNG 8-bit RGBA true
 * ```
 */
export async function decodeImage(
  bytes: Uint8Array,
  options: DecodeImageOptions = {},
): Promise<DecodedImage> {
  const { name = "the picture", maxPixels = 50_000_000, ...gray } = options;
  if (!(maxPixels >= 1)) throw new RangeError(`maxPixels must be ≥ 1, got ${maxPixels}`);
  const header = imageHeader(bytes, { name });
  const tooBig = (w: number, h: number) => {
    if (w * h > maxPixels) {
      throw new Error(
        `${name} is ${w}×${h} (${(w * h / 1e6).toFixed(1)} megapixels), more than maxPixels ` +
          `(${maxPixels}); scale it down first`,
      );
    }
  };
  if (header.width * header.height === 0 && header.format !== "gif" && header.format !== "webp") {
    throw new Error(
      `${name} has no pixels (${header.width}×${header.height}); the file is damaged`,
    );
  }
  tooBig(header.width, header.height);
  const ck = await canvasKit();
  const image = ck.MakeImageFromEncoded(bytes);
  if (!image) {
    throw new Error(
      `${name} could not be decoded (${header.detail}); the file is damaged or uses an ` +
        `encoding Skia does not read`,
    );
  }
  try {
    const width = image.width(), height = image.height();
    tooBig(width, height);
    const pixels = image.readPixels(0, 0, {
      width,
      height,
      colorType: ck.ColorType.RGBA_8888,
      alphaType: ck.AlphaType.Unpremul,
      colorSpace: ck.ColorSpace.SRGB,
    });
    if (!(pixels instanceof Uint8Array)) {
      throw new Error(`${name} could not be decoded (${header.detail}); the file is damaged`);
    }
    return {
      ...grayFromRgba({ width, height, pixels }, gray),
      format: header.format,
      detail: header.detail,
    };
  } finally {
    image.delete();
  }
}

/**
 * Reads the picture file at `path` with {@linkcode decodeImage}; errors name the path.
 *
 * @example
 * ```ts
 * import { readImage } from "./image_file.ts";
 * const gray = await readImage("models/default/curves.png");
 * console.log(gray.format, gray.width > 0); // png true
 * ```
 */
export async function readImage(
  path: string,
  options: Omit<DecodeImageOptions, "name"> = {},
): Promise<DecodedImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.IsADirectory
      ? "it is a folder"
      : (error as Error).message;
    throw new Error(`Cannot read ${path} (${why}); check the path`);
  }
  return await decodeImage(bytes, { ...options, name: path });
}
