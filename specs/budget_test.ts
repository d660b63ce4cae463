/**
 * src/training/budget.ts: durations as people write them, and the plan that fits a recipe to a
 * time budget, against a brute force over every (epochs, batches) a run could take.
 */
import assert from "node:assert/strict";
import { durationCheck, fitToBudget, parseDuration } from "../src/training/budget.ts";

Deno.test("parseDuration: seconds, minutes, hours, fractions and sums; anything else one clear error", () => {
  const cases: [string, number][] = [
    ["90s", 90],
    ["15m", 900],
    ["1.5h", 5400],
    ["1h30m", 5400],
    ["2m 30s", 150],
    [" 45m ", 2700],
  ];
  for (const [text, seconds] of cases) assert.equal(parseDuration(text), seconds, text);
  for (const bad of ["", "15", "m", "15 minutes", "0m", "-5m", "15m10", "1d", "5mm"]) {
    assert.throws(() => parseDuration(bad), /is not a duration: write e\.g\. 90s, 15m/, bad);
  }
  assert.equal(durationCheck(""), undefined, "empty: no budget");
  assert.equal(durationCheck("15m"), undefined);
  assert.match(durationCheck("15")!, /must be a duration such as 15m/);
});

/** The longest run a budget allows, by trying every epoch count and every shortened epoch. */
function bruteForce(seconds: number, rate: number, epochs: number, size: number, batch: number) {
  const cost = (e: number, s: number) => (e * s) / (rate * 0.8);
  let best = { epochs: 1, trainSize: Math.min(size, batch) };
  for (let e = 1; e <= epochs; e++) {
    if (cost(e, size) <= seconds) best = { epochs: e, trainSize: size };
  }
  if (cost(1, size) > seconds) {
    for (let b = 1; b * batch <= size; b++) {
      if (cost(1, b * batch) <= seconds) best = { epochs: 1, trainSize: b * batch };
    }
  }
  return best;
}

Deno.test("fitToBudget: the longest run that fits, never longer than the recipe (brute force)", () => {
  for (const seconds of [1, 30, 60, 400, 900, 2700, 1e5]) {
    for (const rate of [50, 386, 1300, 5000]) {
      for (const [epochs, size, batch] of [[18, 50000, 32], [3, 1000, 32], [5, 100, 64]]) {
        const plan = fitToBudget({
          seconds,
          imagesPerSecond: rate,
          epochs,
          trainSize: size,
          batchSize: batch,
        });
        const want = bruteForce(seconds, rate, epochs, size, batch);
        const at = `${seconds} s at ${rate}/s, ${epochs}×${size}`;
        assert.deepEqual({ epochs: plan.epochs, trainSize: plan.trainSize }, want, at);
        assert.equal(plan.shortened, plan.epochs < epochs || plan.trainSize < size, at);
        assert.ok(plan.seconds <= plan.recipeSeconds + 1e-9, at);
        assert.ok(Math.abs(plan.recipeSeconds - (epochs * size) / (rate * 0.8)) < 1e-6, at);
      }
    }
  }
});

Deno.test("fitToBudget: the README's case, and bad input named", () => {
  // wasm + 1 Worker, the wide net: 18 × 50 000 scenes would take ≈ 49 min
  const plan = fitToBudget({
    seconds: 900,
    imagesPerSecond: 386,
    epochs: 18,
    trainSize: 50000,
    batchSize: 32,
  });
  assert.deepEqual([plan.epochs, plan.trainSize, plan.shortened], [5, 50000, true]);
  assert.equal(Math.round(plan.recipeSeconds / 60), 49);
  const ok = { seconds: 60, imagesPerSecond: 100, epochs: 1, trainSize: 10, batchSize: 2 };
  assert.throws(() => fitToBudget({ ...ok, seconds: 0 }), /seconds must be a positive number/);
  assert.throws(() => fitToBudget({ ...ok, imagesPerSecond: NaN }), /imagesPerSecond/);
  assert.throws(() => fitToBudget({ ...ok, epochs: 1.5 }), /epochs must be a positive integer/);
  assert.throws(() => fitToBudget({ ...ok, efficiency: 2 }), /efficiency must be ≤ 1/);
});
