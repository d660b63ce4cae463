/**
 * The assignment's conditional loss, summed over windows and images: the sum of the terms of
 * ./loss/terms.ts, in two forms side by side —
 *
 * - {@linkcode loss}: tfjs ops (what the tape differentiates);
 * - {@linkcode lossAndGradient}: on arrays, with its gradient (what the hand-written step of
 *   ./array_net.ts runs).
 *
 * The terms: detection, BCE(sigmoid(out₀), y₀) on every window (stable with-logits form
 * `max(x, 0) − x·y + log(1 + e^−|x|)`); and on windows where sigmoid(out₀) > 0.5 and y₀ = 1 only
 * (the mask, which carries no gradient): classification NLL(log_softmax(out₁..₁₀), y₁) and
 * regression MSE(out₁₁..₁₄, y₂..₅).
 *
 * The regression MSE sums the squared error over the 4 box coordinates by default (`box: "sum"`),
 * i.e. 4× the per-coordinate mean: the class term otherwise swamps the box term and boxes train
 * worse (PyTorch reference on this task: mean IoU 0.56 with the mean vs 0.64 with the sum after
 * the same time). `box: "mean"` gives the mean over the 4 coordinates.
 *
 * @module
 */
import "../gradients.ts";
import { type Scalar, type Tensor, type Tensor4D, tf } from "../deps.ts";
import { type BoxReduction, checkBoxReduction, CLASSES, OUTPUT, TARGET } from "./layout.ts";
import {
  LOSS_TERMS,
  type LossParts,
  type LossSettings,
  type TermWindow,
  zeroParts,
} from "./loss/terms.ts";

export type { LossParts } from "./loss/terms.ts";

/** Options of {@linkcode loss} and {@linkcode lossAndGradient}. */
export interface LossOptions {
  /** Reduction of the squared box error over the 4 coordinates; default "sum". */
  box?: BoxReduction;
}

/** 1 where sigmoid(logit) > 0.5, else 0; no gradient flows through it. */
const positive = tf.customGrad((...args) => ({
  value: tf.cast(tf.greater(tf.sigmoid(args[0] as Tensor), 0.5), "float32"),
  gradFunc: (dy: Tensor) => tf.zerosLike(dy),
}));

/**
 * The conditional loss of network outputs `out` [N, rows, cols, 15] against targets `target`
 * [N, rows, cols, 6] (channels obj, label, top, bottom, left, right): each term and their total.
 * Call inside `tf.tidy` or dispose the scalars.
 *
 * @example
 * ```ts
 * import { loss } from "./loss.ts";
 * import { type Scalar, type Tensor, type Tensor4D, tf } from "../deps.ts";
 * const out = tf.zeros([1, 2, 2, 15]) as Tensor4D;
 * const target = tf.zeros([1, 2, 2, 6]) as Tensor4D;
 * const { total } = loss(out, target);
 * console.log(total.dataSync()[0]); // 4·ln 2 ≈ 2.7726
 * ```
 */
export function loss(out: Tensor4D, target: Tensor4D, options: LossOptions = {}): LossParts {
  const [n, rows, cols, channels] = out.shape;
  if (channels !== OUTPUT.channels) {
    throw new RangeError(
      `out must have ${OUTPUT.channels} channels (obj, ${CLASSES} classes, 4 box), got ${channels}`,
    );
  }
  const ts = target.shape;
  const want = TARGET.channels;
  if (ts.length !== 4 || ts[0] !== n || ts[1] !== rows || ts[2] !== cols || ts[3] !== want) {
    throw new RangeError(
      `target must have shape [${n}, ${rows}, ${cols}, ${want}] to match out, got [${ts}]`,
    );
  }
  const settings: LossSettings = { box: checkBoxReduction(options.box) };
  return tf.tidy(() => {
    const [objectness, classes, box] = tf.split(out, [...OUTPUT.split], 3) as Tensor4D[];
    const [y0, label, yBox] = tf.split(target, [...TARGET.split], 3) as Tensor4D[];
    const mask = tf.mul(positive(objectness) as Tensor, y0) as Tensor4D; // [N, r, c, 1]
    const at = {
      tf,
      out: { objectness, classes, box },
      target: { objectness: y0, label, box: yBox },
      mask,
      shape: [n, rows, cols] as [number, number, number],
    };
    const parts = {} as LossParts;
    let total: Tensor | undefined;
    for (const term of LOSS_TERMS) {
      const value = term.tensor(at, settings);
      parts[term.name] = value;
      total = total ? tf.add(total, value) : value;
    }
    parts.total = total as Scalar;
    return parts;
  });
}

/**
 * The conditional loss of raw outputs `out` (`[N, rows, cols, 15]`, flat) against `targets`
 * (`[N, rows, cols, 6]`), each term summed in float64 over the windows; writes d(total)/d(out)
 * into `dOut` (same length as `out`).
 *
 * @example
 * ```ts
 * import { lossAndGradient } from "./loss.ts";
 * const out = new Float32Array(15), dOut = new Float32Array(15);
 * const parts = lossAndGradient(out, new Float32Array(6), dOut);
 * console.log(parts.detection.toFixed(4), dOut[0]); // "0.6931" 0.5
 * ```
 */
export function lossAndGradient(
  out: Float32Array,
  targets: Float32Array,
  dOut: Float32Array,
  options: LossOptions = {},
): LossParts<number> {
  const OC = OUTPUT.channels, TC = TARGET.channels;
  const windows = out.length / OC;
  if (!Number.isInteger(windows) || targets.length !== windows * TC) {
    throw new RangeError(
      `out (${out.length} values) and targets (${targets.length}) must hold the same windows ` +
        `of ${OC} and ${TC} channels`,
    );
  }
  if (dOut.length !== out.length) {
    throw new RangeError(`dOut must have ${out.length} values like out, got ${dOut.length}`);
  }
  const settings: LossSettings = { box: checkBoxReduction(options.box) };
  // the mask: sigmoid(logit) > 0.5 in float32 (as tfjs computes it), times y₀
  const mask = new Float64Array(windows);
  for (let w = 0; w < windows; w++) {
    const x = out[w * OC + OUTPUT.objectness];
    mask[w] = Math.fround(1 / (1 + Math.exp(-x))) > 0.5 ? targets[w * TC + TARGET.objectness] : 0;
  }
  dOut.fill(0);
  const parts = zeroParts();
  const at: TermWindow = { out, o: 0, target: targets, t: 0, dOut, mask: 1 };
  for (const term of LOSS_TERMS) {
    let sum = 0;
    for (let w = 0; w < windows; w++) {
      at.mask = term.conditional ? mask[w] : 1;
      if (at.mask === 0) continue;
      at.o = w * OC;
      at.t = w * TC;
      sum += term.window(at, settings);
    }
    parts[term.name] = sum;
  }
  parts.total = 0;
  for (const term of LOSS_TERMS) parts.total += parts[term.name];
  return parts;
}
