/**
 * `deno task sliding` — part 1 of the assignment: answers questions 2–8 with numbers computed
 * here, and times the sequential against the convolutional sliding window.
 *
 * Writes `<out>/timing.json` and `<out>/timing.png` (log–log time against input size).
 */
import { ANDREW_LAYERS, buildAndrewNets, slideSequential } from "../src/part1/andrew.ts";
import { backendFlag, useBackend } from "../src/backends/backend.ts";
import { timingChart } from "../src/pictures/charts.ts";
import { defineTask, nonNegativeInt, positiveInt, UsageError } from "../src/cli.ts";
import { tf } from "../src/deps.ts";
import { type LayerSpec, windowCount, windowGeometry } from "../src/geometry.ts";
import { writeFileAtomic, writeJsonAtomic } from "../src/io.ts";
import { type SlidingTiming, timeSliding } from "./lib/sliding_study.ts";

const FLAGS = {
  /** Input sides to time, comma-separated. */
  sizes: { default: "16,28,720,1080", help: "Input sides to time, comma-separated" },
  /** Images per call, as in the assignment. */
  batch: { default: 5, help: "Images per call", check: positiveInt },
  /** Timed runs per method after one warm-up; 0 = 5 below 500 px, 3 above. */
  runs: {
    default: 0,
    help: "Timed runs per method (0: 5 below 500 px, else 3)",
    check: nonNegativeInt,
  },
  /** tfjs backend. */
  backend: backendFlag("auto"),
  /** Where timing.json and timing.png go. */
  out: { default: "runs/sliding", help: "Output folder" },
  /** Seed of weights and inputs. */
  seed: { default: 0, help: "Seed of weights and inputs", check: nonNegativeInt },
};

const fmt = (ms: number) => ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;

async function equivalenceNorms(seed: number) {
  const cases: { name: string; side: number; extra?: "conv" | "pool" }[] = [
    { name: "Andrew", side: 16 },
    { name: "Andrew", side: 28 },
    { name: "Andrew", side: 17 },
    { name: "Andrew", side: 31 },
    { name: "Andrew", side: 45 },
    { name: "+ conv 3×3", side: 28, extra: "conv" },
    { name: "+ max-pool 2", side: 40, extra: "pool" },
  ];
  const rows = [];
  for (const c of cases) {
    const nets = buildAndrewNets({ seed, extra: c.extra });
    const { size, stride } = windowGeometry(nets.convolutional.layers);
    const x = tf.randomUniform(
      [1, c.side, c.side, 3],
      0,
      1,
      "float32",
      seed + c.side,
    ) as tf.Tensor4D;
    const conv = nets.convolutional.apply(x);
    const seq = slideSequential(nets.sequential, x, { size, stride });
    const diff = (await tf.norm(tf.sub(conv, seq)).data())[0];
    const norm = (await tf.norm(conv).data())[0];
    // the same network slid with stride 2 after an extra pool no longer matches
    let wrong = "";
    if (c.extra === "pool") {
      const seq2 = slideSequential(nets.sequential, x, { size, stride: 2 });
      wrong = `stride 2 instead gives ${seq2.shape.slice(1, 3).join("×")} windows, not ${
        conv.shape.slice(1, 3).join("×")
      }`;
      seq2.dispose();
    }
    rows.push({ ...c, size, stride, grid: conv.shape.slice(1, 3), diff, norm, wrong });
    tf.dispose([x, conv, seq]);
    nets.dispose();
  }
  return rows;
}

function answers(): string {
  const layers = ANDREW_LAYERS as LayerSpec[];
  const g = windowGeometry(layers);
  return `Part 1 — convolutional sliding window (Andrew's C4W3 network: conv 5×5→16, max-pool 2, FC 400, FC 400, FC 4)

Q2. The modification: turn every fully connected layer into a convolution. FC 400 on the 5×5×16
    map becomes a 5×5 convolution with 400 filters whose kernel is the FC weight matrix reshaped to
    [5, 5, 16, 400] (row-major flatten order = kernel order); FC 400 → 400 and FC 400 → 4 become 1×1
    convolutions. Same weights, no re-initialisation; the network then accepts any input ≥ 14×14.
Q3. On 16×16 the convolutional form gives a 2×2 grid that equals the sequential sliding window
    with stride 2 (norms below). Output cell (i, j) is window rows [2i, 2i+14), cols [2j, 2j+14).
Q4. On 28×28 the grid is ${windowCount(layers, 28)}×${
    windowCount(layers, 28)
  } and still equal; so are odd sizes (17 → ${windowCount(layers, 17)}, 31 → ${
    windowCount(layers, 31)
  }, 45 → ${windowCount(layers, 45)} windows per axis).
    No size makes them differ: for every n ≥ 14 both give ⌊(n − 14)/2⌋ + 1 windows per axis with
    identical values; when n − 14 is odd the last pixel row/column lies in no window and both forms
    drop it. Outputs only "differ" when the sequential loop uses another stride or window size, or
    lists its windows in another order (as the notebook's loop did, transposing rows and columns).
Q5. Timing table below: the convolutional form wins and the gap grows with the input, because
    neighbouring windows overlap by 12 of 14 pixels: the conv form computes each shared
    activation once, the sequential form recomputes it for every window (and copies every window).
Q6. An extra conv layer (e.g. 3×3 after the pool) keeps the stride at 2 (convs have stride 1);
    only the window grows (14 → 18). Equivalence holds with stride 2 and 18×18 windows.
Q7. An extra max-pool (kernel 2) doubles the stride: 2 → 4 (window 14 → 24). Stride 2 no longer
    matches; stride 4 does.
Q8. With padding 0, for layers l = 1…L with kernels kₗ and strides sₗ (pool: sₗ = kₗ = 2), and
    Jₗ = s₁·…·sₗ:
      window size   = 1 + Σₗ (kₗ − 1)·Jₗ₋₁          (Andrew: ${g.size})
      window stride = J_L = Π sₗ                    (Andrew: ${g.stride})
      windows/axis  = ⌊(n − size) / stride⌋ + 1 for n ≥ size, else 0
                      (exactly the layer-by-layer ⌊(n − k)/s⌋ + 1)
      window i spans [i·stride, i·stride + size)     (padding p shifts it by −Σ pₗ·Jₗ₋₁)
    These formulas are checked against brute force in specs/geometry_test.ts.`;
}

/** The task: usage, flags and what it does. */
export const task = defineTask({
  usage: "deno task sliding",
  about: "Part 1: answers and timing study.",
  flags: FLAGS,
  async run(flags) {
    const sizes = flags.sizes.split(",").map((s) => Number(s.trim()));
    if (sizes.some((s) => !Number.isInteger(s) || s < 14)) {
      throw new UsageError(`--sizes must be integers ≥ 14 (the window), got "${flags.sizes}"`);
    }
    const backend = (await useBackend(flags.backend)).name;
    console.log(answers());
    console.log(`\nEquivalence (backend ${backend}): ‖conv − seq‖ over all windows`);
    for (const r of await equivalenceNorms(flags.seed)) {
      console.log(
        `  ${r.name.padEnd(13)} ${
          String(r.side).padStart(3)
        }×${r.side}: window ${r.size}, stride ${r.stride}, grid ${
          r.grid.join("×")
        }, ‖conv − seq‖ = ${r.diff.toExponential(2)} (‖conv‖ = ${r.norm.toFixed(3)})${
          r.wrong ? "; " + r.wrong : ""
        }`,
      );
    }
    console.log(
      `\nTiming (batch ${flags.batch}, median after one warm-up run, backend ${backend}):`,
    );
    const header = "  input   windows     sequential   convolutional   speed-up   GFLOP seq/conv";
    console.log(header);
    const rows: SlidingTiming[] = await timeSliding({
      sizes,
      batch: flags.batch,
      seed: flags.seed,
      runs: flags.runs > 0 ? () => flags.runs : undefined,
      onRow: (r) =>
        console.log(
          `  ${String(r.size).padStart(5)} ${String(r.windows).padStart(9)} ${
            fmt(r.sequentialMs).padStart(14)
          } ${fmt(r.convolutionalMs).padStart(15)} ${(r.speedup.toFixed(2) + "×").padStart(10)}   ${
            r.sequentialGflop.toPrecision(3)
          }/${r.convolutionalGflop.toPrecision(3)}`,
        ),
    });
    await Deno.mkdir(flags.out, { recursive: true });
    await writeJsonAtomic(`${flags.out}/timing.json`, {
      backend,
      batch: flags.batch,
      layers: ANDREW_LAYERS,
      rows,
      date: new Date().toISOString(),
    });
    await writeFileAtomic(
      `${flags.out}/timing.png`,
      await timingChart(
        rows.flatMap((r) => [
          { method: "sequential", size: r.size, ms: r.sequentialMs },
          { method: "convolutional", size: r.size, ms: r.convolutionalMs },
        ]),
        { title: `Sliding window on Andrew's network, batch ${flags.batch} (${backend})` },
      ),
    );
    console.log(`\nWrote ${flags.out}/timing.json and ${flags.out}/timing.png`);
  },
});

if (import.meta.main) await task.main();
