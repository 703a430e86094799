/**
 * The fault zoo: reproducible, named versions of the bugs a weight-patching harness makes, as pure functions over
 * weights and quantized tensors. patch() injects them (option `fault`), diagnose() must find and name them.
 *
 *   scale-axis            scales broadcast along the wrong axis: per-channel scales (one per row) applied per
 *                         column, s[c mod rows] (per-input-channel: s[r mod cols])
 *   scale-fp16-underflow  scales converted to fp16 by a flush-to-zero converter (anything below the smallest
 *                         normal, 2^-14, becomes 0), so whole groups dequantize to 0. Real LLM scales sit well
 *                         above 2^-14, so the injector folds a factor UNDERFLOW_PRESCALE = 2^-8 into the weight
 *                         before quantizing and divides it out after (as when a norm or a scale is folded into a
 *                         weight); groups with absmax below 127 * 2^-14 / 2^-8 ~ 1.98 are zeroed
 *   uint8-as-int8         signed int8 codes read as unsigned: q < 0 becomes q + 256
 *   transposed            the (rows, cols) weight's transpose, (cols, rows) row-major, installed as (rows, cols)
 *   stale-buffer          a reused output buffer (sized for the largest module) is not written for this module:
 *                         it still holds the previous module's dequantized weights (zeros past their end)
 *   wrong-layer           the seed's short-name collision: the module gets the weights of the first module with
 *                         the same short name (model.layers.0.<same kind>)
 */
import { err, msg } from '../messages.js';
import { f16ToF32, f32ToF16 } from '../formats/dtypes.js';
import { type QuantizedTensor, quantize, scaleValues, storedByte, zeroAt } from '../quant/quantize.js';
import { planOf } from '../quant/plan.js';
import { type QuantSpec, formatSpec } from '../quant/spec.js';

/** Fault names. Append-only. */
export const FAULTS = ['scale-axis', 'scale-fp16-underflow', 'uint8-as-int8', 'transposed', 'stale-buffer', 'wrong-layer'] as const;
export type FaultName = (typeof FAULTS)[number];

/** Check a fault name; throws E_ARG faultUnknown. */
export function toFault(name: string): FaultName {
  if (!(FAULTS as readonly string[]).includes(name)) throw err('E_ARG', msg.faultUnknown(name));
  return name as FaultName;
}

/**
 * scale-axis: dequantize q with its scales indexed along the other axis.
 * @example
 * const bad = dequantizeScaleAxis(quantize(w, [64, 64], 'int8:per-channel'));
 */
export function dequantizeScaleAxis(q: QuantizedTensor): Float32Array {
  const [rows, cols] = q.shape;
  const g = q.spec.granularity;
  if (g !== 'per-channel' && g !== 'per-input-channel')
    throw err('E_ARG', msg.faultNeedsSpec('scale-axis', formatSpec(q.spec), 'per-channel or per-input-channel scales'));
  const s = scaleValues(q);
  const p = planOf(q);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const wrong = g === 'per-channel' ? c % rows : r % cols;
      out[i] = Math.fround(p.value(p.codeOfStored(storedByte(q, i)), zeroAt(q, wrong)) * s[wrong]!);
    }
  return out;
}

/** The factor folded into the weight by the scale-fp16-underflow injector. */
export const UNDERFLOW_PRESCALE = 2 ** -8;
const FP16_MIN_NORMAL_BITS = 0x0400;

/**
 * scale-fp16-underflow: quantize w * 2^-8 with fp32 scales, convert the scales to fp16 flushing subnormals to 0,
 * dequantize and divide the factor out.
 * @example
 * const bad = fp16UnderflowFault(w, [576, 576], 'int8:per-channel');
 */
export function fp16UnderflowFault(w: Float32Array, shape: readonly [number, number], spec: QuantSpec): Float32Array {
  const scaled = Float32Array.from(w, (v) => v * UNDERFLOW_PRESCALE);
  const q = quantize(scaled, shape, { ...spec, scaleDType: 'fp32' });
  const s = scaleValues(q).map((v) => {
    const h = f32ToF16(v);
    return (h & 0x7fff) < FP16_MIN_NORMAL_BITS ? 0 : f16ToF32(h); // flush-to-zero converter
  });
  const [rows, cols] = shape;
  const p = planOf(q);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const g = p.groupOf(r, c);
      out[i] = Math.fround((p.value(p.codeOfStored(storedByte(q, i)), zeroAt(q, g)) * s[g]!) / UNDERFLOW_PRESCALE);
    }
  return out;
}

/**
 * uint8-as-int8: dequantize int8 sym codes read as unsigned bytes (q < 0 -> q + 256).
 * @example
 * const bad = dequantizeUint8AsInt8(quantize(w, [64, 64], 'int8:per-channel'));
 */
export function dequantizeUint8AsInt8(q: QuantizedTensor): Float32Array {
  if (q.spec.format !== 'int8' || q.spec.asym) throw err('E_ARG', msg.faultNeedsSpec('uint8-as-int8', formatSpec(q.spec), 'int8 symmetric (signed) codes'));
  const [rows, cols] = q.shape;
  const s = scaleValues(q);
  const p = planOf(q);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      out[i] = Math.fround((q.codes[i]! & 0xff) * s[p.groupOf(r, c)]!);
    }
  return out;
}

/**
 * transposed: the weight's transpose, (cols, rows) row-major, as a flat array to be installed as (rows, cols).
 * @example
 * transposedFault(Float32Array.from([1, 2, 3, 4, 5, 6]), 2, 3) // [1, 4, 2, 5, 3, 6]
 */
export function transposedFault(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c]!;
  return out;
}

/**
 * stale-buffer: what a reused output buffer holds when this module's write was skipped: the previous content
 * (another module's weights), zero past its end.
 * @example
 * staleBufferFault(prevDequantized, 192 * 576)
 */
export function staleBufferFault(previous: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n);
  out.set(previous.subarray(0, Math.min(n, previous.length)));
  return out;
}

/** Short module name as the seed used it: the last path component (q_proj, down_proj, lm_head). */
export function shortName(path: string): string {
  return path.slice(path.lastIndexOf('.') + 1);
}

/**
 * wrong-layer: the module whose weights a short-name lookup installs into `path` (the first in module order with
 * the same short name).
 * @example
 * wrongLayerSource('model.layers.5.self_attn.q_proj', paths) // 'model.layers.0.self_attn.q_proj'
 */
export function wrongLayerSource(path: string, pathsInOrder: readonly string[]): string {
  const s = shortName(path);
  return pathsInOrder.find((p) => shortName(p) === s) ?? path;
}
