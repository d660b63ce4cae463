import assert from "node:assert/strict";
import { encodeTargetsData, TARGET_CHANNELS } from "../src/data/encode.ts";
import { encodeObjectsData } from "../src/data/multi_encode.ts";
import type { Box, SceneObject } from "../src/data/multi_scenes.ts";
import { makeRng } from "../src/rng.ts";

const grid = { size: 12, stride: 3, offset: -2, rows: 9, cols: 11 };

function randomBox(rng: ReturnType<typeof makeRng>): Box {
  const top = rng.uniform(-4, 30), left = rng.uniform(-4, 36);
  return [top, top + rng.uniform(0.5, 14), left, left + rng.uniform(0.5, 14)];
}

Deno.test("encodeObjectsData: one digit per scene = encodeTargetsData", () => {
  const rng = makeRng(5);
  const objects: SceneObject[][] = Array.from(
    { length: 20 },
    () => [{ label: rng.int(10), box: randomBox(rng) }],
  );
  const boxes = Float32Array.from(objects.flatMap((o) => o[0].box));
  const labels = Int32Array.from(objects.map((o) => o[0].label));
  // Same float32 boxes on both sides.
  const same = objects.map((
    o,
    k,
  ) => [{ ...o[0], box: Array.from(boxes.subarray(4 * k, 4 * k + 4)) as Box }]);
  assert.deepEqual(encodeObjectsData(same, grid), encodeTargetsData(boxes, labels, grid));
});

for (const minCover of [0, 0.5, 1]) {
  Deno.test(`encodeObjectsData: each window takes the digit covering most of it (naive loop, minCover ${minCover})`, () => {
    const rng = makeRng(8);
    const objects: SceneObject[][] = Array.from(
      { length: 10 },
      () => Array.from({ length: rng.int(5) }, () => ({ label: rng.int(10), box: randomBox(rng) })),
    );
    const got = encodeObjectsData(objects, grid, { minCover });
    const { size, stride, offset, rows, cols } = grid;
    let positives = 0, contested = 0;
    // brute force: each digit's largest overlap with any window of the grid
    const best = (o: SceneObject) => {
      let most = 0;
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          const [wt, wl] = [offset + i * stride, offset + j * stride];
          const h = Math.min(o.box[1], wt + size) - Math.max(o.box[0], wt);
          const w = Math.min(o.box[3], wl + size) - Math.max(o.box[2], wl);
          if (h > 0 && w > 0) most = Math.max(most, h * w);
        }
      }
      return most;
    };
    for (const [k, list] of objects.entries()) {
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          const [wt, wl] = [offset + i * stride, offset + j * stride];
          let chosen: SceneObject | undefined, bestArea = 0, overlapping = 0;
          for (const o of list) {
            const [t, b, l, r] = o.box;
            const h = Math.min(b, wt + size) - Math.max(t, wt);
            const w = Math.min(r, wl + size) - Math.max(l, wl);
            const enough = h > 0 && w > 0 && h * w >= minCover * best(o);
            if (enough && minCover === 1) assert.ok(h * w <= (b - t) * (r - l) + 1e-9);
            if (enough) overlapping++;
            if (enough && h * w > bestArea) [chosen, bestArea] = [o, h * w];
          }
          const at = ((k * rows + i) * cols + j) * TARGET_CHANNELS;
          const cell = Array.from(got.subarray(at, at + TARGET_CHANNELS));
          let want = [0, 0, 0, 0, 0, 0];
          if (chosen) {
            const [t, b, l, r] = chosen.box;
            want = [
              1,
              chosen.label,
              (t - wt) / size,
              (b - wt) / size,
              (l - wl) / size,
              (r - wl) / size,
            ];
            positives++;
            if (overlapping > 1) contested++;
          }
          assert.ok(
            cell.every((v, c) => Math.abs(v - want[c]) < 1e-5),
            `scene ${k} window ${i},${j}: ${cell} vs ${want}`,
          );
        }
      }
    }
    const [least, fights] = minCover === 1 ? [30, 1] : [100, 10];
    assert.ok(
      positives > least && contested >= fights,
      `${positives} positives, ${contested} contested`,
    );
  });
}

Deno.test("encodeObjectsData: minCover 1 keeps the windows holding the whole digit, or the best ones when none does", () => {
  const g = { size: 10, stride: 5, offset: 0, rows: 3, cols: 3 }; // windows start at 0, 5, 10
  const small: SceneObject = { label: 4, box: [6, 9, 1, 4] }; // inside rows 0 and 5, column 0 only
  const y = encodeObjectsData([[small]], g, { minCover: 1 });
  const positive = (i: number, j: number) => y[(i * 3 + j) * TARGET_CHANNELS];
  assert.deepEqual([0, 1, 2].flatMap((i) => [0, 1, 2].map((j) => positive(i, j))), [
    1,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
  ]);
  // 14 px high: no window holds it; the window rows starting at 0, 5, 10 cover 7, 10, 7 px of it,
  // and the columns starting at 5 and 10 both hold its 3 px width
  const tall: SceneObject = { label: 2, box: [3, 17, 11, 14] };
  const t = encodeObjectsData([[tall]], g, { minCover: 1 });
  const on = [0, 1, 2].flatMap((i) => [0, 1, 2].map((j) => t[(i * 3 + j) * TARGET_CHANNELS]));
  assert.deepEqual(on, [0, 0, 0, 0, 1, 1, 0, 0, 0]);
});
