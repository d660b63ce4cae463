/**
 * OpenBLAS through Deno FFI: finds the shared library (Debian's `libopenblas0`, Homebrew's
 * `openblas`, or the path in `SLIDEWIN_BLAS`), and calls its single-precision GEMM on
 * `Float32Array`s — plain ones or views onto the tfjs wasm heap. Nothing is installed or
 * compiled: when the library (or the `--allow-ffi` permission) is missing, {@linkcode openBlas}
 * says why and the caller stays on wasm.
 *
 * `SLIDEWIN_BLAS=off` disables it; `SLIDEWIN_BLAS=/path/libopenblas.so` picks a library.
 *
 * @module
 */

const SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32", // order
      "i32", // transA
      "i32", // transB
      "i32", // M
      "i32", // N
      "i32", // K
      "f32", // alpha
      "buffer", // A
      "i32", // lda
      "buffer", // B
      "i32", // ldb
      "f32", // beta
      "buffer", // C
      "i32", // ldc
    ],
    result: "void",
  },
  openblas_get_config: { parameters: [], result: "pointer" },
  openblas_get_num_threads: { parameters: [], result: "i32" },
  openblas_set_num_threads: { parameters: ["i32"], result: "void" },
} as const;

const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

/** Where the library is looked for, in order (after `SLIDEWIN_BLAS`). */
export const BLAS_CANDIDATES: readonly string[] = [
  "libopenblas.so.0", // Debian/Ubuntu libopenblas0-*, Fedora
  "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
  "libopenblas.so",
  "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
  "/usr/local/opt/openblas/lib/libopenblas.dylib",
  "libopenblas.dll",
];

/** A loaded OpenBLAS. */
export interface Blas {
  /** Path or name it was loaded from. */
  readonly path: string;
  /** `openblas_get_config()`, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Cooperlake …". */
  readonly config: string;
  /** Threads OpenBLAS uses per call (process-wide). */
  threads(): number;
  /** Sets the threads per call (process-wide; 1 when several Workers call it at once). */
  setThreads(n: number): void;
  /**
   * Switches to one thread per call until the returned release is called, counting holders, so
   * overlapping users (e.g. two gradient pools) restore the count once, when the last releases.
   */
  singleThreaded(): () => void;
  /**
   * Row-major `C = alpha · op(A) · op(B) + beta · C`, `op(A)` `m×k`, `op(B)` `k×n`, `C` `m×n`,
   * with leading dimensions `k` (or `m` when `transA`), `n` (or `k` when `transB`) and `n`.
   */
  sgemm(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    dims: { m: number; n: number; k: number; transA?: boolean; transB?: boolean; beta?: number },
  ): void;
}

/** A row-major single-precision GEMM with the signature of {@linkcode Blas.sgemm}. */
export type Sgemm = Blas["sgemm"];

/** Why {@linkcode openBlas} found no library, when it did not. */
export let blasMissingReason = "";

let loaded: Blas | null | undefined;

let openError = "";

function tryOpen(path: string): Blas | null {
  let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    lib = Deno.dlopen(path, SYMBOLS);
  } catch (error) {
    openError = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return null;
  }
  const s = lib.symbols;
  const ptr = s.openblas_get_config();
  const config = ptr ? new Deno.UnsafePointerView(ptr).getCString().trim() : "OpenBLAS";
  let holders = 0, saved = 1;
  return {
    path,
    config,
    threads: () => s.openblas_get_num_threads(),
    setThreads: (n) => s.openblas_set_num_threads(Math.max(1, Math.floor(n))),
    singleThreaded() {
      if (holders++ === 0) {
        saved = s.openblas_get_num_threads();
        s.openblas_set_num_threads(1);
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        if (--holders === 0) s.openblas_set_num_threads(saved);
      };
    },
    sgemm(a, b, c, { m, n, k, transA = false, transB = false, beta = 0 }) {
      for (const [name, v] of [["m", m], ["n", n], ["k", k]] as const) {
        if (!Number.isInteger(v) || v < 0) {
          throw new RangeError(`sgemm: ${name} must be a non-negative integer, got ${v}`);
        }
      }
      if (m === 0 || n === 0) return;
      for (
        const [name, arr, need] of [["a", a, m * k], ["b", b, k * n], ["c", c, m * n]] as const
      ) {
        if (arr.length < need) {
          throw new RangeError(
            `sgemm: ${name} has ${arr.length} values, needs ${need} for ${m}×${k} · ${k}×${n}`,
          );
        }
      }
      s.cblas_sgemm(
        ROW_MAJOR,
        transA ? TRANS : NO_TRANS,
        transB ? TRANS : NO_TRANS,
        m,
        n,
        k,
        1,
        a,
        transA ? m : k,
        b,
        transB ? k : n,
        beta,
        c,
        n,
      );
    },
  };
}

/**
 * The OpenBLAS library, loaded once; `null` when there is none (then {@linkcode blasMissingReason}
 * says why: no `--allow-ffi`, `SLIDEWIN_BLAS=off`, or not found).
 *
 * @example
 * ```ts
 * import { blasMissingReason, openBlas } from "./openblas.ts";
 * const blas = openBlas();
 * if (blas) {
 *   const c = new Float32Array(1);
 *   blas.sgemm(new Float32Array([1, 2]), new Float32Array([3, 4]), c, { m: 1, n: 1, k: 2 });
 *   console.log(c[0]); // 11
 * } else console.log(blasMissingReason);
 * ```
 */
export function openBlas(): Blas | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (typeof Deno === "undefined" || typeof Deno.dlopen !== "function") {
    blasMissingReason = "not running on Deno (no FFI)";
    return loaded;
  }
  let wanted: string | undefined;
  try {
    if (
      Deno.permissions.querySync({ name: "env", variable: "SLIDEWIN_BLAS" }).state === "granted"
    ) {
      wanted = Deno.env.get("SLIDEWIN_BLAS") || undefined;
    }
  } catch {
    wanted = undefined;
  }
  if (wanted === "off" || wanted === "0") {
    blasMissingReason = "SLIDEWIN_BLAS=off";
    return loaded;
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    blasMissingReason = "no --allow-ffi permission";
    return loaded;
  }
  const candidates = wanted ? [wanted] : BLAS_CANDIDATES;
  for (const path of candidates) {
    loaded = tryOpen(path);
    if (loaded) return loaded;
  }
  blasMissingReason = wanted
    ? `SLIDEWIN_BLAS=${wanted} could not be loaded (${openError})`
    : "libopenblas not found; Debian/Ubuntu: apt install libopenblas0, macOS: brew install openblas";
  return loaded;
}
