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

for (
  const [assign, minCover] of [["area", 0], ["area", 0.5], ["area", 1], ["centre", 0], [
    "centre",
    1,
  ]] as const
) {
  const rule = assign === "area" ? "the digit covering most of it" : "the digit centred nearest";
  Deno.test(`encodeObjectsData: each window takes ${rule} (naive loop, minCover ${minCover})`, () => {
    const rng = makeRng(8);
    const objects: SceneObject[][] = Array.from(
      { length: 10 },
      () => Array.from({ length: rng.int(5) }, () => ({ label: rng.int(10), box: randomBox(rng) })),
    );
    const got = encodeObjectsData(objects, grid, { minCover, assign });
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
          let chosen: SceneObject | undefined, bestMerit = -Infinity, overlapping = 0;
          for (const o of list) {
            const [t, b, l, r] = o.box;
            const h = Math.min(b, wt + size) - Math.max(t, wt);
            const w = Math.min(r, wl + size) - Math.max(l, wl);
            const enough = h > 0 && w > 0 && h * w >= minCover * best(o);
            if (enough && minCover === 1) assert.ok(h * w <= (b - t) * (r - l) + 1e-9);
            if (enough) overlapping++;
            // area: the largest overlap; centre: the smallest distance between the centres
            const merit = assign === "area"
              ? h * w
              : -Math.hypot(wt + size / 2 - (t + b) / 2, wl + size / 2 - (l + r) / 2);
            if (enough && merit > bestMerit) [chosen, bestMerit] = [o, merit];
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

Deno.test("encodeObjectsData: assign centre gives each digit of a touching row the windows centred on it", () => {
  // Three 8-pixel-wide digits side by side; windows of 24 at stride 4 hold all three.
  const g = { size: 24, stride: 4, offset: 0, rows: 1, cols: 4 }; // windows start at 0, 4, 8, 12
  const row: SceneObject[] = [
    { label: 1, box: [2, 20, 0, 8] },
    { label: 2, box: [2, 20, 8, 16] },
    { label: 3, box: [2, 20, 16, 24] },
  ];
  const centre = encodeObjectsData([row], g, { minCover: 1, assign: "centre" });
  const area = encodeObjectsData([row], g, { minCover: 1, assign: "area" });
  const labels = (y: Float32Array) =>
    Array.from({ length: 4 }, (_, j) => y[j * TARGET_CHANNELS] ? y[j * TARGET_CHANNELS + 1] : -1);
  // Window 0 ([0, 24)) holds all three and is centred on the 2; window 4 holds the 2 and the 3
  // whole (centre 16: the 2 at 12 and the 3 at 20 tie, the first wins); window 8 holds them too
  // and is centred on the 3; window 12 holds only the 3 whole.
  assert.deepEqual(labels(centre), [2, 2, 3, 3]);
  // By area every whole digit ties: the first one a window holds wins.
  assert.deepEqual(labels(area), [1, 2, 2, 3]);
});

Deno.test("encodeObjectsData: options are checked", () => {
  assert.throws(
    () => encodeObjectsData([], grid, { assign: "middle" as "centre" }),
    /options.assign must be "area" or "centre"/,
  );
});

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
