/**
 * `deno task check-paths` (part of `deno task ok`): every repository path named in a comment or a
 * doc exists. It reads the sources (.ts, .py, .sh), the docs (.md) and the notebooks' cells, finds
 * the paths they name — from the root (`src/model/loss.ts`, `docs/kernels.md`) or relative to the
 * file (`./lib/stats.ts`, `../src/cli.ts` here) — and prints one line per path that does not
 * exist. A path is a token with a file extension or a trailing slash (a folder); placeholders
 * (`<name>`, `*`, `${…}`) and what training writes (`runs/…`) are not paths of the repository.
 * Generated files (an `@generated` mark in their first lines, e.g. src/model/onnx/onnx_pb.ts)
 * carry their source's comments, which name paths of the project that wrote them: skipped.
 *
 * @module
 */
import { defineTask } from "../src/cli.ts";
import { exists } from "../src/io.ts";

/** Folders at the root whose paths comments name. */
const ROOTS = ["src", "specs", "tasks", "docs", "models", "fixtures", "notebooks", "web", ".ci"];

/** Files read, by extension. */
const READ = /\.(ts|md|py|sh|ipynb)$/;

/** Folders never read. */
const SKIP = new Set([".git", "node_modules", "runs"]);

/** The mark of a generated file (protoc-gen-es and others write it in their first lines). */
const GENERATED = /@generated\b/;

/** A path named somewhere, and where. */
export interface NamedPath {
  /** The file that names it (from the root). */
  file: string;
  /** 1-based line. */
  line: number;
  /** The path as written. */
  path: string;
  /** The path from the root it points at. */
  resolved: string;
}

const FROM_ROOT = new RegExp(
  String.raw`(?<![\w./:@-])(?:${ROOTS.map((r) => r.replace(".", "\\.")).join("|")})/[\w./@-]*`,
  "g",
);
const RELATIVE = /(?<![\w./:@-])\.\.?\/[\w./@-]+/g;

/** `a/b/../c` → `a/c`; null when it climbs out of the repository. */
function normalize(path: string): string | null {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) return null;
      parts.pop();
    } else parts.push(part);
  }
  return parts.join("/");
}

/**
 * The repository paths named in `text` (the contents of `file`, a path from the root): tokens
 * that start at a root folder, or with `./` / `../` (relative to the file's folder).
 *
 * @example
 * ```ts
 * import { namedPaths } from "./check_paths.ts";
 * const found = namedPaths("tasks/train.ts", "// see ../src/layers/conv.ts");
 * console.log(found[0].resolved); // "src/layers/conv.ts"
 * ```
 */
export function namedPaths(file: string, text: string): NamedPath[] {
  const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : "";
  const found: NamedPath[] = [];
  text.split("\n").forEach((content, i) => {
    for (const [pattern, relative] of [[FROM_ROOT, false], [RELATIVE, true]] as const) {
      for (const m of content.matchAll(pattern)) {
        const path = m[0].replace(/[.,:;)]+$/, "");
        // placeholders and templates: src/backends/<name>.ts, ${dir}/x, *.ts
        const next = content[m.index! + m[0].length];
        if (next !== undefined && "<${*".includes(next)) continue;
        // a file (with an extension) or a folder (with a trailing slash), not "src/dst"
        if (!/\.\w+$/.test(path) && !path.endsWith("/")) continue;
        const resolved = normalize(relative ? `${dir}/${path}` : path);
        if (resolved === null || resolved === "") continue;
        found.push({ file, line: i + 1, path, resolved });
      }
    }
  });
  return found;
}

/** The text of a notebook's cells (its outputs hold images and run logs, not the author's words). */
function notebookText(json: string): string {
  const cells = JSON.parse(json).cells as { source: string | string[] }[];
  return cells.map((c) => Array.isArray(c.source) ? c.source.join("") : c.source).join("\n");
}

async function* files(root: string, dir = ""): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(`${root}/${dir || "."}`)) {
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory && !SKIP.has(entry.name)) yield* files(root, path);
    else if (entry.isFile && READ.test(entry.name)) yield path;
  }
}

/**
 * The paths named in the repository at `root` that do not exist, in file order.
 *
 * @example
 * ```ts
 * import { missingPaths } from "./check_paths.ts";
 * console.log((await missingPaths(".")).length); // 0
 * ```
 */
export async function missingPaths(root: string): Promise<NamedPath[]> {
  const missing: NamedPath[] = [];
  const list: string[] = [];
  for await (const file of files(root)) list.push(file);
  for (const file of list.sort()) {
    let text = await Deno.readTextFile(`${root}/${file}`);
    if (GENERATED.test(text.slice(0, 2000))) continue;
    if (file.endsWith(".ipynb")) text = notebookText(text);
    for (const named of namedPaths(file, text)) {
      if (!(await exists(`${root}/${named.resolved}`))) missing.push(named);
    }
  }
  return missing;
}

/** The task: usage, flags and what it does. */
export const task = defineTask({
  usage: "deno task check-paths",
  about: "Checks that every repository path named in a comment or a doc exists.",
  flags: {},
  async run() {
    const root = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
    const missing = await missingPaths(root);
    for (const m of missing) console.log(`${m.file}:${m.line}: ${m.path} does not exist`);
    if (missing.length > 0) {
      console.error(`error: ${missing.length} path(s) named in comments or docs do not exist`);
      return 1;
    }
    console.log("every path named in comments and docs exists");
    return 0;
  },
});

if (import.meta.main) await task.main();
