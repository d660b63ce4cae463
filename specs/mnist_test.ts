import assert from "node:assert/strict";
import {
  DIGIT_PIXELS,
  encodeIdx as idx,
  loadMnist,
  MNIST_FILES,
  pickDigits,
  readIdx,
} from "../src/data/mnist.ts";

const FIXTURE = new URL("../fixtures/mnist/", import.meta.url);

/** Feeds bytes in small chunks so the header is split across reads. */
function chunked(bytes: Uint8Array, size = 5): ReadableStream<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.slice(i, i + size));
  return ReadableStream.from(parts);
}

async function rejects(bytes: Uint8Array, kind: "images" | "labels", pattern: RegExp) {
  await assert.rejects(readIdx(chunked(bytes), { name: "f.idx", kind }), (error: Error) => {
    assert.match(error.message, /^f\.idx: /);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes("\n"), "one-line message");
    return true;
  });
}

Deno.test("readIdx reads images and labels split across chunks", async () => {
  const pixels = Uint8Array.from({ length: 2 * DIGIT_PIXELS }, (_, i) => i % 256);
  const images = await readIdx(chunked(idx(2051, [2, 28, 28], pixels)), {
    name: "x",
    kind: "images",
  });
  assert.equal(images.count, 2);
  assert.deepEqual(images.data, pixels);
  const labels = await readIdx(chunked(idx(2049, [3], new Uint8Array([0, 9, 4]))), {
    name: "y",
    kind: "labels",
  });
  assert.deepEqual([...labels.data], [0, 9, 4]);
});

Deno.test("readIdx rejects corrupt headers and data with one-line errors", async () => {
  const one = new Uint8Array(DIGIT_PIXELS);
  await rejects(idx(2049, [1, 28, 28], one), "images", /magic number is 2049, expected 2051/);
  await rejects(idx(2051, [1], new Uint8Array([1])), "labels", /magic number is 2051/);
  await rejects(idx(2051, [1, 28, 27], one), "images", /images are 28×27, expected 28×28/);
  await rejects(idx(2051, [2, 28, 28], one), "images", /header says 2 images.*truncated/);
  await rejects(idx(2051, [1, 28, 28], new Uint8Array(800)), "images", /too long/);
  await rejects(new Uint8Array([0, 0, 8]), "labels", /too short for an IDX labels header/);
  await rejects(
    idx(2049, [3], new Uint8Array([1, 10, 2])),
    "labels",
    /label at index 1 is 10, labels must be 0–9/,
  );
  // A header claiming ~4 billion images fails on length without allocating terabytes.
  await rejects(idx(2051, [4_000_000_000, 28, 28], one), "images", /4000000000 images.*truncated/);
});

Deno.test("loadMnist reads the raw + gz fixture and splits it by seed", async () => {
  const mnist = await loadMnist({ dir: FIXTURE, seed: 3 });
  assert.equal(mnist.train.count, 64);
  assert.equal(mnist.train.images.length, 64 * DIGIT_PIXELS);
  assert.equal(mnist.test.count, 30);
  assert.equal(mnist.val.count, 2);
  const raw = await Deno.readFile(new URL(MNIST_FILES.testImages, FIXTURE));
  const labels = (await Deno.readFile(new URL(MNIST_FILES.testLabels, FIXTURE))).subarray(8);
  // test ∪ val is the whole test file, disjoint; each digit is the file's digit.
  const seen = new Set<number>();
  mnist.testIndices.forEach((fileIndex, k) => {
    seen.add(fileIndex);
    const start = 16 + fileIndex * DIGIT_PIXELS;
    assert.deepEqual(
      mnist.test.images.subarray(k * DIGIT_PIXELS, (k + 1) * DIGIT_PIXELS),
      raw.subarray(start, start + DIGIT_PIXELS),
    );
    assert.equal(mnist.test.labels[k], labels[fileIndex]);
  });
  assert.equal(seen.size, 30);
  const rest = [...Array(32).keys()].filter((i) => !seen.has(i));
  assert.deepEqual([...mnist.val.labels], rest.map((i) => labels[i]));
  // Labels in range, ink present.
  assert.ok(mnist.train.labels.every((l) => l <= 9));
  assert.ok(mnist.train.images.some((p) => p > 0));
  // Same seed, same split; another seed, another split; a string path works too.
  const again = await loadMnist({ dir: FIXTURE.pathname, seed: 3 });
  assert.deepEqual(again.testIndices, mnist.testIndices);
  const other = await loadMnist({ dir: FIXTURE, seed: 4 });
  assert.notDeepEqual(other.testIndices, mnist.testIndices);
});

Deno.test("loadMnist names the file on a count mismatch, a missing file or a bad gzip", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const images = idx(2051, [2, 28, 28], new Uint8Array(2 * DIGIT_PIXELS));
    await Deno.writeFile(`${dir}/${MNIST_FILES.trainImages}`, images);
    await Deno.writeFile(`${dir}/${MNIST_FILES.trainLabels}`, idx(2049, [3], new Uint8Array(3)));
    await assert.rejects(
      loadMnist({ dir }),
      /train-labels-idx1-ubyte: has 3 labels but .*train-images-idx3-ubyte has 2 images/,
    );
    await Deno.writeFile(`${dir}/${MNIST_FILES.trainLabels}`, idx(2049, [2], new Uint8Array(2)));
    await assert.rejects(loadMnist({ dir }), /MNIST file t10k-images-idx3-ubyte not found/);
    await Deno.writeFile(`${dir}/${MNIST_FILES.testImages}.gz`, new Uint8Array([1, 2, 3, 4]));
    await assert.rejects(loadMnist({ dir }), /t10k-images-idx3-ubyte\.gz: cannot be read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pickDigits copies digits and checks indices", () => {
  const split = {
    images: Uint8Array.from({ length: 3 * DIGIT_PIXELS }, (_, i) => Math.floor(i / DIGIT_PIXELS)),
    labels: new Uint8Array([7, 8, 9]),
    count: 3,
  };
  const picked = pickDigits(split, [2, 0]);
  assert.deepEqual([...picked.labels], [9, 7]);
  assert.equal(picked.images[0], 2);
  assert.equal(picked.images[DIGIT_PIXELS], 0);
  assert.throws(() => pickDigits(split, [3]), /indices\[0\] = 3 is outside/);
});
