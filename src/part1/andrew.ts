/**
 * Part 1 of the assignment: Andrew Ng's C4W3 network (14×14×3 window: conv 5×5→16, max-pool 2,
 * FC 400, FC 400, FC 4) in two forms that share one set of weights:
 *
 * - `sequential` runs on one 14×14 window at a time (FC layers as matrix products), and
 * - `convolutional` runs on a whole image (the same FC weights reshaped into 5×5 and 1×1
 *   convolution kernels), giving one output per window in a single pass.
 *
 * Flattening a `[5, 5, 16]` NHWC activation in row-major order lists its values as (row, col,
 * channel), exactly the order of a `[5, 5, 16, 400]` convolution kernel's first three axes — so
 * FC 400 *is* a 5×5 convolution with those weights reshaped, not re-initialised.
 *
 * @module
 */
import { type Tensor, type Tensor2D, type Tensor4D, tf } from "../deps.ts";
import type { LayerSpec } from "../geometry.ts";
import { windowGeometry } from "../geometry.ts";
import { makeRng } from "../rng.ts";

/** The layer stack of Andrew's network in its convolutional form (window 14, stride 2). */
export const ANDREW_LAYERS: readonly LayerSpec[] = [
  { kind: "conv", kernel: 5 },
  { kind: "pool", kernel: 2 },
  { kind: "conv", kernel: 5 },
  { kind: "conv", kernel: 1 },
  { kind: "conv", kernel: 1 },
];

/** A network map: a function of a batch of NHWC images. */
export interface SlidingNet {
  /** Runs the network; see the form's documentation for shapes. */
  apply(x: Tensor4D): Tensor;
  /** Its layer stack, for the window geometry. */
  readonly layers: readonly LayerSpec[];
}

/** The two forms of Andrew's network and the weights they share. */
export interface AndrewNets {
  /** `[M, 14, 14, C]` windows → `[M, 4]`: one window at a time, FC layers as matrix products. */
  sequential: SlidingNet;
  /** `[N, H, W, C]` images → `[N, rows, cols, 4]`: all windows at once. */
  convolutional: SlidingNet;
  /** The shared weights, by name (kernels in tfjs layout `[kh, kw, in, out]`). */
  weights: Record<string, Tensor>;
  /** Frees the weights. */
  dispose(): void;
}

/** Options of {@linkcode buildAndrewNets}. */
export interface AndrewOptions {
  /** Seed of the weight initialisation (default 0). */
  seed?: number;
  /** Input channels (default 3). */
  channels?: number;
  /** Add an extra layer after the max-pool, for questions 6–7 (default none). */
  extra?: "conv" | "pool";
  /** Activation after every layer but the last (default "relu"; the equivalence holds for any). */
  activation?: "relu" | "linear";
}

/**
 * Builds Andrew's network in its sequential and convolutional forms, sharing one set of weights.
 *
 * @example
 * ```ts
 * import { buildAndrewNets, slideSequential } from "./andrew.ts";
 * import { useBackend } from "../backends/backend.ts";
 * import { type Tensor, type Tensor2D, type Tensor4D, tf } from "../deps.ts";
 * await useBackend("cpu");
 * const nets = buildAndrewNets({ seed: 1 });
 * const x = tf.randomUniform([1, 16, 16, 3], 0, 1, "float32", 2) as Tensor4D;
 * const conv = nets.convolutional.apply(x); // [1, 2, 2, 4]
 * const seq = slideSequential(nets.sequential, x, { size: 14, stride: 2 });
 * console.log(tf.norm(tf.sub(conv, seq)).arraySync()); // ~0
 * ```
 */
export function buildAndrewNets(options: AndrewOptions = {}): AndrewNets {
  const { seed = 0, channels = 3, extra, activation = "relu" } = options;
  const rng = makeRng(seed);
  // Uniform(−1/√fanIn, 1/√fanIn), as PyTorch initialises Conv2d/Linear
  const init = (shape: number[], fanIn: number) =>
    tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn), "float32", rng.seed());
  const weights: Record<string, Tensor> = {
    conv1: init([5, 5, channels, 16], 25 * channels),
    bias1: init([16], 25 * channels),
  };
  if (extra === "conv") {
    weights.convx = init([3, 3, 16, 16], 9 * 16);
    weights.biasx = init([16], 9 * 16);
  }
  // after the extra layer the map is 5×5 again for the 14→18 / 14→24 windows below
  weights.fc1 = init([5, 5, 16, 400], 400);
  weights.fcb1 = init([400], 400);
  weights.fc2 = init([1, 1, 400, 400], 400);
  weights.fcb2 = init([400], 400);
  weights.fc3 = init([1, 1, 400, 4], 400);
  weights.fcb3 = init([4], 400);
  const act = activation === "relu" ? "relu" : "linear";

  const layers: LayerSpec[] = [{ kind: "conv", kernel: 5 }, { kind: "pool", kernel: 2 }];
  if (extra === "conv") layers.push({ kind: "conv", kernel: 3 });
  if (extra === "pool") layers.push({ kind: "pool", kernel: 2 });
  layers.push({ kind: "conv", kernel: 5 }, { kind: "conv", kernel: 1 }, {
    kind: "conv",
    kernel: 1,
  });

  const trunk = (x: Tensor4D): Tensor4D => {
    let a = tf.fused.conv2d({
      x,
      filter: weights.conv1 as Tensor4D,
      bias: weights.bias1,
      strides: 1,
      pad: "valid",
      activation: act,
    });
    a = tf.maxPool(a, 2, 2, "valid");
    if (extra === "conv") {
      a = tf.fused.conv2d({
        x: a,
        filter: weights.convx as Tensor4D,
        bias: weights.biasx,
        strides: 1,
        pad: "valid",
        activation: act,
      });
    }
    if (extra === "pool") a = tf.maxPool(a, 2, 2, "valid");
    return a;
  };

  const convolutional: SlidingNet = {
    layers,
    apply: (x) =>
      tf.tidy(() => {
        let a = trunk(x);
        for (
          const [w, b, last] of [["fc1", "fcb1", false], ["fc2", "fcb2", false], [
            "fc3",
            "fcb3",
            true,
          ]] as const
        ) {
          a = tf.fused.conv2d({
            x: a,
            filter: weights[w] as Tensor4D,
            bias: weights[b],
            strides: 1,
            pad: "valid",
            activation: last ? "linear" : act,
          });
        }
        return a;
      }),
  };

  const sequential: SlidingNet = {
    layers,
    apply: (x) =>
      tf.tidy(() => {
        const { size } = windowGeometry(layers);
        if (x.shape[1] !== size || x.shape[2] !== size) {
          throw new RangeError(
            `Sequential form takes one window per image: expected ${size}×${size} inputs, got ${
              x.shape[1]
            }×${x.shape[2]}`,
          );
        }
        const a = trunk(x);
        let v: Tensor2D = tf.reshape(a, [a.shape[0], 400]);
        for (
          const [w, b, last] of [["fc1", "fcb1", false], ["fc2", "fcb2", false], [
            "fc3",
            "fcb3",
            true,
          ]] as const
        ) {
          const kernel = weights[w];
          const matrix = tf.reshape(kernel, [-1, kernel.shape[3] as number]) as Tensor2D;
          v = tf.fused.matMul({
            a: v,
            b: matrix,
            bias: weights[b],
            activation: last ? "linear" : act,
          }) as Tensor2D;
        }
        return v;
      }),
  };
  return {
    sequential,
    convolutional,
    weights,
    dispose: () => Object.values(weights).forEach((w) => w.dispose()),
  };
}

/** Options of {@linkcode slideSequential}. */
export interface SlideOptions {
  /** Window side in pixels. */
  size: number;
  /** Step between windows in pixels. */
  stride: number;
  /** Windows run through the model per call (default 4096); bounds the memory used. */
  chunk?: number;
}

/**
 * The sequential sliding window: crops every `size × size` window at the given stride (exact
 * copies, gathered in bounded chunks) and runs each through `model` (a per-window network giving
 * `[M, C]`), returning `[N, rows, cols, C]` in the same layout as the convolutional form.
 *
 * @example
 * ```ts
 * import { buildAndrewNets, slideSequential } from "./andrew.ts";
 * import { useBackend } from "../backends/backend.ts";
 * import { type Tensor, type Tensor2D, type Tensor4D, tf } from "../deps.ts";
 * await useBackend("cpu");
 * const { sequential } = buildAndrewNets();
 * const out = slideSequential(sequential, tf.zeros([2, 20, 18, 3]), { size: 14, stride: 2 });
 * console.log(out.shape); // [2, 4, 3, 4]
 * ```
 */
export function slideSequential(
  model: SlidingNet,
  images: Tensor4D,
  options: SlideOptions,
): Tensor4D {
  const { size, stride, chunk = 4096 } = options;
  if (!(Number.isInteger(size) && size >= 1)) {
    throw new RangeError(`size must be a positive integer, got ${size}`);
  }
  if (!(Number.isInteger(stride) && stride >= 1)) {
    throw new RangeError(`stride must be a positive integer, got ${stride}`);
  }
  const [n, h, w, c] = images.shape;
  if (h < size || w < size) {
    throw new RangeError(`Images of ${h}×${w} are smaller than the ${size}×${size} window`);
  }
  const rows = Math.floor((h - size) / stride) + 1;
  const cols = Math.floor((w - size) / stride) + 1;
  const total = n * rows * cols;
  // offsets of one window's pixels relative to its top-left pixel, in flat [n·h·w] indexing
  const within = new Int32Array(size * size);
  for (let r = 0; r < size; r++) for (let q = 0; q < size; q++) within[r * size + q] = r * w + q;
  const pixels = tf.reshape(images, [n * h * w, c]);
  const parts: Tensor[] = [];
  try {
    for (let first = 0; first < total; first += chunk) {
      const m = Math.min(chunk, total - first);
      const index = new Int32Array(m * size * size);
      for (let k = 0; k < m; k++) {
        const id = first + k;
        const img = Math.floor(id / (rows * cols));
        const i = Math.floor(id / cols) % rows;
        const j = id % cols;
        const origin = img * h * w + i * stride * w + j * stride;
        for (let t = 0; t < within.length; t++) index[k * within.length + t] = origin + within[t];
      }
      parts.push(tf.tidy(() => {
        const windows = tf.reshape(tf.gather(pixels, tf.tensor1d(index, "int32")), [
          m,
          size,
          size,
          c,
        ]) as Tensor4D;
        return model.apply(windows);
      }));
    }
    return tf.tidy(() => {
      const out = parts.length === 1 ? parts[0] : tf.concat(parts, 0);
      return tf.reshape(out, [n, rows, cols, out.shape[1] as number]) as Tensor4D;
    });
  } finally {
    pixels.dispose();
    parts.forEach((p) => p.dispose());
  }
}
