/**
 * Native fast path of the integer quantizers (native/src/quant.cc): int8 with any granularity and int4, sym or
 * asym, fp32/fp16/bf16 scales; multi-threaded over rows. Gives the same codes, scale bits, zero points and stats as
 * the TS reference quantize() (test/quant-native.test.ts checks it bit for bit). nf4 and fp8 run in TS.
 *
 * Env switch: CODECLLM_QUANT_THREADS=<n> (default: os.availableParallelism()).
 */
import os from 'node:os';

import { err, msg } from '../messages.js';
import { callNative, loadNative, requireNative } from '../native/addon.js';
import { type QuantizedTensor, assertSizes, checkShape, emptyStats, quantize } from './quantize.js';
import { GRANULARITIES, QUANT_FORMATS, type QuantSpec, SCALE_DTYPES, formatSpec, toSpec } from './spec.js';
import { quantPlan } from './plan.js';

interface QuantAddon {
  quantizeInt(
    w: Float32Array,
    rows: number,
    cols: number,
    format: number,
    granularity: number,
    groupSize: number,
    asym: boolean,
    scaleDType: number,
    threads: number,
    codes: Int8Array | Uint8Array,
    scales: Float32Array | Uint16Array,
    zeros: Uint8Array | null,
  ): Float64Array;
}

/** Options of the native quantizer. */
export interface NativeQuantOptions {
  /** Worker threads (default CODECLLM_QUANT_THREADS or os.availableParallelism()). */
  threads?: number;
}

/** Does the native quantizer handle this spec? */
export function nativeSupports(spec: QuantSpec | string): boolean {
  const s = toSpec(spec);
  return s.format === 'int8' || s.format === 'int4';
}

/** Is the addon built with the quantizer? */
export function nativeQuantAvailable(): boolean {
  const a = loadNative() as unknown as Partial<QuantAddon> | null;
  return typeof a?.quantizeInt === 'function';
}

function defaultThreads(): number {
  const env = Number(process.env.CODECLLM_QUANT_THREADS);
  return Number.isSafeInteger(env) && env > 0 ? env : os.availableParallelism();
}

/**
 * Quantize with the native addon. Throws E_NATIVE when it is not built, E_QUANT for nf4/fp8 or bad input.
 * @example
 * const q = quantizeNative(w, [576, 576], 'int8:per-channel:scale=fp16', { threads: 2 });
 */
export function quantizeNative(
  w: Float32Array,
  shape: readonly number[],
  specIn: QuantSpec | string,
  opts: NativeQuantOptions = {},
): QuantizedTensor {
  const spec = toSpec(specIn);
  if (!nativeSupports(spec)) throw err('E_QUANT', msg.quantNativeUnsupported(formatSpec(spec)));
  const [rows, cols] = checkShape(shape, w.length);
  const addon = requireNative('the native quantizer') as unknown as QuantAddon;
  const plan = quantPlan(spec, rows, cols);
  const { nGroups } = plan.layout;
  const sz = plan.sizes;
  const codes = new plan.codesArray(sz.codeBytes);
  const scales = new plan.scalesArray(nGroups);
  const zeros = spec.asym ? new Uint8Array(sz.zeroBytes) : null;
  const threads = opts.threads ?? defaultThreads();
  const r = callNative(() =>
    addon.quantizeInt(
      w,
      rows,
      cols,
      QUANT_FORMATS.indexOf(spec.format),
      GRANULARITIES.indexOf(spec.granularity),
      spec.groupSize,
      spec.asym,
      SCALE_DTYPES.indexOf(spec.scaleDType),
      threads,
      codes,
      scales,
      zeros,
    ),
  );
  const bad = r[6]!;
  if (bad >= 0) throw err('E_QUANT', msg.quantNonFinite(w[bad]!, Math.floor(bad / cols), bad % cols));
  const stats = emptyStats(nGroups);
  [stats.zeroGroups, stats.scaleUnderflow, stats.scaleOverflow, stats.scaleSubnormal, stats.scaleNudged, stats.clipped] = [
    r[0]!,
    r[1]!,
    r[2]!,
    r[3]!,
    r[4]!,
    r[5]!,
  ];
  const q: QuantizedTensor = { spec, shape: [rows, cols], codes, scales, ...(zeros ? { zeros } : {}), stats };
  assertSizes(q);
  return q;
}

/**
 * Native when built and supported, else the TS reference (identical results either way).
 * @example
 * const q = quantizeFast(w, [1536, 576], 'int8:per-channel');
 */
export function quantizeFast(
  w: Float32Array,
  shape: readonly number[],
  spec: QuantSpec | string,
  opts: NativeQuantOptions = {},
): QuantizedTensor {
  return nativeSupports(spec) && nativeQuantAvailable() ? quantizeNative(w, shape, spec, opts) : quantize(w, shape, spec);
}
