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

/** One convolution of a {@linkcode ConvChain}: its shape, and whether a ReLU follows it. */
export interface ChainLink {
  /** The convolution. */
  shape: ConvShape;
  /** ReLU after the bias (else linear). */
  relu: boolean;
}

/**
 * Convolutions run one after the other as one network, made by a {@linkcode ConvEngine} that can:
 * the activations stay in the engine's own layouts (and precision) between the links, and only
 * the input, the last output, its gradient and the weights' gradients are plain arrays.
 */
export interface ConvChain {
  /**
   * The last link's output `[N, Ho, Wo, Co]` (the chain's own buffer, valid until the next call)
   * for `x` `[N, H, W, Ci]` at `weights` (`[kernel0, bias0, kernel1, bias1, …]`, kernels as
   * `[kh, kw, Ci, Co]`).
   */
  forward(x: Float32Array, weights: readonly Float32Array[]): Float32Array;
  /**
   * The gradients of the weights (fresh arrays, in `forward`'s order) from `dOut`, the gradient
   * at the last output, for the last `forward`'s input and weights (unchanged since). The first
   * link's input gets no gradient.
   */
  backward(dOut: Float32Array): Float32Array[];
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
  /**
   * The convolutions `links` (each one's input the last one's output) as one chain, where the
   * engine has chains and takes these shapes; `null` otherwise (then each runs on `conv`).
   */
  chain?(links: readonly ChainLink[]): ConvChain | null;
}
