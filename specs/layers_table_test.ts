/**
 * The tables that define each layer kind and each loss term once (src/layers/table.ts,
 * src/model/loss/terms.ts): every kind and term is complete, the tables drive the geometry, the
 * model, the array network and the exports, the PyTorch reference knows exactly the same kinds
 * and terms, and the lower floors import nothing from the floors above them.
 */
import assert from "node:assert/strict";
import { LAYER_KIND_NAMES, LAYER_KINDS } from "../src/layers/table.ts";
import { LOSS_TERMS } from "../src/model/loss/terms.ts";
import { resolveLayer } from "../src/geometry.ts";
import { buildModel, modelCost, POOL_ARCH, variableShapes } from "../src/model/model.ts";
import { layersTopology } from "../src/model/layers_export.ts";
import { useBackend } from "../src/backends/backend.ts";

Deno.test("layer kinds: every kind of the table has every part, under its own name", () => {
  assert.deepEqual(LAYER_KIND_NAMES, ["conv", "pool"]);
  for (const [name, kind] of Object.entries(LAYER_KINDS)) {
    assert.equal(kind.kind, name);
    for (const part of ["window", "check", "channels", "variables", "cost", "apply", "arrays"]) {
      assert.equal(typeof (kind as unknown as Record<string, unknown>)[part], "function", part);
    }
    assert.equal(typeof kind.exports.keras, "function", `${name}: a Keras export entry`);
    assert.ok(kind.summary.length > 10);
  }
});

Deno.test("layer kinds: the window arithmetic of each kind is what geometry and the model use", () => {
  assert.deepEqual(resolveLayer({ kind: "pool", kernel: 3 }), {
    kind: "pool",
    kernel: 3,
    stride: 3,
    padding: 0,
  });
  assert.deepEqual(resolveLayer({ kind: "conv", kernel: 3, padding: 1 }), {
    kind: "conv",
    kernel: 3,
    stride: 1,
    padding: 1,
  });
  assert.throws(() => resolveLayer({ kind: "pool", kernel: 2, padding: 1 } as never), /no padding/);
  assert.throws(
    () => variableShapes([{ kind: "conv", kernel: 1, filters: 15, activation: "tanh" as "relu" }]),
    /arch\[0\]\.activation must be "relu" or "linear", got "tanh"/,
  );
  // the pool net: variables only for the convolutions, Keras layers per kind
  assert.deepEqual([...variableShapes(POOL_ARCH).keys()].filter((k) => k.startsWith("pool")), []);
  const classes = layersTopology(POOL_ARCH).config.layers.map((l) => l.class_name);
  assert.deepEqual(classes, [
    "Conv2D",
    "MaxPooling2D",
    "Conv2D",
    "MaxPooling2D",
    "Conv2D",
    "Conv2D",
  ]);
  assert.equal(modelCost(POOL_ARCH).params, 114639);
});

Deno.test("layer kinds: the tfjs forward of each kind makes the model's outputs", async () => {
  await useBackend("cpu");
  const model = buildModel(POOL_ARCH, { seed: 1 });
  const { tf } = await import("../src/deps.ts");
  const out = tf.tidy(() => model.apply(tf.ones([1, 40, 40, 1])));
  assert.deepEqual(out.shape, [1, 1, 1, 15]);
  out.dispose();
  model.dispose();
});

/** The keys of the Python dict `name = {...}` in tasks/bench_torch.py. */
function pythonKeys(text: string, name: string): string[] {
  const found = text.match(new RegExp(`^${name} = \\{([^}]*)\\}`, "m"));
  assert.ok(found, `tasks/bench_torch.py has no ${name} table`);
  return [...found[1].matchAll(/"(\w+)":/g)].map((m) => m[1]);
}

Deno.test("the PyTorch reference knows exactly the layer kinds and loss terms of the tables", async () => {
  const text = await Deno.readTextFile(new URL("../tasks/bench_torch.py", import.meta.url));
  assert.deepEqual(pythonKeys(text, "LAYERS"), [...LAYER_KIND_NAMES]);
  assert.deepEqual(pythonKeys(text, "LOSS_TERMS"), LOSS_TERMS.map((t) => t.name));
  // an unknown kind is an error there, never a silent stand-in
  assert.match(text, /raise ValueError\(f"arch\[\{i\}\]: no PyTorch layer for kind/);
});

/**
 * The modules `entry` loads when it runs (imports followed transitively, type-only ones left
 * out), local ones as paths from the repository root.
 */
async function runtimeGraph(entry: string): Promise<string[]> {
  const root = new URL("../", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(entry, root).pathname],
    stdout: "piped",
    stderr: "null",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  type Dep = { code?: { specifier: string } };
  const modules = new Map<string, { dependencies?: Dep[] }>(
    (info.modules as { specifier: string; dependencies?: Dep[] }[]).map((m) => [m.specifier, m]),
  );
  const seen = new Set<string>();
  const visit = (specifier: string) => {
    if (seen.has(specifier)) return;
    seen.add(specifier);
    for (const d of modules.get(specifier)?.dependencies ?? []) {
      if (d.code?.specifier) visit(d.code.specifier);
    }
  };
  visit(info.roots[0]);
  return [...seen].map((s) => s.startsWith(root.href) ? s.slice(root.href.length) : s);
}

Deno.test("floors: model, data, detection import nothing from backends or training; geometry and layers no tfjs", async () => {
  const entries = [
    "src/model/array_net.ts",
    "src/model/predict.ts",
    "src/model/checkpoint.ts",
    "src/model/layers_export.ts",
    "src/data/scenes.ts",
    "src/detection/detect.ts",
  ];
  for (const entry of entries) {
    const up = (await runtimeGraph(entry)).filter((m) =>
      m.startsWith("src/backends/") || m.startsWith("src/training/")
    );
    assert.deepEqual(up, [], `${entry} reaches up to ${up.join(", ")}`);
  }
  const geometry = await runtimeGraph("src/geometry.ts");
  assert.ok(geometry.includes("src/layers/conv.ts"), "geometry reads the kinds' window arithmetic");
  assert.deepEqual(geometry.filter((m) => !m.startsWith("src/")), [], "plain TypeScript, no tfjs");
});
