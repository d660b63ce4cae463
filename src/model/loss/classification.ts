/**
 * The classification term: negative log-likelihood of the label under the softmax of the 10 class
 * logits, on the true-positive windows only; its gradient is `softmax − onehot`. A label outside
 * 0–9 gives an all-zero one-hot, as tfjs's `oneHot` does.
 *
 * @module
 */
import { CLASSES, OUTPUT, TARGET } from "../layout.ts";
import type { LossTerm } from "./term.ts";

const FIRST = OUTPUT.classes, END = OUTPUT.classes + CLASSES;

/** The classification term. */
export const classification: LossTerm<"classification"> = {
  name: "classification",
  short: "cls",
  about: "NLL of the label on true-positive windows",
  conditional: true,
  tensor({ tf, out, target, mask, shape }) {
    const logp = tf.logSoftmax(out.classes);
    const onehot = tf.oneHot(tf.cast(tf.reshape(target.label, shape), "int32"), CLASSES);
    const nll = tf.neg(tf.sum(tf.mul(logp, onehot), 3, true));
    return tf.sum(tf.mul(nll, mask));
  },
  window({ out, o, target, t, dOut, mask }) {
    let max = -Infinity;
    for (let j = FIRST; j < END; j++) max = Math.max(max, out[o + j]);
    let sum = 0;
    for (let j = FIRST; j < END; j++) sum += Math.exp(out[o + j] - max);
    const logSum = Math.log(sum) + max;
    // as tfjs: oneHot(cast(label, int32)), all zeros outside 0–9
    const label = Math.trunc(target[t + TARGET.label]);
    const hot = label >= 0 && label < CLASSES ? label : -1;
    for (let j = FIRST; j < END; j++) {
      const p = Math.exp(out[o + j] - logSum);
      dOut[o + j] += mask * (p - (j - FIRST === hot ? 1 : 0));
    }
    return hot >= 0 ? mask * (logSum - out[o + FIRST + hot]) : 0;
  },
};
