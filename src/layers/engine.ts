/**
 * The convolution-engine interface: whole convolutions on flat NHWC `Float32Array`s with
 * `[kh, kw, Ci, Co]` filters, forward and both gradients. The conv layer's array forward and
 * backward (./conv.ts) run on one; the backends bring their own (OpenBLAS's `im2col` + `sgemm`:
 * ../backends/native/im2col_engine.ts; oneDNN: ../backends/onednn/dnnl.ts).
 *
 * Plain types, no code: everything below ../layers imports it without loading an engine.
 *
 * @module
 */

/** The geometry of one convolution (the fields of tfjs's `Conv2DInfo` that the engines use). */
export interface ConvGeometry {
  /** N. */
  batchSize: number;
  /** H. */
  inHeight: number;
  /** W. */
  inWidth: number;
  /** Ci. */
  inChannels: number;
  /** Ho. */
  outHeight: number;
  /** Wo. */
  outWidth: number;
  /** Stride along H. */
  strideHeight: number;
  /** Stride along W. */
  strideWidth: number;
  /** kh. */
  filterHeight: number;
  /** kw. */
  filterWidth: number;
  /** Dilation along H (1 = none). */
  dilationHeight: number;
  /** Dilation along W. */
  dilationWidth: number;
  /** Zero padding before the first row / column. */
  padInfo: { top: number; left: number };
}

/** A convolution's geometry with its output channels: everything a kernel is made for. */
export type ConvShape = ConvGeometry & { outChannels: number };

/**
 * One convolution, made by a {@linkcode ConvEngine} for one geometry: the engine keeps what it
 * needs between calls (primitives, the patch matrix of the last forward).
 */
export interface ConvKernels {
  /** `y = conv(x, w) + b`, ReLU'd when `relu`. */
  forward(
    io: { x: Float32Array; w: Float32Array; b: Float32Array; y: Float32Array; relu: boolean },
  ): void;
  /** `dx` (overwritten) from `dy` and `w`. */
  backwardData(io: { dy: Float32Array; w: Float32Array; dx: Float32Array }): void;
  /**
   * `dw` and `db` (overwritten) from `x` and `dy`. `x` is the input of this kernel's last
   * `forward`, unchanged since: an engine may reuse what it made from it.
   */
  backwardWeights(
    io: { x: Float32Array; dy: Float32Array; dw: Float32Array; db: Float32Array },
  ): void;
}

/**
 * Whole convolutions, as a backend offers them to the array forward and backward of the conv
 * layer. Threads are the backend's business (its descriptor's `singleThreaded()`).
 */
export interface ConvEngine {
  /** What it is, e.g. "OpenBLAS im2col + sgemm" or "oneDNN 2.7.3". */
  readonly name: string;
  /** The convolution of geometry `g`, ready to run. */
  conv(g: ConvShape): ConvKernels;
}
