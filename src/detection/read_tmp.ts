// Temporary number grouping for evaluate until src/detection/read.ts lands (branch readio).
import { iou } from "../metrics.ts";
import type { Detection } from "./detect.ts";
import type { Box } from "../data/multi_scenes.ts";

export interface NumberReading {
  text: string;
  box: Box;
  confidence: number;
  digits: Detection[];
}

export function groupNumbers(
  ds: readonly Detection[],
  options: { minScore?: number } = {},
): NumberReading[] {
  const { minScore = 0.5 } = options;
  const d = ds.filter((x) => x.score >= minScore).sort((a, b) =>
    (a.box[2] + a.box[3]) - (b.box[2] + b.box[3])
  );
  const lines: Detection[][] = [];
  for (const x of d) {
    const h = x.box[1] - x.box[0];
    let best: Detection[] | undefined, bo = 0;
    for (const L of lines) {
      const last = L[L.length - 1];
      const ov = Math.min(x.box[1], last.box[1]) - Math.max(x.box[0], last.box[0]);
      const r = ov / Math.min(h, last.box[1] - last.box[0]);
      const gap = x.box[2] - last.box[3];
      if (r > 0.4 && gap < 0.6 * Math.max(h, last.box[1] - last.box[0]) && r > bo) {
        best = L;
        bo = r;
      }
    }
    if (best) best.push(x);
    else lines.push([x]);
  }
  return lines.map((L) => ({
    text: L.map((x) => x.label).join(""),
    box: [
      Math.min(...L.map((x) => x.box[0])),
      Math.max(...L.map((x) => x.box[1])),
      Math.min(...L.map((x) => x.box[2])),
      Math.max(...L.map((x) => x.box[3])),
    ],
    confidence: Math.min(...L.map((x) => x.score)),
    digits: L,
  }));
}

export function numberAccuracy(
  readings: readonly (readonly NumberReading[])[],
  truths: readonly (readonly { text: string; box: readonly number[] }[])[],
): { correct: number; total: number; rate: number } {
  let correct = 0, total = 0;
  truths.forEach((list, i) => {
    for (const t of list) {
      total++;
      if (readings[i].some((r) => r.text === t.text && iou(r.box, t.box) >= 0.5)) correct++;
    }
  });
  return { correct, total, rate: total ? correct / total : NaN };
}
