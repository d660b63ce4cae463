/**
 * The picture runtime shared by {@link ./draw.ts} and {@link ./charts.ts}: CanvasKit (Skia in
 * WebAssembly), the DejaVu Sans font shipped by npm, and a PNG decoder to read pictures back.
 *
 * Package files (the `.wasm`, the `.ttf`) are found with `import.meta.resolve` on `npm:`
 * specifiers whose package is already in the module graph (a static import), so this works when
 * the library is imported from a URL with no import map and no node_modules.
 *
 * @module
 */
import CanvasKitInit from "npm:canvaskit-wasm@0.42.0";
import type { Canvas, CanvasKit, Font, Paint, Surface, Typeface } from "npm:canvaskit-wasm@0.42.0";
// Puts the font package into the module graph so import.meta.resolve maps it to a file: URL.
import "npm:dejavu-fonts-ttf@2.37.3/package.json" with { type: "json" };

export type { Canvas, CanvasKit, Font, Paint, Surface, Typeface };

// The package is CommonJS: its default export is the init function (its types say otherwise).
const initKit = CanvasKitInit as unknown as (
  options: { wasmBinary: ArrayBuffer },
) => Promise<CanvasKit>;

let kit: Promise<CanvasKit> | undefined;
const fonts = new Map<string, Promise<Uint8Array<ArrayBuffer>>>();
const typefaces = new Map<string, Promise<Typeface>>();

/** Reads a file named by an `npm:` specifier that `import.meta.resolve` turned into a URL. */
async function readResolved(specifier: string): Promise<Uint8Array<ArrayBuffer>> {
  const url = import.meta.resolve(specifier);
  if (!/^(file|https?):/.test(url)) {
    throw new Error(`Could not locate ${specifier} (resolved to ${url}); reinstall the package`);
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`Could not read ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * CanvasKit, initialised once per process (about 60 ms the first time).
 *
 * @example
 * ```ts
 * import { canvasKit } from "./png.ts";
 * const ck = await canvasKit();
 * const surface = ck.MakeSurface(8, 8)!;
 * surface.delete();
 * ```
 */
export function canvasKit(): Promise<CanvasKit> {
  kit ??= readResolved("npm:canvaskit-wasm@0.42.0/bin/canvaskit.wasm").then((bytes) =>
    initKit({ wasmBinary: bytes.buffer })
  );
  return kit;
}

/** A face of the DejaVu font family shipped in `npm:dejavu-fonts-ttf`. */
export type FontFace = "DejaVuSans" | "DejaVuSans-Bold";

/**
 * The bytes of a DejaVu TrueType font (cached).
 *
 * @example
 * ```ts
 * import { fontBytes } from "./png.ts";
 * console.log((await fontBytes()).length > 100_000); // true
 * ```
 */
export function fontBytes(face: FontFace = "DejaVuSans"): Promise<Uint8Array<ArrayBuffer>> {
  let bytes = fonts.get(face);
  if (!bytes) {
    bytes = readResolved(`npm:dejavu-fonts-ttf@2.37.3/ttf/${face}.ttf`);
    fonts.set(face, bytes);
  }
  return bytes;
}

/**
 * A CanvasKit typeface for a DejaVu face (cached; do not delete it).
 *
 * @example
 * ```ts
 * import { typeface } from "./png.ts";
 * const bold = await typeface("DejaVuSans-Bold");
 * ```
 */
export function typeface(face: FontFace = "DejaVuSans"): Promise<Typeface> {
  let face$ = typefaces.get(face);
  if (!face$) {
    face$ = Promise.all([canvasKit(), fontBytes(face)]).then(([ck, bytes]) => {
      const copy = bytes.slice().buffer;
      const made = ck.Typeface.MakeTypefaceFromData(copy);
      if (!made) throw new Error(`Could not load font ${face}; reinstall dejavu-fonts-ttf`);
      return made;
    });
    typefaces.set(face, face$);
  }
  return face$;
}

/** A decoded picture: RGBA bytes, row-major, 4 bytes per pixel, not premultiplied. */
export interface DecodedImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `width × height × 4` bytes: red, green, blue, alpha. */
  pixels: Uint8Array;
}

/**
 * Decodes a PNG (or any format Skia reads) into RGBA bytes.
 *
 * @example
 * ```ts
 * import { decodePng, pixelAt } from "./png.ts";
 * const image = await decodePng(await Deno.readFile("runs/latest/predictions.png"));
 * console.log(image.width, image.height, pixelAt(image, 0, 0));
 * ```
 */
export async function decodePng(bytes: Uint8Array): Promise<DecodedImage> {
  const ck = await canvasKit();
  const image = ck.MakeImageFromEncoded(bytes);
  if (!image) throw new Error("Could not decode the picture: bytes is not a PNG Skia can read");
  try {
    const width = image.width();
    const height = image.height();
    const pixels = image.readPixels(0, 0, {
      width,
      height,
      colorType: ck.ColorType.RGBA_8888,
      alphaType: ck.AlphaType.Unpremul,
      colorSpace: ck.ColorSpace.SRGB,
    });
    if (!(pixels instanceof Uint8Array)) throw new Error("Could not read the decoded pixels");
    return { width, height, pixels };
  } finally {
    image.delete();
  }
}

/**
 * The `[r, g, b, a]` of pixel (`x`, `y`) of a decoded picture.
 *
 * @example
 * ```ts
 * import { pixelAt } from "./png.ts";
 * const image = { width: 1, height: 1, pixels: new Uint8Array([255, 0, 0, 255]) };
 * console.log(pixelAt(image, 0, 0)); // [255, 0, 0, 255]
 * ```
 */
export function pixelAt(image: DecodedImage, x: number, y: number): number[] {
  if (!Number.isInteger(x) || !Number.isInteger(y)) {
    throw new RangeError(`Pixel coordinates x, y must be integers, got (${x}, ${y})`);
  }
  if (x < 0 || y < 0 || x >= image.width || y >= image.height) {
    throw new RangeError(
      `Pixel (${x}, ${y}) lies outside the ${image.width}×${image.height} image`,
    );
  }
  const i = (y * image.width + x) * 4;
  return Array.from(image.pixels.subarray(i, i + 4));
}
