/**
 * The lab's 4-bit tensors (int4 group sym / asym, nf4 group) in the layout the native engines keep resident
 * (native/src/common/quant4.h: packed codes + fp32 group scales + zero points). Pure TypeScript, no addon: used by the
 * CPU engine (cpu-native.ts) and the CUDA patch plan (cuda-patches.ts). Tied to the native header by
 * test/native-quant4.test.ts.
 */
import { scaleValues, zeroAt, type QuantizedTensor } from '../quant/quantize.js';

/** What engineSetLinearQ4 / cpuEngineSetTensor take for a 4-bit layout. */
export interface Quant4Form {
  codes: Uint8Array;
  type: 'i4_group' | 'nf4_group';
  scale: Float32Array;
  zero: Uint8Array | null;
  group: number;
}

/**
 * The 4-bit resident form of an int4 / nf4 quantized tensor for the native engines (layout: native common/quant4.h):
 * packed codes (rows, cols/2) exactly as quantize.ts stores them (stored nibble: q + 8 for int4 sym, q for asym, the
 * NF4 index for nf4; low nibble first), fp32 scale per (row, group), zero point per (row, group) as a byte (int4 asym)
 * and the group size; per-channel is group = cols and per-tensor repeats the one scale per row. null for other formats,
 * per-input-channel, a shape that is not (rows, cols), or odd sizes (group and cols must be even and group divide cols).
 * Dequantizes bit for bit to dequantize(q): w = float(value * scale) on both sides.
 * @example
 * const f = quant4Form(quantize(w, [576, 576], 'nf4:group=64'), 576, 576)!;
 * f.type // 'nf4_group'; f.codes.length // 576 * 288; f.scale.length // 576 * 9
 */
export function quant4Form(q: QuantizedTensor, rows: number, cols: number): Quant4Form | null {
  const s = q.spec;
  if ((s.format !== 'int4' && s.format !== 'nf4') || s.granularity === 'per-input-channel') return null;
  if (q.shape[0] !== rows || q.shape[1] !== cols) return null;
  const group = s.granularity === 'group' ? s.groupSize : cols;
  if (group % 2 !== 0 || cols % group !== 0) return null;
  const sv = scaleValues(q); // fp32 / fp16 / bf16 scale values: all exact in float32
  const perRowGroups = cols / group;
  const ng = rows * perRowGroups;
  const scale = new Float32Array(ng);
  const zero = s.asym ? new Uint8Array(ng) : null;
  for (let g = 0; g < ng; g++) {
    const src = s.granularity === 'per-tensor' ? 0 : g; // group and per-channel: one stored scale per (row, group)
    scale[g] = sv[src]!;
    if (zero) zero[g] = zeroAt(q, src);
  }
  const codes = new Uint8Array(q.codes.buffer, q.codes.byteOffset, (rows * cols) / 2);
  return { codes, type: s.format === 'nf4' ? 'nf4_group' : 'i4_group', scale, zero, group };
}

