/**
 * Data-pipeline benchmark: scenes per second for generation + sharp boxes + target encoding, the
 * work done for every training batch. Run alone with `deno run -A tasks/lib/data_bench.ts`.
 *
 * @module
 */
import { tf } from "../../src/deps.ts";
import { backendFlag, type BackendName, useBackend } from "../../src/backends/backend.ts";
import { boundingBoxes } from "../../src/data/boxes.ts";
import { encodeTargets } from "../../src/data/encode.ts";
import type { WindowGrid } from "../../src/geometry.ts";
import { loadMnist } from "../../src/data/mnist.ts";
import { drawScenes, renderScenes, type SceneSource } from "../../src/data/scenes.ts";
import { median } from "./stats.ts";
import { helpText, parseFlags } from "../../src/cli.ts";

/** Options of {@linkcode benchData}. */
export interface BenchDataOptions {
  /** Scenes per batch; default 256. */
  batchSize?: number;
  /** Timed batches (the median is reported); default 20. */
  batches?: number;
  /** Untimed warm-up batches; default 3. */
  warmup?: number;
  /** Backend; default "wasm". */
  backend?: BackendName;
  /** Digits to draw from; default the MNIST training set. */
  source?: SceneSource;
  /** Target grid; default a window-40 / stride-4 model on 64×64 (7×7 windows). */
  grid?: WindowGrid;
}

/** Result of {@linkcode benchData}; times are medians over the timed batches, in ms. */
export interface BenchDataResult {
  /** Backend in use. */
  backend: string;
  /** Scenes per batch. */
  batchSize: number;
  /** batchSize / median batch time. */
  scenesPerSecond: number;
  /** Median time of a whole batch. */
  msPerBatch: number;
  /** Median time of each stage: draw (JS), render (warp), boxes, encode. */
  stages: { draw: number; render: number; boxes: number; encode: number };
}

/**
 * Times the per-batch data work: draw scene parameters, render them (bilinear warp), extract
 * sharp boxes, encode per-window targets.
 *
 * @example
 * ```ts
 * import { benchData } from "./data_bench.ts";
 * const r = await benchData({ batches: 5 });
 * console.log(`${r.scenesPerSecond.toFixed(0)} scenes/s on ${r.backend}`);
 * ```
 */
export async function benchData(options: BenchDataOptions = {}): Promise<BenchDataResult> {
  const {
    batchSize = 256,
    batches = 20,
    warmup = 3,
    grid = { size: 40, stride: 4, offset: 0, rows: 7, cols: 7 },
  } = options;
  const backend = (await useBackend(options.backend ?? "wasm")).name;
  const source = options.source ?? (await loadMnist()).train;
  const totals: number[] = [];
  const stages = {
    draw: [] as number[],
    render: [] as number[],
    boxes: [] as number[],
    encode: [] as number[],
  };
  for (let b = 0; b < warmup + batches; b++) {
    const t0 = performance.now();
    const params = drawScenes(source, { count: batchSize, seed: b });
    const labels = Int32Array.from(params.indices, (i) => source.labels[i]);
    const t1 = performance.now();
    const images = renderScenes(source, params);
    await images.data(); // make sure the warp has run (async backends)
    const t2 = performance.now();
    const boxes = await boundingBoxes(images);
    const t3 = performance.now();
    const targets = encodeTargets(boxes, labels, grid);
    await targets.data();
    const t4 = performance.now();
    tf.dispose([images, targets]);
    if (b < warmup) continue;
    totals.push(t4 - t0);
    stages.draw.push(t1 - t0);
    stages.render.push(t2 - t1);
    stages.boxes.push(t3 - t2);
    stages.encode.push(t4 - t3);
  }
  const msPerBatch = median(totals);
  return {
    backend,
    batchSize,
    scenesPerSecond: batchSize / msPerBatch * 1000,
    msPerBatch,
    stages: {
      draw: median(stages.draw),
      render: median(stages.render),
      boxes: median(stages.boxes),
      encode: median(stages.encode),
    },
  };
}

if (import.meta.main) {
  const flags = parseFlags(Deno.args, { backend: backendFlag() });
  if (!flags) {
    console.log(helpText("deno run -A tasks/lib/data_bench.ts", "Data pipeline speed.", {
      backend: backendFlag(),
    }));
    Deno.exit(0);
  }
  const r = await benchData({ backend: flags.backend });
  const s = r.stages;
  console.log(
    `data pipeline (${r.backend}, batch ${r.batchSize}): ${
      r.scenesPerSecond.toFixed(0)
    } scenes/s ` +
      `(median ${r.msPerBatch.toFixed(1)} ms/batch: draw ${s.draw.toFixed(1)}, ` +
      `render ${s.render.toFixed(1)}, boxes ${s.boxes.toFixed(1)}, encode ${s.encode.toFixed(1)})`,
  );
}
