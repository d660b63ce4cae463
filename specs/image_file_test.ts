/**
 * Picture files (src/data/image_file.ts, src/data/gray.ts): every PNG colour type and bit depth,
 * with and without tRNS and interlacing, and baseline / progressive JPEG (grey, 4:4:4, 4:2:0, EXIF
 * orientation), written here (specs/image_fixtures.ts) and decoded to the luma computed from the
 * samples written; the matte rule for transparent pixels; one-line errors for bad files.
 */
import assert from "node:assert/strict";
import { decodeImage, imageHeader, readImage } from "../src/data/image_file.ts";
import { grayFromRgba, shrinkGray } from "../src/data/gray.ts";
import { makeRng } from "../src/rng.ts";
import { encodeJpeg, encodePng, PNG_CHANNELS, pngChunk, type PngSpec } from "./image_fixtures.ts";

const W = 13, H = 11; // odd sides: every Adam7 pass is partial
const luma = (r: number, g: number, b: number) => 0.299 * r + 0.587 * g + 0.114 * b;

/** max |a − b| over the pixels. */
function worst(a: Float32Array, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * A seeded PNG of colour type `colorType` and `depth` (random samples; palette of random
 * colours), and the grey values it must decode to on matte `matte`.
 */
async function pngCase(
  colorType: PngSpec["colorType"],
  depth: PngSpec["depth"],
  options: { interlace: boolean; trns: boolean; seed: number; matte: number },
) {
  const rng = makeRng(options.seed);
  const max = 2 ** depth - 1;
  const channels = PNG_CHANNELS[colorType];
  const entries = colorType === 3 ? Math.min(max + 1, 7) : 0;
  const palette = Array.from(
    { length: entries },
    () => [rng.int(256), rng.int(256), rng.int(256)] as const,
  );
  const samples = Array.from(
    { length: W * H },
    () => Array.from({ length: channels }, () => rng.int(colorType === 3 ? entries : max + 1)),
  );
  let trns: Uint8Array | undefined;
  let key: number[] | undefined; // the transparent grey / RGB (colour types 0, 2)
  const alphas = palette.map(() => rng.int(256));
  if (options.trns) {
    if (colorType === 3) trns = new Uint8Array(alphas);
    else {
      key = samples[5]; // pixel 5's colour is transparent (and every pixel of that colour)
      trns = new Uint8Array(key.flatMap((v) => [v >> 8, v & 255]));
    }
  }
  const spec: PngSpec = {
    width: W,
    height: H,
    colorType,
    depth,
    interlace: options.interlace,
    sample: (x, y) => samples[y * W + x],
    palette: colorType === 3 ? palette : undefined,
    trns,
  };
  const want = samples.map((s) => {
    let rgb: number[], a = 1;
    if (colorType === 3) {
      rgb = palette[s[0]].map((v) => v / 255);
      if (trns) a = alphas[s[0]] / 255;
    } else {
      const v = s.map((x) => x / max);
      rgb = colorType === 0 || colorType === 4 ? [v[0], v[0], v[0]] : v.slice(0, 3);
      if (colorType === 4) a = v[1];
      if (colorType === 6) a = v[3];
      if (key && s.every((x, k) => x === key![k])) a = 0;
    }
    return a * luma(rgb[0], rgb[1], rgb[2]) + (1 - a) * options.matte;
  });
  return { bytes: await encodePng(spec), want };
}

const PNG_KINDS: [PngSpec["colorType"], PngSpec["depth"][]][] = [
  [0, [1, 2, 4, 8, 16]],
  [2, [8, 16]],
  [3, [1, 2, 4, 8]],
  [4, [8, 16]],
  [6, [8, 16]],
];

Deno.test("every PNG colour type and depth, tRNS, interlaced or not, decodes to its luma", async () => {
  let seed = 0, cases = 0;
  for (const [colorType, depths] of PNG_KINDS) {
    for (const depth of depths) {
      for (const interlace of [false, true]) {
        for (const trns of colorType === 4 || colorType === 6 ? [false] : [false, true]) {
          const what = `colour type ${colorType}, ${depth}-bit${interlace ? ", Adam7" : ""}` +
            (trns ? ", tRNS" : "");
          const { bytes, want } = await pngCase(colorType, depth, {
            interlace,
            trns,
            seed: seed++,
            matte: 0.25,
          });
          const got = await decodeImage(bytes, { matte: 0.25 });
          assert.equal(got.format, "png", what);
          assert.equal(got.width, W, what);
          assert.equal(got.height, H, what);
          assert.match(got.detail, new RegExp(`^PNG ${depth}-bit`), what);
          const alpha = colorType === 4 || colorType === 6 || trns;
          assert.equal(got.transparent, alpha, what);
          // Skia reads 16-bit samples to 8 bits; lower depths scale exactly
          const tolerance = depth === 16 ? 2.5 / 255 : 1e-5;
          const err = worst(got.data, want);
          assert.ok(err <= tolerance, `${what}: max error ${err}`);
          cases++;
        }
      }
    }
  }
  assert.equal(cases, 52);
});

Deno.test("JPEG: baseline and progressive, grey, 4:4:4 and 4:2:0, decode to their luma; identical pixels", async () => {
  const w = 45, h = 29;
  const rgb = (x: number, y: number) =>
    [
      Math.round(255 * x / w),
      Math.round(255 * (0.5 + 0.5 * Math.sin(y / 3))),
      Math.round(255 * y / h),
    ] as const;
  const want = Array.from({ length: w * h }, (_, p) => {
    const [r, g, b] = rgb(p % w, Math.floor(p / w));
    return luma(r, g, b) / 255;
  });
  const kinds = [
    { channels: 1 as const, subsample: false, name: "grey" },
    { channels: 3 as const, subsample: false, name: "4:4:4" },
    { channels: 3 as const, subsample: true, name: "4:2:0" },
  ];
  for (const kind of kinds) {
    const decoded = [];
    for (const progressive of [false, true]) {
      const bytes = encodeJpeg({ width: w, height: h, rgb, ...kind, progressive, quality: 90 });
      const got = await decodeImage(bytes);
      const what = `${kind.name} ${progressive ? "progressive" : "baseline"}`;
      assert.equal(got.format, "jpeg");
      assert.equal(
        got.detail,
        `JPEG ${progressive ? "progressive" : "baseline"}, 8-bit, ${kind.channels} channel` +
          (kind.channels === 1 ? "" : "s"),
      );
      assert.deepEqual([got.width, got.height, got.transparent, got.matte], [w, h, false, null]);
      const err = worst(got.data, want);
      assert.ok(err <= 0.04, `${what}: max error ${err} (JPEG quality 90)`);
      decoded.push(got.data);
    }
    assert.deepEqual(decoded[1], decoded[0], `${kind.name}: progressive = baseline pixels`);
  }
});

Deno.test("JPEG with EXIF orientation 6 comes upright (rotated 90° clockwise)", async () => {
  const w = 24, h = 16;
  const v = (x: number, y: number) => (x < 8 && y < 8 ? 255 : 0); // white top-left block
  const bytes = encodeJpeg({
    width: w,
    height: h,
    rgb: (x, y) => [v(x, y), v(x, y), v(x, y)],
    channels: 1,
    quality: 95,
    orientation: 6,
  });
  const got = await decodeImage(bytes);
  assert.deepEqual([got.width, got.height], [h, w]);
  // displayed (X, Y) shows stored (Y, h − 1 − X): the white block moves to the top right
  const want = Array.from({ length: w * h }, (_, p) => v(Math.floor(p / h), h - 1 - (p % h)) / 255);
  assert.ok(worst(got.data, want) <= 0.1);
});

Deno.test("transparent pixels: composited on the picture's own background", async (t) => {
  const rgba = (w: number, h: number, px: (x: number, y: number) => number[]) => {
    const pixels = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) pixels.set(px(x, y), 4 * (y * w + x));
    return { width: w, height: h, pixels };
  };
  const stroke = (x: number) => x === 3 || x === 4;
  await t.step("dark ink on a transparent layer: white matte", () => {
    const g = grayFromRgba(rgba(10, 6, (x) => stroke(x) ? [20, 20, 20, 255] : [0, 0, 0, 0]));
    assert.equal(g.matte, 1);
    assert.ok(g.transparent);
    assert.ok(Math.abs(g.data[3] - 20 / 255) < 1e-6 && g.data[0] === 1);
  });
  await t.step("light ink on a transparent layer: black matte", () => {
    const g = grayFromRgba(rgba(10, 6, (x) => stroke(x) ? [250, 250, 250, 255] : [9, 9, 9, 0]));
    assert.equal(g.matte, 0);
    assert.equal(g.data[0], 0);
  });
  await t.step("a page with transparent margins: the page's level", () => {
    const g = grayFromRgba(
      rgba(
        10,
        6,
        (x) => x === 0 ? [0, 0, 0, 0] : stroke(x) ? [0, 0, 0, 255] : [204, 204, 204, 255],
      ),
    );
    assert.equal(g.matte, 0.8);
    assert.ok(Math.abs(g.data[0] - 0.8) < 1e-6);
  });
  await t.step("half-transparent pixels blend; opaque pictures are left alone", () => {
    const g = grayFromRgba(rgba(2, 1, () => [255, 255, 255, 51]), { matte: 0 });
    assert.ok(Math.abs(g.data[0] - 0.2) < 1e-6);
    const opaque = grayFromRgba(rgba(2, 1, () => [255, 0, 0, 255]));
    assert.deepEqual([opaque.transparent, opaque.matte], [false, null]);
    assert.ok(Math.abs(opaque.data[0] - 0.299) < 1e-6);
    const floats = grayFromRgba({ width: 1, height: 1, pixels: new Float32Array([0, 1, 0, 1]) });
    assert.ok(Math.abs(floats.data[0] - 0.587) < 1e-6);
  });
  await t.step("through a PNG: an RGBA drawing on a transparent layer", async () => {
    const bytes = await encodePng({
      width: 12,
      height: 12,
      colorType: 6,
      depth: 8,
      sample: (x) => stroke(x) ? [0, 0, 0, 255] : [0, 0, 0, 0],
    });
    const g = await decodeImage(bytes);
    assert.equal(g.matte, 1);
    assert.deepEqual([g.data[0], g.data[3]], [1, 0]);
  });
  await t.step("bad options", () => {
    assert.throws(() => grayFromRgba(rgba(1, 1, () => [0, 0, 0, 0]), { matte: 2 }), /matte/);
    assert.throws(
      () => grayFromRgba({ width: 2, height: 2, pixels: new Uint8Array(3) }),
      /4 values per pixel/,
    );
  });
});

Deno.test("bad picture files: one-line errors that name the file and say what to do", async () => {
  const png = await encodePng({
    width: 8,
    height: 8,
    colorType: 0,
    depth: 8,
    sample: (x, y) => [x * y],
  });
  const jpeg = encodeJpeg({ width: 8, height: 8, rgb: () => [9, 9, 9], channels: 1 });
  const text = (s: string) => new TextEncoder().encode(s);
  const idat = png.indexOf(0x49, 33); // the IDAT chunk's data: corrupt the deflate stream
  const corrupt = png.slice();
  for (let i = idat + 6; i < idat + 14; i++) corrupt[i] ^= 0xa5;
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(), /x\.png is empty \(0 bytes\)/],
    [
      text("hello, world"),
      /x\.png is not a PNG or JPEG picture \(it starts with bytes 68 65 6c 6c\)/,
    ],
    [text("%PDF-1.7 …"), /x\.png is a PDF document, which is not read; convert it to PNG or JPEG/],
    [new Uint8Array([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0]), /a TIFF picture/],
    [text("\0\0\0\x18ftypheic\0\0\0\0"), /a HEIC picture/],
    [png.subarray(0, png.length - 20), /truncated PNG/],
    [jpeg.subarray(0, jpeg.length - 10), /truncated JPEG/],
    [png.subarray(0, 20), /IHDR chunk is missing/],
    [corrupt, /x\.png is a damaged PNG \(its "IDAT" chunk fails its CRC check\)/],
  ];
  for (const [bytes, pattern] of cases) {
    await assert.rejects(decodeImage(bytes, { name: "x.png" }), (e: Error) => {
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes("\n"), e.message);
      return true;
    });
  }
  await assert.rejects(
    decodeImage(png, { name: "big.png", maxPixels: 63 }),
    /big\.png is 8×8 \(0\.0 megapixels\), more than maxPixels \(63\); scale it down first/,
  );
  await assert.rejects(
    readImage("no/such/file.png"),
    /Cannot read no\/such\/file\.png \(no such file\); check the path/,
  );
  await assert.rejects(readImage("specs"), /Cannot read specs \(/);
  assert.deepEqual(imageHeader(png), {
    format: "png",
    width: 8,
    height: 8,
    detail: "PNG 8-bit grey",
  });
  // a chunk after IEND is fine
  const trailing = new Uint8Array([...png, ...pngChunk("tEXt", text("x"))]);
  assert.equal((await decodeImage(trailing)).width, 8);
});

Deno.test("shrinkGray: block means, partial blocks dropped, errors", () => {
  const rng = makeRng(4);
  const image = { width: 7, height: 5, data: Float32Array.from({ length: 35 }, () => rng.next()) };
  const half = shrinkGray(image, 2);
  assert.deepEqual([half.width, half.height], [3, 2]);
  for (let y = 0; y < 2; y++) {
    for (let x = 0; x < 3; x++) {
      const at = (dy: number, dx: number) => image.data[(2 * y + dy) * 7 + 2 * x + dx];
      const want = (at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4;
      assert.ok(Math.abs(half.data[y * 3 + x] - want) < 1e-6);
    }
  }
  assert.deepEqual(Array.from(shrinkGray(image, 1).data), Array.from(image.data));
  assert.throws(() => shrinkGray(image, 6), /smaller than factor 6/);
  assert.throws(() => shrinkGray(image, 1.5), /factor must be a positive integer/);
});
