import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import { boundingBoxes } from "../src/data/boxes.ts";
import { DIGIT_PIXELS, loadMnist } from "../src/data/mnist.ts";
import { drawScenes, makeScenes, renderScenes, sceneStream } from "../src/data/scenes.ts";

const { train } = await loadMnist({ dir: new URL("../fixtures/mnist/", import.meta.url) });

Deno.test("makeScenes: same seed bit-identical, other seed differs, boxes = boundingBoxes", async () => {
  await useBackend("wasm");
  const a = await makeScenes(train, { count: 64, seed: 11 });
  const b = await makeScenes(train, { count: 64, seed: 11 });
  const c = await makeScenes(train, { count: 64, seed: 12 });
  assert.deepEqual(a.images.shape, [64, 64, 64, 1]);
  const [da, db, dc] = await Promise.all([a.images.data(), b.images.data(), c.images.data()]);
  assert.deepEqual(da, db);
  assert.deepEqual(a.boxes, b.boxes);
  assert.notDeepEqual(da, dc);
  assert.deepEqual(a.boxes, await boundingBoxes(a.images));
  const params = drawScenes(train, { count: 64, seed: 11 });
  assert.deepEqual(a.labels, Int32Array.from(params.indices, (i) => train.labels[i]));
  assert.ok(da.every((v) => v >= 0 && v <= 1));
  tf.dispose([a.images, b.images, c.images]);
});

Deno.test("drawScenes: angles, scales and placement are uniform in their ranges", () => {
  const p = drawScenes(train, { count: 4000, seed: 2, maxRotation: 30, scale: [0.8, 1.2] });
  const range = (xs: Float64Array) => [Math.min(...xs), Math.max(...xs)];
  const [aMin, aMax] = range(p.angles);
  assert.ok(aMin >= -30 && aMin < -29 && aMax <= 30 && aMax > 29, `${aMin} ${aMax}`);
  const [sMin, sMax] = range(p.scales);
  assert.ok(sMin >= 0.8 && sMin < 0.81 && sMax < 1.2 && sMax > 1.19, `${sMin} ${sMax}`);
  const mean = p.angles.reduce((s, a) => s + a, 0) / p.angles.length;
  assert.ok(Math.abs(mean) < 1.5, `mean angle ${mean}`);
  assert.ok(new Set(p.indices).size === train.count, "every digit gets drawn");
  const ys = p.centers.filter((_, i) => i % 2 === 0);
  const [yMin, yMax] = range(ys);
  assert.ok(yMin < 16 && yMax > 48, `centres span the canvas: ${yMin} ${yMax}`);
  assert.throws(
    () => drawScenes(train, { count: 1, seed: 0, size: 20 }),
    /size 20 is too small for digit/,
  );
  assert.throws(() => drawScenes(train, { count: 1, seed: 0, scale: [1, 0.5] }), /scale must be/);
});

Deno.test("renderScenes: no ink is cut by the canvas border (widest digits, 45°)", async () => {
  await useBackend("wasm");
  for (const seed of [1, 2]) {
    const params = drawScenes(train, { count: 200, seed, scale: [1.25, 1.25] });
    const margin = 6;
    const scenes = renderScenes(train, params);
    const wide = renderScenes(train, params, { margin });
    const [inner, ring] = tf.tidy(() => {
      const crop = tf.slice(wide, [0, margin, margin, 0], [-1, 64, 64, -1]);
      const inner = tf.max(tf.abs(tf.sub(crop, scenes)));
      const ring = tf.sub(tf.sum(wide), tf.sum(crop)); // ink outside the canvas
      return [inner, ring];
    });
    assert.ok((await inner.data())[0] < 1e-4, "margin render matches the scene");
    assert.equal((await ring.data())[0], 0, "no ink outside the canvas");
    // Digits reach close to every border across the batch (placement uses the whole canvas).
    const boxes = await boundingBoxes(scenes);
    const extremes = [Infinity, -Infinity, Infinity, -Infinity];
    for (let k = 0; k < 200; k++) {
      extremes[0] = Math.min(extremes[0], boxes[4 * k]);
      extremes[1] = Math.max(extremes[1], boxes[4 * k + 1]);
      extremes[2] = Math.min(extremes[2], boxes[4 * k + 2]);
      extremes[3] = Math.max(extremes[3], boxes[4 * k + 3]);
    }
    assert.ok(extremes[0] <= 2 && extremes[1] >= 62, `rows ${extremes}`);
    assert.ok(extremes[2] <= 2 && extremes[3] >= 62, `cols ${extremes}`);
    tf.dispose([scenes, wide, inner, ring]);
  }
});

Deno.test("renderScenes: 0° and 90° at scale 1 reproduce the digit exactly", async () => {
  await useBackend("wasm");
  const digit = train.images.subarray(3 * DIGIT_PIXELS, 4 * DIGIT_PIXELS);
  const params = {
    size: 64,
    indices: new Int32Array([3, 3]),
    angles: new Float64Array([0, 90]),
    scales: new Float64Array([1, 1]),
    centers: new Float64Array([13.5 + 20, 13.5 + 10, 13.5 + 5, 13.5 + 30]),
  };
  const images = renderScenes(train, params);
  const data = await images.data();
  for (let r = 0; r < 64; r++) {
    for (let c = 0; c < 64; c++) {
      // 0°: digit pixel (r − 20, c − 10). 90° (y down, x right): out = R·d, so d = (c', −r')
      // around the centre, i.e. input row = 27 − (c − 30), input column = r − 5.
      const r0 = r - 20, c0 = c - 10;
      const want0 = r0 >= 0 && r0 < 28 && c0 >= 0 && c0 < 28 ? digit[r0 * 28 + c0] / 255 : 0;
      assert.equal(data[r * 64 + c], Math.fround(want0));
      const r1 = 27 - (c - 30), c1 = r - 5;
      const want1 = r1 >= 0 && r1 < 28 && c1 >= 0 && c1 < 28 ? digit[r1 * 28 + c1] / 255 : 0;
      assert.ok(Math.abs(data[4096 + r * 64 + c] - want1) < 1e-5, `90° at ${r},${c}`);
    }
  }
  images.dispose();
});

Deno.test("renderScenes on cpu (one transform per image) matches wasm", async () => {
  const params = drawScenes(train, { count: 16, seed: 9 });
  await useBackend("cpu");
  const cpu = await renderScenes(train, params).data();
  await useBackend("wasm");
  const wasm = await renderScenes(train, params).data();
  let worst = 0;
  for (let i = 0; i < cpu.length; i++) worst = Math.max(worst, Math.abs(cpu[i] - wasm[i]));
  assert.ok(worst < 1e-5, `max |cpu − wasm| = ${worst}`);
  assert.ok(cpu.slice(15 * 4096).some((v) => v > 0), "the last image is warped too");
});

Deno.test("sceneStream: fresh seeded epochs, targets, no leaks on early stop", async () => {
  await useBackend("wasm");
  const grid = { size: 40, stride: 4, offset: 0, rows: 7, cols: 7 };
  const before = tf.memory().numTensors;
  const seen: string[] = [];
  const firstImages: Float32Array[] = [];
  const options = { batchSize: 8, epochSize: 20, seed: 5, epochs: 2, grid };
  for await (const b of sceneStream(train, options)) {
    seen.push(`${b.epoch}.${b.batch}:${b.images.shape[0]}`);
    assert.deepEqual(b.targets?.shape, [b.images.shape[0], 7, 7, 6]);
    if (b.batch === 0) firstImages.push((await b.images.data()) as Float32Array);
    tf.dispose([b.images, b.targets!]);
  }
  assert.deepEqual(seen, ["0.0:8", "0.1:8", "0.2:4", "1.0:8", "1.1:8", "1.2:4"]);
  assert.notDeepEqual(firstImages[0], firstImages[1], "each epoch has fresh scenes");
  // Resuming at epoch 1 gives the same scenes as epoch 1 of the full run.
  for await (const b of sceneStream(train, { ...options, firstEpoch: 1, epochs: 1 })) {
    assert.deepEqual(await b.images.data(), firstImages[1]);
    tf.dispose([b.images, b.targets!]);
    break;
  }
  assert.equal(tf.memory().numTensors, before, "prefetched batch freed after break");
});

Deno.test("sceneStream: each epoch is one pass over a fresh permutation of the digits (a prefix when shorter)", async () => {
  await useBackend("wasm");
  const count = train.count; // 64 fixture digits
  const epochs = new Map<number, number[]>();
  const options = { batchSize: 10, epochSize: count, seed: 2, epochs: 2 };
  for await (const b of sceneStream(train, options)) {
    assert.ok(b.indices, "permutation streams report their digits");
    assert.deepEqual([...b.labels], [...b.indices].map((i) => train.labels[i]));
    epochs.set(b.epoch, [...(epochs.get(b.epoch) ?? []), ...b.indices]);
    b.images.dispose();
  }
  const all = Array.from({ length: count }, (_, i) => i);
  for (const order of epochs.values()) {
    assert.deepEqual([...order].sort((a, b) => a - b), all, "every digit exactly once");
  }
  assert.notDeepEqual(epochs.get(0), epochs.get(1), "a fresh permutation each epoch");
  assert.notDeepEqual(epochs.get(0), all, "shuffled");
  // a shorter epoch is a prefix of the same permutation; a longer one goes on with a new one
  const prefix: number[] = [], longer: number[] = [];
  for await (const b of sceneStream(train, { ...options, epochSize: 25, epochs: 1 })) {
    prefix.push(...b.indices!);
    b.images.dispose();
  }
  assert.deepEqual(prefix, epochs.get(0)!.slice(0, 25));
  for await (const b of sceneStream(train, { ...options, epochSize: count + 30, epochs: 1 })) {
    longer.push(...b.indices!);
    b.images.dispose();
  }
  assert.deepEqual(longer.slice(0, count), epochs.get(0));
  assert.equal(new Set(longer.slice(count)).size, 30, "the next pass starts without repeats");
  // resuming mid-epoch gives the same digits and scenes
  const full: { indices: number[]; pixels: Float32Array }[] = [];
  for await (const b of sceneStream(train, { ...options, epochs: 1 })) {
    full.push({ indices: [...b.indices!], pixels: (await b.images.data()) as Float32Array });
    b.images.dispose();
  }
  for await (const b of sceneStream(train, { ...options, epochs: 1, firstBatch: 3 })) {
    assert.deepEqual([...b.indices!], full[3].indices);
    assert.deepEqual(await b.images.data(), full[3].pixels);
    b.images.dispose();
    break;
  }
  // "random" draws with replacement (what runs did before --sampling) and reports no indices
  const labels: number[] = [];
  for await (const b of sceneStream(train, { ...options, epochs: 1, sampling: "random" })) {
    assert.equal(b.indices, undefined);
    labels.push(...b.labels);
    b.images.dispose();
  }
  assert.equal(labels.length, count);
});

Deno.test("drawScenes: given digit indices are used as given and checked", () => {
  const p = drawScenes(train, { count: 3, seed: 1, indices: [5, 0, 5] });
  assert.deepEqual([...p.indices], [5, 0, 5]);
  assert.throws(() => drawScenes(train, { count: 2, seed: 1, indices: [1] }), /indices must hold/);
  assert.throws(
    () => drawScenes(train, { count: 1, seed: 1, indices: [train.count] }),
    /indices\[0\] must be a digit index below 64/,
  );
});
