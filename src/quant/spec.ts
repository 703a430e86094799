/**
 * Quantization schemes, defined once (ggml style: one table of formats, one of scale dtypes).
 *
 * A scheme is a `QuantSpec`; users write it as a spec string:
 *
 *   <format>[:<granularity>][:sym|:asym][:scale=fp32|fp16|bf16]
 *
 *   format       int8 | int4 | nf4 | fp8
 *   granularity  per-tensor | per-channel | per-input-channel | group=N (N in 32, 64, 128, 256)
 *                default: int8 per-channel, int4 and nf4 group=64, fp8 per-tensor
 *   sym | asym   asym = zero point (int8, int4 only); default sym
 *   scale=DT     storage dtype of the scales (default fp32)
 *
 * Weight layout: a 2-D linear weight (out_features, in_features) = (rows, cols), row-major.
 *   per-tensor         one group: all weights
 *   per-channel        one group per output channel = per row                 (rows groups)
 *   per-input-channel  one group per input channel = per column               (cols groups)
 *   group=N            contiguous runs of N along in_features inside one row; the last run of a row may be
 *                      shorter when N does not divide cols (SmolLM2's 576 = 4.5 x 128)     (rows * ceil(cols/N))
 *
 * Codes (see quantize.ts for the arithmetic):
 *   int8 sym   Int8Array   q in [-127, 127]           w ~ q * s,        s = absmax / 127
 *   int8 asym  Uint8Array  q in [0, 255], z in [0,255] w ~ (q - z) * s,  s = (max(hi,0) - min(lo,0)) / 255
 *   int4 sym   packed u4 = q + 8, q in [-7, 7]        w ~ q * s,        s = absmax / 7
 *   int4 asym  packed u4 = q in [0, 15], z in [0, 15] (zeros packed too)
 *   nf4        packed u4 = index into the QLoRA NF4 table, w ~ NF4[q] * s, s = absmax
 *   fp8        Uint8Array of FP8 E4M3FN bits (max 448, no infinities), w ~ e4m3(q) * s, s = absmax / 448
 * Packing of 4-bit codes: element i of the row-major tensor is nibble (i & 1) of byte i >> 1, low nibble first.
 *
 * Enums below are append-only: their indices are the ids the native addon and containers use.
 */
import { err, msg } from '../messages.js';

/** Code formats. Append-only (index = id). */
export const QUANT_FORMATS = ['int8', 'int4', 'nf4', 'fp8'] as const;
export type QuantFormat = (typeof QUANT_FORMATS)[number];

/** Scale granularities. Append-only (index = id). */
export const GRANULARITIES = ['per-tensor', 'per-channel', 'per-input-channel', 'group'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

/** Scale storage dtypes. Append-only (index = id). */
export const SCALE_DTYPES = ['fp32', 'fp16', 'bf16'] as const;
export type ScaleDType = (typeof SCALE_DTYPES)[number];

/** Allowed group sizes (powers of two, as GPTQ/AWQ/bitsandbytes use). */
export const GROUP_SIZES = [32, 64, 128, 256] as const;

/** One quantization scheme. `groupSize` is 0 unless `granularity` is 'group'. */
export interface QuantSpec {
  readonly format: QuantFormat;
  readonly granularity: Granularity;
  readonly groupSize: number;
  readonly asym: boolean;
  readonly scaleDType: ScaleDType;
}

/** Per-format geometry, defined once. */
export interface FormatInfo {
  /** Bits of one code (and of one zero point). */
  readonly codeBits: 8 | 4;
  /** Symmetric: codes in [-symMax, symMax] (int) or the table's largest magnitude (nf4 1.0, fp8 448). */
  readonly symMax: number;
  /** Asymmetric code range [0, asymMax] (0 when asym is not supported). */
  readonly asymMax: number;
  /** Default granularity / group size when the spec string names none. */
  readonly defaultGranularity: Granularity;
  readonly defaultGroupSize: number;
}

export const FORMAT_INFO: Readonly<Record<QuantFormat, FormatInfo>> = {
  int8: { codeBits: 8, symMax: 127, asymMax: 255, defaultGranularity: 'per-channel', defaultGroupSize: 0 },
  int4: { codeBits: 4, symMax: 7, asymMax: 15, defaultGranularity: 'group', defaultGroupSize: 64 },
  nf4: { codeBits: 4, symMax: 1, asymMax: 0, defaultGranularity: 'group', defaultGroupSize: 64 },
  fp8: { codeBits: 8, symMax: 448, asymMax: 0, defaultGranularity: 'per-tensor', defaultGroupSize: 0 },
};

/** Bits of one stored scale. */
export const SCALE_BITS: Readonly<Record<ScaleDType, number>> = { fp32: 32, fp16: 16, bf16: 16 };

/**
 * Parse a spec string. Throws E_QUANT with an exact message on any malformed spec.
 * @example
 * parseSpec('int8:group=128:asym') // {format:'int8', granularity:'group', groupSize:128, asym:true, scaleDType:'fp32'}
 */
export function parseSpec(text: string): QuantSpec {
  const s = text.trim();
  if (s === '') throw err('E_QUANT', msg.quantSpecEmpty());
  const parts = s.split(':');
  const format = parts[0]!;
  if (!(QUANT_FORMATS as readonly string[]).includes(format)) throw err('E_QUANT', msg.quantSpecFormat(s, format));
  const fmt = format as QuantFormat;
  let granularity: Granularity | undefined;
  let groupSize = 0;
  let asym: boolean | undefined;
  let scaleDType: ScaleDType | undefined;
  for (const opt of parts.slice(1)) {
    if (opt === 'per-tensor' || opt === 'per-channel' || opt === 'per-input-channel' || opt.startsWith('group=')) {
      if (granularity !== undefined) throw err('E_QUANT', msg.quantSpecTwice(s, 'granularity'));
      if (opt.startsWith('group=')) {
        const g = opt.slice('group='.length);
        const n = /^[0-9]+$/.test(g) ? Number(g) : NaN;
        if (!(GROUP_SIZES as readonly number[]).includes(n)) throw err('E_QUANT', msg.quantSpecGroup(s, g));
        granularity = 'group';
        groupSize = n;
      } else {
        granularity = opt as Granularity;
      }
    } else if (opt === 'sym' || opt === 'asym') {
      if (asym !== undefined) throw err('E_QUANT', msg.quantSpecTwice(s, 'sym/asym'));
      asym = opt === 'asym';
    } else if (opt.startsWith('scale=')) {
      if (scaleDType !== undefined) throw err('E_QUANT', msg.quantSpecTwice(s, 'scale dtype'));
      const dt = opt.slice('scale='.length);
      if (!(SCALE_DTYPES as readonly string[]).includes(dt)) throw err('E_QUANT', msg.quantSpecScale(s, dt));
      scaleDType = dt as ScaleDType;
    } else {
      throw err('E_QUANT', msg.quantSpecOption(s, opt));
    }
  }
  const info = FORMAT_INFO[fmt];
  if (asym && info.asymMax === 0) throw err('E_QUANT', msg.quantSpecAsym(s, fmt));
  if (granularity === undefined) {
    granularity = info.defaultGranularity;
    groupSize = info.defaultGroupSize;
  }
  return { format: fmt, granularity, groupSize, asym: asym ?? false, scaleDType: scaleDType ?? 'fp32' };
}

/**
 * Canonical spec string: format, granularity (always), then `asym` and `scale=` only when not the default.
 * `parseSpec(formatSpec(x))` deep-equals x, and `formatSpec(parseSpec(s))` is the canonical spelling of s.
 * @example
 * formatSpec(parseSpec('fp8')) // 'fp8:per-tensor'
 */
export function formatSpec(spec: QuantSpec): string {
  const q = validateSpec(spec);
  const parts: string[] = [q.format, q.granularity === 'group' ? `group=${q.groupSize}` : q.granularity];
  if (q.asym) parts.push('asym');
  if (q.scaleDType !== 'fp32') parts.push(`scale=${q.scaleDType}`);
  return parts.join(':');
}

/**
 * Accept a spec string or object; check an object field by field (API callers may build one by hand).
 * @example
 * toSpec('int4:group=64').groupSize // 64
 */
export function toSpec(spec: QuantSpec | string): QuantSpec {
  return typeof spec === 'string' ? parseSpec(spec) : validateSpec(spec);
}

/** Check a QuantSpec object; throws E_QUANT quantSpecObject. Returns it unchanged. */
export function validateSpec(spec: QuantSpec): QuantSpec {
  const bad = (d: string) => err('E_QUANT', msg.quantSpecObject(d));
  if (spec === null || typeof spec !== 'object') throw bad('not an object');
  if (!(QUANT_FORMATS as readonly string[]).includes(spec.format)) throw bad(`format '${String(spec.format)}'`);
  if (!(GRANULARITIES as readonly string[]).includes(spec.granularity)) throw bad(`granularity '${String(spec.granularity)}'`);
  if (!(SCALE_DTYPES as readonly string[]).includes(spec.scaleDType)) throw bad(`scaleDType '${String(spec.scaleDType)}'`);
  if (typeof spec.asym !== 'boolean') throw bad('asym must be a boolean');
  if (spec.asym && FORMAT_INFO[spec.format].asymMax === 0) throw bad(`${spec.format} is symmetric only`);
  if (spec.granularity === 'group') {
    if (!(GROUP_SIZES as readonly number[]).includes(spec.groupSize)) throw bad(`groupSize ${spec.groupSize}`);
  } else if (spec.groupSize !== 0) {
    throw bad(`groupSize must be 0 for ${spec.granularity}`);
  }
  return spec;
}

// ---- layout: which group each weight belongs to

/** Group geometry of a spec on a (rows, cols) weight. */
export interface GroupLayout {
  readonly rows: number;
  readonly cols: number;
  /** Number of groups = number of scales (and zero points). */
  readonly nGroups: number;
  /** Groups per row for 'group' granularity (else 0). */
  readonly groupsPerRow: number;
}

/**
 * Layout of `spec` on a (rows, cols) weight.
 * @example
 * groupLayout(parseSpec('int8:group=128'), 576, 576).nGroups // 576 * 5
 */
export function groupLayout(spec: QuantSpec, rows: number, cols: number): GroupLayout {
  switch (spec.granularity) {
    case 'per-tensor':
      return { rows, cols, nGroups: 1, groupsPerRow: 0 };
    case 'per-channel':
      return { rows, cols, nGroups: rows, groupsPerRow: 0 };
    case 'per-input-channel':
      return { rows, cols, nGroups: cols, groupsPerRow: 0 };
    case 'group': {
      const gpr = Math.ceil(cols / spec.groupSize);
      return { rows, cols, nGroups: rows * gpr, groupsPerRow: gpr };
    }
  }
}

/**
 * Group index of weight (r, c).
 * @example
 * groupOf(parseSpec('int8:per-input-channel'), groupLayout(parseSpec('int8:per-input-channel'), 4, 8), 2, 5) // 5
 */
export function groupOf(spec: QuantSpec, layout: GroupLayout, r: number, c: number): number {
  switch (spec.granularity) {
    case 'per-tensor':
      return 0;
    case 'per-channel':
      return r;
    case 'per-input-channel':
      return c;
    case 'group':
      return r * layout.groupsPerRow + Math.floor(c / spec.groupSize);
  }
}

// ---- sizes

/** Storage of one quantized (rows, cols) weight, in bytes, as quantize() lays it out. */
export interface QuantSizes {
  readonly codeBytes: number;
  readonly scaleBytes: number;
  readonly zeroBytes: number;
  readonly totalBytes: number;
  /** (codes + scales + zero points) bits / weights. */
  readonly bitsPerWeight: number;
}

/**
 * Exact storage of `spec` on a (rows, cols) weight: 4-bit codes and 4-bit zero points are packed two per byte.
 * @example
 * quantSizes(parseSpec('int4:group=64'), 64, 64).bitsPerWeight // 4 + 32/64 = 4.5
 */
export function quantSizes(spec: QuantSpec, rows: number, cols: number): QuantSizes {
  const n = rows * cols;
  const { nGroups } = groupLayout(spec, rows, cols);
  const bits = FORMAT_INFO[spec.format].codeBits;
  const codeBytes = bits === 8 ? n : Math.ceil(n / 2);
  const scaleBytes = (nGroups * SCALE_BITS[spec.scaleDType]) / 8;
  const zeroBytes = !spec.asym ? 0 : bits === 8 ? nGroups : Math.ceil(nGroups / 2);
  const totalBytes = codeBytes + scaleBytes + zeroBytes;
  return { codeBytes, scaleBytes, zeroBytes, totalBytes, bitsPerWeight: n === 0 ? 0 : (totalBytes * 8) / n };
}
