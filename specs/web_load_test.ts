/**
 * Loopback load on the web app's server: 2 000 requests at concurrency 50 for the page, the
 * bundle and the model (gzip and identity, some conditional), every answer checked byte for byte,
 * while a half-open client (request never finished) and a slow reader (never reads its body) stay
 * connected; RSS stays bounded.
 */
import assert from "node:assert/strict";
import { appFiles } from "../src/web/app_files.ts";
import { staticHandler } from "../src/web/server.ts";
import { makeRng } from "../src/rng.ts";

const TOTAL = 2000;
const sha256 = async (bytes: Uint8Array) =>
  Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource))).join();
const CONCURRENCY = 50;

Deno.test({
  name: "server under load: 2000 requests at concurrency 50, all correct, RSS bounded, no stalls",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    // a stand-in bundle of the real one's size class (≈ 1.4 MB of JavaScript-like text)
    const rng = makeRng(5);
    const words = Array.from({ length: 200_000 }, () => `v${rng.int(5000)}`);
    await Deno.writeTextFile(`${dir}/app.js`, `var a=[${words.join(",")}];\n`);
    const handler = staticHandler(await appFiles(".", `${dir}/app.js`));
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
    const base = `http://127.0.0.1:${server.addr.port}`;
    const files: [string, Uint8Array][] = [
      ["/", await Deno.readFile("web/index.html")],
      ["/app.js", await Deno.readFile(`${dir}/app.js`)],
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
    const halfOpen = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await halfOpen.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "));
    // a slow reader: asks for the weights (identity) and never reads the answer
    const slow = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
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
    const rss: number[] = [];
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
        if (w === 0 && k % 200 === 0) rss.push(Deno.memoryUsage().rss);
      }
    }
    const started = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
    const seconds = (performance.now() - started) / 1000;
    // the server still answers while the half-open and slow clients hang on
    const probe = await fetch(base + "/model/model.json", { signal: AbortSignal.timeout(10_000) });
    assert.equal(probe.status, 200);
    await probe.body?.cancel();
    halfOpen.close();
    slow.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });

    assert.deepEqual(failures, []);
    assert.equal(counts.ok + counts.notModified, TOTAL);
    assert.equal(counts.notModified, TOTAL / 10);
    const grow = (Math.max(...rss) - rss[0]) / 2 ** 20;
    console.log(
      `${TOTAL} requests at concurrency ${CONCURRENCY} in ${seconds.toFixed(1)} s ` +
        `(${(TOTAL / seconds).toFixed(0)}/s); RSS ${(rss[0] / 2 ** 20).toFixed(0)} → ` +
        `${(Math.max(...rss) / 2 ** 20).toFixed(0)} MiB`,
    );
    assert.ok(grow < 150, `RSS grew by ${grow.toFixed(0)} MiB during the run`);
  },
});
