import assert from "node:assert/strict";
import { RUN_SH } from "../tasks/gpu_pack.ts";
import { ARCHITECTURES, modelCost } from "../src/model/model.ts";
import { defaultTrainConfig } from "../src/training/config.ts";

// The GPU pack (tasks/gpu_pack.ts) itself takes minutes to build (xz of the Deno binary); these
// specs check its parts: the runner parses, the bundle is self-contained, the bench runs.

const ROOT = new URL("..", import.meta.url).pathname;
const MNIST = `${ROOT}fixtures/mnist`;

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("run.sh is valid POSIX sh and runs the bundle with Deno from the pack, offline", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/run.sh`, RUN_SH);
  const r = await run("sh", ["-n", `${dir}/run.sh`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(RUN_SH, /"\$here\/bin\/deno" run -A --no-config --cached-only gpu_bench\.js/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the bundled gpu_bench runs from an empty Deno cache with --cached-only (self-contained)", async () => {
  const dir = await Deno.makeTempDir();
  const bundle = await run(Deno.execPath(), [
    "bundle",
    "--platform",
    "deno",
    "-o",
    `${dir}/gpu_bench.js`,
    `${ROOT}tasks/gpu_bench.ts`,
  ]);
  assert.equal(bundle.code, 0, bundle.stderr);
  const r = await run(
    Deno.execPath(),
    ["run", "-A", "--no-config", "--cached-only", `${dir}/gpu_bench.js`, "--help"],
    { DENO_DIR: `${dir}/deno`, NO_COLOR: "1" },
  );
  assert.equal(r.code, 0, r.stderr);
  for (const flag of ["--arch", "--batches", "--read-every", "--epochs", "--lr-scale", "--mnist"]) {
    assert.match(r.stdout, new RegExp(`\\s${flag}\\b`), flag);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("gpu_bench on wasm: the default architecture's bench row, sweep and a short training, written to gpu_bench.json", async () => {
  const dir = await Deno.makeTempDir();
  const r = await run(Deno.execPath(), [
    "run",
    "-A",
    `${ROOT}tasks/gpu_bench.ts`,
    "--backend=wasm",
    "--batches=4,8",
    "--steps=2",
    "--read-every=3",
    "--epochs=1",
    "--train-size=16",
    "--val-size=8",
    "--train-batch=8",
    `--mnist=${MNIST}`,
    `--out=${dir}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(await Deno.readTextFile(`${dir}/gpu_bench.json`));
  assert.equal(json.backend, "wasm");
  // it measures the net `deno task train` trains, not the small one
  assert.equal(json.arch, defaultTrainConfig().arch);
  assert.equal(json.model.params, modelCost(ARCHITECTURES[json.arch]).params);
  assert.ok(json.benchRow.trainImagesPerSecond > 0);
  assert.deepEqual(json.sweep.map((s: { batchSize: number }) => s.batchSize), [4, 8]);
  assert.ok(json.sweep.every((s: { imagesPerSecond: number }) => s.imagesPerSecond > 0));
  // batch 8 is 8/32 of the default: the peak lr scales by √(1/4)
  assert.equal(json.training.batch, 8);
  assert.ok(Math.abs(json.training.lr - 3e-3 / 2) < 1e-12);
  assert.equal(json.training.val.count, 8);
  const [epoch] = json.training.epochs;
  assert.ok(epoch.classification > 0 && epoch.regression > 0, "scenes have objects");
  await Deno.remove(dir, { recursive: true });
});
