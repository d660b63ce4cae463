/**
 * A small static file server for the web app: it serves only the files under its named roots
 * (plus a few single files), never lists a directory, and refuses anything that tries to leave a
 * root — `..` segments (raw or percent-encoded), absolute or backslash paths, NUL bytes, and
 * symlinks pointing outside the root — with 404. Only GET and HEAD (405 otherwise, with `Allow`).
 * Strong ETags (size + mtime) with 304 on `If-None-Match`, `Last-Modified`, and gzip when the
 * client accepts it (compressed bodies of small files are cached; big ones are streamed).
 *
 * @module
 */

/** A folder served under a URL prefix. */
export interface StaticRoot {
  /** URL path prefix ending in "/", e.g. "/model/". */
  prefix: string;
  /** Folder on disk. */
  dir: string;
  /** Only file names matching this are served (others 404); default all. */
  allow?: RegExp;
}

/** Options of {@linkcode staticHandler}. */
export interface StaticOptions {
  /** Folders by URL prefix. */
  roots?: StaticRoot[];
  /** Single files by exact URL path, e.g. `{ "/": "web/index.html", "/app.js": "…" }`. */
  files?: Record<string, string>;
  /** Largest file whose gzip body is kept in memory; default 16 MiB (bigger ones stream). */
  cacheLimit?: number;
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json; charset=utf-8",
  map: "application/json; charset=utf-8",
  wasm: "application/wasm",
  png: "image/png",
  svg: "image/svg+xml",
  txt: "text/plain; charset=utf-8",
  bin: "application/octet-stream",
  ico: "image/x-icon",
};

/**
 * The Content-Type of a file name (by extension; `application/octet-stream` when unknown, e.g.
 * MNIST's extension-less IDX files).
 *
 * @example
 * ```ts
 * import { contentType } from "./server.ts";
 * console.log(contentType("tfjs-backend-wasm.wasm")); // "application/wasm"
 * ```
 */
export function contentType(name: string): string {
  const dot = name.lastIndexOf(".");
  return (dot >= 0 && TYPES[name.slice(dot + 1).toLowerCase()]) || "application/octet-stream";
}

/** Worth compressing: text, json, wasm and the raw binaries (IDX files, weights). */
const COMPRESSIBLE = /^(text\/|application\/(json|javascript|wasm|octet-stream)|image\/svg)/;

/** A file chosen for a request: its real path and stat. */
interface Found {
  path: string;
  info: Deno.FileInfo;
}

const notFound = () =>
  new Response("not found\n", {
    status: 404,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });

/**
 * The file of `root` that the URL path `rest` (after the prefix, still percent-encoded) names, or
 * null: rejects bad encodings, NUL, backslashes, empty, `.` and `..` segments, then resolves
 * symlinks and checks the result is a regular file inside the root's real path.
 */
async function resolveIn(root: StaticRoot, rest: string): Promise<Found | null> {
  let segments: string[];
  try {
    segments = rest.split("/").map((s) => decodeURIComponent(s));
  } catch {
    return null; // malformed percent-encoding
  }
  const bad = (s: string) => s === "" || s === "." || s === ".." || /[\0\\/]/.test(s);
  if (segments.length === 0 || segments.some(bad)) return null;
  if (root.allow && !root.allow.test(segments[segments.length - 1])) return null;
  try {
    const realRoot = await Deno.realPath(root.dir);
    const real = await Deno.realPath(`${realRoot}/${segments.join("/")}`);
    if (!real.startsWith(realRoot + "/")) return null; // a symlink out of the root
    const info = await Deno.stat(real);
    return info.isFile ? { path: real, info } : null; // no directory listings
  } catch {
    return null;
  }
}

async function resolveFile(path: string): Promise<Found | null> {
  try {
    const real = await Deno.realPath(path);
    const info = await Deno.stat(real);
    return info.isFile ? { path: real, info } : null;
  } catch {
    return null;
  }
}

/** Strong validator from size and modification time. */
function etagOf(info: Deno.FileInfo): string {
  return `"${info.size.toString(36)}-${(info.mtime?.getTime() ?? 0).toString(36)}"`;
}

/** Does `If-None-Match` (a list, or `*`) match `etag`? */
function matches(header: string | null, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => {
    const tag = t.trim().replace(/^W\//, "");
    return tag === "*" || tag === etag;
  });
}

/** Does the client accept gzip (a q of 0 refuses it)? */
function acceptsGzip(header: string | null): boolean {
  if (!header) return false;
  return header.split(",").some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(";").map((s) => s.trim());
    if (coding !== "gzip" && coding !== "*") return false;
    const q = params.find((p) => p.startsWith("q="));
    return !q || Number(q.slice(2)) > 0;
  });
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * A request handler serving `options.roots` and `options.files` as described in the module doc.
 *
 * @example
 * ```ts
 * import { staticHandler } from "./server.ts";
 * const handler = staticHandler({ files: { "/": "web/index.html" } });
 * const res = await handler(new Request("http://localhost/../etc/passwd"));
 * console.log(res.status); // 404
 * ```
 */
export function staticHandler(options: StaticOptions): (req: Request) => Promise<Response> {
  const roots = [...(options.roots ?? [])].sort((a, b) => b.prefix.length - a.prefix.length);
  for (const r of roots) {
    if (!r.prefix.startsWith("/") || !r.prefix.endsWith("/")) {
      throw new TypeError(`Root prefix "${r.prefix}" must start and end with "/"`);
    }
  }
  const files = new Map(Object.entries(options.files ?? {}));
  const cacheLimit = options.cacheLimit ?? 16 << 20;
  // gzip bodies by real path; an entry is replaced when the file's ETag changes
  const gzipCache = new Map<string, { etag: string; body: Promise<Uint8Array> }>();

  async function find(pathname: string): Promise<Found | null> {
    if (/%00|\0/i.test(pathname)) return null;
    const single = files.get(pathname);
    if (single !== undefined) return await resolveFile(single);
    const root = roots.find((r) => pathname.startsWith(r.prefix));
    return root ? await resolveIn(root, pathname.slice(root.prefix.length)) : null;
  }

  return async (req: Request): Promise<Response> => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", {
        status: 405,
        headers: { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" },
      });
    }
    let pathname: string;
    try {
      pathname = new URL(req.url).pathname;
    } catch {
      return notFound();
    }
    const found = await find(pathname);
    if (!found) return notFound();
    const { path, info } = found;
    const etag = etagOf(info);
    const type = contentType(path.slice(path.lastIndexOf("/") + 1));
    const compress = COMPRESSIBLE.test(type);
    const headers = new Headers({
      "content-type": type,
      etag,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
    });
    if (info.mtime) headers.set("last-modified", info.mtime.toUTCString());
    if (compress) headers.set("vary", "Accept-Encoding");
    const ifNoneMatch = req.headers.get("if-none-match");
    const ifModifiedSince = req.headers.get("if-modified-since");
    const notModified = ifNoneMatch !== null
      ? matches(ifNoneMatch, etag)
      : ifModifiedSince !== null && info.mtime !== null &&
        Math.floor(info.mtime.getTime() / 1000) <= Date.parse(ifModifiedSince) / 1000;
    if (notModified) return new Response(null, { status: 304, headers });
    const head = req.method === "HEAD";
    if (compress && acceptsGzip(req.headers.get("accept-encoding"))) {
      headers.set("content-encoding", "gzip");
      if (info.size <= cacheLimit) {
        let entry = gzipCache.get(path);
        if (!entry || entry.etag !== etag) {
          entry = { etag, body: Deno.readFile(path).then(gzip) };
          gzipCache.set(path, entry);
          entry.body.catch(() => gzipCache.delete(path));
        }
        const body = await entry.body;
        headers.set("content-length", String(body.length));
        return new Response(head ? null : body as BodyInit, { headers });
      }
      if (head) return new Response(null, { headers });
      const file = await Deno.open(path);
      return new Response(
        file.readable.pipeThrough(new CompressionStream("gzip")) as ReadableStream<Uint8Array>,
        { headers },
      );
    }
    headers.set("content-length", String(info.size));
    if (head) return new Response(null, { headers });
    const file = await Deno.open(path);
    return new Response(file.readable, { headers });
  };
}
