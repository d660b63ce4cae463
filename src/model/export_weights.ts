/**
 * What the exporters (src/model/layers_export.ts, src/model/onnx_export.ts) start from: an
 * architecture and its weights as plain float32 arrays, read from a built {@linkcode Model} or
 * from a slidewin checkpoint folder / URL, and checked against the architecture.
 *
 * @module
 */
import { loadTensors } from "./checkpoint.ts";
import { type Tensor, tf } from "../deps.ts";
import { type ArchLayer, type Model, variableShapes } from "./model.ts";

/** One weight: its shape (tfjs layout: kernels `[k, k, in, out]`) and values. */
export interface ExportWeight {
  /** Shape as {@linkcode variableShapes} names it. */
  shape: number[];
  /** Values, row-major in that shape. */
  data: Float32Array;
}

/** An architecture with its weights, ready to be written in another format. */
export interface ExportWeights {
  /** The architecture. */
  arch: readonly ArchLayer[];
  /** Input channels (1 for the grey scenes). */
  inputChannels: number;
  /** Weights by our name (`conv0/kernel`, `conv0/bias`, …), in layer order. */
  weights: Map<string, ExportWeight>;
  /** The checkpoint's `extra` (epoch, steps, …); empty for a built model. */
  extra: Record<string, unknown>;
}

/**
 * Reads `source` (a model, or the folder / URL of a slidewin checkpoint) as an architecture plus
 * float32 weights; throws one line when the weights do not fit the architecture or the folder
 * holds no checkpoint. Checkpoint tensors are freed before it returns.
 *
 * @example
 * ```ts
 * import "../backends/backend.ts";
 * import { readExportWeights } from "./export_weights.ts";
 * import { PRETRAINED_MODEL } from "./checkpoint.ts";
 * const { arch, weights } = await readExportWeights(PRETRAINED_MODEL);
 * console.log(arch.length, weights.get("conv0/kernel")?.shape); // 5 [6, 6, 1, 32]
 * ```
 */
export async function readExportWeights(source: Model | string | URL): Promise<ExportWeights> {
  let arch: readonly ArchLayer[];
  let tensors: Map<string, Tensor>;
  let owned = false;
  let extra: Record<string, unknown> = {};
  if (typeof source === "string" || source instanceof URL) {
    await tf.ready(); // loading makes tensors: the engine needs a backend
    const loaded = await loadTensors(source, "model.json");
    if (!Array.isArray(loaded.json.architecture)) {
      tf.dispose([...loaded.tensors.values()]);
      throw new Error(`${source} is not a slidewin checkpoint (no architecture); train one first`);
    }
    arch = loaded.json.architecture;
    tensors = loaded.tensors;
    extra = loaded.json.extra ?? {};
    owned = true;
  } else if (source && Array.isArray(source.arch) && source.variables instanceof Map) {
    arch = source.arch;
    tensors = source.variables;
  } else {
    throw new TypeError("source must be a Model or the folder / URL of a slidewin checkpoint");
  }
  try {
    const firstKernel = [...tensors].find(([name]) => name.endsWith("/kernel"))?.[1];
    const inputChannels = firstKernel?.shape[2] ?? 1;
    const shapes = variableShapes(arch, inputChannels);
    if ([...tensors.keys()].join() !== [...shapes.keys()].join()) {
      throw new Error(
        `Weights [${[...tensors.keys()]}] do not match the architecture's [${[...shapes.keys()]}]`,
      );
    }
    const weights = new Map<string, ExportWeight>();
    for (const [name, t] of tensors) {
      const shape = shapes.get(name)!;
      if (t.shape.join() !== shape.join()) {
        throw new Error(`Weight "${name}" has shape [${t.shape}], need [${shape}]`);
      }
      weights.set(name, { shape, data: Float32Array.from(await t.data()) });
    }
    return { arch, inputChannels, weights, extra };
  } finally {
    if (owned) tf.dispose([...tensors.values()]);
  }
}
