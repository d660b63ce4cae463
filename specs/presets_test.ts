import assert from "node:assert/strict";
import { parseFlags, UsageError } from "../src/cli.ts";
import {
  expandPreset,
  presetConfig,
  TRAIN_FLAGS,
  TRAIN_PRESETS,
  workerCount,
} from "../src/training/config.ts";
import {
  loadModel,
  PRETRAINED_ASSIGNMENT,
  PRETRAINED_DETECTOR,
  PRETRAINED_MODEL,
  resolveModel,
} from "../src/model/checkpoint.ts";
import { ASSIGNMENT_RULE } from "../src/model/predict.ts";
import { backendNamed, useBackend } from "../src/backends/backend.ts";

Deno.test("--preset detector sets the detector's flags; flags given on the command line win", () => {
  const detector = parseFlags(expandPreset(["--preset=detector"]), TRAIN_FLAGS)!;
  assert.equal(detector.preset, "detector");
  assert.equal(detector.scenes, "reading");
  assert.equal(detector.assign, "centre");
  assert.equal(detector.epochs, 16);
  assert.equal(detector.size, 128);
  assert.equal(detector.out, "runs/detector");
  const mine = parseFlags(
    expandPreset(["--epochs", "2", "--preset", "detector", "--out=runs/x"]),
    TRAIN_FLAGS,
  )!;
  assert.equal(mine.epochs, 2);
  assert.equal(mine.out, "runs/x");
  assert.equal(mine.size, 128);
  // no preset: the defaults (the assignment's localizer), positives holding the whole digit
  const plain = parseFlags(expandPreset([]), TRAIN_FLAGS)!;
  assert.equal(plain.preset, "localizer");
  assert.equal(plain.digits, "1");
  assert.equal(plain.scenes, "digits");
  assert.equal(plain.assign, "area");
  assert.equal(plain.size, 64);
  assert.equal(plain.minCover, 1);
  assert.equal(plain.arch, "wide");
  // every preset's flags are flags the parser knows
  for (const name of Object.keys(TRAIN_PRESETS)) {
    assert.ok(parseFlags(expandPreset([`--preset=${name}`]), TRAIN_FLAGS));
  }
});

Deno.test("--preset assignment makes the assignment's choices; presetConfig gives the same settings", () => {
  const a = parseFlags(expandPreset(["--preset=assignment"]), TRAIN_FLAGS)!;
  assert.equal(a.preset, "assignment");
  assert.equal(a.minCover, 0, "any-overlap targets");
  assert.equal(a.box, "mean", "the mean squared box error");
  assert.equal(a.select, "class", "the best class score");
  assert.equal(a.vote, 0, "no box vote");
  assert.equal(a.sampling, "permutation");
  assert.equal(a.trainSize, 60000, "one pass over the 60 000 training digits");
  assert.equal(a.digits, "1");
  assert.equal(a.size, 64);
  assert.equal(a.out, "runs/assignment");
  assert.deepEqual(presetConfig("assignment"), a);
  assert.deepEqual(presetConfig("assignment", { epochs: 2 }), { ...a, epochs: 2 });
  // the defaults keep the project's rule; every recipe samples a permutation per epoch
  const plain = presetConfig("localizer");
  assert.deepEqual([plain.select, plain.vote, plain.sampling], ["detection", 0.5, "permutation"]);
  assert.throws(() => presetConfig("huge"), UsageError);
});

Deno.test("--preset: an unknown name is a one-line usage error", () => {
  assert.throws(() => expandPreset(["--preset=huge"]), (e: Error) => {
    assert.ok(e instanceof UsageError);
    assert.match(
      e.message,
      /^--preset must be one of localizer, assignment, detector, got "huge"$/,
    );
    return true;
  });
  assert.throws(() => parseFlags(["--preset=huge"], TRAIN_FLAGS), UsageError);
});

Deno.test("resolveModel: a folder with model.json wins, else a shipped model by name, else one line", async () => {
  assert.equal(String(await resolveModel("default")), String(PRETRAINED_MODEL));
  assert.equal(String(await resolveModel("detector")), String(PRETRAINED_DETECTOR));
  assert.equal(String(await resolveModel("assignment")), String(PRETRAINED_ASSIGNMENT));
  assert.equal(await resolveModel("models/default"), "models/default");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/model.json`, "{}");
    assert.equal(await resolveModel(dir), dir);
    await assert.rejects(() => resolveModel(`${dir}/nothing`), (e: Error) => {
      assert.match(
        e.message,
        /^No model at .*nothing\/model\.json; pass --model DIR .*: default, detector, assignment$/,
      );
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("models/assignment is the assignment's recipe and carries the assignment's rule", async () => {
  await useBackend("wasm");
  const { model, extra } = await loadModel(PRETRAINED_ASSIGNMENT);
  try {
    assert.deepEqual(model.rule, ASSIGNMENT_RULE);
    assert.deepEqual(extra.predict, ASSIGNMENT_RULE);
    const config = JSON.parse(
      await Deno.readTextFile(new URL("config.json", PRETRAINED_ASSIGNMENT)),
    );
    const want = presetConfig("assignment");
    for (const key of ["minCover", "box", "select", "vote", "sampling", "trainSize", "arch"]) {
      assert.equal(config.settings[key], want[key as keyof typeof want], key);
    }
    assert.equal(config.settings.preset, "assignment");
  } finally {
    model.dispose();
  }
});

Deno.test("--workers: auto (none on a backend spanning the cores, cores − 1 elsewhere) or a count", () => {
  const flags = parseFlags([], TRAIN_FLAGS)!;
  assert.equal(flags.workers, "auto");
  assert.equal(workerCount("auto", backendNamed("onednn"), 4), 0);
  assert.equal(workerCount("auto", backendNamed("onednn-bf16"), 4), 0);
  assert.equal(workerCount("auto", backendNamed("native"), 4), 3);
  assert.equal(workerCount("auto", backendNamed("wasm"), 1), 0);
  assert.equal(workerCount("2", backendNamed("onednn"), 4), 2);
  assert.equal(parseFlags(["--workers=0"], TRAIN_FLAGS)!.workers, "0");
  for (const bad of ["-1", "1.5", "many"]) {
    assert.throws(
      () => parseFlags([`--workers=${bad}`], TRAIN_FLAGS),
      (e: Error) =>
        e instanceof UsageError &&
        /--workers must be "auto" or a non-negative integer/.test(e.message),
      bad,
    );
  }
});
