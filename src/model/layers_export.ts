/**
 * Export to a standard TensorFlow.js **LayersModel** (`model.json` with a Keras-style
 * `Sequential` topology + one weight shard), loadable with `tf.loadLayersModel(url)` in any tfjs
 * app. Each layer kind says its Keras layers (its `exports.keras` entry in ../layers/): tfjs-layers'
 * `Conv2D` (valid padding, same strides and activations), `ZeroPadding2D` for padded convolutions
 * and `MaxPooling2D`; layer `i` of the architecture is
 * named `conv<i>` / `pool<i>`, so the weight names (`conv0/kernel`, `conv0/bias`, …) and the
 * byte layout are exactly those of a slidewin checkpoint's `weights.bin`.
 *
 * @module
 */
import { readExportWeights } from "./export_weights.ts";
import { writeFileAtomic } from "../io.ts";
import { type ArchLayer, type Model, variableShapes } from "./model.ts";
import type { KerasLayer } from "../layers/layer.ts";
import { kindOf } from "../layers/table.ts";

/** Name of the single weight shard of an export (tfjs converter style). */
export const LAYERS_SHARD = "group1-shard1of1.bin";

export type { KerasLayer } from "../layers/layer.ts";

/**
 * The `modelTopology` of a LayersModel for `arch`: a `Sequential` of `Conv2D` / `MaxPooling2D`
 * layers on a `[null, null, null, inputChannels]` input (any height and width ≥ the window).
 *
 * @example
 * ```ts
 * import { layersTopology } from "./layers_export.ts";
 * import { DEFAULT_ARCH } from "./model.ts";
 * const topology = layersTopology(DEFAULT_ARCH);
 * console.log(topology.config.layers.length); // 5
 * ```
 */
export function layersTopology(
  arch: readonly ArchLayer[],
  options: { inputChannels?: number; name?: string } = {},
): { class_name: "Sequential"; config: { name: string; layers: KerasLayer[] } } {
  const inputChannels = options.inputChannels ?? 1;
  variableShapes(arch, inputChannels); // validates the architecture
  const layers: KerasLayer[] = [];
  for (const [i, l] of arch.entries()) layers.push(...kindOf(l).exports.keras(l, i));
  // the first layer carries the input shape (any height and width)
  const first = layers[0];
  first.config = {
    batch_input_shape: [null, null, null, inputChannels],
    dtype: "float32",
    ...first.config,
  };
  return { class_name: "Sequential", config: { name: options.name ?? "slidewin", layers } };
}

/** Where {@linkcode exportLayersModel} wrote the model. */
export interface LayersExport {
  /** Path of the written `model.json`. */
  json: string;
  /** Path of the weight shard. */
  weights: string;
  /** Bytes of the weight shard. */
  bytes: number;
}

/**
 * Writes `model` (or the slidewin checkpoint at a folder path / URL) as a tfjs LayersModel in
 * `outDir`: `model.json` + `group1-shard1of1.bin`, atomically. Load it back with
 * `tf.loadLayersModel("http://…/model.json")`; `predict` on `[N, H, W, 1]` images in [0, 1] gives
 * the same `[N, rows, cols, 15]` outputs as `model.apply`.
 *
 * @example
 * ```ts
 * import "../backends/backend.ts";
 * import { exportLayersModel } from "./layers_export.ts";
 * import { PRETRAINED_MODEL } from "./checkpoint.ts";
 * const { json } = await exportLayersModel(PRETRAINED_MODEL, "runs/example-layers");
 * console.log(json); // runs/example-layers/model.json
 * ```
 */
export async function exportLayersModel(
  source: Model | string | URL,
  outDir: string,
): Promise<LayersExport> {
  if (typeof outDir !== "string" || outDir === "") {
    throw new TypeError("outDir must be a folder path");
  }
  const { arch, weights: named, extra } = await readExportWeights(source);
  const chunks: Float32Array[] = [];
  const weights = [];
  for (const [name, w] of named) {
    weights.push({ name, shape: w.shape, dtype: "float32" });
    chunks.push(w.data);
  }
  const bytes = new Uint8Array(chunks.reduce((s, c) => s + c.byteLength, 0));
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++, at += 4) view.setFloat32(at, chunk[i], true);
  }
  const json = {
    format: "layers-model",
    generatedBy: "slidewin",
    convertedBy: null,
    modelTopology: {
      class_name: "Sequential",
      config: layersTopology(arch).config,
      keras_version: "tfjs-layers 4.22.0",
      backend: "tensor_flow.js",
    },
    weightsManifest: [{ paths: [LAYERS_SHARD], weights }],
    userDefinedMetadata: {
      slidewin: {
        architecture: arch,
        output: "per window: objectness logit, 10 class logits, box [top, bottom, left, right]",
        ...(Object.keys(extra).length ? { extra } : {}),
      },
    },
  };
  const dir = outDir.replace(/\/+$/, "") || "/";
  await writeFileAtomic(`${dir}/${LAYERS_SHARD}`, bytes);
  await writeFileAtomic(`${dir}/model.json`, JSON.stringify(json, null, 1) + "\n");
  return { json: `${dir}/model.json`, weights: `${dir}/${LAYERS_SHARD}`, bytes: bytes.length };
}
