import assert from "node:assert/strict";
import { parseFlags, UsageError } from "../src/cli.ts";
import { expandPreset, TRAIN_FLAGS, TRAIN_PRESETS } from "../src/training/config.ts";
import { PRETRAINED_DETECTOR, PRETRAINED_MODEL, resolveModel } from "../src/model/checkpoint.ts";

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

Deno.test("--preset: an unknown name is a one-line usage error", () => {
  assert.throws(() => expandPreset(["--preset=huge"]), (e: Error) => {
    assert.ok(e instanceof UsageError);
    assert.match(e.message, /^--preset must be one of localizer, detector, got "huge"$/);
    return true;
  });
  assert.throws(() => parseFlags(["--preset=huge"], TRAIN_FLAGS), UsageError);
});

Deno.test("resolveModel: a folder with model.json wins, else a shipped model by name, else one line", async () => {
  assert.equal(String(await resolveModel("default")), String(PRETRAINED_MODEL));
  assert.equal(String(await resolveModel("detector")), String(PRETRAINED_DETECTOR));
  assert.equal(await resolveModel("models/default"), "models/default");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/model.json`, "{}");
    assert.equal(await resolveModel(dir), dir);
    await assert.rejects(() => resolveModel(`${dir}/nothing`), (e: Error) => {
      assert.match(
        e.message,
        /^No model at .*nothing\/model\.json; pass --model DIR .*: default, detector$/,
      );
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
