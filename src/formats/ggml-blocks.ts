/**
 * GGML block quantization, exactly as llama.cpp's ggml-quants.c defines it (dequantize_row_* and the reference
 * quantizers quantize_row_*_ref). Block geometry comes from `DTYPES` (dtypes.ts); the struct layouts below
 * (ggml-common.h) are checked against it when this module loads.
 *
 * All arithmetic is float32 like the C code: every product/sum is rounded with Math.fround, in the same order, so
 * outputs are bit-identical to llama.cpp's (and gguf-py's) reference (test/formats-ggml.test.ts checks this).
 */
import { DTYPES, f16ToF32, f32ToF16, type GGMLBlockDType } from './dtypes.js';
import { err, msg } from '../messages.js';

const fr = Math.fround;
const QK_K = 256;

/** Byte layout of each block struct (ggml-common.h): [field, bytes]; field order is the struct order. */
const LAYOUTS: Record<GGMLBlockDType, { elems: number; fields: [string, number][] }> = {
  q8_0: { elems: 32, fields: [['d:f16', 2], ['qs:i8[32]', 32]] },
  q4_0: { elems: 32, fields: [['d:f16', 2], ['qs:u8[16]', 16]] },
  q4_1: { elems: 32, fields: [['d:f16', 2], ['m:f16', 2], ['qs:u8[16]', 16]] },
  q5_0: { elems: 32, fields: [['d:f16', 2], ['qh:u8[4]', 4], ['qs:u8[16]', 16]] },
  q5_1: { elems: 32, fields: [['d:f16', 2], ['m:f16', 2], ['qh:u8[4]', 4], ['qs:u8[16]', 16]] },
  q2_k: { elems: QK_K, fields: [['scales:u8[16]', QK_K / 16], ['qs:u8[64]', QK_K / 4], ['d:f16', 2], ['dmin:f16', 2]] },
  q3_k: { elems: QK_K, fields: [['hmask:u8[32]', QK_K / 8], ['qs:u8[64]', QK_K / 4], ['scales:u8[12]', 12], ['d:f16', 2]] },
  q4_k: { elems: QK_K, fields: [['d:f16', 2], ['dmin:f16', 2], ['scales:u8[12]', 12], ['qs:u8[128]', QK_K / 2]] },
  q5_k: { elems: QK_K, fields: [['d:f16', 2], ['dmin:f16', 2], ['scales:u8[12]', 12], ['qh:u8[32]', QK_K / 8], ['qs:u8[128]', QK_K / 2]] },
  q6_k: { elems: QK_K, fields: [['ql:u8[128]', QK_K / 2], ['qh:u8[64]', QK_K / 4], ['scales:i8[16]', QK_K / 16], ['d:f16', 2]] },
};
for (const [dt, l] of Object.entries(LAYOUTS) as [GGMLBlockDType, (typeof LAYOUTS)[GGMLBlockDType]][]) {
  const bytes = l.fields.reduce((s, [, n]) => s + n, 0);
  if (bytes !== DTYPES[dt].blockBytes || l.elems !== DTYPES[dt].blockElems) {
    throw new Error(`ggml-blocks: layout of ${dt} (${l.elems} elems, ${bytes} bytes) disagrees with DTYPES`);
  }
}

/** Byte offsets and names of the fp16 scale fields of each block struct (from LAYOUTS): d, m, dmin. */
const SCALE_FIELDS: Record<GGMLBlockDType, { name: string; at: number }[]> = Object.fromEntries(
  (Object.entries(LAYOUTS) as [GGMLBlockDType, (typeof LAYOUTS)[GGMLBlockDType]][]).map(([dt, l]) => {
    const out: { name: string; at: number }[] = [];
    let at = 0;
    for (const [f, n] of l.fields) {
      if (f.endsWith(':f16')) out.push({ name: f.slice(0, -4), at });
      at += n;
    }
    return [dt, out];
  }),
) as Record<GGMLBlockDType, { name: string; at: number }[]>;

/**
 * The first impossible block of GGML block data, as llama.cpp's ggml_validate_row_data judges it: a (super-)block
 * whose fp16 scale (d, m, dmin) is Inf or NaN — every weight it scales would be non-finite. null when all are sane.
 * Reads only the scale fields (2 bytes per field per block).
 * @example
 * blockScaleProblem('q4_k', raw) // null, or "block 17 of 240 (q4_k): scale dmin is Inf"
 */
export function blockScaleProblem(dt: GGMLBlockDType, bytes: Uint8Array): string | null {
  const { blockBytes } = DTYPES[dt];
  const nb = Math.floor(bytes.length / blockBytes);
  for (let i = 0; i < nb; i++) {
    for (const f of SCALE_FIELDS[dt]) {
      const o = i * blockBytes + f.at;
      const hbits = bytes[o]! | (bytes[o + 1]! << 8);
      if ((hbits & 0x7c00) === 0x7c00) {
        const what = hbits & 0x3ff ? 'NaN' : hbits & 0x8000 ? '-Inf' : 'Inf';
        return `block ${i} of ${nb} (${dt}): scale ${f.name} is ${what}`;
      }
    }
  }
  return null;
}

function checkSizes(dt: GGMLBlockDType, bytes: Uint8Array, n: number): number {
  const { blockElems, blockBytes } = DTYPES[dt];
  if (!Number.isSafeInteger(n) || n < 0 || n % blockElems !== 0) {
    throw err('E_ARG', msg.badArg('element count', `${n} is not a whole number of ${dt} blocks (${blockElems})`));
  }
  const nb = n / blockElems;
  if (bytes.length < nb * blockBytes) {
    throw err('E_ARG', msg.badArg('block bytes', `${bytes.length} bytes, ${nb} ${dt} blocks need ${nb * blockBytes}`));
  }
  return nb;
}

/** q4_k / q5_k 6-bit packed scales: scale and min of sub-block j (0..7) from the 12 scale bytes at `q[o..]`. */
function getScaleMinK4(j: number, q: Uint8Array, o: number): [number, number] {
  if (j < 4) return [q[o + j]! & 63, q[o + j + 4]! & 63];
  const sc = (q[o + j + 4]! & 0xf) | ((q[o + j - 4]! >> 6) << 4);
  const m = (q[o + j + 4]! >> 4) | ((q[o + j]! >> 6) << 4);
  return [sc, m];
}

/**
 * Dequantize `n` elements (a whole number of blocks) of GGML block data to float32, bit-exact with llama.cpp.
 *
 * @example
 * const w = dequantizeBlocks('q4_k', rawBytes, 4096 * 4096);
 */
export function dequantizeBlocks(dt: GGMLBlockDType, bytes: Uint8Array, n: number): Float32Array {
  const nb = checkSizes(dt, bytes, n);
  const bs = DTYPES[dt].blockBytes;
  const y = new Float32Array(n);
  const x = bytes;
  const h = (o: number) => f16ToF32(x[o]! | (x[o + 1]! << 8)); // fp16 at byte o
  const i8 = (v: number) => (v << 24) >> 24;
  const u32 = (o: number) => (x[o]! | (x[o + 1]! << 8) | (x[o + 2]! << 16) | (x[o + 3]! << 24)) >>> 0; // LE u32 at byte o
  switch (dt) {
    case 'q8_0': // y = qs[j] * d
      for (let i = 0; i < nb; i++) {
        const o = i * bs, d = h(o);
        for (let j = 0; j < 32; j++) y[i * 32 + j] = fr(i8(x[o + 2 + j]!) * d);
      }
      break;
    case 'q4_0': // low nibbles -> elems 0..15, high nibbles -> 16..31; y = (q - 8) * d
      for (let i = 0; i < nb; i++) {
        const o = i * bs, d = h(o);
        for (let j = 0; j < 16; j++) {
          const q = x[o + 2 + j]!;
          y[i * 32 + j] = fr(((q & 0x0f) - 8) * d);
          y[i * 32 + j + 16] = fr(((q >> 4) - 8) * d);
        }
      }
      break;
    case 'q4_1': // y = q * d + m
      for (let i = 0; i < nb; i++) {
        const o = i * bs, d = h(o), m = h(o + 2);
        for (let j = 0; j < 16; j++) {
          const q = x[o + 4 + j]!;
          y[i * 32 + j] = fr(fr((q & 0x0f) * d) + m);
          y[i * 32 + j + 16] = fr(fr((q >> 4) * d) + m);
        }
      }
      break;
    case 'q5_0': // 5-bit q = nibble | bit j of qh << 4 (elems 0..15 low nibbles, 16..31 high); y = (q - 16) * d
      for (let i = 0; i < nb; i++) {
        const o = i * bs, d = h(o), qh = u32(o + 2);
        for (let j = 0; j < 16; j++) {
          const q = x[o + 6 + j]!;
          y[i * 32 + j] = fr((((q & 0x0f) | (((qh >>> j) & 1) << 4)) - 16) * d);
          y[i * 32 + j + 16] = fr((((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d);
        }
      }
      break;
    case 'q5_1': // y = q * d + m
      for (let i = 0; i < nb; i++) {
        const o = i * bs, d = h(o), m = h(o + 2), qh = u32(o + 4);
        for (let j = 0; j < 16; j++) {
          const q = x[o + 8 + j]!;
          y[i * 32 + j] = fr(fr(((q & 0x0f) | (((qh >>> j) & 1) << 4)) * d) + m);
          y[i * 32 + j + 16] = fr(fr(((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d) + m);
        }
      }
      break;
    case 'q2_k': // 16 sub-blocks of 16, scale byte = min << 4 | scale: y = d*sc * q - dmin*m; q = 2 bits of qs
      for (let i = 0; i < nb; i++) {
        const o = i * bs, d = h(o + 80), dmin = h(o + 82);
        for (let e = 0; e < QK_K; e++) {
          const half = e >> 7, shift = ((e >> 5) & 3) * 2, l = e & 31;
          const sc = x[o + (e >> 4)]!;
          const q = (x[o + 16 + half * 32 + l]! >> shift) & 3;
          y[i * QK_K + e] = fr(fr(fr(d * (sc & 0xf)) * q) - fr(dmin * (sc >> 4)));
        }
      }
      break;
    case 'q3_k': // 16 sub-blocks of 16 with 6-bit signed scales (-32); q = 2 low bits - 4 unless the hmask bit is set
      for (let i = 0; i < nb; i++) {
        const o = i * bs, d = h(o + 108), so = o + 96;
        for (let e = 0; e < QK_K; e++) {
          const s = e >> 4;
          const lo = s < 8 ? x[so + s]! & 0xf : x[so + s - 8]! >> 4;
          const hi = (x[so + 8 + (s & 3)]! >> (2 * (s >> 2))) & 3;
          const sc = (lo | (hi << 4)) - 32;
          const half = e >> 7, shift = ((e >> 5) & 3) * 2, l = e & 31;
          const ql = (x[o + 32 + half * 32 + l]! >> shift) & 3;
          const hbit = (x[o + l]! >> (e >> 5)) & 1;
          y[i * QK_K + e] = fr(fr(d * sc) * (ql - (hbit ? 0 : 4)));
        }
      }
      break;
    case 'q5_k': // like q4_k, plus a 5th bit per element from qh: y = d*sc * q - dmin*m
      for (let i = 0; i < nb; i++) {
        const o = i * bs, d = h(o), dmin = h(o + 2), so = o + 4;
        for (let e = 0; e < QK_K; e++) {
          const sb = e >> 5, l = e & 31;
          const [sc, m] = getScaleMinK4(sb, x, so);
          const ql = (x[o + 48 + (sb >> 1) * 32 + l]! >> ((sb & 1) * 4)) & 0xf;
          const q = ql | (((x[o + 16 + l]! >> sb) & 1) << 4);
          y[i * QK_K + e] = fr(fr(fr(d * sc) * q) - fr(dmin * m));
        }
      }
      break;
    case 'q4_k': // 8 sub-blocks of 32, each with a 6-bit scale and min: y = d*sc * q - dmin*m
      for (let i = 0; i < nb; i++) {
        const o = i * bs, d = h(o), dmin = h(o + 2), so = o + 4;
        let q = o + 16, yo = i * QK_K;
        for (let j = 0, is = 0; j < QK_K; j += 64, is += 2) {
          const [sc1, m1s] = getScaleMinK4(is, x, so);
          const [sc2, m2s] = getScaleMinK4(is + 1, x, so);
          const d1 = fr(d * sc1), m1 = fr(dmin * m1s), d2 = fr(d * sc2), m2 = fr(dmin * m2s);
          for (let l = 0; l < 32; l++) y[yo + l] = fr(fr(d1 * (x[q + l]! & 0xf)) - m1);
          for (let l = 0; l < 32; l++) y[yo + 32 + l] = fr(fr(d2 * (x[q + l]! >> 4)) - m2);
          q += 32;
          yo += 64;
        }
      }
      break;
    case 'q6_k': // 6-bit q = 4 low bits (ql) | 2 high bits (qh) << 4, minus 32; 16 int8 scales: y = d*sc * q
      for (let i = 0; i < nb; i++) {
        const o = i * bs, d = h(o + 208);
        let ql = o, qh = o + 128, sc = o + 192, yo = i * QK_K;
        for (let n0 = 0; n0 < QK_K; n0 += 128) {
          for (let l = 0; l < 32; l++) {
            const is = l >> 4;
            const hb = x[qh + l]!;
            const q1 = ((x[ql + l]! & 0xf) | (((hb >> 0) & 3) << 4)) - 32;
            const q2 = ((x[ql + l + 32]! & 0xf) | (((hb >> 2) & 3) << 4)) - 32;
            const q3 = ((x[ql + l]! >> 4) | (((hb >> 4) & 3) << 4)) - 32;
            const q4 = ((x[ql + l + 32]! >> 4) | (((hb >> 6) & 3) << 4)) - 32;
            y[yo + l] = fr(fr(d * i8(x[sc + is]!)) * q1);
            y[yo + l + 32] = fr(fr(d * i8(x[sc + is + 2]!)) * q2);
            y[yo + l + 64] = fr(fr(d * i8(x[sc + is + 4]!)) * q3);
            y[yo + l + 96] = fr(fr(d * i8(x[sc + is + 6]!)) * q4);
          }
          yo += 128;
          ql += 64;
          qh += 32;
          sc += 8;
        }
      }
      break;
    default: // unreachable while every GGMLBlockDType has a case above; a format added to the table without one throws
      throw err('E_DTYPE', msg.badArg('dtype', `no TypeScript dequantizer for ${dt} yet (the native one: dequantBlocks)`));
  }
  return y;
}

/** C's roundf: round half away from zero. */
const roundf = (v: number) => Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
/** C's (int8_t) cast of a float in range: truncation toward zero. */
const trunc = Math.trunc;

/** GGML block dtypes with a reference quantizer here. */
export type QuantizableBlockDType = 'q8_0' | 'q4_0' | 'q4_1';
const QUANTIZABLE = new Set<string>(['q8_0', 'q4_0', 'q4_1']);

/**
 * Quantize float32 values (a whole number of 32-blocks) with llama.cpp's reference quantizer
 * (quantize_row_q8_0_ref / q4_0_ref / q4_1_ref), bit-exact. Used to build fixtures and GGUF test files.
 *
 * @example
 * const bytes = quantizeBlocks('q8_0', new Float32Array(64).fill(0.5)); // 2 blocks, 68 bytes
 */
export function quantizeBlocks(dt: QuantizableBlockDType, f32: Float32Array): Uint8Array {
  const { blockElems: qk, blockBytes: bs } = DTYPES[dt];
  if (!QUANTIZABLE.has(dt)) throw err('E_ARG', msg.badArg('dtype', `no reference quantizer for ${dt}`));
  if (f32.length % qk !== 0) {
    throw err('E_ARG', msg.badArg('element count', `${f32.length} is not a whole number of ${dt} blocks (${qk})`));
  }
  const nb = f32.length / qk;
  const out = new Uint8Array(nb * bs);
  const put16 = (o: number, v: number) => {
    const b = f32ToF16(v);
    out[o] = b & 0xff;
    out[o + 1] = b >> 8;
  };
  for (let i = 0; i < nb; i++) {
    const x = f32.subarray(i * qk, (i + 1) * qk);
    const o = i * bs;
    if (dt === 'q8_0') {
      let amax = 0;
      for (let j = 0; j < qk; j++) amax = Math.max(amax, Math.abs(x[j]!));
      const d = fr(amax / 127);
      const id = d ? fr(1 / d) : 0;
      put16(o, d);
      for (let j = 0; j < qk; j++) out[o + 2 + j] = roundf(fr(x[j]! * id)) & 0xff;
    } else if (dt === 'q4_0') {
      let amax = 0, max = 0;
      for (let j = 0; j < qk; j++) {
        if (amax < Math.abs(x[j]!)) {
          amax = Math.abs(x[j]!);
          max = x[j]!;
        }
      }
      const d = fr(max / -8);
      const id = d ? fr(1 / d) : 0;
      put16(o, d);
      for (let j = 0; j < qk / 2; j++) {
        const xi0 = Math.min(15, trunc(fr(fr(x[j]! * id) + 8.5)));
        const xi1 = Math.min(15, trunc(fr(fr(x[j + qk / 2]! * id) + 8.5)));
        out[o + 2 + j] = xi0 | (xi1 << 4);
      }
    } else {
      let min = Infinity, max = -Infinity;
      for (let j = 0; j < qk; j++) {
        if (x[j]! < min) min = x[j]!;
        if (x[j]! > max) max = x[j]!;
      }
      const d = fr(fr(max - min) / 15);
      const id = d ? fr(1 / d) : 0;
      put16(o, d);
      put16(o + 2, min);
      for (let j = 0; j < qk / 2; j++) {
        const xi0 = Math.min(15, trunc(fr(fr(fr(x[j]! - min) * id) + 0.5)));
        const xi1 = Math.min(15, trunc(fr(fr(fr(x[j + qk / 2]! - min) * id) + 0.5)));
        out[o + 4 + j] = xi0 | (xi1 << 4);
      }
    }
  }
  return out;
}
