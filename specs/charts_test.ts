import assert from "node:assert/strict";
import { lineChart, timingChart, trainingCurves } from "../src/pictures/charts.ts";
import { decodePng, pixelAt } from "../src/pictures/png.ts";

Deno.test("lineChart: a PNG of the plot size (×2 for crisp text) plus axes", async () => {
  const png = await lineChart({
    title: "Loss",
    xLabel: "epoch",
    yLabel: "loss",
    series: [{ name: "train", points: [[1, 0.9], [2, 0.5], [3, 0.3]] }],
    width: 300,
    height: 200,
  });
  const image = await decodePng(png);
  assert.ok(image.width > 600 && image.width < 1000, `width ${image.width}`);
  assert.ok(image.height > 400 && image.height < 700, `height ${image.height}`);
  assert.deepEqual(pixelAt(image, 0, 0), [255, 255, 255, 255], "white background");
  // Something dark was drawn (text and axes).
  let dark = 0;
  for (let k = 0; k < image.pixels.length; k += 4) if (image.pixels[k] < 80) dark++;
  assert.ok(dark > 500, `dark pixels ${dark}`);
});

Deno.test("trainingCurves: two panels side by side", async () => {
  const records = [1, 2, 3].map((epoch) => ({
    epoch,
    loss: { detection: 1 / epoch, classification: 2 / epoch, regression: 0.5 / epoch },
    accuracy: 1 - 0.5 / epoch,
    meanIoU: 0.8 - 0.3 / epoch,
    hitRate: 0.9 - 0.5 / epoch,
  }));
  const image = await decodePng(await trainingCurves(records));
  assert.ok(image.width > 1600 && image.width > 2 * image.height, `${image.width}×${image.height}`);
  await assert.rejects(() => trainingCurves([]), /records must hold at least one epoch/);
});

Deno.test("timingChart: log–log PNG", async () => {
  const rows = [16, 64, 256].flatMap((size) => [
    { method: "sequential", size, ms: size * size / 100 },
    { method: "convolutional", size, ms: size / 10 },
  ]);
  const image = await decodePng(await timingChart(rows));
  assert.ok(image.width > 900 && image.height > 500, `${image.width}×${image.height}`);
});
