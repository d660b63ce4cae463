import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import type { TrainConfig } from "../src/training/config.ts";
import { quietly, tinyConfig } from "./support.ts";
import { loadMnist } from "../src/data/mnist.ts";
import type { ArchLayer } from "../src/model/model.ts";
import { formatTable, train } from "../src/training/train.ts";
import { sceneStream } from "../src/data/scenes.ts";
import { encodeObjectsData, singleObjects } from "../src/data/multi_encode.ts";
import { encodeTargetsData } from "../src/data/encode.ts";
import { makeValSet } from "../src/training/validation.ts";
import { makeReadingScenes } from "../src/data/reading_scenes.ts";
import { CONDITIONS } from "../src/data/conditions.ts";
import { scoreCondition } from "../src/detection/condition_score.ts";
import { makeRng } from "../src/rng.ts";
import { buildModel } from "../src/model/model.ts";
import { parseFlags } from "../src/cli.ts";
import { TRAIN_FLAGS } from "../src/training/config.ts";

const mnist = await loadMnist({ dir: "fixtures/mnist", testCount: 4 });
// window 40, stride 8, tiny channels: fast on wasm
const arch: ArchLayer[] = [
  { kind: "conv", kernel: 6, filters: 2, stride: 2 },
  { kind: "conv", kernel: 4, filters: 4, stride: 2 },
  { kind: "conv", kernel: 4, filters: 4, stride: 2 },
  { kind: "conv", kernel: 3, filters: 8 },
  { kind: "conv", kernel: 1, filters: 15, activation: "linear" },
];
const quiet = quietly(arch);

const tiny = (out: string, more: Partial<TrainConfig> = {}): TrainConfig =>
  tinyConfig(out, { trainSize: 8, batchSize: 4, valSize: 6, digits: "1-3", size: 96, ...more });

Deno.test("a multi-digit stream carries every digit and the targets of every digit a window covers", async () => {
  await useBackend("wasm");
  const grid = { size: 40, stride: 8, offset: 0, rows: 8, cols: 8 };
  const options = {
    batchSize: 3,
    epochSize: 6,
    seed: 5,
    size: 96,
    digits: [2, 3] as const,
    minCover: 0.5,
    grid,
  };
  const all = [];
  for await (const b of sceneStream(mnist.train, options)) all.push(b);
  assert.equal(all.length, 2);
  for (const b of all) {
    assert.deepEqual(b.images.shape, [3, 96, 96, 1]);
    assert.equal(b.objects!.length, 3);
    for (const [k, o] of b.objects!.entries()) {
      assert.ok(o.length >= 2 && o.length <= 3, `${o.length} digits`);
      assert.equal(b.labels[k], o[0].label);
    }
    const want = encodeObjectsData(b.objects!, grid, { minCover: 0.5 });
    assert.deepEqual(await b.targets!.data(), want);
  }
  // resuming at batch 1 draws exactly the second batch
  const resumed = [];
  for await (const b of sceneStream(mnist.train, { ...options, firstBatch: 1 })) resumed.push(b);
  assert.equal(resumed.length, 1);
  assert.deepEqual(resumed[0].objects, all[1].objects);
  assert.deepEqual(await resumed[0].images.data(), await all[1].images.data());
  tf.dispose([...all, ...resumed].flatMap((b) => [b.images, b.targets!]));
});

Deno.test("one-digit scenes: minCover 0 gives the assignment's targets, minCover 1 only the windows holding the whole digit", async () => {
  await useBackend("wasm");
  const grid = { size: 40, stride: 8, offset: 0, rows: 4, cols: 4 };
  const options = { batchSize: 16, epochSize: 16, seed: 3, grid };
  for (const minCover of [0, 1]) {
    for await (const b of sceneStream(mnist.train, { ...options, minCover })) {
      const got = await b.targets!.data();
      const want = minCover === 0
        ? encodeTargetsData(b.boxes, b.labels, grid)
        : encodeObjectsData(singleObjects(b.labels, b.boxes), grid, { minCover });
      assert.deepEqual(got, want);
      let positives = 0;
      for (let k = 0; k < 16; k++) {
        const [t, bottom, l, r] = b.boxes.subarray(4 * k, 4 * k + 4);
        for (let w = 0; w < 16; w++) {
          const at = (k * 16 + w) * 6;
          if (got[at] !== 1) continue;
          positives++;
          const [wt, wl] = [8 * Math.floor(w / 4), 8 * (w % 4)];
          const whole = wt <= t && bottom <= wt + 40 && wl <= l && r <= wl + 40;
          if (minCover === 1) assert.ok(whole, `scene ${k} window ${w} does not hold the digit`);
        }
      }
      // any overlap makes nearly all 16 windows positive; the whole digit, a few
      if (minCover === 0) assert.ok(positives > 12 * 16, `${positives} positives`);
      else assert.ok(positives >= 16 && positives < 8 * 16, `${positives} positives`);
      tf.dispose([b.images, b.targets!]);
    }
  }
  // validation targets follow the same rule
  const model = buildModel(arch);
  const val = await makeValSet(mnist.val, { count: 8, seed: 1, model, minCover: 1 });
  const c = val.chunks[0];
  assert.deepEqual(
    await c.targets.data(),
    encodeObjectsData(singleObjects(c.labels, c.boxes), model.grid(64), { minCover: 1 }),
  );
  tf.dispose(val.chunks.flatMap((x) => [x.images, x.targets]));
  model.dispose();
});

Deno.test("train --digits 1-3 --size 96: a detector run records mAP every epoch and resumes", async () => {
  await useBackend("wasm");
  const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
  try {
    const before = tf.memory().numTensors;
    const straight = await train(tiny(a), { mnist, ...quiet });
    assert.equal(straight.records.length, 2);
    for (const r of straight.records) {
      assert.ok(r.val.map50! >= 0 && r.val.map50! <= 1, `mAP50 ${r.val.map50}`);
      assert.ok(r.val.map! >= 0 && r.val.map! <= r.val.map50!, `mAP ${r.val.map}`);
      assert.ok(Number.isNaN(r.val.accuracy), "no single-digit accuracy on a detector");
      assert.equal(r.val.count, 6);
    }
    assert.match(formatTable(straight.records), /mAP50/);
    const config = JSON.parse(await Deno.readTextFile(`${a}/config.json`));
    assert.equal(config.settings.digits, "1-3");
    assert.equal(config.settings.size, 96);
    assert.ok((await Deno.stat(`${a}/curves.png`)).size > 0);
    // one epoch, then --resume: the same weights as the straight run
    (await train(tiny(b, { epochs: 1 }), { mnist, ...quiet })).model.dispose();
    const resumed = await train(tiny(b, { resume: true }), { mnist, ...quiet });
    for (const [name, v] of straight.model.variables) {
      assert.deepEqual(await resumed.model.variables.get(name)!.data(), await v.data(), name);
    }
    assert.deepEqual(resumed.records[1].val, straight.records[1].val);
    straight.model.dispose();
    resumed.model.dispose();
    assert.equal(tf.memory().numTensors, before, "tensors leaked");
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});

Deno.test("--digits and --size are checked before anything runs", async () => {
  assert.equal(parseFlags(["--digits=1-4"], TRAIN_FLAGS)?.digits, "1-4");
  assert.throws(
    () => parseFlags(["--digits=4-1"], TRAIN_FLAGS),
    /^UsageError: --digits must look like 1-4 \(min-max, 1 ≤ min ≤ max\), got 4-1$/,
  );
  await useBackend("wasm");
  const before = tf.memory().numTensors;
  await assert.rejects(
    () => train(tiny("/nonexistent-out", { size: 32 }), { mnist, ...quiet, lock: false }),
    /--size must be at least the model's window \(40\), got 32/,
  );
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});

Deno.test("a reading stream: the reading mix's scenes, centre targets, and the same batch on resume", async () => {
  await useBackend("wasm");
  const grid = { size: 40, stride: 8, offset: 0, rows: 12, cols: 12 };
  const options = {
    batchSize: 4,
    epochSize: 8,
    seed: 2,
    size: 128,
    recipe: "reading" as const,
    minCover: 1,
    assign: "centre" as const,
    grid,
  };
  const all = [];
  for await (const b of sceneStream(mnist.train, options)) all.push(b);
  assert.equal(all.length, 2);
  // each batch draws its own seed from the epoch's generator (seed + epoch)
  const seeds = makeRng(2);
  for (const b of all) {
    assert.deepEqual(b.images.shape, [4, 128, 128, 1]);
    const want = makeReadingScenes(mnist.train, { count: 4, seed: seeds.seed(), size: 128 });
    assert.deepEqual(await b.images.data(), want.pixels);
    assert.deepEqual(b.objects, want.objects);
    assert.deepEqual(
      await b.targets!.data(),
      encodeObjectsData(want.objects, grid, { minCover: 1, assign: "centre" }),
    );
  }
  const resumed = [];
  for await (const b of sceneStream(mnist.train, { ...options, firstBatch: 1 })) resumed.push(b);
  assert.deepEqual(resumed[0].objects, all[1].objects);
  tf.dispose([...all, ...resumed].flatMap((b) => [b.images, b.targets!]));
});

Deno.test("makeReadingScenes: written numbers, scattered digits and paper, normalised to white on black", () => {
  const s = makeReadingScenes(mnist.train, { count: 60, seed: 1, size: 128 });
  assert.equal(s.pixels.length, 60 * 128 * 128);
  assert.ok(s.pixels.every((v) => v >= 0 && v <= 1));
  const written = s.numbers.filter((n) => n.length > 0).length;
  assert.ok(written > 25 && written < 55, `${written} of 60 scenes hold written numbers`);
  // every scene's background is black (paper was normalised): the median pixel is 0
  for (let i = 0; i < 60; i++) {
    const scene = s.pixels.subarray(i * 128 * 128, (i + 1) * 128 * 128).slice().sort();
    assert.ok(scene[scene.length >> 1] < 0.05, `scene ${i}: median ${scene[scene.length >> 1]}`);
    assert.ok(s.objects[i].length > 0, `scene ${i} holds digits`);
  }
  assert.deepEqual(
    makeReadingScenes(mnist.train, { count: 60, seed: 1, size: 128 }).pixels,
    s.pixels,
  );
});

Deno.test("train --scenes reading --assign centre: a reader run records mAP and its settings", async () => {
  await useBackend("wasm");
  const a = await Deno.makeTempDir();
  try {
    const before = tf.memory().numTensors;
    const run = await train(
      tinyConfig(a, {
        trainSize: 8,
        batchSize: 4,
        valSize: 4,
        size: 128,
        scenes: "reading",
        assign: "centre",
        epochs: 1,
        valConditions: 3,
      }),
      { mnist, ...quiet },
    );
    assert.ok(run.records[0].val.map50! >= 0 && run.records[0].val.map50! <= 1);
    // --val-conditions: every test condition scored after the epoch, as evaluate scores it
    const conditions = run.records[0].conditions!;
    assert.deepEqual(Object.keys(conditions), [...CONDITIONS]);
    for (const name of CONDITIONS) {
      const want = await scoreCondition(run.model, name, mnist.val, {
        count: 3,
        seed: 1,
        size: 128,
        detect: { scoreThreshold: 0.05, maxDetections: 100 },
      });
      assert.deepEqual(conditions[name], {
        map50: want.map50,
        map: want.map,
        ...(want.numbers ? { read: want.numbers.accuracy } : {}),
        pictures: 3,
      }, name);
    }
    assert.ok(conditions.strings.read !== undefined && conditions.scenes.read === undefined);
    const config = JSON.parse(await Deno.readTextFile(`${a}/config.json`));
    assert.equal(config.settings.scenes, "reading");
    assert.equal(config.settings.assign, "centre");
    run.model.dispose();
    assert.equal(tf.memory().numTensors, before, "tensors leaked");
  } finally {
    await Deno.remove(a, { recursive: true });
  }
});
