/**
 * How the CUDA engine holds a model's *patched* linears (issue 12: patches honoured exactly, never re-quantized to
 * another scheme). Pure TypeScript: decided before any device memory is allocated, and testable without a GPU.
 *
 * For each linear the storage-mode plan puts in int8 (or a compressed int8 mode) that carries a patch:
 *   1. the patch's own codes when its scheme is what the int8 kernel computes — symmetric int8 or int4 codes with one
 *      scale per output row (per-channel or per-tensor; fp32 / fp16 / bf16 scale values are all exact in fp32):
 *      the kernel's code × scale is then the patched weight bit for bit;
 *   1b. else, in storage mode int8, the patch's own 4-bit codes + group scales when it is int4 (group / per-channel /
 *      per-tensor, sym or asym) or nf4 (quant4Form: native common/quant4.h, read by cuda/gemv_blocks.cu): the kernel's
 *      float(value × scale) is the patched weight bit for bit (no rounding to state); group % 8 == 0 and K % group == 0;
 *   2. else, int8 per-channel codes re-derived from the patched weight *only when* they reproduce it bit for bit
 *      (a patch made without `attachQuantized`);
 *   3. else the linear runs in fp16: the patch's exact dequantized weight rounded to fp16 — a rounding the result
 *      states (`roundings`), never a second quantization to int8.
 * A patched linear in fp16 mode gets the same stated fp16 rounding. gguf mode is left alone (it refuses weights
 * its checkpoint blocks do not reproduce). A linear with a custom forward (fault injection) is refused: the GPU runs
 * weights only.
 *
 * @example
 * const p = planPatchedLinears(model, resolveModes(parseModeSpec('int8'), model.config));
 * p.modes;     // int8 where the patch's codes fit the kernel, fp16 elsewhere
 * p.roundings; // ['model.layers.0.mlp.up_proj: nf4:group=64 dequantized, rounded to fp16 (the int8 kernel cannot hold it)', …]
 */
import { err, msg } from '../messages.js';
import type { LlamaModel } from '../model/llama.js';
import { quantizeFast } from '../quant/native.js';
import { scaleValues, storedCode, type QuantizedTensor } from '../quant/quantize.js';
import { COMPRESSED_MODES, type ModePlan, type StorageMode } from './modes.js';
import { quant4Form, type Quant4Form } from './quant4-form.js';

/** int8 codes (out, in) and one fp32 scale per output row: what engineSetLinearInt8 takes. */
export interface Int8Rows {
  codes: Int8Array;
  scales: Float32Array;
  /** 'patch' = the patch's own codes, 'rederived' = re-derived and checked bit-exact */
  source: 'patch' | 'rederived';
}

export interface PatchedPlan {
  /** the plan's modes with patched linears the int8 kernel cannot hold exactly moved to fp16 */
  modes: StorageMode[];
  /** int8 codes to install per linear index (patched linears in int8-based modes) */
  int8: Map<number, Int8Rows>;
  /** 4-bit codes + group scales to install per linear index (int4 / nf4 patches in storage mode int8; engineSetLinearQ4) */
  quant4: Map<number, Quant4Form>;
  /** one line per rounding beyond the patch's own scheme */
  roundings: string[];
}

/**
 * Throw E_ENGINE naming the first linear with a custom forward (the GPU engine runs weights only).
 * @example
 * refuseCustomForwards(model, 'the CUDA engine');
 */
export function refuseCustomForwards(model: LlamaModel, engine: string): void {
  for (const l of model.linears()) if (l.forward) throw err('E_ENGINE', msg.engineCustomForwardOn(engine, l.path));
}

function isQuantized(q: unknown): q is QuantizedTensor {
  return typeof q === 'object' && q !== null && 'spec' in q && 'codes' in q && 'scales' in q && 'shape' in q;
}

/**
 * The int8-kernel form (symmetric codes, one fp32 scale per row) of a quantized tensor, or null when its scheme is
 * not that (asym, group, per-input-channel, nf4, fp8) or its shape is not (rows, cols).
 * @example
 * int8KernelForm(quantize(w, [4, 8], 'int4:per-channel'), 4, 8)!.codes // values in [-8, 7]
 */
export function int8KernelForm(q: QuantizedTensor, rows: number, cols: number): { codes: Int8Array; scales: Float32Array } | null {
  const s = q.spec;
  if ((s.format !== 'int8' && s.format !== 'int4') || s.asym) return null;
  if (s.granularity !== 'per-channel' && s.granularity !== 'per-tensor') return null;
  if (q.shape[0] !== rows || q.shape[1] !== cols) return null;
  const n = rows * cols;
  const codes = new Int8Array(n);
  if (s.format === 'int8') codes.set(new Int8Array(q.codes.buffer, q.codes.byteOffset, n));
  else for (let i = 0; i < n; i++) codes[i] = storedCode(q, i) - 8; // int4 sym stores code + 8
  const sv = scaleValues(q);
  const scales = s.granularity === 'per-channel' ? Float32Array.from(sv) : new Float32Array(rows).fill(sv[0]!);
  return { codes, scales };
}

/** codes × scale (float32) equals w everywhere (Object.is: -0 and NaN count). */
function reproduces(codes: Int8Array, scales: Float32Array, w: Float32Array, cols: number): boolean {
  for (let i = 0; i < w.length; i++) if (!Object.is(Math.fround(codes[i]! * scales[Math.floor(i / cols)]!), w[i])) return false;
  return true;
}

/**
 * Decide how each patched linear is held (see the module comment). `weight(path)` gives the installed weight.
 * @example
 * const p = planPatchedLinears(model, plan);
 */
export function planPatchedLinears(model: Pick<LlamaModel, 'linears' | 'getWeight'>, plan: ModePlan): PatchedPlan {
  const modes = [...plan.modes];
  const int8 = new Map<number, Int8Rows>();
  const quant4 = new Map<number, Quant4Form>();
  const roundings: string[] = [];
  model.linears().forEach((l, i) => {
    if (l.patch === null) return;
    const m = modes[i]!;
    const scheme = String(l.patch.quant ?? 'patched');
    if (m === 'gguf') return;
    if (m === 'fp16') {
      roundings.push(`${l.path}: ${scheme} dequantized, rounded to fp16 (storage mode fp16)`);
      return;
    }
    // int8 or a compressed int8 mode
    const q = l.patch.quantized;
    const form = isQuantized(q) ? int8KernelForm(q, l.outFeatures, l.inFeatures) : null;
    if (form) {
      int8.set(i, { ...form, source: 'patch' });
      return;
    }
    const f4 = m === 'int8' && isQuantized(q) ? quant4Form(q, l.outFeatures, l.inFeatures) : null;
    if (f4 && f4.group % 8 === 0) {
      quant4.set(i, f4);
      return;
    }
    const w = model.getWeight(l.path);
    const r = quantizeFast(w, [l.outFeatures, l.inFeatures], 'int8:per-channel:scale=fp32');
    const codes = new Int8Array(r.codes.buffer, r.codes.byteOffset, w.length);
    const scales = r.scales as Float32Array;
    if (reproduces(codes, scales, w, l.inFeatures)) {
      int8.set(i, { codes: Int8Array.from(codes), scales: Float32Array.from(scales), source: 'rederived' });
      return;
    }
    modes[i] = 'fp16';
    roundings.push(`${l.path}: ${scheme} dequantized, rounded to fp16 (the int8 kernel cannot hold it${COMPRESSED_MODES.includes(m) ? `; not compressed (${m})` : ''})`);
  });
  return { modes, int8, quant4, roundings };
}
