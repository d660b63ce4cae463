/**
 * The page's model: the exported tfjs LayersModel (src/model/layers_export.ts), loaded with
 * `tf.loadLayersModel(url)`, whose variables then drive the library's own forward pass
 * (`modelFromVariables`), so the page runs exactly the model code that Deno runs.
 *
 * @module
 */
import { loadLayersModel } from "npm:@tensorflow/tfjs-layers@4.22.0";
import type { Variable } from "../deps.ts";
import { type ArchLayer, type Model, modelFromVariables } from "../model/model.ts";

/**
 * Loads the LayersModel at `url` (model.json) as a slidewin {@linkcode Model}.
 *
 * @example
 * ```ts ignore
 * import { loadLocalizer } from "./localizer.ts";
 * const model = await loadLocalizer("/model/model.json");
 * console.log(model.geometry); // { size: 40, stride: 8, offset: 0 }
 * ```
 */
export async function loadLocalizer(url: string): Promise<Model> {
  const layers = await loadLayersModel(url);
  const meta = layers.getUserDefinedMetadata() as
    | { slidewin?: { architecture?: ArchLayer[] } }
    | undefined;
  const arch = meta?.slidewin?.architecture;
  if (!Array.isArray(arch)) {
    layers.dispose();
    throw new Error(`${url} has no slidewin architecture in userDefinedMetadata; re-export it`);
  }
  const variables = new Map<string, Variable>();
  for (const w of layers.weights) variables.set(w.originalName, w.read() as Variable);
  const model = modelFromVariables(arch, variables);
  return { ...model, dispose: () => layers.dispose() };
}
