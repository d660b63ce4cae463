/**
 * Loopback load on the web app's server: 2 000 requests at concurrency 50 for the page, the
 * bundle and the model (gzip and identity, some conditional), every answer checked byte for byte,
 * while a half-open client (request never finished) and a slow reader (never reads its body) stay
 * connected; RSS stays bounded.
 */
import assert from "node:assert/strict";

const TOTAL = 2000;
const sha256 = async (bytes: Uint8Array) =>
  Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource))).join();
const CONCURRENCY = 50;

/** Resident set size of process `pid` in MiB (Linux /proc). */
async function rssMiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(status.match(/VmRSS:\s+(\d+) kB/)![1]) / 1024;
}

Deno.test({
  name: "server under load: 2000 requests at concurrency 50, all correct, RSS bounded, no stalls",
  ignore: Deno.build.os !== "linux", // RSS is read from /proc
  sanitizeResources: false,
  async fn() {
    // the real thing: `deno task web` (bundle included) in its own process, RSS measured there
    const out = await Deno.makeTempDir();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "tasks/web.ts", "--port", "0", "--out", out],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!/serving http:\/\/\S+\/\n/.test(text)) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`deno task web ended: ${text}`);
      text += value;
    }
    const base = text.match(/serving (http:\/\/[^/\s]+)\//)![1];
    const port = Number(new URL(base).port);
    const files: [string, Uint8Array][] = [
      ["/", await Deno.readFile("web/index.html")],
      ["/app.js", await Deno.readFile(`${out}/app.js`)],
      ["/model/model.json", await Deno.readFile("models/default/layers/model.json")],
      [
        "/model/group1-shard1of1.bin",
        await Deno.readFile("models/default/layers/group1-shard1of1.bin"),
      ],
    ];
    const etags = new Map<string, string>();
    for (const [path] of files) {
      const res = await fetch(base + path, { method: "HEAD" });
      etags.set(path, res.headers.get("etag")!);
    }

    // a half-open client: the request head never ends
    const halfOpen = await Deno.connect({ hostname: "127.0.0.1", port });
    await halfOpen.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "));
    // a slow reader: asks for the weights (identity) and never reads the answer
    const slow = await Deno.connect({ hostname: "127.0.0.1", port });
    await slow.write(
      new TextEncoder().encode(
        "GET /model/group1-shard1of1.bin HTTP/1.1\r\nHost: x\r\n\r\n".repeat(20),
      ),
    );

    const counts = { ok: 0, notModified: 0 };
    const digests = new Map<string, string>();
    for (const [path, bytes] of files) digests.set(path, await sha256(bytes));
    const failures: string[] = [];
    let next = 0;
    const rss: number[] = [await rssMiB(child.pid)];
    async function worker(w: number) {
      while (next < TOTAL) {
        const k = next++;
        const [path, bytes] = files[k % files.length];
        const conditional = k % 10 === 7;
        const identity = k % 3 === 0;
        const headers: Record<string, string> = {};
        if (conditional) headers["if-none-match"] = etags.get(path)!;
        if (identity) headers["accept-encoding"] = "identity";
        try {
          const res = await fetch(base + path, { headers, signal: AbortSignal.timeout(30_000) });
          const body = new Uint8Array(await res.arrayBuffer());
          if (conditional) {
            if (res.status !== 304 || body.length !== 0) {
              failures.push(`${k} ${path} ${res.status}`);
            } else counts.notModified++;
          } else if (res.status !== 200 || body.length !== bytes.length) {
            failures.push(`${k} ${path}: ${res.status}, ${body.length} of ${bytes.length} bytes`);
          } else if ((await sha256(body)) !== digests.get(path)) {
            failures.push(`${k} ${path}: different bytes`);
          } else {
            counts.ok++;
          }
        } catch (error) {
          failures.push(`${k} ${path}: ${(error as Error).message}`);
        }
        if (w === 0 && k % 100 === 0) rss.push(await rssMiB(child.pid));
      }
    }
    const started = performance.now();
    try {
      await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
      const seconds = (performance.now() - started) / 1000;
      // the server still answers while the half-open and slow clients hang on
      const probe = await fetch(base + "/model/model.json", {
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal(probe.status, 200);
      await probe.body?.cancel();
      rss.push(await rssMiB(child.pid));
      console.log(
        `${TOTAL} requests at concurrency ${CONCURRENCY} in ${seconds.toFixed(1)} s ` +
          `(${(TOTAL / seconds).toFixed(0)}/s); server RSS ${rss[0].toFixed(0)} MiB before, ` +
          `max ${Math.max(...rss).toFixed(0)}, ${rss[rss.length - 1].toFixed(0)} after`,
      );
    } finally {
      halfOpen.close();
      slow.close();
      child.kill("SIGINT");
      await child.status;
      await lines.cancel();
      await Deno.remove(out, { recursive: true });
    }
    assert.deepEqual(failures, []);
    assert.equal(counts.ok + counts.notModified, TOTAL);
    assert.equal(counts.notModified, TOTAL / 10);
    // bounded: the in-flight bodies (50 × up to 1.4 MB) and the gzip cache, no growth per request
    const half = rss.slice(Math.floor(rss.length / 2));
    assert.ok(Math.max(...rss) < rss[0] + 200, `server RSS ${rss.map((r) => r.toFixed(0))}`);
    assert.ok(
      Math.max(...half) < Math.max(...rss.slice(0, Math.floor(rss.length / 2))) + 100,
      `server RSS keeps growing: ${rss.map((r) => r.toFixed(0))}`,
    );
  },
});
