/**
 * oneDNN's convolution chain (src/backends/onednn/chain.ts): a network of convolutions whose
 * activations stay in oneDNN's layouts, against a naive float64 loop of the same network — in
 * float32, and in bfloat16 with the loop rounding to bfloat16 where the chain stores bfloat16 (the
 * input, filters, every activation but the last, every gradient but the filters'). And the array
 * network (src/model/array_net.ts) on it against the same network layer by layer. Skipped where
 * libdnnl (or bfloat16) is missing, failing under CI where libdnnl is.
 */
import assert from "node:assert/strict";
import { dnnlMissingReason, oneDnn, oneDnnBf16 } from "../src/backends/onednn/dnnl.ts";
import type { ChainLink, ConvEngine } from "../src/layers/engine.ts";
import { kindOf } from "../src/layers/table.ts";
import type { ArchLayer } from "../src/model/model.ts";
import { ARCHITECTURES, variableShapes } from "../src/model/model.ts";
import { ArrayNet } from "../src/model/array_net.ts";
import type { Shape4 } from "../src/layers/layer.ts";
import { batch, randArray, relErr } from "./support.ts";

const CI = Deno.env.get("CI") === "true";
const dnnl = oneDnn(), bf16 = oneDnnBf16();
const ignore = !dnnl && !CI;
if (!dnnl) console.error(`onednn chain specs: ${CI ? "failing" : "skipped"}: ${dnnlMissingReason}`);

/** A small conv-only net with a padded layer, channel counts that are not multiples of 16. */
const PADDED: readonly ArchLayer[] = [
  { kind: "conv", kernel: 6, filters: 8, stride: 2 },
  { kind: "conv", kernel: 3, filters: 24, padding: 1 },
  { kind: "conv", kernel: 4, filters: 32, stride: 2 },
  { kind: "conv", kernel: 1, filters: 15, activation: "linear" },
];

/** The chain links of `arch` for input shape `shape`. */
function linksOf(arch: readonly ArchLayer[], shape: Shape4): ChainLink[] {
  return arch.map((l) => {
    const link = kindOf(l).link!(l, shape);
    const g = link.shape;
    shape = [g.batchSize, g.outHeight, g.outWidth, g.outChannels];
    return link;
  });
}

/** bfloat16 rounding (to nearest, ties to even), or the value itself. */
type Round = (v: number) => number;
const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
const toBf16: Round = (v) => {
  f32[0] = v;
  u32[0] = (u32[0] + 0x7fff + ((u32[0] >>> 16) & 1)) & 0xffff0000;
  return f32[0];
};
const exact: Round = (v) => v;

/**
 * The chain computed by naive loops in float64: output, and weight gradients from `dOut`.
 * `round` is applied where a bfloat16 chain stores bfloat16.
 */
function naive(
  links: readonly ChainLink[],
  x: Float32Array,
  weights: Float32Array[],
  dOut: Float32Array,
  round: Round,
): { out: Float64Array; grads: Float64Array[] } {
  const acts: Float64Array[] = [Float64Array.from(x, round)];
  const ws = weights.map((w, i) => i % 2 ? Float64Array.from(w) : Float64Array.from(w, round));
  const last = links.length - 1;
  for (const [l, { shape: g, relu }] of links.entries()) {
    const xin = acts[l], w = ws[2 * l], b = ws[2 * l + 1];
    const y = new Float64Array(g.batchSize * g.outHeight * g.outWidth * g.outChannels);
    each(g, (yi, xi, wi) => y[yi] += xin[xi] * w[wi], (yi, k) => y[yi] += b[k]);
    for (let i = 0; i < y.length; i++) {
      if (relu) y[i] = Math.max(0, y[i]);
      if (l < last) y[i] = round(y[i]);
    }
    acts.push(y);
  }
  const grads: Float64Array[] = [];
  let dy = Float64Array.from(dOut, round);
  for (let l = last; l >= 0; l--) {
    const { shape: g, relu } = links[l];
    const y = acts[l + 1], xin = acts[l], w = ws[2 * l];
    if (relu) { for (let i = 0; i < dy.length; i++) if (!(y[i] > 0)) dy[i] = 0; }
    const dw = new Float64Array(w.length), db = new Float64Array(g.outChannels);
    const dx = new Float64Array(xin.length);
    each(g, (yi, xi, wi) => {
      dw[wi] += xin[xi] * dy[yi];
      dx[xi] += w[wi] * dy[yi];
    }, (yi, c) => db[c] += dy[yi]);
    grads[2 * l] = dw, grads[2 * l + 1] = db;
    dy = dx.map(round);
  }
  return { out: acts[links.length], grads };
}

/** Every (output, input, filter) index triple of a convolution, and each output once. */
function each(
  g: ChainLink["shape"],
  mac: (yi: number, xi: number, wi: number) => void,
  out: (yi: number, c: number) => void,
): void {
  const { inHeight: H, inWidth: W, inChannels: C, outChannels: K } = g;
  for (let n = 0; n < g.batchSize; n++) {
    for (let oy = 0; oy < g.outHeight; oy++) {
      for (let ox = 0; ox < g.outWidth; ox++) {
        for (let k = 0; k < K; k++) {
          const yi = ((n * g.outHeight + oy) * g.outWidth + ox) * K + k;
          out(yi, k);
          for (let fy = 0; fy < g.filterHeight; fy++) {
            const iy = oy * g.strideHeight + fy - g.padInfo.top;
            if (iy < 0 || iy >= H) continue;
            for (let fx = 0; fx < g.filterWidth; fx++) {
              const ix = ox * g.strideWidth + fx - g.padInfo.left;
              if (ix < 0 || ix >= W) continue;
              for (let c = 0; c < C; c++) {
                mac(
                  yi,
                  ((n * H + iy) * W + ix) * C + c,
                  ((fy * g.filterWidth + fx) * C + c) * K + k,
                );
              }
            }
          }
        }
      }
    }
  }
}

/** Seeded weights of `arch` (kernels scaled by fan-in, biases small). */
function weightsOf(arch: readonly ArchLayer[], seed: number): Float32Array[] {
  return [...variableShapes(arch).values()].map((s, i) => {
    const n = s.reduce((a, b) => a * b, 1);
    const scale = s.length === 4 ? 1.5 / Math.sqrt(s[0] * s[1] * s[2]) : 0.1;
    return randArray(n, seed + i).map((v) => v * scale);
  });
}

for (const precision of ["f32", "bf16"] as const) {
  Deno.test({
    name: `oneDNN chain (${precision}) equals a float64 loop of the same network${
      precision === "bf16" ? " rounded where it stores bfloat16" : ""
    }`,
    ignore: ignore || (precision === "bf16" && !bf16 && !CI),
    fn() {
      const engine = precision === "f32" ? dnnl : bf16;
      assert.ok(engine, dnnlMissingReason);
      const links = linksOf(PADDED, [2, 20, 20, 1]);
      const chain = engine.chain!(links);
      assert.ok(chain, "oneDNN made the chain");
      const x = randArray(2 * 20 * 20, 1).map((v) => v + 1);
      const weights = weightsOf(PADDED, 10);
      const got = chain.forward(x, weights).slice();
      const dOut = randArray(got.length, 2);
      const grads = chain.backward(dOut);
      const want = naive(links, x, weights, dOut, precision === "bf16" ? toBf16 : exact);
      // float32's sums against float64's (≈ 3e-7 here); bfloat16 likewise (≈ 7e-8) once rounded
      // at the same places (a value on a rounding boundary could round the other way: 4e-3)
      const tol = precision === "f32" ? 1e-5 : 1e-4;
      assert.ok(relErr(got, want.out) <= tol, `output: ${relErr(got, want.out)}`);
      for (const [i, g] of grads.entries()) {
        const err = relErr(g, want.grads[i]);
        assert.ok(err <= tol, `gradient ${i}: relative error ${err}`);
      }
      if (precision === "bf16") {
        // and it is bfloat16: farther from float32's loop than from the rounded one
        const plain = naive(links, x, weights, dOut, exact);
        const away = relErr(grads[2], plain.grads[2]), near = relErr(grads[2], want.grads[2]);
        assert.ok(away > 1e-2 && near < away, `rounded ${near}, float32 ${away}`);
      }
      // checked inputs
      assert.throws(() => chain.forward(x.subarray(1), weights), /chain input: \d+ values/);
      assert.throws(() => chain.backward(dOut.subarray(1)), /chain output gradient/);
    },
  });
}

/** The engine without its chains: every convolution on its own. */
const layerByLayer = (e: ConvEngine): ConvEngine => ({ name: e.name, conv: (g) => e.conv(g) });

Deno.test({
  name: "array network on oneDNN: the chain gives what layer-by-layer float32 gives (wide, padded)",
  ignore,
  fn() {
    assert.ok(dnnl, dnnlMissingReason);
    const nets: [string, readonly ArchLayer[], number][] = [
      ["wide", ARCHITECTURES.wide, 64],
      ["padded", PADDED, 24],
    ];
    for (const [name, arch, size] of nets) {
      const engine: ConvEngine = dnnl;
      const net = new ArrayNet(arch, engine);
      const plain = new ArrayNet(arch, layerByLayer(engine));
      const weights = weightsOf(arch, 20);
      const shape = linksOf(arch, [3, size, size, 1]).at(-1)!.shape;
      const grid = { rows: shape.outHeight, cols: shape.outWidth };
      const { images, targets } = batch(3, size, grid, 21);
      const b = {
        images,
        imageShape: [3, size, size, 1] as Shape4,
        targets,
        targetShape: [3, grid.rows, grid.cols, 6] as Shape4,
      };
      const a = net.gradients(weights, b), want = plain.gradients(weights, b);
      assert.ok(Math.abs(a.parts.total - want.parts.total) <= 1e-5 * want.parts.total, name);
      for (const [i, g] of a.grads.entries()) {
        assert.ok(relErr(g, want.grads[i]) <= 1e-5, `${name} gradient ${i}`);
      }
      const out = net.forward(weights, images, b.imageShape);
      assert.ok(relErr(out, plain.forward(weights, images, b.imageShape)) <= 1e-5, `${name} out`);
      if (bf16) {
        // and it does run the chain: in bfloat16 only the chain takes the filter gradients' sums
        // from bfloat16 operands (layer by layer they are float32), so the two differ there
        const chained = new ArrayNet(arch, bf16).gradients(weights, b).grads;
        const layered = new ArrayNet(arch, layerByLayer(bf16)).gradients(weights, b).grads;
        const apart = relErr(chained[2], layered[2]);
        assert.ok(apart > 1e-4, `${name}: bfloat16 chain and layers only ${apart} apart`);
      }
    }
  },
});

Deno.test({
  name: "oneDNN chains: made once per shapes, none for a network with a pool (layer by layer)",
  ignore,
  fn() {
    assert.ok(dnnl, dnnlMissingReason);
    const links = linksOf(PADDED, [1, 20, 20, 1]);
    assert.equal(dnnl.chain!(links), dnnl.chain!(linksOf(PADDED, [1, 20, 20, 1])));
    assert.notEqual(dnnl.chain!(links), dnnl.chain!(linksOf(PADDED, [2, 20, 20, 1])));
    // the pool net runs layer by layer on the same engine and still equals it without chains
    const arch = ARCHITECTURES.pool;
    const weights = weightsOf(arch, 30);
    const images = randArray(2 * 64 * 64, 31);
    const got = new ArrayNet(arch, dnnl).forward(weights, images, [2, 64, 64, 1]);
    const want = new ArrayNet(arch, layerByLayer(dnnl)).forward(weights, images, [2, 64, 64, 1]);
    assert.equal(relErr(got, want), 0);
  },
});
