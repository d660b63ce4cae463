/**
 * Scratch benchmark of {@linkcode GradientPool}: train-step images/s of the default model at
 * batch 32 and 64 for several pool layouts, interleaved in rounds so machine noise hits all alike.
 *
 * Two modes:
 * - `fixed`: one fixed batch; a step is pool.gradients + Adam (the compute alone);
 * - `stream`: the train.ts loop — sceneStream makes the next batch on the main thread while the
 *   step runs (it gets the event loop whenever the step awaits); a step is batch-to-batch time.
 *
 * Layouts: `w0` single thread (no Worker), `w1` 1 worker + shard 0 on the main thread, `w2idle`
 * 2 workers with the main thread idle (free for scene generation).
 *
 * Run: `deno run -A tasks/bench_pool.ts [--steps=20] [--rounds=4] [--batches=32,64]
 * [--modes=fixed,stream] [--layouts=w0,w1,w2idle]`
 *
 * @module
 */
import process from "node:process";
import { helpText, parseFlags, positiveInt } from "../src/cli.ts";
import { tf } from "../src/deps.ts";
import { describeBackend, useBackend } from "../src/backends/backend.ts";
import { Adam } from "../src/training/adam.ts";
import { encodeTargets } from "../src/data/encode.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { buildModel, S8_ARCH } from "../src/model/model.ts";
import { makeScenes, sceneStream } from "../src/data/scenes.ts";
import { GradientPool, type GradientPoolOptions } from "../src/training/pool.ts";
import { median } from "./lib/stats.ts";

/** Busy CPU seconds of the whole machine so far (Linux /proc/stat), or NaN elsewhere. */
function machineBusySeconds(): number {
  try {
    const f = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1);
    const j = f.map(Number);
    return (j[0] + j[1] + j[2] + j[5] + j[6] + j[7]) / 100; // user nice system irq softirq steal
  } catch {
    return NaN;
  }
}

/** Cores used by other processes since the previous call (from /proc/stat and our own CPU). */
function otherCores(): () => number {
  let busy = machineBusySeconds(), cpu = process.cpuUsage(), t = performance.now();
  return () => {
    const b = machineBusySeconds(), c = process.cpuUsage(), now = performance.now();
    const mine = (c.user + c.system - cpu.user - cpu.system) / 1e6;
    const others = Math.max(0, b - busy - mine) / ((now - t) / 1000);
    busy = b, cpu = c, t = now;
    return others;
  };
}

/** Steps during which other processes used fewer cores than this count as quiet. */
const CLEAN = 0.25;

const LAYOUTS: Record<string, GradientPoolOptions> = {
  w0: { workers: 0 },
  w1: { workers: 1 },
  w2idle: { workers: 2, mainShard: false },
  w2: { workers: 2 },
};

/** The study's flags. */
const FLAGS = {
  steps: { default: 20, help: "Timed steps per layout", check: positiveInt },
  rounds: { default: 4, help: "Interleaved rounds", check: positiveInt },
  batches: { default: "32,64", help: "Batch sizes, comma-separated" },
  modes: { default: "fixed,stream", help: "Modes: fixed, stream" },
  layouts: { default: "w0,w1,w2idle", help: "Pool layouts: w0, w1, w2idle, w2" },
};

if (import.meta.main) {
  const values = parseFlags(Deno.args, FLAGS);
  if (!values) {
    console.log(helpText("deno run -A tasks/bench_pool.ts", "Pool layouts compared.", FLAGS));
    Deno.exit(0);
  }
  const steps = values.steps, rounds = values.rounds;
  const perRound = Math.ceil(steps / rounds);
  const batches = values.batches.split(",").map(Number);
  const modes = values.modes.split(",");
  const layouts = values.layouts.split(",");
  await useBackend("wasm");
  console.log(`main: ${describeBackend()}; ${navigator.hardwareConcurrency} cores`);
  const { train } = await loadMnist();
  const model = buildModel(S8_ARCH, { seed: 1 });
  const grid = model.grid(64);
  const adam = new Adam(model.variables);
  const pools = new Map<string, GradientPool>();
  for (const l of layouts) pools.set(l, await GradientPool.create(model.arch, LAYOUTS[l]));

  const results = new Map<string, number[]>();
  const shares = new Map<string, number[]>();
  const cleanResults = new Map<string, number[]>();
  const cpuStats = new Map<string, {
    cpuMs: number;
    wallMs: number;
    images: number;
    otherMs: number;
  }>();
  for (const mode of modes) {
    for (const batch of batches) {
      const scenes = await makeScenes(train, { count: batch, seed: 1 });
      const targets = encodeTargets(scenes.boxes, scenes.labels, grid);
      let streamSeed = 100;
      const run = async (layout: string, count: number, record: boolean) => {
        const pool = pools.get(layout)!;
        const times: number[] = [];
        const mainMs: number[] = [];
        const cpu0 = process.cpuUsage();
        const busy0 = machineBusySeconds();
        const wall0 = performance.now();
        const clean: number[] = [];
        if (mode === "fixed") {
          for (let s = 0; s < count; s++) {
            const others = otherCores();
            const t0 = performance.now();
            const { named, timing } = await pool.gradients(model, scenes.images, targets);
            adam.step(named, 1e-4);
            times.push(performance.now() - t0);
            if (others() < CLEAN) clean.push(times.at(-1)!);
            mainMs.push(timing.mainMs);
          }
        } else {
          const stream = sceneStream(train, {
            batchSize: batch,
            epochSize: batch * (count + 1),
            seed: streamSeed++,
            grid,
          });
          let last = 0;
          let s = 0;
          let others = otherCores();
          for await (const b of stream) {
            const now = performance.now();
            if (s > 0) {
              times.push(now - last); // batch-to-batch, the first one's wait excluded
              if (others() < CLEAN) clean.push(times.at(-1)!);
            }
            others = otherCores();
            last = now;
            if (s === count) {
              tf.dispose([b.images, b.targets!]);
              break;
            }
            const { named, timing } = await pool.gradients(model, b.images, b.targets!);
            adam.step(named, 1e-4);
            mainMs.push(timing.mainMs);
            tf.dispose([b.images, b.targets!]);
            s++;
          }
        }
        if (!record) return;
        const key = `${mode} b${batch} ${layout}`;
        const cpu = process.cpuUsage(cpu0);
        const cpuMs = (cpu.user + cpu.system) / 1000;
        const c = cpuStats.get(key) ?? { cpuMs: 0, wallMs: 0, images: 0, otherMs: 0 };
        c.cpuMs += cpuMs;
        c.otherMs += Math.max(0, 1000 * (machineBusySeconds() - busy0) - cpuMs);
        c.wallMs += performance.now() - wall0;
        c.images += batch * count;
        cpuStats.set(key, c);
        results.set(key, [...(results.get(key) ?? []), ...times]);
        cleanResults.set(key, [...(cleanResults.get(key) ?? []), ...clean]);
        shares.set(key, [...(shares.get(key) ?? []), ...mainMs]);
      };
      for (const l of layouts) await run(l, 3, false); // warm-up: XNNPACK operators, shapes
      for (let r = 0; r < rounds; r++) {
        for (const l of layouts) await run(l, perRound, true);
      }
      tf.dispose([scenes.images, targets]);
      const base = median(results.get(`${mode} b${batch} w0`) ?? [NaN]);
      const cleanBase = median(cleanResults.get(`${mode} b${batch} w0`) ?? []);
      for (const l of layouts) {
        const key = `${mode} b${batch} ${l}`;
        const ms = median(results.get(key)!);
        const main = median(shares.get(key)!);
        const c = cpuStats.get(key)!;
        console.log(
          `${key.padEnd(22)} ${(1000 * batch / ms).toFixed(0).padStart(5)} images/s  ` +
            `median step ${ms.toFixed(0)} ms (n=${results.get(key)!.length}), main shard ` +
            `${main.toFixed(0)} ms, speed-up ×${(base / ms).toFixed(2)}; CPU ` +
            `${(c.cpuMs / c.images).toFixed(2)} ms/image, cores busy ` +
            `${(c.cpuMs / c.wallMs).toFixed(2)}, other processes ${
              (c.otherMs / c.wallMs).toFixed(2)
            }`,
        );
        const quiet = cleanResults.get(key)!;
        if (quiet.length > 0) {
          const q = median(quiet);
          console.log(
            `  quiet steps (others < ${CLEAN} cores): ${(1000 * batch / q).toFixed(0)} images/s, ` +
              `median ${q.toFixed(0)} ms (n=${quiet.length}), speed-up ×${
                (cleanBase / q).toFixed(2)
              }`,
          );
        }
      }
    }
  }
  for (const p of pools.values()) p.close();
  adam.dispose();
  model.dispose();
}
