/**
 * The table of backends and the choice among them. Every list of backend names — the
 * `--backend` flag's choices, the pool's thread backends, bench's rows — derives from
 * {@linkcode BACKENDS}; each backend describes itself in its own file (./webgpu.ts, ./native.ts,
 * ./onednn.ts, ./onednn_bf16.ts, ./wasm.ts, ./cpu.ts) and registers its kernels when it is
 * activated, not on import.
 *
 * `auto` is decided among the backends of the table that say they may be picked here (webgpu
 * on a real GPU, onednn when libdnnl loads, native when OpenBLAS loads, wasm): by measurement when a prober is given (the
 * fastest in a few real training steps, cached per machine; ./auto.ts), else by the table's
 * order (the first of them).
 *
 * @module
 */
import { tf } from "../deps.ts";
import type { BackendDescriptor } from "./descriptor.ts";
import { cpu } from "./cpu.ts";
import { native } from "./native.ts";
import { onednn } from "./onednn.ts";
import { onednnBf16 } from "./onednn_bf16.ts";
import { wasm } from "./wasm.ts";
import { webgpu } from "./webgpu.ts";
import {
  autoCacheFile,
  type AutoDecision,
  type AutoKey,
  type AutoMode,
  autoModeFromEnv,
  pickFastest,
  type ProbeResult,
  readAutoCache,
  writeAutoCache,
} from "./auto.ts";
import { readCpuFacts } from "./native/cpu_core.ts";
import type { Flag } from "../cli.ts";
import { VERSION } from "../version.ts";

export type { BackendDescriptor, DescribedBackend } from "./descriptor.ts";
export type {
  ChainLink,
  ConvChain,
  ConvEngine,
  ConvGeometry,
  ConvKernels,
  ConvShape,
} from "../layers/engine.ts";
export { nativeAvailable, nativeNotice } from "./native.ts";
export { isSoftwareAdapter } from "./webgpu.ts";
export type { AutoDecision, AutoMode, ProbeResult } from "./auto.ts";
export { autoNotice, pickFastest } from "./auto.ts";

/** The backends, in the order `auto` considers them. */
export const BACKENDS = [webgpu, onednn, onednnBf16, native, wasm, cpu] as const;

/** A backend of {@linkcode BACKENDS}: the value that travels from the flag to the step. */
export type Backend = (typeof BACKENDS)[number];

/**
 * The name of a concrete backend: "webgpu", "onednn", "onednn-bf16", "native", "wasm" or "cpu".
 */
export type ConcreteBackendName = Backend["name"];

/** A backend whose engines can run in Worker threads (the pool's shards). */
export type ThreadBackend = Extract<Backend, { threads: true }>;

/** The backends whose engines can run in Worker threads (the pool's shards). */
export type ThreadBackendName = ThreadBackend["name"];

/** A backend name accepted by {@linkcode useBackend}: a concrete one or "auto". */
export type BackendName = "auto" | ConcreteBackendName;

/** Every name {@linkcode useBackend} and `--backend` accept. */
export const BACKEND_NAMES: readonly BackendName[] = ["auto", ...BACKENDS.map((b) => b.name)];

/**
 * The `--backend` flag of the tasks that run tfjs: its choices are the names of the table, and
 * its value a {@linkcode BackendName}.
 *
 * @example
 * ```ts
 * import { backendFlag } from "./backend.ts";
 * console.log(backendFlag("auto").choices); // ["auto", "webgpu", "onednn", "native", "wasm", "cpu"]
 * ```
 */
export function backendFlag(defaultName: BackendName = "wasm"): Flag<BackendName> {
  return {
    default: defaultName,
    help: `tfjs backend: ${BACKENDS.map((b) => b.name).join(", ")}, or auto (the fastest here)`,
    choices: BACKEND_NAMES,
  };
}

/**
 * The descriptor of backend `name`; throws a one-line error for an unknown name.
 *
 * @example
 * ```ts
 * import { backendNamed } from "./backend.ts";
 * console.log(backendNamed("wasm").method); // "tape"
 * ```
 */
export function backendNamed(name: string): Backend {
  const found = BACKENDS.find((b) => b.name === name);
  if (!found) {
    throw new Error(`Unknown backend "${name}"; use one of ${BACKEND_NAMES.join(", ")}`);
  }
  return found;
}

/** Measures candidates for auto: ../training/probe.ts `trainingProbe()` is the real one. */
export interface Prober {
  /** What is measured (e.g. the architecture and batch): part of the cache key. */
  readonly about: string;
  /** A short name of what is measured, for the notice (e.g. "wide, batch 32"). */
  readonly label?: string;
  /** Each candidate's rate (or why it failed), in the candidates' order. */
  measure(candidates: readonly Backend[]): Promise<ProbeResult[]>;
}

/** How {@linkcode decideAuto} (and `useBackend("auto", …)`) decides. */
export interface AutoOptions {
  /**
   * "probe": the fastest candidate by measurement (cached); "order": the first candidate of the
   * table. Default: `SLIDEWIN_AUTO` when set, else "probe" when a prober is given, else "order".
   */
  mode?: AutoMode;
  /** Measures the candidates (../training/probe.ts `trainingProbe()`); without one, "order". */
  probe?: Prober;
  /** The cache file; default `slidewin/auto.json` in the user's cache folder; null: none. */
  cacheFile?: string | null;
  /** The candidates, in the table's order; default {@linkcode autoCandidates}(). */
  candidates?: readonly Backend[];
  /** Why the order decided, for the notice (default: what made it the order). */
  orderNote?: string;
}

/** What the last "auto" decided, when it was decided by {@linkcode decideAuto}. */
let lastDecision: AutoDecision | undefined;

/**
 * What a probe's decision depends on here: the CPU (model, cores), OS and architecture, the
 * Deno, slidewin and tfjs versions, the candidates and what the prober measures, and every
 * candidate's own facts (its `cacheFacts()`: its library and that library's settings, the GPU
 * adapter), keyed `<backend>.<fact>`.
 *
 * @example
 * ```ts
 * import { autoKey } from "./backend.ts";
 * console.log((await autoKey("training steps")).slidewin); // "0.1.0"
 * ```
 */
export async function autoKey(about: string, candidates?: readonly Backend[]): Promise<AutoKey> {
  const cpuFacts = readCpuFacts();
  const list = candidates ?? await autoCandidates();
  const facts: Record<string, string> = {};
  for (const b of list) {
    for (const [k, v] of Object.entries(b.cacheFacts())) facts[`${b.name}.${k}`] = v;
  }
  return {
    cpu: cpuFacts ? `${cpuFacts.vendor} ${cpuFacts.name}`.trim() : "unknown",
    cores: navigator.hardwareConcurrency ?? 1,
    os: `${Deno.build.os}/${Deno.build.arch}`,
    deno: Deno.version.deno,
    slidewin: VERSION,
    tfjs: tf.version_core,
    candidates: list.map((b) => b.name).join(","),
    probe: about,
    ...facts,
  };
}

/** The backends auto chooses among here: those of the table whose `pickedByAuto()` says yes. */
export async function autoCandidates(): Promise<Backend[]> {
  const list: Backend[] = [];
  for (const b of BACKENDS) if (await b.pickedByAuto()) list.push(b);
  return list;
}

/**
 * The candidates of "auto" for training and for a task that only infers and shows its results
 * (detect, read): {@linkcode autoCandidates}, with onednn-bf16 just before onednn where the CPU
 * has bfloat16 instructions (training 1.6–1.7× onednn's speed, forward pass 1.7×; the same
 * accuracy and mAP on every set measured, docs/kernels.md; `train` keeps its assignment preset
 * in float32). Tasks that measure or prove (evaluate, visualize, sliding, bench)
 * keep float32.
 *
 * @example
 * ```ts
 * import { bf16Candidates } from "./backend.ts";
 * console.log((await bf16Candidates()).map((b) => b.name).includes("cpu")); // false
 * ```
 */
export async function bf16Candidates(): Promise<Backend[]> {
  const list = await autoCandidates();
  const at = list.findIndex((b) => b.name === onednn.name);
  if (at < 0 || (await onednnBf16.unavailable()) !== undefined) return list;
  return [...list.slice(0, at), onednnBf16, ...list.slice(at)];
}

/**
 * {@linkcode AutoOptions} with {@linkcode bf16Candidates}, for a task that only infers
 * (`"inference"`, the default) or for training (`"training"`).
 */
export async function bf16Auto(
  task: "inference" | "training" = "inference",
): Promise<AutoOptions> {
  const candidates = await bf16Candidates();
  return {
    candidates,
    ...(candidates.includes(onednnBf16)
      ? { orderNote: `${task}: bfloat16 where the CPU has it; --backend onednn for float32` }
      : {}),
  };
}

/**
 * Decides what "auto" means here, and why. With a prober (and `SLIDEWIN_AUTO` not "order"):
 * the cached decision for this machine's {@linkcode autoKey}, else the prober's measurement of
 * every candidate, the fastest kept ({@linkcode pickFastest}) and cached. Without: the first
 * candidate of the table (webgpu on a real GPU, else onednn when libdnnl loads, else native when
 * OpenBLAS loads, else wasm).
 * A software GPU is never a candidate; a candidate whose probe fails is skipped.
 *
 * @example
 * ```ts
 * import { decideAuto } from "./backend.ts";
 * const decision = await decideAuto({ mode: "order" });
 * console.log(decision.how, decision.backend); // "order" "native" (or "wasm" without OpenBLAS)
 * ```
 */
export async function decideAuto(options: AutoOptions = {}): Promise<AutoDecision> {
  const candidates = options.candidates ?? await autoCandidates();
  const first = candidates[0]?.name ?? wasm.name;
  const mode = options.mode ?? autoModeFromEnv() ?? (options.probe ? "probe" : "order");
  const decide = (d: AutoDecision) => (lastDecision = d);
  if (mode === "order" || !options.probe) {
    const note = options.orderNote ??
      (options.mode === "order"
        ? "asked for"
        : autoModeFromEnv() === "order"
        ? "SLIDEWIN_AUTO=order"
        : "no probe given");
    return decide({ backend: first, how: "order", results: [], note });
  }
  // a software GPU is no candidate; say so next to the measured ones
  const software: ProbeResult[] = [];
  for (const b of BACKENDS) {
    if (b.device === "gpu" && !(await b.unavailable()) && !(await b.pickedByAuto())) {
      software.push({ backend: b.name, software: true });
    }
  }
  if (candidates.length <= 1) {
    return decide({ backend: first, how: "order", results: software, note: "only candidate" });
  }
  const cacheFile = options.cacheFile === null ? undefined : options.cacheFile ?? autoCacheFile();
  const key = await autoKey(options.probe.about, candidates);
  if (cacheFile) {
    const hit = await readAutoCache(cacheFile, key);
    if (hit && candidates.some((b) => b.name === hit.backend)) {
      return decide({ ...hit, how: "cache", cacheFile, measured: options.probe.label });
    }
  }
  const started = performance.now();
  const rates = await options.probe.measure(candidates);
  const probeMs = performance.now() - started;
  const results = [...rates, ...software];
  const measured = options.probe.label;
  const fastest = pickFastest(results);
  if (!fastest) {
    return decide({
      backend: first,
      how: "order",
      results,
      note: "every probe failed",
      probeMs,
      measured,
    });
  }
  const measuredAt = new Date().toISOString();
  const note = cacheFile
    ? await writeAutoCache(cacheFile, key, { backend: fastest, results, measuredAt })
    : "not cached";
  return decide({
    backend: fastest,
    how: "probe",
    results,
    cacheFile,
    measuredAt,
    note,
    probeMs,
    measured,
  });
}

/**
 * Picks the backend "auto" means here ({@linkcode decideAuto}): by measurement with a prober,
 * else the first of {@linkcode BACKENDS} whose `pickedByAuto()` says yes (webgpu on a hardware
 * GPU, else onednn when libdnnl is found, else native when OpenBLAS is found, else wasm).
 *
 * @example
 * ```ts
 * import { resolveAuto } from "./backend.ts";
 * console.log(await resolveAuto()); // "native" or "wasm" on a machine without a hardware GPU
 * ```
 */
export async function resolveAuto(options: AutoOptions = {}): Promise<ConcreteBackendName> {
  return (await decideAuto(options)).backend as ConcreteBackendName;
}

/**
 * What the last "auto" decided and why (see {@linkcode decideAuto}), or undefined when auto was
 * not used.
 *
 * @example
 * ```ts
 * import { autoNotice, lastAutoDecision, useBackend } from "./backend.ts";
 * await useBackend("auto");
 * console.log(autoNotice(lastAutoDecision()!)); // e.g. "auto: native (table order: no probe)"
 * ```
 */
export function lastAutoDecision(): AutoDecision | undefined {
  return lastDecision;
}

/** The backend chosen by the last {@linkcode useBackend}, if any. */
let active: Backend | undefined;

/**
 * Selects a backend and waits until it is ready; returns its descriptor (a value of
 * {@linkcode BACKENDS}). "auto" is decided by {@linkcode decideAuto} with `options`: the fastest
 * candidate by measurement when a prober is given (`deno task train` gives one), else the first
 * candidate of the table: webgpu on a hardware GPU, else onednn when libdnnl is found, else
 * native when OpenBLAS is found, else wasm.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * console.log((await useBackend("cpu")).name); // "cpu"
 * ```
 */
export async function useBackend(
  name: BackendName = "auto",
  options: AutoOptions = {},
): Promise<Backend> {
  if (!BACKEND_NAMES.includes(name)) backendNamed(name); // throws the one-line error
  const target = backendNamed(name === "auto" ? await resolveAuto(options) : name);
  await target.activate();
  await tf.ready();
  active = target;
  return target;
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
 * Makes sure a backend is ready: when the caller has not chosen one (with {@linkcode useBackend}
 * or `tf.setBackend`), selects the default ("auto" by the table's order) and says nothing. The
 * library's front door (../library.ts: `loadModel`, `predict`, `detect`, `makeScenes` as mod.ts
 * exports them) and `train` call it first.
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
 * One line for each fast CPU backend of the table that cannot run here, and why (e.g. "onednn:
 * not used, libdnnl.so.2 not found; …"): what `auto` could not consider.
 *
 * @example
 * ```ts
 * import { unavailableNotices } from "./backend.ts";
 * for (const line of await unavailableNotices()) console.log(line);
 * ```
 */
export async function unavailableNotices(): Promise<string[]> {
  const lines: string[] = [];
  for (const b of BACKENDS) {
    if (b.device !== "cpu" || !b.fast) continue;
    const why = await b.unavailable();
    if (why) lines.push(`${b.name}: not used, ${why}`);
  }
  return lines;
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
