/**
 * oneDNN (libdnnl, the library PyTorch's CPU convolutions run on) through Deno FFI: one CPU engine
 * and stream, and direct convolutions — forward with bias and a fused ReLU, backward-data, and
 * backward-weights with the bias gradient — on NHWC `Float32Array`s (plain ones or views onto the
 * tfjs wasm heap) with `[kh, kw, Ci, Co]` (tfjs's `hwio`) filters. oneDNN's JIT picks the kernels
 * for the CPU it runs on (AVX2, AVX-512, AMX).
 *
 * It uses the 2.x C API (./api.ts; Debian's `libdnnl2`: `libdnnl.so.2`). Filters are reordered into the layout each
 * primitive prefers (blocked, chosen by oneDNN with format `any`): on every call, or once per
 * filter when the caller names it by a key that lives as long as its values (the tfjs kernels
 * pass the tensor's `dataId`; ≈ 0.1 ms per layer saved on the wide net's 64² batches). Primitives
 * are made once per geometry and kept. A whole network of convolutions can also run as one chain
 * (`chain`, ./chain.ts), its activations kept in oneDNN's own layouts between the layers.
 *
 * Nothing is compiled or downloaded. When the library or `--allow-ffi` is missing, {@linkcode
 * oneDnn} returns `null` and {@linkcode dnnlMissingReason} says why in one line.
 * `SLIDEWIN_DNNL=off` disables it; `SLIDEWIN_DNNL=/path/libdnnl.so.2` picks a library.
 *
 * @module
 */
import type {
  ChainLink,
  ConvEngine,
  ConvGeometry,
  ConvKernels,
  ConvShape,
} from "../../layers/engine.ts";
import { OneDnnChain } from "./chain.ts";
import { geometryKey } from "../native/im2col.ts";
import { envGet } from "../permissions.ts";
import {
  ARG,
  BF16,
  check,
  CONV_DIRECT,
  convWindow,
  DnnlContext,
  DnnlError,
  ELTWISE_RELU,
  F32,
  FORWARD_INFERENCE,
  FORWARD_TRAINING,
  inputDims,
  type Lib,
  OP_BYTES,
  out,
  outputDims,
  type Precision,
  type Primitive,
  SYMBOLS,
} from "./api.ts";

/** Where the library is looked for, in order (after `SLIDEWIN_DNNL`). */
export const DNNL_CANDIDATES: readonly string[] = [
  "libdnnl.so.2", // Debian/Ubuntu libdnnl2
  "/usr/lib/x86_64-linux-gnu/libdnnl.so.2",
  "/usr/lib/aarch64-linux-gnu/libdnnl.so.2",
  "libdnnl.so",
  "/opt/homebrew/opt/onednn/lib/libdnnl.dylib",
  "/usr/local/opt/onednn/lib/libdnnl.dylib",
];

/** Which convolution a primitive computes. */
export type ConvKind = "forward" | "backwardData" | "backwardWeights";

/** The operands of {@linkcode OneDnn.forward}. */
export interface ForwardIo {
  /** `[N, H, W, Ci]`. */
  x: Float32Array;
  /** `[kh, kw, Ci, Co]`. */
  w: Float32Array;
  /** `[Co]`, when there is a bias. */
  b?: Float32Array;
  /** `[N, Ho, Wo, Co]`, overwritten. */
  y: Float32Array;
  /** Whether a ReLU follows (fused); default false. */
  relu?: boolean;
  /**
   * An object standing for the filter's values, which must not change while it lives (a tfjs
   * tensor's `dataId`): the filter is reordered once per key and kept beside the primitive.
   * Without it the filter is reordered on every call.
   */
  filterKey?: object;
}

/** A loaded oneDNN with its CPU engine and stream: a convolution engine, and the calls behind it. */
export interface OneDnn extends ConvEngine {
  /** Path or name it was loaded from. */
  readonly path: string;
  /** "oneDNN 2.6.3". */
  readonly version: string;
  /**
   * What convolutions compute in: "f32", or "bf16" ({@linkcode oneDnnBf16}: the forward pass and
   * backward-data take bfloat16 operands, sums and outputs float32; backward-weights stays float32
   * layer by layer; a chain keeps everything but the filter gradients in bfloat16).
   */
  readonly precision: Precision;
  /**
   * `y = conv(x, w) + b` (ReLU'd when `relu`); `x` `[N, H, W, Ci]`, `w` `[kh, kw, Ci, Co]`,
   * `b` `[Co]`, `y` `[N, Ho, Wo, Co]`.
   */
  forward(g: ConvGeometry & { outChannels: number }, io: ForwardIo): void;
  /** `dx` (`[N, H, W, Ci]`, overwritten) from `dy` `[N, Ho, Wo, Co]` and `w`. */
  backwardData(
    g: ConvGeometry & { outChannels: number },
    io: { dy: Float32Array; w: Float32Array; dx: Float32Array },
  ): void;
  /** `dw` (`[kh, kw, Ci, Co]`, overwritten) and `db` (`[Co]`, when given) from `x` and `dy`. */
  backwardWeights(
    g: ConvGeometry & { outChannels: number },
    io: { x: Float32Array; dy: Float32Array; dw: Float32Array; db?: Float32Array },
  ): void;
  /** Whether oneDNN takes this geometry (false e.g. for crops larger than a stride). */
  supports(g: ConvGeometry & { outChannels: number }): boolean;
  /** oneDNN's name of the implementation it runs for `kind` at `g`, e.g. "brg:avx512_core". */
  implementation(g: ConvGeometry & { outChannels: number }, kind: ConvKind): string;
  /**
   * Sets the OpenMP threads oneDNN uses for calls from the calling thread (each Deno Worker has
   * its own setting), or back to the default (`OMP_NUM_THREADS`, else one per core) when `n` is 0;
   * returns false when libgomp's `omp_set_num_threads` is not found.
   */
  setThreads(n: number): boolean;
  /** OpenMP threads oneDNN would use from the calling thread (`omp_get_max_threads`), or 0. */
  threads(): number;
  /**
   * Holds oneDNN to one OpenMP thread for the calls of the calling thread until the returned
   * release is called, counting holders: the thread count comes back (to the default) when the
   * last one releases.
   */
  singleThreaded(): () => void;
  /** The OpenMP runtime whose thread count it sets (e.g. "libgomp.so.1"), or "" when none. */
  openmp(): string;
}

/** Why {@linkcode oneDnn} found no library, when it did not. */
export let dnnlMissingReason = "";

let loaded: OneDnn | null | undefined;

/** A filter kept in the layout a primitive wants, with the reorder to or from `hwio`. */
interface Reordered {
  reorder: Primitive;
  /** The primitive-side buffer (null when the layouts agree and no reorder is needed). */
  buffer: Uint8Array | null;
  /** Filters already reordered, by the key their caller gave (forward only). */
  kept: WeakMap<object, Uint8Array>;
}

/** A convolution primitive with the reorder of its filter. */
interface Built {
  conv: Primitive;
  weights: Reordered;
  /**
   * bfloat16 only: the conversion of the float32 operand that is not the filter (the input of a
   * forward pass, the output gradient of backward-data), and the converted copy.
   */
  source?: { reorder: Primitive; buffer: Uint8Array };
}

export type { Precision } from "./api.ts";

interface Entry {
  /** Forward primitives by their options (`${relu}${bias}`). */
  forward: Map<string, Built>;
  backwardData?: Built;
  backwardWeights?: Built;
  impl: Partial<Record<ConvKind, string>>;
}

/** The memory descriptors and window of one convolution (see `OneDnnEngine.#descs`). */
interface Descs {
  src: Uint8Array;
  dst: Uint8Array;
  hwio: Uint8Array;
  anyWeights: Uint8Array;
  bias: Uint8Array;
  strides: BigInt64Array;
  padL: BigInt64Array;
  padR: BigInt64Array;
}

/**
 * The two gradient primitives, as a table: how each op descriptor is made, its execution
 * arguments in order, and which filter it reads or writes (reordered to or from `hwio`).
 */
const GRADIENTS: Record<
  "backwardData" | "backwardWeights",
  {
    describe(lib: Lib, op: Uint8Array, d: Descs): number;
    roles: number[];
    filter: { role: number; toUser: boolean };
  }
> = {
  backwardData: {
    describe: (lib, op, d) =>
      lib.dnnl_convolution_backward_data_desc_init(
        op,
        CONV_DIRECT,
        d.src,
        d.anyWeights,
        d.dst,
        d.strides,
        d.padL,
        d.padR,
      ),
    roles: [ARG.diffDst, ARG.weights, ARG.diffSrc],
    filter: { role: ARG.weights, toUser: false },
  },
  backwardWeights: {
    describe: (lib, op, d) =>
      lib.dnnl_convolution_backward_weights_desc_init(
        op,
        CONV_DIRECT,
        d.src,
        d.anyWeights,
        Deno.UnsafePointer.of(d.bias),
        d.dst,
        d.strides,
        d.padL,
        d.padR,
      ),
    roles: [ARG.src, ARG.diffDst, ARG.diffWeights, ARG.diffBias],
    filter: { role: ARG.diffWeights, toUser: true },
  },
};

/** {@linkcode geometryKey} plus the output channels: what a primitive is built for. */
function primitiveKey(g: ConvShape): string {
  return `${geometryKey(g)},${g.outChannels}`;
}

/** Values of each operand of a convolution at `g`. */
function sizes(g: ConvShape) {
  return {
    x: g.batchSize * g.inHeight * g.inWidth * g.inChannels,
    y: g.batchSize * g.outHeight * g.outWidth * g.outChannels,
    w: g.filterHeight * g.filterWidth * g.inChannels * g.outChannels,
    b: g.outChannels,
  };
}

function sized(name: string, a: Float32Array | undefined, need: number): void {
  if (a && a.length !== need) {
    throw new RangeError(`oneDNN convolution: ${name} has ${a.length} values, needs ${need}`);
  }
}

type Gomp = Deno.DynamicLibrary<{
  omp_set_num_threads: { parameters: ["i32"]; result: "void" };
  omp_get_max_threads: { parameters: []; result: "i32" };
}>;

/** The OpenMP runtime oneDNN's threads come from, opened once; null when none is found. */
function openGomp(): { lib: Gomp; name: string } | null {
  for (const name of ["libgomp.so.1", "libgomp.so", "libomp.so", "libiomp5.so"]) {
    try {
      const lib = Deno.dlopen(name, {
        omp_set_num_threads: { parameters: ["i32"], result: "void" },
        omp_get_max_threads: { parameters: [], result: "i32" },
      });
      return { lib, name };
    } catch {
      // next
    }
  }
  return null;
}

/** oneDNN with one CPU engine and stream: primitives made once per geometry and kept. */
class OneDnnEngine implements OneDnn {
  readonly name: string;
  readonly path: string;
  readonly version: string;
  readonly precision: Precision;
  readonly #threadsOf: OneDnnEngine | undefined;
  readonly #ctx: DnnlContext;
  readonly #cache = new Map<string, Entry>();
  /** Chains by their links' shapes (null: oneDNN refused one of its parts). */
  readonly #chains = new Map<string, OneDnnChain | null>();
  /** Geometries oneDNN refused (asked once). */
  readonly #refused = new Set<string>();
  #gomp: { lib: Gomp; name: string } | null | undefined;
  readonly #initialThreads: number;
  #holders = 0;

  /**
   * `precision` "bf16": the forward pass and backward-data take bfloat16 operands (converted on
   * the way in) and give float32 outputs; backward-weights stays float32. `threads`: the engine
   * whose thread policy this one shares (OpenMP's thread count is one per calling thread,
   * whatever the engine).
   */
  constructor(
    path: string,
    ctx: DnnlContext,
    precision: Precision = "f32",
    threads?: OneDnnEngine,
  ) {
    this.#ctx = ctx;
    this.precision = precision;
    this.#threadsOf = threads;
    const lib = ctx.lib;
    const v = new Deno.UnsafePointerView(lib.dnnl_version()!);
    this.version = `oneDNN ${v.getInt32(0)}.${v.getInt32(4)}.${v.getInt32(8)}`;
    this.name = precision === "f32" ? this.version : `${this.version} ${precision}`;
    this.path = path;
    this.#initialThreads = Math.max(1, this.#omp()?.symbols.omp_get_max_threads() ?? 1);
  }

  /** A second engine on the same library computing its convolutions in `precision`. */
  withPrecision(precision: Precision): OneDnnEngine {
    return new OneDnnEngine(this.path, this.#ctx, precision, this);
  }

  #omp(): Gomp | undefined {
    if (this.#gomp === undefined) this.#gomp = openGomp();
    return this.#gomp?.lib;
  }

  /**
   * Descriptors of `g`: NHWC src/dst, hwio weights (and `any` weights), bias, strides, pads;
   * `types` gives the data type of src, the `any` weights and dst (default float32; bias and hwio
   * are always float32).
   */
  #descs(g: ConvShape, types: { src?: number; weights?: number; dst?: number } = {}): Descs {
    const { src = F32, weights = F32, dst = F32 } = types;
    const { inChannels: ci, outChannels: co, filterHeight: kh, filterWidth: kw } = g;
    return {
      src: this.#ctx.nhwc(inputDims(g), src),
      dst: this.#ctx.nhwc(outputDims(g), dst),
      hwio: this.#ctx.hwio([co, ci, kh, kw]),
      anyWeights: this.#ctx.md([co, ci, kh, kw], undefined, weights),
      bias: this.#ctx.md([co], [1]),
      ...convWindow(g),
    };
  }

  /** The reorder between the user's hwio filter and the primitive's layout for `role`. */
  #reordered(pd: Deno.PointerObject, role: number, hwio: Uint8Array, toUser: boolean): Reordered {
    const theirs = this.#ctx.query(pd, role);
    const same = this.#ctx.equal(theirs, hwio);
    return {
      reorder: toUser ? this.#ctx.reorder(theirs, hwio) : this.#ctx.reorder(hwio, theirs),
      buffer: same ? null : this.#ctx.bufferFor(theirs),
      kept: new WeakMap(),
    };
  }

  #entry(g: ConvShape): Entry {
    if (g.dilationHeight !== 1 || g.dilationWidth !== 1) {
      throw new DnnlError("oneDNN convolutions here take dilation 1 only");
    }
    const key = primitiveKey(g);
    let e = this.#cache.get(key);
    if (!e) this.#cache.set(key, e = { forward: new Map(), impl: {} });
    return e;
  }

  #forwardPd(
    g: ConvShape,
    opts: { relu: boolean; bias: boolean; prop: number; inputs?: number },
  ) {
    const lib = this.#ctx.lib;
    const d = this.#descs(g, { src: opts.inputs, weights: opts.inputs });
    const op = this.#ctx.kept(OP_BYTES);
    check(
      lib.dnnl_convolution_forward_desc_init(
        op,
        opts.prop,
        CONV_DIRECT,
        d.src,
        d.anyWeights,
        opts.bias ? Deno.UnsafePointer.of(d.bias) : null,
        d.dst,
        d.strides,
        d.padL,
        d.padR,
      ),
      "convolution_forward_desc_init",
    );
    let attr: Deno.PointerObject | null = null;
    if (opts.relu) {
      attr = out((s) => lib.dnnl_primitive_attr_create(s), "primitive_attr_create");
      const po = out((s) => lib.dnnl_post_ops_create(s), "post_ops_create");
      check(lib.dnnl_post_ops_append_eltwise(po, 1, ELTWISE_RELU, 0, 0), "append_eltwise");
      check(lib.dnnl_primitive_attr_set_post_ops(attr, po), "set_post_ops");
    }
    const pd = out(
      (s) => lib.dnnl_primitive_desc_create(s, op, attr, this.#ctx.engine, null),
      "convolution forward primitive_desc_create",
    );
    return { pd, d };
  }

  /** The forward primitive of `g` (made once per options). */
  #forward(g: ConvShape, opts: { relu: boolean; bias: boolean }): Built {
    const e = this.#entry(g);
    const k = `${opts.relu}${opts.bias}`;
    let f = e.forward.get(k);
    if (!f) {
      const bf16 = this.precision === "bf16";
      const inputs = bf16 ? BF16 : F32;
      const { pd, d } = this.#forwardPd(g, { ...opts, prop: FORWARD_INFERENCE, inputs });
      const roles = [ARG.src, ARG.weights, ARG.dst, ...(opts.bias ? [ARG.bias] : [])];
      f = {
        conv: this.#ctx.primitive(pd, roles),
        weights: this.#reordered(pd, ARG.weights, d.hwio, false),
        ...(bf16 ? { source: this.#ctx.conversion(inputDims(g), d.src) } : {}),
      };
      e.forward.set(k, f);
      e.impl.forward ??= this.#ctx.implName(pd);
    }
    return f;
  }

  /** A gradient primitive of `g` (made once), from the table {@linkcode GRADIENTS}. */
  #gradient(g: ConvShape, kind: "backwardData" | "backwardWeights"): Built {
    const e = this.#entry(g);
    const made = e[kind];
    if (made) return made;
    const { describe, roles, filter } = GRADIENTS[kind];
    // bfloat16: backward-data takes the output gradient and the filter in bfloat16 (its input
    // gradient stays float32); backward-weights stays float32 (slower in bfloat16 here)
    const bf16 = this.precision === "bf16" && kind === "backwardData";
    const d = this.#descs(g, bf16 ? { weights: BF16, dst: BF16 } : {});
    const op = this.#ctx.kept(OP_BYTES);
    check(describe(this.#ctx.lib, op, d), `convolution_${kind}_desc_init`);
    // the forward primitive this gradient belongs to: oneDNN's hint for its layouts
    const hint = this.#forwardPd(g, {
      relu: false,
      bias: true,
      prop: FORWARD_TRAINING,
      inputs: bf16 ? BF16 : F32,
    }).pd;
    const pd = out(
      (s) => this.#ctx.lib.dnnl_primitive_desc_create(s, op, null, this.#ctx.engine, hint),
      `convolution ${kind} primitive_desc_create`,
    );
    const built = {
      conv: this.#ctx.primitive(pd, roles),
      weights: this.#reordered(pd, filter.role, d.hwio, filter.toUser),
      ...(bf16 ? { source: this.#ctx.conversion(outputDims(g), d.dst) } : {}),
    };
    e[kind] = built;
    e.impl[kind] = this.#ctx.implName(pd);
    return built;
  }

  conv(g: ConvShape): ConvKernels {
    return {
      forward: (io) => this.forward(g, io),
      backwardData: (io) => this.backwardData(g, io),
      backwardWeights: (io) => this.backwardWeights(g, io),
    };
  }

  /**
   * The filter `w` in the layout (and type) `f` takes: `w` itself when they agree, else reordered
   * — into `f`'s shared buffer, or once into a buffer of its own kept under `key`.
   */
  #filter(f: Built, w: Float32Array, key?: object): Float32Array | Uint8Array {
    const into = f.weights.buffer;
    if (!into) return w;
    const kept = key && f.weights.kept.get(key);
    if (kept) return kept;
    const buffer = key ? new Uint8Array(into.length) : into;
    this.#ctx.run(f.weights.reorder, [w, buffer]);
    if (key) f.weights.kept.set(key, buffer);
    return buffer;
  }

  /** The operand `a` as `f` takes it: converted to bfloat16 where `f` has a conversion. */
  #operand(f: Built, a: Float32Array): Float32Array | Uint8Array {
    if (!f.source) return a;
    this.#ctx.run(f.source.reorder, [a, f.source.buffer]);
    return f.source.buffer;
  }

  forward(g: ConvShape, io: ForwardIo): void {
    const { x, w, b, y, relu = false, filterKey } = io;
    const n = sizes(g);
    sized("x", x, n.x), sized("w", w, n.w), sized("b", b, n.b), sized("y", y, n.y);
    const f = this.#forward(g, { relu, bias: b !== undefined });
    const weights = this.#filter(f, w, filterKey);
    this.#ctx.run(f.conv, [this.#operand(f, x), weights, y, ...(b ? [b] : [])]);
  }

  backwardData(g: ConvShape, io: { dy: Float32Array; w: Float32Array; dx: Float32Array }): void {
    const { dy, w, dx } = io;
    const n = sizes(g);
    sized("dy", dy, n.y), sized("w", w, n.w), sized("dx", dx, n.x);
    const f = this.#gradient(g, "backwardData");
    this.#ctx.run(f.conv, [this.#operand(f, dy), this.#filter(f, w), dx]);
  }

  backwardWeights(
    g: ConvShape,
    io: { x: Float32Array; dy: Float32Array; dw: Float32Array; db?: Float32Array },
  ): void {
    const { x, dy, dw, db } = io;
    const n = sizes(g);
    sized("x", x, n.x), sized("dy", dy, n.y), sized("dw", dw, n.w), sized("db", db, n.b);
    const f = this.#gradient(g, "backwardWeights");
    const bias = db ?? new Float32Array(g.outChannels);
    this.#ctx.run(f.conv, [x, dy, f.weights.buffer ?? dw, bias]);
    if (f.weights.buffer) this.#ctx.run(f.weights.reorder, [f.weights.buffer, dw]);
  }

  /**
   * The links as one chain (./chain.ts) in this engine's precision, made once per shapes and
   * kept; `null` when oneDNN refuses a part of it (a layout, a primitive).
   */
  chain(links: readonly ChainLink[]): OneDnnChain | null {
    const key = links.map((l) => `${primitiveKey(l.shape)}${l.relu ? "+relu" : ""}`).join(";");
    if (!this.#chains.has(key)) {
      let made: OneDnnChain | null = null;
      try {
        made = new OneDnnChain(this.#ctx, links, this.precision);
      } catch (error) {
        if (!(error instanceof DnnlError || error instanceof RangeError)) throw error;
      }
      this.#chains.set(key, made);
    }
    return this.#chains.get(key)!;
  }

  supports(g: ConvShape): boolean {
    const key = primitiveKey(g);
    if (this.#refused.has(key)) return false;
    try {
      this.#forward(g, { relu: false, bias: true });
      this.#gradient(g, "backwardData");
      this.#gradient(g, "backwardWeights");
      return true;
    } catch (error) {
      if (!(error instanceof DnnlError)) throw error;
      this.#refused.add(key);
      return false;
    }
  }

  implementation(g: ConvShape, kind: ConvKind): string {
    if (kind === "forward") this.#forward(g, { relu: false, bias: true });
    else this.#gradient(g, kind);
    return this.#entry(g).impl[kind] ?? "";
  }

  setThreads(n: number): boolean {
    if (this.#threadsOf) return this.#threadsOf.setThreads(n);
    const omp = this.#omp();
    if (!omp) return false;
    omp.symbols.omp_set_num_threads(n > 0 ? Math.floor(n) : this.#initialThreads);
    return true;
  }

  threads(): number {
    return this.#omp()?.symbols.omp_get_max_threads() ?? 0;
  }

  singleThreaded(): () => void {
    if (this.#threadsOf) return this.#threadsOf.singleThreaded();
    if (this.#holders++ === 0) this.setThreads(1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holders === 0) this.setThreads(0);
    };
  }

  openmp(): string {
    this.#omp();
    return this.#gomp?.name ?? "";
  }
}

/**
 * How many times an OpenMP thread with nothing to do polls before it sleeps
 * (`GOMP_SPINCOUNT`, ≈ 0.5 ms on Zen 4): long enough to catch the next primitive of a forward
 * pass (the JavaScript between two is tens of microseconds), short enough to give the core back.
 */
export const SPIN_COUNT = 20000;

/** Why {@linkcode oneDnnBf16} gives no engine, when it does not. */
export let bf16MissingReason = "";

let bf16: OneDnn | null | undefined;

/**
 * oneDNN computing convolutions in bfloat16 (the forward pass and backward-data: operands rounded
 * to bfloat16, sums and outputs float32; its chains, ./chain.ts, store the activations and their
 * gradients in bfloat16 too; twice the multiply-adds per instruction where the CPU has
 * AVX512_BF16 or AMX), loaded once; `null` without oneDNN or where oneDNN would only emulate
 * bfloat16 (then {@linkcode bf16MissingReason} says why). Backward-weights stays float32 layer
 * by layer (slower in bfloat16 with NHWC operands); in a chain it takes bfloat16 operands.
 *
 * @example
 * ```ts
 * import { bf16MissingReason, oneDnnBf16 } from "./dnnl.ts";
 * const dnnl = oneDnnBf16();
 * console.log(dnnl ? dnnl.precision : bf16MissingReason);
 * ```
 */
export function oneDnnBf16(): OneDnn | null {
  if (bf16 !== undefined) return bf16;
  bf16 = null;
  const f32 = oneDnn();
  if (!f32) {
    bf16MissingReason = dnnlMissingReason;
    return bf16;
  }
  const engine = (f32 as OneDnnEngine).withPrecision("bf16");
  // a small convolution tells which kernel oneDNN picked for this CPU
  const impl = engine.implementation({
    batchSize: 1,
    inHeight: 8,
    inWidth: 8,
    inChannels: 16,
    outHeight: 6,
    outWidth: 6,
    outChannels: 16,
    strideHeight: 1,
    strideWidth: 1,
    filterHeight: 3,
    filterWidth: 3,
    dilationHeight: 1,
    dilationWidth: 1,
    padInfo: { top: 0, left: 0 },
  } as ConvShape, "forward");
  if (!/bf16|amx/.test(impl) || /ref/.test(impl)) {
    bf16MissingReason = `this CPU has no bfloat16 instructions oneDNN uses (it picked "${
      impl || "none"
    }"; AVX512_BF16 or AMX needed)`;
    return bf16;
  }
  bf16 = engine;
  return bf16;
}

/**
 * `dlopen` with OpenMP's waiting threads set to poll briefly, then sleep (`OMP_WAIT_POLICY=passive`
 * and `GOMP_SPINCOUNT` = {@linkcode SPIN_COUNT}, unless the user set either): on a busy or shared
 * machine a thread spinning for long (libgomp's default) steals the core the step's JavaScript
 * between two primitives needs; sleeping at once costs a wake-up per primitive (a forward pass of
 * 64² batches was 10–15 % slower than with spinning, docs/kernels.md). libgomp reads the variables
 * once, when it loads; they are removed again afterwards, so child processes (PyTorch in `bench`)
 * keep their own defaults.
 */
function openPassive(path: string): Deno.DynamicLibrary<typeof SYMBOLS> {
  const set: string[] = [];
  if (!envGet("OMP_WAIT_POLICY") && !envGet("GOMP_SPINCOUNT")) {
    try {
      Deno.env.set("OMP_WAIT_POLICY", "passive");
      set.push("OMP_WAIT_POLICY");
      Deno.env.set("GOMP_SPINCOUNT", String(SPIN_COUNT));
      set.push("GOMP_SPINCOUNT");
    } catch {
      // no --allow-env: libgomp's default
    }
  }
  try {
    return Deno.dlopen(path, SYMBOLS);
  } finally {
    for (const name of set) Deno.env.delete(name);
  }
}

/**
 * The oneDNN library with a CPU engine, loaded once; `null` when there is none (then
 * {@linkcode dnnlMissingReason} says why: not Deno, no `--allow-ffi`, `SLIDEWIN_DNNL=off`, or not
 * found).
 *
 * @example
 * ```ts
 * import { dnnlMissingReason, oneDnn } from "./dnnl.ts";
 * const dnnl = oneDnn();
 * if (dnnl) {
 *   // a 1×1 convolution of one pixel with two channels: y = 1·3 + 2·4 + 0.5
 *   const y = new Float32Array(1);
 *   dnnl.forward({
 *     batchSize: 1, inHeight: 1, inWidth: 1, inChannels: 2, outHeight: 1, outWidth: 1,
 *     outChannels: 1, strideHeight: 1, strideWidth: 1, filterHeight: 1, filterWidth: 1,
 *     dilationHeight: 1, dilationWidth: 1, padInfo: { top: 0, left: 0 },
 *   }, {
 *     x: new Float32Array([1, 2]), w: new Float32Array([3, 4]),
 *     b: new Float32Array([0.5]), y,
 *   });
 *   console.log(y[0]); // 11.5
 * } else console.log(dnnlMissingReason);
 * ```
 */
export function oneDnn(): OneDnn | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (typeof Deno === "undefined" || typeof Deno.dlopen !== "function") {
    dnnlMissingReason = "not running on Deno (no FFI)";
    return loaded;
  }
  const wanted = envGet("SLIDEWIN_DNNL");
  if (wanted === "off" || wanted === "0") {
    dnnlMissingReason = "SLIDEWIN_DNNL=off";
    return loaded;
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    dnnlMissingReason = "no --allow-ffi permission";
    return loaded;
  }
  let openError = "";
  for (const path of wanted ? [wanted] : DNNL_CANDIDATES) {
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      lib = openPassive(path);
    } catch (error) {
      openError = error instanceof Error ? error.message.split("\n")[0] : String(error);
      continue;
    }
    try {
      loaded = new OneDnnEngine(path, new DnnlContext(lib.symbols));
      return loaded;
    } catch (error) {
      openError = error instanceof Error ? error.message : String(error);
      lib.close();
    }
  }
  dnnlMissingReason = wanted
    ? `SLIDEWIN_DNNL=${wanted} could not be loaded (${openError})`
    : `libdnnl.so.2 not found${
      openError && !/not found|No such file|cannot open/i.test(openError) ? ` (${openError})` : ""
    }; Debian/Ubuntu: apt install libdnnl2, macOS: brew install onednn`;
  return loaded;
}
