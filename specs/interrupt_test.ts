import assert from "node:assert/strict";
import { nativeAvailable } from "../src/backends/backend.ts";
import { latestGeneration } from "../src/training/run_folder.ts";

// Real subprocesses of `deno task train`: Ctrl-C (SIGINT) mid-epoch, then --resume, must end with
// the same weights and metrics as an uninterrupted run of the same seed (wasm with --workers 0;
// native, where OpenBLAS is installed, with one Worker).
const BASE = [
  "--train-size=96",
  "--batch-size=8",
  "--val-size=16",
  "--epochs=2",
  "--seed=3",
  "--mnist=fixtures/mnist",
];

async function run(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/train.ts", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

/** Starts training; sends SIGINT once stderr shows `trigger`; returns exit code and output. */
async function runInterrupted(
  args: string[],
  trigger: RegExp,
): Promise<{ code: number; stderr: string; stdout: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/train.ts", ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  let stderr = "";
  let sent = false;
  const dec = new TextDecoder();
  for await (const chunk of child.stderr) {
    stderr += dec.decode(chunk, { stream: true });
    if (!sent && trigger.test(stderr)) {
      child.kill("SIGINT");
      sent = true;
    }
  }
  const { code } = await child.status;
  return { code, stderr, stdout: await stdout };
}

/** metrics.json without the wall-clock fields. */
async function metrics(dir: string): Promise<unknown[]> {
  const records = JSON.parse(await Deno.readTextFile(`${dir}/metrics.json`));
  return records.map((r: Record<string, unknown>) => {
    const { time: _t, trainSeconds: _a, valSeconds: _b, imagesPerSecond: _c, ...rest } = r;
    return rest;
  });
}

for (const [backend, workers] of [["wasm", 0], ["native", 1]] as const) {
  const TINY = [...BASE, `--backend=${backend}`, `--workers=${workers}`];
  Deno.test({
    name: `train (${backend}, ${workers} workers): Ctrl-C saves mid-epoch and exits 130; ` +
      "--resume matches an uninterrupted run",
    ignore: backend === "native" && !nativeAvailable(),
    fn: () => interruptAndResume(TINY),
  });
}

async function interruptAndResume(TINY: string[]): Promise<void> {
  const tmp = await Deno.makeTempDir();
  try {
    const straight = await run([...TINY, `--out=${tmp}/a`]);
    assert.equal(straight.code, 0, straight.stderr);

    const b = `${tmp}/b`;
    const stopped = await runInterrupted([...TINY, `--out=${b}`], /epoch 1\/2 \d+%/);
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.doesNotMatch(stopped.stderr, /^\s+at /m, "no stack trace");
    const partial = JSON.parse(await Deno.readTextFile(`${b}/metrics.json`));
    const last = partial.at(-1);
    assert.equal(last.interrupted, true);
    assert.equal(last.epoch, 1);
    assert.ok(last.batch > 0 && last.batch < 12, `stopped mid-epoch, at batch ${last.batch}`);
    assert.equal(last.seen, 8 * last.batch);
    assert.equal(last.steps, last.batch);
    await assert.rejects(() => Deno.stat(`${b}/.lock`), Deno.errors.NotFound, "lock released");

    const resumed = await run([...TINY, `--out=${b}`, "--resume"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(
      await Deno.readFile(`${b}/weights.bin`),
      await Deno.readFile(`${tmp}/a/weights.bin`),
      "weights differ from the uninterrupted run",
    );
    assert.deepEqual(
      await Deno.readFile(`${await latestGeneration(b)}/optimizer.bin`),
      await Deno.readFile(`${await latestGeneration(`${tmp}/a`)}/optimizer.bin`),
      "Adam state differs from the uninterrupted run",
    );
    assert.deepEqual(await metrics(b), await metrics(`${tmp}/a`));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}
