/**
 * A tape-free training step for the conv / max-pool stacks of ../../model/model.ts: forward pass, the
 * conditional loss of ../../model/loss.ts and its gradient, and backward pass, written out by hand on
 * `Float32Array`s with OpenBLAS doing every matrix product (./im2col.ts, ./openblas.ts).
 *
 * It computes what `tf.variableGrads(() => loss(model.apply(x), y).total)` computes — the spec
 * (specs/native_step_test.ts) holds it to tfjs-cpu's gradients — without tfjs's ~300 kernel
 * dispatches, tape and temporary tensors per step: on 2 cores that is most of a step once the
 * convolutions are native. The training step seam (../../training/step.ts) runs it on the main
 * thread and in the pool's Workers when the backend is "native"; the optimizer stays in tfjs.
 *
 * @module
 */
import { tf } from "../../deps.ts";
import type { ArchLayer } from "../../model/model.ts";
import {
  col2im,
  colsShape,
  type ConvGeometry,
  fillRows,
  im2col,
  isPointwise,
  relu,
} from "./im2col.ts";
import { sizeOf } from "../wasm/wasm_heap.ts";
import type { Sgemm } from "./openblas.ts";
import { type BoxReduction, CLASSES, OUTPUT, TARGET } from "../../model/layout.ts";

type Shape4 = [number, number, number, number];

interface ConvPlan {
  kind: "conv";
  /** Index of the layer in the architecture (the variables are `conv{index}/…`). */
  index: number;
  g: ConvGeometry & { outChannels: number };
  relu: boolean;
  pointwise: boolean;
  inShape: Shape4;
  outShape: Shape4;
}

interface PoolPlan {
  kind: "pool";
  index: number;
  k: number;
  s: number;
  inShape: Shape4;
  outShape: Shape4;
}

type Plan = ConvPlan | PoolPlan;

/**
 * Whole convolutions on flat NHWC arrays with `[kh, kw, Ci, Co]` filters — what a library with its
 * own convolution kernels (oneDNN, ../onednn/dnnl.ts) offers instead of `sgemm` + `im2col`. Given to
 * {@linkcode NativeStep} in place of an `sgemm`, it does every convolution of the step.
 */
export interface ConvEngine {
  /** `y = conv(x, w) + b`, ReLU'd when `relu`. */
  forward(
    g: ConvGeometry & { outChannels: number },
    io: { x: Float32Array; w: Float32Array; b: Float32Array; y: Float32Array; relu: boolean },
  ): void;
  /** `dx` (overwritten) from `dy` and `w`. */
  backwardData(
    g: ConvGeometry & { outChannels: number },
    io: { dy: Float32Array; w: Float32Array; dx: Float32Array },
  ): void;
  /** `dw` and `db` (overwritten) from `x` and `dy`. */
  backwardWeights(
    g: ConvGeometry & { outChannels: number },
    io: { x: Float32Array; dy: Float32Array; dw: Float32Array; db: Float32Array },
  ): void;
  /** Sets the threads it uses for calls from the calling thread (1 in a pool of Workers). */
  setThreads?(n: number): boolean;
}

/** Gradients (in `variableShapes(arch)` order) and the loss parts of one batch. */
export interface StepResult {
  /** One array per variable: `conv{i}/kernel`, `conv{i}/bias`, … in layer order. */
  grads: Float32Array[];
  /** detection, classification, regression, summed over windows and images. */
  parts: [number, number, number];
}

/**
 * The training step of one architecture, with buffers kept between calls of the same batch
 * shape.
 *
 * @example
 * ```ts
 * import { DEFAULT_ARCH, variableShapes } from "../../model/model.ts";
 * import { openBlas } from "./openblas.ts";
 * import { NativeStep } from "./step.ts";
 * const blas = openBlas();
 * if (blas) {
 *   const step = new NativeStep(DEFAULT_ARCH, blas.sgemm);
 *   const weights = [...variableShapes(DEFAULT_ARCH).values()]
 *     .map((s) => new Float32Array(s.reduce((a, b) => a * b, 1)));
 *   const { parts } = step.gradients(weights, {
 *     images: new Float32Array(64 * 64), imageShape: [1, 64, 64, 1],
 *     targets: new Float32Array(4 * 4 * 6), targetShape: [1, 4, 4, 6],
 *   });
 *   console.log(parts[0].toFixed(4)); // 16·ln 2 = "11.0904"
 * }
 * ```
 */
export class NativeStep {
  readonly #arch: readonly ArchLayer[];
  readonly #sgemm: Sgemm;
  readonly #convs: ConvEngine | null;
  readonly #box: BoxReduction;
  readonly #inputChannels: number;
  #key = "";
  #plans: Plan[] = [];
  /** Activations: acts[0] is the input, acts[i + 1] the output of layer i. */
  #acts: Float32Array[] = [];
  #grads: Float32Array[] = [];
  #cols: (Float32Array | null)[] = [];
  #argmax: (Int32Array | null)[] = [];
  #dcols = new Float32Array(0);
  #dOut = new Float32Array(0);

  /**
   * `engine`: OpenBLAS's `sgemm` (the convolutions as `im2col` + products) or a
   * {@linkcode ConvEngine} doing whole convolutions; `box`: reduction of the box error as in
   * ../loss.ts; `inputChannels`: default 1.
   */
  constructor(
    arch: readonly ArchLayer[],
    engine: Sgemm | ConvEngine,
    options: { box?: BoxReduction; inputChannels?: number } = {},
  ) {
    this.#arch = arch;
    this.#convs = typeof engine === "function" ? null : engine;
    this.#sgemm = typeof engine === "function" ? engine : () => {
      throw new Error("NativeStep: no sgemm with a convolution engine");
    };
    this.#box = options.box ?? "sum";
    this.#inputChannels = options.inputChannels ?? 1;
  }

  #plan(imageShape: Shape4): void {
    const key = imageShape.join(",");
    if (key === this.#key) return;
    const plans: Plan[] = [];
    let shape = imageShape;
    for (const [index, l] of this.#arch.entries()) {
      if (l.kind === "pool") {
        const s = l.stride ?? l.kernel;
        const info = tf.backend_util.computePool2DInfo(shape, l.kernel, s, 1, "valid");
        const outShape = info.outShape as Shape4;
        plans.push({ kind: "pool", index, k: l.kernel, s, inShape: shape, outShape });
        shape = outShape;
        continue;
      }
      const s = l.stride ?? 1;
      const g = tf.backend_util.computeConv2DInfo(
        shape,
        [l.kernel, l.kernel, shape[3], l.filters],
        s,
        1,
        l.padding ? l.padding : "valid",
      );
      const pointwise = isPointwise(g);
      const outShape = g.outShape as Shape4;
      plans.push({
        kind: "conv",
        index,
        g,
        relu: (l.activation ?? "relu") === "relu",
        pointwise,
        inShape: shape,
        outShape,
      });
      shape = outShape;
    }
    const size = sizeOf;
    this.#plans = plans;
    this.#acts = [new Float32Array(0), ...plans.map((p) => new Float32Array(size(p.outShape)))];
    this.#grads = plans.map((p) => new Float32Array(size(p.inShape)));
    this.#cols = plans.map((p) => {
      if (p.kind !== "conv" || p.pointwise || this.#convs) return null;
      const [r, c] = colsShape(p.g);
      return new Float32Array(r * c);
    });
    this.#argmax = plans.map((p) => p.kind === "pool" ? new Int32Array(size(p.outShape)) : null);
    let most = 0;
    for (const p of plans) {
      if (p.kind === "conv" && !p.pointwise && !this.#convs) {
        most = Math.max(most, size(colsShape(p.g)));
      }
    }
    this.#dcols = new Float32Array(most);
    this.#key = key;
  }

  /** Checks the weights and images, plans the buffers, and indexes the weights by layer. */
  #prepare(weights: readonly Float32Array[], images: Float32Array, imageShape: Shape4) {
    if (imageShape[3] !== this.#inputChannels) {
      throw new RangeError(
        `images must have ${this.#inputChannels} channel(s), got ${imageShape[3]}`,
      );
    }
    if (images.length !== sizeOf(imageShape)) {
      throw new RangeError(`images: ${images.length} values for shape [${imageShape}]`);
    }
    this.#plan(imageShape);
    const convs = this.#plans.filter((p): p is ConvPlan => p.kind === "conv");
    if (weights.length !== 2 * convs.length) {
      throw new RangeError(`weights: expected ${2 * convs.length} arrays, got ${weights.length}`);
    }
    for (const [i, p] of convs.entries()) {
      const kernel = p.g.filterHeight * p.g.filterWidth * p.g.inChannels * p.g.outChannels;
      if (weights[2 * i].length !== kernel || weights[2 * i + 1].length !== p.g.outChannels) {
        throw new RangeError(
          `weights of conv${p.index}: expected ${kernel} and ${p.g.outChannels} values, ` +
            `got ${weights[2 * i].length} and ${weights[2 * i + 1].length}`,
        );
      }
    }
    const wOf = new Map(
      convs.map((p, i) => [p.index, { w: weights[2 * i], b: weights[2 * i + 1] }]),
    );
    return { convs, wOf };
  }

  /** The forward pass into this.#acts (acts[0] = images). */
  #forward(images: Float32Array, wOf: Map<number, { w: Float32Array; b: Float32Array }>): void {
    const plans = this.#plans, acts = this.#acts, sgemm = this.#sgemm;
    acts[0] = images;
    for (const [i, p] of plans.entries()) {
      const x = acts[i], y = acts[i + 1];
      if (p.kind === "pool") {
        maxPool(x, p, y, this.#argmax[i]!);
        continue;
      }
      const { w, b } = wOf.get(p.index)!;
      if (this.#convs) {
        this.#convs.forward(p.g, { x, w, b, y, relu: p.relu });
        continue;
      }
      const co = p.g.outChannels;
      const rows = y.length / co;
      fillRows(y, b, rows);
      const [, k] = colsShape(p.g);
      let a = x;
      if (!p.pointwise) {
        a = this.#cols[i]!;
        im2col(x, p.g, a);
      }
      sgemm(a, w, y, { m: rows, n: co, k, beta: 1 });
      if (p.relu) relu(y);
    }
  }

  /**
   * The network's raw outputs `[N, rows, cols, 15]` (flat, a fresh array) for `images`
   * `[N, H, W, C]` at `weights` (`variableShapes(arch)` order): what `model.apply` computes.
   */
  forward(
    weights: readonly Float32Array[],
    images: Float32Array,
    imageShape: Shape4,
  ): Float32Array {
    const { wOf } = this.#prepare(weights, images, imageShape);
    this.#forward(images, wOf);
    return this.#acts[this.#plans.length].slice();
  }

  /**
   * Gradients of the summed conditional loss with respect to every variable, at `weights`
   * (`variableShapes(arch)` order), for `images` `[N, H, W, C]` and `targets` `[N, rows, cols, 6]`.
   * The returned arrays are fresh (safe to transfer).
   */
  gradients(
    weights: readonly Float32Array[],
    batch: { images: Float32Array; imageShape: Shape4; targets: Float32Array; targetShape: Shape4 },
  ): StepResult {
    const { images, imageShape, targets, targetShape } = batch;
    const { convs, wOf } = this.#prepare(weights, images, imageShape);
    const plans = this.#plans, acts = this.#acts, sgemm = this.#sgemm;
    const last = plans[plans.length - 1].outShape;
    const want = [last[0], last[1], last[2], TARGET.channels];
    if (targetShape.join(",") !== want.join(",") || targets.length !== sizeOf(want)) {
      throw new RangeError(
        `targets must have shape [${want}], got [${targetShape}] (${targets.length} values)`,
      );
    }
    this.#forward(images, wOf);

    // loss and its gradient with respect to the output
    const out = acts[plans.length];
    if (this.#dOut.length !== out.length) this.#dOut = new Float32Array(out.length);
    const dOut = this.#dOut;
    const parts = lossAndGradient(out, targets, dOut, this.#box);

    // backward
    const grads = new Map<number, { dw: Float32Array; db: Float32Array }>();
    let dy: Float32Array = dOut;
    for (let i = plans.length - 1; i >= 0; i--) {
      const p = plans[i];
      const dx = i > 0 ? this.#grads[i] : null;
      if (p.kind === "pool") {
        if (!dx) break; // a leading pool: nothing below it to train
        unpool(dy, this.#argmax[i]!, dx);
        dy = dx;
        continue;
      }
      const y = acts[i + 1];
      if (p.relu) reluMask(dy, y);
      if (this.#convs) {
        const [kh, kw, ci, co] = [
          p.g.filterHeight,
          p.g.filterWidth,
          p.g.inChannels,
          p.g.outChannels,
        ];
        const dw = new Float32Array(kh * kw * ci * co), db = new Float32Array(co);
        this.#convs.backwardWeights(p.g, { x: acts[i], dy, dw, db });
        grads.set(p.index, { dw, db });
        if (!dx) break;
        this.#convs.backwardData(p.g, { dy, w: wOf.get(p.index)!.w, dx });
        dy = dx;
        continue;
      }
      const co = p.g.outChannels;
      const rows = dy.length / co;
      const [, k] = colsShape(p.g);
      const db = new Float64Array(co);
      for (let r = 0; r < rows; r++) {
        const o = r * co;
        for (let c = 0; c < co; c++) db[c] += dy[o + c];
      }
      const dw = new Float32Array(k * co);
      const a = p.pointwise ? acts[i] : this.#cols[i]!;
      sgemm(a, dy, dw, { m: k, n: co, k: rows, transA: true });
      grads.set(p.index, { dw, db: Float32Array.from(db) });
      if (!dx) break;
      const { w } = wOf.get(p.index)!;
      if (p.pointwise) {
        sgemm(dy, w, dx, { m: rows, n: k, k: co, transB: true });
      } else {
        const dcols = this.#dcols.subarray(0, rows * k);
        sgemm(dy, w, dcols, { m: rows, n: k, k: co, transB: true });
        col2im(dcols, p.g, dx);
      }
      dy = dx;
    }
    const list: Float32Array[] = [];
    for (const p of convs) {
      const g = grads.get(p.index)!;
      list.push(g.dw, g.db);
    }
    return { grads: list, parts };
  }
}

/** `dy = 0` where the ReLU output `y` (≥ +0) is +0, without branches (see {@linkcode relu}). */
function reluMask(dy: Float32Array, y: Float32Array): void {
  const d = new Int32Array(dy.buffer, dy.byteOffset, dy.length);
  const v = new Int32Array(y.buffer, y.byteOffset, y.length);
  for (let j = 0; j < d.length; j++) {
    const b = v[j];
    d[j] &= (b | -b) >> 31;
  }
}

function maxPool(x: Float32Array, p: PoolPlan, y: Float32Array, argmax: Int32Array): void {
  const [n, h, w, c] = p.inShape;
  const [, oh, ow] = p.outShape;
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let yo = 0; yo < oh; yo++) {
      for (let xo = 0; xo < ow; xo++) {
        for (let ch = 0; ch < c; ch++, o++) {
          let best = -Infinity, at = -1;
          for (let i = 0; i < p.k; i++) {
            const row = ((b * h + yo * p.s + i) * w + xo * p.s) * c + ch;
            for (let j = 0; j < p.k; j++) {
              const v = x[row + j * c];
              if (v > best || at < 0) {
                best = v;
                at = row + j * c;
              }
            }
          }
          y[o] = best;
          argmax[o] = at;
        }
      }
    }
  }
}

function unpool(dy: Float32Array, argmax: Int32Array, dx: Float32Array): void {
  dx.fill(0);
  for (let o = 0; o < dy.length; o++) dx[argmax[o]] += dy[o];
}

// Channel offsets (../../model/layout.ts), as plain numbers for the hot loop.
const OC = OUTPUT.channels, TC = TARGET.channels;
const O_CLS = OUTPUT.classes, O_BOX = OUTPUT.box, T_LABEL = TARGET.label, T_BOX = TARGET.box;

/**
 * The conditional loss of ../../model/loss.ts on raw outputs (`[N, rows, cols, 15]`, flat) and
 * targets (`[N, rows, cols, 6]`), summed in float64; writes d(total)/d(out) into `dOut`.
 */
export function lossAndGradient(
  out: Float32Array,
  targets: Float32Array,
  dOut: Float32Array,
  box: BoxReduction = "sum",
): [number, number, number] {
  const windows = out.length / OC;
  let det = 0, cls = 0, reg = 0;
  const boxScale = box === "mean" ? 0.25 : 1;
  for (let wi = 0; wi < windows; wi++) {
    const o = wi * OC, t = wi * TC;
    const x = out[o + OUTPUT.objectness], y0 = targets[t + TARGET.objectness];
    det += Math.max(x, 0) - x * y0 + Math.log1p(Math.exp(-Math.abs(x)));
    const sig = 1 / (1 + Math.exp(-x));
    dOut[o] = sig - y0;
    // mask: sigmoid(x) > 0.5 in float32 (as tfjs computes it), times y0
    const mask = Math.fround(sig) > 0.5 ? y0 : 0;
    if (mask === 0) {
      for (let j = 1; j < OC; j++) dOut[o + j] = 0;
      continue;
    }
    let max = -Infinity;
    for (let j = O_CLS; j < O_CLS + CLASSES; j++) max = Math.max(max, out[o + j]);
    let sum = 0;
    for (let j = O_CLS; j < O_CLS + CLASSES; j++) sum += Math.exp(out[o + j] - max);
    const logSum = Math.log(sum) + max;
    // as tfjs: oneHot(cast(label, int32)), all zeros outside 0–9
    const label = Math.trunc(targets[t + T_LABEL]);
    const hot = label >= 0 && label < CLASSES ? label : -1;
    for (let j = O_CLS; j < O_CLS + CLASSES; j++) {
      const p = Math.exp(out[o + j] - logSum);
      dOut[o + j] = mask * (p - (j - O_CLS === hot ? 1 : 0));
    }
    if (hot >= 0) cls += mask * (logSum - out[o + O_CLS + hot]);
    let se = 0;
    for (let j = 0; j < 4; j++) {
      const d = out[o + O_BOX + j] - targets[t + T_BOX + j];
      se += d * d;
      dOut[o + O_BOX + j] = mask * 2 * d * boxScale;
    }
    reg += mask * se * boxScale;
  }
  return [det, cls, reg];
}
