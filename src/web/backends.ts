/**
 * Backend choice in the browser: webgpu when `navigator.gpu` gives an adapter, else webgl, else
 * wasm (`?backend=` puts one first); says which runs and why. Registers the three backends of
 * tfjs 4.22.0 with the one engine of ../deps.ts.
 *
 * @module
 */
import { tf } from "../deps.ts";
import "npm:@tensorflow/tfjs-backend-webgl@4.22.0";
import { setWasmPaths } from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
import { registerWasmTrainingKernels } from "../backends/wasm/training_kernels.ts";

/** Backends the page can run on, in the order it tries them. */
export const WEB_BACKENDS = ["webgpu", "webgl", "wasm"] as const;
/** One of {@linkcode WEB_BACKENDS}. */
export type WebBackend = typeof WEB_BACKENDS[number];

/** The backend in use and why. */
export interface BackendChoice {
  /** The backend running. */
  backend: WebBackend;
  /** e.g. "webgpu (Google SwiftShader, software)" */
  label: string;
  /** Why this one: what was asked for and what was unavailable. */
  reason: string;
  /** True when `?backend=` asked for another one that could not start. */
  fellBack: boolean;
}

/** "Google SwiftShader, software" from the adapter's info. */
async function adapterLabel(): Promise<string | null> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return null;
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) return null;
  const info = adapter.info ?? {} as GPUAdapterInfo;
  const text = [info.vendor, info.architecture, info.device, info.description].filter(Boolean)
    .join(" ");
  const software = /swiftshader|llvmpipe|lavapipe|software|warp/i.test(text) ||
    (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return `${text || "unknown adapter"}${software ? ", software" : ""}`;
}

/** Why `name` cannot start here, or null when it started. */
async function tryBackend(name: WebBackend): Promise<string | null> {
  if (name === "webgpu") {
    if (!("gpu" in navigator)) return "navigator.gpu is missing";
    if ((await adapterLabel()) === null) return "navigator.gpu gave no adapter";
  }
  try {
    if (await tf.setBackend(name)) {
      await tf.ready();
      return null;
    }
    return `${name} failed to initialise`;
  } catch (error) {
    return `${name} failed: ${(error as Error)?.message ?? error}`;
  }
}

/**
 * Starts the first backend that works, `forced` first (an unknown name is reported and ignored).
 * `wasmDir` is the URL folder of the tfjs-backend-wasm `.wasm` files.
 *
 * @example
 * ```ts ignore
 * import { chooseBackend } from "./backends.ts";
 * const choice = await chooseBackend(new URLSearchParams(location.search).get("backend"), "/wasm/");
 * console.log(choice.label, choice.reason);
 * ```
 */
export async function chooseBackend(
  forced: string | null,
  wasmDir: string,
): Promise<BackendChoice> {
  setWasmPaths(wasmDir);
  registerWasmTrainingKernels(); // tfjs 4.22's wasm backend cannot train a CNN on its own
  const notes: string[] = [];
  let order: WebBackend[] = [...WEB_BACKENDS];
  if (forced) {
    if ((WEB_BACKENDS as readonly string[]).includes(forced)) {
      order = [forced as WebBackend, ...order.filter((b) => b !== forced)];
    } else {
      notes.push(`?backend=${forced} is not one of ${WEB_BACKENDS.join(", ")}`);
    }
  }
  for (const name of order) {
    const problem = await tryBackend(name);
    if (problem) {
      notes.push(`${name} unavailable (${problem})`);
      continue;
    }
    const adapter = name === "webgpu" ? await adapterLabel() : null;
    const label = adapter ? `${name} (${adapter})` : name;
    const asked = forced === name
      ? `asked for by ?backend=${name}`
      : name === "webgpu"
      ? "navigator.gpu gave an adapter"
      : "first available";
    const fellBack = forced !== null && forced !== name;
    return {
      backend: name,
      label,
      reason: [...notes, fellBack ? `fell back to ${name}` : asked].join("; "),
      fellBack,
    };
  }
  throw new Error(`No tfjs backend could start: ${notes.join("; ")}`);
}
