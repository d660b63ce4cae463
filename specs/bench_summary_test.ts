/**
 * The pure parts of `deno task bench` (tasks/lib/bench_summary.ts, tasks/lib/cpu_peak.ts): ratios
 * taken within a round then their median, GFLOP/s and the fraction of peak, the summary table, and
 * the peak estimate from real cpuinfo files (fixtures/cpuinfo/).
 */
import assert from "node:assert/strict";
import {
  formatSpread,
  type Round,
  summarizeRounds,
  summaryTable,
  throughput,
} from "../tasks/lib/bench_summary.ts";
import { estimatePeak, physicalCores, simdWidth } from "../tasks/lib/cpu_peak.ts";
import { median } from "../tasks/lib/stats.ts";

/** A round: rows [name, train, predict, apply?], PyTorch [train, infer], ONNX Runtime infer. */
const round = (
  rows: [string, number, number, number?][],
  torch: [number, number] | null,
  ort: number | null = null,
): Round => ({
  results: rows.map(([backend, t, p, a]) => ({
    backend,
    trainImagesPerSecond: t,
    predictImagesPerSecond: p,
    ...(a !== undefined ? { applyImagesPerSecond: a } : {}),
  })),
  torch: torch && { trainImagesPerSecond: torch[0], inferImagesPerSecond: torch[1] },
  ort: ort === null ? null : { inferImagesPerSecond: ort },
});

Deno.test("median: odd and even counts, and empty", () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("summarizeRounds: ratios are taken within a round, then their median", () => {
  // onednn trains as fast as PyTorch in every round while both drift with the machine: ratio 1
  // every time, although the medians of the speeds alone would say 2/3 or 3/2
  const rounds = [
    round([["onednn", 100, 10, 40], ["wasm", 50, 5, 20]], [100, 20], 40),
    round([["onednn", 300, 30, 120], ["wasm", 60, 6, 90]], [300, 60], 120),
    round([["onednn", 200, 20, 80], ["wasm", 40, 4, 20]], [200, 40], 80),
  ];
  const s = summarizeRounds(rounds);
  assert.equal(s.rounds, 3);
  assert.deepEqual(s.rows.map((r) => r.backend), ["onednn", "wasm"]);
  assert.deepEqual(s.rows[0].train, { median: 200, min: 100, max: 300 });
  assert.deepEqual(s.rows[0].trainRatio, { median: 1, min: 1, max: 1 });
  assert.deepEqual(s.rows[0].predictRatio, { median: 0.25, min: 0.25, max: 0.25 });
  assert.deepEqual(s.rows[0].applyRatio, { median: 1, min: 1, max: 1 });
  assert.deepEqual(s.rows[1].trainRatio, { median: 0.2, min: 0.2, max: 0.5 });
  assert.deepEqual(s.rows[1].applyRatio, { median: 0.5, min: 0.25, max: 0.75 });
  assert.deepEqual(s.torch?.train, { median: 200, min: 100, max: 300 });
  assert.deepEqual(s.ort?.infer, { median: 80, min: 40, max: 120 });
});

Deno.test("summarizeRounds: references missing in some rounds, rows without apply, mismatched rounds", () => {
  const alone = summarizeRounds([round([["wasm", 10, 1]], null)]);
  assert.equal(alone.torch, undefined);
  assert.equal(alone.ort, undefined);
  assert.equal(alone.rows[0].trainRatio, undefined);
  assert.equal(alone.rows[0].predictRatio, undefined);
  assert.equal(alone.rows[0].apply, undefined);
  const mixed = summarizeRounds([
    round([["wasm", 10, 1], ["wasm+1w", 12, 2]], null, 4),
    round([["wasm", 20, 2], ["wasm+1w", 24, 3]], [40, 4], null),
  ]);
  assert.deepEqual(mixed.rows[0].trainRatio, { median: 0.5, min: 0.5, max: 0.5 });
  assert.deepEqual(mixed.rows[0].predictRatio, { median: 0.25, min: 0.25, max: 0.25 });
  assert.deepEqual(mixed.rows[0].train, { median: 15, min: 10, max: 20 });
  assert.equal(mixed.rows[1].applyRatio, undefined);
  assert.throws(() => summarizeRounds([]), /rounds must not be empty/);
  assert.throws(
    () => summarizeRounds([round([["a", 1, 1]], null), round([["b", 1, 1]], null)]),
    /round 2 has rows \[b\], round 1 \[a\]/,
  );
});

Deno.test("formatSpread prints the median and the range with thin grouping", () => {
  assert.equal(formatSpread({ median: 2016, min: 1506, max: 2506 }), "2 016 (1 506–2 506)");
  assert.equal(formatSpread({ median: 0.857, min: 0.51, max: 1.12 }, 2), "0.86 (0.51–1.12)");
});

Deno.test("throughput: GFLOP/s at 1× (inference) and 3× (training) the forward FLOPs, and of peak", () => {
  // the wide net: 34 MFLOP forward; 11 300 img/s of inference = 384.2 GFLOP/s
  assert.deepEqual(throughput(11_300, 34e6, 1), { gflops: 384.2 });
  const t = throughput(1_000, 34e6, 3, 204);
  assert.ok(Math.abs(t.gflops - 102) < 1e-9);
  assert.ok(Math.abs(t.ofPeak! - 0.5) < 1e-12);
  assert.equal(throughput(1, 1e9, 1, 0).ofPeak, undefined);
});

Deno.test("summaryTable: one Markdown row per row and reference, with ratios and GFLOP/s of peak", () => {
  const s = summarizeRounds([
    round([["onednn", 1000, 2000, 5000], ["onednn+1w", 1200, 2500]], [800, 9000], 10_000),
    round([["onednn", 1400, 2000, 6000], ["onednn+1w", 1300, 2400]], [1000, 9000], 10_000),
  ]);
  const lines = summaryTable(s, {
    forwardFlops: 34e6,
    peakGflops: 340,
    describe: { onednn: "onednn, main thread" },
    torchThreads: 2,
    ortThreads: 2,
  });
  assert.equal(lines.length, 2 + 2 + 2);
  assert.equal(
    lines[0],
    "| row | train img/s | train / PyTorch | `predict` img/s | `predict` / ORT | " +
      "`model.apply` img/s | `apply` / ORT | train GFLOP/s (of peak) | `apply` GFLOP/s (of peak) |",
  );
  // train 1 200 img/s × 3 × 34 MFLOP = 122 GFLOP/s = 36 % of 340; apply 5 500 × 34 M = 187 (55 %)
  assert.equal(
    lines[2],
    "| onednn, main thread | 1 200 (1 000–1 400) | 1.33 (1.25–1.40)× | 2 000 (2 000–2 000) | " +
      "0.20 (0.20–0.20)× | 5 500 (5 000–6 000) | 0.55 (0.50–0.60)× | 122 (36 %) | 187 (55 %) |",
  );
  assert.match(lines[3], /^\| onednn\+1w \| 1 250 .* \| — \| — \| 128 \(38 %\) \| — \|$/);
  assert.equal(
    lines[4],
    "| PyTorch, 2 threads (train; infer in the apply column) | 900 (800–1 000) | — | — | — | " +
      "9 000 (9 000–9 000) | — | 92 (27 %) | 306 (90 %) |",
  );
  assert.equal(
    lines[5],
    "| ONNX Runtime, 2 threads (infer) | — | — | — | — | 10 000 (10 000–10 000) | — | — | " +
      "340 (100 %) |",
  );
  // without a peak: plain GFLOP/s
  assert.match(summaryTable(s, { forwardFlops: 34e6 })[2], /\| 122 \| 187 \|$/);
});

const fixture = (name: string) =>
  Deno.readTextFileSync(new URL(`../fixtures/cpuinfo/${name}`, import.meta.url));

Deno.test("simdWidth: FLOPs per cycle from the widest FMA the flags show", () => {
  assert.deepEqual(simdWidth(new Set(["sse2", "avx", "avx2", "fma", "avx512f"])), {
    flopsPerCycle: 64,
    simd: "AVX-512",
  });
  assert.deepEqual(simdWidth(new Set(["sse2", "avx", "avx2", "fma"])), {
    flopsPerCycle: 32,
    simd: "AVX2",
  });
  assert.equal(simdWidth(new Set(["sse2", "avx", "avx2"])).flopsPerCycle, 16); // no FMA
  assert.equal(simdWidth(new Set(["sse2"])).flopsPerCycle, 8);
  assert.equal(simdWidth(new Set(["fp", "asimd"])).flopsPerCycle, 16);
  assert.equal(simdWidth(new Set()).simd, "scalar");
});

Deno.test("estimatePeak on real cpuinfo files: cores × GHz × FLOPs/cycle, and what it assumed", () => {
  // this project's 2-vCPU AMD EPYC (Zen 4, KVM): 2 × 2.596 GHz × 64
  const zen4 = estimatePeak(fixture("epyc_zen4_kvm.txt"))!;
  assert.equal(zen4.cores, 2);
  assert.equal(zen4.simd, "AVX-512");
  assert.ok(Math.abs(zen4.gflops - 2 * 2.596144 * 64) < 1e-9);
  assert.equal(
    zen4.assumption,
    "2 cores × 2.60 GHz × 64 FLOP/cycle (AVX-512, 2 FMA units assumed)",
  );
  // sysfs cpuinfo_max_freq (kHz) wins over cpu MHz
  assert.ok(Math.abs(estimatePeak(fixture("epyc_zen4_kvm.txt"), "3700000\n")!.ghz - 3.7) < 1e-12);
  // Sapphire Rapids (its second processor's block lists no core id: counted by processors)
  const spr = estimatePeak(fixture("sapphire_rapids.txt"))!;
  assert.deepEqual([spr.cores, spr.ghz, spr.flopsPerCycle, spr.gflops], [2, 2, 64, 256]);
  // hyper-threads of one core share its FMA units: counted once
  const block = (cpu: number, core: number) =>
    `processor\t: ${cpu}\nphysical id\t: 0\ncore id\t\t: ${core}\ncpu MHz\t\t: 1000\n` +
    "flags\t\t: sse2 avx avx2 fma\n";
  const smt = [block(0, 0), block(1, 0), block(2, 1), block(3, 1)].join("\n");
  assert.equal(physicalCores(smt), 2);
  assert.equal(estimatePeak(smt)!.gflops, 2 * 1 * 32);
  // no clock (this EPYC 7742 file and ARM's have no "cpu MHz"): no estimate
  assert.equal(estimatePeak(fixture("epyc_7742.txt")), null);
  assert.equal(estimatePeak(fixture("neoverse_n1.txt")), null);
  assert.equal(estimatePeak(""), null);
});
