/**
 * Small file helpers shared by the tasks: atomic writes (temp file in the same directory, then
 * rename), so a reader never sees a half-written checkpoint, metrics file or image.
 *
 * @module
 */

function splitPath(path: string): [string, string] {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (i < 0) return [".", path];
  return [i === 0 ? "/" : path.slice(0, i), path.slice(i + 1)];
}

/**
 * Writes `data` (bytes or text) to `path` atomically: the bytes go to a temporary file in the same
 * directory, which is then renamed over `path`. Creates the directory if needed.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./io.ts";
 * await writeFileAtomic("runs/example/hello.txt", "hello\n");
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  if (typeof path !== "string" || path === "") {
    throw new TypeError("path must be a non-empty file path");
  }
  const [dir, name] = splitPath(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${dir === "/" ? "" : dir}/.${name}.${Deno.pid}.${
    crypto.randomUUID().slice(0, 8)
  }.tmp`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/**
 * Writes `value` as pretty JSON (2-space indent, trailing newline) atomically.
 *
 * @example
 * ```ts
 * import { writeJsonAtomic } from "./io.ts";
 * await writeJsonAtomic("runs/example/data.json", { ok: true });
 * ```
 */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/**
 * Whether `path` exists (a file, a folder or anything `Deno.stat` sees).
 *
 * @example
 * ```ts
 * import { exists } from "./io.ts";
 * console.log(await exists("/definitely/not/here")); // false
 * ```
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
