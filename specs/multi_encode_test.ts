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

for (const minCover of [0, 0.5]) {
  Deno.test(`encodeObjectsData: each window takes the digit covering most of it (naive loop, minCover ${minCover})`, () => {
    const rng = makeRng(8);
    const objects: SceneObject[][] = Array.from(
      { length: 10 },
      () => Array.from({ length: rng.int(5) }, () => ({ label: rng.int(10), box: randomBox(rng) })),
    );
    const got = encodeObjectsData(objects, grid, { minCover });
    const { size, stride, offset, rows, cols } = grid;
    let positives = 0, contested = 0;
    for (const [k, list] of objects.entries()) {
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          const [wt, wl] = [offset + i * stride, offset + j * stride];
          let best: SceneObject | undefined, bestArea = 0, overlapping = 0;
          for (const o of list) {
            const [t, b, l, r] = o.box;
            const h = Math.min(b, wt + size) - Math.max(t, wt);
            const w = Math.min(r, wl + size) - Math.max(l, wl);
            const enough = h > 0 && w > 0 && h * w >= minCover * (b - t) * (r - l);
            if (enough) overlapping++;
            if (enough && h * w > bestArea) [best, bestArea] = [o, h * w];
          }
          const at = ((k * rows + i) * cols + j) * TARGET_CHANNELS;
          const cell = Array.from(got.subarray(at, at + TARGET_CHANNELS));
          let want = [0, 0, 0, 0, 0, 0];
          if (best) {
            const [t, b, l, r] = best.box;
            want = [
              1,
              best.label,
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
    assert.ok(positives > 100 && contested >= 10, `${positives} positives, ${contested} contested`);
  });
}
