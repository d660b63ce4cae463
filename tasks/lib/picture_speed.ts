/**
 * One large picture through each runtime, for `deno task bench`: slidewin's forward pass
 * (`model.apply`), `detect` on one level and with its default image pyramid (decoding and NMS
 * included: what `deno task detect --image` runs after preparing the picture), against ONNX
 * Runtime (the shipped detector's model.onnx) and PyTorch (tasks/bench_torch.py, the same layers)
 * running the same net's forward pass on the same size. The net is the shipped detector's
 * (`wide`), the picture a seeded scene of a few MNIST digits.
 *
 * @module
 */
import { tf } from "../../src/deps.ts";
import { loadModel, PRETRAINED_DETECTOR } from "../../src/model/checkpoint.ts";
import { DEFAULT_OFFSETS, detect, pyramidScales } from "../../src/detection/detect.ts";
import { makeMultiScenes } from "../../src/data/multi_scenes.ts";
import type { MnistSplit } from "../../src/data/mnist.ts";
import { LOSS_TERMS } from "../../src/model/loss/terms.ts";
import { medianMs } from "./stats.ts";
import { runBenchTorch } from "./torch_ref.ts";
import { type Ort, ortSession } from "./ort.ts";

/** What {@linkcode pictureSpeed} measured, milliseconds (medians). */
export interface PictureSpeed {
  /** Side of the picture. */
  size: number;
  /** The tfjs backend slidewin ran on. */
  backend: string;
  /** Timed runs behind each median (after one warm-up). */
  runs: number;
  /** `model.apply` with its output read back. */
  applyMs: number;
  /** `detect` with `scales: [1]` and one pass (`offsets: 1`): one forward pass, decoded. */
  detectOneLevelMs: number;
  /** `detect` with its default pyramid, one pass per level (`offsets: 1`). */
  detectPyramidOnePassMs: number;
  /** `detect` as the tasks run it: the default pyramid and offset passes. */
  detectPyramidMs: number;
  /** The offset passes per axis of `detectPyramidMs` (detect's default). */
  offsets: number;
  /** The pyramid's levels. */
  levels: number[];
  /** ONNX Runtime's forward pass, when it loads. */
  ortMs?: number;
  /** PyTorch's forward pass, when torch is installed. */
  torchMs?: number;
  /** PyTorch's version and threads. */
  torch?: string;
}

/**
 * PyTorch's forward pass of `arch` on `batch` pictures of `size`² with `channels` channels (default
 * one grey picture), or undefined without torch.
 */
export async function torchForward(
  arch: unknown,
  size: number,
  runs: number,
  threads: number,
  input: { batch?: number; channels?: number } = {},
): Promise<{ ms: number; framework: string } | undefined> {
  const json = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(
      json,
      JSON.stringify({
        arch,
        inputChannels: input.channels ?? 1,
        lossTerms: LOSS_TERMS.map((t) => t.name),
      }),
    );
    const r = await runBenchTorch([
      json,
      "--infer-size",
      String(size),
      "--infer-batch",
      String(input.batch ?? 1),
      "--steps",
      String(runs),
      "--threads",
      String(threads),
    ]);
    return r
      ? { ms: r.inferMs as number, framework: `${r.framework}, ${r.threads} threads` }
      : undefined;
  } finally {
    await Deno.remove(json).catch(() => {});
  }
}

/**
 * Times one `size`² picture (default 1080) through slidewin on the current backend, ONNX Runtime
 * (`ort`, when given) and PyTorch, `runs` timed runs each after a warm-up.
 */
export async function pictureSpeed(options: {
  source: MnistSplit;
  size?: number;
  runs?: number;
  threads: number;
  ort?: Ort;
}): Promise<PictureSpeed> {
  const { source, size = 1080, runs = 3, threads } = options;
  const { model } = await loadModel(PRETRAINED_DETECTOR);
  const scene = await makeMultiScenes(source, { count: 1, seed: 7, size, digits: [4, 12] });
  const images = scene.images;
  try {
    const applyMs = await medianMs(
      async () => {
        const out = tf.tidy(() => model.apply(images));
        await out.data();
        out.dispose();
      },
      1,
      runs,
    );
    const detectOneLevelMs = await medianMs(
      () => detect(model, images, { scales: [1], offsets: 1 }),
      1,
      runs,
    );
    const detectPyramidOnePassMs = await medianMs(
      () => detect(model, images, { offsets: 1 }),
      1,
      runs,
    );
    const detectPyramidMs = await medianMs(() => detect(model, images), 1, runs);
    const result: PictureSpeed = {
      size,
      backend: tf.getBackend(),
      runs,
      applyMs,
      detectOneLevelMs,
      detectPyramidOnePassMs,
      detectPyramidMs,
      offsets: DEFAULT_OFFSETS,
      levels: pyramidScales(size, size, model.geometry.size),
    };
    if (options.ort) {
      const onnx = await Deno.readFile(new URL("model.onnx", PRETRAINED_DETECTOR));
      const session = await ortSession(options.ort, onnx, threads);
      const input = new options.ort.Tensor("float32", await images.data() as Float32Array, [
        1,
        1,
        size,
        size,
      ]);
      try {
        result.ortMs = await medianMs(
          async () => {
            const out = await session.run({ [session.inputNames[0]]: input });
            void out[session.outputNames[0]].data;
          },
          1,
          runs,
        );
      } finally {
        await session.release();
      }
    }
    const torch = await torchForward(model.arch, size, runs, threads);
    if (torch) Object.assign(result, { torchMs: torch.ms, torch: torch.framework });
    return result;
  } finally {
    images.dispose();
    model.dispose();
  }
}
