/**
 * The detection term: binary cross-entropy of the objectness logit against the target's 0/1, on
 * every window, in the stable with-logits form `max(x, 0) − x·y + log(1 + e^−|x|)`; its gradient
 * is `σ(x) − y`.
 *
 * @module
 */
import { OUTPUT, TARGET } from "../layout.ts";
import type { LossTerm } from "./term.ts";

/** The detection term. */
export const detection: LossTerm<"detection"> = {
  name: "detection",
  short: "det",
  about: "BCE of objectness on every window",
  conditional: false,
  tensor({ tf, out, target }) {
    const logit = out.objectness, y = target.objectness;
    const bce = tf.add(
      tf.sub(tf.relu(logit), tf.mul(logit, y)),
      tf.log1p(tf.exp(tf.neg(tf.abs(logit)))),
    );
    return tf.sum(bce);
  },
  window({ out, o, target, t, dOut }) {
    const x = out[o + OUTPUT.objectness], y = target[t + TARGET.objectness];
    dOut[o + OUTPUT.objectness] += 1 / (1 + Math.exp(-x)) - y;
    return Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x)));
  },
};
