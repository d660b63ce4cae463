import assert from "node:assert/strict";
import { PRED_COLOR, TRUE_COLOR } from "../src/pictures/draw.ts";
import {
  DETECTIONS_HEADER,
  DETECTIONS_MARGIN,
  renderDetections,
} from "../src/pictures/draw_detections.ts";
import { decodePng, pixelAt } from "../src/pictures/png.ts";

Deno.test("renderDetections: size, green true box outside, red detection inside, scene pixels", async () => {
  const [h, w, scale] = [40, 60, 4];
  const image = new Float32Array(h * w);
  image[35 * w + 50] = 1; // one white pixel away from the boxes
  const png = await renderDetections(image, {
    imageSize: [h, w],
    scale,
    detections: [{ label: 3, score: 0.875, box: [10, 30, 5, 25] }],
    truths: [{ label: 3, box: [10, 30, 5, 25] }, { label: 1, box: [2, 8, 40, 45] }],
    header: "spec",
  });
  const pic = await decodePng(png);
  const [x0, y0] = [DETECTIONS_MARGIN, DETECTIONS_MARGIN + DETECTIONS_HEADER];
  assert.equal(pic.width, 2 * x0 + w * scale);
  assert.equal(pic.height, y0 + DETECTIONS_MARGIN + h * scale);
  const rgb = (x: number, y: number) => pixelAt(pic, x, y).slice(0, 3);
  // Bottom edge (row 30 → picture row y0 + 120): red just inside, green just outside.
  const midX = x0 + 15 * scale;
  assert.deepEqual(rgb(midX, y0 + 30 * scale - 1), [...PRED_COLOR]);
  assert.deepEqual(rgb(midX, y0 + 30 * scale), [...TRUE_COLOR]);
  // The second true box alone: green just outside its left edge.
  assert.deepEqual(rgb(x0 + 40 * scale - 1, y0 + 5 * scale), [...TRUE_COLOR]);
  // Scene pixels, nearest-neighbour upscaled.
  assert.deepEqual(rgb(x0 + 50 * scale + 1, y0 + 35 * scale + 2), [255, 255, 255]);
  assert.deepEqual(rgb(x0 + 52 * scale, y0 + 35 * scale), [0, 0, 0]);
  await assert.rejects(
    () => renderDetections(image, { detections: [], scale: 0, imageSize: [h, w] }),
    /scale must be an integer/,
  );
});
