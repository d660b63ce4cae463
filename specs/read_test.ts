/**
 * Reading (src/detection/read.ts): groupNumbers against the truth of seeded random layouts (the
 * generator knows every line and number), independence from the input order, hand cases, and
 * numberAccuracy against brute force over all one-to-one assignments.
 */
import assert from "node:assert/strict";
import type { Detection } from "../src/detection/detect.ts";
import {
  coveredShare,
  groupNumbers,
  numberAccuracy,
  type TrueNumber,
} from "../src/detection/read.ts";
import { iou } from "../src/metrics.ts";
import { makeRng, type Rng } from "../src/rng.ts";
import type { Box } from "../src/data/multi_scenes.ts";

interface Layout {
  detections: Detection[];
  /** Per line top to bottom, the numbers' texts left to right. */
  lines: string[][];
}

/**
 * A random page of written numbers: 1–4 lines, digit heights over a 4× range between lines
 * (10–40 px), ±10 % within a line, baseline jitter ±8 % of the height, a slant of up to ±3.4°
 * (`slope`), 1–4 numbers per line of 1–6 digits, digits 0.35–0.8 times as wide as tall, gaps
 * inside a number from −0.15 h (overlapping) to 0.3 h, between numbers 1–2 h. Lines do not share
 * rows unless `close`: then 2 long lines of the same slant (4.6–7.4°), 1.7 h apart, with gaps of
 * up to 2.5 h between numbers, so their row bands overlap and a number after a gap starts half a
 * digit higher or lower than the last one ended: only following the slant keeps the lines apart.
 */
function layout(rng: Rng, close = false): Layout {
  const detections: Detection[] = [];
  const lines: string[][] = [];
  const lineCount = close ? 2 : 1 + rng.int(4);
  const sharedSlope = rng.uniform(0.08, 0.13) * (rng.next() < 0.5 ? -1 : 1);
  const sharedH = 10 * 2 ** rng.uniform(0, 2);
  let top = rng.uniform(0, 30);
  for (let l = 0; l < lineCount; l++) {
    const h = close ? sharedH : 10 * 2 ** rng.uniform(0, 2);
    const slope = close ? sharedSlope : rng.uniform(-0.06, 0.06);
    const x0 = rng.uniform(0, 40);
    let x = x0;
    const texts: string[] = [];
    const boxes: Box[] = [];
    const numbers = close ? 3 + rng.int(2) : 1 + rng.int(4);
    const first = detections.length;
    for (let k = 0; k < numbers; k++) {
      if (k > 0) x += rng.uniform(1, close ? 2.5 : 2) * h;
      const count = close ? 4 + rng.int(3) : 1 + rng.int(6);
      let text = "";
      for (let d = 0; d < count; d++) {
        if (d > 0) x += rng.uniform(-0.15, 0.3) * h;
        const dh = h * rng.uniform(0.9, 1.1);
        const w = dh * rng.uniform(0.35, 0.8);
        const cy = slope * (x + w / 2 - x0) + rng.uniform(-0.08, 0.08) * h;
        const label = rng.int(10);
        const box: Box = [cy - dh / 2, cy + dh / 2, x, x + w];
        boxes.push(box);
        detections.push({ label, score: rng.uniform(0.5, 1), box });
        text += label;
        x += w;
      }
      texts.push(text);
    }
    lines.push(texts);
    // the line's rows start at `top` (close lines: their first digits' centres are 1.7 h apart)
    const shift = close ? top - boxes[0][0] : top - Math.min(...boxes.map((b) => b[0]));
    for (const d of detections.slice(first)) {
      d.box = d.box.map((v, k) => k < 2 ? v + shift : v) as Box;
    }
    if (close) top += 1.7 * h;
    else top = Math.max(...boxes.map((b) => b[1])) + shift + rng.uniform(0.3, 1) * h;
  }
  // a slanted line rising to the right starts lower: move every line so all boxes are ≥ 0
  const least = Math.min(...detections.map((d) => Math.min(d.box[0], d.box[2])));
  for (const d of detections) {
    d.box = d.box.map((v) => v - Math.min(0, least)) as Box;
  }
  return { detections, lines };
}

function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

Deno.test("groupNumbers reads every number of 3 000 random pages (levels, sizes, slants, touching digits)", () => {
  const rng = makeRng(21);
  for (let trial = 0; trial < 3000; trial++) {
    const close = trial % 4 === 3;
    const page = layout(rng, close);
    const input = shuffled(page.detections, rng);
    // the layout's digits overlap up to 0.15 h on each side with random scores: straddlers by
    // the rule; the straddler spec below checks that rule on its own
    const numbers = groupNumbers(input, { minScore: 0, straddle: 0 });
    const lines: string[][] = [];
    for (const n of numbers) (lines[n.line] ??= []).push(n.text);
    assert.deepEqual(lines, page.lines, `trial ${trial}${close ? " (close slanted lines)" : ""}`);
    for (const n of numbers) {
      // box = union, confidence = product, digits left to right
      const union = [
        Math.min(...n.digits.map((d) => d.box[0])),
        Math.max(...n.digits.map((d) => d.box[1])),
        Math.min(...n.digits.map((d) => d.box[2])),
        Math.max(...n.digits.map((d) => d.box[3])),
      ];
      assert.deepEqual(n.box, union);
      const product = n.digits.reduce((p, d) => p * d.score, 1);
      assert.ok(Math.abs(n.confidence - product) < 1e-12);
      assert.equal(n.text, n.digits.map((d) => d.label).join(""));
    }
  }
});

Deno.test("groupNumbers does not depend on the order of its input", () => {
  const rng = makeRng(5);
  for (let trial = 0; trial < 500; trial++) {
    const page = layout(rng, trial % 2 === 1);
    // noise: a few random detections anywhere, some of them duplicates of real ones
    const extra: Detection[] = [];
    for (let k = 0; k < 4; k++) {
      const d = page.detections[rng.int(page.detections.length)];
      const dy = rng.uniform(-30, 30), dx = rng.uniform(-30, 30);
      extra.push({
        label: rng.int(10),
        score: rng.uniform(0.3, 1),
        box: [d.box[0] + dy, d.box[1] + dy, d.box[2] + dx, d.box[3] + dx],
      });
    }
    const all = [...page.detections, ...extra];
    const want = groupNumbers(all);
    for (let k = 0; k < 3; k++) assert.deepEqual(groupNumbers(shuffled(all, rng)), want);
  }
});

Deno.test("coveredShare equals counting unit cells on 3 000 random sets of integer boxes", () => {
  const rng = makeRng(8);
  const box = (): Box => {
    const t = rng.int(20), l = rng.int(20);
    return [t, t + 1 + rng.int(12), l, l + 1 + rng.int(12)];
  };
  for (let trial = 0; trial < 3000; trial++) {
    const d = box();
    const others = Array.from({ length: rng.int(5) }, box);
    let cells = 0, covered = 0;
    for (let y = d[0]; y < d[1]; y++) {
      for (let x = d[2]; x < d[3]; x++) {
        cells++;
        if (others.some((b) => b[0] <= y && y + 1 <= b[1] && b[2] <= x && x + 1 <= b[3])) covered++;
      }
    }
    assert.ok(Math.abs(coveredShare(d, others) - covered / cells) < 1e-12, `trial ${trial}`);
  }
  assert.equal(coveredShare([0, 10, 0, 10], []), 0);
  assert.equal(coveredShare([0, 10, 0, 10], [[-5, 20, -5, 20]]), 1);
});

Deno.test("groupNumbers drops straddlers: weak readings of the seam between two digits, on 1 000 random pages", () => {
  const rng = makeRng(13);
  let injected = 0, withPhantoms = 0, wrongWithout = 0;
  for (let trial = 0; trial < 1000; trial++) {
    const page = layout(rng);
    // real digits score high; a weak phantom sits on the seam of two neighbours when they cover
    // at least 0.6 of it (its rows those both digits share, its columns from centre to centre)
    for (const d of page.detections) d.score = rng.uniform(0.95, 1);
    const phantoms: Detection[] = [];
    const byX = [...page.detections].sort((a, b) => a.box[2] - b.box[2]);
    for (let k = 1; k < byX.length; k++) {
      const a = byX[k - 1].box, b = byX[k].box;
      const box: Box = [
        Math.max(a[0], b[0]),
        Math.min(a[1], b[1]),
        (a[2] + a[3]) / 2,
        (b[2] + b[3]) / 2,
      ];
      if (!(box[1] > box[0] && box[3] > box[2]) || coveredShare(box, [a, b]) < 0.6) continue;
      if (rng.next() < 0.5) {
        phantoms.push({ label: rng.int(10), score: rng.uniform(0.5, 0.85), box });
      }
    }
    injected += phantoms.length;
    const all = shuffled([...page.detections, ...phantoms], rng);
    const lines: string[][] = [];
    for (const n of groupNumbers(all)) (lines[n.line] ??= []).push(n.text);
    assert.deepEqual(lines, page.lines, `trial ${trial}`);
    if (phantoms.length) {
      withPhantoms++;
      // without the rule most such pages read wrong (a phantom read as a digit)
      const off: string[][] = [];
      for (const n of groupNumbers(all, { straddle: 0 })) (off[n.line] ??= []).push(n.text);
      if (JSON.stringify(off) !== JSON.stringify(page.lines)) wrongWithout++;
    }
  }
  assert.ok(wrongWithout > 0.8 * withPhantoms, `${wrongWithout} of ${withPhantoms} read wrong`);
  assert.ok(injected > 300, `only ${injected} phantoms were injected`);
});

const det = (label: number, box: Box, score = 0.9): Detection => ({ label, score, box });
/** A 20-px tall, 12-px wide digit at `left`, top `top`. */
const at = (label: number, left: number, top = 10, score = 0.9) =>
  det(label, [top, top + 20, left, left + 12], score);
const texts = (ds: Detection[], options = {}) =>
  groupNumbers(ds, options).map((n) => `${n.line}:${n.text}`);

Deno.test("groupNumbers: hand cases", async (t) => {
  await t.step("empty input, or nothing above minScore", () => {
    assert.deepEqual(groupNumbers([]), []);
    assert.deepEqual(groupNumbers([at(3, 0, 10, 0.2)]), []);
  });
  await t.step("one-digit numbers", () => {
    assert.deepEqual(texts([at(5, 0), at(6, 40), at(7, 80)]), ["0:5", "0:6", "0:7"]);
  });
  await t.step("two numbers on one line, split where the gap is wide", () => {
    // gaps 2 px inside, 14 px (0.7 h) between
    assert.deepEqual(texts([at(1, 0), at(2, 14), at(3, 40), at(4, 54)]), ["0:12", "0:34"]);
    // a gap of 0.6 h (12 px) does not split; 12.1 px does
    assert.deepEqual(texts([at(1, 0), at(2, 24)]), ["0:12"]);
    assert.deepEqual(texts([at(1, 0), at(2, 24.1)]), ["0:1", "0:2"]);
  });
  await t.step("touching and overlapping digits stay one number, in order", () => {
    assert.deepEqual(texts([at(7, 0), at(7, 12), at(6, 21), at(2, 32), at(8, 42)]), ["0:77628"]);
  });
  await t.step("two lines, given bottom first, read top to bottom", () => {
    const lines = [at(9, 0, 60), at(8, 14, 61), at(1, 0, 10), at(2, 14, 12), at(3, 60, 9)];
    assert.deepEqual(texts(lines), ["0:12", "0:3", "1:98"]);
  });
  await t.step("baseline and size jitter on one line", () => {
    const ds = [
      det(1, [10, 30, 0, 10]),
      det(2, [14, 30, 12, 24]), // shorter
      det(3, [6, 32, 26, 40]), // taller
      det(4, [13, 34, 42, 54]), // lower
    ];
    assert.deepEqual(texts(ds), ["0:1234"]);
  });
  await t.step("a box half a line off (between two lines) reads as a line of its own", () => {
    // a number on rows 56–90 and a 9 drawn over rows 37–76: 20 of 35 rows shared (0.57)
    const ds = [
      det(4, [56, 90, 0, 28]),
      det(7, [56, 90, 30, 56]),
      det(9, [37, 76, 41, 68], 0.6),
      det(9, [57, 89, 57, 75]),
      det(2, [59, 90, 76, 112]),
    ];
    assert.deepEqual(texts(ds), ["0:9", "1:4792"]);
    assert.deepEqual(texts(ds, { lineOverlap: 0.5 }), ["0:47992"]);
    // beside its neighbour, a digit 0.4 of a height lower joins (an MNIST 7 hangs low); the
    // same digit reaching 4 px over the neighbour's columns does not
    const six = det(6, [98, 118, 92, 104]);
    assert.deepEqual(texts([six, det(7, [106, 126, 106, 122])]), ["0:67"]);
    assert.deepEqual(texts([six, det(7, [106, 126, 100, 116])]), ["0:6", "1:7"]);
  });
  await t.step("a slanted line: 10 digits rising 1.5 heights", () => {
    const ds = Array.from({ length: 10 }, (_, i) => at(i, 14 * i, 40 - 3.3 * i));
    assert.deepEqual(texts(ds), ["0:0123456789"]);
  });
  await t.step("two slanted lines whose row bands overlap", () => {
    const row = (top: number, first: number) =>
      Array.from({ length: 12 }, (_, i) => at((first + i) % 10, 14 * i, top - 2 * i));
    // line A from row 40 up to 18, line B 34 px lower; A's start and B's end share rows
    assert.deepEqual(texts([...row(74, 5), ...row(40, 0)]), [
      "0:012345678901",
      "1:567890123456",
    ]);
  });
  await t.step("one digit seen twice (overlapping boxes): the better one is read", () => {
    const ds = [at(1, 0), det(7, [10, 30, 14, 26], 0.9), det(1, [11, 30, 15, 25], 0.6)];
    assert.deepEqual(texts(ds), ["0:17"]);
    // equal centres: top first (the weaker 1 is also a straddler, so that rule is off too)
    assert.deepEqual(texts(ds, { duplicateIou: 1, straddle: 0 }), ["0:171"]);
    // a thin 1 boxed three times side by side (IoU < 0.5, same label): read once
    const ones = [
      det(1, [33, 63, 71.5, 78.7], 0.99),
      det(1, [37.6, 64.3, 76.7, 80.3], 0.97),
      det(1, [35.1, 66.1, 73.4, 86.9], 0.71),
      det(7, [32.6, 64, 84.3, 106.5], 0.99),
    ];
    assert.deepEqual(texts(ones), ["0:17"]);
    assert.deepEqual(texts(ones, { sameLabelOverlap: 1, straddle: 0 }), ["0:1117"]);
    // two touching 1s overlapping by less than half of the thinner: both read
    assert.deepEqual(texts([det(1, [0, 20, 0, 6], 0.9), det(1, [0, 20, 3.2, 9], 0.8)]), ["0:11"]);
  });
  await t.step("a straddler goes, a real thin digit between two stays", () => {
    // "815": the seam between 8 and 1 read as a weak 1 (0.55)
    const seam = [
      det(8, [49, 70, 157, 171], 1),
      det(1, [47, 70, 167, 175], 1),
      det(1, [47, 70, 172, 185], 0.55),
      det(5, [46, 70, 178, 200], 1),
    ];
    assert.deepEqual(texts(seam), ["0:815"]);
    assert.deepEqual(texts(seam, { straddle: 0 }), ["0:8115"]);
    // a real "1" written into the gap of "717", as sure as its neighbours: read
    const tight = [
      det(7, [0, 20, 0, 14], 1),
      det(1, [0, 20, 12, 17], 0.95),
      det(7, [0, 20, 15, 29], 1),
    ];
    assert.deepEqual(texts(tight), ["0:717"]);
    // the same 1 at 0.85 (below 0.9 × 1): taken for a seam
    tight[1] = { ...tight[1], score: 0.85 };
    assert.deepEqual(texts(tight), ["0:77"]);
  });
  await t.step("digits of unlike height are not one line", () => {
    // "12" 20 px tall, then "34" half as tall on the same baseline, 4 px on
    const ds = [at(1, 0), at(2, 13), det(3, [20, 30, 29, 35]), det(4, [20, 30, 36, 42])];
    assert.deepEqual(texts(ds), ["0:12", "1:34"]);
    assert.deepEqual(texts(ds, { heightRatio: Infinity }), ["0:1234"]);
    // a box drawn over two lines of small digits reads apart from both
    const two = [at(1, 0, 10), at(2, 13, 10), at(3, 0, 40), at(4, 13, 40)];
    const over = det(8, [8, 62, -2, 30], 0.8);
    assert.deepEqual(texts([...two, over]), ["0:12", "1:8", "2:34"]);
    assert.notDeepEqual(texts([...two, over], { heightRatio: Infinity }), ["0:12", "1:8", "2:34"]);
  });
  await t.step("confidence is the product of the scores; the box their union", () => {
    const [n] = groupNumbers([at(4, 0, 10, 0.8), at(2, 13, 12, 0.5)]);
    assert.equal(n.confidence, 0.8 * 0.5);
    assert.deepEqual(n.box, [10, 32, 0, 25]);
  });
  await t.step("bad input: one-line errors naming the argument", () => {
    assert.throws(() => groupNumbers([det(11, [0, 1, 0, 1])]), /detections\[0\] must be/);
    assert.throws(() => groupNumbers([det(1, [5, 1, 0, 1])]), /detections\[0\]/);
    assert.throws(() => groupNumbers([at(1, 0)], { numberGap: -1 }), /numberGap/);
    assert.throws(() => groupNumbers([at(1, 0)], { lineOverlap: 2 }), /lineOverlap/);
    assert.throws(() => groupNumbers([at(1, 0)], { heightRatio: 0.5 }), /heightRatio/);
    assert.throws(() => groupNumbers([at(1, 0)], { straddle: 2 }), /straddle/);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => groupNumbers(null as any), /detections must be an array/);
  });
});

/** Brute force: the most true numbers matched, over every one-to-one assignment. */
function bruteRight(
  readings: { text: string; box: Box }[],
  truths: TrueNumber[],
  threshold: number,
): number {
  const used = new Array(readings.length).fill(false);
  const best = (t: number): number => {
    if (t === truths.length) return 0;
    let most = best(t + 1); // truth t unmatched
    readings.forEach((r, j) => {
      if (used[j] || r.text !== truths[t].text || iou(r.box, truths[t].box) < threshold) return;
      used[j] = true;
      most = Math.max(most, 1 + best(t + 1));
      used[j] = false;
    });
    return most;
  };
  return best(0);
}

Deno.test("numberAccuracy equals brute-force matching on 2 000 random sets", () => {
  const rng = makeRng(8);
  const texts = ["1", "12", "7", "77"];
  const box = (): Box => {
    const top = rng.int(4) * 6, left = rng.int(4) * 6;
    return [top, top + 10 + rng.int(6), left, left + 10 + rng.int(6)];
  };
  let some = 0;
  for (let trial = 0; trial < 2000; trial++) {
    const pictures = 1 + rng.int(3);
    const readings: { text: string; box: Box }[][] = [];
    const truths: TrueNumber[][] = [];
    let want = 0, total = 0, read = 0;
    for (let p = 0; p < pictures; p++) {
      const r = Array.from({ length: rng.int(6) }, () => ({ text: texts[rng.int(4)], box: box() }));
      const t = Array.from({ length: rng.int(6) }, () => ({ text: texts[rng.int(4)], box: box() }));
      readings.push(r);
      truths.push(t);
      want += bruteRight(r, t, 0.5);
      total += t.length;
      read += r.length;
    }
    const got = numberAccuracy(readings, truths);
    assert.equal(got.right, want, `trial ${trial}`);
    assert.equal(got.truths, total);
    assert.equal(got.readings, read);
    assert.equal(got.spurious, read - want);
    if (total) assert.equal(got.accuracy, want / total);
    else assert.ok(Number.isNaN(got.accuracy));
    if (want > 0 && want < total) some++;
  }
  assert.ok(some > 200, `the sets exercise partial matches (${some})`);
});

Deno.test("numberAccuracy: the rule (same text, IoU ≥ 0.5, one reading per number) and errors", () => {
  const t = [{ text: "17", box: [0, 20, 0, 30] }];
  const read = (text: string, box: number[]) => numberAccuracy([[{ text, box }]], [t]).right;
  assert.equal(read("17", [0, 20, 0, 30]), 1);
  assert.equal(read("171", [0, 20, 0, 30]), 0, "extra digit");
  assert.equal(read("1", [0, 20, 0, 30]), 0, "missing digit");
  assert.equal(read("17", [0, 20, 15, 45]), 0, "IoU 1/3");
  assert.equal(read("17", [0, 20, 10, 40]), 1, "IoU exactly 0.5");
  // one reading cannot count for two true numbers
  const twice = numberAccuracy([[{ text: "5", box: [0, 10, 0, 10] }]], [[
    { text: "5", box: [0, 10, 0, 10] },
    { text: "5", box: [0, 10, 0, 9] },
  ]]);
  assert.equal(twice.right, 1);
  assert.throws(() => numberAccuracy([[]], []), /one list per picture/);
  assert.throws(() => numberAccuracy([[]], [[]], { iouThreshold: 0 }), /iouThreshold/);
});
