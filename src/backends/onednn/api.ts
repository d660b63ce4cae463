/**
 * oneDNN's C API (2.x, Debian's `libdnnl2`) as Deno FFI sees it: the symbols, the constants of
 * `dnnl_types.h`, and {@linkcode DnnlContext} — one CPU engine and stream with the few calls every
 * user of it repeats (memory descriptors, primitives and their argument arrays, reorders,
 * execution). Memory descriptors (≈ 1 KB structs) are always passed by pointer, never by value.
 * The convolution engine (./dnnl.ts) and the convolution chain (./chain.ts) are built on it.
 *
 * @module
 */
import type { ConvShape } from "../../layers/engine.ts";

const P = "pointer", B = "buffer", I = "i32";

/** The functions of libdnnl this backend calls. */
export const SYMBOLS = {
  dnnl_version: { parameters: [], result: P },
  dnnl_engine_create: { parameters: [B, I, "usize"], result: I },
  dnnl_stream_create: { parameters: [B, P, "u32"], result: I },
  dnnl_stream_wait: { parameters: [P], result: I },
  dnnl_memory_desc_init_by_strides: { parameters: [B, I, B, I, B], result: I },
  dnnl_memory_desc_init_by_tag: { parameters: [B, I, B, I, I], result: I },
  dnnl_memory_desc_equal: { parameters: [P, P], result: I },
  dnnl_memory_desc_get_size: { parameters: [P], result: "usize" },
  dnnl_convolution_forward_desc_init: {
    parameters: [B, I, I, B, B, P, B, B, B, B],
    result: I,
  },
  dnnl_convolution_backward_data_desc_init: { parameters: [B, I, B, B, B, B, B, B], result: I },
  dnnl_convolution_backward_weights_desc_init: {
    parameters: [B, I, B, B, P, B, B, B, B],
    result: I,
  },
  dnnl_eltwise_forward_desc_init: { parameters: [B, I, I, P, "f32", "f32"], result: I },
  dnnl_eltwise_backward_desc_init: { parameters: [B, I, P, P, "f32", "f32"], result: I },
  dnnl_primitive_attr_create: { parameters: [B], result: I },
  dnnl_post_ops_create: { parameters: [B], result: I },
  dnnl_post_ops_append_eltwise: { parameters: [P, "f32", I, "f32", "f32"], result: I },
  dnnl_primitive_attr_set_post_ops: { parameters: [P, P], result: I },
  dnnl_primitive_desc_create: { parameters: [B, B, P, P, P], result: I },
  dnnl_primitive_desc_query: { parameters: [P, I, I, B], result: I },
  dnnl_primitive_desc_query_md: { parameters: [P, I, I], result: P },
  dnnl_reorder_primitive_desc_create: { parameters: [B, P, P, P, P, P], result: I },
  dnnl_primitive_create: { parameters: [B, P], result: I },
  dnnl_primitive_execute: { parameters: [P, P, I, B], result: I },
  dnnl_memory_create: { parameters: [B, P, P, P], result: I },
  dnnl_memory_set_data_handle_v2: { parameters: [P, P, P], result: I },
} as const;

/** The loaded symbols. */
export type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

// dnnl_types.h (2.6)
/** What convolutions compute in: float32 throughout, or bfloat16 operands (see ./dnnl.ts `OneDnn`). */
export type Precision = "f32" | "bf16";

/** Data types. */
export const BF16 = 2, F32 = 3;
/** `dnnl_format_tag_any`: the primitive picks the layout. */
export const TAG_ANY = 1;
/** Propagation kinds. */
export const FORWARD_TRAINING = 64, FORWARD_INFERENCE = 96;
/** Algorithm kinds. */
export const CONV_DIRECT = 1, ELTWISE_RELU = 0x1f, ELTWISE_RELU_USE_DST = 0x100;
const CPU = 1, IN_ORDER = 1, QUERY_IMPL_INFO = 8, EXEC_ARG_MD = 255;
/** Execution argument roles. */
export const ARG = {
  src: 1,
  dst: 17,
  weights: 33,
  bias: 41,
  diffSrc: 129,
  diffDst: 145,
  diffWeights: 161,
  diffBias: 169,
  from: 1,
  to: 17,
} as const;
/** Bytes for one `dnnl_memory_desc_t` (about 1.1 KB in 2.x) and one op descriptor (about 9 KB). */
export const MD_BYTES = 2048, OP_BYTES = 16384;

/** A failed oneDNN call (a geometry it refuses, most often): callers fall back on it. */
export class DnnlError extends Error {}

/** Throws a {@linkcode DnnlError} naming `what` unless `status` is `dnnl_success`. */
export function check(status: number, what: string): void {
  if (status !== 0) throw new DnnlError(`oneDNN ${what} failed (dnnl_status_t ${status})`);
}

/** A pointer out of a one-slot out-parameter. */
export function out(f: (slot: BigUint64Array) => number, what: string): Deno.PointerObject {
  const slot = new BigUint64Array(1);
  check(f(slot), what);
  const p = Deno.UnsafePointer.create(slot[0]);
  if (!p) throw new DnnlError(`oneDNN ${what} returned a null handle`);
  return p;
}

/** `dnnl_dims_t` (12 × int64) holding `values`. */
export function dims(values: number[]): BigInt64Array {
  const d = new BigInt64Array(12);
  values.forEach((v, i) => d[i] = BigInt(v));
  return d;
}

/**
 * Right padding oneDNN accepts along one axis: the padding that makes the output size come out
 * exactly, or 0 when a shorter one does (rows left over by a stride).
 */
function padRight(
  input: number,
  output: number,
  k: number,
  s: number,
  left: number,
): number {
  const r = (output - 1) * s + k - input - left;
  return r < 0 && -r < s ? 0 : r;
}

/** A convolution's strides and left and right padding, as oneDNN's op descriptors take them. */
export function convWindow(
  g: ConvShape,
): { strides: BigInt64Array; padL: BigInt64Array; padR: BigInt64Array } {
  const { strideHeight: sh, strideWidth: sw, padInfo: { top, left } } = g;
  return {
    strides: dims([sh, sw]),
    padL: dims([top, left]),
    padR: dims([
      padRight(g.inHeight, g.outHeight, g.filterHeight, sh, top),
      padRight(g.inWidth, g.outWidth, g.filterWidth, sw, left),
    ]),
  };
}

/** `[n, c, h, w]` of a convolution's input. */
export const inputDims = (g: ConvShape): number[] => [
  g.batchSize,
  g.inChannels,
  g.inHeight,
  g.inWidth,
];

/** `[n, c, h, w]` of a convolution's output. */
export const outputDims = (g: ConvShape): number[] => [
  g.batchSize,
  g.outChannels,
  g.outHeight,
  g.outWidth,
];

/** A memory descriptor given by pointer or as the buffer holding it. */
type Md = Deno.PointerValue | Uint8Array;
const pointer = (d: Md): Deno.PointerValue =>
  d instanceof Uint8Array ? Deno.UnsafePointer.of(d) : d;

/** A primitive with its argument array and one memory object per argument. */
export interface Primitive {
  prim: Deno.PointerObject;
  args: Uint8Array;
  /** Memory objects in the order of `args`, whose handles are set before each execution. */
  mems: Deno.PointerObject[];
}

/** What an array handed to oneDNN may be. */
export type Data = Float32Array | Uint8Array | Uint16Array | null;

/** One CPU engine and in-order stream, and the calls made on them. */
export class DnnlContext {
  readonly lib: Lib;
  readonly engine: Deno.PointerObject;
  readonly #stream: Deno.PointerObject;
  /** Descriptors stay alive as long as the primitives that were made from them. */
  readonly #keep: Uint8Array[] = [];

  constructor(lib: Lib) {
    this.lib = lib;
    this.engine = out((s) => lib.dnnl_engine_create(s, CPU, 0n), "engine_create");
    this.#stream = out((s) => lib.dnnl_stream_create(s, this.engine, IN_ORDER), "stream_create");
  }

  /** A zeroed buffer for a descriptor, kept alive with the context. */
  kept(bytes: number): Uint8Array {
    const d = new Uint8Array(bytes);
    this.#keep.push(d);
    return d;
  }

  /** A memory descriptor: explicit `strides`, or format `any` without them. */
  md(values: number[], strides?: number[], type = F32): Uint8Array {
    const d = this.kept(MD_BYTES);
    const status = strides
      ? this.lib.dnnl_memory_desc_init_by_strides(
        d,
        values.length,
        dims(values),
        type,
        dims(strides),
      )
      : this.lib.dnnl_memory_desc_init_by_tag(d, values.length, dims(values), type, TAG_ANY);
    check(status, "memory_desc_init");
    return d;
  }

  /** The descriptor of NHWC memory of logical shape `[n, c, h, w]`. */
  nhwc([n, c, h, w]: readonly number[], type = F32): Uint8Array {
    return this.md([n, c, h, w], [h * w * c, 1, w * c, c], type);
  }

  /** The descriptor of a float32 filter `[co, ci, kh, kw]` laid out as tfjs's `[kh, kw, ci, co]`. */
  hwio([co, ci, kh, kw]: readonly number[]): Uint8Array {
    return this.md([co, ci, kh, kw], [1, co, kw * ci * co, ci * co]);
  }

  /**
   * The conversion of float32 NHWC memory of shape `d` (`[n, c, h, w]`) into memory described
   * by `to`, with a buffer for the converted copy.
   */
  conversion(d: readonly number[], to: Uint8Array): { reorder: Primitive; buffer: Uint8Array } {
    return { reorder: this.reorder(this.nhwc(d), to), buffer: this.bufferFor(to) };
  }

  /** The memory descriptor `pd` has for argument `role`. */
  query(pd: Deno.PointerObject, role: number): Deno.PointerObject {
    const md = this.lib.dnnl_primitive_desc_query_md(pd, EXEC_ARG_MD, role);
    if (!md) throw new DnnlError(`oneDNN primitive has no memory for argument ${role}`);
    return md;
  }

  /** Whether two memory descriptors describe the same layout. */
  equal(a: Md, b: Md): boolean {
    return this.lib.dnnl_memory_desc_equal(pointer(a), pointer(b)) === 1;
  }

  /** A primitive descriptor for the op descriptor `op`, with `attr` and a forward `hint`. */
  describe(
    op: Uint8Array,
    what: string,
    attr: Deno.PointerObject | null = null,
    hint: Deno.PointerObject | null = null,
  ): Deno.PointerObject {
    return out(
      (s) => this.lib.dnnl_primitive_desc_create(s, op, attr, this.engine, hint),
      `${what} primitive_desc_create`,
    );
  }

  /** A primitive of `pd` whose arguments are `roles`, in that order. */
  primitive(pd: Deno.PointerObject, roles: number[]): Primitive {
    const lib = this.lib;
    const prim = out((s) => lib.dnnl_primitive_create(s, pd), "primitive_create");
    const mems = roles.map((role) =>
      out(
        (s) => lib.dnnl_memory_create(s, this.query(pd, role), this.engine, null),
        "memory_create",
      )
    );
    const args = new Uint8Array(16 * roles.length);
    const view = new DataView(args.buffer);
    roles.forEach((role, i) => {
      view.setInt32(16 * i, role, true);
      view.setBigUint64(16 * i + 8, BigInt(Deno.UnsafePointer.value(mems[i])), true);
    });
    return { prim, args, mems };
  }

  /** oneDNN's name of the implementation `pd` runs, e.g. "brgconv:avx512_core". */
  implName(pd: Deno.PointerObject): string {
    const slot = new BigUint64Array(1);
    if (this.lib.dnnl_primitive_desc_query(pd, QUERY_IMPL_INFO, 0, slot) !== 0) return "";
    const p = Deno.UnsafePointer.create(slot[0]);
    return p ? new Deno.UnsafePointerView(p).getCString() : "";
  }

  /** A reorder primitive from memory described by `from` to memory described by `to`. */
  reorder(from: Md, to: Md): Primitive {
    const rpd = out(
      (s) =>
        this.lib.dnnl_reorder_primitive_desc_create(
          s,
          pointer(from),
          this.engine,
          pointer(to),
          this.engine,
          null,
        ),
      "reorder_primitive_desc_create",
    );
    return this.primitive(rpd, [ARG.from, ARG.to]);
  }

  /** A buffer for memory described by `desc` (at least 64 bytes). */
  bufferFor(desc: Md): Uint8Array {
    return new Uint8Array(Math.max(Number(this.lib.dnnl_memory_desc_get_size(pointer(desc))), 64));
  }

  /** Executes `p` on `data` (one array per argument, in its order) and waits for it. */
  run(p: Primitive, data: Data[]): void {
    const lib = this.lib;
    for (const [i, a] of data.entries()) {
      const ptr = a && a.length ? Deno.UnsafePointer.of(a) : null;
      check(lib.dnnl_memory_set_data_handle_v2(p.mems[i], ptr, this.#stream), "set_data_handle");
    }
    check(
      lib.dnnl_primitive_execute(p.prim, this.#stream, data.length, p.args),
      "primitive_execute",
    );
    check(lib.dnnl_stream_wait(this.#stream), "stream_wait");
  }
}
