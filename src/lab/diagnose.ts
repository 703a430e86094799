/**
 * Diagnosis: find the first module (in module order) whose installed weight deviates from its own original beyond
 * the scheme's error bound, and name the most likely cause.
 *
 *   diagnose(model)                       a model patched by anyone (its modules' patch.quant give the scheme;
 *                                         `quant` overrides it for a user's model without patch info)
 *   diagnoseFault(model, 'transposed')    inject a named fault with patch() first, then diagnose
 *
 * A module is bad when an unpatched module's weight is not bit-identical to the checkpoint's, or a patched one
 * breaks checkBound(quantize(original), original, installed, {consistency: false}) — the bound alone, so a user's
 * own (slightly different) quantizer is not flagged. Causes are tested in this order (cheap self-tests first); the
 * first that explains the installed weight `x` wins ("explains": x is as close to the candidate as quantization
 * noise allows — relative Frobenius distance within 2x the module's own quantization error):
 *   transposed            x matches the transposed original read as (rows, cols)
 *   scale-axis            x matches the codes dequantized with scales along the other axis
 *   uint8-as-int8         x matches the codes read as unsigned bytes
 *   wrong-layer           x matches another layer's module of the same kind (the seed's bug: layer 0's)
 *   stale-buffer          x starts with another module's weights (a reused buffer; zeros after)
 *   scale-fp16-underflow  whole groups of x are 0 where the original is not, the rest within the bound
 *   unknown               none of the above
 */
import {
  type FaultName,
  dequantizeScaleAxis,
  dequantizeUint8AsInt8,
  fp16UnderflowFault,
  transposedFault,
} from './faults.js';
import { checkBound, errorStats } from '../quant/metrics.js';
import { type PatchableModel, type PatchOptions, patch } from './patch.js';
import { dequantize, groupOfWeight, quantize } from '../quant/quantize.js';
import { type QuantSpec, parseSpec, toSpec } from '../quant/spec.js';

export type Cause = FaultName | 'unknown';

export interface ModuleCheck {
  path: string;
  patched: boolean;
  ok: boolean;
  violations: number;
  maxRatio: number;
}

export interface Diagnosis {
  /** Full path of the first bad module, or null when every module is within its bound. */
  firstBadLayer: string | null;
  cause: Cause | null;
  /** What the cause test found, in words (e.g. "matches model.layers.0.self_attn.q_proj"). */
  evidence: string;
  /** Modules checked, in order, up to and including the first bad one (all when none is bad). */
  checked: ModuleCheck[];
  bad: string[];
}

function relFro(a: Float32Array, b: Float32Array): number {
  return errorStats(a, b).relFrobenius;
}

/**
 * Diagnose a patched model.
 * @example
 * const d = diagnose(model); d.firstBadLayer // 'model.layers.1.self_attn.q_proj'
 */
export function diagnose(model: PatchableModel, opts: { quant?: string | QuantSpec; all?: boolean } = {}): Diagnosis {
  const linears = model.linears();
  const checked: ModuleCheck[] = [];
  const bad: string[] = [];
  let first: { path: string; spec: QuantSpec | null } | null = null;
  for (const m of linears) {
    const x = model.getWeight(m.path);
    const w = model.originalWeight(m.path);
    const specText = opts.quant ?? m.patch?.quant;
    if (!specText) {
      let same = x.length === w.length;
      for (let i = 0; same && i < x.length; i++) same = Object.is(x[i], w[i]);
      checked.push({ path: m.path, patched: false, ok: same, violations: same ? 0 : 1, maxRatio: same ? 0 : Infinity });
      if (!same) {
        bad.push(m.path);
        first ??= { path: m.path, spec: null };
      }
    } else {
      const spec = toSpec(specText);
      const q = quantize(w, [m.outFeatures, m.inFeatures], spec);
      const chk = checkBound(q, w, x, { consistency: false });
      checked.push({ path: m.path, patched: true, ok: chk.ok, violations: chk.violations, maxRatio: chk.maxRatio });
      if (!chk.ok) {
        bad.push(m.path);
        first ??= { path: m.path, spec };
      }
    }
    if (first && !opts.all) break;
  }
  if (!first) return { firstBadLayer: null, cause: null, evidence: 'every module is within its error bound', checked, bad };
  const { cause, evidence } = classify(model, first.path, first.spec);
  return { firstBadLayer: first.path, cause, evidence, checked, bad };
}

function classify(model: PatchableModel, path: string, spec: QuantSpec | null): { cause: Cause; evidence: string } {
  const linears = model.linears();
  const m = linears.find((l) => l.path === path)!;
  const rows = m.outFeatures;
  const cols = m.inFeatures;
  const x = model.getWeight(path);
  const w = model.originalWeight(path);
  const s = spec ?? parseSpec('int8:per-channel');
  const q = quantize(w, [rows, cols], s);
  const dq = dequantize(q);
  // "as close as quantization noise allows": within 2x the module's own quantization error (+ float slack)
  const noise = relFro(w, dq);
  const tol = Math.max(2 * noise, 1e-6);
  const explains = (cand: Float32Array) => relFro(cand, x) <= tol;

  if (explains(transposedFault(w, rows, cols))) return { cause: 'transposed', evidence: 'weights match the transposed original' };
  if (s.granularity === 'per-channel' || s.granularity === 'per-input-channel')
    if (explains(dequantizeScaleAxis(q))) return { cause: 'scale-axis', evidence: 'weights match the codes with scales along the other axis' };
  if (s.format === 'int8' && !s.asym && explains(dequantizeUint8AsInt8(q)))
    return { cause: 'uint8-as-int8', evidence: 'weights match the signed codes read as unsigned bytes' };
  // wrong-layer: the same kind in another layer (layer 0 first, as a short-name lookup would find it)
  for (const o of linears) {
    if (o.path === path || o.kind !== m.kind || o.outFeatures !== rows || o.inFeatures !== cols) continue;
    if (explains(model.originalWeight(o.path))) return { cause: 'wrong-layer', evidence: `weights match ${o.path} (same short name, other layer)` };
  }
  // stale-buffer: x starts with another module's weights (the previous module in order is tried first)
  const idx = linears.findIndex((l) => l.path === path);
  const order = [...linears.slice(0, idx).reverse(), ...linears.slice(idx + 1)];
  for (const o of order) {
    if (o.path === path) continue;
    const ow = model.originalWeight(o.path);
    const n = Math.min(ow.length, x.length);
    if (n < 0.25 * x.length) continue;
    if (relFro(ow.subarray(0, n), x.subarray(0, n)) <= tol)
      return { cause: 'stale-buffer', evidence: `the first ${n} of ${x.length} weights are ${o.path}'s` };
  }
  // scale-fp16-underflow: whole groups zero where the original is not; the other weights within ~the bound
  const zero = new Uint8Array(q.scales.length).fill(1);
  const nonzeroOrig = new Uint8Array(q.scales.length);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const g = groupOfWeight(q, r, c);
      if (x[r * cols + c] !== 0) zero[g] = 0;
      if (w[r * cols + c] !== 0) nonzeroOrig[g] = 1;
    }
  let zeroed = 0;
  for (let g = 0; g < zero.length; g++) if (zero[g] && nonzeroOrig[g]) zeroed++;
  if (zeroed > 0 || explains(fp16UnderflowFault(w, [rows, cols], s)))
    return { cause: 'scale-fp16-underflow', evidence: `${zeroed} of ${zero.length} scale groups dequantize to all zeros` };
  return { cause: 'unknown', evidence: `weights differ from the original (relative error ${relFro(w, x).toExponential(2)}, quantization noise ${noise.toExponential(2)}) in no known pattern` };
}

/**
 * Inject `fault` with patch() (verify: 'report') and diagnose the result.
 * @example
 * diagnoseFault(model, 'wrong-layer').cause // 'wrong-layer'
 */
export function diagnoseFault(
  model: PatchableModel,
  fault: FaultName,
  opts: Partial<Pick<PatchOptions, 'select' | 'quant' | 'faultTarget'>> = {},
): Diagnosis & { injected: string | null } {
  const r = patch(model, { select: opts.select ?? 'all', quant: opts.quant ?? 'int8:per-channel', fault, verify: 'report', ...(opts.faultTarget ? { faultTarget: opts.faultTarget } : {}) });
  return { ...diagnose(model), injected: r.faultTarget };
}
