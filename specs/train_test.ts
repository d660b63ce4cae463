import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import type { TrainConfig } from "../src/training/config.ts";
import { quietly, tinyConfig } from "./support.ts";
import { loadMnist } from "../src/data/mnist.ts";
import type { ArchLayer } from "../src/model/model.ts";
import { type EpochRecord, learningRate, train } from "../src/training/train.ts";
import { latestGeneration } from "../src/training/run_folder.ts";
import { loadModel } from "../src/model/checkpoint.ts";
import { evaluate, makeValSet } from "../src/training/validation.ts";

const mnist = await loadMnist({ dir: "fixtures/mnist", testCount: 4 });
// The default geometry (window 40, stride 4, 7×7 grid) with very few channels: fast on cpu.
const arch: ArchLayer[] = [
  { kind: "conv", kernel: 5, filters: 2 },
  { kind: "pool", kernel: 2 },
  { kind: "conv", kernel: 5, filters: 4 },
  { kind: "pool", kernel: 2 },
  { kind: "conv", kernel: 7, filters: 8 },
  { kind: "conv", kernel: 1, filters: 15, activation: "linear" },
];
const quiet = quietly(arch);

const tiny = (out: string, more: Partial<TrainConfig> = {}): TrainConfig =>
  tinyConfig(out, { ...more });

Deno.test("train writes checkpoint, metrics and config each epoch, and leaks no tensors", async () => {
  await useBackend("cpu");
  const out = await Deno.makeTempDir();
  try {
    const before = tf.memory().numTensors;
    const { model, records } = await train(tiny(out), { mnist, ...quiet });
    model.dispose();
    assert.equal(tf.memory().numTensors, before, "tensors leaked by train()");
    assert.equal(records.length, 2);
    const saved: EpochRecord[] = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
    assert.deepEqual(saved, records);
    for (const r of records) {
      for (const k of ["accuracy", "meanIou", "hitRate", "precision", "recall"] as const) {
        assert.ok(r.val[k] >= 0 && r.val[k] <= 1, `${k} = ${r.val[k]}`);
      }
      assert.ok(r.imagesPerSecond > 0 && r.time > 0 && r.val.count === 12);
      assert.equal(r.backend, "cpu");
    }
    const config = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
    assert.equal(config.settings.batchSize, 8);
    assert.equal(config.settings.seed, 0);
    assert.equal(config.versions.tfjs, "4.22.0");
    for (const f of ["model.json", "weights.bin"]) {
      assert.ok((await Deno.stat(`${out}/${f}`)).size > 0, f);
    }
    // one checkpoint generation, the last epoch's, holding model, optimizer and state together
    const gens = [...Deno.readDirSync(`${out}/checkpoint`)].map((e) => e.name);
    const gen = await latestGeneration(out);
    assert.deepEqual(gens, [gen!.split("/").at(-1)]);
    for (
      const f of ["model.json", "weights.bin", "optimizer.json", "optimizer.bin", "state.json"]
    ) {
      assert.ok((await Deno.stat(`${gen}/${f}`)).size > 0, f);
    }
    assert.deepEqual(
      await Deno.readFile(`${gen}/weights.bin`),
      await Deno.readFile(`${out}/weights.bin`),
    );
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${gen}/state.json`)).records, records);
    const leftovers = [...Deno.readDirSync(out)].filter((e) => e.name.endsWith(".tmp"));
    assert.deepEqual(leftovers, [], "temp files left behind");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("a run records its prediction rule with the model, and validation scores with it", async () => {
  await useBackend("cpu");
  const out = await Deno.makeTempDir();
  try {
    const assignment = { minCover: 0, box: "mean", select: "class", vote: 0 };
    // one epoch of 64 scenes at a high rate: enough for the two rules to pick different boxes
    const short = { epochs: 1, trainSize: 64, batchSize: 4, lr: 0.01 };
    const { model, records } = await train(tiny(out, { ...assignment, ...short }), {
      mnist,
      ...quiet,
    });
    model.dispose();
    const config = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
    assert.deepEqual(config.predict, { select: "class", vote: 0 });
    assert.equal(config.settings.sampling, "permutation");
    const json = JSON.parse(await Deno.readTextFile(`${out}/model.json`));
    assert.deepEqual(json.extra.predict, { select: "class", vote: 0 });
    const { model: loaded } = await loadModel(out);
    assert.deepEqual(loaded.rule, { select: "class", vote: 0 });
    // the epoch's validation numbers are those of the recorded rule, not of the default one
    const val = await makeValSet(mnist.val, { count: 12, seed: 0, model: loaded, minCover: 0 });
    const mine = await evaluate(loaded, val, { box: "mean" });
    const other = await evaluate(loaded, val, { box: "mean", select: "detection", vote: 0.5 });
    for (const c of val.chunks) tf.dispose([c.images, c.targets]);
    loaded.dispose();
    assert.deepEqual(
      [records[0].val.accuracy, records[0].val.meanIou],
      [mine.accuracy, mine.meanIou],
    );
    assert.notEqual(other.meanIou, mine.meanIou, "the two rules must differ for the check to bite");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("tensor count stays flat over training steps", async () => {
  await useBackend("cpu");
  const out = await Deno.makeTempDir();
  try {
    const counts: number[] = [];
    for (const trainSize of [8, 32]) {
      const before = tf.memory().numTensors;
      const { model } = await train(tiny(out, { epochs: 1, trainSize }), { mnist, ...quiet });
      model.dispose();
      counts.push(tf.memory().numTensors - before);
    }
    assert.deepEqual(counts, [0, 0]);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("--resume continues exactly where the run stopped", async () => {
  await useBackend("cpu");
  const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
  try {
    const straight = await train(tiny(a), { mnist, ...quiet });
    (await train(tiny(b, { epochs: 1 }), { mnist, ...quiet })).model.dispose();
    const resumed = await train(tiny(b, { resume: true }), { mnist, ...quiet });
    assert.equal(resumed.records.length, 2);
    for (const [name, v] of straight.model.variables) {
      const w = resumed.model.variables.get(name)!;
      assert.deepEqual(await w.data(), await v.data(), `${name} differs after resume`);
    }
    assert.deepEqual(resumed.records[1].val.accuracy, straight.records[1].val.accuracy);
    straight.model.dispose();
    resumed.model.dispose();
    await assert.rejects(
      () => train(tiny(`${a}/none`, { resume: true }), { mnist, ...quiet }),
      /Nothing to resume/,
    );
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});

Deno.test("one-cycle schedule: warm-up to the peak at 30 %, then down to peak/1e4", () => {
  const at = (step: number) => learningRate(1, { step, totalSteps: 100, schedule: "onecycle" });
  assert.equal(at(0), 1 / 25);
  assert.equal(at(30), 1);
  assert.ok(Math.abs(at(100) - 1e-4) < 1e-12);
  for (let s = 1; s <= 100; s++) assert.ok(s <= 30 ? at(s) > at(s - 1) : at(s) < at(s - 1));
  assert.equal(learningRate(0.5, { step: 7, totalSteps: 10, schedule: "constant" }), 0.5);
});

Deno.test("deno task train: bad flags exit 2 with one line, write nothing; --help lists defaults", async () => {
  const out = `${await Deno.makeTempDir()}/run`;
  for (const args of [["--epochs=0"], ["--bogus"], ["--backend=gpu"], ["--lr", "abc"]]) {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "tasks/train.ts", ...args, `--out=${out}`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr).trim();
    assert.equal(r.code, 2, `${args}: exit code`);
    assert.equal(err.split("\n").length, 1, `${args}: one line, got ${err}`);
    assert.match(err, new RegExp(args[0].replace(/=.*/, "")));
    await assert.rejects(() => Deno.stat(out), Deno.errors.NotFound);
  }
  const help = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/train.ts", "--help"],
    stdout: "piped",
  }).output();
  const text = new TextDecoder().decode(help.stdout);
  assert.equal(help.code, 0);
  for (
    const flag of [
      "--epochs",
      "--batch-size",
      "--lr",
      "--seed",
      "--backend",
      "--train-size",
      "--mnist",
      "--out",
      "--resume",
    ]
  ) {
    assert.ok(text.includes(flag), `--help lists ${flag}`);
  }
  assert.match(text, /default: runs\/latest/);
});

Deno.test("progress: a redrawn bar on a terminal, periodic plain lines otherwise", async () => {
  const { Progress } = await import("../src/training/progress.ts");
  let tty = "";
  const bar = new Progress("epoch 1/2", 100, { terminal: true, write: (t) => (tty += t) });
  bar.update(100, { det: 0.5 });
  bar.done();
  assert.ok(tty.startsWith("\repoch 1/2 [" + "#".repeat(20) + "] 100/100 "), tty);
  assert.ok(tty.endsWith("ETA 0s det 0.500\u001b[K\n"), tty);
  const lines: string[] = [];
  const plain = new Progress("epoch 1/2", 100, {
    terminal: false,
    every: 3600,
    write: (t) => lines.push(t),
  });
  for (let i = 1; i <= 100; i++) plain.update(i, { cls: 1 });
  plain.done();
  assert.equal(lines.length, 2, "first and last update only");
  assert.ok(lines.every((l) => l.endsWith("\n") && !l.includes("\r")));
});
