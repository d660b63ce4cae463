/**
 * Backend selection. Importing this module registers the cpu, wasm and webgpu backends of
 * tfjs 4.22.0 with the one engine in ./deps.ts.
 *
 * @module
 */
import { tf } from "./deps.ts";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import "npm:@tensorflow/tfjs-backend-wasm@4.22.0";

/** A backend name accepted by {@linkcode useBackend}. */
export type BackendName = "auto" | "webgpu" | "wasm" | "cpu";

/**
 * Selects a tfjs backend and waits until it is ready; returns the name of the one in use.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * console.log(await useBackend("cpu")); // "cpu"
 * ```
 */
export async function useBackend(name: BackendName = "auto"): Promise<string> {
  const target = name === "auto" ? "wasm" : name;
  if (!(await tf.setBackend(target))) {
    throw new Error(`Backend "${target}" could not be initialised; try --backend=wasm or cpu`);
  }
  await tf.ready();
  return tf.getBackend();
}
