/**
 * The terms of the loss, in one table: each term in its own file (./term.ts says what a term is),
 * and {@linkcode LossParts}, the loss's parts by name, derived from the table. Everything that
 * carries, sums, records or prints the parts (the steps, the Workers, the pool, the training loop,
 * validation, metrics.json, the curves, the progress line) iterates {@linkcode LOSS_TERMS}.
 *
 * A new term: one file exporting a {@linkcode LossTerm}, and one line in {@linkcode LOSS_TERMS}.
 *
 * @module
 */
import type { Scalar } from "../../deps.ts";
import { classification } from "./classification.ts";
import { detection } from "./detection.ts";
import { regression } from "./regression.ts";
import type { LossTerm } from "./term.ts";

export type { LossSettings, LossTerm, TermTensors, TermWindow } from "./term.ts";

/** The terms of the loss by their names, in order: the type of {@linkcode LOSS_TERMS}. */
export type LossTerms = readonly [
  LossTerm<"detection">,
  LossTerm<"classification">,
  LossTerm<"regression">,
];

/** The terms of the loss, in the order they are summed and printed. */
export const LOSS_TERMS: LossTerms = Object.freeze(
  [detection, classification, regression] as const,
);

/** A term's name: "detection", "classification" or "regression". */
export type LossTermName = (typeof LOSS_TERMS)[number]["name"];

/**
 * The loss and its parts by name, one field per term of {@linkcode LOSS_TERMS} plus `total` (their
 * sum, in the table's order): `detection` (BCE of objectness on every window), `classification`
 * (NLL of the label on true-positive windows), `regression` (box squared error on true-positive
 * windows). `T` is `Scalar` for the tensors ../loss.ts's `loss` returns, `number` for values read
 * back (a batch's sums, or means per image in metrics.json).
 */
export type LossParts<T = Scalar> = { [K in LossTermName | "total"]: T };

/** `total` of parts: the terms summed in the table's order. */
function totalOf(parts: Readonly<Record<LossTermName, number>>): number {
  let total = 0;
  for (const term of LOSS_TERMS) total += parts[term.name];
  return total;
}

/** Parts from the terms' values (total added), in the table's order of fields. */
function withTotal(values: Readonly<Record<LossTermName, number>>): LossParts<number> {
  const parts = {} as LossParts<number>;
  for (const term of LOSS_TERMS) parts[term.name] = values[term.name];
  parts.total = totalOf(values);
  return parts;
}

/**
 * Zero parts: the start of a sum.
 *
 * @example
 * ```ts
 * import { zeroParts } from "./terms.ts";
 * console.log(zeroParts().total); // 0
 * ```
 */
export function zeroParts(): LossParts<number> {
  const zeros = {} as Record<LossTermName, number>;
  for (const term of LOSS_TERMS) zeros[term.name] = 0;
  return withTotal(zeros);
}

/**
 * The term-by-term sum of parts, in order, with the total recomputed from the summed terms.
 *
 * @example
 * ```ts
 * import { sumParts, zeroParts } from "./terms.ts";
 * const a = { ...zeroParts(), detection: 1, total: 1 };
 * console.log(sumParts([a, a]).detection); // 2
 * ```
 */
export function sumParts(list: readonly LossParts<number>[]): LossParts<number> {
  const sums = zeroParts();
  for (const parts of list) for (const term of LOSS_TERMS) sums[term.name] += parts[term.name];
  return withTotal(sums);
}

/**
 * Parts divided by `count` (default 1; at least 1), the total being the summed terms divided
 * once: means per image from a batch's or an epoch's sums.
 *
 * @example
 * ```ts
 * import { meanParts } from "./terms.ts";
 * console.log(meanParts({ detection: 2, classification: 4, regression: 6, total: 12 }, 2));
 * // { detection: 1, classification: 2, regression: 3, total: 6 }
 * ```
 */
export function meanParts(sums: Readonly<LossParts<number>>, count = 1): LossParts<number> {
  const d = Math.max(count, 1);
  const parts = {} as LossParts<number>;
  for (const term of LOSS_TERMS) parts[term.name] = sums[term.name] / d;
  parts.total = totalOf(sums) / d;
  return parts;
}

/**
 * Parts from values given in {@linkcode LOSS_TERMS} order (e.g. a read-back of the terms stacked
 * into one tensor), each divided by `count` (default 1), with their total.
 *
 * @example
 * ```ts
 * import { lossParts } from "./terms.ts";
 * console.log(lossParts([2, 4, 6], 2)); // { detection: 1, classification: 2, regression: 3, total: 6 }
 * ```
 */
export function lossParts(values: ArrayLike<number>, count = 1): LossParts<number> {
  if (values.length !== LOSS_TERMS.length) {
    throw new RangeError(`values must hold ${LOSS_TERMS.length} loss terms, got ${values.length}`);
  }
  const sums = {} as LossParts<number>;
  LOSS_TERMS.forEach((term, i) => sums[term.name] = values[i]);
  sums.total = totalOf(sums);
  return meanParts(sums, count);
}
