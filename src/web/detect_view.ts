/**
 * Detect view: a seeded 256×256 scene of 1–8 digits (the library's `makeMultiScenes`, digits of
 * the MNIST test file), the library's `detect` (objectness threshold, one digit per place: reading's NMS), true boxes
 * green, detections red with label and score; "New scene" draws the next seed.
 *
 * Or the user's own picture, dropped on the view or chosen with its file input: decoded by the
 * browser (`createImageBitmap`, EXIF orientation applied), scaled to at most
 * {@linkcode MAX_SIDE} px on its long side, then read like `deno task read` reads a file
 * (src/web/reading.ts: luma, polarity found, background and contrast normalised, digits grouped
 * into numbers).
 *
 * @module
 */
import { detect } from "../detection/detect.ts";
import { READ_DETECTION } from "../detection/read.ts";
import { loadMnist } from "../data/mnist.ts";
import type { Model } from "../model/model.ts";
import { makeMultiScenes } from "../data/multi_scenes.ts";
import { COLORS, greyCanvas, label, strokeBox } from "./canvas.ts";
import { canvasGray, drawReading, readGray, readingData, readingText } from "./reading.ts";

/** Longest side a dropped picture is read at (larger ones are scaled down first). */
export const MAX_SIDE = 640;

/** Decodes a picture file and draws it on a canvas at most MAX_SIDE px on its long side. */
async function pictureCanvas(
  file: Blob,
): Promise<{ canvas: HTMLCanvasElement; width: number; height: number }> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error("the browser cannot decode it as a picture (PNG or JPEG expected)");
  }
  const { width, height } = bitmap;
  const k = Math.min(1, MAX_SIDE / Math.max(width, height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(width * k));
  canvas.height = Math.max(1, Math.round(height * k));
  const ctx = canvas.getContext("2d", { willReadFrequently: true })!;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return { canvas, width, height };
}

/**
 * Builds the detect view in `host`, drawn when it first scrolls into view; `host.dataset` keeps
 * `state` ("ready", or "error" with `error` when a dropped file cannot be read), `source`
 * ("scene" or "file"), `seed`, `truths` and `detections` (with score ≥ 0.5) of the scene shown,
 * for a picture `name`, `text` and `reading` (JSON: polarity, numbers, digit count), and `model`
 * (`options.modelName`: which model detects).
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
  const drop = document.createElement("label");
  drop.id = "detect-drop";
  drop.className = "drop";
  const input = document.createElement("input");
  input.type = "file";
  input.accept = "image/png,image/jpeg,image/*";
  input.id = "detect-file";
  drop.append(
    "Drop a picture of written numbers here (PNG or JPEG, dark on light or light on dark), or ",
    input,
  );
  host.append(drop, button, caption, view);

  async function showFile(file: File): Promise<void> {
    button.disabled = true;
    host.dataset.state = "busy";
    caption.textContent = `Reading ${file.name}…`;
    try {
      const { canvas, width, height } = await pictureCanvas(file);
      const gray = canvasGray(canvas);
      const result = await readGray(model, gray);
      const { image, reading } = result;
      const scale = Math.max(1, Math.min(4, Math.floor(560 / Math.max(image.width, image.height))));
      const shown = greyCanvas(image.data, { height: image.height, width: image.width, scale });
      drawReading(shown.getContext("2d")!, reading, { scale });
      canvas.className = "original";
      if (gray.matte !== null) { // transparent pixels shown on the level they were read on
        const v = Math.round(255 * gray.matte);
        canvas.style.background = `rgb(${v}, ${v}, ${v})`;
      }
      canvas.title = "the picture as dropped";
      const row = document.createElement("div");
      row.className = "row";
      row.append(canvas, shown);
      view.replaceChildren(row);
      const size = canvas.width === width
        ? `${width}×${height}`
        : `${width}×${height} read at ${canvas.width}×${canvas.height}`;
      caption.textContent = `${file.name} (${size}): ` +
        `${image.polarity === "dark-ink" ? "dark ink on light paper" : "light ink on dark"} ` +
        `(found), background and contrast normalised; ${readingData(result).detections} digits, ` +
        `read as: ${readingText(reading)} (${result.ms.toFixed(0)} ms).`;
      Object.assign(host.dataset, {
        source: "file",
        name: file.name,
        text: readingText(reading),
        reading: JSON.stringify(readingData(result)),
        state: "ready",
      });
      delete host.dataset.error;
    } catch (error) {
      const message = `Could not read ${file.name}: ${(error as Error).message}`;
      caption.textContent = message;
      view.replaceChildren();
      Object.assign(host.dataset, {
        source: "file",
        name: file.name,
        state: "error",
        error: message,
      });
    } finally {
      button.disabled = false;
    }
  }
  input.addEventListener("change", () => {
    const file = input.files?.[0];
    if (file) showFile(file);
    input.value = "";
  });
  host.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  host.addEventListener("dragleave", () => drop.classList.remove("over"));
  host.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const file = e.dataTransfer?.files?.[0];
    if (file) showFile(file);
  });

  async function show(): Promise<void> {
    button.disabled = true;
    const scenes = await makeMultiScenes(val, { count: 1, seed, size: 256, digits: [1, 8] });
    try {
      const [found] = await detect(model, scenes.images, READ_DETECTION);
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
        }), one per place (reading's NMS).`;
      for (const key of ["name", "text", "reading", "error"]) delete host.dataset[key];
      host.dataset.source = "scene";
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
