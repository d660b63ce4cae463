/**
 * Checkpoints in the tfjs layout: `model.json` (`format`, `architecture`, `weightsManifest`) next
 * to `weights.bin` (little-endian float32, in manifest order), written with Deno file APIs,
 * atomically (temp file in the same folder + rename). Loads from a folder path or an http(s) /
 * file URL.
 *
 * @module
 */
import { type Tensor, tf, type Variable } from "../deps.ts";
import { writeFileAtomic } from "../io.ts";
import { type ArchLayer, type Model, modelFromVariables, variableShapes } from "./model.ts";

/** The `format` tag of slidewin checkpoints. */
export const CHECKPOINT_FORMAT = "slidewin-localizer";

/** One entry of a weights manifest. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: "float32";
}

/** The content of `model.json` (or of any `<name>.json` written by {@linkcode saveTensors}). */
export interface CheckpointJson {
  format: string;
  generatedBy: string;
  architecture?: ArchLayer[];
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
  /** Anything the caller stored with the weights (epoch, step, …). */
  extra?: Record<string, unknown>;
}

/** Options of {@linkcode saveTensors}. */
export interface SaveTensorsOptions {
  /** Name of the json file; default "model.json". */
  json?: string;
  /** Name of the weights file; default "weights.bin". */
  bin?: string;
  /** More fields for the json (architecture, extra, …). */
  fields?: Partial<CheckpointJson>;
}

/**
 * Writes named float32 tensors as a json manifest + binary weights file (tfjs layout) in `dir`,
 * atomically (the weights first, then the json).
 *
 * @example
 * ```ts
 * import { saveTensors } from "./checkpoint.ts";
 * import { type Tensor, type Variable, tf } from "../deps.ts";
 * const m = new Map([["m", tf.zeros([2])]]);
 * await saveTensors("runs/example", m, { json: "optimizer.json", bin: "optimizer.bin" });
 * ```
 */
export async function saveTensors(
  dir: string,
  tensors: Map<string, Tensor>,
  options: SaveTensorsOptions = {},
): Promise<void> {
  const { json: jsonName = "model.json", bin = "weights.bin", fields = {} } = options;
  const specs: WeightSpec[] = [];
  const chunks: Float32Array[] = [];
  for (const [key, t] of tensors) {
    if (t.dtype !== "float32") {
      throw new TypeError(`Tensor "${key}" must be float32, got ${t.dtype}`);
    }
    specs.push({ name: key, shape: [...t.shape], dtype: "float32" });
    chunks.push(await t.data() as Float32Array);
  }
  const bytes = new Uint8Array(chunks.reduce((s, c) => s + c.byteLength, 0));
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++, at += 4) view.setFloat32(at, chunk[i], true);
  }
  const json: CheckpointJson = {
    format: fields.format ?? CHECKPOINT_FORMAT,
    generatedBy: "slidewin",
    ...fields,
    weightsManifest: [{ paths: [bin], weights: specs }],
  };
  await writeFileAtomic(`${dir}/${bin}`, bytes);
  await writeFileAtomic(`${dir}/${jsonName}`, JSON.stringify(json, null, 1) + "\n");
}

/**
 * Saves a model to `<dir>/model.json` + `<dir>/weights.bin`; `extra` is stored in model.json.
 *
 * @example
 * ```ts
 * import { buildModel } from "./model.ts";
 * import { saveModel } from "./checkpoint.ts";
 * await saveModel(buildModel(), "runs/example-model", { epoch: 0 });
 * ```
 */
export async function saveModel(
  model: Model,
  dir: string,
  extra?: Record<string, unknown>,
): Promise<void> {
  if (typeof dir !== "string" || dir === "") throw new TypeError("dir must be a folder path");
  await saveTensors(dir, model.variables, {
    fields: { architecture: model.arch.map((l) => ({ ...l })), ...(extra ? { extra } : {}) },
  });
}

function toUrl(dirOrUrl: string | URL, file: string): URL {
  if (dirOrUrl instanceof URL || /^(https?|file):\/\//.test(dirOrUrl)) {
    const base = new URL(String(dirOrUrl));
    if (!base.pathname.endsWith("/")) base.pathname += "/";
    return new URL(file, base);
  }
  const abs = dirOrUrl.startsWith("/") ? dirOrUrl : `${Deno.cwd()}/${dirOrUrl}`;
  const url = new URL("file://");
  url.pathname = abs.replace(/\/?$/, "/") + file;
  return url;
}

async function readBytes(url: URL, what: string): Promise<Uint8Array> {
  try {
    if (url.protocol === "file:") return await Deno.readFile(url);
    const res = await fetch(url);
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status}`);
    }
    return new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "not found" : (e as Error).message;
    throw new Error(`Cannot read ${what} at ${url.href}: ${why}; pass a checkpoint folder or URL`);
  }
}

/** A loaded checkpoint: the tensors by name, plus its json. */
export interface LoadedTensors {
  json: CheckpointJson;
  tensors: Map<string, Tensor>;
}

/**
 * Reads `<dirOrUrl>/<jsonName>` and the weights it lists; checks the byte count.
 *
 * @example
 * ```ts
 * import { loadTensors } from "./checkpoint.ts";
 * const { tensors } = await loadTensors("runs/example", "optimizer.json");
 * ```
 */
export async function loadTensors(
  dirOrUrl: string | URL,
  jsonName: string,
): Promise<LoadedTensors> {
  const jsonUrl = toUrl(dirOrUrl, jsonName);
  const text = new TextDecoder().decode(await readBytes(jsonUrl, jsonName));
  let json: CheckpointJson;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const why = (e as Error).message.replace(/\s+/g, " ").slice(0, 120);
    throw new Error(`${jsonUrl.href} is not valid JSON (${why}); re-save it`);
  }
  const group = json?.weightsManifest?.[0];
  if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
    throw new Error(`${jsonUrl.href} has no weightsManifest; it is not a tfjs checkpoint`);
  }
  if (!group.paths.every((p) => typeof p === "string" && p !== "")) {
    throw new Error(`${jsonUrl.href} has a weightsManifest with bad paths; re-save it`);
  }
  for (const w of group.weights) {
    const ok = w !== null && typeof w === "object" && typeof w.name === "string" &&
      Array.isArray(w.shape) && w.shape.length <= 8 &&
      w.shape.every((d) => Number.isSafeInteger(d) && d >= 0);
    if (!ok) {
      throw new Error(
        `${jsonUrl.href} lists a weight with a bad name or shape (${
          JSON.stringify(w).slice(0, 80)
        }); re-save it`,
      );
    }
  }
  const chunks = await Promise.all(group.paths.map((p) => readBytes(new URL(p, jsonUrl), p)));
  const bytes = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  const need = group.weights.reduce(
    (s, w) => s + 4 * w.shape.reduce((a, b) => a * b, 1),
    0,
  );
  if (bytes.length < need) {
    throw new Error(
      `${group.paths.join(", ")} holds ${bytes.length} bytes but ${jsonName} lists ${need}; ` +
        `the checkpoint is incomplete, re-save it`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tensors = new Map<string, Tensor>();
  let offset = 0;
  try {
    for (const w of group.weights) {
      if (w.dtype !== "float32") {
        throw new Error(`Weight "${w.name}" has dtype ${w.dtype}; need float32`);
      }
      const size = w.shape.reduce((a, b) => a * b, 1);
      const values = new Float32Array(size);
      for (let i = 0; i < size; i++, offset += 4) values[i] = view.getFloat32(offset, true);
      tf.dispose(tensors.get(w.name)); // a name listed twice: the last one wins
      tensors.set(w.name, tf.tensor(values, w.shape));
    }
  } catch (error) {
    tf.dispose([...tensors.values()]);
    throw error;
  }
  return { json, tensors };
}

/**
 * Where the pretrained model of the default architecture lives: `models/default/` in the
 * repository, next to this module — a file: URL in a clone, an http(s): URL when mod.ts is
 * imported from a server. Read with fetch, so both work.
 */
export const PRETRAINED_MODEL: URL = new URL("../../models/default/", import.meta.url);

/**
 * The pretrained multi-digit detector (`models/detector/`: trained on 128×128 scenes with 1–4
 * digits; see its README), read like {@linkcode PRETRAINED_MODEL}.
 */
export const PRETRAINED_DETECTOR: URL = new URL("../../models/detector/", import.meta.url);

/**
 * The shipped models by name, as the tasks' `--model` takes them: `default` (the single-digit
 * localizer) and `detector` (the multi-digit detector).
 */
export const PRETRAINED_MODELS: Readonly<Record<"default" | "detector", URL>> = Object.freeze({
  default: PRETRAINED_MODEL,
  detector: PRETRAINED_DETECTOR,
});

/**
 * What a task's `--model` names: a folder holding model.json (it wins), else one of
 * {@linkcode PRETRAINED_MODELS} by name; throws a one-line error naming both ways otherwise.
 *
 * @example
 * ```ts
 * import { resolveModel } from "./checkpoint.ts";
 * console.log(String(await resolveModel("detector")).endsWith("/models/detector/")); // true
 * ```
 */
export async function resolveModel(name: string): Promise<string | URL> {
  try {
    await Deno.stat(`${name}/model.json`);
    return name;
  } catch {
    if (Object.hasOwn(PRETRAINED_MODELS, name)) {
      return PRETRAINED_MODELS[name as keyof typeof PRETRAINED_MODELS];
    }
    throw new Error(
      `No model at ${name}/model.json; pass --model DIR (deno task train writes one) or a ` +
        `shipped model: ${Object.keys(PRETRAINED_MODELS).join(", ")}`,
    );
  }
}

/**
 * Loads a model saved by {@linkcode saveModel} from a folder path or an http(s)/file URL; with no
 * argument, the pretrained model shipped with the library ({@linkcode PRETRAINED_MODEL}), on the
 * tfjs backend in use (mod.ts's `loadModel` selects the default one first when none was chosen).
 * Throws one-line errors for missing or corrupt files and for weights that do not match the
 * architecture.
 *
 * @example
 * ```ts
 * import { loadModel } from "./checkpoint.ts";
 * const { model, extra } = await loadModel(); // the pretrained model
 * console.log(model.geometry, extra);
 * ```
 */
export async function loadModel(
  dirOrUrl: string | URL = PRETRAINED_MODEL,
): Promise<{ model: Model; extra: Record<string, unknown> }> {
  const { json, tensors } = await loadTensors(dirOrUrl, "model.json");
  const where = toUrl(dirOrUrl, "model.json").href;
  const variables = new Map<string, Variable>();
  try {
    if (json.format !== CHECKPOINT_FORMAT || !Array.isArray(json.architecture)) {
      throw new Error(
        `model.json has format ${JSON.stringify(json.format)} without an architecture; ` +
          `need a ${CHECKPOINT_FORMAT} checkpoint`,
      );
    }
    const shapes = variableShapes(json.architecture);
    const names = [...tensors.keys()];
    const want = [...shapes.keys()];
    if (names.join() !== want.join()) {
      throw new Error(
        `model.json weights [${names}] do not match its architecture's [${want}]; re-save it`,
      );
    }
    for (const [name, t] of tensors) {
      if (t.shape.join() !== shapes.get(name)!.join()) {
        throw new Error(
          `Weight "${name}" has shape [${t.shape}] but the architecture needs ` +
            `[${shapes.get(name)}]; re-save the checkpoint`,
        );
      }
      variables.set(name, tf.variable(t, true));
    }
    return { model: modelFromVariables(json.architecture, variables), extra: json.extra ?? {} };
  } catch (error) {
    tf.dispose([...variables.values()]);
    const message = String((error as Error)?.message ?? error);
    throw new Error(message.includes(where) ? message : `${where}: ${message}`);
  } finally {
    tf.dispose([...tensors.values()]);
  }
}
