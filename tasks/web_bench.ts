/**
 * `deno task web:bench` — measures the web app: bundle size (raw and gzip as served), time to the
 * first prediction and gallery inference time per scene in headless Chromium on webgpu
 * (SwiftShader here), webgl and wasm, against the library's `predict` in Deno (wasm), and in-page
 * training images/s. Needs Debian's `chromium`. Writes `runs/web/bench.json`.
 */
import { useBackend } from "../src/backends/backend.ts";
import { loadModel } from "../src/model/checkpoint.ts";
import { helpText, parseFlags, positiveInt, runMain } from "../src/cli.ts";
import { writeJsonAtomic } from "../src/io.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { predict } from "../src/model/predict.ts";
import { makeScenes } from "../src/data/scenes.ts";
import { launchChromium, serveApp } from "../specs/web_support.ts";

const FLAGS = {
  /** Page loads per backend. */
  runs: { default: 3, help: "Page loads per backend (median reported)", check: positiveInt },
  /** Seconds of in-page training per backend. */
  train: { default: 20, help: "Seconds of in-page training (0: skip)" },
  /** Backends to load the page with. */
  backends: { default: "webgpu,webgl,wasm", help: "Comma-separated page backends" },
  /** Output JSON. */
  out: { default: "runs/web/bench.json", help: "Output JSON" },
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function denoPerScene(runs: number) {
  const out: Record<string, number> = {};
  for (const backend of ["wasm", "native"] as const) {
    try {
      await useBackend(backend);
    } catch {
      continue;
    }
    const { model } = await loadModel();
    const mnist = await loadMnist({ seed: 0, testCount: 30, train: false });
    const scenes = await makeScenes(mnist.test, { count: 30, seed: 0 });
    await predict(model, scenes.images);
    const times = [];
    for (let i = 0; i < Math.max(5, runs); i++) {
      const t = performance.now();
      await predict(model, scenes.images);
      times.push((performance.now() - t) / 30);
    }
    out[backend] = median(times);
    scenes.images.dispose();
    model.dispose();
  }
  return out;
}

if (import.meta.main) {
  await runMain(async () => {
    const flags = parseFlags(Deno.args, FLAGS);
    if (!flags) {
      console.log(helpText("deno task web:bench", "Measures the web app in Chromium.", FLAGS));
      return 0;
    }
    const app = await serveApp();
    const browser = await launchChromium();
    const result: Record<string, unknown> = {};
    try {
      const bundle = await fetch(app.url + "app.js", {
        headers: { "accept-encoding": "identity" },
      });
      const raw = (await bundle.arrayBuffer()).byteLength;
      const gz = await fetch(app.url + "app.js", { headers: { "accept-encoding": "gzip" } });
      // Deno's fetch decompresses; the served size is the Content-Length header
      const gzipBytes = Number(gz.headers.get("content-length"));
      await gz.body?.cancel();
      result.bundle = { bytes: raw, gzipBytes };
      console.log(
        `bundle: ${(raw / 1024).toFixed(0)} KiB, gzip ${(gzipBytes / 1024).toFixed(0)} KiB`,
      );
      const pages: Record<string, unknown> = {};
      for (const backend of flags.backends.split(",")) {
        const runs = [];
        for (let r = 0; r < flags.runs; r++) {
          const page = await browser.newPage();
          await page.goto(`${app.url}?backend=${backend}&train=${flags.train}`);
          await page.waitForFunction(
            () => document.documentElement.dataset.state !== "loading",
            { timeout: 300_000 },
          );
          const res = JSON.parse(
            await page.evaluate(() => document.getElementById("results")!.textContent!),
          );
          if (res.error) throw new Error(`page on ${backend}: ${res.error}`);
          runs.push({ label: res.backendLabel, ...res.timings });
          if (r === 0 && flags.train > 0) {
            await page.click("#train-button");
            await page.waitForFunction(
              () =>
                ["done", "error"].includes(
                  document.getElementById("train-section")!.dataset.state!,
                ),
              { timeout: 600_000 },
            );
            const d = await page.$eval(
              "#train-section",
              (e) => ({ ...(e as HTMLElement).dataset }),
            );
            pages[`${backend}:train`] = d;
            console.log(`${backend}: in-page training ${JSON.stringify(d)}`);
          }
          await page.close();
        }
        const summary = {
          label: runs[0].label,
          runs,
          firstPredictionMs: median(runs.map((r) => r.firstPredictionMs)),
          sinceNavigationMs: median(runs.map((r) => r.sinceNavigationMs)),
          perSceneMs: median(runs.map((r) => r.perSceneMs)),
        };
        pages[backend] = summary;
        console.log(
          `${summary.label}: first prediction ${(summary.sinceNavigationMs / 1000).toFixed(2)} s ` +
            `after navigation, ${summary.perSceneMs.toFixed(2)} ms per scene (batch 30)`,
        );
      }
      result.pages = pages;
    } finally {
      await browser.cleanup();
      await app.close();
    }
    result.deno = await denoPerScene(flags.runs);
    console.log(`Deno predict per scene (batch 30): ${JSON.stringify(result.deno)}`);
    await writeJsonAtomic(flags.out, { date: new Date().toISOString(), ...result });
    console.log(`Wrote ${flags.out}`);
  });
}
