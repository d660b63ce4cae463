/**
 * Medians and ranges over interleaved bench rounds: each round measures every row and PyTorch
 * once, one after the other, so the machine's slow and fast minutes hit them alike; a ratio to
 * PyTorch is taken within a round, then the median of the ratios is reported.
 *
 * @module
 */
import { median } from "./stats.ts";

/** One row's measurement in one round. */
export interface RowResult {
  /** Row name, e.g. "native+1w". */
  backend: string;
  /** Training images per second. */
  trainImagesPerSecond: number;
  /** Inference images per second. */
  inferImagesPerSecond: number;
}

/** PyTorch's measurement in one round. */
export interface TorchResult {
  /** Training images per second. */
  trainImagesPerSecond: number;
  /** Inference images per second. */
  inferImagesPerSecond: number;
}

/** One round: every row, then PyTorch (null when it is not installed). */
export interface Round {
  /** The rows, in bench order. */
  results: RowResult[];
  /** PyTorch in the same round. */
  torch: TorchResult | null;
}

/** A median with the range it came from. */
export interface Spread {
  /** Median over the rounds. */
  median: number;
  /** Smallest value. */
  min: number;
  /** Largest value. */
  max: number;
}

/** The summary of one row over the rounds. */
export interface RowSummary {
  /** Row name. */
  backend: string;
  /** Training images per second. */
  train: Spread;
  /** Inference images per second. */
  infer: Spread;
  /** Training images per second over PyTorch's, per round (absent without PyTorch). */
  trainRatio?: Spread;
  /** Inference images per second over PyTorch's, per round. */
  inferRatio?: Spread;
}

/** Median and range of `xs`. */
export function spread(xs: readonly number[]): Spread {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/**
 * Summarises interleaved rounds: per row, medians and ranges of its speeds and of its ratios to
 * PyTorch within each round; and PyTorch's own spread.
 *
 * @example
 * ```ts
 * import { summarizeRounds } from "./bench_summary.ts";
 * const r = (t: number, p: number) => ({
 *   results: [{ backend: "native", trainImagesPerSecond: t, inferImagesPerSecond: 1 }],
 *   torch: { trainImagesPerSecond: p, inferImagesPerSecond: 1 },
 * });
 * console.log(summarizeRounds([r(1, 2), r(3, 3), r(5, 4)]).rows[0].trainRatio?.median); // 1
 * ```
 */
export function summarizeRounds(
  rounds: readonly Round[],
): { rows: RowSummary[]; torch?: { train: Spread; infer: Spread } } {
  if (rounds.length === 0) throw new RangeError("rounds must not be empty");
  const names = rounds[0].results.map((r) => r.backend);
  const withTorch = rounds.filter((r) => r.torch !== null);
  const rows = names.map((backend, i): RowSummary => {
    const of = (rs: readonly Round[]) => rs.map((r) => r.results[i]);
    const summary: RowSummary = {
      backend,
      train: spread(of(rounds).map((x) => x.trainImagesPerSecond)),
      infer: spread(of(rounds).map((x) => x.inferImagesPerSecond)),
    };
    if (withTorch.length > 0) {
      summary.trainRatio = spread(
        withTorch.map((r) => r.results[i].trainImagesPerSecond / r.torch!.trainImagesPerSecond),
      );
      summary.inferRatio = spread(
        withTorch.map((r) => r.results[i].inferImagesPerSecond / r.torch!.inferImagesPerSecond),
      );
    }
    return summary;
  });
  if (withTorch.length === 0) return { rows };
  return {
    rows,
    torch: {
      train: spread(withTorch.map((r) => r.torch!.trainImagesPerSecond)),
      infer: spread(withTorch.map((r) => r.torch!.inferImagesPerSecond)),
    },
  };
}

/** "2 016 (1 506–2 506)": a spread as the README's tables print it. */
export function formatSpread(s: Spread, digits = 0): string {
  const f = (x: number) =>
    x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
      .replaceAll(",", " ");
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}
