import assert from "node:assert/strict";
import {
  DETECTION_FLAGS,
  detectionOptions,
  mnistFlag,
  parseFlags,
  positiveInt,
  UsageError,
} from "../src/cli.ts";
import { DEFAULT_OFFSETS } from "../src/detection/detect.ts";
import { BACKEND_NAMES, backendFlag, BACKENDS } from "../src/backends/backend.ts";
import { TRAIN_FLAGS } from "../src/training/config.ts";

const SPECS = {
  epochs: { default: 3, help: "Epochs", check: positiveInt },
  mnist: mnistFlag(),
  backend: backendFlag(),
  resume: { default: false as boolean, help: "Resume" },
};

Deno.test("parseFlags: --key=value, --key value, --no-flag, defaults", () => {
  const f = parseFlags(["--epochs", "5", "--mnist=dir", "--no-resume"], SPECS);
  assert.deepEqual(f, { epochs: 5, mnist: "dir", backend: "wasm", resume: false });
  assert.equal(parseFlags(["--help"], SPECS), null);
});

Deno.test("parseFlags: a flag spelled apart from its key; the pre-1.0 --mnist-dir is gone", () => {
  // train's config key stays mnistDir (the library's TrainConfig); its flag is --mnist
  assert.equal(parseFlags(["--mnist=x"], TRAIN_FLAGS)?.mnistDir, "x");
  assert.throws(() => parseFlags(["--mnist-dir=y"], TRAIN_FLAGS), /Unknown flag --mnist-dir/);
});

Deno.test("parseFlags: --backend takes exactly the names of the backend table", () => {
  assert.deepEqual(BACKEND_NAMES, ["auto", ...BACKENDS.map((b) => b.name)]);
  for (const name of BACKEND_NAMES) {
    assert.equal(parseFlags([`--backend=${name}`], SPECS)?.backend, name);
  }
  assert.throws(
    () => parseFlags(["--backend=gpu"], SPECS),
    (e: Error) =>
      e instanceof UsageError &&
      e.message === `--backend must be one of ${BACKEND_NAMES.join(", ")}; got "gpu"`,
  );
  assert.throws(() => parseFlags(["--epochs=0"], SPECS), /--epochs must be a positive integer/);
  assert.throws(() => parseFlags(["--nope"], SPECS), /Unknown flag --nope; known flags: --epochs/);
});

Deno.test("defineTask: --help prints the flags, a usage error exits 2 with one line", async () => {
  const script = `
import { defineTask, positiveInt } from "${new URL("../src/cli.ts", import.meta.url)}";
const task = defineTask({
  usage: "deno task hello", about: "Says hello.",
  flags: { times: { default: 1, help: "How many times", check: positiveInt } },
  run: async ({ times }) => { console.log("hello ".repeat(times).trim()); return 0; },
});
await task.main();`;
  const run = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-config", script, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const d = new TextDecoder();
    return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
  };
  const ok = await run("--times=2");
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), "hello hello");
  const help = await run("--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task hello \[flags\]/);
  assert.match(help.stdout, /--times=N\s+How many times \(default: 1\)/);
  const bad = await run("--times=0");
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim(), "error: --times must be a positive integer, got 0");
});

Deno.test("detection flags: --offsets passes through; its default is detect's", () => {
  const flags = parseFlags(["--offsets=4"], DETECTION_FLAGS)!;
  assert.equal(detectionOptions(flags).offsets, 4);
  assert.equal(DETECTION_FLAGS.offsets.default, DEFAULT_OFFSETS);
  assert.equal(detectionOptions(parseFlags([], DETECTION_FLAGS)!).offsets, DEFAULT_OFFSETS);
});

Deno.test("detection flags: --border passes a number through; auto leaves detect's default", () => {
  assert.equal(detectionOptions(parseFlags(["--border=0"], DETECTION_FLAGS)!).border, 0);
  assert.equal(detectionOptions(parseFlags(["--border=24"], DETECTION_FLAGS)!).border, 24);
  assert.ok(!("border" in detectionOptions(parseFlags([], DETECTION_FLAGS)!)));
  for (const bad of ["-1", "1.5", "x"]) {
    assert.throws(() => parseFlags([`--border=${bad}`], DETECTION_FLAGS), /border must be auto/);
  }
});
