/**
 * `deno task export` — writes a slidewin checkpoint in a format other tools load:
 * `--format layers` (default) a standard TensorFlow.js LayersModel (`model.json` +
 * `group1-shard1of1.bin`) for `tf.loadLayersModel(url)` (src/model/layers_export.ts), next to the
 * model in `layers/`; `--format onnx` one ONNX file, `model.onnx` next to the model, for ONNX
 * Runtime, Triton and other ONNX runtimes (src/model/onnx_export.ts). Default model: the shipped
 * `default`; `--model detector` or `--model DIR` for others.
 */
import { defineTask, modelFlag, UsageError } from "../src/cli.ts";
import { useBackend } from "../src/backends/backend.ts";
import { resolveModel } from "../src/model/checkpoint.ts";
import { exportLayersModel } from "../src/model/layers_export.ts";
import { exportOnnx } from "../src/model/onnx_export.ts";

const FLAGS = {
  /** Checkpoint folder (model.json + weights.bin), or a shipped model by name. */
  model: modelFlag("default"),
  /** Output format. */
  format: {
    default: "layers",
    help: "layers: tfjs LayersModel (model.json + shard); onnx: one model.onnx",
    choices: ["layers", "onnx"],
  },
  /** Output: a folder for layers; a .onnx file (or a folder to hold model.onnx) for onnx. */
  out: {
    default: "",
    help: "Output folder, or .onnx file (default: <model>/layers or <model>/model.onnx)",
  },
};

/** The folder a `--model` resolved to, as a path (shipped models are file: URLs in a clone). */
function modelDir(resolved: string | URL): string {
  if (typeof resolved === "string") return resolved.replace(/\/+$/, "") || "/";
  if (resolved.protocol !== "file:") {
    throw new UsageError(`${resolved.href} is not a local folder; pass --out`);
  }
  const path = decodeURIComponent(resolved.pathname).replace(/\/+$/, "");
  const here = `${Deno.cwd()}/`;
  return path.startsWith(here) ? path.slice(here.length) : path;
}

/** Where `--format` writes when `--out` is `out` ("" for next to the model). */
export function exportTarget(format: "layers" | "onnx", dir: string, out: string): string {
  if (format === "layers") return out || `${dir}/layers`;
  if (!out) return `${dir}/model.onnx`;
  return out.endsWith(".onnx") ? out : `${out.replace(/\/+$/, "")}/model.onnx`;
}

/** The task: usage, flags and what it does. */
export const task = defineTask({
  usage: "deno task export",
  about: "Writes a checkpoint as a tfjs LayersModel (for tf.loadLayersModel) or as an ONNX file " +
    "(for ONNX Runtime, Triton, …).",
  flags: FLAGS,
  async run(flags) {
    const source = await resolveModel(flags.model);
    await useBackend("cpu"); // loading only: no kernels run
    const format = flags.format as "layers" | "onnx";
    const target = exportTarget(format, flags.out ? "" : modelDir(source), flags.out);
    if (format === "onnx") {
      const { path, bytes } = await exportOnnx(source, target);
      console.log(
        `Wrote ${path} (${bytes} bytes; input images [N, 1, H, W] in [0, 1], ` +
          `output windows [N, 15, rows, cols])`,
      );
    } else {
      const written = await exportLayersModel(source, target);
      console.log(`Wrote ${written.json} and ${written.weights} (${written.bytes} bytes)`);
    }
  },
});

if (import.meta.main) await task.main();
