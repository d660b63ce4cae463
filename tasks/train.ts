/**
 * `deno task train`: trains the sliding-window localizer (see src/training/train.ts and
 * src/training/config.ts; `--preset assignment` is the course assignment's recipe).
 * Flags are listed by `--help`; bad flags print one line on stderr and exit 2 before anything is
 * written.
 *
 * @module
 */
import { defineTask } from "../src/cli.ts";
import { expandPreset, TRAIN_FLAGS, type TrainConfig } from "../src/training/config.ts";

/** The task: usage, flags and what it does. */
export const task = defineTask({
  usage: "deno task train",
  about: "Trains the convolutional sliding-window digit localizer on random 64×64 MNIST scenes;\n" +
    "writes model.json, weights.bin, metrics.json, config.json, curves.png and checkpoint/ to --out.",
  flags: TRAIN_FLAGS,
  run,
});

/** Presets `auto` trains in float32 even where onednn-bf16 runs (see `run`). */
const FLOAT32_PRESETS = ["assignment"];

async function run(flags: TrainConfig): Promise<number> {
  let config = flags;
  const { autoNotice, bf16Auto, lastAutoDecision, unavailableNotices, useBackend } = await import(
    "../src/backends/backend.ts"
  );
  const { trainingProbe } = await import("../src/training/probe.ts");
  const { ARCHITECTURES } = await import("../src/model/model.ts");
  // auto is measured: a few training steps of this run's model on each candidate (cached)
  const probe = trainingProbe({
    arch: ARCHITECTURES[config.arch],
    batchSize: config.batchSize,
    // the threads training will use: every core for auto (Workers, or one call on all of them)
    threads: config.workers === "auto"
      ? navigator.hardwareConcurrency ?? 1
      : Number(config.workers) + 1,
  });
  // bfloat16 where the CPU has it: the same accuracy at 1.6–1.7× the speed (the localizer's and
  // the detector's recipes, docs/kernels.md); the assignment's recipe stays float32, as the
  // course's PyTorch trains it
  const bf16 = !FLOAT32_PRESETS.includes(config.preset ?? "");
  const backend = await useBackend(config.backend, {
    ...(bf16 ? await bf16Auto("training") : {}),
    probe,
  });
  const auto = config.backend === "auto" ? lastAutoDecision() : undefined;
  if (auto) {
    console.log(autoNotice(auto));
    // what auto could not consider here, and why
    for (const line of await unavailableNotices()) console.log(line);
  }
  const notice = backend.notice?.();
  if (notice) console.log(notice);
  if (config.budget && config.resume) {
    console.log(`--budget ${config.budget}: ignored with --resume (the saved run's epochs hold)`);
  } else if (config.budget) {
    // the rate auto measured for the chosen backend, or a probe of it alone now
    const measured = auto?.results.find((r) => r.backend === backend.name && r.imagesPerSecond);
    const [rate] = measured ? [measured] : await probe.measure([backend]);
    if (!rate.imagesPerSecond) {
      throw new Error(`--budget: could not time ${backend.name} (${rate.error ?? "no rate"})`);
    }
    const { budgetNotice, fitToBudget, parseDuration } = await import(
      "../src/training/budget.ts"
    );
    const plan = fitToBudget({
      seconds: parseDuration(config.budget),
      imagesPerSecond: rate.imagesPerSecond * (rate.threads ?? 1),
      epochs: config.epochs,
      trainSize: config.trainSize,
      batchSize: config.batchSize,
    });
    console.log(budgetNotice(config, backend.name, rate, plan));
    config = { ...config, epochs: plan.epochs, trainSize: plan.trainSize };
  }
  const { train } = await import("../src/training/train.ts");
  // Ctrl-C: finish the current step, save a checkpoint and exit 130; a second Ctrl-C quits now.
  const stop = new AbortController();
  const onInterrupt = () => {
    if (stop.signal.aborted) Deno.exit(130);
    console.error("interrupt: finishing the current step and saving (Ctrl-C again to quit now)");
    stop.abort();
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    const { model, interrupted } = await train(config, {
      backend: backend.name,
      backendChoice: auto && { notice: autoNotice(auto), ...auto },
      signal: stop.signal,
    });
    model.dispose();
    if (interrupted) return 130;
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
  console.log(`saved to ${config.out}/ (model.json, weights.bin, metrics.json, config.json)`);
  return 0;
}

if (import.meta.main) await task.main(presetArgs());

/** The command line with its --preset expanded; a bad preset is left for the flag parser. */
function presetArgs(): string[] {
  try {
    return expandPreset(Deno.args);
  } catch {
    return [...Deno.args]; // parseFlags reports the bad --preset value in one line
  }
}
