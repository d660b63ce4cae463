/**
 * End to end in a real headless Chromium (Debian's `chromium`, driven by puppeteer-core): the
 * gallery on webgpu (SwiftShader) and on wasm agrees with the library's `predict` in Deno on the
 * same scenes; the window map, draw and detect views work; a forced unavailable backend falls
 * back with a message; in-page training lowers the loss; no console errors. Screenshots go to
 * runs/web/.
 */
import assert from "node:assert/strict";
import type { Page } from "npm:puppeteer-core@24.43.1";
import { useBackend } from "../src/backends/backend.ts";
import { tf } from "../src/deps.ts";
import { loadModel } from "../src/model/checkpoint.ts";
import { iou } from "../src/metrics.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { predict } from "../src/model/predict.ts";
import { makeScenes } from "../src/data/scenes.ts";
import { launchChromium, serveApp, SKIP_BROWSER } from "./web_support.ts";

const SEED = 3;
const SHOTS = "runs/web";

interface PageResults {
  backend: string;
  backendLabel: string;
  backendReason: string;
  timings: { firstPredictionMs: number; firstPredictMs: number; perSceneMs: number };
  scenes: {
    label: number;
    box: number[];
    predicted: { label: number; box: number[]; score: number; window: number };
  }[];
}

/**
 * The 30 scenes of `deno task visualize --seed SEED` and the library's predictions, in Deno
 * (wasm), plus every window's decoded score, label and box (to judge float ties, below).
 */
async function denoReference() {
  await useBackend("wasm");
  const { model } = await loadModel();
  const mnist = await loadMnist({ seed: SEED, testCount: 30, train: false });
  const scenes = await makeScenes(mnist.test, { count: 30, seed: SEED });
  const p = await predict(model, scenes.images);
  const out = tf.tidy(() => model.apply(scenes.images));
  const [, rows, cols] = out.shape;
  const raw = await out.data();
  const { size, stride, offset } = model.geometry;
  /** Score (max log-softmax), label and image box of window w of scene i. */
  const window = (i: number, w: number) => {
    const v = raw.subarray((i * rows * cols + w) * 15, (i * rows * cols + w + 1) * 15);
    const logits = Array.from(v.subarray(1, 11));
    const max = Math.max(...logits);
    const lse = max + Math.log(logits.reduce((s, l) => s + Math.exp(l - max), 0));
    const top = offset + Math.floor(w / cols) * stride, left = offset + (w % cols) * stride;
    return {
      score: max - lse,
      label: logits.indexOf(max),
      box: [top + v[11] * size, top + v[12] * size, left + v[13] * size, left + v[14] * size],
    };
  };
  tf.dispose([out, scenes.images]);
  model.dispose();
  return { labels: scenes.labels, boxes: scenes.boxes, p, window };
}

/** Opens `path` of the app, collects console errors, waits for data-state ready or error. */
async function open(page: Page, url: string, errors: string[]) {
  page.setDefaultTimeout(120_000); // SwiftShader compiles shaders slowly on a busy CPU
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(
    () => document.documentElement.dataset.state !== "loading",
    { timeout: 240_000 },
  );
  const state = await page.evaluate(() => ({
    state: document.documentElement.dataset.state,
    error: document.documentElement.dataset.error,
  }));
  assert.equal(state.state, "ready", `page error: ${state.error}`);
  return JSON.parse(
    await page.evaluate(() => document.getElementById("results")!.textContent!),
  ) as PageResults;
}

/**
 * The page's gallery agrees with Deno's: true labels equal, true boxes within 1 px, predicted
 * labels equal and predicted boxes within 1 px. The assignment's rule picks the window with the
 * best max log-softmax score, and a confident model has several windows at ≈ −1e-6: backends'
 * float rounding may pick another of them. Then that window must be a tie in Deno too (score
 * within 1e-4 of the best), and the page's box must equal Deno's box of that window (≤ 1 px).
 * Returns how many scenes took another, tied window.
 */
function assertAgrees(
  results: PageResults,
  ref: Awaited<ReturnType<typeof denoReference>>,
): number {
  assert.equal(results.scenes.length, 30);
  const close = (a: number[], b: ArrayLike<number>, what: string) => {
    for (let k = 0; k < 4; k++) {
      assert.ok(Math.abs(a[k] - b[k]) <= 1, `${what}: [${a}] vs Deno [${Array.from(b)}]`);
    }
  };
  let ties = 0;
  results.scenes.forEach((s, i) => {
    const what = `scene ${i} (${results.backend})`;
    assert.equal(s.label, ref.labels[i], `${what}: true label`);
    close(s.box, ref.boxes.subarray(4 * i, 4 * i + 4), `${what} true box`);
    assert.equal(s.predicted.label, ref.p.labels[i], `${what} predicted label`);
    if (s.predicted.window === ref.p.windows[i]) {
      close(s.predicted.box, ref.p.boxes.subarray(4 * i, 4 * i + 4), `${what} predicted box`);
    } else {
      ties++;
      const theirs = ref.window(i, s.predicted.window);
      assert.ok(
        theirs.score >= ref.p.scores[i] - 1e-4,
        `${what}: window ${s.predicted.window} (score ${theirs.score}) is not a tie with ` +
          `Deno's window ${ref.p.windows[i]} (score ${ref.p.scores[i]})`,
      );
      assert.equal(theirs.label, s.predicted.label, `${what}: tied window's label`);
      close(s.predicted.box, theirs.box, `${what} predicted box of tied window`);
    }
  });
  return ties;
}

Deno.test({
  name: "web app in headless chromium: webgpu and wasm galleries equal Deno's predict; views work",
  ignore: SKIP_BROWSER,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await Deno.mkdir(SHOTS, { recursive: true });
    const ref = await denoReference();
    const app = await serveApp();
    const browser = await launchChromium();
    try {
      await t.step("webgpu (SwiftShader): gallery and window map", async () => {
        const page = await browser.newPage();
        const errors: string[] = [];
        const results = await open(page, `${app.url}?seed=${SEED}`, errors);
        assert.equal(results.backend, "webgpu", results.backendReason);
        assert.match(results.backendLabel, /^webgpu \(.+\)$/);
        const ties = assertAgrees(results, ref);
        console.log(
          `webgpu: ${ties} of 30 scenes chose another (tied) window; timings ${
            JSON.stringify(results.timings)
          }`,
        );
        await page.screenshot({ path: `${SHOTS}/gallery-webgpu.png` });
        // window map of scene 4
        await page.click('#gallery figure[data-index="4"]');
        await page.waitForFunction(() => document.getElementById("windows")!.dataset.index === "4");
        const windows = await page.$("#windows");
        await windows!.screenshot({ path: `${SHOTS}/windows.png` });
        await page.screenshot({ path: `${SHOTS}/page-webgpu.png`, fullPage: true });
        assert.deepEqual(errors, []);
        await page.close();
      });

      await t.step("wasm (?backend=wasm): gallery, draw and detect", async () => {
        const page = await browser.newPage();
        const errors: string[] = [];
        const results = await open(page, `${app.url}?seed=${SEED}&backend=wasm`, errors);
        assert.equal(results.backend, "wasm");
        assert.match(results.backendReason, /asked for by \?backend=wasm/);
        const ties = assertAgrees(results, ref);
        console.log(
          `wasm: ${ties} of 30 scenes chose another (tied) window; timings ${
            JSON.stringify(results.timings)
          }`,
        );
        await page.screenshot({ path: `${SHOTS}/gallery-wasm.png` });
        // detect view rendered a scene with detections
        await page.$eval("#detect-section", (e) => e.scrollIntoView()); // drawn when seen
        await page.waitForFunction(
          () => document.getElementById("detect-section")!.dataset.state === "ready",
        );
        const detect = await page.$eval(
          "#detect-section",
          (e) => ({ ...(e as HTMLElement).dataset }),
        );
        // the shipped detector finds each digit once (mAP@0.5 0.99; ±1 for touching digits)
        assert.equal(detect.model, "detector");
        assert.ok(
          Number(detect.truths) >= 1 &&
            Math.abs(Number(detect.detections) - Number(detect.truths)) <= 1,
          JSON.stringify(detect),
        );
        await (await page.$("#detect-section"))!.screenshot({ path: `${SHOTS}/detect.png` });
        // draw a "7" about 20 px tall (like the training digits) at rows 50–71, columns 62–80
        await page.$eval("#draw-pad", (e) => e.scrollIntoView({ block: "center" }));
        const pad = (await (await page.$("#draw-pad"))!.boundingBox())!;
        const toPage = (x: number, y: number) => [
          pad.x + x * pad.width / 128,
          pad.y + y * pad.height / 128,
        ];
        const [x0, y0] = toPage(63, 52);
        await page.mouse.move(x0, y0);
        await page.mouse.down();
        for (const p of [[79, 51], [71, 70]] as const) {
          const [x, y] = toPage(p[0], p[1]);
          await page.mouse.move(x, y, { steps: 8 });
        }
        await page.mouse.up();
        await page.waitForFunction(() => {
          const d = document.getElementById("draw-section")!.dataset;
          return d.box && d.busy === "0";
        });
        const box = JSON.parse(
          await page.$eval("#draw-section", (e) => (e as HTMLElement).dataset.box!),
        ) as number[];
        // the oracle: the ink's own box, read back from the pad
        const ink = await page.$eval("#draw-pad", (c) => {
          const d = (c as HTMLCanvasElement).getContext("2d")!.getImageData(0, 0, 128, 128).data;
          let top = 128, bottom = 0, left = 128, right = 0;
          for (let r = 0; r < 128; r++) {
            for (let q = 0; q < 128; q++) {
              if (d[4 * (r * 128 + q)] === 0) continue;
              top = Math.min(top, r), bottom = Math.max(bottom, r + 1);
              left = Math.min(left, q), right = Math.max(right, q + 1);
            }
          }
          return [top, bottom, left, right];
        });
        assert.ok(iou(box, ink) >= 0.5, `box [${box}] vs ink [${ink}]: IoU ${iou(box, ink)}`);
        await (await page.$("#draw-section"))!.screenshot({ path: `${SHOTS}/draw.png` });

        assert.deepEqual(errors, []);
        await page.close();
      });

      await t.step("webgpu forced but unavailable: falls back and says so", async () => {
        const page = await browser.newPage();
        // a browser without WebGPU (no navigator.gpu) and without WebGL (no such contexts)
        await page.evaluateOnNewDocument(() => {
          delete (Navigator.prototype as { gpu?: unknown }).gpu;
          for (const proto of [HTMLCanvasElement.prototype, OffscreenCanvas.prototype]) {
            const getContext = proto.getContext as (...args: unknown[]) => unknown;
            Object.defineProperty(proto, "getContext", {
              value: function (this: unknown, kind: string, ...rest: unknown[]) {
                return /webgl/.test(kind) ? null : getContext.call(this, kind, ...rest);
              },
            });
          }
        });
        const errors: string[] = [];
        const results = await open(page, `${app.url}?seed=${SEED}&backend=webgpu`, errors);
        assert.notEqual(results.backend, "webgpu");
        assert.match(results.backendReason, /webgpu unavailable \(navigator\.gpu is missing\)/);
        assert.match(results.backendReason, /webgl unavailable/);
        assert.match(results.backendReason, /fell back to wasm/);
        assert.equal(results.backend, "wasm");
        const shown = await page.$eval("#backend-reason", (e) => e.textContent);
        assert.equal(shown, results.backendReason);
        assert.deepEqual(errors, []);
        await page.close();
      });

      await t.step("training in the page lowers the loss (wasm, 80 steps)", async () => {
        const page = await browser.newPage();
        const errors: string[] = [];
        await open(page, `${app.url}?seed=${SEED}&backend=wasm&train=300&steps=80`, errors);
        await page.$eval("#train-button", (b) => (b as HTMLButtonElement).click());
        await page.waitForFunction(
          () =>
            ["done", "error"].includes(document.getElementById("train-section")!.dataset.state!),
          { timeout: 90_000 },
        );
        const d = await page.$eval("#train-section", (e) => ({ ...(e as HTMLElement).dataset }));
        assert.equal(d.state, "done", JSON.stringify(d));
        assert.equal(Number(d.steps), 80);
        console.log(`in-page training: ${JSON.stringify(d)}`);
        assert.ok(Number(d.lastLoss) < 0.85 * Number(d.firstLoss), JSON.stringify(d));
        await (await page.$("#train-section"))!.screenshot({ path: `${SHOTS}/train.png` });
        assert.deepEqual(errors, []);
        await page.close();
      });
    } finally {
      await browser.cleanup();
      await app.close();
    }
  },
});
