/**
 * Picture files written by the specs themselves (no tests here), so the decoder is checked on
 * every encoding against pixels known exactly:
 *
 * - {@linkcode encodePng}: any PNG colour type (grey, RGB, palette, grey + alpha, RGBA) and bit
 *   depth (1, 2, 4, 8, 16), tRNS chunks, Adam7 interlacing, every row filter;
 * - {@linkcode encodeJpeg}: baseline and progressive (spectral selection) JPEG, grey or YCbCr
 *   with 4:4:4 or 4:2:0 chroma, optional EXIF orientation. The progressive file carries the same
 *   quantised coefficients as the baseline one, so a decoder must give identical pixels for both.
 */

// ---------------------------------------------------------------------------------------------
// PNG

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A PNG chunk: length, type, data, CRC of type + data. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

async function zlib(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(
    new CompressionStream("deflate"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Channels per PNG colour type. */
export const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** What {@linkcode encodePng} writes. */
export interface PngSpec {
  width: number;
  height: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA. */
  colorType: 0 | 2 | 3 | 4 | 6;
  /** Bits per sample: 1, 2, 4, 8 or 16 (as the colour type allows). */
  depth: 1 | 2 | 4 | 8 | 16;
  /** The samples of pixel (x, y): integers in [0, 2^depth), or the palette index. */
  sample: (x: number, y: number) => number[];
  /** RGB entries of a palette (colour type 3). */
  palette?: readonly (readonly [number, number, number])[];
  /** Raw tRNS chunk data (palette alphas, or the transparent grey / RGB key as 16-bit values). */
  trns?: Uint8Array;
  /** Adam7 interlacing. */
  interlace?: boolean;
}

const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/** One filtered (sub-)image: rows of `w` pixels taken at (x0 + i·dx, y0 + j·dy). */
function filteredRows(
  spec: PngSpec,
  pass: readonly [number, number, number, number],
  rowFilter: (j: number) => number,
): Uint8Array[] {
  const [x0, y0, dx, dy] = pass;
  const w = Math.ceil((spec.width - x0) / dx), h = Math.ceil((spec.height - y0) / dy);
  if (w <= 0 || h <= 0) return [];
  const channels = PNG_CHANNELS[spec.colorType];
  const bits = channels * spec.depth;
  const stride = Math.ceil(w * bits / 8);
  const bpp = Math.max(1, bits / 8);
  const rows: Uint8Array[] = [];
  let prior = new Uint8Array(stride);
  for (let j = 0; j < h; j++) {
    const raw = new Uint8Array(stride);
    for (let i = 0; i < w; i++) {
      const s = spec.sample(x0 + i * dx, y0 + j * dy);
      if (s.length !== channels) throw new Error(`sample must give ${channels} values`);
      s.forEach((v, c) => {
        const k = i * channels + c;
        if (spec.depth === 16) {
          raw[2 * k] = v >> 8;
          raw[2 * k + 1] = v & 255;
        } else if (spec.depth === 8) raw[k] = v;
        else {
          const bit = k * spec.depth;
          raw[bit >> 3] |= v << (8 - spec.depth - (bit & 7));
        }
      });
    }
    const type = rowFilter(j);
    const out = new Uint8Array(stride + 1);
    out[0] = type;
    for (let b = 0; b < stride; b++) {
      const a = b >= bpp ? raw[b - bpp] : 0, up = prior[b], c = b >= bpp ? prior[b - bpp] : 0;
      let predictor = 0;
      if (type === 1) predictor = a;
      else if (type === 2) predictor = up;
      else if (type === 3) predictor = (a + up) >> 1;
      else if (type === 4) {
        const p = a + up - c, pa = Math.abs(p - a), pb = Math.abs(p - up), pc = Math.abs(p - c);
        predictor = pa <= pb && pa <= pc ? a : pb <= pc ? up : c;
      }
      out[b + 1] = (raw[b] - predictor) & 255;
    }
    rows.push(out);
    prior = raw;
  }
  return rows;
}

/** Writes a PNG as `spec` says; rows cycle through the five filter types. */
export async function encodePng(spec: PngSpec): Promise<Uint8Array> {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, spec.width);
  view.setUint32(4, spec.height);
  ihdr.set([spec.depth, spec.colorType, 0, 0, spec.interlace ? 1 : 0], 8);
  const passes = spec.interlace ? ADAM7 : [[0, 0, 1, 1] as const];
  const rows = passes.flatMap((p, k) => filteredRows(spec, p, (j) => (j + k) % 5));
  const chunks = [pngChunk("IHDR", ihdr)];
  if (spec.palette) chunks.push(pngChunk("PLTE", new Uint8Array(spec.palette.flat())));
  if (spec.trns) chunks.push(pngChunk("tRNS", spec.trns));
  chunks.push(pngChunk("IDAT", await zlib(concat(rows))), pngChunk("IEND", new Uint8Array()));
  return concat([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ...chunks]);
}

// ---------------------------------------------------------------------------------------------
// JPEG

/** Zigzag order: position k of the zigzag holds natural index ZIGZAG[k]. */
const ZIGZAG = (() => {
  const order: number[] = [];
  for (let s = 0; s < 15; s++) {
    const cells: number[] = [];
    for (let y = 0; y < 8; y++) {
      const x = s - y;
      if (x >= 0 && x < 8) cells.push(y * 8 + x);
    }
    order.push(...(s % 2 === 0 ? cells.reverse() : cells));
  }
  return order;
})();

const LUMA_Q = [
  16,
  11,
  10,
  16,
  24,
  40,
  51,
  61,
  12,
  12,
  14,
  19,
  26,
  58,
  60,
  55,
  14,
  13,
  16,
  24,
  40,
  57,
  69,
  56,
  14,
  17,
  22,
  29,
  51,
  87,
  80,
  62,
  18,
  22,
  37,
  56,
  68,
  109,
  103,
  77,
  24,
  35,
  55,
  64,
  81,
  104,
  113,
  92,
  49,
  64,
  78,
  87,
  103,
  121,
  120,
  101,
  72,
  92,
  95,
  98,
  112,
  100,
  103,
  99,
];
const CHROMA_Q = [
  17,
  18,
  24,
  47,
  99,
  99,
  99,
  99,
  18,
  21,
  26,
  66,
  99,
  99,
  99,
  99,
  24,
  26,
  56,
  99,
  99,
  99,
  99,
  99,
  47,
  66,
  99,
  99,
  99,
  99,
  99,
  99,
  ...new Array(32).fill(99),
];

/** Standard Huffman tables (ITU T.81 annex K.3): [bits per length 1–16, values]. */
const DC_LUMA = [
  [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
] as const;
const DC_CHROMA = [
  [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
] as const;
const AC_LUMA = [
  [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
  [
    0x01,
    0x02,
    0x03,
    0x00,
    0x04,
    0x11,
    0x05,
    0x12,
    0x21,
    0x31,
    0x41,
    0x06,
    0x13,
    0x51,
    0x61,
    0x07,
    0x22,
    0x71,
    0x14,
    0x32,
    0x81,
    0x91,
    0xa1,
    0x08,
    0x23,
    0x42,
    0xb1,
    0xc1,
    0x15,
    0x52,
    0xd1,
    0xf0,
    0x24,
    0x33,
    0x62,
    0x72,
    0x82,
    0x09,
    0x0a,
    0x16,
    0x17,
    0x18,
    0x19,
    0x1a,
    0x25,
    0x26,
    0x27,
    0x28,
    0x29,
    0x2a,
    0x34,
    0x35,
    0x36,
    0x37,
    0x38,
    0x39,
    0x3a,
    0x43,
    0x44,
    0x45,
    0x46,
    0x47,
    0x48,
    0x49,
    0x4a,
    0x53,
    0x54,
    0x55,
    0x56,
    0x57,
    0x58,
    0x59,
    0x5a,
    0x63,
    0x64,
    0x65,
    0x66,
    0x67,
    0x68,
    0x69,
    0x6a,
    0x73,
    0x74,
    0x75,
    0x76,
    0x77,
    0x78,
    0x79,
    0x7a,
    0x83,
    0x84,
    0x85,
    0x86,
    0x87,
    0x88,
    0x89,
    0x8a,
    0x92,
    0x93,
    0x94,
    0x95,
    0x96,
    0x97,
    0x98,
    0x99,
    0x9a,
    0xa2,
    0xa3,
    0xa4,
    0xa5,
    0xa6,
    0xa7,
    0xa8,
    0xa9,
    0xaa,
    0xb2,
    0xb3,
    0xb4,
    0xb5,
    0xb6,
    0xb7,
    0xb8,
    0xb9,
    0xba,
    0xc2,
    0xc3,
    0xc4,
    0xc5,
    0xc6,
    0xc7,
    0xc8,
    0xc9,
    0xca,
    0xd2,
    0xd3,
    0xd4,
    0xd5,
    0xd6,
    0xd7,
    0xd8,
    0xd9,
    0xda,
    0xe1,
    0xe2,
    0xe3,
    0xe4,
    0xe5,
    0xe6,
    0xe7,
    0xe8,
    0xe9,
    0xea,
    0xf1,
    0xf2,
    0xf3,
    0xf4,
    0xf5,
    0xf6,
    0xf7,
    0xf8,
    0xf9,
    0xfa,
  ],
] as const;
const AC_CHROMA = [
  [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
  [
    0x00,
    0x01,
    0x02,
    0x03,
    0x11,
    0x04,
    0x05,
    0x21,
    0x31,
    0x06,
    0x12,
    0x41,
    0x51,
    0x07,
    0x61,
    0x71,
    0x13,
    0x22,
    0x32,
    0x81,
    0x08,
    0x14,
    0x42,
    0x91,
    0xa1,
    0xb1,
    0xc1,
    0x09,
    0x23,
    0x33,
    0x52,
    0xf0,
    0x15,
    0x62,
    0x72,
    0xd1,
    0x0a,
    0x16,
    0x24,
    0x34,
    0xe1,
    0x25,
    0xf1,
    0x17,
    0x18,
    0x19,
    0x1a,
    0x26,
    0x27,
    0x28,
    0x29,
    0x2a,
    0x35,
    0x36,
    0x37,
    0x38,
    0x39,
    0x3a,
    0x43,
    0x44,
    0x45,
    0x46,
    0x47,
    0x48,
    0x49,
    0x4a,
    0x53,
    0x54,
    0x55,
    0x56,
    0x57,
    0x58,
    0x59,
    0x5a,
    0x63,
    0x64,
    0x65,
    0x66,
    0x67,
    0x68,
    0x69,
    0x6a,
    0x73,
    0x74,
    0x75,
    0x76,
    0x77,
    0x78,
    0x79,
    0x7a,
    0x82,
    0x83,
    0x84,
    0x85,
    0x86,
    0x87,
    0x88,
    0x89,
    0x8a,
    0x92,
    0x93,
    0x94,
    0x95,
    0x96,
    0x97,
    0x98,
    0x99,
    0x9a,
    0xa2,
    0xa3,
    0xa4,
    0xa5,
    0xa6,
    0xa7,
    0xa8,
    0xa9,
    0xaa,
    0xb2,
    0xb3,
    0xb4,
    0xb5,
    0xb6,
    0xb7,
    0xb8,
    0xb9,
    0xba,
    0xc2,
    0xc3,
    0xc4,
    0xc5,
    0xc6,
    0xc7,
    0xc8,
    0xc9,
    0xca,
    0xd2,
    0xd3,
    0xd4,
    0xd5,
    0xd6,
    0xd7,
    0xd8,
    0xd9,
    0xda,
    0xe2,
    0xe3,
    0xe4,
    0xe5,
    0xe6,
    0xe7,
    0xe8,
    0xe9,
    0xea,
    0xf2,
    0xf3,
    0xf4,
    0xf5,
    0xf6,
    0xf7,
    0xf8,
    0xf9,
    0xfa,
  ],
] as const;

type HuffTable = readonly [readonly number[], readonly number[]];

/** Code and length per symbol (T.81 annex C). */
function huffCodes(table: HuffTable): Map<number, [number, number]> {
  const [bits, values] = table;
  const codes = new Map<number, [number, number]>();
  let code = 0, k = 0;
  for (let length = 1; length <= 16; length++) {
    for (let i = 0; i < bits[length - 1]; i++) codes.set(values[k++], [code++, length]);
    code <<= 1;
  }
  return codes;
}

class BitWriter {
  bytes: number[] = [];
  #acc = 0;
  #n = 0;
  write(value: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) {
      this.#acc = (this.#acc << 1) | ((value >> i) & 1);
      if (++this.#n === 8) {
        this.bytes.push(this.#acc);
        if (this.#acc === 0xff) this.bytes.push(0);
        this.#acc = 0;
        this.#n = 0;
      }
    }
  }
  flush(): Uint8Array {
    if (this.#n > 0) this.write(0x7f, 8 - this.#n); // pad with 1-bits
    return new Uint8Array(this.bytes);
  }
}

const category = (v: number) => (v === 0 ? 0 : 32 - Math.clz32(Math.abs(v)));
const magnitude = (v: number, s: number) => (v < 0 ? (v - 1) & ((1 << s) - 1) : v);

/** Writes one symbol and the value's extra bits. */
function put(w: BitWriter, codes: Map<number, [number, number]>, symbol: number, v: number) {
  const [code, length] = codes.get(symbol)!;
  w.write(code, length);
  const s = symbol & 15;
  if (s) w.write(magnitude(v, s), s);
}

/** AC coefficients `from..to` (zigzag) of one block: run/size symbols, ZRL, EOB. */
function putAc(
  w: BitWriter,
  codes: Map<number, [number, number]>,
  z: Int16Array,
  from: number,
  to: number,
) {
  let run = 0;
  for (let k = from; k <= to; k++) {
    const v = z[k];
    if (v === 0) {
      run++;
      continue;
    }
    while (run > 15) {
      put(w, codes, 0xf0, 0);
      run -= 16;
    }
    const s = category(v);
    put(w, codes, (run << 4) | s, v);
    run = 0;
  }
  if (run > 0) put(w, codes, 0x00, 0); // EOB (in a progressive scan: a run of one block)
}

/** What {@linkcode encodeJpeg} writes. */
export interface JpegSpec {
  width: number;
  height: number;
  /** RGB of pixel (x, y), 0–255 each (grey pictures use the first). */
  rgb: (x: number, y: number) => readonly [number, number, number];
  /** 1: grey (Y only); 3: YCbCr. */
  channels: 1 | 3;
  /** Chroma 4:2:0 (Y sampled 2 × 2) instead of 4:4:4. */
  subsample?: boolean;
  /** Progressive (spectral selection: DC, AC 1–5, AC 6–63) instead of baseline. */
  progressive?: boolean;
  /** IJG quality 1–100; default 90. */
  quality?: number;
  /** EXIF orientation tag 1–8, written in an APP1 segment. */
  orientation?: number;
}

function segment(marker: number, body: Uint8Array | number[]): Uint8Array {
  const b = body instanceof Uint8Array ? body : new Uint8Array(body);
  return concat([new Uint8Array([0xff, marker, (b.length + 2) >> 8, (b.length + 2) & 255]), b]);
}

/** DCT-II of an 8 × 8 block (level-shifted samples), then quantised, in zigzag order. */
function fdctQuant(block: Float64Array, q: readonly number[]): Int16Array {
  const out = new Int16Array(64);
  for (let v = 0; v < 8; v++) {
    for (let u = 0; u < 8; u++) {
      let s = 0;
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) {
          s += block[y * 8 + x] * Math.cos((2 * x + 1) * u * Math.PI / 16) *
            Math.cos((2 * y + 1) * v * Math.PI / 16);
        }
      }
      const c = (u === 0 ? Math.SQRT1_2 : 1) * (v === 0 ? Math.SQRT1_2 : 1) / 4;
      const natural = v * 8 + u;
      const k = ZIGZAG.indexOf(natural);
      out[k] = Math.round(c * s / q[k]);
    }
  }
  return out;
}

/** Writes a JPEG as `spec` says (module doc). */
export function encodeJpeg(spec: JpegSpec): Uint8Array {
  const { width, height, channels, subsample = false, progressive = false, quality = 90 } = spec;
  const scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
  const table = (base: number[]) =>
    ZIGZAG.map((n) => Math.min(255, Math.max(1, Math.floor((base[n] * scale + 50) / 100))));
  const qs = [table(LUMA_Q), table(CHROMA_Q)];
  const hmax = channels === 3 && subsample ? 2 : 1;
  const mcuW = Math.ceil(width / (8 * hmax)), mcuH = Math.ceil(height / (8 * hmax));
  // planes, padded to whole MCUs by repeating the edge
  const comps = Array.from({ length: channels }, (_, c) => {
    const f = c === 0 ? hmax : 1;
    const bw = mcuW * f, bh = mcuH * f; // blocks across and down (padded)
    const pw = bw * 8, ph = bh * 8;
    const plane = new Float64Array(pw * ph);
    const step = hmax / f; // source pixels per sample
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        let s = 0;
        for (let dy = 0; dy < step; dy++) {
          for (let dx = 0; dx < step; dx++) {
            const sx = Math.min(width - 1, x * step + dx), sy = Math.min(height - 1, y * step + dy);
            const [r, g, b] = spec.rgb(sx, sy);
            s += c === 0
              ? 0.299 * r + 0.587 * g + 0.114 * b
              : c === 1
              ? -0.168736 * r - 0.331264 * g + 0.5 * b + 128
              : 0.5 * r - 0.418688 * g - 0.081312 * b + 128;
          }
        }
        plane[y * pw + x] = s / (step * step);
      }
    }
    const blocks: Int16Array[] = [];
    const block = new Float64Array(64);
    for (let by = 0; by < bh; by++) {
      for (let bx = 0; bx < bw; bx++) {
        for (let y = 0; y < 8; y++) {
          for (let x = 0; x < 8; x++) {
            block[y * 8 + x] = plane[(by * 8 + y) * pw + bx * 8 + x] - 128;
          }
        }
        blocks.push(fdctQuant(block, qs[c === 0 ? 0 : 1]));
      }
    }
    // blocks a non-interleaved scan codes: the component's own size, not the padded one
    const cw = Math.ceil(Math.ceil(width * f / hmax) / 8),
      ch = Math.ceil(Math.ceil(height * f / hmax) / 8);
    return { f, bw, bh, blocks, cw, ch, table: c === 0 ? 0 : 1 };
  });
  const dc = [huffCodes(DC_LUMA), huffCodes(DC_CHROMA)];
  const ac = [huffCodes(AC_LUMA), huffCodes(AC_CHROMA)];
  const parts: Uint8Array[] = [new Uint8Array([0xff, 0xd8])];
  parts.push(segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]));
  if (spec.orientation) {
    const tiff = [
      ...[0x45, 0x78, 0x69, 0x66, 0, 0], // "Exif\0\0"
      ...[0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8], // big-endian TIFF, IFD0 at 8
      ...[0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, spec.orientation, 0, 0, 0, 0, 0, 0],
    ];
    parts.push(segment(0xe1, tiff));
  }
  for (let t = 0; t < (channels === 3 ? 2 : 1); t++) parts.push(segment(0xdb, [t, ...qs[t]]));
  const frame = [8, height >> 8, height & 255, width >> 8, width & 255, channels];
  comps.forEach((c, i) => frame.push(i + 1, (c.f << 4) | c.f, c.table));
  parts.push(segment(progressive ? 0xc2 : 0xc0, frame));
  const tables: [number, HuffTable][] = [[0x00, DC_LUMA], [0x10, AC_LUMA]];
  if (channels === 3) tables.push([0x01, DC_CHROMA], [0x11, AC_CHROMA]);
  for (const [id, [bits, values]] of tables) parts.push(segment(0xc4, [id, ...bits, ...values]));

  /** A scan of components `cs`, coefficients ss..se; `code` writes one block. */
  const scan = (
    cs: number[],
    ss: number,
    se: number,
    code: (w: BitWriter, c: number, z: Int16Array) => void,
  ) => {
    parts.push(
      segment(0xda, [
        cs.length,
        ...cs.flatMap((c) => [c + 1, (comps[c].table << 4) | comps[c].table]),
        ss,
        se,
        0,
      ]),
    );
    const w = new BitWriter();
    if (cs.length === 1) {
      const c = comps[cs[0]];
      for (let by = 0; by < c.ch; by++) {
        for (let bx = 0; bx < c.cw; bx++) code(w, cs[0], c.blocks[by * c.bw + bx]);
      }
    } else {
      for (let my = 0; my < mcuH; my++) {
        for (let mx = 0; mx < mcuW; mx++) {
          for (const ci of cs) {
            const c = comps[ci];
            for (let v = 0; v < c.f; v++) {
              for (let u = 0; u < c.f; u++) {
                code(w, ci, c.blocks[(my * c.f + v) * c.bw + mx * c.f + u]);
              }
            }
          }
        }
      }
    }
    parts.push(w.flush());
  };
  const all = comps.map((_, i) => i);
  const pred = new Array(channels).fill(0);
  const putDc = (w: BitWriter, c: number, z: Int16Array) => {
    const diff = z[0] - pred[c];
    pred[c] = z[0];
    put(w, dc[comps[c].table], category(diff), diff);
  };
  if (!progressive) {
    scan(all, 0, 63, (w, c, z) => {
      putDc(w, c, z);
      putAc(w, ac[comps[c].table], z, 1, 63);
    });
  } else {
    scan(all, 0, 0, putDc);
    for (const [ss, se] of [[1, 5], [6, 63]]) {
      for (const c of all) {
        scan([c], ss, se, (w, ci, z) => putAc(w, ac[comps[ci].table], z, ss, se));
      }
    }
  }
  parts.push(new Uint8Array([0xff, 0xd9]));
  return concat(parts);
}
