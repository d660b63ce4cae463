/**
 * Validation after every epoch: fixed scenes made once from the val digits, and the scores of a
 * model on them (loss parts, class accuracy, mean IoU, hit rate, objectness precision/recall).
 *
 * @module
 */
import { type Tensor4D, tf } from "../deps.ts";
import { encodeTargets } from "../data/encode.ts";
import { localizationMetrics, objectnessCounts, precisionRecall } from "../metrics.ts";
import type { Mnist } from "../data/mnist.ts";
import type { Model } from "../model/model.ts";
import { loss } from "../model/loss.ts";
import type { BoxReduction } from "../model/layout.ts";
import { decodeOutput } from "../model/predict.ts";
import { makeScenes } from "../data/scenes.ts";
import type { ValRecord } from "./records.ts";

/** Validation scenes, kept in chunks with their targets. */
export interface ValSet {
  chunks: { images: Tensor4D; targets: Tensor4D; labels: Int32Array; boxes: Float32Array }[];
  count: number;
}

/**
 * Makes `count` validation scenes from the val digits, fixed by `seed`, with their targets.
 *
 * @example
 * ```ts
 * import { makeValSet } from "./validation.ts";
 * import { buildModel } from "../model/model.ts";
 * import { loadMnist } from "../data/mnist.ts";
 * const val = await makeValSet((await loadMnist()).val, { count: 100, seed: 0, model: buildModel() });
 * ```
 */
export async function makeValSet(
  source: Mnist["val"],
  options: { count: number; seed: number; model: Model; chunk?: number },
): Promise<ValSet> {
  const { count, seed, model, chunk = 500 } = options;
  const grid = model.grid(64);
  const chunks: ValSet["chunks"] = [];
  for (let start = 0, i = 0; start < count; start += chunk, i++) {
    const n = Math.min(chunk, count - start);
    const s = await makeScenes(source, { count: n, seed: seed * 7919 + 1_000_003 + i });
    chunks.push({ ...s, targets: encodeTargets(s.boxes, s.labels, grid) });
  }
  return { chunks, count };
}

/**
 * Validates `model` on `val`: loss parts per image, class accuracy, mean IoU, hit rate and
 * objectness precision/recall.
 *
 * @example
 * ```ts
 * import { evaluate, makeValSet } from "./validation.ts";
 * import { buildModel } from "../model/model.ts";
 * import { loadMnist } from "../data/mnist.ts";
 * const model = buildModel();
 * const val = await makeValSet((await loadMnist()).val, { count: 100, seed: 0, model });
 * console.log((await evaluate(model, val)).accuracy);
 * ```
 */
export async function evaluate(
  model: Model,
  val: ValSet,
  options: { box?: BoxReduction; batchSize?: number } = {},
): Promise<ValRecord> {
  const batchSize = options.batchSize ?? 250;
  const sums = [0, 0, 0];
  const counts = { tp: 0, fp: 0, fn: 0, tn: 0 };
  const labels: number[] = [], boxes: number[] = [], trueLabels: number[] = [];
  const trueBoxes: number[] = [];
  for (const c of val.chunks) {
    const n = c.images.shape[0];
    for (let start = 0; start < n; start += batchSize) {
      const k = Math.min(batchSize, n - start);
      const [out, target] = tf.tidy(() => [
        model.apply(tf.slice(c.images, [start, 0, 0, 0], [k, -1, -1, -1])),
        tf.slice(c.targets, [start, 0, 0, 0], [k, -1, -1, -1]),
      ]) as [Tensor4D, Tensor4D];
      const parts = tf.tidy(() => {
        const p = loss(out, target, { box: options.box });
        return tf.stack([p.detection, p.classification, p.regression]);
      });
      const v = await parts.data();
      for (let j = 0; j < 3; j++) sums[j] += v[j];
      const p = await decodeOutput(out, model.geometry);
      const oc = await objectnessCounts(out, target);
      for (const key of ["tp", "fp", "fn", "tn"] as const) counts[key] += oc[key];
      labels.push(...p.labels);
      boxes.push(...p.boxes);
      tf.dispose([out, target, parts]);
    }
    trueLabels.push(...c.labels);
    trueBoxes.push(...c.boxes);
  }
  const m = localizationMetrics({ labels, boxes }, { labels: trueLabels, boxes: trueBoxes });
  const pr = precisionRecall(counts);
  const n = m.count;
  return {
    detection: sums[0] / n,
    classification: sums[1] / n,
    regression: sums[2] / n,
    total: (sums[0] + sums[1] + sums[2]) / n,
    accuracy: m.accuracy,
    meanIou: m.meanIou,
    hitRate: m.hitRate,
    precision: pr.precision,
    recall: pr.recall,
    count: n,
  };
}
