import assert from "node:assert/strict";
import { tf } from "../src/deps.ts";
import { useBackend } from "../src/backends/backend.ts";
import { encodeTargets, encodeTargetsData } from "../src/data/encode.ts";
import { singleTargets } from "../src/data/scenes.ts";
import type { WindowGrid } from "../src/geometry.ts";
import { makeRng } from "../src/rng.ts";

/** The assignment's cell, written plainly: Y_true[n, h, w, :] for every window. */
function naiveEncode(boxes: Float32Array, labels: Int32Array, grid: WindowGrid): Float32Array {
  const { size, stride, offset, rows: H_out, cols: W_out } = grid;
  const N = labels.length;
  const Y_true = new Float32Array(N * H_out * W_out * 6);
  for (let n = 0; n < N; n++) {
    const [top, bottom, left, right] = boxes.subarray(4 * n, 4 * n + 4);
    for (let h = 0; h < H_out; h++) {
      for (let w = 0; w < W_out; w++) {
        const h_start = offset + h * stride;
        const w_start = offset + w * stride;
        const h_end = h_start + size;
        const w_end = w_start + size;
        // The rectangles intersect with positive area:
        if (top < h_end && bottom > h_start && left < w_end && right > w_start) {
          Y_true.set([
            1,
            labels[n],
            (top - h_start) / size,
            (bottom - h_start) / size,
            (left - w_start) / size,
            (right - w_start) / size,
          ], ((n * H_out + h) * W_out + w) * 6);
        }
      }
    }
  }
  return Y_true;
}

/** Seeded boxes on a `canvas` square: mostly integer edges (like sharp boxes), some fractional,
 * some touching window edges exactly, some larger than a window, some on the canvas border. */
function randomBoxes(seed: number, n: number, canvas: number, grid: WindowGrid) {
  const rng = makeRng(seed);
  const boxes = new Float32Array(4 * n);
  const labels = new Int32Array(n);
  const edge = () => grid.offset + rng.int(grid.rows + 2) * grid.stride + rng.int(2) * grid.size;
  for (let k = 0; k < n; k++) {
    const coords: number[] = [];
    for (let axis = 0; axis < 2; axis++) {
      const kind = rng.int(5);
      let a: number, b: number;
      if (kind === 0) [a, b] = [edge(), edge()]; // both on window edges
      else if (kind === 1) [a, b] = [0, canvas - rng.int(3)]; // border, larger than a window
      else if (kind === 2) [a, b] = [rng.uniform(-2, canvas), rng.uniform(0, canvas + 2)];
      else [a, b] = [rng.int(canvas), rng.int(canvas + 1)];
      if (a > b) [a, b] = [b, a];
      if (a === b) b = a + 1 + rng.int(3);
      coords.push(a, b);
    }
    boxes.set(coords, 4 * k);
    labels[k] = rng.int(10);
  }
  return { boxes, labels };
}

const GRIDS: Record<string, WindowGrid> = {
  "window 40 / stride 4 on 64×64 (7×7)": { size: 40, stride: 4, offset: 0, rows: 7, cols: 7 },
  "Andrew's 14 / 2 on 64×64": { size: 14, stride: 2, offset: 0, rows: 26, cols: 26 },
  "padded, stride 3, non-square": { size: 11, stride: 3, offset: -4, rows: 21, cols: 19 },
  "stride larger than window": { size: 4, stride: 6, offset: 1, rows: 10, cols: 10 },
};

for (const [name, grid] of Object.entries(GRIDS)) {
  Deno.test(`encodeTargetsData equals the naive triple loop: ${name}`, () => {
    const { boxes, labels } = randomBoxes(name.length, 3000, 64, grid);
    const fast = encodeTargetsData(boxes, labels, grid);
    const slow = naiveEncode(boxes, labels, grid);
    assert.equal(fast.length, slow.length);
    for (let i = 0; i < fast.length; i++) {
      if (fast[i] !== slow[i]) assert.fail(`element ${i}: ${fast[i]} !== ${slow[i]}`);
    }
    // Sanity: both positives and negatives occur.
    const positives = slow.filter((_, i) => i % 6 === 0 && slow[i] === 1).length;
    assert.ok(positives > 0 && positives < 3000 * grid.rows * grid.cols);
  });
}

/**
 * The targets default training uses (`--min-cover 1`), written plainly: a window is positive when
 * it covers as much of the digit's box as the best window of the grid does (so a digit larger
 * than every window still has positives); its target is then the assignment's.
 */
function naiveWholeDigit(boxes: Float32Array, labels: Int32Array, grid: WindowGrid): Float32Array {
  const { size, stride, offset, rows: H_out, cols: W_out } = grid;
  const N = labels.length;
  const Y_true = new Float32Array(N * H_out * W_out * 6);
  const overlap = (n: number, h: number, w: number) => {
    const [top, bottom, left, right] = boxes.subarray(4 * n, 4 * n + 4);
    const [h_start, w_start] = [offset + h * stride, offset + w * stride];
    const height = Math.min(bottom, h_start + size) - Math.max(top, h_start);
    const width = Math.min(right, w_start + size) - Math.max(left, w_start);
    return height > 0 && width > 0 ? height * width : 0;
  };
  for (let n = 0; n < N; n++) {
    let best = 0;
    for (let h = 0; h < H_out; h++) {
      for (let w = 0; w < W_out; w++) best = Math.max(best, overlap(n, h, w));
    }
    const [top, bottom, left, right] = boxes.subarray(4 * n, 4 * n + 4);
    for (let h = 0; h < H_out; h++) {
      for (let w = 0; w < W_out; w++) {
        const area = overlap(n, h, w);
        if (!(area > 0 && area >= best)) continue;
        const [h_start, w_start] = [offset + h * stride, offset + w * stride];
        Y_true.set([
          1,
          labels[n],
          (top - h_start) / size,
          (bottom - h_start) / size,
          (left - w_start) / size,
          (right - w_start) / size,
        ], ((n * H_out + h) * W_out + w) * 6);
      }
    }
  }
  return Y_true;
}

const TRAINING_GRIDS: Record<string, WindowGrid> = {
  "the localizer's 40 / 8 on 64×64 (4×4)": { size: 40, stride: 8, offset: 0, rows: 4, cols: 4 },
  ...GRIDS,
};

for (const [name, grid] of Object.entries(TRAINING_GRIDS)) {
  Deno.test(`singleTargets with minCover 1 (default training's targets) equals the naive loop: ${name}`, async () => {
    await useBackend("wasm");
    const { boxes, labels } = randomBoxes(name.length + 1, 3000, 64, grid);
    const y = singleTargets({ boxes, labels }, grid, 1);
    const fast = await y.data();
    y.dispose();
    const slow = naiveWholeDigit(boxes, labels, grid);
    assert.equal(fast.length, slow.length);
    for (let i = 0; i < fast.length; i++) {
      if (fast[i] !== slow[i]) assert.fail(`element ${i}: ${fast[i]} !== ${slow[i]}`);
    }
    // the rule bites: fewer positives than the assignment's any-overlap rule, but every digit has one
    const assignment = naiveEncode(boxes, labels, grid);
    const count = (y: Float32Array, n: number) => {
      let c = 0;
      for (let i = n * grid.rows * grid.cols * 6; i < (n + 1) * grid.rows * grid.cols * 6; i += 6) {
        c += y[i];
      }
      return c;
    };
    let fewer = 0;
    for (let n = 0; n < labels.length; n++) {
      const [whole, any] = [count(slow, n), count(assignment, n)];
      assert.ok(whole >= 1 || any === 0, `scene ${n} has no positive window`);
      assert.ok(whole <= any);
      if (whole < any) fewer++;
    }
    assert.ok(fewer > 300, `only ${fewer} of 3000 scenes lost positives`);
  });
}

Deno.test("encodeTargets: edges touching exactly are negative, values outside [0, 1]", () => {
  const grid = { size: 10, stride: 10, offset: 0, rows: 2, cols: 2 };
  // Box rows [10, 20) touches window row 0's end exactly: only window row 1 is positive.
  const y = encodeTargetsData(new Float32Array([10, 20, 5, 15]), new Int32Array([4]), grid);
  assert.deepEqual([...y.subarray(0, 12)], new Array(12).fill(0));
  assert.deepEqual([...y.subarray(12, 18)], [1, 4, 0, 1, 0.5, 1.5]);
  assert.deepEqual([...y.subarray(18, 24)], [1, 4, 0, 1, -0.5, 0.5]);
});

Deno.test("encodeTargets returns a [N, rows, cols, 6] tensor and checks its arguments", async () => {
  await useBackend("wasm");
  const grid = GRIDS["window 40 / stride 4 on 64×64 (7×7)"];
  const { boxes, labels } = randomBoxes(1, 50, 64, grid);
  const before = tf.memory().numTensors;
  const y = encodeTargets(boxes, labels, grid);
  assert.deepEqual(y.shape, [50, 7, 7, 6]);
  assert.deepEqual(await y.data(), naiveEncode(boxes, labels, grid));
  y.dispose();
  assert.throws(
    () => encodeTargets(new Float32Array(3), new Int32Array(1), grid),
    /boxes must hold 4 numbers per label/,
  );
  assert.throws(
    () => encodeTargets(boxes, labels, { ...grid, stride: 1.5 }),
    /grid.stride must be an integer/,
  );
  assert.equal(tf.memory().numTensors, before);
});
