/**
 * A small seeded random number generator (mulberry32), so every scene, split and initialisation
 * is reproducible from one integer seed.
 *
 * @module
 */

/** A seeded source of uniform numbers in [0, 1). */
export interface Rng {
  /** Next uniform number in [0, 1). */
  next(): number;
  /** Uniform number in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** A new 32-bit seed drawn from this generator (for tfjs ops that take a seed). */
  seed(): number;
}

/**
 * Creates a seeded generator; the same seed gives the same sequence on every machine.
 *
 * @example
 * ```ts
 * import { makeRng } from "./rng.ts";
 * const rng = makeRng(42);
 * console.log(rng.next() === makeRng(42).next()); // true
 * ```
 */
export function makeRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`Seed must be a finite number, got ${seed}`);
  let a = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    int: (n) => Math.floor(next() * n),
    seed: () => Math.floor(next() * 4294967296) >>> 0,
  };
}
