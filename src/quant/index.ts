/**
 * The quantization lab, public surface: spec strings, quantizers (TS reference + native), error metrics and bounds,
 * selection, patching with verification, quality metrics, the seed's experiments, the fault zoo and diagnosis.
 *
 * @example
 * import { patch, runBaseline, compareToBaseline } from './quant/index.js';
 * const base = runBaseline(model, tokens);
 * patch(model, { select: 'all', quant: 'int8:per-channel' });
 * compareToBaseline(model, base).verdict; // 'MINOR'
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
export { nativeQuantAvailable, nativeSupports, quantizeNative, quantizeFast } from './native.js';
export { type ModuleRef, LINEAR_KINDS, resolveSelection, selectionSummary } from './select.js';
export { type PatchOptions, type PatchReport, type PatchedModule, type PatchableModel, patch, unpatch } from './patch.js';
export {
  type Verdict,
  type Baseline,
  type QualityReport,
  VERDICT_THRESHOLDS,
  verdict,
  runBaseline,
  compareToBaseline,
  greedyContinuation,
  perplexityFromLogits,
} from './quality.js';
export { type SweepRow, type LabModel, progressiveSweep, partialVsAll, debugMatrix, runStep, toTable, parseLayerList } from './sweep.js';
export { FAULTS, type FaultName, toFault } from './faults.js';
export { type Diagnosis, type Cause, diagnose, diagnoseFault } from './diagnose.js';
