/**
 * Patching: quantize selected linear layers of a model and install their dequantized weights, verified.
 *
 *   patch(model, { select: 'all', quant: 'int8:per-channel' })
 *
 * For every module the selection resolves to (FULL paths, select.ts), in module order:
 *   1. w  = model.originalWeight(path)            this module's own original, (out, in), re-read from the checkpoint
 *   2. q  = quantize(w, [out, in], spec)          native when built (identical to the TS reference)
 *   3. model.setWeight(path, dequantize(q), info) the previous tensor is disposed (the original is not kept)
 *   4. verify: read the weight back from the module and checkBound(q, originalWeight(path), installed): it must lie
 *      within the scheme's error bound of THIS module's original and equal q's own dequantization. A weight from
 *      another layer, a transposed weight, scales on the wrong axis, a stale buffer: E_PATCH, not a silent result.
 *
 * Faults (faults.ts) are injected between 2 and 3 with `fault`; verification then reports (verify: 'report' is the
 * default when a fault is given) instead of throwing. `wrong-layer` applies to every selected module (each gets the
 * first module with its short name, as the seed did); the others to one target module (`faultTarget`, default the
 * middle of the selection, which has a predecessor for stale-buffer).
 *
 * The model is anything with the LlamaModel linear API (PatchableModel), so this file needs no tfjs.
 */
import { err, isCodecError, msg } from '../messages.js';
import {
  type FaultName,
  dequantizeScaleAxis,
  dequantizeUint8AsInt8,
  fp16UnderflowFault,
  staleBufferFault,
  toFault,
  transposedFault,
  wrongLayerSource,
} from './faults.js';
import { type BoundCheck, type ErrorStats, checkBound, errorStats } from '../quant/metrics.js';
import { nativeQuantAvailable, nativeSupports, quantizeNative } from '../quant/native.js';
import { type QuantStats, type QuantizedTensor, dequantize, quantize } from '../quant/quantize.js';
import { type ModuleRef, resolveSelection } from '../model/select.js';
import { type QuantSpec, formatSpec, quantSizes, toSpec } from '../quant/spec.js';
import { STORAGE_MODES, type StorageMode } from '../engine/modes.js';

/** patch()'s `mode`: the reference's dequantized weights, or a GPU engine storage mode for the patched layers. */
export type PatchMode = 'dequantized' | StorageMode;
/** Every accepted `mode`, 'dequantized' first. */
export const PATCH_MODES: readonly PatchMode[] = ['dequantized', ...STORAGE_MODES];

/**
 * Check a patch mode; throws E_ARG naming the accepted ones.
 * @example
 * toPatchMode('int8'); // 'int8'
 */
export function toPatchMode(mode: string): PatchMode {
  if (!(PATCH_MODES as readonly string[]).includes(mode)) throw err('E_ARG', msg.badArg('mode', `'${mode}' (expected ${PATCH_MODES.join(', ')})`));
  return mode as PatchMode;
}

/** What patch() records on a module (LlamaModel's PatchInfo). */
export interface PatchInfo {
  quant: string;
  codec?: string;
  mode?: string;
  [k: string]: unknown;
}

/** A linear layer as patch() needs it. */
export interface PatchableLinear extends ModuleRef {
  readonly inFeatures: number;
  readonly outFeatures: number;
  patch: PatchInfo | null;
}

/** The model API patch() uses (LlamaModel implements it). */
export interface PatchableModel {
  linears(): PatchableLinear[];
  /** The checkpoint's weight of a module, (out, in) row-major. */
  originalWeight(path: string): Float32Array;
  /** The installed weight, (out, in) row-major. */
  getWeight(path: string): Float32Array;
  setWeight(path: string, w: Float32Array, patch: PatchInfo | null): void;
  memory?(): { total: number; byKind: Record<string, number> };
}

export interface PatchOptions {
  /** Selector (select.ts): all, first:N, blocks:a-b, type:…, re:…, a full path; '+' joins. */
  select: string;
  /** Quantization spec string or object. */
  quant: string | QuantSpec;
  /** Lossless codec on top of the codes (not yet: E_PATCH). */
  codec?: string;
  /**
   * 'dequantized' (default): every engine computes with the float32 dequantized weights. A GPU storage mode
   * (engine/modes.ts STORAGE_MODES: fp16, int8, decode-per-forward, cached, fused, gguf) is the per-layer override
   * the CUDA engine honours over its mode spec; the CPU reference still computes with the dequantized weights.
   */
  mode?: PatchMode;
  /** 'throw' (default without fault), 'report' (default with fault), 'off'. */
  verify?: 'throw' | 'report' | 'off';
  fault?: FaultName | string;
  /** Full path of the module a single-module fault hits (default: the middle of the selection). */
  faultTarget?: string;
  /** Use the native quantizer when built (default true; results are identical). */
  native?: boolean;
  /** Keep the QuantizedTensors in the report (memory!). */
  keepQuantized?: boolean;
  /**
   * Also put each module's QuantizedTensor on its PatchInfo (`patch.quantized`), where an engine can take the codes
   * instead of the float32 weight (src/engine/cpu-native.ts does). Costs the codes' memory; default false.
   */
  attachQuantized?: boolean;
  onProgress?: (done: number, total: number, path: string) => void;
}

export interface PatchedModule {
  path: string;
  kind: string;
  layer: number | null;
  shape: [number, number];
  spec: string;
  bitsPerWeight: number;
  /** Bytes of codes + scales + zero points. */
  quantBytes: number;
  stats: QuantStats;
  /** Installed weight vs this module's original. */
  error: ErrorStats;
  verify: BoundCheck | null;
  fault: FaultName | null;
  /** Where the installed weights came from (≠ path only for wrong-layer). */
  source: string;
  quantized?: QuantizedTensor;
}

export interface PatchReport {
  select: string;
  quant: string;
  modules: PatchedModule[];
  /** model.memory() before and after (float32 host tensors), when the model reports it. */
  memoryBefore: number | null;
  memoryAfter: number | null;
  /** Bytes of the patched modules as float32 / at fp16 / quantized. */
  originalBytesF32: number;
  quantizedBytes: number;
  /** fp16 size / quantized size of the patched modules (the seed's "compression ratio"). */
  ratio: number;
  fault: FaultName | null;
  faultTarget: string | null;
  /** Modules that failed verification (verify: 'report'). */
  failed: string[];
  timeS: number;
}

/**
 * Quantize and install the selected linear layers, verifying each against its own original.
 * @example
 * const r = patch(model, { select: 'all', quant: 'int8:per-channel' });
 * r.modules.length // 211 on SmolLM2-135M (30 x 7 + lm_head)
 */
export function patch(model: PatchableModel, opts: PatchOptions): PatchReport {
  const t0 = performance.now();
  const spec = toSpec(opts.quant);
  const specText = formatSpec(spec);
  if (opts.codec !== undefined) throw err('E_PATCH', msg.patchCodecUnsupported(opts.codec));
  const fault = opts.fault === undefined ? null : toFault(opts.fault);
  const mode = toPatchMode(opts.mode ?? 'dequantized');
  const verify = opts.verify ?? (fault ? 'report' : 'throw');
  const all = model.linears();
  const selected = resolveSelection(all, opts.select);
  const allPaths = all.map((m) => m.path);
  let target: string | null = null;
  if (fault && fault !== 'wrong-layer') {
    target = opts.faultTarget ?? selected[Math.floor(selected.length / 2)]!.path;
    if (!selected.some((m) => m.path === target)) throw err('E_PATCH', msg.selectNone(target));
  }
  const useNative = (opts.native ?? true) && nativeSupports(spec) && nativeQuantAvailable();
  const memoryBefore = model.memory ? model.memory().total : null;
  const modules: PatchedModule[] = [];
  const failed: string[] = [];
  let previous: Float32Array | null = null;
  for (const [idx, m] of selected.entries()) {
    const shape: [number, number] = [m.outFeatures, m.inFeatures];
    const source = fault === 'wrong-layer' ? wrongLayerSource(m.path, allPaths) : m.path;
    const w = model.originalWeight(source);
    let q;
    try {
      q = useNative ? quantizeNative(w, shape, spec) : quantize(w, shape, spec);
    } catch (e) {
      // name the module: the quantizer only knows the element (e.g. a NaN weight)
      if (isCodecError(e, 'E_QUANT')) throw err('E_QUANT', `${source}: ${e.message}`, e);
      throw e;
    }
    const dq = dequantize(q);
    let installed = dq;
    const hit = fault !== null && (fault === 'wrong-layer' ? source !== m.path : m.path === target);
    if (hit) {
      if (fault === 'scale-axis') installed = dequantizeScaleAxis(q);
      else if (fault === 'scale-fp16-underflow') installed = fp16UnderflowFault(w, shape, spec);
      else if (fault === 'uint8-as-int8') installed = dequantizeUint8AsInt8(q);
      else if (fault === 'transposed') installed = transposedFault(installed, shape[0], shape[1]);
      else if (fault === 'stale-buffer') installed = staleBufferFault(previous ?? new Float32Array(0), installed.length);
    }
    const info: PatchInfo = {
      quant: specText,
      mode,
      ...(hit ? { fault } : {}),
      ...(opts.attachQuantized && !hit ? { quantized: q } : {}),
    };
    model.setWeight(m.path, installed, info);
    previous = installed;
    const original = source === m.path ? w : model.originalWeight(m.path);
    let chk: BoundCheck | null = null;
    if (verify !== 'off') {
      chk = checkBound(q, original, model.getWeight(m.path), { reference: dq });
      if (!chk.ok) {
        failed.push(m.path);
        if (verify === 'throw') {
          const f = chk.first[0]!;
          throw err('E_PATCH', msg.patchVerify(m.path, specText, chk.violations, chk.n, f.row, f.col, f.original, f.dequantized, f.bound));
        }
      }
    }
    const sz = quantSizes(spec, shape[0], shape[1]);
    modules.push({
      path: m.path,
      kind: m.kind,
      layer: m.layer,
      shape,
      spec: specText,
      bitsPerWeight: sz.bitsPerWeight,
      quantBytes: sz.totalBytes,
      stats: q.stats,
      error: errorStats(original, installed),
      verify: chk,
      fault: hit ? fault : null,
      source,
      ...(opts.keepQuantized ? { quantized: q } : {}),
    });
    opts.onProgress?.(idx + 1, selected.length, m.path);
  }
  const weights = modules.reduce((n, m) => n + m.shape[0] * m.shape[1], 0);
  const quantizedBytes = modules.reduce((n, m) => n + m.quantBytes, 0);
  return {
    select: opts.select,
    quant: specText,
    modules,
    memoryBefore,
    memoryAfter: model.memory ? model.memory().total : null,
    originalBytesF32: weights * 4,
    quantizedBytes,
    ratio: quantizedBytes === 0 ? 1 : (weights * 2) / quantizedBytes,
    fault,
    faultTarget: fault === 'wrong-layer' ? (modules.find((m) => m.fault)?.path ?? null) : target,
    failed,
    timeS: (performance.now() - t0) / 1000,
  };
}

/**
 * Reinstall the original weights of the patched modules in the selection (default all).
 * @example
 * unpatch(model); // back to the checkpoint's weights
 */
export function unpatch(model: PatchableModel, select = 'all'): string[] {
  const restored: string[] = [];
  for (const m of resolveSelection(model.linears(), select)) {
    if (m.patch === null) continue;
    model.setWeight(m.path, model.originalWeight(m.path), null);
    restored.push(m.path);
  }
  return restored;
}
