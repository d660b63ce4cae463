/**
 * Adam's update as one kernel for the wasm backend and its siblings (native, onednn): one pass over
 * the weights, both moments and the gradient on the wasm heap, instead of the eleven tfjs ops per
 * variable of ../../training/adam.ts (each a dispatch and a pass over memory). On the default net
 * (464 239 weights) that was ≈ 4 ms of a ≈ 27 ms training step on 2 cores.
 *
 * Every operation is rounded to float32 in the order the ops take it, so the result is the ops'
 * result bit for bit (specs/adam_test.ts): a model trained with it has the weights trained without
 * it. Products, sums, quotients and square roots of float32 values computed in float64 and rounded
 * once are the correctly rounded float32 results.
 *
 * @module
 */
import { tf } from "../../deps.ts";
import { heapF32, type Info, sizeOf, type WasmBackend } from "./wasm_heap.ts";

/** The kernel's name, as `tf.engine().runKernel` and the kernel registry know it. */
export const ADAM_KERNEL = "SlidewinAdam";

/** Attributes of {@linkcode ADAM_KERNEL}: the update `w − α·m̂/(√v̂ + ε)` with its moments. */
export interface AdamAttrs {
  /** Decay of the first moment. */
  beta1: number;
  /** Decay of the second moment. */
  beta2: number;
  /** Added to √v. */
  epsilon: number;
  /** Step size with the bias corrections folded in: `lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)`. */
  alpha: number;
}

/**
 * One Adam update of `w`, `m`, `v` with gradient `g`, written into `w2`, `m2`, `v2` (all the same
 * length; inputs and outputs may not overlap): exactly what
 * `m2 = m·β₁ + g·(1−β₁)`, `v2 = v·β₂ + g²·(1−β₂)`, `w2 = w − m2/(√v2 + ε)·α` give as float32 tfjs
 * ops.
 *
 * @example
 * ```ts
 * import { adamElements } from "./adam_kernel.ts";
 * const w2 = new Float32Array(1), m2 = new Float32Array(1), v2 = new Float32Array(1);
 * const one = new Float32Array([1]), zero = new Float32Array(1);
 * adamElements({ w: one, m: zero, v: zero, g: one }, { w2, m2, v2 }, {
 *   beta1: 0.9, beta2: 0.999, epsilon: 1e-8, alpha: 0.1,
 * });
 * console.log(m2[0].toFixed(3), v2[0].toFixed(3), w2[0].toFixed(4)); // "0.100 0.001 0.9968"
 * ```
 */
export function adamElements(
  from: { w: Float32Array; m: Float32Array; v: Float32Array; g: Float32Array },
  into: { w2: Float32Array; m2: Float32Array; v2: Float32Array },
  attrs: AdamAttrs,
): void {
  const { w, m, v, g } = from, { w2, m2, v2 } = into;
  const n = w.length;
  for (const [name, a] of Object.entries({ m, v, g, w2, m2, v2 })) {
    if (a.length !== n) {
      throw new RangeError(`adamElements: ${name} has ${a.length} values, w has ${n}`);
    }
  }
  const f = Math.fround;
  // the scalars as tfjs makes them: float32 tensors of the JavaScript numbers
  const b1 = f(attrs.beta1), c1 = f(1 - attrs.beta1);
  const b2 = f(attrs.beta2), c2 = f(1 - attrs.beta2);
  const eps = f(attrs.epsilon), alpha = f(attrs.alpha);
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const mi = f(f(m[i] * b1) + f(gi * c1));
    const vi = f(f(v[i] * b2) + f(f(gi * gi) * c2));
    m2[i] = mi;
    v2[i] = vi;
    w2[i] = w[i] - f(f(mi / f(f(Math.sqrt(vi)) + eps)) * alpha);
  }
}

/** The parts of the Emscripten module behind tfjs's wasm backend that the SIMD pass needs. */
interface WasmModule {
  HEAPU8: Uint8Array;
  /** The instance's exports; `memory` is the heap every tensor lives on. */
  asm?: { memory?: unknown };
}

// WebAssembly opcodes of the SIMD pass (the 0xfd prefix, then the operation as LEB128)
const GET = 0x20, SET = 0x21, I32_ADD = 0x6a, I32_GE_U = 0x4f, I32_CONST = 0x41;
const BLOCK = 0x02, LOOP = 0x03, BR = 0x0c, BR_IF = 0x0d, END = 0x0b, VOID = 0x40;
const LOAD = [0xfd, 0x00, 0x00, 0x00], STORE = [0xfd, 0x0b, 0x00, 0x00];
const SPLAT = [0xfd, 0x13], SQRT = [0xfd, 0xe3, 0x01], ADD = [0xfd, 0xe4, 0x01];
const SUB = [0xfd, 0xe5, 0x01], MUL = [0xfd, 0xe6, 0x01], DIV = [0xfd, 0xe7, 0x01];
const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;

/**
 * A WebAssembly module (written out here, nothing compiled elsewhere) exporting
 * `adam(w, m, v, g, w2, m2, v2, bytes, β₁, 1−β₁, β₂, 1−β₂, ε, α)`: the update of
 * {@linkcode adamElements} four floats at a time with `f32x4` operations (each rounded like the
 * scalar ops), over `bytes` bytes from byte offsets into the imported memory `env.memory`.
 */
function adamModuleBytes(): Uint8Array<ArrayBuffer> {
  // params 0–6 the arrays, 7 the byte count, 8–13 the scalars; locals 14 i, 15–20 the splatted
  // scalars, 21 g, 22 m2, 23 v2
  const [w, m, v, g, w2, m2, v2, bytes] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [i, B1, C1, B2, C2, E, A, gi, mi, vi] = [14, 15, 16, 17, 18, 19, 20, 21, 22, 23];
  const at = (p: number) => [GET, p, GET, i, I32_ADD];
  const body = [
    ...[0, 1, 2, 3, 4, 5].flatMap((k) => [GET, 8 + k, ...SPLAT, SET, B1 + k]),
    BLOCK,
    VOID,
    LOOP,
    VOID,
    ...[GET, i, GET, bytes, I32_GE_U, BR_IF, 1],
    ...[...at(g), ...LOAD, SET, gi],
    // m2 = m·β₁ + g·(1−β₁)
    ...[...at(m), ...LOAD, GET, B1, ...MUL, GET, gi, GET, C1, ...MUL, ...ADD, SET, mi],
    ...[...at(m2), GET, mi, ...STORE],
    // v2 = v·β₂ + g²·(1−β₂)
    ...[...at(v), ...LOAD, GET, B2, ...MUL, GET, gi, GET, gi, ...MUL, GET, C2, ...MUL, ...ADD],
    ...[SET, vi, ...at(v2), GET, vi, ...STORE],
    // w2 = w − m2/(√v2 + ε)·α
    ...[...at(w2), ...at(w), ...LOAD, GET, mi, GET, vi, ...SQRT, GET, E, ...ADD, ...DIV],
    ...[GET, A, ...MUL, ...SUB, ...STORE],
    ...[GET, i, I32_CONST, 16, I32_ADD, SET, i, BR, 0],
    END,
    END,
    END,
  ];
  const code = [2, 1, I32, 9, V128, ...body]; // locals: 1 i32, 9 v128
  const section = (id: number, content: number[]) => [id, ...leb(content.length), ...content];
  const name = (text: string) => [text.length, ...new TextEncoder().encode(text)];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 14, ...Array(8).fill(I32), ...Array(6).fill(F32), 0]),
    ...section(2, [1, ...name("env"), ...name("memory"), 0x02, 0x00, 0x01]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name("adam"), 0x00, 0]),
    ...section(10, [1, ...leb(code.length), ...code]),
  ]);
}

/** Unsigned LEB128. */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    const byte = n & 0x7f;
    n >>>= 7;
    out.push(n ? byte | 0x80 : byte);
  } while (n);
  return out;
}

type AdamPass = (...args: number[]) => void;

/** The SIMD pass per wasm memory (one per tfjs wasm instance); null where it cannot run. */
const passes = new WeakMap<object, AdamPass | null>();

/** The SIMD pass over `module`'s heap, made once; null without WebAssembly SIMD or the memory. */
function simdPass(module: WasmModule): AdamPass | null {
  const memory = module.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return null;
  let pass = passes.get(memory);
  if (pass === undefined) {
    pass = null;
    try {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(adamModuleBytes()), {
        env: { memory },
      });
      pass = instance.exports.adam as AdamPass;
    } catch {
      // no WebAssembly SIMD here: the scalar loop
    }
    passes.set(memory, pass);
  }
  return pass;
}

/**
 * Whether the kernel runs four floats at a time (WebAssembly SIMD on the heap's memory) on the
 * current backend, a wasm one; false means the scalar loop (the same bits, ≈ 10× slower).
 *
 * @example
 * ```ts
 * import { tf } from "../../deps.ts";
 * import "../backend.ts";
 * import { adamRunsSimd } from "./adam_kernel.ts";
 * await tf.setBackend("wasm");
 * console.log(typeof adamRunsSimd()); // "boolean"
 * ```
 */
export function adamRunsSimd(): boolean {
  const module = (tf.backend() as unknown as { wasm?: WasmModule }).wasm;
  return module !== undefined && simdPass(module) !== null;
}

type Args = {
  inputs: { w: Info; m: Info; v: Info; g: Info };
  backend: WasmBackend & { wasm: WasmModule };
  attrs: AdamAttrs;
};

/**
 * The kernel: inputs `w`, `m`, `v`, `g` (float32, one size), attributes {@linkcode AdamAttrs};
 * outputs the new `[w, m, v]` as fresh tensors. Four floats at a time in WebAssembly SIMD where
 * the heap's memory is reachable, the rest (and everything, elsewhere) in the scalar loop.
 */
function adamKernel({ inputs, backend, attrs }: Args): Info[] {
  const { w, m, v, g } = inputs;
  const n = sizeOf(w.shape);
  for (const [name, t] of Object.entries(inputs)) {
    if (t.dtype !== "float32" || sizeOf(t.shape) !== n) {
      throw new RangeError(
        `${ADAM_KERNEL}: ${name} must be float32 with ${n} values, got ${t.dtype} [${t.shape}]`,
      );
    }
  }
  const outs = [w, m, v].map((t) => backend.makeOutput([...t.shape], "float32"));
  const pass = simdPass(backend.wasm);
  const done = pass ? n - (n % 4) : 0;
  if (pass && done > 0) {
    const offset = (t: Info) => backend.dataIdMap.get(t.dataId).memoryOffset;
    const f = Math.fround;
    pass(
      ...[w, m, v, g, ...outs].map(offset),
      done * 4,
      f(attrs.beta1),
      f(1 - attrs.beta1),
      f(attrs.beta2),
      f(1 - attrs.beta2),
      f(attrs.epsilon),
      f(attrs.alpha),
    );
  }
  if (done < n) {
    // views after every allocation (an allocation may grow the heap)
    const view = (t: Info) => heapF32(backend, t).subarray(done);
    const [w2, m2, v2] = outs.map(view);
    adamElements({ w: view(w), m: view(m), v: view(v), g: view(g) }, { w2, m2, v2 }, attrs);
  }
  return outs;
}
/** {@linkcode ADAM_KERNEL}'s function, for registering under "wasm" (siblings copy it). */
export const adamKernelFunc = adamKernel as unknown as tf.KernelFunc;
