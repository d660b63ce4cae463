/**
 * Part 1's convolutional sliding window at 1080×1080 against the peer runtimes, for
 * `deno task bench`: Andrew's network in its convolutional form (src/part1/andrew.ts) on one RGB
 * picture (534² = 285 156 windows; the sliding study runs its five pictures one at a time too),
 * through slidewin on the current backend, ONNX Runtime (the same weights exported
 * through the layer table's ONNX entries) and PyTorch (tasks/bench_torch.py, the same layers).
 *
 * @module
 */
import { type Tensor4D, tf } from "../../src/deps.ts";
import { type AndrewNets, buildAndrewNets } from "../../src/part1/andrew.ts";
import type { ArchLayer } from "../../src/model/model.ts";
import type { ExportWeight } from "../../src/model/export_weights.ts";
import { encodeOnnx } from "../../src/model/onnx_export.ts";
import { medianMs } from "./stats.ts";
import { type Ort, ortRun, ortSession } from "./ort.ts";
import { torchForward } from "./picture_speed.ts";

/**
 * Andrew's network as an architecture of the layer table: conv 5×5·16, max-pool 2, then FC 400,
 * FC 400 and FC 4 as 5×5, 1×1 and 1×1 convolutions (the last linear).
 */
export const ANDREW_ARCH: readonly ArchLayer[] = Object.freeze([
  { kind: "conv", kernel: 5, filters: 16 },
  { kind: "pool", kernel: 2 },
  { kind: "conv", kernel: 5, filters: 400 },
  { kind: "conv", kernel: 1, filters: 400 },
  { kind: "conv", kernel: 1, filters: 4, activation: "linear" },
]);

/** The layer table's names of {@linkcode ANDREW_ARCH}'s weights, by the name andrew.ts uses. */
const NAMES: Readonly<Record<string, string>> = {
  conv1: "conv0/kernel",
  bias1: "conv0/bias",
  fc1: "conv2/kernel",
  fcb1: "conv2/bias",
  fc2: "conv3/kernel",
  fcb2: "conv3/bias",
  fc3: "conv4/kernel",
  fcb3: "conv4/bias",
};

/**
 * The ONNX model of `nets`' convolutional form (input `[N, C, H, W]`, output `[N, 4, rows,
 * cols]`), built from its weights by the layer table's ONNX entries.
 *
 * @example
 * ```ts
 * import "../../src/backends/backend.ts";
 * import { tf } from "../../src/deps.ts";
 * import { buildAndrewNets } from "../../src/part1/andrew.ts";
 * import { andrewOnnx } from "./sliding_peers.ts";
 * await tf.setBackend("cpu");
 * const nets = buildAndrewNets();
 * console.log(andrewOnnx(nets).length > 100_000); // true (≈ 0.8 MB of weights)
 * nets.dispose();
 * ```
 */
export function andrewOnnx(nets: AndrewNets): Uint8Array {
  const weights = new Map<string, ExportWeight>();
  for (const [ours, theirs] of Object.entries(NAMES)) {
    const t = nets.weights[ours];
    if (!t) throw new Error(`Andrew's net has no weight "${ours}" (built with extra layers?)`);
    weights.set(theirs, { shape: [...t.shape], data: t.dataSync() as Float32Array });
  }
  const channels = nets.weights.conv1.shape[2] as number;
  return encodeOnnx({ arch: ANDREW_ARCH, weights, inputChannels: channels, outputChannels: 4 });
}

/** NHWC → NCHW of one batch of `c` channels. */
function toNchw(x: Float32Array, [n, h, w, c]: readonly number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      for (let k = 0; k < w; k++) {
        for (let j = 0; j < c; j++) {
          out[((i * c + j) * h + y) * w + k] = x[((i * h + y) * w + k) * c + j];
        }
      }
    }
  }
  return out;
}

/** What {@linkcode slidingPeers} measured. */
export interface SlidingPeers {
  /** Picture side. */
  size: number;
  /** Pictures per call (RGB); 1 unless asked. */
  batch: number;
  /** The tfjs backend slidewin ran on. */
  backend: string;
  /** Timed runs behind each median (after one warm-up). */
  runs: number;
  /** slidewin's convolutional form, output read back: median milliseconds. */
  slidewinMs: number;
  /** ONNX Runtime on the same weights, when it loads. */
  ortMs?: number;
  /** max |ORT − slidewin| / max |slidewin| on the timed input: both compute the same windows. */
  ortDifference?: number;
  /** PyTorch on the same layers (its own weights), when torch is installed. */
  torchMs?: number;
  /** PyTorch's version and threads. */
  torch?: string;
}

/**
 * Times the convolutional sliding window of Andrew's network on `batch` (default 1) RGB pictures
 * of `size`² (default 1080): slidewin on the current backend, ONNX Runtime (`ort`, when given) and
 * PyTorch, `runs` timed runs each after a warm-up.
 */
export async function slidingPeers(options: {
  size?: number;
  batch?: number;
  runs?: number;
  threads: number;
  ort?: Ort;
}): Promise<SlidingPeers> {
  const { size = 1080, batch = 1, runs = 3, threads } = options;
  const nets = buildAndrewNets({ seed: 0 });
  const shape = [batch, size, size, 3] as const;
  const images = tf.randomUniform([...shape], 0, 1, "float32", 1) as Tensor4D;
  try {
    let ours: Float32Array = new Float32Array(0);
    const slidewinMs = await medianMs(
      async () => {
        const out = nets.convolutional.apply(images); // tidy inside
        ours = await out.data() as Float32Array;
        out.dispose();
      },
      1,
      runs,
    );
    const result: SlidingPeers = {
      size,
      batch,
      backend: tf.getBackend(),
      runs,
      slidewinMs,
    };
    if (options.ort) {
      const ort = options.ort;
      const session = await ortSession(ort, andrewOnnx(nets), threads);
      const nchw = toNchw(await images.data() as Float32Array, shape);
      let theirs: Float32Array = new Float32Array(0);
      try {
        result.ortMs = await medianMs(
          async () => {
            theirs = (await ortRun(ort, session, nchw, [batch, 3, size, size])).data;
          },
          1,
          runs,
        );
      } finally {
        await session.release();
      }
      // ORT's output is NCHW [N, 4, rows, cols]; ours NHWC [N, rows, cols, 4]
      const cells = ours.length / (batch * 4);
      let diff = 0, scale = 0;
      for (let i = 0; i < ours.length; i++) {
        const n = Math.floor(i / (cells * 4)), cell = Math.floor(i / 4) % cells, k = i % 4;
        diff = Math.max(diff, Math.abs(theirs[(n * 4 + k) * cells + cell] - ours[i]));
        scale = Math.max(scale, Math.abs(ours[i]));
      }
      result.ortDifference = diff / scale;
    }
    const torch = await torchForward(ANDREW_ARCH, size, runs, threads, { batch, channels: 3 });
    if (torch) {
      result.torchMs = torch.ms;
      result.torch = torch.framework;
    }
    return result;
  } finally {
    images.dispose();
    nets.dispose();
  }
}
