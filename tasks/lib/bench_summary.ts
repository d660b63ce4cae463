/**
 * Medians and ranges over interleaved bench rounds: each round measures every row, PyTorch and
 * ONNX Runtime once, one after the other, so the machine's slow and fast minutes hit them alike; a
 * ratio is taken within a round (slidewin training / PyTorch training, `predict` / ONNX Runtime
 * inference, `model.apply` / ONNX Runtime inference), then the median of the ratios is reported.
 * GFLOP/s come from the median images/s and the model's forward FLOPs per image (a training image
 * counts 3× its forward FLOPs: forward, backward to the inputs, backward to the weights).
 *
 * @module
 */
import { median } from "./stats.ts";

/** One row's measurement in one round. */
export interface RowResult {
  /** Row name, e.g. "onednn+1w". */
  backend: string;
  /** Training images per second. */
  trainImagesPerSecond: number;
  /**
   * `predict` images per second (forward, then decoding): as the tasks run it (`model.apply`) on a
   * backend's plain row, through the row's step on its Worker and tape rows.
   */
  predictImagesPerSecond: number;
  /** `model.apply` images per second on the row's backend (measured once per backend). */
  applyImagesPerSecond?: number;
}

/** PyTorch's measurement in one round. */
export interface TorchResult {
  /** Training images per second. */
  trainImagesPerSecond: number;
  /** Inference images per second. */
  inferImagesPerSecond: number;
  /** Threads it ran on. */
  threads?: number;
}

/** ONNX Runtime's measurement in one round (inference of the exported graph). */
export interface OrtResult {
  /** Inference images per second. */
  inferImagesPerSecond: number;
}

/** One round: every row, then PyTorch and ONNX Runtime (null when not there). */
export interface Round {
  /** The rows, in bench order. */
  results: RowResult[];
  /** PyTorch in the same round. */
  torch: TorchResult | null;
  /** ONNX Runtime in the same round. */
  ort?: OrtResult | null;
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
  /** `predict` images per second. */
  predict: Spread;
  /** `model.apply` images per second (rows that measured it). */
  apply?: Spread;
  /** Training images per second over PyTorch's, per round (absent without PyTorch). */
  trainRatio?: Spread;
  /** `predict` over ONNX Runtime's inference, per round (absent without ONNX Runtime). */
  predictRatio?: Spread;
  /** `model.apply` over ONNX Runtime's inference, per round. */
  applyRatio?: Spread;
}

/** The summary of all rounds. */
export interface BenchSummary {
  /** Rounds summarised. */
  rounds: number;
  /** Per row. */
  rows: RowSummary[];
  /** PyTorch's own spread (absent when it never ran). */
  torch?: { train: Spread; infer: Spread };
  /** ONNX Runtime's own spread (absent when it never ran). */
  ort?: { infer: Spread };
}

/** Median and range of `xs`. */
export function spread(xs: readonly number[]): Spread {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/** The spread of `f` over the rounds where it is a number; undefined when none. */
function over(rounds: readonly Round[], f: (r: Round) => number | undefined): Spread | undefined {
  const xs = rounds.map(f).filter((x): x is number => typeof x === "number" && Number.isFinite(x));
  return xs.length ? spread(xs) : undefined;
}

/**
 * Summarises interleaved rounds: per row, medians and ranges of its speeds and of its ratios to
 * PyTorch (training) and ONNX Runtime (`predict`, `model.apply`) within each round; and the
 * references' own spreads. Rows are matched by position (every round runs the same rows).
 *
 * @example
 * ```ts
 * import { summarizeRounds } from "./bench_summary.ts";
 * const r = (t: number, p: number) => ({
 *   results: [{ backend: "onednn", trainImagesPerSecond: t, predictImagesPerSecond: 1 }],
 *   torch: { trainImagesPerSecond: p, inferImagesPerSecond: 1 },
 *   ort: { inferImagesPerSecond: 2 },
 * });
 * const s = summarizeRounds([r(1, 2), r(3, 3), r(5, 4)]);
 * console.log(s.rows[0].trainRatio?.median, s.rows[0].predictRatio?.median); // 1 0.5
 * ```
 */
export function summarizeRounds(rounds: readonly Round[]): BenchSummary {
  if (rounds.length === 0) throw new RangeError("rounds must not be empty");
  const names = rounds[0].results.map((r) => r.backend);
  for (const [i, round] of rounds.entries()) {
    if (round.results.map((r) => r.backend).join() !== names.join()) {
      throw new RangeError(
        `round ${i + 1} has rows [${round.results.map((r) => r.backend)}], ` +
          `round 1 [${names}]`,
      );
    }
  }
  const rows = names.map((backend, i): RowSummary => {
    const row = (r: Round) => r.results[i];
    const summary: RowSummary = {
      backend,
      train: over(rounds, (r) => row(r).trainImagesPerSecond)!,
      predict: over(rounds, (r) => row(r).predictImagesPerSecond)!,
    };
    const optional: Partial<RowSummary> = {
      apply: over(rounds, (r) => row(r).applyImagesPerSecond),
      trainRatio: over(
        rounds,
        (r) => r.torch ? row(r).trainImagesPerSecond / r.torch.trainImagesPerSecond : undefined,
      ),
      predictRatio: over(
        rounds,
        (r) => r.ort ? row(r).predictImagesPerSecond / r.ort.inferImagesPerSecond : undefined,
      ),
      applyRatio: over(rounds, (r) => {
        const apply = row(r).applyImagesPerSecond;
        return r.ort && apply !== undefined ? apply / r.ort.inferImagesPerSecond : undefined;
      }),
    };
    for (const [key, value] of Object.entries(optional)) {
      if (value !== undefined) (summary as unknown as Record<string, unknown>)[key] = value;
    }
    return summary;
  });
  const result: BenchSummary = { rounds: rounds.length, rows };
  const torchTrain = over(rounds, (r) => r.torch?.trainImagesPerSecond);
  if (torchTrain) {
    result.torch = {
      train: torchTrain,
      infer: over(rounds, (r) => r.torch?.inferImagesPerSecond)!,
    };
  }
  const ortInfer = over(rounds, (r) => r.ort?.inferImagesPerSecond);
  if (ortInfer) result.ort = { infer: ortInfer };
  return result;
}

/** "2 016 (1 506–2 506)": a spread as the README's tables print it. */
export function formatSpread(s: Spread, digits = 0): string {
  const f = (x: number) =>
    x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
      .replaceAll(",", " ");
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

/**
 * GFLOP/s of `imagesPerSecond` at `forwardFlops` per image, `passes` forward-equivalents per
 * image (1 for inference, 3 for a training step), and its fraction of `peakGflops`.
 *
 * @example
 * ```ts
 * import { throughput } from "./bench_summary.ts";
 * console.log(throughput(1000, 34e6, 3, 332)); // { gflops: 102, ofPeak: 0.307… }
 * ```
 */
export function throughput(
  imagesPerSecond: number,
  forwardFlops: number,
  passes: number,
  peakGflops?: number,
): { gflops: number; ofPeak?: number } {
  const gflops = imagesPerSecond * forwardFlops * passes / 1e9;
  return peakGflops && peakGflops > 0 ? { gflops, ofPeak: gflops / peakGflops } : { gflops };
}

/** What {@linkcode summaryTable} needs beside the summary. */
export interface TableContext {
  /** Forward FLOPs per image of the measured model. */
  forwardFlops: number;
  /** The CPU's estimated peak in GFLOP/s, when known. */
  peakGflops?: number;
  /** Row descriptions by row name (the first column); the name itself otherwise. */
  describe?: Readonly<Record<string, string>>;
  /** PyTorch's threads, for its row's name. */
  torchThreads?: number;
  /** ONNX Runtime's threads, for its row's name. */
  ortThreads?: number;
}

/**
 * The summary as a Markdown table (the README's): per row, training images/s and its ratio to
 * PyTorch, `predict` and `model.apply` images/s and their ratios to ONNX Runtime, medians with
 * ranges; GFLOP/s with the fraction of the CPU's peak (training at 3× the forward FLOPs); then
 * PyTorch's and ONNX Runtime's own rows.
 *
 * @example
 * ```ts
 * import { summarizeRounds, summaryTable } from "./bench_summary.ts";
 * const s = summarizeRounds([{
 *   results: [{ backend: "wasm", trainImagesPerSecond: 700, predictImagesPerSecond: 3000 }],
 *   torch: null,
 * }]);
 * console.log(summaryTable(s, { forwardFlops: 34e6 }).join("\n"));
 * ```
 */
export function summaryTable(summary: BenchSummary, context: TableContext): string[] {
  const { forwardFlops, peakGflops } = context;
  const rate = (s: Spread | undefined) => s ? formatSpread(s) : "—";
  const ratio = (s: Spread | undefined) => s ? `${formatSpread(s, 2)}×` : "—";
  const flops = (s: Spread | undefined, passes: number) => {
    if (!s) return "—";
    const t = throughput(s.median, forwardFlops, passes, peakGflops);
    return t.ofPeak === undefined
      ? t.gflops.toFixed(0)
      : `${t.gflops.toFixed(0)} (${(100 * t.ofPeak).toFixed(0)} %)`;
  };
  const header = [
    "row",
    "train img/s",
    "train / PyTorch",
    "`predict` img/s",
    "`predict` / ORT",
    "`model.apply` img/s",
    "`apply` / ORT",
    `train GFLOP/s${peakGflops ? " (of peak)" : ""}`,
    `\`apply\` GFLOP/s${peakGflops ? " (of peak)" : ""}`,
  ];
  const lines = [header, header.map(() => "---")];
  for (const r of summary.rows) {
    lines.push([
      context.describe?.[r.backend] ?? r.backend,
      rate(r.train),
      ratio(r.trainRatio),
      rate(r.predict),
      ratio(r.predictRatio),
      rate(r.apply),
      ratio(r.applyRatio),
      flops(r.train, 3),
      flops(r.apply, 1),
    ]);
  }
  if (summary.torch) {
    const threads = context.torchThreads ? `, ${context.torchThreads} threads` : "";
    lines.push([
      `PyTorch${threads} (train; infer in the apply column)`,
      rate(summary.torch.train),
      "—",
      "—",
      "—",
      rate(summary.torch.infer),
      "—",
      flops(summary.torch.train, 3),
      flops(summary.torch.infer, 1),
    ]);
  }
  if (summary.ort) {
    const threads = context.ortThreads ? `, ${context.ortThreads} threads` : "";
    lines.push([
      `ONNX Runtime${threads} (infer)`,
      "—",
      "—",
      "—",
      "—",
      rate(summary.ort.infer),
      "—",
      "—",
      flops(summary.ort.infer, 1),
    ]);
  }
  return lines.map((cells) => `| ${cells.join(" | ")} |`);
}
