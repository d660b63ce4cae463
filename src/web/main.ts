/**
 * Browser entry of `deno task web` (bundled with `deno bundle --platform browser`): picks the
 * backend, loads the exported LayersModel, runs the gallery, then wires the other views. When
 * the gallery is done `<html data-state>` is "ready" (or "error" with `data-error`), and
 * `<script id="results">` holds `{ backend, scenes: [{ label, box, predicted }] }`.
 *
 * @module
 */
import { tf } from "../deps.ts";
import { loadMnist } from "../data/mnist.ts";
import { predict } from "../model/predict.ts";
import { makeScenes } from "../data/scenes.ts";
import { chooseBackend } from "./backends.ts";
import { drawGallery, drawWindowMap, runGallery } from "./gallery.ts";
import { loadLocalizer } from "./localizer.ts";
import { setupDetect } from "./detect_view.ts";
import { setupWrite } from "./write_view.ts";
import { setupTrain } from "./train_view.ts";

const started = performance.now();
const $ = (id: string) => document.getElementById(id)!;

function setResults(value: unknown): void {
  $("results").textContent = JSON.stringify(value);
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const seedText = params.get("seed") ?? "0";
  const seed = Number(seedText);
  if (!Number.isInteger(seed) || seed < 0) {
    throw new Error(`?seed=${seedText} must be a non-negative integer`);
  }
  const choice = await chooseBackend(params.get("backend"), new URL("wasm/", location.href).href);
  $("backend").textContent = choice.label;
  $("backend-reason").textContent = choice.reason;
  if (choice.fellBack) $("backend-reason").classList.add("warn");
  const model = await loadLocalizer(new URL("model/model.json", location.href).href);
  const gallery = await runGallery(model, { seed, mnistDir: new URL("mnist/", location.href) });
  const firstPredictionMs = gallery.firstPredictionAt - started;
  const sinceNavigationMs = gallery.firstPredictionAt; // includes fetching and parsing the bundle
  const showWindows = (i: number) => drawWindowMap($("windows"), model, { gallery, index: i });
  await drawGallery($("gallery"), gallery, (i) => {
    showWindows(i).then(() => $("windows-section").scrollIntoView());
  });
  await showWindows(0);
  const wrong = gallery.results.filter((r) => r.predicted.label !== r.label).length;
  $("summary").textContent = `seed ${seed}: ${30 - wrong}/30 labels right · first prediction ` +
    `${(firstPredictionMs / 1000).toFixed(2)} s after start · ${
      gallery.perSceneMs.toFixed(2)
    } ms per scene (batch of 30)`;
  setResults({
    backend: choice.backend,
    backendLabel: choice.label,
    backendReason: choice.reason,
    seed,
    timings: {
      firstPredictionMs,
      sinceNavigationMs,
      firstPredictMs: gallery.firstPredictMs,
      perSceneMs: gallery.perSceneMs,
    },
    scenes: gallery.results,
  });
  // for the console and the specs: the engine, the model and the scenes in use
  Object.assign(globalThis, { slidewin: { tf, model, gallery, predict, makeScenes, loadMnist } });
  setupTrain($("train-section"), { mnistDir: new URL("mnist/", location.href) });
  document.documentElement.dataset.state = "ready";
  console.log(`slidewin: ready on ${tf.getBackend()}`);
  // the writing pad and the detect view come after the gallery (on SwiftShader their larger
  // shaders take a while); they run the shipped detector (models/detector), or the localizer
  // where that is not served
  let modelName = "detector";
  const detector = await loadLocalizer(new URL("detector/model.json", location.href).href)
    .catch((error) => {
      console.warn(
        `slidewin: no detector (${(error as Error).message}); detecting with the localizer`,
      );
      modelName = "localizer";
      return model;
    });
  setupWrite($("write-section"), detector, { modelName });
  await setupDetect($("detect-section"), detector, {
    mnistDir: new URL("mnist/", location.href),
    modelName,
  });
}

main().catch((error) => {
  if (document.documentElement.dataset.state === "ready") {
    console.error(error); // a later view failed; the gallery stands
    return;
  }
  const message = String((error as Error)?.message ?? error);
  document.documentElement.dataset.state = "error";
  document.documentElement.dataset.error = message;
  $("error").textContent = `Error: ${message}`;
  $("error").hidden = false;
  setResults({ error: message });
});
