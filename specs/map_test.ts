import assert from "node:assert/strict";
import { averagePrecision, COCO_THRESHOLDS, meanAveragePrecision } from "../src/detection/map.ts";

const close = (a: number, b: number, what = "") =>
  assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

// Two images: image 0 holds a 3 and a 7, image 1 holds two 3s.
const truths = [
  [{ label: 3, box: [0, 20, 0, 20] }, { label: 7, box: [40, 60, 40, 55] }],
  [{ label: 3, box: [10, 30, 10, 30] }, { label: 3, box: [50, 70, 0, 20] }],
];
const perfect = truths.map((list) => list.map((t, i) => ({ ...t, score: 0.9 - 0.1 * i })));

Deno.test("mAP: perfect detections give 1 at every threshold", () => {
  const m = meanAveragePrecision(perfect, truths);
  assert.equal(m.map50, 1);
  assert.equal(m.map, 1);
  assert.equal(m.map75, 1);
  assert.deepEqual(m.perClass.map((c) => [c.label, c.truths, c.ap50]), [[3, 3, 1], [7, 1, 1]]);
  assert.deepEqual(COCO_THRESHOLDS, [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]);
});

Deno.test("mAP: one false positive ranked first caps class 3 precision at 3/4", () => {
  // Class 3 ranked: FP (0.95), TP, TP, TP → precision 0, 1/2, 2/3, 3/4 at recall 0, 1/3, 2/3, 1.
  // Envelope: 3/4 everywhere → AP(3) = 3/4; AP(7) = 1; mAP = 7/8.
  const found = [
    [...perfect[0], { label: 3, score: 0.95, box: [100, 120, 100, 120] }],
    perfect[1],
  ];
  close(averagePrecision(found, truths, { label: 3 }), 3 / 4, "AP(3)");
  close(meanAveragePrecision(found, truths).map50, 7 / 8, "mAP");
  // Ranked last it costs nothing: precision 1 is reached at recall 1 first.
  const last = [[...perfect[0], { label: 3, score: 0.01, box: [100, 120, 100, 120] }], perfect[1]];
  assert.equal(meanAveragePrecision(last, truths).map50, 1);
  // A duplicate of a found digit is a false positive too (the truth is already matched).
  const dup = [[...perfect[0], { label: 7, score: 0.99, box: [40, 60, 40, 55] }], perfect[1]];
  assert.equal(averagePrecision(dup, truths, { label: 7 }), 1); // TP first, then the FP
  const dupFirst = [[{ label: 7, score: 0.99, box: [40, 60, 40, 56] }, ...perfect[0]], perfect[1]];
  close(averagePrecision(dupFirst, truths, { label: 7 }), 1, "best IoU-matched first is a TP");
});

Deno.test("mAP: one missed digit leaves recall at 2/3: AP = 67/101", () => {
  // Class 3 without the last 3: recall 1/3, 2/3 at precision 1 → recalls 0…0.66 = 67 points.
  const found = [perfect[0], perfect[1].slice(0, 1)];
  close(averagePrecision(found, truths, { label: 3 }), 67 / 101, "AP(3)");
  close(meanAveragePrecision(found, truths).map50, (67 / 101 + 1) / 2, "mAP");
  // Half of two digits: 51 points (0, 0.01, …, 0.50).
  const two = [[{ label: 1, box: [0, 10, 0, 10] }, { label: 1, box: [20, 30, 0, 10] }]];
  close(
    averagePrecision([[{ label: 1, score: 1, box: [0, 10, 0, 10] }]], two, { label: 1 }),
    51 / 101,
    "AP of one of two",
  );
  // Nothing found: 0; a class without truths is left out of the mean.
  const none = [[{ label: 2, score: 0.9, box: [0, 5, 0, 5] }], []];
  assert.equal(meanAveragePrecision(none, truths).map50, 0);
  assert.ok(Number.isNaN(averagePrecision(none, truths, { label: 2 })));
});

Deno.test("mAP@[0.5:0.95]: a box with IoU 0.72 counts at 0.50–0.70 only", () => {
  const t = [[{ label: 4, box: [0, 100, 0, 100] }]];
  const d = [[{ label: 4, score: 0.5, box: [0, 72, 0, 100] }]]; // IoU 0.72
  const m = meanAveragePrecision(d, t);
  assert.deepEqual(m.byThreshold.map((b) => b.map), [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
  assert.equal(m.map, 0.5);
  assert.equal(m.map75, 0);
  // Wrong label at the right place: a miss for 4, a false positive for 5 (which has no truth).
  assert.equal(meanAveragePrecision([[{ ...d[0][0], label: 5 }]], t).map50, 0);
  assert.throws(() => meanAveragePrecision([], t), /one list per image/);
});
