/**
 * The table of backends and the choice among them. Every list of backend names — the
 * `--backend` flag's choices, the pool's thread backends, bench's rows — derives from
 * {@linkcode BACKENDS}; each backend describes itself in its own file (./webgpu.ts, ./native.ts,
 * ./onednn.ts, ./wasm.ts, ./cpu.ts) and registers its kernels when it is activated, not on import.
 *
 * `auto` is the first backend of the table that says it may be picked here: webgpu on a real
 * GPU, else native when OpenBLAS loads, else wasm.
 *
 * @module
 */
import { tf } from "../deps.ts";
import type { BackendDescriptor } from "./descriptor.ts";
import { cpu } from "./cpu.ts";
import { native } from "./native.ts";
import { onednn } from "./onednn.ts";
import { wasm } from "./wasm.ts";
import { webgpu } from "./webgpu.ts";

export type { BackendDescriptor } from "./descriptor.ts";
export type { ConvEngine } from "./native/step.ts";
export type { ConvGeometry } from "./native/im2col.ts";
export { nativeAvailable, nativeNotice } from "./native.ts";
export { isSoftwareAdapter } from "./webgpu.ts";

/** The backends, in the order `auto` considers them. */
export const BACKENDS = [webgpu, native, onednn, wasm, cpu] as const;

/** A backend of {@linkcode BACKENDS}: the value that travels from the flag to the step. */
export type Backend = (typeof BACKENDS)[number];

/** The name of a concrete backend: "webgpu", "native", "onednn", "wasm" or "cpu". */
export type EngineName = Backend["name"];

/** The backends whose engines can run in Worker threads (the pool's shards). */
export type ThreadBackendName = Extract<Backend, { threads: true }>["name"];

/** A backend name accepted by {@linkcode useBackend}: a concrete one or "auto". */
export type BackendName = "auto" | EngineName;

/** Every name {@linkcode useBackend} and `--backend` accept. */
export const BACKEND_NAMES: readonly BackendName[] = ["auto", ...BACKENDS.map((b) => b.name)];

/**
 * The descriptor of backend `name`; throws a one-line error for an unknown name.
 *
 * @example
 * ```ts
 * import { backendNamed } from "./backend.ts";
 * console.log(backendNamed("wasm").step); // "tape"
 * ```
 */
export function backendNamed(name: string): Backend {
  const found = BACKENDS.find((b) => b.name === name);
  if (!found) {
    throw new Error(`Unknown backend "${name}"; use one of ${BACKEND_NAMES.join(", ")}`);
  }
  return found;
}

/**
 * Picks the backend "auto" means here: the first of {@linkcode BACKENDS} whose
 * `pickedByAuto()` says yes (webgpu on a hardware GPU, else native when OpenBLAS is found, else
 * wasm).
 *
 * @example
 * ```ts
 * import { resolveAuto } from "./backend.ts";
 * console.log(await resolveAuto()); // "native" or "wasm" on a machine without a hardware GPU
 * ```
 */
export async function resolveAuto(): Promise<EngineName> {
  for (const b of BACKENDS) if (await b.pickedByAuto()) return b.name;
  return wasm.name;
}

/** The backend chosen by the last {@linkcode useBackend}, if any. */
let active: Backend | undefined;

/**
 * Selects a backend and waits until it is ready; returns the name of the one in use. "auto" is
 * webgpu on a hardware GPU, else native (wasm with OpenBLAS convolutions) when OpenBLAS is found,
 * else wasm (with the training kernels of ./wasm/training_kernels.ts).
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * console.log(await useBackend("cpu")); // "cpu"
 * ```
 */
export async function useBackend(name: BackendName = "auto"): Promise<string> {
  if (!BACKEND_NAMES.includes(name)) backendNamed(name); // throws the one-line error
  const target = backendNamed(name === "auto" ? await resolveAuto() : name);
  await target.activate();
  await tf.ready();
  active = target;
  return tf.getBackend();
}

/**
 * The backend in use, as a value of the table: the one {@linkcode useBackend} chose, or the
 * descriptor of tfjs's current backend when it was set some other way.
 *
 * @example
 * ```ts
 * import { currentBackend, useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * console.log(currentBackend().name); // "cpu"
 * ```
 */
export function currentBackend(): Backend {
  const name = tf.getBackend();
  if (active?.name === name) return active;
  return backendNamed(name ?? "none");
}

/**
 * Makes sure a backend is ready for a library call: when the caller has not chosen one (with
 * {@linkcode useBackend} or `tf.setBackend`), selects the default ("auto") and says nothing.
 * `loadModel`, `predict`, `detect`, `makeScenes` and `train` call it first.
 *
 * @example
 * ```ts
 * import { ensureBackend } from "./backend.ts";
 * await ensureBackend();
 * ```
 */
export async function ensureBackend(): Promise<void> {
  if (tf.getBackend() == null) await useBackend("auto");
}

/**
 * One line about the backend in use: name, adapter (webgpu), library and threads.
 *
 * @example
 * ```ts
 * import { describeBackend, useBackend } from "./backend.ts";
 * await useBackend("wasm");
 * console.log(describeBackend()); // "wasm (XNNPACK SIMD, 1 thread)"
 * ```
 */
export function describeBackend(): string {
  const name = tf.getBackend();
  const found = BACKENDS.find((b) => b.name === name) as BackendDescriptor | undefined;
  return found?.describe() ?? name ?? "none";
}
