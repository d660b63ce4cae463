import assert from "node:assert/strict";
// Plain tfjs, as another app would import it (its layers API loads the export).
import * as tfjs from "npm:@tensorflow/tfjs@4.22.0";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import { loadModel, PRETRAINED_MODEL } from "../src/model/checkpoint.ts";
import { exportLayersModel, layersTopology } from "../src/model/layers_export.ts";
import { buildModel, POOL_ARCH } from "../src/model/model.ts";
import { randArray } from "./support.ts";

/** Serves `dir` on loopback for the duration of `body` (loadLayersModel reads http URLs). */
async function serving(dir: string, body: (url: string) => Promise<void>) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const name = new URL(req.url).pathname.split("/").pop()!;
    try {
      return new Response(await Deno.readFile(`${dir}/${name}`));
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  try {
    await body(`http://127.0.0.1:${server.addr.port}/m/model.json`);
  } finally {
    await server.shutdown();
  }
}

/** max |a − b| */
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

Deno.test("the pretrained model exported as a LayersModel loads in plain tfjs with equal outputs", async () => {
  await useBackend("cpu");
  const dir = await Deno.makeTempDir();
  await exportLayersModel(PRETRAINED_MODEL, dir);
  // the shipped export is this same export
  assert.deepEqual(
    await Deno.readFile(`${dir}/group1-shard1of1.bin`),
    await Deno.readFile("models/default/layers/group1-shard1of1.bin"),
  );
  assert.deepEqual(
    JSON.parse(await Deno.readTextFile(`${dir}/model.json`)),
    JSON.parse(await Deno.readTextFile("models/default/layers/model.json")),
  );
  const { model } = await loadModel();
  // 64×64 scenes and a size it was not trained on
  for (const [h, w] of [[64, 64], [96, 80]]) {
    const x = tf.tensor4d(randArray(3 * h * w, h).map((v) => (v + 1) / 2), [3, h, w, 1]);
    const want = tf.tidy(() => model.apply(x));
    await serving(dir, async (url) => {
      const layers = await tfjs.loadLayersModel(url);
      assert.equal(layers.layers.length, 5);
      assert.deepEqual(layers.layers.map((l) => l.getClassName()), Array(5).fill("Conv2D"));
      const got = layers.predict(x) as tf.Tensor;
      assert.deepEqual(got.shape, want.shape);
      assert.deepEqual(want.shape, [3, (h - 40) / 8 + 1, Math.floor((w - 40) / 8) + 1, 15]);
      const d = maxDiff(await got.data(), await want.data());
      assert.ok(d <= 1e-5, `max |layers − apply| = ${d}`);
      got.dispose();
      // tfjs re-saves exactly the topology we wrote (what tensorflowjs_converter reads)
      let saved: tfjs.io.ModelArtifacts | undefined;
      await layers.save(tfjs.io.withSaveHandler((artifacts) => {
        saved = artifacts;
        return Promise.resolve({
          modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
        });
      }));
      const ours = JSON.parse(await Deno.readTextFile(`${dir}/model.json`));
      assert.deepEqual(
        (saved!.modelTopology as { config: unknown }).config,
        ours.modelTopology.config,
      );
      layers.dispose();
    });
    tf.dispose([x, want]);
  }
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a pool architecture exports MaxPooling2D layers and matches too", async () => {
  await useBackend("cpu");
  const dir = await Deno.makeTempDir();
  const model = buildModel(POOL_ARCH, { seed: 3 });
  await exportLayersModel(model, dir);
  const classes = layersTopology(POOL_ARCH).config.layers.map((l) => l.class_name);
  assert.deepEqual(classes, [
    "Conv2D",
    "MaxPooling2D",
    "Conv2D",
    "MaxPooling2D",
    "Conv2D",
    "Conv2D",
  ]);
  const x = tf.tensor4d(randArray(2 * 64 * 64, 9), [2, 64, 64, 1]);
  const want = tf.tidy(() => model.apply(x));
  await serving(dir, async (url) => {
    const layers = await tfjs.loadLayersModel(url);
    const got = layers.predict(x) as tf.Tensor;
    const d = maxDiff(await got.data(), await want.data());
    assert.ok(d <= 1e-5, `max |layers − apply| = ${d}`);
    got.dispose();
    layers.dispose();
  });
  tf.dispose([x, want]);
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("exporting a folder without a checkpoint fails with one clear line", async () => {
  const dir = await Deno.makeTempDir();
  await assert.rejects(exportLayersModel(dir, `${dir}/out`), /Cannot read model\.json/);
  await Deno.remove(dir, { recursive: true });
});
