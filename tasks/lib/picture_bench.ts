/**
 * Pictures-in benchmark: milliseconds to normalise a grey picture (src/data/normalize.ts) at
 * 128 × 128 and 1080 × 1080 — the project's own white-on-black ink and the same ink as pencil on
 * unevenly lit, noisy paper (specs/number_pictures.ts) — and to decode a 1080 × 1080 PNG and JPEG
 * (src/data/image_file.ts). Medians and ranges of `--rounds` rounds, each the mean of enough calls
 * to last about 50 ms, in wall-clock time and in this process's CPU time (user + system: on a
 * shared, oversubscribed machine the wall clock also counts the waits for a core). Run alone with
 * `deno run -A tasks/lib/picture_bench.ts`.
 *
 * @module
 */
import process from "node:process";
import { helpText, parseFlags, positiveInt, runMain } from "../../src/cli.ts";
import { decodeImage } from "../../src/data/image_file.ts";
import { loadMnist } from "../../src/data/mnist.ts";
import { normalizeImage } from "../../src/data/normalize.ts";
import { encodeJpeg, encodePng } from "../../specs/image_fixtures.ts";
import { numbersPicture, pencil } from "../../specs/number_pictures.ts";
import { median } from "./stats.ts";

/** One measured row. */
export interface PictureBenchRow {
  /** What was timed, e.g. "normalise 128×128 pencil". */
  what: string;
  /** Median wall-clock milliseconds per call. */
  ms: number;
  /** Fastest and slowest round, wall clock. */
  range: [number, number];
  /** Median CPU milliseconds per call (user + system). */
  cpuMs: number;
}

/** Wall and CPU milliseconds per call of `f`: `rounds` rounds of about 50 ms after a warm-up. */
async function time(f: () => unknown, rounds: number) {
  let calls = 1;
  for (;;) {
    const t0 = performance.now();
    for (let k = 0; k < calls; k++) await f();
    if (performance.now() - t0 > 50) break;
    calls *= 2;
  }
  const wall: number[] = [], cpu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    for (let k = 0; k < calls; k++) await f();
    const c = process.cpuUsage(c0);
    wall.push((performance.now() - t0) / calls);
    cpu.push((c.user + c.system) / 1000 / calls);
  }
  return {
    ms: median(wall),
    range: [Math.min(...wall), Math.max(...wall)] as [number, number],
    cpuMs: median(cpu),
  };
}

/** Runs the benchmark: normalisation at two sizes on two kinds of picture, decoding. */
export async function benchPictures(rounds = 7): Promise<PictureBenchRow[]> {
  const { val } = await loadMnist({
    dir: new URL("../../fixtures/mnist", import.meta.url),
    testCount: 0,
  });
  const rows: PictureBenchRow[] = [];
  for (const side of [128, 1080]) {
    const ink = numbersPicture(val, { seed: 1, width: side, height: side });
    const paper = pencil(ink, { seed: 1 });
    const out = new Float32Array(side * side);
    for (
      const [kind, picture] of [["white ink on black", ink], ["pencil on paper", paper]] as const
    ) {
      const timing = await time(() => normalizeImage(picture, { out }), rounds);
      rows.push({ what: `normalise ${side}×${side} ${kind}`, ...timing });
    }
    if (side === 1080) {
      const grey = (x: number, y: number) => Math.round(255 * paper.data[y * side + x]);
      const png = await encodePng({
        width: side,
        height: side,
        colorType: 2,
        depth: 8,
        sample: (x, y) => Array(3).fill(grey(x, y)),
      });
      const jpeg = encodeJpeg({
        width: side,
        height: side,
        channels: 3,
        subsample: true,
        quality: 90,
        rgb: (x, y) => [grey(x, y), grey(x, y), grey(x, y)],
      });
      for (const [kind, bytes] of [["PNG RGB", png], ["JPEG 4:2:0", jpeg]] as const) {
        const timing = await time(() => decodeImage(bytes), rounds);
        rows.push({ what: `decode ${side}×${side} ${kind} to grey`, ...timing });
      }
    }
  }
  return rows;
}

const FLAGS = {
  /** Timed rounds per row. */
  rounds: { default: 7, help: "Timed rounds per row (the median is reported)", check: positiveInt },
};

if (import.meta.main) {
  await runMain(async () => {
    const flags = parseFlags(Deno.args, FLAGS);
    if (!flags) {
      console.log(
        helpText(
          "deno run -A tasks/lib/picture_bench.ts",
          "Times normalisation and decoding.",
          FLAGS,
        ),
      );
      return 0;
    }
    const f = (v: number) => v.toFixed(v < 10 ? 2 : 1);
    for (const row of await benchPictures(flags.rounds)) {
      console.log(
        `${row.what.padEnd(42)} CPU ${f(row.cpuMs)} ms · wall ${f(row.ms)} ms ` +
          `(${f(row.range[0])}–${f(row.range[1])})`,
      );
    }
    return 0;
  });
}
