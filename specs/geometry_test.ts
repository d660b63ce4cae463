/**
 * The window formulas against two oracles: layer-by-layer propagation of coordinates, and brute
 * force (perturb one input pixel, see which output cells change) on ≥200 seeded random stacks.
 */
import assert from "node:assert/strict";
import {
  type LayerSpec,
  type ResolvedLayer,
  resolveLayers,
  sharedPrefix,
  windowCount,
  windowGeometry,
  windowGrid,
  windowSpan,
} from "../src/geometry.ts";
import { makeRng, type Rng } from "../src/rng.ts";

const ANDREW: LayerSpec[] = [
  { kind: "conv", kernel: 5 },
  { kind: "pool", kernel: 2 },
  { kind: "conv", kernel: 5 },
  { kind: "conv", kernel: 1 },
  { kind: "conv", kernel: 1 },
];

/** A 1-D network with positive weights: conv = windowed sum of padded input, pool = windowed mean. */
function run1d(layers: LayerSpec[], input: Float64Array): Float64Array {
  let x = input;
  for (const layer of resolveLayers(layers)) {
    if (x.length === 0) break; // nothing left: frameworks refuse an empty input
    const padded = new Float64Array(x.length + 2 * layer.padding);
    padded.set(x, layer.padding);
    const n = padded.length < layer.kernel
      ? 0
      : Math.floor((padded.length - layer.kernel) / layer.stride) + 1;
    const y = new Float64Array(n);
    for (let o = 0; o < n; o++) {
      let acc = 0;
      for (let k = 0; k < layer.kernel; k++) {
        // distinct positive weights, so no perturbation can cancel out
        acc += padded[o * layer.stride + k] * (1 + 0.1 * k);
      }
      y[o] = layer.kind === "pool" ? acc / layer.kernel : acc;
    }
    x = y;
  }
  return x;
}

/** Which input pixels change output cell `o`, found by perturbing each pixel in turn. */
function influence(layers: LayerSpec[], size: number): { count: number; sets: number[][] } {
  const base = new Float64Array(size).fill(1);
  const y0 = run1d(layers, base);
  const sets: number[][] = Array.from({ length: y0.length }, () => []);
  for (let p = 0; p < size; p++) {
    const x = base.slice();
    x[p] += 1;
    const y = run1d(layers, x);
    for (let o = 0; o < y.length; o++) if (y[o] !== y0[o]) sets[o].push(p);
  }
  return { count: y0.length, sets };
}

/** Coordinates propagated layer by layer: cell o of layer l covers [start, end) of the input. */
function propagate(layers: LayerSpec[]): { size: number; stride: number; offset: number } {
  let start = 0; // input coordinate of the start of cell 0
  let end = 1; // end of cell 0
  let jump = 1; // input distance between neighbouring cells
  for (const layer of resolveLayers(layers)) {
    // cell 0 of this layer reads cells −p … −p+k−1 of the previous one
    const newStart = start - layer.padding * jump;
    const newEnd = end + (layer.kernel - 1 - layer.padding) * jump;
    start = newStart;
    end = newEnd;
    jump *= layer.stride;
  }
  return { size: end - start, stride: jump, offset: start };
}

function randomStack(rng: Rng): LayerSpec[] {
  const depth = 1 + rng.int(5);
  const layers: LayerSpec[] = [];
  for (let i = 0; i < depth; i++) {
    if (rng.next() < 0.3) {
      const kernel = 1 + rng.int(3);
      layers.push(
        rng.next() < 0.5 ? { kind: "pool", kernel } : {
          kind: "pool",
          kernel,
          stride: 1 + rng.int(3),
        },
      );
    } else {
      const kernel = 1 + rng.int(5);
      layers.push({
        kind: "conv",
        kernel,
        stride: 1 + rng.int(2),
        padding: rng.next() < 0.4 ? rng.int(kernel) : 0,
      });
    }
  }
  return layers;
}

Deno.test("Andrew's network: 14×14 windows, stride 2, 2×2 on 16, 8×8 on 28", () => {
  assert.deepEqual(windowGeometry(ANDREW), { size: 14, stride: 2, offset: 0 });
  assert.equal(windowCount(ANDREW, 14), 1);
  assert.equal(windowCount(ANDREW, 16), 2);
  assert.equal(windowCount(ANDREW, 28), 8);
  assert.equal(windowCount(ANDREW, 13), 0);
  assert.deepEqual(windowSpan(ANDREW, 3), [6, 20]);
  // Questions 6–7: an extra conv keeps stride 2 (window grows), an extra pool makes it 4.
  const extraConv = [
    ...ANDREW.slice(0, 2),
    { kind: "conv", kernel: 3 } as LayerSpec,
    ...ANDREW.slice(2),
  ];
  assert.deepEqual(windowGeometry(extraConv), { size: 18, stride: 2, offset: 0 });
  const extraPool = [
    ...ANDREW.slice(0, 2),
    { kind: "pool", kernel: 2 } as LayerSpec,
    ...ANDREW.slice(2),
  ];
  assert.deepEqual(windowGeometry(extraPool), { size: 24, stride: 4, offset: 0 });
  assert.deepEqual(windowGrid(ANDREW, 16, 28), {
    size: 14,
    stride: 2,
    offset: 0,
    rows: 2,
    cols: 8,
  });
});

Deno.test("closed forms = layer-by-layer propagation = brute force on 240 random stacks", () => {
  const rng = makeRng(2024);
  let checked = 0;
  let padded = 0;
  let strided = 0;
  let whole = 0;
  for (let trial = 0; trial < 240; trial++) {
    const layers = randomStack(rng);
    const g = windowGeometry(layers);
    assert.deepEqual(g, propagate(layers), `propagation, stack ${JSON.stringify(layers)}`);
    const inputSize = 1 + rng.int(60);
    const { count, sets } = influence(layers, inputSize);
    assert.equal(windowCount(layers, inputSize), count, `count, n=${inputSize}`);
    const resolved = resolveLayers(layers);
    // a layer whose stride exceeds its kernel skips pixels: the window is then the hull of what
    // the cell reads, not every pixel in it
    const gaps = resolved.some((l) => l.stride > l.kernel);
    for (let o = 0; o < count; o++) {
      const [start, end] = windowSpan(layers, o);
      const what = `window ${o} of ${JSON.stringify(layers)} on ${inputSize}`;
      const inside: number[] = [];
      for (let p = Math.max(0, start); p < Math.min(inputSize, end); p++) inside.push(p);
      // never a pixel outside the window
      assert.ok(sets[o].every((p) => p >= start && p < end), what);
      // a window wholly inside the input is read whole (or, with gaps, from its first to its
      // last pixel); windows that reach past the border lose what padding or flooring dropped
      if (start >= 0 && end <= inputSize) {
        if (!gaps) assert.deepEqual(sets[o], inside, what);
        else assert.deepEqual([sets[o][0], sets[o].at(-1)], [start, end - 1], what);
        whole++;
      }
    }
    checked += count > 0 ? 1 : 0;
    if (resolved.some((l) => l.padding > 0)) padded++;
    if (g.stride > 1) strided++;
  }
  // the random stacks really cover the interesting cases
  assert.ok(checked >= 200, `only ${checked} stacks produced windows`);
  assert.ok(padded >= 50 && strided >= 100, `padded ${padded}, strided ${strided}`);
  assert.ok(whole >= 1000, `only ${whole} whole windows checked`);
});

Deno.test("without padding every window lies inside the input and the last one fits", () => {
  const rng = makeRng(7);
  for (let trial = 0; trial < 200; trial++) {
    const layers = randomStack(rng).map((l) => l.kind === "conv" ? { ...l, padding: 0 } : l);
    const n = 1 + rng.int(80);
    const count = windowCount(layers, n);
    const { size, stride } = windowGeometry(layers);
    if (n < size) {
      assert.equal(count, 0);
      continue;
    }
    // the assignment's formula: ⌊(n − size) / stride⌋ + 1 windows, window i starting at i·stride
    assert.equal(count, Math.floor((n - size) / stride) + 1, JSON.stringify({ layers, n }));
    assert.ok(windowSpan(layers, count - 1)[1] <= n);
  }
});

Deno.test("invalid layer specs get clear errors", () => {
  const bad: [unknown, RegExp][] = [
    [[{ kind: "conv", kernel: 0 }], /Layer 0 \(conv\): kernel must be an integer ≥ 1, got 0/],
    [
      [{ kind: "conv", kernel: 3 }, { kind: "pool", kernel: 2, stride: -1 }],
      /Layer 1 \(pool\): stride/,
    ],
    [[{ kind: "conv", kernel: 2.5 }], /kernel must be an integer/],
    [[{ kind: "conv", kernel: 3, padding: -1 }], /padding must be a non-negative integer/],
    [[{ kind: "dense", kernel: 3 }], /kind must be "conv" or "pool"/],
    [[], /non-empty array/],
    [[{ kind: "pool", kernel: 2, padding: 1 }], /take no padding/],
  ];
  for (const [layers, message] of bad) {
    assert.throws(() => windowGeometry(layers as LayerSpec[]), message);
  }
  assert.throws(() => windowCount(ANDREW, -1), /inputSize must be a non-negative integer/);
  assert.throws(() => windowSpan(ANDREW, 1.5), /index must be a non-negative integer/);
});

/** A 1-D run of `layers` on `x`: convs with the given weights (zero padding), max pools. */
function runStack1d(
  layers: ResolvedLayer[],
  weights: number[][],
  x: number[],
  depth: number,
): number[] {
  let a = x;
  for (let d = 0; d < depth; d++) {
    const { kernel, stride, padding, kind } = layers[d];
    const padded = [...new Array(padding).fill(0), ...a, ...new Array(padding).fill(0)];
    const out: number[] = [];
    for (let i = 0; i * stride + kernel <= padded.length; i++) {
      const patch = padded.slice(i * stride, i * stride + kernel);
      out.push(
        kind === "pool" ? Math.max(...patch) : patch.reduce((s, v, j) => s + v * weights[d][j], 0),
      );
    }
    a = out;
  }
  return a;
}

Deno.test("sharedPrefix = where a cropped input's activations stop being the whole input's, on 2 000 random stacks (1-D brute force)", () => {
  const rng = makeRng(31);
  let deeper = 0;
  for (let trial = 0; trial < 2000; trial++) {
    const specs: LayerSpec[] = Array.from(
      { length: 1 + rng.int(4) },
      () =>
        rng.next() < 0.3
          ? { kind: "pool" as const, kernel: 1 + rng.int(3), stride: 1 + rng.int(3) }
          : {
            kind: "conv" as const,
            kernel: 1 + rng.int(5),
            stride: 1 + rng.int(3),
            padding: rng.next() < 0.15 ? 1 : 0,
          },
    );
    const layers = resolveLayers(specs);
    const weights = layers.map((l) => Array.from({ length: l.kernel }, () => rng.uniform(-1, 1)));
    const x = Array.from({ length: 60 + rng.int(40) }, () => rng.uniform(-1, 1));
    const crop = rng.int(13);
    const { depth, crop: positions } = sharedPrefix(specs, crop);
    // at `depth`, the cropped input's output is the whole input's from `positions` on
    const whole = runStack1d(layers, weights, x, depth);
    const part = runStack1d(layers, weights, x.slice(crop), depth);
    assert.ok(part.length > 0, `trial ${trial}`);
    part.forEach((v, i) => assert.ok(Math.abs(v - whole[i + positions]) < 1e-9, `trial ${trial}`));
    // one layer deeper it is no shift of the whole input's output (random weights)
    if (depth < layers.length) {
      const w2 = runStack1d(layers, weights, x, depth + 1);
      const p2 = runStack1d(layers, weights, x.slice(crop), depth + 1);
      const shifted = (s: number) =>
        p2.length > 0 && p2.every((v, i) => Math.abs(v - (w2[i + s] ?? NaN)) < 1e-9);
      if (p2.length > 2) {
        assert.ok(
          ![...w2.keys()].some(shifted),
          `trial ${trial}: depth ${depth} is not the deepest`,
        );
        deeper++;
      }
    }
  }
  assert.ok(deeper > 500, `${deeper} stacks checked one layer deeper`);
  assert.deepEqual(sharedPrefix([{ kind: "conv", kernel: 3 }], 0), { depth: 1, crop: 0 });
  assert.throws(() => sharedPrefix([{ kind: "conv", kernel: 3 }], -1), /crop must be/);
});
