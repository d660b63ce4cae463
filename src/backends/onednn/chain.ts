/**
 * A network of convolutions run by oneDNN as one chain (../../layers/engine.ts `ConvChain`): the
 * activations and their gradients stay in the blocked layouts oneDNN picks (format `any`, e.g.
 * `nChw16c`) and, in bfloat16, in bfloat16 from one link to the next. Only the input, the last
 * output (NHWC float32, for the loss), its gradient, and the weights cross as plain arrays.
 *
 * Per link: the forward convolution with bias and fused ReLU; on the way back the ReLU's gradient
 * (oneDNN's eltwise backward from the ReLU's output, in place), backward-weights with the bias
 * gradient (sums in float32 whatever the operands), and backward-data into the layout of the link
 * before (not for the first link). Filters come in as `[kh, kw, Ci, Co]` float32 and are reordered
 * (and rounded to bfloat16) into the layout each primitive takes once per call; filter gradients
 * are reordered back to `[kh, kw, Ci, Co]`.
 *
 * Where it pays: on the wide net's training step (batch 32, 64², AMD EPYC Zen 4, 2 threads) the
 * convolutions' NHWC float32 operands cost ≈ 27 ms a step with every layer on its own; kept in
 * oneDNN's layouts ≈ 21 ms in float32 and ≈ 12 ms in bfloat16 (docs/kernels.md).
 *
 * @module
 */
import type { ChainLink, ConvChain } from "../../layers/engine.ts";
import {
  ARG,
  BF16,
  check,
  CONV_DIRECT,
  convWindow,
  type DnnlContext,
  ELTWISE_RELU,
  ELTWISE_RELU_USE_DST,
  F32,
  FORWARD_INFERENCE,
  FORWARD_TRAINING,
  inputDims,
  MD_BYTES,
  OP_BYTES,
  out,
  outputDims,
  type Precision,
  type Primitive,
} from "./api.ts";

/** One link, made: its primitives, their filter reorders and its buffers. */
interface Made {
  kernelSize: number;
  outChannels: number;
  forward: Primitive;
  /** hwio float32 → the forward primitive's filter layout (and type). */
  toForward: Primitive;
  forwardWeights: Uint8Array;
  backwardWeights: Primitive;
  /** The filter gradient in backward-weights' layout → hwio float32. */
  fromGradient: Primitive;
  gradient: Uint8Array;
  /** Backward-data and its filter reorder (not for the first link). */
  backwardData?: { conv: Primitive; toWeights: Primitive; weights: Uint8Array };
  /** The ReLU's gradient, in place on `dy` from `y` (links with a ReLU). */
  reluBackward?: Primitive;
  /** The output (the last link's: NHWC float32) and the gradient at it, in the output's layout. */
  y: Uint8Array;
  dy: Uint8Array;
}

/**
 * A chain of convolutions on oneDNN. Making one throws (a `DnnlError`, or a `RangeError` for a
 * layout or shape it does not take) when oneDNN refuses a part of it; the engine then gives no
 * chain and the array network runs the links one by one.
 */
export class OneDnnChain implements ConvChain {
  readonly #ctx: DnnlContext;
  readonly #links: Made[];
  /** bfloat16: the input's conversion (NHWC float32 → NHWC bfloat16) and the converted copy. */
  readonly #input?: { reorder: Primitive; buffer: Uint8Array };
  /** bfloat16: the last output gradient's conversion into the last link's `dy`. */
  readonly #dOut?: Primitive;
  readonly #inputSize: number;
  readonly #outputSize: number;
  readonly #head: Float32Array;
  #x: Float32Array | Uint8Array = new Float32Array(0);
  #weights: readonly Float32Array[] = [];

  constructor(ctx: DnnlContext, links: readonly ChainLink[], precision: Precision = "f32") {
    if (links.length === 0) throw new RangeError("a chain needs at least one convolution");
    this.#ctx = ctx;
    const T = precision === "bf16" ? BF16 : F32;
    const first = links[0].shape, last = links[links.length - 1].shape;
    this.#inputSize = size(inputDims(first));
    this.#outputSize = size(outputDims(last));
    let src = ctx.nhwc(inputDims(first), T);
    if (T === BF16) {
      this.#input = ctx.conversion(inputDims(first), src);
    }
    this.#links = links.map((link, i) => {
      const isLast = i === links.length - 1;
      const made = this.#link(link, src, T, i > 0, isLast);
      src = made.dst;
      return made.made;
    });
    const head = this.#links[this.#links.length - 1];
    this.#head = new Float32Array(head.y.buffer, 0, this.#outputSize);
    if (T === BF16) {
      this.#dOut = ctx.reorder(ctx.nhwc(outputDims(last)), ctx.nhwc(outputDims(last), BF16));
    }
  }

  /** A copy of the memory descriptor at `md` (a `dnnl_memory_desc_t` is plain data). */
  #copy(md: Deno.PointerObject): Uint8Array {
    const d = this.#ctx.kept(MD_BYTES);
    new Deno.UnsafePointerView(md).copyInto(d, 0);
    return d;
  }

  #link(
    { shape: g, relu }: ChainLink,
    src: Uint8Array,
    T: number,
    withData: boolean,
    isLast: boolean,
  ): { made: Made; dst: Uint8Array } {
    const ctx = this.#ctx, lib = ctx.lib;
    if (g.dilationHeight !== 1 || g.dilationWidth !== 1) {
      throw new RangeError("oneDNN chains take dilation 1 only");
    }
    const { inChannels: ci, outChannels: co, filterHeight: kh, filterWidth: kw } = g;
    const wAny = ctx.md([co, ci, kh, kw], undefined, T);
    const hwio = ctx.hwio([co, ci, kh, kw]);
    const bias = ctx.md([co], [1]);
    // the last output is NHWC float32 for the loss; the others stay in oneDNN's layout
    const dstAny = isLast ? ctx.nhwc(outputDims(g)) : ctx.md(outputDims(g), undefined, T);
    const { strides, padL, padR } = convWindow(g);
    const forwardPd = (dst: Uint8Array, post: boolean) => {
      const op = ctx.kept(OP_BYTES);
      check(
        lib.dnnl_convolution_forward_desc_init(
          op,
          FORWARD_INFERENCE,
          CONV_DIRECT,
          src,
          wAny,
          Deno.UnsafePointer.of(bias),
          dst,
          strides,
          padL,
          padR,
        ),
        "convolution_forward_desc_init",
      );
      let attr: Deno.PointerObject | null = null;
      if (post) {
        attr = out((s) => lib.dnnl_primitive_attr_create(s), "primitive_attr_create");
        const po = out((s) => lib.dnnl_post_ops_create(s), "post_ops_create");
        check(lib.dnnl_post_ops_append_eltwise(po, 1, ELTWISE_RELU, 0, 0), "append_eltwise");
        check(lib.dnnl_primitive_attr_set_post_ops(attr, po), "set_post_ops");
      }
      return ctx.describe(op, "convolution forward", attr);
    };
    if (relu && isLast && T === BF16) {
      throw new RangeError("a bfloat16 chain ends in a linear convolution");
    }
    const fpd = forwardPd(dstAny, relu);
    const dst = this.#copy(ctx.query(fpd, ARG.dst));
    const forwardWeights = ctx.query(fpd, ARG.weights);
    // the gradient at the output: in the output's layout, bfloat16 for the last link too
    const ddst = isLast && T === BF16 ? ctx.nhwc(outputDims(g), BF16) : dst;
    const hint = ddst === dst ? fpd : forwardPd(ddst, false);

    const wop = ctx.kept(OP_BYTES);
    check(
      lib.dnnl_convolution_backward_weights_desc_init(
        wop,
        CONV_DIRECT,
        src,
        ctx.md([co, ci, kh, kw]),
        Deno.UnsafePointer.of(bias),
        ddst,
        strides,
        padL,
        padR,
      ),
      "convolution_backward_weights_desc_init",
    );
    const wpd = ctx.describe(wop, "convolution backward-weights", null, hint);
    const gradientMd = ctx.query(wpd, ARG.diffWeights);
    const same = (role: number, want: Uint8Array, pd: Deno.PointerObject, what: string) => {
      if (!ctx.equal(ctx.query(pd, role), want)) {
        throw new RangeError(`oneDNN chose another layout for ${what}`);
      }
    };
    same(ARG.src, src, wpd, "backward-weights' input");
    same(ARG.diffDst, ddst, wpd, "backward-weights' output gradient");

    let backwardData: Made["backwardData"];
    if (withData) {
      const dop = ctx.kept(OP_BYTES);
      check(
        lib.dnnl_convolution_backward_data_desc_init(
          dop,
          CONV_DIRECT,
          src,
          wAny,
          ddst,
          strides,
          padL,
          padR,
        ),
        "convolution_backward_data_desc_init",
      );
      const dpd = ctx.describe(dop, "convolution backward-data", null, hint);
      same(ARG.diffSrc, src, dpd, "backward-data's input gradient");
      const dataWeights = ctx.query(dpd, ARG.weights);
      backwardData = {
        conv: ctx.primitive(dpd, [ARG.diffDst, ARG.weights, ARG.diffSrc]),
        toWeights: ctx.reorder(hwio, dataWeights),
        weights: ctx.bufferFor(dataWeights),
      };
    }

    let reluBackward: Primitive | undefined;
    if (relu) {
      const fop = ctx.kept(OP_BYTES), bop = ctx.kept(OP_BYTES);
      const d = Deno.UnsafePointer.of(dst);
      check(
        lib.dnnl_eltwise_forward_desc_init(fop, FORWARD_TRAINING, ELTWISE_RELU_USE_DST, d, 0, 0),
        "eltwise_forward_desc_init",
      );
      check(
        lib.dnnl_eltwise_backward_desc_init(bop, ELTWISE_RELU_USE_DST, d, d, 0, 0),
        "eltwise_backward_desc_init",
      );
      const epd = ctx.describe(bop, "ReLU backward", null, ctx.describe(fop, "ReLU forward"));
      reluBackward = ctx.primitive(epd, [ARG.dst, ARG.diffDst, ARG.diffSrc]);
    }
    return {
      dst,
      made: {
        kernelSize: kh * kw * ci * co,
        outChannels: co,
        forward: ctx.primitive(fpd, [ARG.src, ARG.weights, ARG.bias, ARG.dst]),
        toForward: ctx.reorder(hwio, forwardWeights),
        forwardWeights: ctx.bufferFor(forwardWeights),
        backwardWeights: ctx.primitive(wpd, [ARG.src, ARG.diffDst, ARG.diffWeights, ARG.diffBias]),
        fromGradient: ctx.reorder(gradientMd, hwio),
        gradient: ctx.bufferFor(gradientMd),
        backwardData,
        reluBackward,
        y: ctx.bufferFor(dst),
        dy: ctx.bufferFor(ddst),
      },
    };
  }

  forward(x: Float32Array, weights: readonly Float32Array[]): Float32Array {
    const ctx = this.#ctx, links = this.#links;
    if (x.length !== this.#inputSize) {
      throw new RangeError(`chain input: ${x.length} values, needs ${this.#inputSize}`);
    }
    if (weights.length !== 2 * links.length) {
      throw new RangeError(`chain weights: ${weights.length} arrays, needs ${2 * links.length}`);
    }
    for (const [i, l] of links.entries()) {
      const [w, b] = [weights[2 * i], weights[2 * i + 1]];
      if (w.length !== l.kernelSize || b.length !== l.outChannels) {
        throw new RangeError(
          `chain weights of link ${i}: ${w.length} and ${b.length} values, needs ${l.kernelSize} and ${l.outChannels}`,
        );
      }
    }
    let input: Float32Array | Uint8Array = x;
    if (this.#input) {
      ctx.run(this.#input.reorder, [x, this.#input.buffer]);
      input = this.#input.buffer;
    }
    this.#x = input;
    this.#weights = weights;
    for (const [i, l] of links.entries()) {
      ctx.run(l.toForward, [weights[2 * i], l.forwardWeights]);
      ctx.run(l.forward, [input, l.forwardWeights, weights[2 * i + 1], l.y]);
      input = l.y;
    }
    return this.#head;
  }

  backward(dOut: Float32Array): Float32Array[] {
    const ctx = this.#ctx, links = this.#links;
    if (dOut.length !== this.#outputSize) {
      throw new RangeError(
        `chain output gradient: ${dOut.length} values, needs ${this.#outputSize}`,
      );
    }
    if (this.#weights.length === 0) throw new Error("chain backward before a forward pass");
    const head = links[links.length - 1];
    if (this.#dOut) ctx.run(this.#dOut, [dOut, head.dy]);
    else new Float32Array(head.dy.buffer, 0, dOut.length).set(dOut);
    const grads: Float32Array[] = new Array(2 * links.length);
    for (let i = links.length - 1; i >= 0; i--) {
      const l = links[i];
      if (l.reluBackward) ctx.run(l.reluBackward, [l.y, l.dy, l.dy]);
      const x = i > 0 ? links[i - 1].y : this.#x;
      const dw = new Float32Array(l.kernelSize), db = new Float32Array(l.outChannels);
      ctx.run(l.backwardWeights, [x, l.dy, l.gradient, db]);
      ctx.run(l.fromGradient, [l.gradient, dw]);
      grads[2 * i] = dw, grads[2 * i + 1] = db;
      const data = l.backwardData;
      if (data) {
        ctx.run(data.toWeights, [this.#weights[2 * i], data.weights]);
        ctx.run(data.conv, [l.dy, data.weights, links[i - 1].dy]);
      }
    }
    return grads;
  }
}

const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
