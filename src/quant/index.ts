/**
 * Quantization: spec strings, quantizers (TS reference + native fast path), error metrics and bounds.
 * The experiments that use them (patch, sweeps, faults, diagnosis) live in ../lab/.
 *
 * @example
 * import { parseSpec, quantize, dequantize, errorStats } from './quant/index.js';
 * const q = quantize(w, [out, inF], parseSpec('int8:per-channel'));
 * errorStats(w, dequantize(q)).maxAbs;
 */
export * from './spec.js';
export { rne, NF4, E4M3, E4M3_MAX, e4m3Encode, nf4Encode, SCALE_CODECS } from './numerics.js';
export {
  type QuantStats,
  type QuantizedTensor,
  quantize,
  dequantize,
  scaleValues,
  scaleBits,
  groupOfWeight,
  assertSizes,
} from './quantize.js';
export { type ErrorStats, type BoundCheck, errorStats, errorBound, checkBound } from './metrics.js';
export { type QuantPlan, quantPlan, planOf } from './plan.js';
export { nativeQuantAvailable, nativeSupports, quantizeNative, quantizeFast } from './native.js';
