/**
 * A time budget for a training run (`deno task train --budget 15m`): how many epochs (and, when
 * not even one fits, how many scenes) a run can afford at the training rate measured on this
 * machine. A budget only ever shortens the recipe: a fast machine runs it as written.
 *
 * Plain arithmetic, no tfjs: tasks/train.ts measures the rate (the backend probe of
 * ./probe.ts) and prints the plan before training starts.
 *
 * @module
 */

/** Units of a duration: seconds, minutes, hours. */
const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600 };

/**
 * Seconds in a duration written `90s`, `15m`, `1.5h` or `1h30m`; throws a RangeError that says
 * how to write one.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./budget.ts";
 * console.log(parseDuration("1h30m")); // 5400
 * ```
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  const part = /\s*(\d+(?:\.\d+)?)\s*([smh])/gy;
  let seconds = 0, parts = 0, at = 0;
  for (let m = part.exec(trimmed); m; m = part.exec(trimmed)) {
    seconds += Number(m[1]) * UNITS[m[2]];
    parts++;
    at = part.lastIndex;
  }
  if (parts === 0 || at !== trimmed.length || !(seconds > 0)) {
    throw new RangeError(`"${text}" is not a duration: write e.g. 90s, 15m, 1.5h or 1h30m`);
  }
  return seconds;
}

/**
 * A check for a `--budget` flag: empty (no budget) or a duration {@linkcode parseDuration} reads.
 *
 * @example
 * ```ts
 * import { durationCheck } from "./budget.ts";
 * console.log(durationCheck("15 minutes")); // "must be a duration such as 15m, 90s or 1h30m"
 * ```
 */
export function durationCheck(text: string): string | undefined {
  if (text === "") return undefined;
  try {
    parseDuration(text);
    return undefined;
  } catch {
    return "must be a duration such as 15m, 90s or 1h30m";
  }
}

/** What {@linkcode fitToBudget} plans from. */
export interface BudgetInput {
  /** The budget, seconds. */
  seconds: number;
  /** Training images per second measured for this run's net, batch and threads. */
  imagesPerSecond: number;
  /** The recipe's epochs. */
  epochs: number;
  /** The recipe's training scenes per epoch. */
  trainSize: number;
  /** Scenes per step: a shortened epoch keeps whole batches. */
  batchSize: number;
  /**
   * Share of the budget spent on training steps; the rest goes to what the rate leaves out
   * (making scenes, validation after each epoch, checkpoints). Default 0.8.
   */
  efficiency?: number;
}

/** The plan: the epochs and scenes per epoch that fit, and the time each way. */
export interface BudgetPlan {
  /** Epochs to run (≤ the recipe's). */
  epochs: number;
  /** Scenes per epoch (the recipe's unless one epoch does not fit). */
  trainSize: number;
  /** Estimated seconds of the plan. */
  seconds: number;
  /** Estimated seconds of the recipe as written. */
  recipeSeconds: number;
  /** Whether the plan differs from the recipe. */
  shortened: boolean;
}

/**
 * The longest run of the recipe that fits the budget: as many whole epochs as fit (the one-cycle
 * schedule then spans them), or, when one epoch does not fit, one epoch of as many whole batches
 * as fit (at least one).
 *
 * @example
 * ```ts
 * import { fitToBudget } from "./budget.ts";
 * // wasm + 1 Worker trains the wide net at ≈ 386 img/s: 18 × 50 000 scenes take ≈ 49 min
 * const plan = fitToBudget({
 *   seconds: 15 * 60, imagesPerSecond: 386, epochs: 18, trainSize: 50000, batchSize: 32,
 * });
 * console.log(plan.epochs, plan.trainSize); // 5 50000
 * ```
 */
export function fitToBudget(input: BudgetInput): BudgetPlan {
  const { seconds, imagesPerSecond, epochs, trainSize, batchSize } = input;
  const efficiency = input.efficiency ?? 0.8;
  const positives = { seconds, imagesPerSecond, efficiency };
  for (const [name, value] of Object.entries(positives)) {
    if (!(Number.isFinite(value) && value > 0)) {
      throw new RangeError(`fitToBudget: ${name} must be a positive number, got ${value}`);
    }
  }
  if (efficiency > 1) {
    throw new RangeError(`fitToBudget: efficiency must be ≤ 1, got ${efficiency}`);
  }
  for (const [name, value] of Object.entries({ epochs, trainSize, batchSize })) {
    if (!(Number.isInteger(value) && value > 0)) {
      throw new RangeError(`fitToBudget: ${name} must be a positive integer, got ${value}`);
    }
  }
  const perScene = 1 / (imagesPerSecond * efficiency);
  const cost = (e: number, size: number) => e * size * perScene;
  const recipeSeconds = cost(epochs, trainSize);
  const fitting = Math.min(epochs, Math.floor(seconds / cost(1, trainSize)));
  if (fitting >= 1) {
    return {
      epochs: fitting,
      trainSize,
      seconds: cost(fitting, trainSize),
      recipeSeconds,
      shortened: fitting < epochs,
    };
  }
  const batches = Math.max(1, Math.floor(seconds / perScene / batchSize));
  const size = Math.min(trainSize, batches * batchSize);
  return { epochs: 1, trainSize: size, seconds: cost(1, size), recipeSeconds, shortened: true };
}

/**
 * The line `deno task train --budget` prints: the rate it planned with, what it chose and why.
 *
 * @example
 * ```ts
 * import { budgetNotice, fitToBudget } from "./budget.ts";
 * const recipe = { budget: "15m", arch: "wide", epochs: 18, trainSize: 50000, batchSize: 32 };
 * const plan = fitToBudget({ seconds: 900, imagesPerSecond: 386, ...recipe });
 * console.log(budgetNotice(recipe, "wasm", { imagesPerSecond: 193, threads: 2 }, plan));
 * ```
 */
export function budgetNotice(
  recipe: { budget: string; arch: string; epochs: number; trainSize: number },
  backend: string,
  rate: { imagesPerSecond?: number; threads?: number },
  plan: BudgetPlan,
): string {
  const minutes = (s: number) => s < 90 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`;
  const threads = rate.threads ?? 1;
  const total = Math.round((rate.imagesPerSecond ?? 0) * threads);
  const measured = threads > 1
    ? `≈ ${total} img/s (${Math.round(rate.imagesPerSecond ?? 0)} per thread × ${threads})`
    : `≈ ${total} img/s`;
  const head = `budget ${recipe.budget}: ${recipe.arch} on ${backend} trains at ${measured}`;
  if (!plan.shortened) {
    return `${head}: the recipe fits (${recipe.epochs} epochs, ≈ ${minutes(plan.seconds)})`;
  }
  const scenes = plan.trainSize < recipe.trainSize
    ? `1 epoch of ${plan.trainSize} scenes`
    : `${plan.epochs} of ${recipe.epochs} epochs`;
  return `${head}: ${scenes}, ≈ ${minutes(plan.seconds)} (the recipe as written: ≈ ${
    minutes(plan.recipeSeconds)
  }); config.json records the run (--epochs ${plan.epochs} --train-size ${plan.trainSize}); ` +
    `a faster backend (see the README) or --arch s8 keeps more of the recipe`;
}
