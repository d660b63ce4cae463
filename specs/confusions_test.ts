import assert from "node:assert/strict";
import { confusions } from "../src/detection/confusions.ts";
import type { ScoredBox, TrueBox } from "../src/detection/map.ts";
import { iou } from "../src/metrics.ts";
import { makeRng } from "../src/rng.ts";

/** Every one-to-one matching of detections (best score first) to truths, by brute force. */
function oracle(found: ScoredBox[], truths: TrueBox[], minScore: number, t: number) {
  const kept = found.filter((d) => d.score >= minScore).sort((a, b) => b.score - a.score);
  const taken = new Set<number>();
  const pairs: [number, number][] = [];
  let spurious = 0;
  for (const d of kept) {
    const ious = truths.map((x, j) => (taken.has(j) ? -1 : iou(d.box, x.box)));
    const most = Math.max(-1, ...ious);
    if (most < t) {
      spurious++;
      continue;
    }
    const j = ious.indexOf(most);
    taken.add(j);
    pairs.push([truths[j].label, d.label]);
  }
  return { pairs, spurious, missed: truths.length - taken.size };
}

Deno.test("confusions: matrix, missed and spurious agree with a brute-force matching", () => {
  const rng = makeRng(4);
  const box = (): [number, number, number, number] => {
    const t = rng.uniform(0, 40), l = rng.uniform(0, 40);
    return [t, t + rng.uniform(8, 20), l, l + rng.uniform(8, 20)];
  };
  const truths: TrueBox[][] = [], found: ScoredBox[][] = [];
  for (let i = 0; i < 40; i++) {
    const ts = Array.from({ length: rng.int(4) }, () => ({ label: rng.int(10), box: box() }));
    const ds: ScoredBox[] = ts.flatMap((x) =>
      rng.next() < 0.8
        ? [{
          label: rng.next() < 0.8 ? x.label : rng.int(10),
          score: rng.next(),
          box: x.box.map((v) => v + rng.uniform(-3, 3)) as [number, number, number, number],
        }]
        : []
    );
    for (let k = rng.int(3); k > 0; k--) {
      ds.push({ label: rng.int(10), score: rng.next(), box: box() });
    }
    truths.push(ts);
    found.push(ds);
  }
  const c = confusions(found, truths, { minScore: 0.3, iouThreshold: 0.5 });
  const matrix = Array.from({ length: 10 }, () => new Array(10).fill(0));
  let spurious = 0, missed = 0, offDiagonal = 0;
  for (const [i, ds] of found.entries()) {
    const o = oracle(ds, truths[i], 0.3, 0.5);
    for (const [t, d] of o.pairs) matrix[t][d]++;
    spurious += o.spurious;
    missed += o.missed;
  }
  assert.deepEqual(c.matrix, matrix);
  assert.equal(c.spurious.reduce((s, x) => s + x, 0), spurious);
  assert.equal(c.missed.reduce((s, x) => s + x, 0), missed);
  for (const p of c.pairs) {
    assert.notEqual(p.truth, p.detected);
    assert.equal(p.count, matrix[p.truth][p.detected]);
    offDiagonal += p.count;
  }
  assert.ok(offDiagonal > 0 && spurious > 0 && missed > 0, `${offDiagonal} ${spurious} ${missed}`);
  for (let k = 1; k < c.pairs.length; k++) assert.ok(c.pairs[k - 1].count >= c.pairs[k].count);
});

Deno.test("confusions: one line for mismatched image counts or a bad IoU threshold", () => {
  assert.throws(() => confusions([[]], []), /one list per image, got 1 and 0 images/);
  assert.throws(() => confusions([], [], { iouThreshold: 0 }), /iouThreshold must be in \(0, 1\]/);
});
