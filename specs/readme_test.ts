/**
 * The README's TypeScript examples stay correct: each ```ts block runs (its URL import of mod.ts
 * pointed at this checkout), and every call that claims the assignment's prediction rule spells
 * all of it (the best class score *and* no box vote).
 */
import assert from "node:assert/strict";

const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));
const MOD = new URL("../mod.ts", import.meta.url).href;
const CONFIG = decodeURIComponent(new URL("../deno.json", import.meta.url).pathname);

/** The ```ts blocks of the README, with the line each starts on. */
function tsBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== "```ts") continue;
    const start = i + 1;
    while (++i < lines.length && lines[i].trim() !== "```");
    blocks.push({ line: start + 1, code: lines.slice(start, i).join("\n") });
  }
  return blocks;
}

const blocks = tsBlocks(README);

Deno.test("README: the TypeScript examples import mod.ts and there are some", () => {
  assert.ok(blocks.length >= 2, `only ${blocks.length} ts blocks`);
  for (const b of blocks) assert.match(b.code, /from "https:\/\/your\.host\/slidewin\/mod\.ts"/);
});

Deno.test("README: every predict with the class-score rule also turns the box vote off", () => {
  const calls = [...README.matchAll(/predict\([^)]*select: "class"[^)]*\)/g)].map((m) => m[0]);
  assert.ok(calls.length >= 1, "the README shows the assignment's rule");
  for (const call of calls) assert.match(call, /vote: 0\b/, `${call} still votes the box`);
});

for (const b of blocks) {
  Deno.test(`README: the ts example at line ${b.line} runs`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "slidewin-readme-" });
    try {
      const file = `${dir}/example.ts`;
      await Deno.writeTextFile(
        file,
        b.code.replaceAll("https://your.host/slidewin/mod.ts", MOD),
      );
      const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", "--config", CONFIG, file],
        cwd: dir,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
      assert.equal(code, 0, `README line ${b.line}: the example failed:\n${text}`);
      if (b.code.includes('presetConfig("assignment"')) {
        assert.match(text, /\{ select: "class", vote: 0 \}/, "the model records the rule");
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
