/**
 * readNumbers and `deno task read` end to end: with a perfect hand-made network output (a
 * `ForwardRunner`) every number of seeded number pictures is read right; with the shipped
 * detector readNumbers is exactly detect + groupNumbers; the task reads a PNG of dark pencil on
 * lit paper, says which polarity it found, prints the numbers and writes its picture.
 */
import assert from "node:assert/strict";
import { useBackend } from "../src/backends/backend.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { detect } from "../src/detection/detect.ts";
import {
  groupNumbers,
  numberAccuracy,
  READ_DETECTION,
  readNumbers,
} from "../src/detection/read.ts";
import { type Tensor4D, tf } from "../src/deps.ts";
import { windowGrid } from "../src/geometry.ts";
import { loadModel, PRETRAINED_DETECTOR } from "../src/model/checkpoint.ts";
import { buildModel, DEFAULT_ARCH } from "../src/model/model.ts";
import { decodeImage } from "../src/data/image_file.ts";
import { DETECTIONS_HEADER, DETECTIONS_MARGIN } from "../src/pictures/draw_detections.ts";
import { encodePng } from "./image_fixtures.ts";
import { type NumbersPicture, numbersPicture, pencil } from "./number_pictures.ts";

await useBackend("wasm");
const { val } = await loadMnist({
  dir: new URL("../fixtures/mnist", import.meta.url),
  testCount: 0,
});
const W = 192, H = 140;

/**
 * The output a perfect detector would give on `pictures`: every digit claims the window that
 * holds it whole nearest its centre (the next one when that is taken) and predicts its box and
 * label there; the other windows say "no digit".
 */
function perfectOutput(pictures: NumbersPicture[]): Tensor4D {
  const grid = windowGrid(DEFAULT_ARCH, H, W);
  const { rows, cols, stride, offset, size } = grid;
  const values = new Float32Array(pictures.length * rows * cols * 15);
  pictures.forEach((picture, i) => {
    const at = (r: number, c: number) => ((i * rows + r) * cols + c) * 15;
    for (let w = 0; w < rows * cols; w++) values[at(Math.floor(w / cols), w % cols)] = -8;
    const taken = new Set<number>();
    for (const { label, box: [t, b, l, rt] } of picture.digits) {
      const holding: [number, number][] = [];
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const [wt, wl] = [offset + r * stride, offset + c * stride];
          if (t < wt || b > wt + size || l < wl || rt > wl + size) continue;
          const centre = Math.hypot((t + b) / 2 - wt - size / 2, (l + rt) / 2 - wl - size / 2);
          holding.push([centre, r * cols + c]);
        }
      }
      const w = holding.sort((x, y) => x[0] - y[0]).find(([, w]) => !taken.has(w))?.[1];
      assert.ok(w !== undefined, "every digit has a window of its own");
      taken.add(w);
      const [r, c] = [Math.floor(w / cols), w % cols];
      const [wt, wl] = [offset + r * stride, offset + c * stride];
      values[at(r, c)] = 8;
      values[at(r, c) + 1 + label] = 6;
      values.set([t - wt, b - wt, l - wl, rt - wl].map((x) => x / size), at(r, c) + 11);
    }
  });
  return tf.tensor4d(values, [pictures.length, rows, cols, 15]);
}

Deno.test("readNumbers with a perfect network output reads every number of 12 pictures", async () => {
  const pictures = Array.from(
    { length: 12 },
    (_, seed) =>
      numbersPicture(val, { seed, width: W, height: H, gap: seed % 2 ? [2, 6] : [-1, 1] }),
  );
  const images = tf.tensor4d(
    pictures.flatMap((p) => Array.from(p.data)),
    [12, H, W, 1],
  );
  const model = buildModel(DEFAULT_ARCH, { seed: 1 });
  const step = { forward: () => Promise.resolve(perfectOutput(pictures)) };
  const before = tf.memory().numTensors;
  // the perfect output is the unshifted, unpadded pass's: one pass (offsets 1), no border
  const readings = await readNumbers(model, images, {
    step,
    batchSize: 12,
    scales: [1],
    offsets: 1,
    border: 0,
  });
  assert.equal(tf.memory().numTensors, before, "no tensor left behind");
  const accuracy = numberAccuracy(readings.map((r) => r.numbers), pictures.map((p) => p.numbers));
  assert.equal(accuracy.truths, pictures.reduce((s, p) => s + p.numbers.length, 0));
  assert.ok(accuracy.truths >= 40, `${accuracy.truths} numbers`);
  assert.deepEqual([accuracy.right, accuracy.spurious], [accuracy.truths, 0]);
  // lines top to bottom, numbers left to right: the order they were written in
  readings.forEach((r, i) => {
    assert.deepEqual(r.numbers.map((n) => n.text), pictures[i].numbers.map((n) => n.text));
  });
  tf.dispose([images]);
  model.dispose();
});

Deno.test("readNumbers with the shipped detector = detect, then groupNumbers; options pass through", async () => {
  const { model } = await loadModel(PRETRAINED_DETECTOR);
  const pictures = [0, 1, 2].map((seed) => numbersPicture(val, { seed, width: W, height: H }));
  const images = tf.tensor4d(pictures.flatMap((p) => Array.from(p.data)), [3, H, W, 1]);
  for (const options of [{}, { scoreThreshold: 0.6, group: { minScore: 0.8, numberGap: 1 } }]) {
    const { group, ...detectOptions } = options as { group?: object };
    const found = await detect(model, images, { ...READ_DETECTION, ...detectOptions });
    const readings = await readNumbers(model, images, options);
    readings.forEach((r, i) => {
      assert.deepEqual(r.detections, found[i]);
      assert.deepEqual(r.numbers, groupNumbers(found[i], group));
    });
    assert.ok(readings.some((r) => r.numbers.length > 0));
  }
  await assert.rejects(readNumbers(model, images, { group: { numberGap: -1 } }), /numberGap/);
  images.dispose();
  model.dispose();
});

Deno.test("deno task read --image: a PNG of pencil on lit paper, polarity found, numbers printed and drawn", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const clean = numbersPicture(val, { seed: 4, width: W, height: H });
    const paper = pencil(clean, { seed: 4 });
    const file = `${tmp}/paper.png`;
    await Deno.writeFile(
      file,
      await encodePng({
        width: W,
        height: H,
        colorType: 2,
        depth: 8,
        sample: (x, y) => Array(3).fill(Math.round(255 * paper.data[y * W + x])),
      }),
    );
    const run = async (task: string, args: string[]) => {
      const r = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `tasks/${task}.ts`, "--backend=wasm", ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(r.stdout);
      assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
      return text;
    };
    const out = await run("read", [`--image=${file}`, `--out=${tmp}/read.png`, "--scale=2"]);
    assert.match(
      out,
      /paper\.png: PNG 8-bit RGB, 192×140; dark ink on light paper \(found\), background and contrast normalised/,
    );
    const rows = out.split("\n").filter((l) => /^line \d+ /.test(l));
    assert.ok(rows.length >= 1, out);
    for (const row of rows) {
      assert.match(
        row,
        /^line \d+ +\d+ +box \[[\d., ]+\] +confidence [01]\.\d{3} +\(\d [01]\.\d\d(, \d [01]\.\d\d)*\)$/,
      );
    }
    assert.match(out, /paper\.png: \d+ numbers? on \d+ lines?: .*\nwrote .*read\.png/);
    const picture = await decodeImage(await Deno.readFile(`${tmp}/read.png`));
    assert.deepEqual(
      [picture.width, picture.height],
      [2 * DETECTIONS_MARGIN + 2 * W, 2 * DETECTIONS_MARGIN + DETECTIONS_HEADER + 2 * H],
    );
    // forced the wrong way round, the picture is not read as numbers
    const wrong = await run("read", [
      `--image=${file}`,
      "--polarity=light-ink",
      `--out=${tmp}/w.png`,
    ]);
    assert.match(wrong, /light ink on dark \(forced\)/);
    // detect says the same about the picture
    const detected = await run("detect", [`--image=${file}`, `--out=${tmp}/d.png`]);
    assert.match(detected, /dark ink on light paper \(found\)/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
