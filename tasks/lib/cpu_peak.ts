/**
 * The CPU's fp32 peak, estimated from `/proc/cpuinfo` for the bench's "fraction of peak":
 * physical cores × clock × FLOPs per cycle per core, the last from the widest vector FMA the flags
 * show, assuming two FMA units per core (2 FLOPs per lane per FMA):
 *
 * | flags                   | FLOPs/cycle/core | as in                                   |
 * | ----------------------- | ---------------- | --------------------------------------- |
 * | avx512f                 | 64               | 2 × 512-bit FMA (Xeon Gold/Platinum, Zen 5) |
 * | avx2 + fma              | 32               | 2 × 256-bit FMA (Haswell…, Zen 1–3)     |
 * | avx                     | 16               | 256-bit add + multiply, no FMA          |
 * | sse2                    | 8                | 128-bit add + multiply                  |
 * | asimd (ARM `Features`)  | 16               | 2 × 128-bit NEON FMA (Neoverse N1)      |
 *
 * The clock is cpuinfo's `cpu MHz` (sysfs `cpuinfo_max_freq` wins when the caller passes it):
 * inside a VM that is the nominal clock, not the boost. An estimate, not a measurement: CPUs with
 * one AVX-512 FMA unit (Xeon Silver/Bronze) or AVX-512 on 256-bit units (Zen 4: 32 FLOPs/cycle,
 * but boosting above the nominal clock a VM shows) make it an upper bound.
 *
 * @module
 */
import { parseCpuinfo } from "../../src/backends/native/cpu_core.ts";

/** FLOPs per cycle per core and the vector unit that gives them. */
export interface SimdWidth {
  /** fp32 FLOPs per cycle per core (2 FMA units assumed where there is FMA). */
  flopsPerCycle: number;
  /** "AVX-512", "AVX2", "AVX", "SSE2", "NEON" or "scalar". */
  simd: string;
}

/**
 * FLOPs per cycle per core from the CPU's feature flags (Linux names), per the module's table.
 *
 * @example
 * ```ts
 * import { simdWidth } from "./cpu_peak.ts";
 * console.log(simdWidth(new Set(["avx2", "fma"]))); // { flopsPerCycle: 32, simd: "AVX2" }
 * ```
 */
export function simdWidth(flags: ReadonlySet<string>): SimdWidth {
  if (flags.has("avx512f")) return { flopsPerCycle: 64, simd: "AVX-512" };
  if (flags.has("avx2") && flags.has("fma")) return { flopsPerCycle: 32, simd: "AVX2" };
  if (flags.has("avx")) return { flopsPerCycle: 16, simd: "AVX" };
  if (flags.has("sse2")) return { flopsPerCycle: 8, simd: "SSE2" };
  if (flags.has("asimd")) return { flopsPerCycle: 16, simd: "NEON" };
  return { flopsPerCycle: 2, simd: "scalar" };
}

/** Physical cores in a cpuinfo text: distinct (physical id, core id) pairs, else processors. */
export function physicalCores(cpuinfo: string): number {
  const blocks = cpuinfo.split(/\n\s*\n/).filter((b) => /^processor\s*:/m.test(b));
  const pairs = new Set<string>();
  for (const b of blocks) {
    const socket = b.match(/^physical id\s*:\s*(\d+)/m)?.[1];
    const core = b.match(/^core id\s*:\s*(\d+)/m)?.[1];
    if (socket === undefined || core === undefined) return blocks.length;
    pairs.add(`${socket}:${core}`);
  }
  return pairs.size;
}

/** The estimate and how it was made. */
export interface CpuPeak {
  /** Marketing name ("" when unknown). */
  name: string;
  /** Physical cores counted. */
  cores: number;
  /** Clock in GHz. */
  ghz: number;
  /** FLOPs per cycle per core. */
  flopsPerCycle: number;
  /** The vector unit assumed. */
  simd: string;
  /** cores × GHz × FLOPs/cycle. */
  gflops: number;
  /** One line saying so, e.g. "2 cores × 2.60 GHz × 64 FLOP/cycle (AVX-512, 2 FMA units assumed)". */
  assumption: string;
}

/**
 * Estimates the fp32 peak from a `/proc/cpuinfo` text (and sysfs `cpuinfo_max_freq` in kHz when
 * known); null when cpuinfo has neither flags nor a clock.
 *
 * @example
 * ```ts
 * import { estimatePeak } from "./cpu_peak.ts";
 * const text = "processor\t: 0\nmodel name\t: X\ncpu MHz\t\t: 2500.000\nflags\t\t: sse2 avx avx2 fma\n";
 * console.log(estimatePeak(text)?.gflops); // 80
 * ```
 */
export function estimatePeak(cpuinfo: string, maxFreqKHz?: string): CpuPeak | null {
  const facts = parseCpuinfo(cpuinfo);
  const mhz = Number(cpuinfo.match(/^cpu MHz\s*:\s*([\d.]+)/m)?.[1]);
  const max = Number(maxFreqKHz?.trim()) / 1000;
  const clock = Number.isFinite(max) && max > 0 ? max : mhz;
  if (!facts || !(clock > 0)) return null;
  const { flopsPerCycle, simd } = simdWidth(facts.flags);
  const cores = Math.max(1, physicalCores(cpuinfo));
  const ghz = clock / 1000;
  const units = simd === "AVX-512" || simd === "AVX2" || simd === "NEON"
    ? ", 2 FMA units assumed"
    : "";
  return {
    name: facts.name,
    cores,
    ghz,
    flopsPerCycle,
    simd,
    gflops: cores * ghz * flopsPerCycle,
    assumption: `${cores} core${cores === 1 ? "" : "s"} × ${ghz.toFixed(2)} GHz × ` +
      `${flopsPerCycle} FLOP/cycle (${simd}${units})`,
  };
}

/** This machine's estimate (Linux), or null. */
export function readPeak(): CpuPeak | null {
  const read = (path: string) => {
    try {
      return Deno.readTextFileSync(path);
    } catch {
      return undefined;
    }
  };
  const cpuinfo = read("/proc/cpuinfo");
  return cpuinfo === undefined
    ? null
    : estimatePeak(cpuinfo, read("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"));
}
