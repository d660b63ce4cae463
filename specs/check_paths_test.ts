/**
 * tasks/check_paths.ts (in `deno task ok`): it finds the repository paths that comments and docs
 * name, from the root or relative to the file, skips placeholders and words that only look like
 * paths, and reports exactly the ones that do not exist. (The paths below are joined from parts,
 * so that the check, which reads this file too, does not take them for pointers of its own.)
 */
import assert from "node:assert/strict";
import { missingPaths, namedPaths } from "../tasks/check_paths.ts";

const p = (...parts: string[]) => parts.join("/");

Deno.test("namedPaths: from the root and relative to the file; placeholders and words skipped", () => {
  const text = [
    `// see ${p("src", "model", "loss.ts")}, and ${p("..", "layers", "conv.ts")} (the kind).`,
    `// a folder: ${p("src", "backends", "native", "")} and ${p("src", "backends", "<name>.ts")}`,
    `// not paths: ${p("src", "dst")}, ${p("https:", "", "example.com", "src", "x.ts")}, ` +
    `${p("${dir}", "x.ts")}, ${p("runs", "latest", "model.json")}`,
    `// two up: ${p("..", "..", "docs", "kernels.md")}`,
  ].join("\n");
  const found = namedPaths(p("src", "model", "loss.ts"), text).map((n) => [n.line, n.resolved]);
  assert.deepEqual(found, [
    [1, p("src", "model", "loss.ts")],
    [1, p("src", "layers", "conv.ts")],
    [2, p("src", "backends", "native")],
    [4, p("docs", "kernels.md")],
  ]);
  assert.deepEqual(namedPaths("README.md", p("..", "..", "outside.md")), []);
});

Deno.test("missingPaths: a stale pointer is reported with its file and line; the repository has none", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/src/model`, { recursive: true });
    const a = `/** see ${p(".", "b.ts")} and ${p("..", "c.ts")} */\n`;
    await Deno.writeTextFile(`${root}/src/model/a.ts`, a);
    await Deno.writeTextFile(`${root}/src/model/b.ts`, "// fine\n");
    const readme = `# x\n\n${p("src", "model", "a.ts")}, ${p("src", "gone.ts")}\n`;
    await Deno.writeTextFile(`${root}/README.md`, readme);
    const missing = (await missingPaths(root)).map((m) => `${m.file}:${m.line}: ${m.path}`);
    assert.deepEqual(missing, [
      `README.md:3: ${p("src", "gone.ts")}`,
      `${p("src", "model", "a.ts")}:1: ${p("..", "c.ts")}`,
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  assert.deepEqual(await missingPaths(new URL("..", import.meta.url).pathname), []);
});
