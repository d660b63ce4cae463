/**
 * Train view: a button trains a fresh model (the library's `buildModel`, its training step seam's
 * `TapeStep` — the assignment's `loss` through tfjs's tape — the library's `Adam`, scenes streamed
 * by `sceneStream` from the MNIST training file) for a fixed time, with a live chart of the loss
 * per image and the batch accuracy.
 *
 * @module
 */
import { Adam } from "../training/adam.ts";
import { TapeStep } from "../training/tape_step.ts";
import { type Tensor4D, tf } from "../deps.ts";
import { loadMnist } from "../data/mnist.ts";
import { buildModel } from "../model/model.ts";
import { decodeOutput } from "../model/predict.ts";
import { sceneStream } from "../data/scenes.ts";

/** One point of the chart. */
interface Point {
  step: number;
  loss: number;
  accuracy: number;
}

function drawChart(canvas: HTMLCanvasElement, points: Point[]): void {
  const g = canvas.getContext("2d")!;
  const { width, height } = canvas;
  g.clearRect(0, 0, width, height);
  if (points.length < 2) return;
  const maxLoss = Math.max(...points.map((p) => p.loss));
  const last = points[points.length - 1].step;
  const x = (s: number) => 30 + (width - 40) * s / last;
  const line = (value: (p: Point) => number, color: string) => {
    g.strokeStyle = color;
    g.lineWidth = 1.5;
    g.beginPath();
    points.forEach((p, i) => {
      const y = height - 20 - (height - 30) * value(p);
      if (i === 0) g.moveTo(x(p.step), y);
      else g.lineTo(x(p.step), y);
    });
    g.stroke();
  };
  line((p) => p.loss / maxLoss, "#ff851b");
  line((p) => p.accuracy, "#39cccc");
  g.fillStyle = "#aaa";
  g.font = "12px system-ui, sans-serif";
  g.fillText(`loss/image (max ${maxLoss.toFixed(2)})`, 34, 14);
  g.fillStyle = "#39cccc";
  g.fillText("batch accuracy (0–1)", 220, 14);
  g.fillStyle = "#aaa";
  g.fillText(`step ${last}`, width - 70, height - 4);
}

/**
 * Builds the train view in `host`. `?train=SECONDS` sets the duration (default 60), `?steps=N`
 * stops after N steps (the stream is seeded, so N steps on one backend are reproducible). While
 * training and after, `host.dataset` holds `steps`, `firstLoss`, `lastLoss` (mean loss per image
 * over the first and last fifth of the steps), `imagesPerSecond` and `state` ("training"/"done").
 */
export function setupTrain(host: HTMLElement, options: { mnistDir: URL }): void {
  const params = new URLSearchParams(location.search);
  const seconds = Number(params.get("train") ?? 60);
  const maxSteps = Number(params.get("steps") ?? Infinity);
  const button = document.createElement("button");
  button.id = "train-button";
  button.textContent = `Train a fresh model for ${seconds} s`;
  const status = document.createElement("p");
  status.className = "muted";
  status.textContent = "Batches of 32 fresh scenes from the 60 000 training digits (the " +
    "training file is fetched when you press the button), Adam with lr 3e-3.";
  const chart = document.createElement("canvas");
  chart.className = "chart";
  chart.width = 640;
  chart.height = 220;
  host.append(button, status, chart);
  button.addEventListener("click", async () => {
    button.disabled = true;
    host.dataset.state = "training";
    try {
      await trainFor(seconds, { maxSteps, mnistDir: options.mnistDir, host, status, chart });
      host.dataset.state = "done";
    } catch (error) {
      host.dataset.state = "error";
      status.textContent = `Training failed: ${(error as Error)?.message ?? error}`;
      console.error(error);
    } finally {
      button.disabled = false;
    }
  });
}

async function trainFor(
  seconds: number,
  ui: {
    maxSteps: number;
    mnistDir: URL;
    host: HTMLElement;
    status: HTMLElement;
    chart: HTMLCanvasElement;
  },
): Promise<void> {
  ui.status.textContent = "Loading the MNIST training file…";
  const { train } = await loadMnist({ dir: ui.mnistDir, testCount: 0 });
  const model = buildModel(undefined, { seed: 1 });
  const adam = new Adam(model.variables);
  const step = new TapeStep();
  const grid = model.grid(64);
  const points: Point[] = [];
  const batchSize = 32;
  const started = performance.now();
  let images = 0;
  const stream = sceneStream(train, { batchSize, epochSize: 1 << 20, seed: 7, grid });
  try {
    for await (const batch of stream) {
      const targets = batch.targets!;
      // the outputs of the same forward pass are decoded for the batch accuracy
      const { named, parts, outputs } = await step.compute(
        model,
        batch.images as Tensor4D,
        targets,
        { outputs: true },
      );
      adam.step(named, 3e-3);
      const p = await decodeOutput(outputs!, model.geometry);
      const lossValue = parts.total / batch.labels.length;
      tf.dispose([outputs!, batch.images, targets]);
      let right = 0;
      p.labels.forEach((l, i) => right += l === batch.labels[i] ? 1 : 0);
      images += batch.labels.length;
      points.push({ step: points.length + 1, loss: lossValue, accuracy: right / p.labels.length });
      const elapsed = (performance.now() - started) / 1000;
      const fifth = Math.max(1, Math.floor(points.length / 5));
      const mean = (ps: Point[]) => ps.reduce((s, q) => s + q.loss, 0) / ps.length;
      Object.assign(ui.host.dataset, {
        steps: String(points.length),
        firstLoss: String(mean(points.slice(0, fifth))),
        lastLoss: String(mean(points.slice(-fifth))),
        imagesPerSecond: String(images / elapsed),
      });
      drawChart(ui.chart, points);
      ui.status.textContent = `step ${points.length} · ${elapsed.toFixed(0)} s · loss/image ${
        lossValue.toFixed(3)
      } · batch accuracy ${(right / p.labels.length).toFixed(2)} · ${
        (images / elapsed).toFixed(0)
      } images/s on ${tf.getBackend()}`;
      if (elapsed >= seconds || points.length >= ui.maxSteps) break;
    }
  } finally {
    await stream.return(undefined);
    adam.dispose?.();
    step.close();
    model.dispose();
  }
}
