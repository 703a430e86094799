/**
 * The quantization lab: module selection, patching a model with verification, the seed's experiments (progressive
 * sweep, all-vs-partial, debug matrix), the fault zoo and diagnosis. Quality verdicts live in ../eval/quality.ts.
 *
 * @example
 * import { patch } from './lab/index.js';
 * import { runBaseline, compareToBaseline } from './eval/quality.js';
 * const base = runBaseline(model, tokens);
 * patch(model, { select: 'all', quant: 'int8:per-channel' });
 * compareToBaseline(model, base).verdict; // 'MINOR'
 */
export { type ModuleRef, LINEAR_KINDS, resolveSelection, selectionSummary } from '../model/select.js';
export { type PatchOptions, type PatchReport, type PatchedModule, type PatchableModel, type PatchMode, PATCH_MODES, patch, unpatch } from './patch.js';
export { type SweepRow, type LabModel, progressiveSweep, partialVsAll, debugMatrix, runStep, toTable, parseLayerList, sweepTokens, progressiveSelect } from './sweep.js';
export { FAULTS, type FaultName, toFault } from './faults.js';
export { type Diagnosis, type Cause, diagnose, diagnoseFault } from './diagnose.js';
export { openEngine, type OpenEngineOptions, type OpenedEngine } from './open-engine.js';
export { engineSweep, type EngineSweepRow, type EngineSweepOptions, type EngineSweepConfig } from './engine-sweep.js';
