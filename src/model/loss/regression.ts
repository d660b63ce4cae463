/**
 * The regression term: squared error of the 4 box values, on the true-positive windows only,
 * summed over the coordinates (`box: "sum"`, the default) or their mean (`"mean"`); see
 * ../loss.ts for why the sum.
 *
 * @module
 */
import { OUTPUT, TARGET } from "../layout.ts";
import type { LossTerm } from "./term.ts";

/** The regression term. */
export const regression: LossTerm<"regression"> = {
  name: "regression",
  short: "reg",
  about: "box squared error on true-positive windows",
  conditional: true,
  tensor({ tf, out, target, mask }, { box }) {
    let se = tf.sum(tf.square(tf.sub(out.box, target.box)), 3, true);
    if (box === "mean") se = tf.div(se, 4);
    return tf.sum(tf.mul(se, mask));
  },
  window({ out, o, target, t, dOut, mask }, { box }) {
    const scale = box === "mean" ? 0.25 : 1;
    let se = 0;
    for (let j = 0; j < 4; j++) {
      const d = out[o + OUTPUT.box + j] - target[t + TARGET.box + j];
      se += d * d;
      dOut[o + OUTPUT.box + j] += mask * 2 * d * scale;
    }
    return mask * se * scale;
  },
};
