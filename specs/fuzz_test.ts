import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import { loadModel, saveModel } from "../src/model/checkpoint.ts";
import { readIdx } from "../src/data/mnist.ts";
import { type ArchLayer, buildModel } from "../src/model/model.ts";
import { makeRng } from "../src/rng.ts";

// Seeded fuzzing of the two readers of outside bytes: the IDX reader and the checkpoint loader.
// Every mutated input gives a correct result or a one-line Error; never a hang, crash or OOM.
type Rng = ReturnType<typeof makeRng>;

function mutate(bytes: Uint8Array, rng: Rng, headerLength: number): Uint8Array {
  let b = bytes.slice();
  const kind = rng.int(6);
  if (kind === 0) {
    for (let k = 1 + rng.int(4); k > 0; k--) b[rng.int(b.length)] ^= 1 << rng.int(8);
  } else if (kind === 1) {
    b = b.slice(0, rng.int(b.length));
  } else if (kind === 2) {
    const more = new Uint8Array(b.length + 1 + rng.int(1000));
    more.set(b);
    for (let i = b.length; i < more.length; i++) more[i] = rng.int(256);
    b = more;
  } else if (kind === 3) {
    // A huge or odd count / size in the header.
    const values = [0xffffffff, 4_000_000_000, 0x80000000, 60000, 0, 1, 27, 29, 785];
    const at = 4 * rng.int(headerLength / 4);
    new DataView(b.buffer).setUint32(at, values[rng.int(values.length)]);
  } else if (kind === 4) {
    b[rng.int(Math.min(b.length, headerLength))] = rng.int(256);
  } else {
    for (let i = rng.int(b.length), n = rng.int(64); n > 0 && i < b.length; n--, i++) {
      b[i] = rng.int(256);
    }
  }
  return b;
}

/** Splits `bytes` into 1–4 random chunks (the reader must not depend on chunking). */
function chunked(bytes: Uint8Array, rng: Rng): ReadableStream<Uint8Array> {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (let n = rng.int(4); n > 0 && at < bytes.length; n--) {
    const end = at + rng.int(bytes.length - at + 1);
    parts.push(bytes.slice(at, end));
    at = end;
  }
  parts.push(bytes.slice(at));
  return ReadableStream.from(parts);
}

function idx(kind: "images" | "labels", count: number, rng: Rng): Uint8Array {
  const header = kind === "images" ? 16 : 8;
  const size = kind === "images" ? 784 : 1;
  const b = new Uint8Array(header + count * size);
  const view = new DataView(b.buffer);
  view.setUint32(0, kind === "images" ? 2051 : 2049);
  view.setUint32(4, count);
  if (kind === "images") view.setUint32(8, 28), view.setUint32(12, 28);
  for (let i = header; i < b.length; i++) b[i] = kind === "images" ? rng.int(256) : rng.int(10);
  return b;
}

Deno.test("fuzz: readIdx survives 8000 mutated IDX files (bit flips, truncation, huge counts)", async () => {
  const rng = makeRng(20240508);
  const stats = { ok: 0, error: 0 };
  const started = performance.now();
  for (let i = 0; i < 8000; i++) {
    const kind = i % 2 === 0 ? "labels" : "images";
    const header = kind === "images" ? 16 : 8;
    const input = mutate(idx(kind, kind === "images" ? 2 : 20, rng), rng, header);
    try {
      const { data, count } = await readIdx(chunked(input, rng), { name: `case${i}`, kind });
      // A correct result: the header's count, exactly the file's bytes, labels 0–9.
      assert.equal(data.length, count * (kind === "images" ? 784 : 1), `case ${i}`);
      assert.equal(input.length, header + data.length, `case ${i}: length`);
      assert.deepEqual(data, input.subarray(header), `case ${i}: data`);
      if (kind === "labels") assert.ok(data.every((l) => l <= 9), `case ${i}: labels`);
      stats.ok++;
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error;
      assert.ok(error instanceof Error, `case ${i}: throws an Error`);
      assert.match(error.message, new RegExp(`^case${i}: [^\\n]+$`), `case ${i}: one line`);
      stats.error++;
    }
  }
  assert.ok(stats.ok > 100 && stats.error > 1000, JSON.stringify(stats));
  assert.ok(performance.now() - started < 30_000, "too slow");
});

Deno.test("fuzz: a header claiming 4 billion images is rejected before allocating", async () => {
  const b = idx("images", 1, makeRng(1));
  new DataView(b.buffer).setUint32(4, 4_000_000_000);
  const before = Deno.memoryUsage().rss;
  await assert.rejects(
    () => readIdx(ReadableStream.from([b]), { name: "huge", kind: "images" }),
    /^Error: huge: header says 4000000000 images .* truncated$/,
  );
  assert.ok(Deno.memoryUsage().rss - before < 100e6, "allocated for the claimed count");
});

Deno.test("fuzz: loadModel survives 2000 mutated checkpoints", async () => {
  await useBackend("cpu");
  const arch: ArchLayer[] = [
    { kind: "conv", kernel: 3, filters: 2 },
    { kind: "pool", kernel: 2 },
    { kind: "conv", kernel: 2, filters: 15, activation: "linear" },
  ];
  const dir = await Deno.makeTempDir();
  try {
    const model = buildModel(arch, { seed: 1 });
    await saveModel(model, dir, { epoch: 1 });
    const want = await Promise.all([...model.variables.values()].map((v) => v.data()));
    model.dispose();
    const json = await Deno.readTextFile(`${dir}/model.json`);
    const bin = await Deno.readFile(`${dir}/weights.bin`);
    const rng = makeRng(77);
    const odd = ["-1", "0", "1e9", "4294967295", "1.5", '"x"', "null", "[]", "{}", "NaN"];
    const before = tf.memory().numTensors;
    const stats = { ok: 0, error: 0 };
    for (let i = 0; i < 2000; i++) {
      let text = json, bytes: Uint8Array = bin;
      const what = rng.int(3);
      if (what === 0) {
        // Replace one number or string of model.json with an odd value.
        const tokens = [...json.matchAll(/-?\d+(\.\d+)?|"[^"]*"/g)];
        const t = tokens[rng.int(tokens.length)];
        text = json.slice(0, t.index) + odd[rng.int(odd.length)] +
          json.slice(t.index! + t[0].length);
      } else if (what === 1) {
        text = new TextDecoder().decode(mutate(new TextEncoder().encode(json), rng, 16));
      } else {
        bytes = mutate(bin, rng, 16);
      }
      await Deno.writeTextFile(`${dir}/model.json`, text);
      await Deno.writeFile(`${dir}/weights.bin`, bytes);
      try {
        const { model } = await loadModel(dir);
        // A correct result: a model whose weights are the file's.
        const got = [...model.variables.values()];
        const expect = bytes === bin && text === json;
        if (expect) {
          assert.deepEqual(await Promise.all(got.map((v) => v.data())), want, `case ${i}`);
        }
        model.dispose();
        stats.ok++;
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        assert.ok(error instanceof Error, `case ${i}: throws an Error, got ${error}`);
        assert.ok(!error.message.includes("\n"), `case ${i}: one line: ${error.message}`);
        assert.ok(error.message.length < 400, `case ${i}: short: ${error.message}`);
        stats.error++;
      }
    }
    assert.equal(tf.memory().numTensors, before, "tensors leaked");
    assert.ok(stats.ok > 50 && stats.error > 500, JSON.stringify(stats));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
