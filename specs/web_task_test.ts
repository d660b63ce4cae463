/**
 * `deno task web` and `deno task export` as a user runs them: the web task bundles, prints
 * `serving http://HOST:PORT/`, serves the page, bundle, model and wasm, and stops cleanly on
 * Ctrl-C (SIGINT); bad flags are one line and exit 2.
 */
import assert from "node:assert/strict";

const run = (task: string, args: string[]) =>
  new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `tasks/${task}.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });

Deno.test("deno task web: serves the app, then Ctrl-C stops it cleanly", async () => {
  const out = await Deno.makeTempDir();
  const child = run("web", ["--port", "0", "--out", out]).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/serving http:\/\/\S+\/\n/.test(text)) {
    const { value, done } = await lines.read();
    if (done) break;
    text += value;
  }
  const url = text.match(/serving (http:\/\/127\.0\.0\.1:\d+\/)\n/)?.[1];
  assert.ok(url, `no "serving" line in ${JSON.stringify(text)}`);
  for (
    const [path, type] of [
      ["", "text/html"],
      ["app.js", "text/javascript"],
      ["model/model.json", "application/json"],
      ["wasm/tfjs-backend-wasm-simd.wasm", "application/wasm"],
    ]
  ) {
    const res: Response = await fetch(url + path);
    assert.equal(res.status, 200, path);
    assert.ok(res.headers.get("content-type")!.startsWith(type), path);
    await res.body?.cancel();
  }
  const bundle = await Deno.stat(`${out}/app.js`);
  assert.ok(bundle.size > 100_000, `bundle of ${bundle.size} bytes`);
  child.kill("SIGINT");
  const status = await child.status;
  while (!(await lines.read()).done) { /* drain */ }
  const stderr = await new Response(child.stderr).text();
  assert.equal(status.code, 0, stderr);
  assert.equal(stderr.trim(), "");
  await assert.rejects(fetch(url)); // nothing listens any more
  await Deno.remove(out, { recursive: true });
});

Deno.test("deno task web / export: bad flags are one line on stderr, exit 2", async () => {
  for (
    const [task, args, want] of [
      ["web", ["--port", "70000"], /--port/],
      ["web", ["--colour"], /Unknown flag --colour/],
      ["export", ["--nope"], /Unknown flag --nope/],
    ] as const
  ) {
    const r = await run(task, [...args]).output();
    const stderr = new TextDecoder().decode(r.stderr).trim();
    assert.equal(r.code, 2, `${task} ${args}: ${stderr}`);
    assert.equal(stderr.split("\n").length, 1, stderr);
    assert.match(stderr, /^error: /);
    assert.match(stderr, want);
  }
  const missing = await run("export", ["--model", "/nonexistent/dir"]).output();
  const err = new TextDecoder().decode(missing.stderr).trim();
  assert.equal(missing.code, 1, err);
  assert.match(err, /^error: No model at \/nonexistent\/dir\/model\.json; pass --model DIR/);
  assert.equal(err.split("\n").length, 1);
});
