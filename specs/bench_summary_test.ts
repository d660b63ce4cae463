import assert from "node:assert/strict";
import { formatSpread, summarizeRounds } from "../tasks/lib/bench_summary.ts";
import { median } from "../tasks/lib/stats.ts";

const round = (rows: [string, number, number][], torch: [number, number] | null) => ({
  results: rows.map(([backend, t, i]) => ({
    backend,
    trainImagesPerSecond: t,
    inferImagesPerSecond: i,
  })),
  torch: torch && { trainImagesPerSecond: torch[0], inferImagesPerSecond: torch[1] },
});

Deno.test("median: odd and even counts, and empty", () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("summarizeRounds: ratios are taken within a round, then their median", () => {
  // native is as fast as PyTorch in every round while both drift with the machine: ratio 1
  // every time, although the medians of the speeds alone would say 2/3 or 3/2
  const rounds = [
    round([["native", 100, 10], ["wasm", 50, 5]], [100, 20]),
    round([["native", 300, 30], ["wasm", 60, 6]], [300, 60]),
    round([["native", 200, 20], ["wasm", 40, 4]], [200, 40]),
  ];
  const s = summarizeRounds(rounds);
  assert.deepEqual(s.rows.map((r) => r.backend), ["native", "wasm"]);
  assert.deepEqual(s.rows[0].train, { median: 200, min: 100, max: 300 });
  assert.deepEqual(s.rows[0].trainRatio, { median: 1, min: 1, max: 1 });
  assert.deepEqual(s.rows[0].inferRatio, { median: 0.5, min: 0.5, max: 0.5 });
  assert.deepEqual(s.rows[1].trainRatio, { median: 0.2, min: 0.2, max: 0.5 });
  assert.deepEqual(s.torch?.train, { median: 200, min: 100, max: 300 });
});

Deno.test("summarizeRounds: without PyTorch, speeds only; rounds missing PyTorch are skipped for ratios", () => {
  const alone = summarizeRounds([round([["wasm", 10, 1]], null)]);
  assert.equal(alone.torch, undefined);
  assert.equal(alone.rows[0].trainRatio, undefined);
  const mixed = summarizeRounds([
    round([["wasm", 10, 1]], null),
    round([["wasm", 20, 2]], [40, 4]),
  ]);
  assert.deepEqual(mixed.rows[0].trainRatio, { median: 0.5, min: 0.5, max: 0.5 });
  assert.deepEqual(mixed.rows[0].train, { median: 15, min: 10, max: 20 });
  assert.throws(() => summarizeRounds([]), /rounds must not be empty/);
});

Deno.test("formatSpread prints the median and the range with thin grouping", () => {
  assert.equal(formatSpread({ median: 2016, min: 1506, max: 2506 }), "2 016 (1 506–2 506)");
  assert.equal(formatSpread({ median: 0.857, min: 0.51, max: 1.12 }, 2), "0.86 (0.51–1.12)");
});
