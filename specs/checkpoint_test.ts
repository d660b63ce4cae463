import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import { buildModel } from "../src/model/model.ts";
import { predict } from "../src/model/predict.ts";
import { loadModel, saveModel } from "../src/model/checkpoint.ts";
import { makeRng } from "../src/rng.ts";

async function predictions(model: Parameters<typeof predict>[0]) {
  const rng = makeRng(4);
  const x = tf.tensor4d(new Float32Array(3 * 64 * 80).map(() => rng.next()), [3, 64, 80, 1]);
  const out = tf.tidy(() => model.apply(x));
  const raw = await out.data();
  const p = await predict(model, x);
  tf.dispose([x, out]);
  return { raw, p };
}

Deno.test("checkpoint round trip gives bit-identical outputs (path, file URL, http URL)", async () => {
  await useBackend("cpu");
  const dir = await Deno.makeTempDir();
  const model = buildModel(undefined, { seed: 12 });
  await saveModel(model, dir, { epoch: 3 });
  const want = await predictions(model);
  const server = Deno.serve({ port: 0, onListen() {} }, async (req) => {
    const file = new URL(req.url).pathname.split("/").pop()!;
    return new Response(await Deno.readFile(`${dir}/${file}`));
  });
  const sources = [dir, `file://${dir}`, `http://localhost:${server.addr.port}/ckpt/`];
  try {
    for (const source of sources) {
      const { model: loaded, extra } = await loadModel(source);
      assert.deepEqual(extra, { epoch: 3 });
      assert.deepEqual(loaded.arch, model.arch);
      const got = await predictions(loaded);
      assert.deepEqual(got.raw, want.raw, `${source}: raw outputs differ`);
      assert.deepEqual(got.p, want.p, `${source}: predictions differ`);
      loaded.dispose();
    }
  } finally {
    await server.shutdown();
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadModel gives one-line errors for missing and corrupt checkpoints", async () => {
  await useBackend("cpu");
  const dir = await Deno.makeTempDir();
  const model = buildModel(undefined, { seed: 1 });
  try {
    await assert.rejects(() => loadModel(`${dir}/nothing`), /Cannot read model.json .*not found/);
    await saveModel(model, dir);
    const json = await Deno.readTextFile(`${dir}/model.json`);
    const bin = await Deno.readFile(`${dir}/weights.bin`);

    await Deno.writeFile(`${dir}/weights.bin`, bin.slice(0, 100));
    await assert.rejects(() => loadModel(dir), /holds 100 bytes but model.json lists \d+/);
    await Deno.writeFile(`${dir}/weights.bin`, bin);

    await Deno.writeTextFile(`${dir}/model.json`, json.slice(0, 50));
    await assert.rejects(() => loadModel(dir), /is not valid JSON/);

    const parsed = JSON.parse(json);
    parsed.architecture[0].filters = 8;
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(parsed));
    await assert.rejects(() => loadModel(dir), /conv0\/kernel" has shape \[6,6,1,16\]/);

    parsed.architecture[0].filters = 16;
    parsed.architecture.splice(1, 0, { kind: "pool", kernel: 1 }); // the weight names shift
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(parsed));
    await assert.rejects(() => loadModel(dir), /do not match its architecture/);
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
