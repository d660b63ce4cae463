/**
 * ONNX Runtime (npm `onnxruntime-node`, CPU provider) for the bench and the specs: the peer
 * runtime that runs slidewin's ONNX export (src/model/onnx_export.ts). It ships its native library
 * for Linux x64 / arm64 inside the npm package; where it cannot load, {@linkcode loadOrt} says why
 * in one line instead of throwing.
 *
 * @module
 */
import type * as OrtModule from "npm:onnxruntime-node@1.30.0";

/** The onnxruntime-node module. */
export type Ort = typeof OrtModule;

/** The version the bench and specs pin. */
export const ORT_VERSION = "1.30.0";
/** Its npm specifier (for messages; the import itself is written out, for the lock file). */
export const ORT_SPECIFIER = `npm:onnxruntime-node@${ORT_VERSION}`;

let loading: Promise<Ort | string> | undefined;

/**
 * onnxruntime-node, or the one-line reason it cannot load here (platform without its binary,
 * missing permission, …). Loaded once.
 *
 * @example
 * ```ts
 * import { loadOrt } from "./ort.ts";
 * const ort = await loadOrt();
 * console.log(typeof ort === "string" ? `no ONNX Runtime: ${ort}` : ort.env.versions.node);
 * ```
 */
export function loadOrt(): Promise<Ort | string> {
  loading ??= (async () => {
    try {
      const ort = await import("npm:onnxruntime-node@1.30.0") as Ort;
      if (typeof ort?.InferenceSession?.create !== "function") return "no InferenceSession export";
      return ort;
    } catch (error) {
      const text = String((error as Error)?.message ?? error).split("\n")[0];
      return `${ORT_SPECIFIER} did not load on ${Deno.build.os}-${Deno.build.arch}: ${text}`;
    }
  })();
  return loading;
}

/**
 * Whether ONNX Runtime must load here: under CI (`CI=true`) on Linux x64, where the npm package
 * ships its library, a failure to load is a failure, not a skip.
 */
export function ortRequired(): boolean {
  return Deno.env.get("CI") === "true" && Deno.build.os === "linux" &&
    Deno.build.arch === "x86_64";
}

/** A CPU session on `threads` intra-op threads (sequential execution, all graph optimisations). */
export async function ortSession(
  ort: Ort,
  model: Uint8Array,
  threads: number,
): Promise<OrtModule.InferenceSession> {
  return await ort.InferenceSession.create(model, {
    executionProviders: ["cpu"],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
}

/** Runs `session` on NCHW float32 `images` `[n, c, h, w]`; returns its single output. */
export async function ortRun(
  ort: Ort,
  session: OrtModule.InferenceSession,
  images: Float32Array,
  dims: readonly [number, number, number, number],
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const input = new ort.Tensor("float32", images, dims);
  const out = await session.run({ [session.inputNames[0]]: input });
  const t = out[session.outputNames[0]];
  const result = { data: t.data as Float32Array, dims: t.dims };
  input.dispose?.();
  return result;
}
