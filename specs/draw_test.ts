import assert from "node:assert/strict";
import {
  PRED_COLOR,
  predictionLayout,
  renderPredictions,
  renderWindowMap,
  strokeWidth,
  TRUE_COLOR,
  viridis,
  windowMapLayout,
} from "../src/pictures/draw.ts";
import { decodePng, pixelAt } from "../src/pictures/png.ts";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";

const H = 64;

function isColor(rgba: number[], rgb: readonly number[]) {
  return rgba[3] === 255 && rgb.every((v, k) => Math.abs(rgba[k] - v) <= 2);
}

/** Two scenes: a bright square with a known true box and an offset predicted box. */
function scenes() {
  const images = new Float32Array(2 * H * H);
  for (let r = 20; r < 40; r++) for (let c = 10; c < 30; c++) images[r * H + c] = 1;
  return {
    images,
    trueBoxes: [20, 40, 10, 30, 5, 25, 30, 50],
    predBoxes: [22, 41, 12, 33, 5, 25, 30, 50],
    trueLabels: [3, 8],
    predLabels: [3, 1],
  };
}

Deno.test("renderPredictions: PNG of the documented size, boxes on the pixel edges", async () => {
  const scale = 4;
  const png = await renderPredictions({ ...scenes(), cols: 5, scale, header: "spec" });
  const image = await decodePng(png);
  const layout = predictionLayout(2, { cols: 5, scale });
  assert.equal(image.width, layout.width);
  assert.equal(image.height, layout.height);
  const t = strokeWidth(scale);
  // Scene 0, true box [20, 40, 10, 30]: green just outside the left edge, at row 30.
  const { x, y } = layout.origin(0);
  const row = y + 30 * scale;
  assert.ok(isColor(pixelAt(image, x + 10 * scale - 1, row), TRUE_COLOR), "green at left − 1");
  assert.ok(isColor(pixelAt(image, x + 10 * scale - t, row), TRUE_COLOR), "green at left − t");
  assert.ok(
    !isColor(pixelAt(image, x + 10 * scale - t - 1, row), TRUE_COLOR),
    "no green at left − t − 1",
  );
  // Green just below the bottom edge (row 40·scale), at column 20.
  assert.ok(
    isColor(pixelAt(image, x + 20 * scale, y + 40 * scale), TRUE_COLOR),
    "green under bottom",
  );
  // Predicted box [22, 41, 12, 33]: red just inside its edges.
  assert.ok(isColor(pixelAt(image, x + 12 * scale, row), PRED_COLOR), "red at left");
  assert.ok(
    isColor(pixelAt(image, x + 12 * scale + t - 1, row), PRED_COLOR),
    "red at left + t − 1",
  );
  assert.ok(!isColor(pixelAt(image, x + 12 * scale + t, row), PRED_COLOR), "no red at left + t");
  assert.ok(isColor(pixelAt(image, x + 33 * scale - 1, row), PRED_COLOR), "red at right − 1");
  assert.ok(isColor(pixelAt(image, x + 20 * scale, y + 22 * scale), PRED_COLOR), "red at top");
  // Inside the boxes the scene shows through (white square), outside it is black.
  assert.deepEqual(pixelAt(image, x + 20 * scale, row), [255, 255, 255, 255]);
  assert.deepEqual(pixelAt(image, x + 50 * scale, y + 5 * scale), [0, 0, 0, 255]);
  // Scene 1: identical boxes stay both visible (green outside, red inside).
  const o1 = layout.origin(1);
  assert.ok(isColor(pixelAt(image, o1.x + 30 * scale - 1, o1.y + 15 * scale), TRUE_COLOR));
  assert.ok(isColor(pixelAt(image, o1.x + 30 * scale, o1.y + 15 * scale), PRED_COLOR));
});

Deno.test("renderPredictions: 30 scenes from a tensor make a 6 × 5 grid", async () => {
  await useBackend("cpu");
  const n = 30;
  const images = tf.zeros([n, H, H, 1]);
  const boxes = Array.from({ length: n }, () => [10, 30, 10, 30]).flat();
  const labels = Array.from({ length: n }, (_, i) => i % 10);
  const png = await renderPredictions({
    images,
    trueBoxes: boxes,
    predBoxes: boxes,
    trueLabels: labels,
    predLabels: labels,
  });
  images.dispose();
  const image = await decodePng(png);
  const layout = predictionLayout(n);
  assert.equal(image.width, layout.width);
  assert.equal(image.height, layout.height);
  assert.equal(layout.origin(29).y, layout.origin(25).y, "6 rows of 5");
  assert.equal(layout.origin(5).x, layout.origin(0).x);
  assert.ok(layout.width >= 5 * 4 * H && layout.height >= 6 * 4 * H, "each scene upscaled ≥ 4×");
});

Deno.test("renderPredictions: mismatched inputs name the argument", async () => {
  await assert.rejects(
    () => renderPredictions({ ...scenes(), predBoxes: [1, 2, 3] }),
    /predBoxes must hold 8 numbers/,
  );
  assert.throws(() => predictionLayout(3, { scale: 1.5 }), /scale must be an integer/);
});

Deno.test("renderWindowMap: chosen window outlined, heat map, size as documented", async () => {
  const scale = 5;
  const grid = { size: 40, stride: 4, offset: 0, rows: 7, cols: 7 };
  const objectness = new Float32Array(49).fill(0.05);
  objectness[4 * 7 + 1] = 0.99;
  const png = await renderWindowMap({
    image: new Float32Array(H * H),
    objectness,
    grid,
    box: [30, 50, 10, 30],
    scale,
  });
  const image = await decodePng(png);
  const layout = windowMapLayout(grid, { h: H, w: H, scale });
  assert.equal(image.width, layout.width);
  assert.equal(image.height, layout.height);
  const { scene, map } = layout;
  // Chosen window (row 4, col 1) starts at scene pixel (16, 4): white stroke just outside it.
  assert.deepEqual(pixelAt(image, scene.x + 4 * scale - 1, scene.y + 30 * scale), [
    255,
    255,
    255,
    255,
  ]);
  // Predicted box in red, inside stroke.
  assert.ok(isColor(pixelAt(image, scene.x + 10 * scale, scene.y + 40 * scale), PRED_COLOR));
  // The objectness map: a low cell is dark viridis, the chosen cell's centre bright yellow.
  const low = pixelAt(image, map.x + (map.cell >> 1), map.y + (map.cell >> 1));
  assert.ok(isColor(low, viridis(0.05)), `low cell ${low}`);
  const hi = pixelAt(image, map.x + Math.floor(1.5 * map.cell), map.y + Math.floor(4.5 * map.cell));
  assert.ok(isColor(hi, viridis(0.99)), `chosen cell ${hi}`);
});

Deno.test("renderWindowMap: objectness must match the grid", async () => {
  await assert.rejects(
    () =>
      renderWindowMap({
        image: new Float32Array(H * H),
        objectness: new Float32Array(3),
        grid: { size: 40, stride: 4, offset: 0, rows: 7, cols: 7 },
      }),
    /objectness must hold grid.rows × grid.cols = 49/,
  );
});
