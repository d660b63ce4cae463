import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import { iou, localizationMetrics, objectnessCounts, precisionRecall } from "../src/metrics.ts";
import { makeRng } from "../src/rng.ts";

function pixelIou(a: number[], b: number[]): number {
  let inter = 0, union = 0;
  for (let r = 0; r < 20; r++) {
    for (let c = 0; c < 20; c++) {
      const inA = r >= a[0] && r < a[1] && c >= a[2] && c < a[3];
      const inB = r >= b[0] && r < b[1] && c >= b[2] && c < b[3];
      if (inA && inB) inter++;
      if (inA || inB) union++;
    }
  }
  return union ? inter / union : 0;
}

Deno.test("iou equals pixel counting on integer boxes", () => {
  const rng = makeRng(11);
  const box = () => {
    const t = rng.int(18), l = rng.int(18);
    return [t, t + 1 + rng.int(20 - t - 1), l, l + 1 + rng.int(20 - l - 1)];
  };
  for (let i = 0; i < 300; i++) {
    const a = box(), b = box();
    assert.ok(Math.abs(iou(a, b) - pixelIou(a, b)) < 1e-9, `${a} vs ${b}`);
  }
  assert.equal(iou([5, 2, 0, 3], [0, 10, 0, 10]), 0, "an inverted box is empty");
});

Deno.test("localizationMetrics counts accuracy, mean IoU and hits", () => {
  const m = localizationMetrics(
    { labels: [1, 2, 3], boxes: [0, 10, 0, 10, 0, 10, 0, 10, 0, 10, 0, 10] },
    { labels: [1, 2, 4], boxes: [0, 10, 0, 10, 0, 10, 0, 30, 0, 10, 0, 10] },
  );
  assert.deepEqual(m, { count: 3, accuracy: 2 / 3, meanIou: (1 + 1 / 3 + 1) / 3, hitRate: 1 / 3 });
  assert.throws(
    () => localizationMetrics({ labels: [1], boxes: [] }, { labels: [1], boxes: [0, 1, 0, 1] }),
    /same number/,
  );
});

Deno.test("objectnessCounts and precisionRecall", async () => {
  await useBackend("cpu");
  const out = tf.tensor4d([1, -1, 2, -3].flatMap((v) => [v, ...new Array(14).fill(0)]), [
    1,
    2,
    2,
    15,
  ]);
  const target = tf.tensor4d([1, 1, 0, 0].flatMap((v) => [v, 0, 0, 0, 0, 0]), [1, 2, 2, 6]);
  const c = await objectnessCounts(out, target);
  assert.deepEqual(c, { tp: 1, fp: 1, fn: 1, tn: 1 });
  assert.deepEqual(precisionRecall(c), { precision: 0.5, recall: 0.5 });
  tf.dispose([out, target]);
});
