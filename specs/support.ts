/** Helpers shared by the specs (no tests here). */
import assert from "node:assert/strict";
import { makeRng } from "../src/rng.ts";
import { defaultTrainConfig, type TrainConfig } from "../src/training/config.ts";
import type { ArchLayer } from "../src/model/model.ts";

/** `n` seeded values, uniform in [−1, 1), or integers 0–2 when `ints` (to make ties). */
export function randArray(n: number, seed: number, ints = false): Float32Array {
  const rng = makeRng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = ints ? rng.int(3) : rng.uniform(-1, 1);
  return a;
}

/** max |a − b| / max |b|, for arrays of one length. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0, scale = 1e-12;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

/**
 * A seeded batch of `n` sparse `size × size` one-channel images and per-window targets for `grid`
 * (objectness 0/1, label 0–9, box values in [−0.5, 1.5)), flat.
 */
export function batch(n: number, size: number, grid: { rows: number; cols: number }, seed: number) {
  const rng = makeRng(seed);
  const images = new Float32Array(n * size * size);
  for (let i = 0; i < images.length; i++) images[i] = rng.next() < 0.3 ? rng.next() : 0;
  const targets = new Float32Array(n * grid.rows * grid.cols * 6);
  for (let i = 0; i < targets.length; i += 6) {
    targets[i] = rng.int(2);
    targets[i + 1] = rng.int(10);
    for (let j = 2; j < 6; j++) targets[i + j] = rng.uniform(-0.5, 1.5);
  }
  return { images, targets };
}

/**
 * Asserts a training step's loss parts and gradients equal a reference's (relative error ≤ 1e-4),
 * and that the case exercises the class and box terms; `shapes` name the gradients in messages.
 */
export function assertStepMatches(
  got: { parts: ArrayLike<number>; grads: Float32Array[] },
  want: { parts: ArrayLike<number>; grads: ArrayLike<number>[] },
  shapes: readonly (readonly number[])[],
): void {
  for (let i = 0; i < 3; i++) {
    const err = Math.abs(got.parts[i] - want.parts[i]) / Math.max(1e-6, Math.abs(want.parts[i]));
    assert.ok(err <= 1e-4, `part ${i}: ${got.parts[i]} vs ${want.parts[i]}`);
  }
  assert.ok(want.parts[1] > 0, "the case must exercise the class and box terms");
  for (const [i, g] of got.grads.entries()) {
    assert.equal(g.length, want.grads[i].length);
    const err = relErr(g, want.grads[i]);
    assert.ok(err <= 1e-4, `gradient ${i} (${shapes[i]}): relative error ${err}`);
  }
}

/**
 * A tiny training run for the training specs: 2 epochs of 24 scenes in batches of 8, 12 val
 * scenes, constant learning rate, no Workers, writing to `out`; `more` overrides any setting.
 */
export function tinyConfig(out: string, more: Partial<TrainConfig> = {}): TrainConfig {
  return {
    ...defaultTrainConfig(),
    epochs: 2,
    trainSize: 24,
    batchSize: 8,
    valSize: 12,
    schedule: "constant",
    workers: 0,
    out,
    ...more,
  };
}

/** Training options that print nothing and train `arch`. */
export function quietly(arch: readonly ArchLayer[]) {
  return { log: () => {}, progress: { terminal: false, write: () => {} }, arch };
}
