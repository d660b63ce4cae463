/**
 * Convolution kernels of the "native" backend: `im2col` (./im2col.ts) plus one OpenBLAS
 * `sgemm` each, on tensors that live on the tfjs wasm heap.
 *
 * - `Conv2D` / `FusedConv2D`: `y = cols · W` (+ bias, ReLU), `W` read as `[kh·kw·Ci, Co]`;
 * - `Conv2DBackpropFilter`: `dW = colsᵀ · dy` — reusing the forward pass's `cols` when the same
 *   input was convolved under a gradient tape (cached by data id), so training makes one patch
 *   matrix per layer and step;
 * - `Conv2DBackpropInput`: `dx = col2im(dy · Wᵀ)`.
 *
 * A 1×1 stride-1 convolution needs no patch matrix. What these do not cover (dtypes other than
 * float32, activations other than linear/ReLU, non-vector bias) goes to the wasm kernels; NCHW is
 * an error naming `--backend=cpu` (wasm has no NCHW convolutions either). The gradients read their
 * operands as tfjs-cpu does, e.g. only the top-left block of a larger `dy`
 * (../wasm/conv_edges.ts).
 *
 * @module
 */
import { tf } from "../../deps.ts";
import type { ConvBackpropAttrs } from "../wasm/conv_backprop.ts";
import { fitBackpropFilter, fitBackpropInput, zerosOutput } from "../wasm/conv_edges.ts";
import {
  disposeInfos,
  heapF32,
  type Info,
  runWasmKernel,
  sizeOf,
  type WasmBackend,
} from "../wasm/wasm_heap.ts";
import {
  col2im,
  colsShape,
  type ConvGeometry,
  fillRows,
  geometryKey,
  im2col,
  isPointwise,
  relu,
} from "./im2col.ts";
import type { Blas } from "./openblas.ts";

type Shape4 = [number, number, number, number];

interface ConvAttrs {
  strides: [number, number] | number;
  pad: ConvBackpropAttrs["pad"];
  dataFormat: "NHWC" | "NCHW";
  dilations?: [number, number] | number;
  dimRoundingMode?: "floor" | "round" | "ceil";
  activation?: string;
  leakyreluAlpha?: number;
}

type KernelArgs<I> = { inputs: I; backend: WasmBackend; attrs: ConvAttrs & ConvBackpropAttrs };

/** Patch matrices kept from forward passes under a tape, for the filter gradient. */
const colsCache = new Map<unknown, { key: string; cols: Float32Array }>();
const CACHE_ENTRIES = 8;
/** At most this many floats (32 MiB) are kept in all, oldest entries dropped first. */
const CACHE_FLOATS = 1 << 23;
/** Patch matrices above this many floats are not kept (nor is a scratch buffer that large). */
const BIG = 1 << 22;

let scratch = new Float32Array(0);

/** Spent patch matrices by size, for the next step's forward pass (fresh arrays cost page faults). */
const spare = new Map<number, Float32Array[]>();
const SPARE_PER_SIZE = 4;

function buffer(size: number, keep: boolean): Float32Array {
  if (keep) return spare.get(size)?.pop() ?? new Float32Array(size);
  if (size > BIG) return new Float32Array(size);
  if (scratch.length < size) scratch = new Float32Array(size);
  return scratch.subarray(0, size);
}

function release(cols: Float32Array): void {
  const list = spare.get(cols.length) ?? [];
  if (list.length < SPARE_PER_SIZE) list.push(cols);
  spare.set(cols.length, list);
}

function taping(): boolean {
  return (tf.engine().state as unknown as { gradientDepth: number }).gradientDepth > 0;
}

/** The patch matrix of `x` for `g`: from the cache, or made now (and cached when `keep`). */
function patches(
  backend: WasmBackend,
  x: Info,
  g: ConvGeometry,
  opts: { keep: boolean; take: boolean },
): { cols: Float32Array; cached: boolean } {
  const key = geometryKey(g);
  const hit = colsCache.get(x.dataId);
  if (hit && hit.key === key) {
    if (opts.take) colsCache.delete(x.dataId);
    return { cols: hit.cols, cached: true };
  }
  const [rows, k] = colsShape(g);
  const keep = opts.keep && rows * k <= BIG;
  const cols = buffer(rows * k, keep);
  im2col(heapF32(backend, x), g, cols);
  if (keep) {
    colsCache.set(x.dataId, { key, cols });
    let total = 0;
    for (const e of colsCache.values()) total += e.cols.length;
    for (const [id, e] of colsCache) {
      if (colsCache.size <= CACHE_ENTRIES && total <= CACHE_FLOATS) break;
      colsCache.delete(id);
      total -= e.cols.length;
    }
  }
  return { cols, cached: false };
}

function supported(x: Info): boolean {
  return x.dtype === "float32";
}

/** NCHW: neither native nor wasm has it (tfjs's wasm `Conv2D` would say "wasm" on native). */
function checkForward(kernel: string, attrs: ConvAttrs): void {
  if (attrs.dataFormat === "NCHW") {
    throw new Error(
      `${kernel} with dataFormat "NCHW" is not supported on backends "native" and "wasm"; ` +
        "transpose to NHWC first, or use --backend=cpu",
    );
  }
}

/** The wasm backend's own kernel, for what the native ones do not cover. */
function onWasm(
  name: string,
  args: { inputs: object; backend: WasmBackend; attrs: object },
): Info {
  return runWasmKernel(args.backend, name, {
    inputs: args.inputs as Record<string, Info>,
    attrs: args.attrs as Record<string, unknown>,
  });
}

function forward(
  blas: Blas,
  backend: WasmBackend,
  x: Info,
  filter: Info,
  attrs: ConvAttrs,
  bias?: Info,
): Info {
  const g = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filter.shape as Shape4,
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const [rows, k] = colsShape(g);
  const co = g.outChannels;
  const keep = taping();
  const pointwise = isPointwise(g);
  // Without a tape, a large batch goes through in chunks of images, so the patch matrix stays in
  // the reused scratch buffer (a fresh 100 MB array per call costs more than the product).
  const perImage = g.outHeight * g.outWidth;
  const chunk = keep || pointwise || rows * k <= BIG
    ? g.batchSize
    : Math.max(1, Math.floor(BIG / (perImage * k)));
  const a = pointwise || chunk < g.batchSize
    ? null
    : patches(backend, x, g, { keep, take: false }).cols;
  const out = backend.makeOutput(g.outShape, "float32");
  const y = heapF32(backend, out);
  let beta = 0;
  if (bias) {
    const b = heapF32(backend, bias);
    fillRows(y, b, rows);
    beta = 1;
  }
  const w = heapF32(backend, filter);
  if (pointwise || a) {
    blas.sgemm(a ?? heapF32(backend, x), w, y, { m: rows, n: co, k, beta });
  } else {
    const xs = heapF32(backend, x), perInput = g.inHeight * g.inWidth * g.inChannels;
    for (let start = 0; start < g.batchSize; start += chunk) {
      const count = Math.min(chunk, g.batchSize - start);
      const part = { ...g, batchSize: count };
      const cols = buffer(count * perImage * k, false);
      im2col(xs.subarray(start * perInput, (start + count) * perInput), part, cols);
      const ys = y.subarray(start * perImage * co, (start + count) * perImage * co);
      blas.sgemm(cols, w, ys, { m: count * perImage, n: co, k, beta });
    }
  }
  if (attrs.activation === "relu") {
    relu(y);
  }
  return out;
}

/**
 * The native kernels, bound to one OpenBLAS. Register them for the "native" backend (see
 * ./register.ts).
 *
 * @example
 * ```ts
 * import { openBlas } from "./openblas.ts";
 * import { nativeConvKernels } from "./conv.ts";
 * const blas = openBlas();
 * if (blas) console.log(Object.keys(nativeConvKernels(blas)).length); // 4
 * ```
 */
export function nativeConvKernels(blas: Blas): Record<string, tf.KernelFunc> {
  const conv2d = (args: KernelArgs<{ x: Info; filter: Info }>): Info => {
    const { inputs: { x, filter }, backend, attrs } = args;
    checkForward("Conv2D", attrs);
    if (!supported(x)) return onWasm("Conv2D", args);
    return forward(blas, backend, x, filter, attrs);
  };
  const fused = (
    args: KernelArgs<{ x: Info; filter: Info; bias?: Info; preluActivationWeights?: Info }>,
  ): Info => {
    const { inputs: { x, filter, bias, preluActivationWeights }, backend, attrs } = args;
    const act = attrs.activation ?? "linear";
    const co = filter.shape[3];
    const biasOk = !bias || (bias.dtype === "float32" && sizeOf(bias.shape) === co);
    checkForward("FusedConv2D", attrs);
    if (
      !supported(x) || !biasOk || preluActivationWeights ||
      (act !== "linear" && act !== "relu")
    ) {
      return onWasm("FusedConv2D", args);
    }
    return forward(blas, backend, x, filter, attrs, bias);
  };
  const backpropFilter = (args: KernelArgs<{ x: Info; dy: Info }>): Info => {
    const { inputs: { x }, backend, attrs } = args;
    if (!supported(x)) return onWasm("Conv2DBackpropFilter", args);
    const { info: g, block: dy, temps } = fitBackpropFilter(backend, { ...args.inputs, attrs });
    if (!dy) return zerosOutput(backend, g.filterShape);
    const [rows, k] = colsShape(g);
    const p = isPointwise(g) ? null : patches(backend, x, g, { keep: false, take: true });
    const out = backend.makeOutput(g.filterShape, "float32");
    blas.sgemm(p?.cols ?? heapF32(backend, x), heapF32(backend, dy), heapF32(backend, out), {
      m: k,
      n: g.outChannels,
      k: rows,
      transA: true,
    });
    if (p?.cached) release(p.cols);
    disposeInfos(backend, temps);
    return out;
  };
  const backpropInput = (args: KernelArgs<{ dy: Info; filter: Info }>): Info => {
    const { inputs: { filter }, backend, attrs } = args;
    if (!supported(args.inputs.dy)) return onWasm("Conv2DBackpropInput", args);
    const { info: g, block: dy, temps } = fitBackpropInput(backend, { ...args.inputs, attrs });
    if (!dy) return zerosOutput(backend, g.inShape);
    const [rows, k] = colsShape(g);
    const dims = { m: rows, n: k, k: g.outChannels, transB: true };
    const out = backend.makeOutput(g.inShape, "float32");
    if (isPointwise(g)) {
      blas.sgemm(heapF32(backend, dy), heapF32(backend, filter), heapF32(backend, out), dims);
    } else {
      const dcols = buffer(rows * k, false);
      blas.sgemm(heapF32(backend, dy), heapF32(backend, filter), dcols, dims);
      col2im(dcols, g, heapF32(backend, out));
    }
    disposeInfos(backend, temps);
    return out;
  };
  return {
    Conv2D: conv2d as unknown as tf.KernelFunc,
    FusedConv2D: fused as unknown as tf.KernelFunc,
    Conv2DBackpropFilter: backpropFilter as unknown as tf.KernelFunc,
    Conv2DBackpropInput: backpropInput as unknown as tf.KernelFunc,
  };
}
