/**
 * Charts as PNG: a Vega-Lite spec, rendered to SVG server-side by Vega (no DOM), then to PNG by
 * resvg (WebAssembly) with the DejaVu Sans font shipped by npm. No hand-rolled axes.
 *
 * @module
 */
import { LOSS_TERMS, type LossParts } from "../model/loss/terms.ts";
import * as vega from "npm:vega@6.4.0";
import * as vl from "npm:vega-lite@6.5.0";
import { initWasm, Resvg } from "npm:@resvg/resvg-wasm@2.6.2";
import { fontBytes } from "./png.ts";

let resvgReady: Promise<void> | undefined;

function readyResvg(): Promise<void> {
  resvgReady ??= (async () => {
    const url = import.meta.resolve("npm:@resvg/resvg-wasm@2.6.2/index_bg.wasm");
    const response = await fetch(url);
    if (!response.ok) throw new Error(`Could not read resvg's wasm at ${url}`);
    await initWasm(await response.arrayBuffer());
  })();
  return resvgReady;
}

/**
 * Renders an SVG string to PNG bytes with resvg, DejaVu Sans as the only font.
 *
 * @example
 * ```ts
 * import { svgToPng } from "./charts.ts";
 * const png = await svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>');
 * ```
 */
export async function svgToPng(svg: string): Promise<Uint8Array> {
  await readyResvg();
  const fonts = [await fontBytes("DejaVuSans"), await fontBytes("DejaVuSans-Bold")];
  const resvg = new Resvg(
    svg,
    {
      background: "white",
      font: { fontBuffers: fonts, defaultFontFamily: "DejaVu Sans", loadSystemFonts: false },
    } as ConstructorParameters<typeof Resvg>[1],
  );
  try {
    const rendered = resvg.render();
    const png = rendered.asPng();
    rendered.free();
    return png;
  } finally {
    resvg.free();
  }
}

/**
 * Renders any Vega-Lite spec to PNG (`scale` multiplies its pixel size; default 2 for crisp text).
 *
 * @example
 * ```ts
 * import { vegaLitePng } from "./charts.ts";
 * const png = await vegaLitePng({
 *   data: { values: [{ x: 1, y: 2 }, { x: 2, y: 3 }] },
 *   mark: "line",
 *   encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } },
 * });
 * ```
 */
export async function vegaLitePng(
  spec: Record<string, unknown>,
  options: { scale?: number } = {},
): Promise<Uint8Array> {
  const full = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    background: "white",
    ...spec,
    config: {
      font: "DejaVu Sans",
      title: { fontSize: 15 },
      axis: { labelFontSize: 12, titleFontSize: 13 },
      legend: { labelFontSize: 12, titleFontSize: 13 },
      ...(spec.config as Record<string, unknown> | undefined),
    },
  };
  // deno-lint-ignore no-explicit-any
  const compiled = vl.compile(full as any).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    const svg = await view.toSVG(options.scale ?? 2);
    return await svgToPng(svg);
  } finally {
    view.finalize();
  }
}

/** One line of a {@linkcode lineChart}. */
export interface Series {
  /** Legend entry. */
  name: string;
  /** `[x, y]` points in drawing order; non-finite y values are left out. */
  points: readonly (readonly [number, number])[];
}

/** What {@linkcode lineChart} draws. */
export interface LineChartOptions {
  /** Chart title. */
  title: string;
  /** x axis title. */
  xLabel: string;
  /** y axis title. */
  yLabel: string;
  /** The lines, one colour each. */
  series: readonly Series[];
  /** Logarithmic x axis. */
  logX?: boolean;
  /** Logarithmic y axis. */
  logY?: boolean;
  /** Plot width in CSS pixels (the PNG is twice that plus axes); default 480. */
  width?: number;
  /** Plot height in CSS pixels; default 280. */
  height?: number;
}

/**
 * The Vega-Lite spec of a line chart (for callers that want to adjust it before rendering).
 *
 * @example
 * ```ts
 * import { lineChartSpec, vegaLitePng } from "./charts.ts";
 * const spec = lineChartSpec({ title: "t", xLabel: "x", yLabel: "y", series: [{ name: "a", points: [[1, 2]] }] });
 * const png = await vegaLitePng({ ...spec, width: 200 });
 * ```
 */
export function lineChartSpec(options: LineChartOptions): Record<string, unknown> {
  if (!options.series.length) throw new RangeError("series must hold at least one line");
  const values = options.series.flatMap((s) =>
    s.points.filter(([x, y]) =>
      Number.isFinite(x) && Number.isFinite(y) &&
      (!options.logX || x > 0) && (!options.logY || y > 0)
    ).map(([x, y], order) => ({ x, y, series: s.name, order }))
  );
  // log axes: the data's own range (no rounding out to whole decades), a little padding
  const axisScale = (log?: boolean) =>
    log ? { type: "log", nice: false, padding: 12 } : { zero: false };
  return {
    title: options.title,
    width: options.width ?? 480,
    height: options.height ?? 280,
    data: { values },
    mark: { type: "line", point: true, strokeWidth: 2 },
    encoding: {
      x: {
        field: "x",
        type: "quantitative",
        title: options.xLabel,
        scale: axisScale(options.logX),
      },
      y: {
        field: "y",
        type: "quantitative",
        title: options.yLabel,
        scale: axisScale(options.logY),
      },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        sort: options.series.map((s) => s.name),
        legend: { orient: "bottom", labelLimit: 400 },
      },
      order: { field: "order", type: "quantitative" },
    },
  };
}

/**
 * A line chart as PNG bytes (Vega-Lite → SVG → resvg).
 *
 * @example
 * ```ts
 * import { lineChart } from "./charts.ts";
 * const png = await lineChart({
 *   title: "Loss",
 *   xLabel: "epoch",
 *   yLabel: "loss",
 *   series: [{ name: "train", points: [[1, 0.9], [2, 0.5], [3, 0.3]] }],
 * });
 * ```
 */
export async function lineChart(options: LineChartOptions): Promise<Uint8Array> {
  return await vegaLitePng(lineChartSpec(options));
}

/** One epoch of training, as the training loop records it. */
export interface EpochRecord {
  /** Epoch number, from 1. */
  epoch: number;
  /** Mean training loss parts over the epoch (`total` optional). */
  loss: Omit<LossParts<number>, "total"> & { total?: number };
  /** Validation classification accuracy in [0, 1]. */
  accuracy?: number;
  /** Validation mean IoU in [0, 1]. */
  meanIoU?: number;
  /** Multi-digit validation: mAP@0.5. */
  map50?: number;
  /** Multi-digit validation: mAP@[0.5:0.95]. */
  map?: number;
  /** Validation share of predictions with IoU ≥ 0.5 and the right label. */
  hitRate?: number;
}

/**
 * Training curves as one PNG: left, the loss parts per epoch (log y); right, validation accuracy,
 * mean IoU and hit rate per epoch.
 *
 * @example
 * ```ts
 * import { trainingCurves } from "./charts.ts";
 * const png = await trainingCurves([
 *   { epoch: 1, loss: { detection: 0.5, classification: 1.2, regression: 0.3 }, accuracy: 0.7, meanIoU: 0.5 },
 *   { epoch: 2, loss: { detection: 0.2, classification: 0.4, regression: 0.1 }, accuracy: 0.9, meanIoU: 0.7 },
 * ]);
 * ```
 */
export async function trainingCurves(records: readonly EpochRecord[]): Promise<Uint8Array> {
  if (!records.length) throw new RangeError("records must hold at least one epoch");
  const pick = (name: string, f: (r: EpochRecord) => number | undefined): Series => ({
    name,
    points: records.map((r) => [r.epoch, f(r) ?? NaN] as const),
  });
  const lossParts = LOSS_TERMS.map(({ name }) => pick(name, (r) => r.loss[name]));
  if (records.some((r) => r.loss.total !== undefined)) {
    lossParts.unshift(pick("total", (r) => r.loss.total));
  }
  const detector = records.some((r) => r.map50 !== undefined);
  const quality = detector
    ? [pick("val mAP@0.5", (r) => r.map50), pick("val mAP@[.5:.95]", (r) => r.map)]
    : [pick("val accuracy", (r) => r.accuracy), pick("val mean IoU", (r) => r.meanIoU)];
  if (!detector && records.some((r) => r.hitRate !== undefined)) {
    quality.push(pick("val hit rate", (r) => r.hitRate));
  }
  const size = { width: 420, height: 260 };
  const left = lineChartSpec({
    title: "Training loss parts",
    xLabel: "epoch",
    yLabel: "loss (log scale)",
    series: lossParts,
    logY: true,
    ...size,
  });
  const right = lineChartSpec({
    title: "Validation",
    xLabel: "epoch",
    yLabel: "score",
    series: quality,
    ...size,
  });
  const yScale = { domain: [0, 1] };
  const rightEncoding = right.encoding as Record<string, Record<string, unknown>>;
  rightEncoding.y.scale = yScale;
  return await vegaLitePng({
    hconcat: [left, right],
    resolve: { scale: { color: "independent" } },
  });
}

/** One measurement of the part-1 timing study. */
export interface TimingRow {
  /** Method name, e.g. "sequential" or "convolutional". */
  method: string;
  /** Input side in pixels (or any size measure). */
  size: number;
  /** Time in milliseconds. */
  ms: number;
}

/**
 * The part-1 timing plot: time against input size on log–log axes, one line per method.
 *
 * @example
 * ```ts
 * import { timingChart } from "./charts.ts";
 * const png = await timingChart([
 *   { method: "sequential", size: 16, ms: 2 }, { method: "sequential", size: 64, ms: 90 },
 *   { method: "convolutional", size: 16, ms: 1 }, { method: "convolutional", size: 64, ms: 4 },
 * ]);
 * ```
 */
export async function timingChart(
  rows: readonly TimingRow[],
  options: { title?: string; xLabel?: string } = {},
): Promise<Uint8Array> {
  const methods = [...new Set(rows.map((r) => r.method))];
  return await lineChart({
    title: options.title ?? "Sliding window: sequential vs convolutional",
    xLabel: options.xLabel ?? "input side (pixels, log scale)",
    yLabel: "time (ms, log scale)",
    logX: true,
    logY: true,
    series: methods.map((name) => ({
      name,
      points: rows.filter((r) => r.method === name).sort((a, b) => a.size - b.size).map((
        r,
      ) => [r.size, r.ms] as const),
    })),
  });
}
