/**
 * The learning-rate schedule of a run.
 *
 * @module
 */

/**
 * Learning rate at `step` of `totalSteps`: constant, or one-cycle (linear warm-up from lr/25 over
 * the first 30 % of steps, then cosine annealing to lr/1e4), PyTorch's OneCycleLR shape.
 *
 * @example
 * ```ts
 * import { learningRate } from "./schedule.ts";
 * console.log(learningRate(2e-3, { step: 30, totalSteps: 100, schedule: "onecycle" })); // 0.002
 * ```
 */
export function learningRate(
  peak: number,
  options: { step: number; totalSteps: number; schedule: string },
): number {
  const { step, totalSteps, schedule } = options;
  if (schedule === "constant") return peak;
  const warm = Math.max(1, Math.round(0.3 * totalSteps));
  const start = peak / 25, end = peak / 1e4;
  if (step <= warm) return start + (peak - start) * (step / warm);
  const t = Math.min(1, (step - warm) / Math.max(1, totalSteps - warm));
  return end + (peak - end) * 0.5 * (1 + Math.cos(Math.PI * t));
}
