/**
 * What a term of the loss is: its name (a field of every `LossParts`), its tfjs form (what
 * ../loss.ts's `loss` sums and the tape differentiates) and its array form with its gradient
 * (what ../loss.ts's `lossAndGradient` runs for the hand-written step), side by side in one file
 * per term (./detection.ts, ./classification.ts, ./regression.ts), gathered in ./terms.ts.
 *
 * The files are plain TypeScript: the tfjs form is handed the tfjs namespace.
 *
 * @module
 */
import type { Scalar, Tensor4D, tf } from "../../deps.ts";
import type { BoxReduction } from "../layout.ts";

/** The loss's settings, checked, as every term reads them. */
export interface LossSettings {
  /** Reduction of the squared box error over the 4 coordinates. */
  box: BoxReduction;
}

/** What a term's tfjs form reads: the output and target split by ../layout.ts, and the mask. */
export interface TermTensors {
  /** The tfjs namespace. */
  tf: typeof tf;
  /** The output's groups: objectness logit `[N, r, c, 1]`, class logits `[…, 10]`, box `[…, 4]`. */
  out: { objectness: Tensor4D; classes: Tensor4D; box: Tensor4D };
  /** The target's groups: objectness `[N, r, c, 1]`, label `[…, 1]`, box `[…, 4]`. */
  target: { objectness: Tensor4D; label: Tensor4D; box: Tensor4D };
  /** 1 on the windows the conditional terms count (true positives), else 0; no gradient. */
  mask: Tensor4D;
  /** `[N, rows, cols]`. */
  shape: [number, number, number];
}

/**
 * One window, as a term's array form reads it: the window's output starts at `out[o]` (15
 * values, ../layout.ts `OUTPUT`), its target at `target[t]` (6 values, `TARGET`).
 */
export interface TermWindow {
  /** Raw outputs `[N, rows, cols, 15]`, flat. */
  out: Float32Array;
  /** Where this window's output starts. */
  o: number;
  /** Targets `[N, rows, cols, 6]`, flat. */
  target: Float32Array;
  /** Where this window's target starts. */
  t: number;
  /** The gradient of the loss with respect to `out`: the term adds its own into it. */
  dOut: Float32Array;
  /** The window's mask (1 on a true positive); conditional terms see only windows where ≠ 0. */
  mask: number;
}

/** One term of the loss. */
export interface LossTerm<N extends string = string> {
  /** Its name: a field of `LossParts` (metrics.json, config, curves). */
  readonly name: N;
  /** Its short name: a column of the printed table and the progress line. */
  readonly short: string;
  /** One line about it. */
  readonly about: string;
  /** Whether it counts only the windows of the mask (the conditional part of the loss). */
  readonly conditional: boolean;
  /** The term summed over windows and images, as tfjs ops. */
  tensor(at: TermTensors, settings: LossSettings): Scalar;
  /** The term at one window (times its mask when conditional); adds its gradient into `dOut`. */
  window(at: TermWindow, settings: LossSettings): number;
}
