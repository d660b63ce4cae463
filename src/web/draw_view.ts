/**
 * Draw view: a 128×128 pad (shown at 256×256) where the user draws a digit anywhere with mouse or
 * touch; after every stroke the model localizes it — box, label and the objectness of all 12×12
 * windows — on an input size it was never trained on.
 *
 * @module
 */
import { type Tensor4D, tf } from "../deps.ts";
import type { Model } from "../model/model.ts";
import { predict } from "../model/predict.ts";
import { COLORS, greyCanvas, label, strokeBox } from "./canvas.ts";
import { windowOutputs } from "./gallery.ts";

/** Side of the drawing pad in model pixels. */
export const PAD_SIDE = 128;
/** Display scale of the pad. */
const SHOW = 2;

/** The pad's pixels as a `[1, 128, 128, 1]` tensor in [0, 1] (white ink on black). */
function padTensor(pad: HTMLCanvasElement): Tensor4D {
  const data = pad.getContext("2d")!.getImageData(0, 0, PAD_SIDE, PAD_SIDE).data;
  const grey = new Float32Array(PAD_SIDE * PAD_SIDE);
  for (let i = 0; i < grey.length; i++) grey[i] = data[4 * i] / 255;
  return tf.tensor4d(grey, [1, PAD_SIDE, PAD_SIDE, 1]);
}

/**
 * Builds the draw view in `host`. The result of the latest localization is kept in
 * `host.dataset` (`label`, `box` as JSON; `busy` is "0" once the last stroke is localized).
 */
export function setupDraw(host: HTMLElement, model: Model): void {
  const pad = document.createElement("canvas");
  pad.width = pad.height = PAD_SIDE;
  pad.className = "pad";
  pad.id = "draw-pad";
  pad.style.width = pad.style.height = `${PAD_SIDE * SHOW}px`;
  const ctx = pad.getContext("2d", { willReadFrequently: true })!;
  const clear = () => {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, PAD_SIDE, PAD_SIDE);
  };
  clear();
  const view = document.createElement("div");
  view.id = "draw-result";
  const note = document.createElement("p");
  note.className = "muted";
  note.textContent = "Draw a digit (about 20–30 px tall on this 128×128 pad) anywhere; the model " +
    "slides its 40-px window over all 12×12 positions at once.";
  const button = document.createElement("button");
  button.textContent = "Clear";
  const row = document.createElement("div");
  row.className = "row";
  const left = document.createElement("div");
  left.append(pad, document.createElement("br"), button);
  row.append(left, view);
  host.append(note, row);

  let busy = false, again = false;
  async function localize(): Promise<void> {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    host.dataset.busy = "1";
    const x = padTensor(pad);
    try {
      const anyInk = (await tf.max(x).data())[0] > 0;
      if (!anyInk) {
        view.replaceChildren();
        delete host.dataset.label;
        delete host.dataset.box;
        return;
      }
      const p = await predict(model, x);
      const outs = await windowOutputs(model, x);
      const pixels = await x.data();
      const scale = 3;
      const canvas = greyCanvas(pixels, { height: PAD_SIDE, width: PAD_SIDE, scale });
      const g = canvas.getContext("2d")!;
      const { size, stride, offset } = model.geometry;
      for (let r = 0; r < outs.rows; r++) {
        for (let c = 0; c < outs.cols; c++) {
          const o = outs.objectness[r * outs.cols + c];
          if (o < 0.05) continue;
          const cy = offset + r * stride + (size - stride) / 2;
          const cx = offset + c * stride + (size - stride) / 2;
          g.fillStyle = `rgba(255, 140, 0, ${0.6 * o})`;
          g.fillRect(cx * scale, cy * scale, stride * scale, stride * scale);
        }
      }
      const box = Array.from(p.boxes.subarray(0, 4));
      const w = p.windows[0];
      const top = offset + Math.floor(w / outs.cols) * stride;
      const leftPx = offset + (w % outs.cols) * stride;
      strokeBox(g, [top, top + size, leftPx, leftPx + size], {
        scale,
        color: COLORS.window,
        dash: [6, 4],
      });
      strokeBox(g, box, { scale, color: COLORS.predicted, width: 3 });
      label(g, `${p.labels[0]}  (${Math.exp(p.scores[0]).toFixed(2)})`, {
        x: box[2] * scale,
        y: Math.max(0, box[0] * scale - 18),
        color: "#fff",
      });
      view.replaceChildren(canvas);
      host.dataset.label = String(p.labels[0]);
      host.dataset.box = JSON.stringify(box);
    } finally {
      x.dispose();
      busy = false;
      if (again) {
        again = false;
        localize();
      } else {
        host.dataset.busy = "0";
      }
    }
  }

  let drawing = false;
  const at = (e: PointerEvent) => {
    const r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) * PAD_SIDE / r.width, (e.clientY - r.top) * PAD_SIDE / r.height];
  };
  pad.addEventListener("pointerdown", (e) => {
    drawing = true;
    pad.setPointerCapture(e.pointerId);
    const [x, y] = at(e);
    ctx.beginPath();
    ctx.moveTo(x, y);
  });
  pad.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const [x, y] = at(e);
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 3;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.lineTo(x, y);
    ctx.stroke();
    localize();
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    localize();
  };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  button.addEventListener("click", () => {
    clear();
    localize();
  });
}
