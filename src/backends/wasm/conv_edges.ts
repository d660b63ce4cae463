/**
 * The edges of the two convolution-gradient kernels, shared by wasm (./conv_backprop.ts) and
 * native (../native/conv.ts), so both read their operands exactly as tfjs-cpu does:
 *
 * - the geometry comes from the input shape (`inputShape`, or `x`), the filter, strides, pad and
 *   rounding — never from `dy`;
 * - a `dy` larger than the geometry's output `[N, Ho, Wo, Co]` (in any axis: batch, rows, columns,
 *   channels) is read only in its top-left block, as tfjs-cpu's loops do (`tf.conv2dTranspose`
 *   with an `outputShape` smaller than `x` makes one); a smaller `dy` is an error (tfjs-cpu reads
 *   past its rows there, or past its end: values of neighbouring pixels or NaN);
 * - an empty output (a "valid" kernel larger than the input) gives zeros, like tfjs-cpu;
 * - input channels that disagree with the filter, NCHW, and dilations are errors that name what
 *   does work.
 *
 * @module
 */
import { tf } from "../../deps.ts";
import { heapF32, type Info, runWasmKernel, type WasmBackend } from "./wasm_heap.ts";

/** The two gradient kernels. */
export type GradientKernel = "Conv2DBackpropFilter" | "Conv2DBackpropInput";

/** The attributes of either gradient kernel that decide what it accepts. */
export interface GradientAttrs {
  /** Stride `[h, w]` or one number. */
  strides: [number, number] | number;
  /** "valid", "same", a number, or explicit pads. */
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  /** Only "NHWC" is supported. */
  dataFormat?: "NHWC" | "NCHW";
  /** Rounding of output sizes for numeric pads. */
  dimRoundingMode?: "floor" | "round" | "ceil";
  /** Not an attribute of tfjs's kernels; only 1 is accepted when given. */
  dilations?: [number, number] | number;
}

type Shape4 = [number, number, number, number];

/**
 * Throws a one-line error for what neither wasm nor native computes: NCHW (tfjs-cpu does:
 * `--backend=cpu`) and dilations above 1 (no tfjs 4.22 backend has gradients of dilated
 * convolutions: `tf.conv2d`'s gradient refuses them, and tfjs-cpu's kernels ignore the attribute).
 *
 * @example
 * ```ts
 * import { checkGradientRequest } from "./conv_edges.ts";
 * try {
 *   checkGradientRequest("Conv2DBackpropInput", { strides: 1, pad: "same", dataFormat: "NCHW" });
 * } catch (e) {
 *   console.log((e as Error).message); // "Conv2DBackpropInput with dataFormat "NCHW" is not …"
 * }
 * ```
 */
export function checkGradientRequest(kernel: GradientKernel, attrs: GradientAttrs): void {
  if (attrs.dataFormat === "NCHW") {
    throw new Error(
      `${kernel} with dataFormat "NCHW" is not supported on backends "wasm" and "native"; ` +
        "transpose to NHWC first, or use --backend=cpu",
    );
  }
  const d = attrs.dilations;
  if (d !== undefined && ![d].flat().every((v) => v === 1)) {
    throw new Error(
      `${kernel} with dilations ${JSON.stringify(d)}: no tfjs 4.22 backend computes gradients of ` +
        "dilated convolutions (cpu ignores the attribute); use dilations 1",
    );
  }
}

/** A kernel's operands brought to its geometry: `block` is `null` when the output is all zeros. */
export interface Fitted {
  /** The geometry (tfjs's `Conv2DInfo`, dilation 1). */
  info: tf.backend_util.Conv2DInfo;
  /** `dy`, or its top-left block `[N, Ho, Wo, Co]`; `null` when that block is empty. */
  block: Info | null;
  /** Tensors made here, for the caller to dispose (the block when it is a copy). */
  temps: Info[];
}

function shapeText(s: readonly number[]): string {
  return `[${s.join(", ")}]`;
}

/**
 * `dy` itself when its shape is `want`, its top-left block when larger, `null` when that block is
 * empty; throws when smaller.
 */
function topLeft(
  backend: WasmBackend,
  dy: Info,
  opts: { want: Shape4; kernel: GradientKernel },
): Info | null {
  const { want, kernel } = opts;
  if (dy.shape.length !== 4) {
    throw new Error(`Argument dy of ${kernel} must be rank 4 (NHWC), got ${shapeText(dy.shape)}`);
  }
  if (want.some((v, i) => dy.shape[i] < v)) {
    throw new Error(
      `Argument dy of ${kernel} has shape ${shapeText(dy.shape)}, smaller than the convolution's ` +
        `output ${shapeText(want)}; pass a dy of at least that shape`,
    );
  }
  if (want.some((v) => v === 0)) return null;
  if (want.every((v, i) => dy.shape[i] === v)) return dy;
  return runWasmKernel(backend, "Slice", {
    inputs: { x: dy },
    attrs: { begin: [0, 0, 0, 0], size: want },
  });
}

function fit(
  backend: WasmBackend,
  dy: Info,
  opts: { info: tf.backend_util.Conv2DInfo; kernel: GradientKernel },
): Fitted {
  const { info, kernel } = opts;
  const want: Shape4 = [
    info.batchSize,
    Math.max(0, info.outHeight),
    Math.max(0, info.outWidth),
    info.outChannels,
  ];
  const block = topLeft(backend, dy, { want, kernel });
  return { info, block, temps: block && block !== dy ? [block] : [] };
}

/**
 * Checks a `Conv2DBackpropInput` request and brings `dy` to its geometry (see the module doc).
 *
 * @example
 * ```ts
 * import { tf } from "../../deps.ts";
 * import "../backend.ts";
 * import { fitBackpropInput } from "./conv_edges.ts";
 * import type { WasmBackend } from "./wasm_heap.ts";
 * await tf.setBackend("wasm");
 * const backend = tf.backend() as unknown as WasmBackend;
 * const dy = tf.ones([1, 8, 8, 2]), filter = tf.ones([3, 3, 1, 2]);
 * const { block } = fitBackpropInput(backend, { dy, filter,
 *   attrs: { strides: 1, pad: "same", inputShape: [1, 4, 4, 1] } });
 * console.log(block?.shape); // [1, 4, 4, 2]
 * ```
 */
export function fitBackpropInput(
  backend: WasmBackend,
  args: { dy: Info; filter: Info; attrs: GradientAttrs & { inputShape?: Shape4 } },
): Fitted {
  const { dy, filter, attrs } = args;
  const kernel = "Conv2DBackpropInput";
  checkGradientRequest(kernel, attrs);
  const inputShape = attrs.inputShape;
  if (!inputShape) throw new Error("Argument inputShape is required; pass the input's shape");
  if (filter.shape.length !== 4 || filter.shape[2] !== inputShape[3]) {
    throw new Error(
      `${kernel}: the filter ${shapeText(filter.shape)} must have as many input channels as ` +
        `inputShape ${shapeText(inputShape)}; pass a [kh, kw, ${inputShape[3]}, Co] filter`,
    );
  }
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as Shape4,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  return fit(backend, dy, { info, kernel });
}

/**
 * Checks a `Conv2DBackpropFilter` request and brings `dy` to its geometry (see the module doc).
 *
 * @example
 * ```ts
 * import { tf } from "../../deps.ts";
 * import "../backend.ts";
 * import { fitBackpropFilter } from "./conv_edges.ts";
 * import type { WasmBackend } from "./wasm_heap.ts";
 * await tf.setBackend("wasm");
 * const backend = tf.backend() as unknown as WasmBackend;
 * const x = tf.ones([1, 4, 4, 1]), dy = tf.ones([2, 5, 5, 2]);
 * const { block } = fitBackpropFilter(backend, { x, dy,
 *   attrs: { strides: 1, pad: "valid", filterShape: [3, 3, 1, 2] } });
 * console.log(block?.shape); // [1, 2, 2, 2]
 * ```
 */
export function fitBackpropFilter(
  backend: WasmBackend,
  args: { x: Info; dy: Info; attrs: GradientAttrs & { filterShape?: Shape4 } },
): Fitted {
  const { x, dy, attrs } = args;
  const kernel = "Conv2DBackpropFilter";
  checkGradientRequest(kernel, attrs);
  const filterShape = attrs.filterShape;
  if (!filterShape) throw new Error("Argument filterShape is required; pass the filter's shape");
  if (x.shape.length !== 4 || x.shape[3] !== filterShape[2]) {
    throw new Error(
      `${kernel}: x ${shapeText(x.shape)} must have as many channels as the filter shape ` +
        `${shapeText(filterShape)} has input channels; pass an NHWC x with ${filterShape[2]}`,
    );
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  return fit(backend, dy, { info, kernel });
}

/**
 * A zero-filled float32 output on the wasm heap (what an empty geometry gives).
 *
 * @example
 * ```ts
 * import { tf } from "../../deps.ts";
 * import "../backend.ts";
 * import { zerosOutput } from "./conv_edges.ts";
 * import type { WasmBackend } from "./wasm_heap.ts";
 * await tf.setBackend("wasm");
 * const z = zerosOutput(tf.backend() as unknown as WasmBackend, [2, 2]);
 * console.log(Array.from(await tf.engine().makeTensorFromTensorInfo(z).data())); // [0, 0, 0, 0]
 * ```
 */
export function zerosOutput(backend: WasmBackend, shape: number[]): Info {
  const out = backend.makeOutput(shape, "float32");
  heapF32(backend, out).fill(0);
  return out;
}
