/** Helpers shared by the specs (no tests here). */
import assert from "node:assert/strict";
import { makeRng } from "../src/rng.ts";
import { tf } from "../src/deps.ts";
import { loss } from "../src/model/loss.ts";
import type { BoxReduction } from "../src/model/layout.ts";
import { defaultTrainConfig, type TrainConfig } from "../src/training/config.ts";
import type { ArchLayer, Model } from "../src/model/model.ts";
import { LOSS_TERMS, type LossParts } from "../src/model/loss/terms.ts";

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
 * and that the case exercises the conditional terms; `shapes` name the gradients in messages.
 */
export function assertStepMatches(
  got: { parts: LossParts<number>; grads: Float32Array[] },
  want: { parts: LossParts<number>; grads: ArrayLike<number>[] },
  shapes: readonly (readonly number[])[],
): void {
  for (const { name } of LOSS_TERMS) {
    const [g, w] = [got.parts[name], want.parts[name]];
    const err = Math.abs(g - w) / Math.max(1e-6, Math.abs(w));
    assert.ok(err <= 1e-4, `${name}: ${g} vs ${w}`);
  }
  for (const term of LOSS_TERMS.filter((t) => t.conditional)) {
    assert.ok(want.parts[term.name] > 0, "the case must exercise the conditional terms");
  }
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
    workers: "0",
    out,
    ...more,
  };
}

/** Training options that print nothing and train `arch`. */
export function quietly(arch: readonly ArchLayer[]) {
  return { log: () => {}, progress: { terminal: false, write: () => {} }, arch };
}

/**
 * The loss parts and gradients of `model` by tfjs's tape on the active backend: the oracle the
 * hand-written steps are held to.
 */
export function tapeReference(
  model: Model,
  images: { data: Float32Array; shape: [number, number, number, number] },
  targets: { data: Float32Array; shape: [number, number, number, number] },
  box: BoxReduction = "sum",
): { parts: LossParts<number>; grads: Float32Array[] } {
  const vars = [...model.variables.values()];
  return tf.tidy(() => {
    const x = tf.tensor4d(images.data, images.shape), y = tf.tensor4d(targets.data, targets.shape);
    let kept: LossParts<tf.Tensor> | undefined;
    const { grads } = tf.variableGrads(() => {
      const p = loss(model.apply(x), y, { box });
      kept = { ...p };
      for (const k of Object.keys(p) as (keyof typeof p)[]) kept[k] = tf.keep(p[k]);
      return p.total;
    }, vars);
    const parts = {} as LossParts<number>;
    for (const k of Object.keys(kept!) as (keyof LossParts)[]) parts[k] = kept![k].dataSync()[0];
    return { parts, grads: vars.map((v) => grads[v.name].dataSync() as Float32Array) };
  });
}
