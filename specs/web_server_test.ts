/**
 * The web app's static server (src/web/server.ts) is a real server: only its roots, no listings,
 * traversal of every kind → 404, GET/HEAD only, content types, ETag/304, gzip. Raw requests go
 * over TCP so that no client normalizes the paths first.
 */
import assert from "node:assert/strict";
import { appFiles } from "../src/web/app_files.ts";
import { staticHandler } from "../src/web/server.ts";

/** One raw HTTP/1.1 exchange: status line, headers, body bytes. */
async function raw(port: number, request: string) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(request));
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  conn.close();
  const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) all.set(c, at), at += c.length;
  const text = new TextDecoder("latin1").decode(all);
  const end = text.indexOf("\r\n\r\n");
  const [status, ...lines] = text.slice(0, end).split("\r\n");
  const headers = new Map(lines.map((l) => {
    const i = l.indexOf(":");
    return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()] as [string, string];
  }));
  return { status: Number(status.split(" ")[1]), headers, body: all.subarray(end + 4) };
}

const get = (port: number, path: string, extra = "") =>
  raw(port, `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n${extra}\r\n`);

/** A served tree in a temp dir: web/ with a file, a symlink out, a symlink in, a folder. */
async function fixture() {
  const dir = await Deno.makeTempDir({ prefix: "slidewin-server-" });
  await Deno.mkdir(`${dir}/web/sub`, { recursive: true });
  await Deno.writeTextFile(`${dir}/web/index.html`, "<!doctype html><p>hi</p>\n".repeat(50));
  await Deno.writeTextFile(`${dir}/web/sub/a.css`, "p { color: red }\n");
  await Deno.writeTextFile(`${dir}/secret.txt`, "secret\n");
  await Deno.symlink(`${dir}/secret.txt`, `${dir}/web/out.txt`);
  await Deno.symlink("/etc", `${dir}/web/etc`);
  await Deno.symlink(`${dir}/web/sub/a.css`, `${dir}/web/in.css`);
  const handler = staticHandler({
    files: { "/": `${dir}/web/index.html` },
    roots: [{ prefix: "/static/", dir: `${dir}/web` }, {
      prefix: "/only-css/",
      dir: `${dir}/web/sub`,
      allow: /\.css$/,
    }],
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return {
    port: server.addr.port,
    dir,
    async close() {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("server: traversal, absolute paths, NUL, symlinks out and folders all get 404", async () => {
  const f = await fixture();
  try {
    const attacks = [
      "/static/../secret.txt",
      "/static/%2e%2e/secret.txt",
      "/static/%2E%2E/secret.txt",
      "/static/..%2fsecret.txt",
      "/static/%2e%2e%2fsecret.txt",
      "/static/..%5csecret.txt",
      "/static/sub/..%2f..%2fsecret.txt",
      "/static/%252e%252e/secret.txt",
      "/static/.%2e/secret.txt",
      "/static//etc/passwd",
      "//etc/passwd",
      "/etc/passwd",
      `/static/${encodeURIComponent(f.dir)}/secret.txt`,
      "/static/index.html%00",
      "/static/index.html%00.png",
      "/static/%00",
      "/static/out.txt", // symlink to a file outside the root
      "/static/etc/passwd", // symlink to a folder outside the root
      "/static/", // a folder: no listing
      "/static/sub",
      "/static/sub/",
      "/only-css/../index.html",
      "/only-css/%E0%A4%A", // malformed percent-encoding
      "/nothing-here",
    ];
    for (const path of attacks) {
      const res = await get(f.port, path);
      assert.equal(res.status, 404, `${path} → ${res.status}`);
      assert.ok(!new TextDecoder().decode(res.body).includes("secret"), path);
    }
    // the same files by their legitimate names are served
    assert.equal((await get(f.port, "/static/index.html")).status, 200);
    assert.equal((await get(f.port, "/static/sub/a.css")).status, 200);
    assert.equal((await get(f.port, "/static/in.css")).status, 200); // a symlink inside the root
    assert.equal((await get(f.port, "/only-css/a.css")).status, 200);
    assert.equal((await get(f.port, "/")).status, 200);
  } finally {
    await f.close();
  }
});

Deno.test("server: only GET and HEAD (405 with Allow); HEAD has GET's headers and no body", async () => {
  const f = await fixture();
  try {
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]) {
      const res = await raw(
        f.port,
        `${method} /static/index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get("allow"), "GET, HEAD");
    }
    const getRes = await get(f.port, "/static/index.html");
    const head = await raw(
      f.port,
      "HEAD /static/index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    for (const h of ["content-type", "etag", "last-modified", "content-length"]) {
      assert.equal(head.headers.get(h), getRes.headers.get(h), h);
    }
    assert.equal(Number(getRes.headers.get("content-length")), getRes.body.length);
  } finally {
    await f.close();
  }
});

Deno.test("server: ETag and Last-Modified give 304s; a changed file gets a new ETag", async () => {
  const f = await fixture();
  try {
    const first = await get(f.port, "/static/sub/a.css");
    const etag = first.headers.get("etag")!;
    assert.match(etag, /^"[0-9a-z]+-[0-9a-z]+"$/);
    const again = await get(f.port, "/static/sub/a.css", `If-None-Match: ${etag}\r\n`);
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    assert.equal(
      (await get(f.port, "/static/sub/a.css", `If-None-Match: "other", W/${etag}\r\n`)).status,
      304,
    );
    assert.equal((await get(f.port, "/static/sub/a.css", `If-None-Match: "x"\r\n`)).status, 200);
    const lm = first.headers.get("last-modified")!;
    assert.equal(
      (await get(f.port, "/static/sub/a.css", `If-Modified-Since: ${lm}\r\n`)).status,
      304,
    );
    const past = "Thu, 01 Jan 1970 00:00:00 GMT";
    assert.equal(
      (await get(f.port, "/static/sub/a.css", `If-Modified-Since: ${past}\r\n`)).status,
      200,
    );
    await Deno.writeTextFile(`${f.dir}/web/sub/a.css`, "p { color: blue; margin: 0 }\n");
    const changed = await get(f.port, "/static/sub/a.css", `If-None-Match: ${etag}\r\n`);
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.get("etag"), etag);
    assert.equal(new TextDecoder().decode(changed.body), "p { color: blue; margin: 0 }\n");
  } finally {
    await f.close();
  }
});

Deno.test("server: gzip when accepted (not with q=0), identical bytes after decompression", async () => {
  const f = await fixture();
  try {
    const plain = await Deno.readFile(`${f.dir}/web/index.html`);
    const gz = await get(f.port, "/static/index.html", "Accept-Encoding: br, gzip\r\n");
    assert.equal(gz.headers.get("content-encoding"), "gzip");
    assert.equal(gz.headers.get("vary"), "Accept-Encoding");
    assert.ok(gz.body.length < plain.length / 5, `${gz.body.length} vs ${plain.length}`);
    const unzipped = new Uint8Array(
      await new Response(new Blob([gz.body]).stream().pipeThrough(new DecompressionStream("gzip")))
        .arrayBuffer(),
    );
    assert.deepEqual(unzipped, plain);
    for (const refuse of ["", "Accept-Encoding: gzip;q=0\r\n", "Accept-Encoding: identity\r\n"]) {
      const res = await get(f.port, "/static/index.html", refuse);
      assert.equal(res.headers.get("content-encoding"), undefined, refuse);
      assert.deepEqual(res.body, plain);
    }
  } finally {
    await f.close();
  }
});

Deno.test("server: the app's files with their content types (wasm as application/wasm)", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/app.js`, "console.log(1);\n");
  const handler = staticHandler(await appFiles(".", `${dir}/app.js`));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const port = server.addr.port;
  try {
    const want: [string, string, string | null][] = [
      ["/", "text/html; charset=utf-8", "web/index.html"],
      ["/app.js", "text/javascript; charset=utf-8", `${dir}/app.js`],
      ["/static/style.css", "text/css; charset=utf-8", "web/style.css"],
      ["/model/model.json", "application/json; charset=utf-8", "models/default/layers/model.json"],
      ["/model/group1-shard1of1.bin", "application/octet-stream", null],
      ["/wasm/tfjs-backend-wasm.wasm", "application/wasm", null],
      ["/wasm/tfjs-backend-wasm-simd.wasm", "application/wasm", null],
      ["/wasm/tfjs-backend-wasm-threaded-simd.wasm", "application/wasm", null],
      ["/mnist/t10k-labels-idx1-ubyte", "application/octet-stream", null],
    ];
    for (const [path, type, file] of want) {
      const res = await get(port, path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get("content-type"), type, path);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      if (file) assert.deepEqual(res.body, await Deno.readFile(file), path);
    }
    // files of those packages that are not the app's stay private
    for (
      const path of ["/wasm/tfjs-backend-wasm.js", "/mnist/../package.json", "/model/../model.json"]
    ) {
      assert.equal((await get(port, path)).status, 404, path);
    }
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
