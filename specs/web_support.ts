/**
 * Helpers of the web specs (no tests here): build and serve the app on loopback, find and launch
 * Debian's `chromium` with puppeteer-core. Under CI (`CI=true`) a missing browser is a failure;
 * elsewhere the browser specs are skipped with a one-line reason.
 */
import puppeteer, { type Browser } from "npm:puppeteer-core@24.43.1";
import { appFiles, bundleApp } from "../src/web/app_files.ts";
import { staticHandler } from "../src/web/server.ts";

/** The first Chromium-like browser found (`$CHROMIUM` first), or null. */
export function findChromium(): string | null {
  const candidates = [
    Deno.env.get("CHROMIUM"),
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
  ].filter((p): p is string => !!p);
  for (const path of candidates) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not there
    }
  }
  return null;
}

/** Whether specs needing a system dependency must fail instead of skipping. */
export const IN_CI = Deno.env.get("CI") === "true";

/** Chromium's path, and the `ignore` value of the browser specs (false under CI). */
export const CHROMIUM = findChromium();
/** Skip the browser specs (only outside CI) when there is no browser. */
export const SKIP_BROWSER = CHROMIUM === null && !IN_CI;
if (SKIP_BROWSER) {
  console.error("skipping the browser specs: no chromium (apt-get install chromium)");
}

/** The app served on a free loopback port; `close()` stops it. */
export interface ServedApp {
  url: string;
  close(): Promise<void>;
}

/** Bundles the app into a temp folder and serves it on 127.0.0.1. */
export async function serveApp(): Promise<ServedApp> {
  const dir = await Deno.makeTempDir({ prefix: "slidewin-web-" });
  const bundle = `${dir}/app.js`;
  await bundleApp(".", bundle);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    staticHandler(await appFiles(".", bundle)),
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    async close() {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * Launches headless chromium with WebGPU enabled (SwiftShader on a machine without a GPU) and a
 * fresh profile; throws when there is none (the specs call it only when not skipped).
 */
export async function launchChromium(): Promise<Browser & { cleanup(): Promise<void> }> {
  if (!CHROMIUM) throw new Error("No chromium found; install it with `apt-get install chromium`");
  const profile = await Deno.makeTempDir({ prefix: "slidewin-chromium-" });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: [
      "--no-sandbox",
      "--enable-unsafe-webgpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--window-size=1100,900",
    ],
    defaultViewport: { width: 1100, height: 900 },
  });
  return Object.assign(browser, {
    async cleanup() {
      await browser.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  });
}
