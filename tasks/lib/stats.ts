/**
 * Small statistics for the benchmarks and studies.
 *
 * @module
 */

/**
 * The median of `xs` (the mean of the two middle values for an even count); NaN when empty.
 *
 * @example
 * ```ts
 * import { median } from "./stats.ts";
 * console.log(median([3, 1, 2]), median([4, 1, 2, 3])); // 2 2.5
 * ```
 */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Median milliseconds of `timed` runs of `f`, after `warm` untimed ones.
 *
 * @example
 * ```ts
 * import { medianMs } from "./stats.ts";
 * console.log(await medianMs(() => Promise.resolve(), 1, 3) >= 0); // true
 * ```
 */
export async function medianMs(
  f: () => Promise<unknown>,
  warm: number,
  timed: number,
): Promise<number> {
  for (let i = 0; i < warm; i++) await f();
  const times: number[] = [];
  for (let i = 0; i < timed; i++) {
    const t = performance.now();
    await f();
    times.push(performance.now() - t);
  }
  return median(times);
}
