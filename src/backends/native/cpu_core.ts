/**
 * Which OpenBLAS kernel set ("core type") this CPU deserves, so OpenBLAS never runs a slow one by
 * accident. OpenBLAS built with DYNAMIC_ARCH (Debian's, Homebrew's) picks its kernels from a table
 * of CPU models; a CPU newer than its table gets a generic core. Debian's 0.3.21 runs Sapphire
 * Rapids Xeons (AVX-512, AMX) on "Prescott" SSE3 kernels: sgemm at 24 GFLOP/s instead of ≈ 140.
 *
 * The facts come from the CPU's feature flags (`/proc/cpuinfo` on Linux, `sysctl machdep.cpu` on
 * Intel Macs); the decision ({@linkcode decideCore}) is a pure function of them, OpenBLAS's own
 * choice and the user's `OPENBLAS_CORETYPE`:
 *
 * | CPU flags                                | wanted core | forced when OpenBLAS chose        |
 * | ---------------------------------------- | ----------- | --------------------------------- |
 * | avx512f + avx512bw + avx512vl + avx512_bf16 | Cooperlake  | an SSE, AVX or AVX2 core (e.g. Prescott, Sandybridge, Haswell, Zen) |
 * | avx512f + avx512bw + avx512vl            | SkylakeX    | idem                              |
 * | avx2 + fma                               | Haswell     | an SSE or AVX core (Prescott, Nehalem, Core2, Sandybridge, …) |
 * | anything else (ARM, old x86)             | —           | never                             |
 *
 * `OPENBLAS_CORETYPE` set by the user always wins; a core name this table does not know (a newer
 * OpenBLAS's "SapphireRapids" is known; ARM's are not) is left alone.
 *
 * @module
 */
import { envGet, granted } from "../permissions.ts";

/** What is known about the CPU. */
export interface CpuFacts {
  /** "GenuineIntel", "AuthenticAMD", … ("" when unknown). */
  vendor: string;
  /** CPU family (Intel: 6), or null. */
  family: number | null;
  /** CPU model number (Sapphire Rapids: 143), or null. */
  model: number | null;
  /** Marketing name, e.g. "AMD EPYC" ("" when unknown). */
  name: string;
  /** Feature flags in Linux's lower-case names (avx2, fma, avx512f, avx512_bf16, …). */
  flags: ReadonlySet<string>;
}

/** An OpenBLAS x86 core type this module may ask for. */
export type WantedCore = "Cooperlake" | "SkylakeX" | "Haswell";

/** The best kernel set the flags allow, with the flags that earn it, or null. */
export function wantedCore(
  flags: ReadonlySet<string>,
): { core: WantedCore; because: string } | null {
  const has = (...names: string[]) => names.every((n) => flags.has(n));
  if (has("avx512f", "avx512bw", "avx512vl")) {
    return has("avx512_bf16")
      ? { core: "Cooperlake", because: "AVX-512 BF16" }
      : { core: "SkylakeX", because: "AVX-512" };
  }
  if (has("avx2", "fma")) return { core: "Haswell", because: "AVX2" };
  return null;
}

const LEVELS: Record<number, readonly string[]> = {
  0: [
    "unknown",
    "generic",
    "katmai",
    "coppermine",
    "northwood",
    "prescott",
    "banias",
    "atom",
    "core2",
    "penryn",
    "dunnington",
    "nehalem",
    "athlon",
    "opteron",
    "opteron_sse3",
    "barcelona",
    "nano",
    "bobcat",
  ],
  1: ["sandybridge", "bulldozer", "piledriver", "steamroller", "excavator"],
  2: ["haswell", "zen"],
  3: ["skylakex", "cooperlake", "sapphirerapids"],
};

/**
 * The vector width an OpenBLAS x86 core name uses: 0 SSE, 1 AVX, 2 AVX2, 3 AVX-512; null for a
 * name not in the table (ARM cores, future ones).
 *
 * @example
 * ```ts
 * import { coreLevel } from "./cpu_core.ts";
 * console.log(coreLevel("Prescott"), coreLevel("Haswell"), coreLevel("neoversen1")); // 0 2 null
 * ```
 */
export function coreLevel(core: string): number | null {
  const name = core.trim().toLowerCase();
  for (const [level, names] of Object.entries(LEVELS)) {
    if (names.includes(name)) return Number(level);
  }
  return null;
}

/** What to do about OpenBLAS's core, and the words for the backend notice. */
export interface CoreDecision {
  /** The core type to force (set `OPENBLAS_CORETYPE` and re-initialise), or null to keep. */
  force: WantedCore | null;
  /** Why, e.g. "forced: CPU has AVX-512, OpenBLAS saw Prescott" or "chosen by OpenBLAS". */
  note: string;
}

/**
 * Decides whether OpenBLAS's own choice of kernels (`chosen`, from `openblas_get_corename`) must be
 * overridden on this CPU (see the module's table). `userSet` is `OPENBLAS_CORETYPE` as found at
 * start; `inherited` is the value of `SLIDEWIN_OPENBLAS_FORCED` ("core;note"), which a slidewin
 * process that forced a core leaves next to the `OPENBLAS_CORETYPE` it set, so its Workers and
 * child processes report the reason instead of "set by OPENBLAS_CORETYPE" and do not force again.
 *
 * @example
 * ```ts
 * import { decideCore } from "./cpu_core.ts";
 * const spr = { vendor: "GenuineIntel", family: 6, model: 143, name: "Xeon",
 *   flags: new Set(["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16"]) };
 * console.log(decideCore({ cpu: spr, chosen: "Prescott" }));
 * // { force: "Cooperlake", note: "forced: CPU has AVX-512 BF16, OpenBLAS saw Prescott" }
 * ```
 */
export function decideCore(
  opts: { cpu: CpuFacts | null; chosen: string; userSet?: string; inherited?: string },
): CoreDecision {
  const { cpu, chosen, userSet, inherited } = opts;
  const wanted = cpu ? wantedCore(cpu.flags) : null;
  const has = cpu ? (wanted ? `CPU has ${wanted.because}` : "CPU has no AVX2") : "";
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  const cut = inherited?.indexOf(";") ?? -1;
  const parent = inherited && cut > 0 ? inherited.slice(0, cut) : "";
  const fromParent = !!userSet && !!parent && same(parent, userSet);
  if (fromParent && same(chosen, parent)) return { force: null, note: inherited!.slice(cut + 1) };
  if (userSet && !fromParent) {
    const level = coreLevel(chosen);
    const slower = wanted && level !== null && level < coreLevel(wanted.core)!;
    const hint = slower ? `: unset it for ${wanted.core} kernels` : "";
    return {
      force: null,
      note: `set by OPENBLAS_CORETYPE=${userSet}${has ? `; ${has}` : ""}${hint}`,
    };
  }
  if (!cpu) return { force: null, note: "chosen by OpenBLAS; CPU flags unknown" };
  const level = coreLevel(chosen);
  if (!wanted || level === null || level >= coreLevel(wanted.core)!) {
    return { force: null, note: `chosen by OpenBLAS; ${has}` };
  }
  return { force: wanted.core, note: `forced: ${has}, OpenBLAS saw ${chosen}` };
}

/** The first processor's block of a Linux `/proc/cpuinfo` as {@linkcode CpuFacts}. */
export function parseCpuinfo(text: string): CpuFacts | null {
  const block = text.split(/\n\s*\n/)[0] ?? "";
  const field = (key: string) => block.match(new RegExp(`^${key}\\s*:\\s*(.*)$`, "m"))?.[1].trim();
  const flags = field("flags") ?? field("Features");
  if (flags === undefined) return null;
  const num = (key: string) => {
    const v = Number(field(key));
    return Number.isFinite(v) && field(key) !== undefined ? v : null;
  };
  return {
    vendor: field("vendor_id") ?? "",
    family: num("cpu family"),
    model: num("model"),
    name: field("model name") ?? "",
    flags: new Set(flags.split(/\s+/).filter(Boolean)),
  };
}

/**
 * `sysctl machdep.cpu.vendor machdep.cpu.family machdep.cpu.model machdep.cpu.brand_string
 * machdep.cpu.features machdep.cpu.leaf7_features` output (Intel Macs) as {@linkcode CpuFacts},
 * flags renamed as Linux names them (`AVX512F` → avx512f, `AVX1.0` → avx).
 */
export function parseSysctl(text: string): CpuFacts | null {
  const field = (key: string) =>
    text.match(new RegExp(`^machdep\\.cpu\\.${key}:\\s*(.*)$`, "m"))?.[1].trim();
  const words = `${field("features") ?? ""} ${field("leaf7_features") ?? ""}`.trim();
  if (!words) return null;
  const flags = new Set(
    words.split(/\s+/).map((w) => w.toLowerCase().replace(/^avx1\.0$/, "avx")),
  );
  if (flags.has("avx512bf16")) flags.add("avx512_bf16");
  const num = (key: string) => {
    const v = Number(field(key));
    return field(key) !== undefined && Number.isFinite(v) ? v : null;
  };
  return {
    vendor: field("vendor") ?? "",
    family: num("family"),
    model: num("model"),
    name: field("brand_string") ?? "",
    flags,
  };
}

function readFacts(path: string): CpuFacts | null {
  if (!granted({ name: "read", path })) return null;
  try {
    return parseCpuinfo(Deno.readTextFileSync(path));
  } catch {
    return null;
  }
}

/**
 * This CPU's facts: `/proc/cpuinfo` on Linux, `sysctl` on Intel Macs (with `--allow-run`), else
 * null. `SLIDEWIN_CPUINFO=/path` reads another cpuinfo file instead (to simulate a CPU in specs);
 * its flags are then cut to those the real CPU has, so a fake can never force kernels this CPU
 * cannot run.
 *
 * @example
 * ```ts
 * import { readCpuFacts } from "./cpu_core.ts";
 * console.log(readCpuFacts()?.vendor); // e.g. "AuthenticAMD"
 * ```
 */
export function readCpuFacts(): CpuFacts | null {
  if (Deno.build.os === "linux") {
    const fake = envGet("SLIDEWIN_CPUINFO");
    const real = readFacts("/proc/cpuinfo");
    if (!fake) return real;
    const sim = readFacts(fake);
    if (!sim || !real) return null;
    return { ...sim, flags: new Set([...sim.flags].filter((f) => real.flags.has(f))) };
  }
  if (Deno.build.os === "darwin" && Deno.build.arch === "x86_64") {
    if (!granted({ name: "run", command: "sysctl" })) return null;
    try {
      const out = new Deno.Command("sysctl", {
        args: [
          "machdep.cpu.vendor",
          "machdep.cpu.family",
          "machdep.cpu.model",
          "machdep.cpu.brand_string",
          "machdep.cpu.features",
          "machdep.cpu.leaf7_features",
        ],
        stdout: "piped",
        stderr: "null",
      }).outputSync();
      return parseSysctl(new TextDecoder().decode(out.stdout));
    } catch {
      return null;
    }
  }
  return null;
}
