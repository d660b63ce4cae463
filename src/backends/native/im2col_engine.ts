/**
 * OpenBLAS's convolutions as a convolution engine (../../layers/engine.ts): each convolution as
 * matrix products, `im2col` patch matrices (./im2col.ts) times the filter with `sgemm`
 * (./openblas.ts), and the adjoints for the gradients. What the native backend's training step
 * runs on.
 *
 * @module
 */
import type { ConvEngine, ConvKernels, ConvShape } from "../../layers/engine.ts";
import { col2im, colsShape, fillRows, im2col, isPointwise, relu } from "./im2col.ts";
import type { Sgemm } from "./openblas.ts";

/**
 * Convolutions by `im2col` + `sgemm`. A convolution keeps its patch matrix from its forward for
 * the weight gradient; the patch-matrix gradient of the input gradient is scratch shared by all.
 *
 * @example
 * ```ts
 * import { openBlas } from "./openblas.ts";
 * import { Im2colEngine } from "./im2col_engine.ts";
 * const blas = openBlas();
 * if (blas) {
 *   const conv = new Im2colEngine(blas.sgemm).conv({
 *     batchSize: 1, inHeight: 1, inWidth: 1, inChannels: 2, outHeight: 1, outWidth: 1,
 *     outChannels: 1, strideHeight: 1, strideWidth: 1, filterHeight: 1, filterWidth: 1,
 *     dilationHeight: 1, dilationWidth: 1, padInfo: { top: 0, left: 0 },
 *   });
 *   const y = new Float32Array(1);
 *   conv.forward({
 *     x: new Float32Array([1, 2]), w: new Float32Array([3, 4]), b: new Float32Array([0.5]),
 *     y, relu: false,
 *   });
 *   console.log(y[0]); // 11.5
 * }
 * ```
 */
export class Im2colEngine implements ConvEngine {
  readonly name = "OpenBLAS im2col + sgemm";
  readonly #sgemm: Sgemm;
  #dcols = new Float32Array(0);

  /** The engine on `sgemm` (OpenBLAS's, from ./openblas.ts). */
  constructor(sgemm: Sgemm) {
    this.#sgemm = sgemm;
  }

  /** Scratch of at least `n` floats for a patch matrix's gradient. */
  #scratch(n: number): Float32Array {
    if (this.#dcols.length < n) this.#dcols = new Float32Array(n);
    return this.#dcols.subarray(0, n);
  }

  conv(g: ConvShape): ConvKernels {
    const sgemm = this.#sgemm;
    const pointwise = isPointwise(g);
    const [rows, k] = colsShape(g);
    const co = g.outChannels;
    // the patch matrix of the last forward's input (the input itself for a 1×1 convolution)
    const cols = pointwise ? null : new Float32Array(rows * k);
    return {
      forward({ x, w, b, y, relu: withRelu }) {
        fillRows(y, b, rows);
        let a = x;
        if (cols) {
          im2col(x, g, cols);
          a = cols;
        }
        sgemm(a, w, y, { m: rows, n: co, k, beta: 1 });
        if (withRelu) relu(y);
      },
      backwardWeights({ x, dy, dw, db }) {
        const sums = new Float64Array(co);
        for (let r = 0; r < rows; r++) {
          const o = r * co;
          for (let c = 0; c < co; c++) sums[c] += dy[o + c];
        }
        db.set(sums);
        sgemm(cols ?? x, dy, dw, { m: k, n: co, k: rows, transA: true });
      },
      backwardData: ({ dy, w, dx }) => {
        if (!cols) {
          sgemm(dy, w, dx, { m: rows, n: k, k: co, transB: true });
          return;
        }
        const dcols = this.#scratch(rows * k);
        sgemm(dy, w, dcols, { m: rows, n: k, k: co, transB: true });
        col2im(dcols, g, dx);
      },
    };
  }
}
