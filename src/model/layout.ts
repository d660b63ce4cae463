/**
 * The one place that names the channels of the network's output and of the per-window targets.
 * Every module that splits an output or a target (the loss and its terms, the decoders, the
 * encoders) takes its offsets from here. The parts of the loss are named by the table of its
 * terms (./loss/terms.ts).
 *
 * Output, per window (15 channels): objectness logit (0), 10 class logits (1–10), 4 box values
 * `[top, bottom, left, right]` in the window's frame (11–14).
 *
 * Target, per window (6 channels): objectness 0/1 (0), label (1), the same 4 box values (2–5).
 *
 * @module
 */
export type { LossParts } from "./loss/terms.ts";

/** Digit classes (0–9). */
export const CLASSES = 10;

/** Where the groups of a per-window vector start, how many channels it has, and group sizes. */
export interface ChannelLayout {
  /** Channel of the objectness (logit in the output, 0/1 in the target). */
  readonly objectness: number;
  /** First of the 4 box values (top, bottom, left, right in the window frame). */
  readonly box: number;
  /** Channels in all. */
  readonly channels: number;
  /** Sizes of the three groups, for `tf.split(x, layout.split, 3)`. */
  readonly split: readonly number[];
}

/** Channel offsets of the network's output per window. */
export const OUTPUT: ChannelLayout & { readonly classes: number } = Object.freeze({
  /** Objectness logit. */
  objectness: 0,
  /** First of the {@linkcode CLASSES} class logits. */
  classes: 1,
  /** First of the 4 box values (top, bottom, left, right in the window frame). */
  box: 1 + CLASSES,
  /** Channels in all: 15. */
  channels: 1 + CLASSES + 4,
  /** Sizes of the three groups, for `tf.split(out, OUTPUT.split, 3)`. */
  split: Object.freeze([1, CLASSES, 4]) as readonly number[],
});

/** Channel offsets of the per-window target. */
export const TARGET: ChannelLayout & { readonly label: number } = Object.freeze({
  /** 1 when the window holds a digit, else 0. */
  objectness: 0,
  /** The digit's label. */
  label: 1,
  /** First of the 4 box values (top, bottom, left, right in the window frame). */
  box: 2,
  /** Channels in all: 6. */
  channels: 6,
  /** Sizes of the three groups, for `tf.split(target, TARGET.split, 3)`. */
  split: Object.freeze([1, 1, 4]) as readonly number[],
});

/** Channels of the network output (15); the same as `OUTPUT.channels`. */
export const OUTPUT_CHANNELS: number = OUTPUT.channels;
/** Channels of a per-window target (6); the same as `TARGET.channels`. */
export const TARGET_CHANNELS: number = TARGET.channels;

/**
 * How the squared box error is reduced over the 4 coordinates: `"sum"` (the default; a squared
 * error weighted like the class term) or `"mean"`.
 */
export type BoxReduction = "sum" | "mean";

/** The allowed {@linkcode BoxReduction}s. */
export const BOX_REDUCTIONS: readonly BoxReduction[] = ["sum", "mean"];

/**
 * Checks a box reduction option; throws a one-line error naming `what`.
 *
 * @example
 * ```ts
 * import { checkBoxReduction } from "./layout.ts";
 * console.log(checkBoxReduction(undefined)); // "sum"
 * ```
 */
export function checkBoxReduction(value: unknown, what = "options.box"): BoxReduction {
  const box = value ?? "sum";
  if (!BOX_REDUCTIONS.includes(box as BoxReduction)) {
    throw new RangeError(`${what} must be "sum" or "mean", got ${JSON.stringify(value)}`);
  }
  return box as BoxReduction;
}
