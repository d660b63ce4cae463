/**
 * Part 1: the convolutional form of Andrew's network equals the sequential sliding window, for
 * the windows the geometry functions predict (questions 3, 4, 6 and 7 of the assignment).
 */
import assert from "node:assert/strict";
import { ANDREW_LAYERS, buildAndrewNets, slideSequential } from "../src/part1/andrew.ts";
import { BACKENDS, currentBackend, useBackend } from "../src/backends/backend.ts";
import { tf } from "../src/deps.ts";
import { windowCount, windowGeometry } from "../src/geometry.ts";

await useBackend("wasm");

/**
 * The assignment's claim, "the norm is indeed 0.0": on wasm both forms do the same multiply-adds
 * in the same order (XNNPACK), so ‖conv − seq‖ must be exactly 0; the BLAS backends (onednn,
 * native) block and reorder the sums of a 5×5 convolution and of a matrix product differently, so
 * there it must be within float32 rounding: sums of 400 products round to ≈ √400 · 2⁻²⁴ ≈ 1.2e-6
 * of their size, and 1e-5·‖conv‖ leaves 8× that.
 */
function assertEquivalent(diff: number, norm: number, what: string): void {
  assert.ok(norm > 0.01, `${what}: ‖conv‖ = ${norm}`);
  if (currentBackend().name === "wasm") {
    assert.equal(diff, 0, `${what}: ‖conv − seq‖ = ${diff} on wasm, where it must be exactly 0`);
  } else {
    assert.ok(diff <= 1e-5 * norm, `${what}: ‖conv − seq‖ = ${diff} > 1e-5 · ${norm}`);
  }
}

/** ‖conv − seq‖ and ‖conv‖ for a batch of random images of side `side`. */
async function compare(
  side: number,
  options: { extra?: "conv" | "pool"; stride?: number; batch?: number; seed?: number } = {},
) {
  const nets = buildAndrewNets({ seed: options.seed ?? side, extra: options.extra });
  const { size, stride } = windowGeometry(nets.convolutional.layers);
  const x = tf.randomUniform([options.batch ?? 2, side, side + 3, 3], 0, 1, "float32", side);
  const conv = nets.convolutional.apply(x as tf.Tensor4D);
  const seq = slideSequential(nets.sequential, x as tf.Tensor4D, {
    size,
    stride: options.stride ?? stride,
    chunk: 37, // several chunks, one of them partial
  });
  const result = {
    convShape: conv.shape,
    seqShape: seq.shape,
    diff: conv.shape.join() === seq.shape.join()
      ? (await tf.norm(tf.sub(conv, seq)).data())[0]
      : NaN,
    norm: (await tf.norm(conv).data())[0],
  };
  tf.dispose([x, conv, seq]);
  nets.dispose();
  return result;
}

Deno.test("16×16: conv form = sequential windows with stride 2 (question 3)", async () => {
  const { convShape, seqShape, diff, norm } = await compare(16);
  assert.deepEqual(convShape, [2, 2, 3, 4]);
  assert.deepEqual(seqShape, convShape);
  console.log(`    16×19: ‖conv − seq‖ = ${diff.toExponential(2)}, ‖conv‖ = ${norm.toFixed(4)}`);
  assert.ok(norm > 0.1);
  assertEquivalent(diff, norm, "16×19");
});

Deno.test("28×28 and odd sizes 17, 31, 45: still equal, with the predicted window counts", async () => {
  for (const side of [28, 17, 31, 45]) {
    const { convShape, diff, norm } = await compare(side);
    assert.deepEqual(convShape, [
      2,
      windowCount(ANDREW_LAYERS, side),
      windowCount(ANDREW_LAYERS, side + 3),
      4,
    ]);
    console.log(`    ${side}×${side + 3}: ‖conv − seq‖ = ${diff.toExponential(2)}`);
    assertEquivalent(diff, norm, `${side}×${side + 3}`);
  }
});

Deno.test("the wrong stride or window breaks the equivalence (the spec can fail)", async () => {
  const { diff, norm } = await compare(28, { stride: 1 });
  assert.ok(Number.isNaN(diff) || diff > 1e-3 * norm, "stride 1 must not match");
});

Deno.test("an extra conv keeps stride 2; an extra max-pool makes it 4 (questions 6–7)", async () => {
  const withConv = buildAndrewNets({ extra: "conv" });
  assert.deepEqual(windowGeometry(withConv.convolutional.layers), {
    size: 18,
    stride: 2,
    offset: 0,
  });
  withConv.dispose();
  const withPool = buildAndrewNets({ extra: "pool" });
  assert.deepEqual(windowGeometry(withPool.convolutional.layers), {
    size: 24,
    stride: 4,
    offset: 0,
  });
  withPool.dispose();
  for (const extra of ["conv", "pool"] as const) {
    for (const side of [30, 41]) {
      const { diff, norm } = await compare(side, { extra });
      assertEquivalent(diff, norm, `${extra}, side ${side}`);
    }
    // …and stride 2 is wrong once a pool is added
    if (extra === "pool") {
      const { diff, norm } = await compare(40, { extra, stride: 2 });
      assert.ok(Number.isNaN(diff) || diff > 1e-3 * norm);
    }
  }
});

// The BLAS backends found here: the equivalence holds there too, up to the order of the sums.
const blas: ("onednn" | "native")[] = [];
for (const b of BACKENDS) {
  if ((b.name === "onednn" || b.name === "native") && !(await b.unavailable())) blas.push(b.name);
}
Deno.test({
  name: `on the BLAS backends (${blas.join(", ") || "none found here"}): equal within rounding`,
  ignore: blas.length === 0,
  async fn() {
    try {
      for (const name of blas) {
        await useBackend(name);
        for (const [side, extra] of [[16], [31], [41, "pool"]] as const) {
          const { diff, norm } = await compare(side, { extra });
          console.log(`    ${name}, ${side}×${side + 3}: ‖conv − seq‖ = ${diff.toExponential(2)}`);
          assertEquivalent(diff, norm, `${name}, side ${side}`);
        }
      }
    } finally {
      await useBackend("wasm");
    }
  },
});

Deno.test("the two forms share weights: changing one changes both", async () => {
  const nets = buildAndrewNets({ seed: 3 });
  const x = tf.randomUniform([1, 14, 14, 3], 0, 1, "float32", 5) as tf.Tensor4D;
  const before = await nets.sequential.apply(x).data();
  nets.weights.fc2.dispose();
  nets.weights.fc2 = tf.zeros([1, 1, 400, 400]);
  const after = await nets.sequential.apply(x).data();
  const conv = await nets.convolutional.apply(x).data();
  assert.notDeepEqual(after, before);
  assert.deepEqual(
    Array.from(conv).map((v) => v.toFixed(5)),
    Array.from(after).map((v) => v.toFixed(5)),
  );
  x.dispose();
  nets.dispose();
});

Deno.test("slideSequential validates its arguments", () => {
  const nets = buildAndrewNets();
  const x = tf.zeros([1, 10, 10, 3]) as tf.Tensor4D;
  assert.throws(() => slideSequential(nets.sequential, x, { size: 14, stride: 2 }), /smaller than/);
  assert.throws(() => slideSequential(nets.sequential, x, { size: 0, stride: 2 }), /size must/);
  assert.throws(() => slideSequential(nets.sequential, x, { size: 4, stride: 2 }), /14×14/);
  x.dispose();
  nets.dispose();
});
