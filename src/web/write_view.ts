/**
 * Writing pad: dark ink on a light pad, where the user writes one or more numbers with mouse,
 * pen or finger. At the end of every stroke the pad is read like a photo of a page: its pixels
 * shrunk 2× (digits written 40–60 px tall become the 20–30 px the detector knows), normalised
 * (polarity found from the pad, src/data/normalize.ts) and read by the detector
 * (src/web/reading.ts). The numbers appear under the pad, their digits boxed on the pad itself.
 *
 * @module
 */
import { shrinkGray } from "../data/gray.ts";
import type { Model } from "../model/model.ts";
import { greyCanvas } from "./canvas.ts";
import {
  canvasGray,
  drawReading,
  type PageReading,
  readGray,
  readingData,
  readingText,
} from "./reading.ts";

/** The pad in page pixels. */
export const PAD = { width: 512, height: 192 } as const;
/** Page pixels per detector pixel. */
export const SHRINK = 2;
/** Pad colours: paper and ink. */
const PAPER = "#f4f1e8", INK = "#1b1b2f";

/**
 * Builds the writing pad in `host` with the detector `model`. `host.dataset` keeps `state`
 * ("ready"), `busy` ("0" once the last stroke is read), and after a reading `text` (the numbers,
 * lines split by "|"), `reading` (JSON: polarity, numbers with boxes in detector pixels — page
 * pixels / SHRINK — and confidence, digit count) and `ms`.
 */
export function setupWrite(host: HTMLElement, model: Model, options: { modelName: string }): void {
  const note = document.createElement("p");
  note.className = "muted";
  note.textContent = "Write a number with the mouse, a pen or a finger — digits about 40–60 px " +
    "tall, several numbers and lines if you like. After every stroke the pad is shrunk 2×, " +
    `normalised like a photo of paper, and read by the ${options.modelName}.`;
  const wrap = document.createElement("div");
  wrap.className = "pad-wrap";
  const pad = document.createElement("canvas");
  pad.width = PAD.width;
  pad.height = PAD.height;
  pad.className = "pad write-pad";
  pad.id = "write-pad";
  const overlay = document.createElement("canvas");
  overlay.width = PAD.width;
  overlay.height = PAD.height;
  overlay.className = "pad-overlay";
  wrap.append(pad, overlay);
  const ctx = pad.getContext("2d", { willReadFrequently: true })!;
  const over = overlay.getContext("2d")!;
  const clear = () => {
    ctx.fillStyle = PAPER;
    ctx.fillRect(0, 0, PAD.width, PAD.height);
    over.clearRect(0, 0, PAD.width, PAD.height);
  };
  clear();
  const button = document.createElement("button");
  button.textContent = "Clear";
  const text = document.createElement("p");
  text.id = "write-text";
  text.className = "reading";
  text.textContent = "…";
  const caption = document.createElement("p");
  caption.className = "muted";
  const seen = document.createElement("div");
  seen.id = "write-seen";
  host.append(note, wrap, document.createElement("br"), button, text, caption, seen);

  function show(result: PageReading): void {
    const { image, reading } = result;
    over.clearRect(0, 0, PAD.width, PAD.height);
    drawReading(over, reading, { scale: SHRINK, digitLabels: false });
    text.textContent = readingText(reading);
    caption.textContent =
      `${reading.numbers.length} number${reading.numbers.length === 1 ? "" : "s"} · ${
        image.polarity === "dark-ink" ? "dark ink on light paper" : "light ink on dark"
      } ` +
      `(found) · ${result.ms.toFixed(0)} ms · below: what the detector saw`;
    const canvas = greyCanvas(image.data, { height: image.height, width: image.width, scale: 2 });
    drawReading(canvas.getContext("2d")!, reading, { scale: 2 });
    seen.replaceChildren(canvas);
    host.dataset.text = readingText(reading);
    host.dataset.reading = JSON.stringify(readingData(result));
    host.dataset.ms = result.ms.toFixed(1);
  }

  let busy = false, again = false, ink = false;
  async function read(): Promise<void> {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    host.dataset.busy = "1";
    try {
      if (!ink) {
        over.clearRect(0, 0, PAD.width, PAD.height);
        text.textContent = "…";
        caption.textContent = "";
        seen.replaceChildren();
        for (const key of ["text", "reading", "ms"]) delete host.dataset[key];
        return;
      }
      show(await readGray(model, shrinkGray(canvasGray(pad), SHRINK)));
    } catch (error) {
      text.textContent = `Could not read the pad: ${(error as Error).message}`;
      console.error(error);
    } finally {
      busy = false;
      if (again) {
        again = false;
        read();
      } else host.dataset.busy = "0";
    }
  }

  let drawing = false;
  const at = (e: PointerEvent) => {
    const r = pad.getBoundingClientRect();
    return [
      (e.clientX - r.left) * PAD.width / r.width,
      (e.clientY - r.top) * PAD.height / r.height,
    ];
  };
  pad.addEventListener("pointerdown", (e) => {
    drawing = true;
    ink = true;
    pad.setPointerCapture(e.pointerId);
    const [x, y] = at(e);
    ctx.strokeStyle = INK;
    ctx.lineWidth = 6;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x, y);
    ctx.stroke();
  });
  pad.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const [x, y] = at(e);
    ctx.lineTo(x, y);
    ctx.stroke();
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    read();
  };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  button.addEventListener("click", () => {
    clear();
    ink = false;
    read();
  });
  host.dataset.busy = "0";
  host.dataset.state = "ready";
}
