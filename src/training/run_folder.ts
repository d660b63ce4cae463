/**
 * The output folder of a training run (`--out`), as one object: its lock, what a resumed run
 * starts from, and checkpoints written as whole generations.
 *
 * Layout:
 *
 * - `checkpoint/<steps>/` — one generation: `model.json` + `weights.bin`, `optimizer.json` +
 *   `optimizer.bin` (Adam's moments; `extra` holds epoch, steps and, after Ctrl-C, where the epoch
 *   stopped) and `state.json` (the epoch records and the run's config). A generation is written
 *   into a temporary folder and renamed into place, so it exists whole or not at all; a resumed
 *   run reads only the newest one, so model and optimizer always come from the same step. Older
 *   generations are removed once a newer one is in place.
 * - `model.json`, `weights.bin`, `metrics.json`, `config.json`, `curves.png` — what users open,
 *   published (each atomically) after every generation.
 * - `.lock` — held while a run trains here (./lock.ts).
 *
 * @module
 */
import type { Tensor } from "../deps.ts";
import { exists, writeFileAtomic, writeJsonAtomic } from "../io.ts";
import { loadModel, loadTensors, saveModel, saveTensors } from "../model/checkpoint.ts";
import type { Model } from "../model/model.ts";
import { type LossParts, lossParts } from "../model/loss/terms.ts";
import type { EpochRecord, InterruptedRecord } from "./records.ts";
import { type DirLock, lockDir } from "./lock.ts";

/** Where an interrupted epoch stopped: batches and scenes done, loss sums, seconds trained. */
export interface PartialEpoch {
  /** Batches of the epoch already trained. */
  batch: number;
  /** Scenes of the epoch already trained. */
  seen: number;
  /** The loss parts summed over those scenes. */
  sums: LossParts<number>;
  /** Seconds of training in the epoch so far. */
  seconds: number;
  /** Seconds since the run started. */
  time: number;
}

/** One generation to write: everything a resumed run needs. */
export interface Generation {
  /** The model at this point. */
  model: Model;
  /** Adam's state tensors (`Adam.stateTensors()`). */
  optimizer: Map<string, Tensor>;
  /** Completed epochs (a record each). */
  records: EpochRecord[];
  /** Adam steps since the start of the run. */
  steps: number;
  /** Set when the current epoch was interrupted part-way. */
  partial?: PartialEpoch;
  /** The run's config.json (settings, architecture, versions …). */
  config: unknown;
}

/** What a resumed run starts from: the newest generation. */
export interface Resumed {
  /** The model, loaded (dispose it when done). */
  model: Model;
  /** Adam's state tensors (dispose them after restoring). */
  optimizer: Map<string, Tensor>;
  /** Adam steps since the start of the run. */
  steps: number;
  /** The completed epochs. */
  records: EpochRecord[];
  /** Where the interrupted epoch stopped, if it did. */
  partial?: PartialEpoch;
  /** The saved config.json of the run. */
  config: { settings: Record<string, unknown> } & Record<string, unknown>;
}

const GENERATION = /^\d{9}$/;

/**
 * The newest complete generation folder under `<out>/checkpoint/`, or undefined.
 *
 * @example
 * ```ts
 * import { latestGeneration } from "./run_folder.ts";
 * console.log(await latestGeneration("runs/none")); // undefined
 * ```
 */
export async function latestGeneration(out: string): Promise<string | undefined> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(`${out}/checkpoint`)) {
      if (e.isDirectory && GENERATION.test(e.name)) names.push(e.name);
    }
  } catch {
    return undefined;
  }
  names.sort();
  return names.length ? `${out}/checkpoint/${names.at(-1)}` : undefined;
}

/**
 * A run's output folder.
 *
 * @example
 * ```ts
 * import { RunFolder } from "./run_folder.ts";
 * const run = await RunFolder.open("runs/example-run");
 * console.log(await run.resume()); // undefined: nothing saved yet
 * await run.close();
 * ```
 */
export class RunFolder {
  /** The folder. */
  readonly out: string;
  readonly #lock: DirLock | undefined;

  private constructor(out: string, lock: DirLock | undefined) {
    this.out = out;
    this.#lock = lock;
  }

  /**
   * Opens `out` for a run; with `lock` (default true) takes `<out>/.lock` or throws a one-line
   * error when a live process holds it (`notice` reports a stale lock taken over).
   */
  static async open(
    out: string,
    options: { lock?: boolean; notice?: (line: string) => void } = {},
  ): Promise<RunFolder> {
    const lock = options.lock === false
      ? undefined
      : await lockDir(out, { notice: options.notice });
    return new RunFolder(out, lock);
  }

  /** Releases the lock. */
  async close(): Promise<void> {
    await this.#lock?.release();
  }

  /** The newest generation, loaded; undefined when the folder holds none. */
  async resume(): Promise<Resumed | undefined> {
    const gen = await latestGeneration(this.out);
    if (!gen) {
      if (await exists(`${this.out}/model.json`)) {
        throw new Error(
          `${this.out} has a model but no checkpoint/ folder (written by an older slidewin); ` +
            `start a new run with another --out`,
        );
      }
      return undefined;
    }
    const state = JSON.parse(await Deno.readTextFile(`${gen}/state.json`));
    const { model } = await loadModel(gen);
    try {
      const { json, tensors } = await loadTensors(gen, "optimizer.json");
      const extra = json.extra ?? {};
      const records = state.records as EpochRecord[];
      const p = extra.partial as PartialEpoch | undefined;
      // checkpoints written before the parts had names kept the terms' sums as a list
      if (p && Array.isArray(p.sums)) p.sums = lossParts(p.sums);
      return {
        model,
        optimizer: tensors,
        steps: Number(extra.steps ?? 0),
        records,
        partial: p && Number(extra.epoch) === records.length && p.batch > 0 ? p : undefined,
        config: state.config,
      };
    } catch (error) {
      model.dispose();
      throw error;
    }
  }

  /**
   * Writes a generation (into a temporary folder, renamed into place), then publishes the model,
   * metrics.json and config.json at the top of the folder; `interrupted`, when given, ends the
   * published metrics.
   */
  async save(g: Generation, interrupted?: InterruptedRecord): Promise<void> {
    const root = `${this.out}/checkpoint`;
    const name = String(g.steps).padStart(9, "0");
    const tmp = `${root}/.${name}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    const epoch = g.records.length;
    await Deno.mkdir(tmp, { recursive: true });
    try {
      await saveModel(g.model, tmp, { epoch, steps: g.steps, ...partialBatch(g.partial) });
      await saveTensors(tmp, g.optimizer, {
        json: "optimizer.json",
        bin: "optimizer.bin",
        fields: { extra: { epoch, steps: g.steps, ...(g.partial ? { partial: g.partial } : {}) } },
      });
      await writeJsonAtomic(`${tmp}/state.json`, { records: g.records, config: g.config });
      await Deno.remove(`${root}/${name}`, { recursive: true }).catch(() => {});
      await Deno.rename(tmp, `${root}/${name}`);
    } catch (error) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      throw error;
    }
    // the newest generation is in place: the others (and any torn temporary folder) can go
    for await (const e of Deno.readDir(root)) {
      if (e.name !== name) await Deno.remove(`${root}/${e.name}`, { recursive: true });
    }
    const gen = `${root}/${name}`;
    for (const f of ["weights.bin", "model.json"]) {
      await writeFileAtomic(`${this.out}/${f}`, await Deno.readFile(`${gen}/${f}`));
    }
    await this.writeMetrics(g.records, interrupted);
    await writeJsonAtomic(`${this.out}/config.json`, g.config);
  }

  /** Publishes metrics.json: the epoch records, then `interrupted` when given. */
  async writeMetrics(records: EpochRecord[], interrupted?: InterruptedRecord): Promise<void> {
    await writeJsonAtomic(`${this.out}/metrics.json`, [
      ...records,
      ...(interrupted ? [interrupted] : []),
    ]);
  }

  /** Writes curves.png (loss parts and validation scores per epoch); warns on failure. */
  async writeCurves(records: readonly EpochRecord[], log: (line: string) => void): Promise<void> {
    try {
      const { trainingCurves } = await import("../pictures/charts.ts");
      const png = await trainingCurves(records.map((r) => ({
        epoch: r.epoch,
        loss: r.train,
        ...(r.val.map50 === undefined
          ? { accuracy: r.val.accuracy, meanIoU: r.val.meanIou, hitRate: r.val.hitRate }
          : { map50: r.val.map50, map: r.val.map }),
      })));
      await writeFileAtomic(`${this.out}/curves.png`, png);
    } catch (e) {
      log(`warning: curves.png not written: ${(e as Error).message.split("\n")[0]}`);
    }
  }
}

function partialBatch(p: PartialEpoch | undefined): Record<string, number> {
  return p ? { batch: p.batch } : {};
}
