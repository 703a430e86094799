/**
 * Lossless bf16/fp16 weight streams decoded inside the GEMV (issue 14; format "CLLW" v1, DFloat11 / ZipNN style,
 * own code). Every 16-bit weight = an 8-bit symbol (bf16: the exponent; fp16: the high byte) coded with one canonical
 * Huffman code per tensor (lengths ≤ 12 bits, one 4096-entry table decodes a symbol per peek) + an 8-bit raw byte
 * (bf16: sign and 7 mantissa bits; fp16: the low mantissa byte) stored as is. Rows are cut into segments of
 * `rowsPerSeg` rows, each decoded by one GPU warp from 32 word-interleaved lane streams. The layout is defined ONCE
 * in native/src/common/lossless.h; {@link LOSSLESS_LAYOUT} mirrors its constants and test/lossless.test.ts ties them
 * to the addon's losslessLayout(). Encoder, reference decoder and the CUDA GEMV live in the native addon.
 *
 * @example
 * import { losslessEncode, losslessDecode } from './codec/lossless.js';
 * const s = losslessEncode('bf16', 4, 64, words);        // words: Uint16Array of 4*64 bf16 bit patterns
 * const back = losslessDecode(s);                         // Uint16Array, bit-exact
 */
import { err, msg } from '../messages.js';
import { callNative, requireNative } from '../native/addon.js';
import { entropyOfHistogram } from './entropy.js';

/** Constants of native/src/common/lossless.h (format version 1). */
export const LOSSLESS_LAYOUT = {
  magic: 0x574c4c43, // "CLLW"
  version: 1,
  headerBytes: 64,
  symbols: 256,
  maxCodeLen: 12,
  lanes: 32,
  group: 8,
  segEntryBytes: 16,
  defaultRowsPerSeg: 4,
  maxRowsPerSeg: 64,
  dtypeF16: 1,
  dtypeBF16: 2,
} as const;

export type LosslessDtype = 'bf16' | 'f16';

/** Header fields and byte split of a stream, as the addon's losslessInfo reports them. */
export interface LosslessInfo {
  dtype: LosslessDtype;
  rows: number;
  cols: number;
  rowsPerSeg: number;
  segments: number;
  maxCodeLen: number;
  /** header + code lengths + segment table */
  tableBytes: number;
  /** Huffman-coded symbols, lane streams padded to whole words per segment */
  codeBytes: number;
  /** one raw byte per weight */
  rawBytes: number;
  totalBytes: number;
  lengths: number[];
}

const dtypeId = (d: LosslessDtype) => (d === 'bf16' ? LOSSLESS_LAYOUT.dtypeBF16 : LOSSLESS_LAYOUT.dtypeF16);

/**
 * Split of a 16-bit weight into (symbol, raw byte) — the TS twin of lossless::Split.
 * @example
 * losslessSplit('bf16', 0x3f80); // { sym: 127, raw: 0 }   (1.0)
 */
export function losslessSplit(dtype: LosslessDtype, w: number): { sym: number; raw: number } {
  if (dtype === 'bf16') return { sym: (w >> 7) & 0xff, raw: ((w >> 8) & 0x80) | (w & 0x7f) };
  return { sym: (w >> 8) & 0xff, raw: w & 0xff };
}

/**
 * Encodes W [rows, cols] (16-bit bit patterns, row-major) as a CLLW stream; cols must be a multiple of 8.
 * @example
 * const s = losslessEncode('f16', 2, 8, new Uint16Array(16));
 */
export function losslessEncode(dtype: LosslessDtype, rows: number, cols: number, words: Uint16Array, rowsPerSeg: number = LOSSLESS_LAYOUT.defaultRowsPerSeg): Uint8Array {
  if (dtype !== 'bf16' && dtype !== 'f16') throw err('E_ARG', msg.badArg('dtype', `${String(dtype)} is not bf16 or f16`));
  const n = requireNative('lossless encoding');
  return callNative(() => n.losslessEncode!(dtypeId(dtype), rows, cols, words, rowsPerSeg), { codec: 'lossless', op: 'compress' });
}

/**
 * Decodes a CLLW stream (checksums verified) to its 16-bit words; corrupt or truncated input throws E_CODEC.
 * @example
 * const w = losslessDecode(stream, 'blk.0.attn_q.weight');
 */
export function losslessDecode(stream: Uint8Array, label?: string): Uint16Array {
  const n = requireNative('lossless decoding');
  const b = callNative(() => n.losslessDecode!(stream, label), { codec: 'lossless', op: 'decompress' });
  return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
}

/**
 * Header fields and byte split of a stream (checksums verified).
 * @example
 * const i = losslessInfo(stream); console.log(i.codeBytes / i.totalBytes);
 */
export function losslessInfo(stream: Uint8Array, label?: string): LosslessInfo {
  const n = requireNative('lossless stream info');
  return callNative(() => n.losslessInfo!(stream, label), { codec: 'lossless', op: 'decompress' }) as LosslessInfo;
}

/**
 * Order-0 bound of the layout in bytes: H(symbols)·n/8 (the coded part) + n (raw bytes), and of the whole 16-bit
 * words (H(words)·n/8), the bound no order-0 coder of the words can beat.
 * @example
 * const b = losslessBound('bf16', words); console.log(b.layoutBytes / (2 * words.length));
 */
export function losslessBound(dtype: LosslessDtype, words: Uint16Array): { symbolBits: number; layoutBytes: number; wordBits: number; wordBytes: number } {
  const hs = new Float64Array(256);
  const hw = new Float64Array(65536);
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    hs[losslessSplit(dtype, w).sym]!++;
    hw[w]!++;
  }
  const symbolBits = entropyOfHistogram(hs);
  const wordBits = entropyOfHistogram(hw);
  return { symbolBits, layoutBytes: (symbolBits * words.length) / 8 + words.length, wordBits, wordBytes: (wordBits * words.length) / 8 };
}
