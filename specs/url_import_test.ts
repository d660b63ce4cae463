/**
 * mod.ts used the way users use it: imported from a URL by a program of their own, with no
 * import map, no config, no lock file and no clone. The working tree is served over HTTP on
 * 127.0.0.1; a fresh importer computes windows, makes and encodes scenes, loads the pretrained
 * model that ships in the repository and predicts 30 scenes.
 */
import assert from "node:assert/strict";
import { windowCount, windowGeometry } from "../src/geometry.ts";
import { DEFAULT_ARCH } from "../src/model/model.ts";

const root = new URL("../", import.meta.url);

function serveTree(): { origin: string; close: () => Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(new URL("." + path, root));
      const type = path.endsWith(".ts")
        ? "application/typescript"
        : path.endsWith(".json")
        ? "application/json"
        : "application/octet-stream";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const { port } = server.addr as Deno.NetAddr;
  return { origin: `http://127.0.0.1:${port}`, close: () => server.shutdown() };
}

/**
 * Runs `program` (written to `dir`) with Deno, importing only from `origin`: no config, no lock,
 * read/env/sys allowed, network and imports only to that host; its last stdout line is JSON.
 */
async function runImporter(origin: string, dir: string, program: string) {
  const file = `${dir}/importer.ts`;
  await Deno.writeTextFile(file, program);
  const host = new URL(origin).host;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-config",
      "--no-lock",
      `--reload=${origin}`,
      `--allow-import=${host}`,
      `--allow-net=${host}`,
      "--allow-read",
      "--allow-env",
      "--allow-sys",
      file,
    ],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return { code: out.code, stderr, result: out.code === 0 ? JSON.parse(lines.at(-1)!) : undefined };
}

Deno.test({
  name: "mod.ts imported from a URL: windows, scenes, targets, pretrained model, predictions",
  // the importer downloads nothing new: npm packages come from the shared Deno cache
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { origin, close } = serveTree();
    const dir = await Deno.makeTempDir({ prefix: "slidewin-importer-" });
    try {
      const program = `
import * as sw from "${origin}/mod.ts";
const backend = (await sw.useBackend("wasm")).name;
const { model } = await sw.loadModel();
const g = sw.windowGeometry(model.arch);
const counts = [sw.windowCount(model.arch, 64), sw.windowCount(model.arch, 128)];
const mnist = await sw.loadMnist();
const scenes = await sw.makeScenes(mnist.test, { count: 30, seed: 7 });
const grid = sw.windowGrid(model.arch, 64, 64);
const targets = sw.encodeTargets(scenes.boxes, scenes.labels, grid);
const pred = await sw.predict(model, scenes.images);
let correct = 0;
for (let i = 0; i < 30; i++) correct += pred.labels[i] === scenes.labels[i] ? 1 : 0;
console.log(JSON.stringify({ backend, g, counts, targets: targets.shape, correct,
  iou: sw.iou(pred.boxes.subarray(0, 4), scenes.boxes.subarray(0, 4)) }));
`;
      const { code, stderr, result } = await runImporter(origin, dir, program);
      assert.equal(code, 0, `importer failed:\n${stderr.slice(-2000)}`);
      assert.equal(result.backend, "wasm");
      // the shipped model has the default architecture and its windows
      assert.deepEqual(result.g, windowGeometry(DEFAULT_ARCH));
      const n = windowCount(DEFAULT_ARCH, 64);
      assert.deepEqual(result.counts, [n, windowCount(DEFAULT_ARCH, 128)]);
      assert.deepEqual(result.targets, [30, n, n, 6]);
      assert.ok(result.correct >= 27, `only ${result.correct}/30 correct`);
      assert.ok(result.iou > 0 && result.iou <= 1);
    } finally {
      await close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "mod.ts imported from a URL by a program that never chooses a backend: it gets the default",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { origin, close } = serveTree();
    const dir = await Deno.makeTempDir({ prefix: "slidewin-importer-" });
    try {
      const program = `
import * as sw from "${origin}/mod.ts";
const { model } = await sw.loadModel();
const mnist = await sw.loadMnist();
const scenes = await sw.makeScenes(mnist.test, { count: 8, seed: 7 });
const pred = await sw.predict(model, scenes.images);
const [found] = await sw.detect(model, scenes.images);
console.log(JSON.stringify({ backend: sw.currentBackend().name, labels: pred.labels.length,
  detections: Array.isArray(found) }));
`;
      const { code, stderr, result } = await runImporter(origin, dir, program);
      assert.equal(code, 0, `importer failed:\n${stderr.slice(-2000)}`);
      // no --allow-ffi: auto by the table's order falls through onednn and native to wasm
      assert.deepEqual(result, { backend: "wasm", labels: 8, detections: true });
    } finally {
      await close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
