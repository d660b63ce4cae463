/**
 * What `--backend auto` means, decided by measurement: every candidate of the table (the backends
 * whose `pickedByAuto()` says yes: onednn, native and wasm on the CPU, webgpu on a real GPU) runs
 * a few real training steps of the run's model on one thread (the probe, ../training/probe.ts),
 * the fastest wins (a CPU rate counted once per thread training will use), and the decision is
 * cached per machine, library (each candidate's `cacheFacts()`) and architecture in the user's
 * cache folder (`slidewin/auto.json`), so the probe runs once per machine, not once per run.
 *
 * Everything here but the file access is a pure function: {@linkcode pickFastest} decides from
 * measured rates, {@linkcode keyText} compares what a decision depends on (./backend.ts `autoKey`), {@linkcode autoNotice}
 * says why in one line.
 *
 * `SLIDEWIN_AUTO=order` turns the measurement off (the first candidate of the table wins: webgpu
 * on a real GPU, else onednn, else native, else wasm), for specs and CI that want a fixed choice;
 * `SLIDEWIN_AUTO=probe` asks for it.
 *
 * @module
 */
import { writeJsonAtomic } from "../io.ts";
import { envGet } from "./permissions.ts";

/** How auto decides: by measurement (cached) or by the table's order. */
export type AutoMode = "probe" | "order";

/** One candidate's probe: its training rate, or why it could not be measured. */
export interface ProbeResult {
  /** The backend's name. */
  backend: string;
  /** Training images per second (median step), when measured. */
  imagesPerSecond?: number;
  /** Timed steps behind the rate. */
  steps?: number;
  /**
   * Threads it will train on, each at `imagesPerSecond` (a CPU backend timed on one core, which
   * the pool runs on every core); its rate counts this many times. Default 1 (a GPU).
   */
  threads?: number;
  /** Why the probe failed (one line), when it did. */
  error?: string;
  /** A software GPU (llvmpipe, SwiftShader, WARP): never picked. */
  software?: boolean;
}

/** What auto chose and why. */
export interface AutoDecision {
  /** The backend chosen. */
  backend: string;
  /** "probe": measured now; "cache": a measurement read back; "order": the table's order. */
  how: "probe" | "cache" | "order";
  /** The probe's results, in the table's order (empty for "order"). */
  results: ProbeResult[];
  /** The cache file read or written, when there is one. */
  cacheFile?: string;
  /** How long the probe took (milliseconds), when it ran now. */
  probeMs?: number;
  /** When the cached probe was measured (ISO time). */
  measuredAt?: string;
  /** Why not measured (order), or why the cache could not be written, as a short note. */
  note?: string;
  /** What the probe measured (e.g. "wide, batch 32"), when it says. */
  measured?: string;
}

/** Options of {@linkcode pickFastest}. */
export interface PickOptions {
  /**
   * Rates within this fraction of the best count as a tie, and a tie goes to the earlier
   * backend of the table (the results' order); default 0.05 (the noise of a 3 s probe).
   */
  tie?: number;
}

/**
 * The fastest usable backend of `results` (given in the table's order), or undefined when none
 * was measured: failed probes, software GPUs and rates that are not positive numbers are
 * skipped; a rate counts `threads` times (a CPU backend measured on one core trains on all of
 * them: an optimistic, linear projection, so a GPU must beat the CPU's best case); rates within
 * `tie` of the best go to the earliest in the table.
 *
 * @example
 * ```ts
 * import { pickFastest } from "./auto.ts";
 * console.log(pickFastest([
 *   { backend: "native", imagesPerSecond: 2010 },
 *   { backend: "wasm", imagesPerSecond: 930 },
 * ])); // "native"
 * ```
 */
export function pickFastest(
  results: readonly ProbeResult[],
  options: PickOptions = {},
): string | undefined {
  const tie = options.tie ?? 0.05;
  const usable = results.filter((r) =>
    !r.error && !r.software && typeof r.imagesPerSecond === "number" &&
    Number.isFinite(r.imagesPerSecond) && r.imagesPerSecond > 0
  );
  if (usable.length === 0) return undefined;
  const total = (r: ProbeResult) => r.imagesPerSecond! * Math.max(1, r.threads ?? 1);
  const best = Math.max(...usable.map(total));
  return usable.find((r) => total(r) >= best * (1 - tie))!.backend;
}

/**
 * The mode `SLIDEWIN_AUTO` asks for ("probe" or "order"), or undefined when unset; throws a
 * one-line error for another value.
 *
 * @example
 * ```ts
 * import { autoModeFromEnv } from "./auto.ts";
 * console.log(autoModeFromEnv() ?? "unset");
 * ```
 */
export function autoModeFromEnv(): AutoMode | undefined {
  const value = envGet("SLIDEWIN_AUTO");
  if (value === undefined) return undefined;
  if (value === "probe" || value === "order") return value;
  throw new Error(`SLIDEWIN_AUTO="${value}" is not a mode; use SLIDEWIN_AUTO=probe or order`);
}

/**
 * The cache file of auto's decisions: `slidewin/auto.json` in the user's cache folder
 * (`$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on
 * Windows), or undefined when there is none (no home, or no permission to read the variables).
 *
 * @example
 * ```ts
 * import { autoCacheFile } from "./auto.ts";
 * console.log(autoCacheFile()); // e.g. "/home/me/.cache/slidewin/auto.json"
 * ```
 */
export function autoCacheFile(
  env: (name: string) => string | undefined = envGet,
  os: string = Deno.build.os,
): string | undefined {
  let dir: string | undefined;
  if (os === "windows") dir = env("LOCALAPPDATA");
  else if (os === "darwin") {
    const home = env("HOME");
    dir = home ? `${home}/Library/Caches` : undefined;
  } else {
    const home = env("HOME");
    dir = env("XDG_CACHE_HOME") ?? (home ? `${home}/.cache` : undefined);
  }
  if (!dir) return undefined;
  const sep = os === "windows" ? "\\" : "/";
  return `${dir.replace(/[\\/]+$/, "")}${sep}slidewin${sep}auto.json`;
}

/** What a decision depends on; two equal keys mean the same machine, versions and model. */
export type AutoKey = Readonly<Record<string, string | number>>;

/** The stable text of a key (sorted fields), used to compare keys. */
export function keyText(key: AutoKey): string {
  return JSON.stringify(Object.keys(key).sort().map((k) => [k, key[k]]));
}

/** One cached decision. */
interface CacheEntry {
  key: AutoKey;
  backend: string;
  results: ProbeResult[];
  measuredAt: string;
}

/** Cached decisions kept per file (one per key; the oldest go first). */
const MAX_ENTRIES = 16;

async function readEntries(file: string): Promise<CacheEntry[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    return [];
  }
  try {
    const data = JSON.parse(text);
    if (data?.format !== 1 || !Array.isArray(data.entries)) return [];
    return data.entries.filter((e: CacheEntry) =>
      e && typeof e.backend === "string" && e.key && typeof e.key === "object" &&
      Array.isArray(e.results) && typeof e.measuredAt === "string"
    );
  } catch {
    return []; // corrupt: measured again and rewritten
  }
}

/**
 * The decision cached in `file` for `key`, or undefined (no file, another key, a corrupt or
 * unreadable file: the probe then runs again).
 *
 * @example
 * ```ts
 * import { readAutoCache } from "./auto.ts";
 * console.log(await readAutoCache("/nonexistent/auto.json", { cpu: "x" })); // undefined
 * ```
 */
export async function readAutoCache(
  file: string,
  key: AutoKey,
): Promise<{ backend: string; results: ProbeResult[]; measuredAt: string } | undefined> {
  const text = keyText(key);
  const hit = (await readEntries(file)).find((e) => keyText(e.key) === text);
  return hit
    ? { backend: hit.backend, results: hit.results, measuredAt: hit.measuredAt }
    : undefined;
}

/**
 * Stores the decision for `key` in `file` atomically (other keys' decisions are kept); returns
 * undefined, or why it could not be written (one line) — a cache that cannot be written never
 * stops a run.
 *
 * @example
 * ```ts
 * import { writeAutoCache } from "./auto.ts";
 * const why = await writeAutoCache("/proc/no/auto.json", { cpu: "x" }, {
 *   backend: "wasm",
 *   results: [{ backend: "wasm", imagesPerSecond: 900 }],
 * });
 * console.log(why !== undefined); // true: /proc is not writable
 * ```
 */
export async function writeAutoCache(
  file: string,
  key: AutoKey,
  decision: { backend: string; results: ProbeResult[]; measuredAt?: string },
): Promise<string | undefined> {
  try {
    const text = keyText(key);
    const entries = (await readEntries(file)).filter((e) => keyText(e.key) !== text);
    entries.push({
      key,
      backend: decision.backend,
      results: decision.results,
      measuredAt: decision.measuredAt ?? new Date().toISOString(),
    });
    await writeJsonAtomic(file, { format: 1, entries: entries.slice(-MAX_ENTRIES) });
    return undefined;
  } catch (error) {
    return `not cached (${error instanceof Error ? error.message.split("\n")[0] : error})`;
  }
}

function rate(r: ProbeResult): string {
  if (r.error) return `${r.backend} failed: ${r.error}`;
  if (r.software) return `${r.backend} software GPU, skipped`;
  const n = Math.round(r.imagesPerSecond ?? 0);
  const per = (r.threads ?? 1) > 1 ? ` per thread ×${r.threads}` : "";
  return `${r.backend} ${n.toLocaleString("en-US").replaceAll(",", " ")} img/s${per}`;
}

/**
 * One line saying what auto chose and why, e.g. `auto: native (probe: native 2 010 img/s, wasm
 * 930 img/s; cached in ~/.cache/slidewin/auto.json)`.
 *
 * @example
 * ```ts
 * import { autoNotice } from "./auto.ts";
 * console.log(autoNotice({ backend: "wasm", how: "order", results: [], note: "SLIDEWIN_AUTO=order" }));
 * // "auto: wasm (table order: SLIDEWIN_AUTO=order)"
 * ```
 */
export function autoNotice(decision: AutoDecision): string {
  const rates = decision.results.map(rate).join(", ");
  const note = decision.note ? `; ${decision.note}` : "";
  const of = decision.measured ? ` of ${decision.measured}` : "";
  switch (decision.how) {
    case "order":
      return `auto: ${decision.backend} (table order${note ? `: ${decision.note}` : ""})`;
    case "probe":
      return `auto: ${decision.backend} (probe${of}${
        decision.probeMs ? `${of ? "," : ""} ${(decision.probeMs / 1000).toFixed(1)} s` : ""
      }: ${rates}${
        decision.cacheFile && !decision.note ? `; cached in ${decision.cacheFile}` : ""
      }${note})`;
    case "cache":
      return `auto: ${decision.backend} (probe${of}${of ? " on" : " of"} ${
        decision.measuredAt?.slice(0, 10) ?? "earlier"
      }: ${rates}; from ${decision.cacheFile}${note})`;
  }
}
