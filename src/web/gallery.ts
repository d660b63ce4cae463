/**
 * The gallery: the 30 test scenes of `deno task visualize --seed S`, made in the page by the
 * library's own `loadMnist` + `makeScenes` from the served MNIST test file, localized by the
 * library's `predict`; true box green, predicted red, wrong ones marked. Clicking a scene shows
 * its window map (objectness and class of every window, the chosen one and its box).
 *
 * @module
 */
import { type Tensor4D, tf } from "../deps.ts";
import { iou } from "../metrics.ts";
import { loadMnist } from "../data/mnist.ts";
import type { Model } from "../model/model.ts";
import {
  type DecodeOptions,
  predict,
  type Prediction,
  type PredictionRule,
  predictionRule,
} from "../model/predict.ts";
import { makeScenes } from "../data/scenes.ts";
import { COLORS, greyCanvas, label, strokeBox } from "./canvas.ts";

/** Scenes in the gallery (as `deno task visualize`). */
export const GALLERY_COUNT = 30;

/** One scene of the results: true label and box, and the prediction. */
export interface SceneResult {
  label: number;
  box: number[];
  predicted: { label: number; box: number[]; score: number; window: number };
}

/** The gallery's data, kept for the window map. */
export interface Gallery {
  images: Tensor4D;
  results: SceneResult[];
  /** Milliseconds of the first `predict` on the 30 scenes (includes shader compilation). */
  firstPredictMs: number;
  /** `performance.now()` (ms since navigation) when the first predictions were there. */
  firstPredictionAt: number;
  /** Median milliseconds per scene of later `predict` calls on the 30 scenes (≤ 5, ~2 s). */
  perSceneMs: number;
  /** The prediction rule used: the options', else the model's recorded one. */
  rule: PredictionRule;
}

/** Median of a list of numbers. */
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A scene is wrong when its label is wrong or its box has IoU < 0.5 (the hit-rate rule). */
export function isWrong(r: SceneResult): boolean {
  return r.predicted.label !== r.label || iou(r.predicted.box, r.box) < 0.5;
}

/**
 * Makes the scenes of seed `seed` and predicts them (with `rule`, else the model's recorded
 * prediction rule); times `predict` (first run, then the median of `repeats` more).
 */
export async function runGallery(
  model: Model,
  options: { seed: number; mnistDir: URL; repeats?: number; rule?: DecodeOptions },
): Promise<Gallery> {
  const { seed, mnistDir, repeats = 5 } = options;
  const rule = predictionRule(model, options.rule);
  const mnist = await loadMnist({ dir: mnistDir, seed, testCount: GALLERY_COUNT, train: false });
  const scenes = await makeScenes(mnist.test, { count: GALLERY_COUNT, seed });
  let t = performance.now();
  const p: Prediction = await predict(model, scenes.images, rule);
  const firstPredictionAt = performance.now();
  const firstPredictMs = firstPredictionAt - t;
  // then up to `repeats` timed runs, stopping once 2 s are spent (SwiftShader's webgpu needs ~5 s
  // per run)
  const times: number[] = [];
  const budget = performance.now() + 2000;
  for (let k = 0; k < repeats && (k === 0 || performance.now() < budget); k++) {
    t = performance.now();
    await predict(model, scenes.images, rule);
    times.push((performance.now() - t) / GALLERY_COUNT);
  }
  const results = Array.from({ length: GALLERY_COUNT }, (_, i) => ({
    label: scenes.labels[i],
    box: Array.from(scenes.boxes.subarray(4 * i, 4 * i + 4)),
    predicted: {
      label: p.labels[i],
      box: Array.from(p.boxes.subarray(4 * i, 4 * i + 4)),
      score: p.scores[i],
      window: p.windows[i],
    },
  }));
  return {
    images: scenes.images,
    results,
    firstPredictMs,
    firstPredictionAt,
    perSceneMs: repeats ? median(times) : firstPredictMs / GALLERY_COUNT,
    rule,
  };
}

/** Draws the gallery into `host`; `onPick(i)` runs when scene i is clicked. */
export async function drawGallery(
  host: HTMLElement,
  gallery: Gallery,
  onPick: (index: number) => void,
): Promise<void> {
  const [, h, w] = gallery.images.shape;
  const pixels = await gallery.images.data();
  const scale = 3;
  host.replaceChildren();
  gallery.results.forEach((r, i) => {
    const canvas = greyCanvas(pixels.subarray(i * h * w, (i + 1) * h * w), {
      height: h,
      width: w,
      scale,
    });
    const ctx = canvas.getContext("2d")!;
    strokeBox(ctx, r.box, { scale, color: COLORS.truth });
    strokeBox(ctx, r.predicted.box, { scale, color: COLORS.predicted });
    const wrong = isWrong(r);
    label(ctx, `${r.label} → ${r.predicted.label}  ${Math.exp(r.predicted.score).toFixed(2)}`, {
      x: 2,
      y: 2,
      color: wrong ? COLORS.predicted : "#fff",
    });
    const figure = document.createElement("figure");
    figure.className = wrong ? "scene wrong" : "scene";
    figure.dataset.index = String(i);
    figure.title = `scene ${i}: true ${r.label}, predicted ${r.predicted.label} (IoU ${
      iou(r.predicted.box, r.box).toFixed(2)
    }); click for its windows`;
    const caption = document.createElement("figcaption");
    const why = r.predicted.label !== r.label ? "✗ wrong label" : "✗ IoU < 0.5";
    caption.textContent = `#${i} IoU ${iou(r.predicted.box, r.box).toFixed(2)}${
      wrong ? ` ${why}` : ""
    }`;
    figure.append(canvas, caption);
    figure.addEventListener("click", () => onPick(i));
    host.append(figure);
  });
}

/**
 * Per-window outputs of one image `[1, H, W, 1]`: objectness σ(out₀) and the class argmax, row-major
 * over the model's window grid.
 */
export async function windowOutputs(
  model: Model,
  image: Tensor4D,
): Promise<{ objectness: Float32Array; classes: Int32Array; rows: number; cols: number }> {
  const [objT, clsT] = tf.tidy(() => {
    const out = model.apply(image);
    const [obj, logits] = tf.split(out, [1, 10, 4], 3);
    return [tf.sigmoid(obj), tf.argMax(logits, 3)];
  });
  const [, rows, cols] = objT.shape;
  const objectness = await objT.data() as Float32Array;
  const classes = await clsT.data() as Int32Array;
  tf.dispose([objT, clsT]);
  return { objectness, classes, rows, cols };
}

/** Draws the window map of scene `index` into `host`. */
export async function drawWindowMap(
  host: HTMLElement,
  model: Model,
  options: { gallery: Gallery; index: number },
): Promise<void> {
  const { gallery, index } = options;
  const r = gallery.results[index];
  const [, h, w] = gallery.images.shape;
  const image = tf.slice(gallery.images, [index, 0, 0, 0], [1, -1, -1, -1]) as Tensor4D;
  const pixels = await image.data();
  const outs = await windowOutputs(model, image);
  image.dispose();
  const { size, stride, offset } = model.geometry;
  const scale = 6;
  const scene = greyCanvas(pixels, { height: h, width: w, scale });
  const ctx = scene.getContext("2d")!;
  // every window's centre cell (stride × stride), coloured by objectness, labelled by its class
  for (let row = 0; row < outs.rows; row++) {
    for (let col = 0; col < outs.cols; col++) {
      const k = row * outs.cols + col;
      const cy = offset + row * stride + (size - stride) / 2;
      const cx = offset + col * stride + (size - stride) / 2;
      ctx.fillStyle = `rgba(255, 140, 0, ${0.15 + 0.6 * outs.objectness[k]})`;
      ctx.fillRect(cx * scale + 1, cy * scale + 1, stride * scale - 2, stride * scale - 2);
      ctx.fillStyle = "#fff";
      ctx.font = "11px system-ui, sans-serif";
      ctx.textBaseline = "top";
      ctx.fillText(`${outs.classes[k]}`, cx * scale + 3, cy * scale + 2);
      ctx.fillText(outs.objectness[k].toFixed(2), cx * scale + 3, cy * scale + 15);
    }
  }
  const chosen = r.predicted.window;
  const top = offset + Math.floor(chosen / outs.cols) * stride;
  const left = offset + (chosen % outs.cols) * stride;
  strokeBox(ctx, [top, top + size, left, left + size], {
    scale,
    color: COLORS.window,
    width: 2,
    dash: [6, 4],
  });
  strokeBox(ctx, r.box, { scale, color: COLORS.truth });
  strokeBox(ctx, r.predicted.box, { scale, color: COLORS.predicted, width: 3 });
  const text = document.createElement("p");
  text.textContent = `Scene ${index}: true ${r.label}, predicted ${r.predicted.label} ` +
    `(confidence ${Math.exp(r.predicted.score).toFixed(3)}, IoU ${
      iou(r.predicted.box, r.box).toFixed(2)
    }). ` +
    `${outs.rows}×${outs.cols} windows of ${size} px, stride ${stride}: each square is a ` +
    `window's centre, orange by objectness σ(out₀), with its class and objectness; dashed ` +
    `yellow = the chosen window (best class score).`;
  host.replaceChildren(scene, text);
  host.dataset.index = String(index);
}
