import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import { loadModel, loadTensors } from "../src/model/checkpoint.ts";
import type { TrainConfig } from "../src/training/config.ts";
import { quietly, tinyConfig } from "./support.ts";
import { lockDir, LockedError } from "../src/training/lock.ts";
import { loadMnist } from "../src/data/mnist.ts";
import type { ArchLayer } from "../src/model/model.ts";
import type { LossParts } from "../src/model/loss/terms.ts";
import { makeRng } from "../src/rng.ts";
import { train } from "../src/training/train.ts";
import { latestGeneration } from "../src/training/run_folder.ts";

const mnist = await loadMnist({ dir: "fixtures/mnist", testCount: 4 });
// The default geometry with very few channels: fast on cpu.
const arch: ArchLayer[] = [
  { kind: "conv", kernel: 5, filters: 2 },
  { kind: "pool", kernel: 2 },
  { kind: "conv", kernel: 5, filters: 2 },
  { kind: "pool", kernel: 2 },
  { kind: "conv", kernel: 7, filters: 4 },
  { kind: "conv", kernel: 1, filters: 15, activation: "linear" },
];
const quiet = quietly(arch);

const tiny = (out: string, more: Partial<TrainConfig> = {}): TrainConfig =>
  tinyConfig(out, { valSize: 8, ...more });

const TASK = ["run", "-A", "tasks/train.ts"];
const SMALL = [
  "--batch-size=8",
  "--val-size=8",
  "--workers=0",
  "--mnist=fixtures/mnist",
  "--backend=wasm",
];

async function runTrain(args: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [...TASK, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, stderr: new TextDecoder().decode(r.stderr) };
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), { args: ["eval", ""] }).spawn();
  await child.status;
  return child.pid;
}

Deno.test("lock: a live owner is refused, a dead one's lock is taken over with a notice", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lock = await lockDir(dir);
    await assert.rejects(() => lockDir(dir), LockedError);
    await lock.release();
    await assert.rejects(() => Deno.stat(`${dir}/.lock`), Deno.errors.NotFound);

    const pid = await deadPid();
    const host = Deno.hostname();
    await Deno.writeTextFile(`${dir}/.lock`, JSON.stringify({ pid, host }));
    await Deno.writeTextFile(`${dir}/.weights.bin.${pid}.abcd1234.tmp`, "torn");
    const notices: string[] = [];
    const taken = await lockDir(dir, { notice: (l) => notices.push(l) });
    assert.equal(notices.length, 1);
    assert.match(notices[0], new RegExp(`stale lock .*pid ${pid} is gone`));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [".lock"], "temp file removed");
    await taken.release();

    // A second training on the same --out: one line, exit 1, nothing written.
    await Deno.writeTextFile(`${dir}/.lock`, JSON.stringify({ pid: Deno.pid, host }));
    const r = await runTrain([...SMALL, "--train-size=8", "--epochs=1", `--out=${dir}`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^error: ${dir} is in use by another training \\(pid`));
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [".lock"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("NaN/Inf loss stops training with a clear error and keeps the last good checkpoint", async () => {
  await useBackend("cpu");
  const out = `${await Deno.makeTempDir()}/run`;
  try {
    const before = tf.memory().numTensors;
    // 3 steps per epoch: step 4 is the second batch of epoch 2.
    const lossHook = (parts: LossParts<number>, step: number) =>
      step === 4 ? { ...parts, detection: NaN } : parts;
    await assert.rejects(
      () => train(tiny(out), { mnist, ...quiet, lossHook }),
      /Training loss became NaN at epoch 2, batch 2 \(step 5.*last good checkpoint is in/,
    );
    assert.equal(tf.memory().numTensors, before, "tensors leaked on the NaN error");
    const { model, extra } = await loadModel(out);
    model.dispose();
    assert.equal(extra.epoch, 1);
    assert.equal(JSON.parse(await Deno.readTextFile(`${out}/metrics.json`)).length, 1);
    await assert.rejects(() => Deno.stat(`${out}/.lock`), Deno.errors.NotFound, "lock released");
    await assert.rejects(
      () =>
        train(tiny(`${out}2`), {
          mnist,
          ...quiet,
          lossHook: (p) => ({ ...p, classification: Infinity }),
        }),
      /Training loss became infinite at epoch 1, batch 1 .*no checkpoint was written/,
    );
    await assert.rejects(() => Deno.stat(`${out}2`), Deno.errors.NotFound, "nothing written");

    // The CLI: a learning rate that diverges → one error line, exit 1.
    const r = await runTrain([...SMALL, "--train-size=64", "--lr=1e30", `--out=${out}3`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: Training loss became (NaN|infinite) .*try a lower --lr$/m);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
  } finally {
    await Deno.remove(out.replace(/\/run$/, ""), { recursive: true });
  }
});

Deno.test("memory: tf.memory().numTensors is the same after step 10 and step 500", async () => {
  await useBackend("wasm");
  const { registerWasmTrainingKernels } = await import("../src/backends/wasm/training_kernels.ts");
  registerWasmTrainingKernels();
  const out = await Deno.makeTempDir();
  try {
    const counts = new Map<number, number>();
    const { model } = await train(
      tiny(out, { epochs: 1, trainSize: 500, batchSize: 1, valSize: 2 }),
      {
        mnist,
        ...quiet,
        onStep: ({ step }) => {
          if (step === 10 || step === 500) counts.set(step, tf.memory().numTensors);
        },
      },
    );
    model.dispose();
    assert.equal(counts.size, 2);
    assert.equal(counts.get(500), counts.get(10), `tensors at steps 10 / 500: ${[...counts]}`);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("SIGKILL at random moments: the newest checkpoint generation is whole and resumes", async () => {
  await useBackend("cpu");
  const out = `${await Deno.makeTempDir()}/run`;
  const rng = makeRng(8);
  // Many short epochs: a kill often lands in a checkpoint write.
  const args = [...SMALL, "--train-size=16", "--epochs=200", `--out=${out}`];
  let checked = 0;
  try {
    for (let round = 0; round < 5; round++) {
      const resume = (await latestGeneration(out)) !== undefined;
      const child = new Deno.Command(Deno.execPath(), {
        args: [...TASK, ...args, ...(resume ? ["--resume"] : [])],
        stdout: "null",
        stderr: "null",
      }).spawn();
      if (round === 0) {
        // the first run gets to its first generation however busy the machine is
        for (let waited = 0; !(await latestGeneration(out)) && waited < 120_000; waited += 100) {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await new Promise((r) => setTimeout(r, 600 + rng.int(2500)));
      child.kill("SIGKILL");
      await child.status;
      const gen = await latestGeneration(out);
      if (!gen) {
        // killed before the first generation: nothing but dot-files (lock, temporary files)
        const names = await Array.fromAsync(Deno.readDir(out)).then(
          (es) => es.map((e) => e.name),
          () => [],
        );
        assert.ok(
          names.every((n) => n.startsWith(".") || n === "checkpoint"),
          `round ${round}: no generation but ${names}`,
        );
        continue;
      }
      // model, optimizer and records of the generation come from one and the same step
      const { model, extra } = await loadModel(gen);
      model.dispose();
      const { json, tensors } = await loadTensors(gen, "optimizer.json");
      tf.dispose([...tensors.values()]);
      const state = JSON.parse(await Deno.readTextFile(`${gen}/state.json`));
      assert.equal(extra.steps, json.extra?.steps, `round ${round}: model and optimizer steps`);
      assert.equal(extra.epoch, json.extra?.epoch, `round ${round}: model and optimizer epoch`);
      assert.equal(state.records.length, extra.epoch, `round ${round}: records and epoch`);
      assert.equal(gen.split("/").at(-1), String(extra.steps).padStart(9, "0"));
      // what users open loads whenever it is there
      if (await Deno.stat(`${out}/model.json`).then(() => true, () => false)) {
        (await loadModel(out)).model.dispose();
        JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
        JSON.parse(await Deno.readTextFile(`${out}/config.json`));
      }
      checked++;
    }
    assert.ok(checked >= 3, `only ${checked} rounds found a checkpoint to check`);
  } finally {
    await Deno.remove(out.replace(/\/run$/, ""), { recursive: true });
  }
});
