/**
 * A "sibling" of the wasm backend: another tfjs backend name for the same wasm instance and heap,
 * with every wasm kernel except a few of its own. native (OpenBLAS) and onednn (oneDNN) are
 * siblings: tensors move freely between them and "wasm".
 *
 * @module
 */
import { tf } from "../../deps.ts";

const registered = new Set<string>();

/**
 * Registers backend `name` as a sibling of "wasm" and brings its kernels up to date with those
 * registered for "wasm", `own` replacing some of them. Idempotent. Its factory shares the instance
 * of "wasm", which must be initialised first (`await tf.setBackend("wasm")`).
 *
 * @example
 * ```ts
 * import "../wasm.ts";
 * import { registerWasmSibling } from "./sibling.ts";
 * registerWasmSibling("wasm-twin", {});
 * ```
 */
export function registerWasmSibling(name: string, own: Record<string, tf.KernelFunc>): void {
  for (const k of tf.getKernelsForBackend("wasm")) {
    const kernelFunc = own[k.kernelName] ?? k.kernelFunc;
    const mine = tf.getKernel(k.kernelName, name);
    if (mine?.kernelFunc === kernelFunc) continue;
    if (mine) tf.unregisterKernel(k.kernelName, name);
    tf.registerKernel({ ...k, backendName: name, kernelFunc });
  }
  if (registered.has(name)) return;
  tf.registerBackend(name, () => {
    const wasm = tf.engine().registry["wasm"];
    if (!wasm) throw new Error(`Initialise "wasm" before "${name}" (await tf.setBackend("wasm"))`);
    return wasm;
  }, -1);
  registered.add(name);
}
