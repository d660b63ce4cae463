/**
 * Detect view: a seeded 256×256 scene of 1–8 digits (the library's `makeMultiScenes`, digits of
 * the MNIST test file), the library's `detect` (objectness threshold, class-aware NMS), true boxes
 * green, detections red with label and score; "New scene" draws the next seed.
 *
 * @module
 */
import { detect } from "../detection/detect.ts";
import { loadMnist } from "../data/mnist.ts";
import type { Model } from "../model/model.ts";
import { makeMultiScenes } from "../data/multi_scenes.ts";
import { COLORS, greyCanvas, label, strokeBox } from "./canvas.ts";

/**
 * Builds the detect view in `host`, drawn when it first scrolls into view; `host.dataset` keeps
 * `state` ("ready"), `seed`, `truths` and `detections` (with score ≥ 0.5) of the scene shown, and
 * `model` (`options.modelName`: which model detects).
 */
export async function setupDetect(
  host: HTMLElement,
  model: Model,
  options: { mnistDir: URL; seed?: number; modelName?: string },
): Promise<void> {
  host.dataset.model = options.modelName ?? "";
  const { val } = await loadMnist({ dir: options.mnistDir, train: false });
  let seed = options.seed ?? 0;
  const view = document.createElement("div");
  view.id = "detect-result";
  const caption = document.createElement("p");
  const button = document.createElement("button");
  button.textContent = "New scene";
  host.append(button, caption, view);
  async function show(): Promise<void> {
    button.disabled = true;
    const scenes = await makeMultiScenes(val, { count: 1, seed, size: 256, digits: [1, 8] });
    try {
      const [found] = await detect(model, scenes.images);
      const drawn = found.filter((d) => d.score >= 0.5);
      const pixels = await scenes.images.data();
      const scale = 2;
      const canvas = greyCanvas(pixels, { height: 256, width: 256, scale });
      const g = canvas.getContext("2d")!;
      for (const t of scenes.objects[0]) strokeBox(g, t.box, { scale, color: COLORS.truth });
      for (const d of drawn) {
        strokeBox(g, d.box, { scale, color: COLORS.predicted, width: 2 });
        label(g, `${d.label} ${d.score.toFixed(2)}`, {
          x: d.box[2] * scale,
          y: Math.max(0, d.box[0] * scale - 18),
          color: "#fff",
        });
      }
      view.replaceChildren(canvas);
      const truths = scenes.objects[0].map((o) => o.label).join(" ");
      caption.textContent = `seed ${seed}: ${scenes.objects[0].length} digits (${truths}); ` +
        `${drawn.length} detections with score ≥ 0.5 (${
          drawn.map((d) => d.label).join(" ")
        }) after class-aware NMS.`;
      host.dataset.seed = String(seed);
      host.dataset.detections = String(drawn.length);
      host.dataset.truths = String(scenes.objects[0].length);
      host.dataset.state = "ready";
    } finally {
      scenes.images.dispose();
      button.disabled = false;
    }
  }
  button.addEventListener("click", () => {
    seed++;
    show();
  });
  // first drawn when scrolled into view: no work (nor shader compilation) for an unseen view
  await new Promise<void>((resolve) => {
    const seen = new IntersectionObserver((entries) => {
      if (!entries.some((e) => e.isIntersecting)) return;
      seen.disconnect();
      resolve();
    });
    seen.observe(host);
  });
  await show();
}
