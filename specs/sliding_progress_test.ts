/** `deno task sliding`'s progress: the calls it reports and the time it estimates is left. */
import assert from "node:assert/strict";
import { useBackend } from "../src/backends/backend.ts";
import {
  andrewFlops,
  SlidingEta,
  type SlidingStep,
  timeSliding,
} from "../tasks/lib/sliding_study.ts";

Deno.test("timeSliding reports every call: warm-up (conv, seq), then seq and conv per run", async () => {
  await useBackend("wasm");
  const steps: SlidingStep[] = [];
  await timeSliding({ sizes: [16, 20], runs: () => 2, onProgress: (s) => steps.push(s) });
  const seen = steps.map((s) => `${s.size}:${s.run}:${s.method[0]}`);
  const one = (
    n: number,
  ) => [`${n}:0:c`, `${n}:0:s`, `${n}:1:s`, `${n}:1:c`, `${n}:2:s`, `${n}:2:c`];
  assert.deepEqual(seen, [...one(16), ...one(20)]);
  assert.ok(steps.every((s) => s.ms >= 0 && s.runs === 2));
});

Deno.test("SlidingEta: GFLOPs left times each form's latest ms per GFLOP", () => {
  const sizes = [100, 200];
  const eta = new SlidingEta({ sizes, batch: 5, runs: () => 1 });
  const f = sizes.map((n) => andrewFlops(n, 5));
  const total = 2 * (f[0].sequential + f[0].conv + f[1].sequential + f[1].conv);
  assert.ok(Math.abs(eta.totalGflop - total) < 1e-9);
  // nothing measured: 1 s per GFLOP
  assert.ok(Math.abs(eta.remainingMs() - 1000 * total) < 1e-6);
  // the conv warm-up of 100 px took 10 ms per GFLOP, the sequential one 30 ms per GFLOP
  eta.record({ size: 100, method: "convolutional", run: 0, runs: 1, ms: 10 * f[0].conv });
  eta.record({ size: 100, method: "sequential", run: 0, runs: 1, ms: 30 * f[0].sequential });
  const left100 = 30 * f[0].sequential + 10 * f[0].conv;
  assert.ok(Math.abs(eta.remainingMs(100) - left100) < 1e-6);
  const left200 = 2 * (30 * f[1].sequential + 10 * f[1].conv);
  assert.ok(Math.abs(eta.remainingMs() - (left100 + left200)) < 1e-6);
  // all calls done: nothing left
  eta.record({ size: 100, method: "sequential", run: 1, runs: 1, ms: 1 });
  eta.record({ size: 100, method: "convolutional", run: 1, runs: 1, ms: 1 });
  for (const method of ["convolutional", "sequential", "sequential", "convolutional"] as const) {
    eta.record({ size: 200, method, run: 0, runs: 1, ms: 1 });
  }
  assert.equal(eta.remainingMs(), 0);
});
