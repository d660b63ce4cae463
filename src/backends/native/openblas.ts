/**
 * OpenBLAS through Deno FFI: finds the shared library (Debian's `libopenblas0`, Homebrew's
 * `openblas`, or the path in `SLIDEWIN_BLAS`), and calls its single-precision GEMM on
 * `Float32Array`s — plain ones or views onto the tfjs wasm heap. Nothing is installed or
 * compiled: when the library (or the `--allow-ffi` permission) is missing, {@linkcode openBlas}
 * says why and the caller stays on wasm.
 *
 * `SLIDEWIN_BLAS=off` disables it; `SLIDEWIN_BLAS=/path/libopenblas.so` picks a library.
 *
 * Right after loading, before any product, it checks which kernel set ("core") OpenBLAS chose
 * against the CPU's vector extensions (./cpu_core.ts). When OpenBLAS fell back to a generic core on
 * a CPU with AVX2 or AVX-512 (Debian's 0.3.21 runs Sapphire Rapids on "Prescott" kernels, ≈ 6× slower)
 * and the user did not set `OPENBLAS_CORETYPE`, it sets `OPENBLAS_CORETYPE` and re-runs OpenBLAS's
 * own core selection (`gotoblas_dynamic_quit` + `gotoblas_dynamic_init`, exported by DYNAMIC_ARCH
 * builds). The library is loaded once per process, so Workers share that choice; child processes
 * inherit the variable and load with it. {@linkcode Blas.coreNote} says what happened.
 *
 * `SLIDEWIN_SIMULATE_OPENBLAS_CORE=Prescott` (specs only) makes OpenBLAS load with that core as if
 * it had chosen it itself, to exercise the switch on a CPU that OpenBLAS recognises.
 *
 * @module
 */
import { decideCore, readCpuFacts } from "./cpu_core.ts";
import { envAllowed, envGet } from "../permissions.ts";

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
  openblas_get_corename: { parameters: [], result: "pointer", optional: true },
  gotoblas_dynamic_init: { parameters: [], result: "void", optional: true },
  gotoblas_dynamic_quit: { parameters: [], result: "void", optional: true },
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
  /** The kernel set in use (`openblas_get_corename()`: "Cooperlake", "Haswell", …; "" if unknown). */
  readonly core: string;
  /**
   * How that kernel set was chosen, e.g. "chosen by OpenBLAS; CPU has AVX2", "set by
   * OPENBLAS_CORETYPE=Haswell", "forced: CPU has AVX-512, OpenBLAS saw Prescott".
   */
  readonly coreNote: string;
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

function cString(ptr: Deno.PointerValue): string {
  return ptr ? new Deno.UnsafePointerView(ptr).getCString().trim() : "";
}

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Checks OpenBLAS's core against the CPU and switches it when it fell back (module doc). */
function settleCore(s: Symbols, userSet: string | undefined): { core: string; note: string } {
  const name = () => s.openblas_get_corename ? cString(s.openblas_get_corename()) : "";
  const chosen = name();
  if (!chosen) return { core: "", note: "core unknown" };
  const inherited = envGet("SLIDEWIN_OPENBLAS_FORCED");
  const decision = decideCore({ cpu: readCpuFacts(), chosen, userSet, inherited });
  const force = decision.force;
  if (!force) return { core: chosen, note: decision.note };
  const hint = `; start with OPENBLAS_CORETYPE=${force}`;
  if (!s.gotoblas_dynamic_init || !s.gotoblas_dynamic_quit) {
    return { core: chosen, note: `${decision.note}, not switchable (no DYNAMIC_ARCH)${hint}` };
  }
  if (!envAllowed("OPENBLAS_CORETYPE") || !envAllowed("SLIDEWIN_OPENBLAS_FORCED")) {
    return { core: chosen, note: `${decision.note}, not switched: no --allow-env${hint}` };
  }
  // older releases have no Cooperlake core; SkylakeX has AVX-512 sgemm kernels too
  for (const core of force === "Cooperlake" ? [force, "SkylakeX"] : [force]) {
    Deno.env.set("OPENBLAS_CORETYPE", core);
    Deno.env.set("SLIDEWIN_OPENBLAS_FORCED", `${core};${decision.note}`);
    s.gotoblas_dynamic_quit();
    s.gotoblas_dynamic_init();
    if (name().toLowerCase() === core.toLowerCase()) return { core, note: decision.note };
  }
  return { core: name(), note: `${decision.note}; OpenBLAS refused ${force}${hint}` };
}

function tryOpen(path: string): Blas | null {
  let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  const userSet = envGet("OPENBLAS_CORETYPE");
  const simulate = envGet("SLIDEWIN_SIMULATE_OPENBLAS_CORE");
  if (simulate && envAllowed("OPENBLAS_CORETYPE")) Deno.env.set("OPENBLAS_CORETYPE", simulate);
  try {
    lib = Deno.dlopen(path, SYMBOLS);
  } catch (error) {
    openError = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return null;
  } finally {
    if (simulate && envAllowed("OPENBLAS_CORETYPE")) {
      if (userSet) Deno.env.set("OPENBLAS_CORETYPE", userSet);
      else Deno.env.delete("OPENBLAS_CORETYPE");
    }
  }
  const s = lib.symbols;
  const { core, note: coreNote } = settleCore(s, userSet);
  const config = cString(s.openblas_get_config()) || "OpenBLAS";
  let holders = 0, saved = 1;
  return {
    path,
    config,
    core,
    coreNote,
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
  const wanted = envGet("SLIDEWIN_BLAS");
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
