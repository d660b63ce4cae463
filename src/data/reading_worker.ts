/**
 * The Worker side of {@linkcode ReadingSceneMaker} (./reading_scenes.ts): it holds a copy of the
 * digits and makes batches of reading scenes on its own thread, so a training step on the other
 * threads does not wait for them.
 *
 * Messages in: `{ type: "init", source }` once, then `{ type: "make", id, options }`. Messages out:
 * `{ type: "made", id, pixels, objects, numbers }` (pixels transferred) or
 * `{ type: "error", id, message }`.
 *
 * @module
 */
import { makeReadingScenes, type ReadingSceneOptions } from "./reading_scenes.ts";
import type { SceneSource } from "./render.ts";

let source: SceneSource | undefined;

self.onmessage = (e: MessageEvent) => {
  const message = e.data as
    | { type: "init"; source: SceneSource }
    | { type: "make"; id: number; options: ReadingSceneOptions };
  if (message.type === "init") {
    source = message.source;
    return;
  }
  try {
    const made = makeReadingScenes(source!, message.options);
    self.postMessage(
      { type: "made", id: message.id, ...made },
      { transfer: [made.pixels.buffer] },
    );
  } catch (error) {
    self.postMessage({ type: "error", id: message.id, message: (error as Error).message });
  }
};
