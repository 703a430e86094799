/**
 * GPU engine checks (issue 5, item 3): every CUDA kernel against its ops_ref.h twin, the engine's logits against the
 * TS reference on the default model in every storage mode, graph replay against eager decode, the VRAM ledger
 * against the byte accounting of src/engine/modes.ts, and a corrupted nvCOMP chunk surfacing as E_NVCOMP.
 * Prints a pass/fail table last; exits 1 when anything fails.
 *
 *   # on a CPU machine: reference logits of the TS model (original weights and int8-patched weights)
 *   node --import tsx scripts/gpu/check-engine.ts --make-reference .gpuengine/ref
 *   # on the GPU host (see scripts/gpu/engine-on-device.sh)
 *   node check-engine.mjs --ref .gpuengine/ref --model <gguf> --out $OUT/check-engine.json
 *   node check-engine.mjs --kernels-only --out $OUT/check-kernels.json   (the kernel twins and the lossless GEMV alone: no model)
 *
 * Tolerances (stated, per check):
 *   kernels        each test states atol + rtol·|ref| (fp32 accumulation order vs the double reference; see
 *                  gpu_engine.cc engineKernelTest); conversions and argmax are exact.
 *   logits         |Δ| ≤ 5e-2 + 1e-2·|ref| element-wise over the last position's logits at each of 5 steps, and the
 *                  same top-1 token at every step. fp16 mode is compared with the fp32 reference on the original
 *                  weights (fp16 weights, fp16 embeddings, fp16 prefill activations, fp16 or fp32 KV cache);
 *                  int8 with the reference patched with the same int8 per-channel weights (dequantized).
 *                  Measured on the H100 (2026-11-25): max |Δ| 2.6e-2..3.8e-2, mean 5e-3..1.1e-2 over 49152 logits of
 *                  magnitude ~10-20 — the fp16 rounding of embeddings and prefill activations (the int8 engine, whose
 *                  weights equal the reference's exactly, shows the same 3.1e-2), so the bound is 5e-2, not 2e-2.
 *   compressed     decode-per-forward, cached and fused decode the very int8 codes of the int8 mode and run the same
 *                  kernels: their logits must equal the int8 engine's bit for bit (Δ = 0).
 */
import fs from 'node:fs';
import path from 'node:path';
import { LlamaModel } from '../../src/model/llama.js';
import { quantizeFast } from '../../src/quant/native.js';
import { dequantize } from '../../src/quant/quantize.js';
import { CudaEngine, kernelTest } from '../../src/engine/cuda.js';
import { requireCuda } from '../../src/native/addon.js';
import { patch, unpatch } from '../../src/lab/patch.js';
import { tfjsEngine } from '../../src/engine/tfjs.js';
import { cudaEngine } from '../../src/engine/cuda-engine.js';

const args = process.argv.slice(2);
const arg = (k: string, d?: string) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1]! : d;
};
const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time, in a small village,';
const STEPS = 5;
const INT8_SPEC = 'int8:per-channel:scale=fp32';

interface RefFile {
  prompt: number[];
  /** greedy tokens of the reference: g0 after the prompt, then after feeding g0..g(STEPS-2) */
  greedy: number[];
  vocab: number;
  sets: Record<string, string>;
}

/** Reference logits (teacher-forced greedy): step 0 = prompt, step k = feed greedy[k-1]. */
function referenceLogits(m: LlamaModel, prompt: number[]): { logits: Float32Array[]; greedy: number[] } {
  const cache = m.newCache();
  const out: Float32Array[] = [];
  const greedy: number[] = [];
  let feed = prompt;
  for (let s = 0; s < STEPS; s++) {
    const { logits } = m.forward(feed, cache, { lastOnly: true });
    const v = logits.dataSync() as Float32Array;
    logits.dispose();
    out.push(v.slice());
    let best = 0;
    for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
    greedy.push(best);
    feed = [best];
  }
  m.disposeCache(cache);
  return { logits: out, greedy };
}

function patchInt8(m: LlamaModel): void {
  for (const l of m.linears()) {
    const q = quantizeFast(m.getWeight(l.path), [l.outFeatures, l.inFeatures], INT8_SPEC);
    m.setWeight(l.path, dequantize(q), { quant: INT8_SPEC });
  }
}

async function makeReference(dir: string, modelPath: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const m = await LlamaModel.load(modelPath);
  const prompt = m.tokenizer!.encode(PROMPT);
  const sets: Record<string, string> = {};
  const a = referenceLogits(m, prompt);
  const write = (name: string, ls: Float32Array[]) => {
    const buf = new Float32Array(ls.length * ls[0]!.length);
    ls.forEach((l, i) => buf.set(l, i * l.length));
    fs.writeFileSync(path.join(dir, name + '.f32'), new Uint8Array(buf.buffer));
    sets[name] = name + '.f32';
  };
  write('original', a.logits);
  patchInt8(m);
  const b = referenceLogits(m, prompt);
  write('int8', b.logits);
  const ref: RefFile = { prompt, greedy: a.greedy, vocab: m.config.vocabSize, sets };
  (ref as unknown as Record<string, unknown>).greedyInt8 = b.greedy;
  fs.writeFileSync(path.join(dir, 'ref.json'), JSON.stringify(ref));
  console.log(`reference: ${prompt.length} prompt tokens, greedy ${a.greedy.join(' ')} (int8: ${b.greedy.join(' ')}) -> ${dir}`);
  m.dispose();
}

interface Row {
  check: string;
  detail: string;
  value: string;
  tol: string;
  pass: boolean;
  first?: string[];
}

/** Lossless GEMV cases: odd shapes (rows not a multiple of rowsPerSeg, fewer column groups than lanes), fp16, one row
 *  per segment, and the TinyLlama / Llama-3.1-8B projection shapes with timing. */
const LOSSLESS_CASES: { rows: number; cols: number; dtype: 'bf16' | 'f16'; rowsPerSeg: number; iterations?: number }[] = [
  { rows: 37, cols: 264, dtype: 'bf16', rowsPerSeg: 4 },
  { rows: 5, cols: 8, dtype: 'f16', rowsPerSeg: 1 },
  { rows: 300, cols: 1032, dtype: 'f16', rowsPerSeg: 7 },
  { rows: 2048, cols: 2048, dtype: 'bf16', rowsPerSeg: 4, iterations: 200 },
  { rows: 2048, cols: 2048, dtype: 'bf16', rowsPerSeg: 1, iterations: 200 },
  { rows: 2048, cols: 2048, dtype: 'bf16', rowsPerSeg: 16, iterations: 200 },
  { rows: 5632, cols: 2048, dtype: 'bf16', rowsPerSeg: 4, iterations: 200 },
  { rows: 2048, cols: 5632, dtype: 'bf16', rowsPerSeg: 4, iterations: 200 },
  { rows: 4096, cols: 4096, dtype: 'bf16', rowsPerSeg: 4, iterations: 100 },
  { rows: 14336, cols: 4096, dtype: 'bf16', rowsPerSeg: 4, iterations: 50 },
  { rows: 14336, cols: 4096, dtype: 'bf16', rowsPerSeg: 16, iterations: 50 },
  { rows: 4096, cols: 14336, dtype: 'bf16', rowsPerSeg: 4, iterations: 50 },
  { rows: 4096, cols: 14336, dtype: 'f16', rowsPerSeg: 1, iterations: 50 },
];

const KERNEL_CASES: [string, Record<string, number>][] = [
  ['embedding', { V: 1000, h: 576, T: 7 }],
  ['embedding', { V: 32000, h: 2048, T: 1 }],
  ['embedding', { V: 1000, h: 576, T: 7, q8: 1 }],
  ['embedding', { V: 32000, h: 2048, T: 8, q8: 1 }],
  ['rmsnorm', { T: 1, h: 576 }],
  ['rmsnorm', { T: 17, h: 2048 }],
  ['swiglu', { n: 1536 }],
  ['swiglu', { n: 16896 }],
  ['rope_append', { T: 1, H: 9, Hkv: 3, D: 64, P: 10, Smax: 64, kv16: 1, devP: 1 }],
  ['rope_append', { T: 5, H: 32, Hkv: 4, D: 64, P: 0, Smax: 128, kv16: 0 }],
  ['rope_append', { T: 3, H: 4, Hkv: 4, D: 128, P: 7, Smax: 32, kv16: 1 }],
  ['attention', { T: 1, H: 9, Hkv: 3, D: 64, P: 10, Smax: 64, kv16: 1, devP: 1 }],
  ['attention', { T: 5, H: 32, Hkv: 4, D: 64, P: 0, Smax: 128, kv16: 0 }],
  ['attention', { T: 16, H: 9, Hkv: 3, D: 64, P: 20, Smax: 64, kv16: 1 }],
  ['attention', { T: 1, H: 32, Hkv: 4, D: 64, P: 700, Smax: 1024, kv16: 1, devP: 1 }],
  ['attention', { T: 3, H: 4, Hkv: 2, D: 128, P: 7, Smax: 32, kv16: 0 }],
  // batched decode: row t is its own sequence (position P + 3t, KV slot t)
  ['rope_append', { T: 8, H: 32, Hkv: 4, D: 64, P: 11, Smax: 64, kv16: 1, rows: 1 }],
  ['rope_append', { T: 3, H: 9, Hkv: 3, D: 64, P: 2, Smax: 32, kv16: 0, rows: 1 }],
  ['attention', { T: 8, H: 32, Hkv: 4, D: 64, P: 11, Smax: 64, kv16: 1, rows: 1 }],
  ['attention', { T: 5, H: 9, Hkv: 3, D: 64, P: 40, Smax: 128, kv16: 0, rows: 1 }],
  // decode: rope + append + attention in one kernel (== the two kernels bit for bit, and vs the reference)
  ['rope_attention', { T: 1, H: 32, Hkv: 4, D: 64, P: 200, Smax: 256, kv16: 1, rows: 1 }],
  ['rope_attention', { T: 8, H: 32, Hkv: 4, D: 64, P: 11, Smax: 64, kv16: 1, rows: 1 }],
  ['rope_attention', { T: 5, H: 9, Hkv: 3, D: 64, P: 40, Smax: 128, kv16: 0, rows: 1 }],
  ['rope_attention', { T: 3, H: 4, Hkv: 2, D: 128, P: 7, Smax: 32, kv16: 1, rows: 1 }],
  ['argmax_rows', { V: 32000, B: 8, Smax: 64 }],
  ['argmax_rows', { V: 49152, B: 3, Smax: 16, seed: 9 }],
  ['argmax', { V: 49152 }],
  ['argmax', { V: 32000, seed: 7 }],
  ['f32_to_f16', { n: 100000 }],
  ['quantize_i8', { rows: 64, K: 576 }],
  ['quantize_i8', { rows: 100, K: 2048 }],
];
// GGML blocks (gguf storage mode): q=1 q4_1, q=2 q8_0
for (const q of [1, 2]) {
  KERNEL_CASES.push(
    ['gemv', { q, K: 576, N: 576, segs: 3, N2: 192, N3: 192, prologue: 1 }],
    ['gemv', { q, K: 1536, N: 576, prologue: 2, acc: 1 }],
    ['gemv', { q, K: 5632, N: 2048, prologue: 2, acc: 1 }],
    ['gemv', { q, K: 576, N: 49152, prologue: 1 }],
    ['gemv', { q, M: 8, K: 2048, N: 2048, segs: 3, N2: 256, N3: 256, prologue: 1, bias: 1 }],
    ['gemm', { q, M: 7, N: 576, K: 576 }],
    ['gemm', { q, M: 128, N: 1536, K: 576, acc: 1, bias: 1 }],
  );
}
// raw GGML blocks as the file keeps them (native/src/cuda/gemv_blocks.cu): q=3 q5_0, q=4 q4_k, q=5 q6_k, on Gemma 3
// 270M's shapes (hidden 640, q 1024, kv 256, ffn 2048: q5_0 on K=640, q4_k on K=1024/2048, q6_k on K=2048) and odd ones
KERNEL_CASES.push(
  ['gemv', { q: 3, K: 640, N: 1024, segs: 3, N2: 256, N3: 256, prologue: 1 }],
  ['gemv', { q: 3, K: 640, N: 2048, segs: 2, N2: 2048, prologue: 1 }],
  ['gemv', { q: 3, M: 8, K: 640, N: 2048, segs: 2, N2: 2048, prologue: 1, bias: 1 }],
  ['gemv', { q: 3, M: 3, K: 96, N: 37, segs: 3, N2: 5, N3: 9, prologue: 0, acc: 1 }],
  ['gemv', { q: 4, K: 1024, N: 640, acc: 1 }],
  ['gemv', { q: 4, K: 2048, N: 640, prologue: 2, acc: 1 }],
  ['gemv', { q: 4, M: 5, K: 2048, N: 640, prologue: 2, acc: 1, bias: 1 }],
  ['gemv', { q: 4, K: 256, N: 33, segs: 2, N2: 7, prologue: 1 }],
  ['gemv', { q: 5, K: 2048, N: 640, prologue: 2, acc: 1 }],
  ['gemv', { q: 5, M: 8, K: 2048, N: 640, prologue: 2, acc: 1 }],
  ['gemv', { q: 5, K: 512, N: 100, bias: 1, prologue: 1 }],
  ['gemm', { q: 3, M: 7, N: 1024, K: 640 }],
  ['gemm', { q: 4, M: 128, N: 640, K: 1024, acc: 1, bias: 1 }],
  ['gemm', { q: 5, M: 33, N: 640, K: 2048 }],
);
// the lab's 4-bit layouts, codes + fp32 group scales resident (common/quant4.h, gemv_blocks.cu): q=6 int4 sym,
// q=7 int4 asym (zero points), q=8 nf4; g = group size (the lab default 64; g = K is per-channel)
for (const q of [6, 7, 8]) {
  KERNEL_CASES.push(
    ['gemv', { q, g: 64, K: 576, N: 576, segs: 3, N2: 192, N3: 192, prologue: 1 }],
    ['gemv', { q, g: 64, K: 1536, N: 576, prologue: 2, acc: 1 }],
    ['gemv', { q, g: 128, K: 2048, N: 5632, segs: 2, N2: 5632, prologue: 1 }],
    ['gemv', { q, g: 576, K: 576, N: 49152, prologue: 1 }],
    ['gemv', { q, g: 32, M: 8, K: 2048, N: 2048, segs: 3, N2: 256, N3: 256, prologue: 1, bias: 1 }],
    ['gemv', { q, g: 8, M: 3, K: 64, N: 37, segs: 3, N2: 6, N3: 9, prologue: 0, acc: 1 }],
    ['gemm', { q, g: 64, M: 7, N: 576, K: 576 }],
    ['gemm', { q, g: 64, M: 128, N: 1536, K: 576, acc: 1, bias: 1 }],
  );
}
for (const i8 of [0, 1]) {
  KERNEL_CASES.push(
    ['gemv', { i8, K: 576, N: 576, segs: 3, N2: 192, N3: 192, prologue: 1 }],
    ['gemv', { i8, K: 1536, N: 576, prologue: 2, acc: 1 }],
    ['gemv', { i8, K: 2048, N: 5632, segs: 2, N2: 5632, prologue: 1 }],
    ['gemv', { i8, K: 5632, N: 2048, prologue: 2, acc: 1 }],
    ['gemv', { i8, K: 28672, N: 512, prologue: 2, acc: 1 }], // Llama-70B down_proj width (one input row per launch)
    ['gemv', { i8, M: 3, K: 28672, N: 256, prologue: 2, acc: 1 }],
    ['gemv', { i8, K: 576, N: 49152, prologue: 1 }],
    ['gemv', { i8, K: 64, N: 40, segs: 3, N2: 8, N3: 8, bias: 1, prologue: 0 }],
    // batched decode GEMV: M input rows (4 weight rows per warp)
    ['gemv', { i8, M: 8, K: 2048, N: 2048, segs: 3, N2: 256, N3: 256, prologue: 1 }],
    ['gemv', { i8, M: 8, K: 5632, N: 2048, prologue: 2, acc: 1 }],
    ['gemv', { i8, M: 5, K: 576, N: 1536, segs: 2, N2: 1536, prologue: 1, bias: 1 }],
    ['gemv', { i8, M: 2, K: 64, N: 37, segs: 3, N2: 6, N3: 9, prologue: 0, acc: 1 }],
    ['gemv', { i8, M: 8, K: 576, N: 49152, prologue: 1 }],
    ['gemm', { i8, M: 7, N: 576, K: 576 }],
    ['gemm', { i8, M: 128, N: 1536, K: 576, acc: 1, bias: 1 }],
    ['gemm', { i8, M: 33, N: 2048, K: 5632 }],
    ['gemm', { i8, M: 64, N: 100, K: 48, prologue: 1 }],
  );
}

function compareLogits(got: Float32Array, want: Float32Array): { maxAbs: number; meanAbs: number; worstRatio: number; argGot: number; argWant: number } {
  let maxAbs = 0;
  let sum = 0;
  let worst = 0;
  let ag = 0;
  let aw = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    maxAbs = Math.max(maxAbs, Number.isNaN(d) ? Infinity : d);
    sum += d;
    worst = Math.max(worst, d / (5e-2 + 1e-2 * Math.abs(want[i]!)));
    if (got[i]! > got[ag]!) ag = i;
    if (want[i]! > want[aw]!) aw = i;
  }
  return { maxAbs, meanAbs: sum / want.length, worstRatio: Number.isNaN(worst) ? Infinity : worst, argGot: ag, argWant: aw };
}

async function runChecks(): Promise<void> {
  const rows: Row[] = [];
  const n = requireCuda('GPU engine checks');
  const dev = n.deviceInfo();
  // --kernels-only: sections 1 and 1b (kernel twins, lossless GEMV) only
  console.log(`device: ${dev.name} (cc ${dev.computeCapability}, ${dev.multiprocessors} SMs), ${new Date().toISOString()}`);
  // ---- 1. kernels vs twins
  KERNEL_CASES.forEach(([name, p], i) => {
    const seed = p.seed ?? 100 + i;
    let r;
    try {
      r = kernelTest(name, { ...p, seed });
    } catch (e) {
      rows.push({ check: `kernel ${name}`, detail: JSON.stringify(p), value: String((e as Error).message), tol: '', pass: false });
      return;
    }
    rows.push({
      check: `kernel ${name}`,
      detail: Object.entries(p).map(([k, v]) => `${k}=${v}`).join(' '),
      value: `max|Δ| ${r.maxAbs.toExponential(2)} (${r.maxErrOverTol.toFixed(2)}×tol) n=${r.n}`,
      tol: `${r.atol.toExponential(1)}+${r.rtol.toExponential(1)}|ref|`,
      pass: r.pass,
      first: r.first,
    });
  });

  // ---- 1b. lossless bf16/fp16 GEMV (issue 14; native/src/cuda/gemv_lossless.cu, layout common/lossless.h): the device
  // decoder bit-exact against the source words, the in-register GEMV against its twin (reference decode + double
  // linear), and ms per call beside the plain 16-bit GEMV of the same loop (kernel-level speed signal only).
  if (n.losslessGemvTest) {
    for (const [i, p] of LOSSLESS_CASES.entries()) {
      const seed = 500 + i;
      try {
        const r = n.losslessGemvTest({ ...p, seed });
        const speed = r.msLossless !== undefined ? ` | ${r.msLossless.toFixed(4)} ms vs plain ${r.msPlain!.toFixed(4)} ms (${(r.msLossless / r.msPlain!).toFixed(2)}×), in ${r.gbpsLosslessIn!.toFixed(0)} GB/s, out ${r.gbpsLosslessOut!.toFixed(0)} GB/s, plain ${r.gbpsPlain!.toFixed(0)} GB/s` : '';
        rows.push({
          check: 'kernel lossless-gemv',
          detail: Object.entries(p).map(([k, v]) => `${k}=${v}`).join(' '),
          value: `decode mismatches ${r.decodeMismatches}, max|Δ| ${r.maxAbs.toExponential(2)} (${r.maxErrOverTol.toFixed(2)}×tol), ratio ${r.ratio.toFixed(4)}${speed}`,
          tol: `decode bit-exact; ${r.toleranceRule}, atol ${r.atol} rtol ${r.rtol}`,
          pass: r.pass,
          first: r.first.map((m) => `row ${m.i}: got ${m.got} want ${m.want}`),
        });
      } catch (e) {
        rows.push({ check: 'kernel lossless-gemv', detail: JSON.stringify(p), value: String((e as Error).message), tol: '', pass: false });
      }
    }
  } else rows.push({ check: 'kernel lossless-gemv', detail: 'addon without losslessGemvTest', value: 'missing', tol: '', pass: false });

  if (args.includes('--kernels-only')) return report(rows, dev); // the twins alone: no model, a short device call

  // ---- 2. engine vs TS reference logits
  const refDir = arg('--ref', '.gpuengine/ref')!;
  const modelPath = arg('--model', 'default')!;
  const ref = JSON.parse(fs.readFileSync(path.join(refDir, 'ref.json'), 'utf8')) as RefFile & { greedyInt8: number[] };
  const load = (name: string) => {
    const b = fs.readFileSync(path.join(refDir, ref.sets[name]!));
    const all = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    return Array.from({ length: STEPS }, (_, s) => all.subarray(s * ref.vocab, (s + 1) * ref.vocab));
  };
  const refs: Record<string, Float32Array[]> = { original: load('original'), int8: load('int8') };
  const t0 = Date.now();
  const model = await LlamaModel.load(modelPath);
  console.log(`model loaded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const int8Logits: Float32Array[] = [];
  const variants: { spec: string; kv: 'f16' | 'f32'; against: 'original' | 'int8' | 'int8-engine' }[] = [
    { spec: 'fp16', kv: 'f16', against: 'original' },
    { spec: 'fp16', kv: 'f32', against: 'original' },
    { spec: 'int8', kv: 'f16', against: 'int8' },
    { spec: 'decode-per-forward', kv: 'f16', against: 'int8-engine' },
    { spec: 'cached', kv: 'f16', against: 'int8-engine' },
    { spec: 'fused', kv: 'f16', against: 'int8-engine' },
    { spec: 'gguf', kv: 'f16', against: 'original' },
  ];
  for (const v of variants) {
    const label = `${v.spec} kv=${v.kv}`;
    let eng: CudaEngine | null = null;
    try {
      eng = CudaEngine.fromModel(model, { modes: v.spec, kvDtype: v.kv, maxSeq: 256 });
      eng.reset();
      const logits: Float32Array[] = [];
      const tokens: number[] = [];
      let r = eng.forward(ref.prompt, { logits: true });
      logits.push(r.logits!);
      tokens.push(r.next);
      const greedy = v.against === 'original' ? ref.greedy : ref.greedyInt8;
      for (let s = 1; s < STEPS; s++) {
        r = eng.forward([greedy[s - 1]!], { logits: true });
        logits.push(r.logits!);
        tokens.push(r.next);
      }
      if (v.spec === 'int8') int8Logits.push(...logits);
      let maxAbs = 0;
      let worst = 0;
      let top1 = 0;
      let mean = 0;
      const perStep: string[] = [];
      for (let s = 0; s < STEPS; s++) {
        const want = v.against === 'int8-engine' ? int8Logits[s]! : refs[v.against]![s]!;
        const c = compareLogits(logits[s]!, want);
        maxAbs = Math.max(maxAbs, c.maxAbs);
        worst = Math.max(worst, c.worstRatio);
        mean += c.meanAbs / STEPS;
        if (c.argGot === c.argWant) top1++;
        perStep.push(c.maxAbs.toExponential(1));
      }
      const exact = v.against === 'int8-engine';
      rows.push({
        check: `logits ${label}`,
        detail: `vs ${v.against === 'int8-engine' ? 'int8 engine' : `TS reference (${v.against} weights)`}, ${STEPS} steps, max|Δ| per step ${perStep.join(' ')}`,
        value: `max|Δ| ${maxAbs.toExponential(2)} mean ${mean.toExponential(2)} top1 ${top1}/${STEPS}`,
        tol: exact ? 'Δ = 0' : '5e-2+1e-2|ref|, top1 all',
        pass: exact ? maxAbs === 0 && top1 === STEPS : worst <= 1 && top1 === STEPS,
      });
      // graph replay == eager decode, and the greedy tokens of the reference
      eng.reset();
      const g0 = eng.forward(ref.prompt).next;
      const gGraph = eng.generate(STEPS - 1, { graph: true });
      eng.reset();
      eng.forward(ref.prompt);
      const gEager = eng.generate(STEPS - 1, { graph: false });
      const graphTokens = [g0, ...gGraph.tokens];
      const eagerTokens = [g0, ...gEager.tokens];
      const same = graphTokens.join() === eagerTokens.join();
      const agree = graphTokens.filter((t, i) => t === greedy[i]).length;
      rows.push({
        check: `graph ${label}`,
        detail: `graph ${gGraph.graph ? 'captured' : `NOT captured (${gGraph.graphError ?? '?'})`}; tokens ${graphTokens.join(' ')}`,
        value: `eager ${same ? '==' : '!='} graph; ref agree ${agree}/${STEPS}`,
        tol: 'identical, captured',
        pass: same && gGraph.graph && (exact || agree === STEPS),
      });
      // ledger vs accounting
      const led = eng.ledger().categories;
      const acc = eng.expectedBytes();
      const keys: [string, number, number][] = [
        ['weights_fp16', led.weights_fp16 ?? 0, acc.weights_fp16],
        ['weights_int8', led.weights_int8 ?? 0, acc.weights_int8],
        ['weights_compressed', led.weights_compressed ?? 0, acc.weights_compressed],
        ['weights_gguf', led.weights_gguf ?? 0, acc.weights_gguf],
        ['weights_q4', led.weights_q4 ?? 0, acc.weights_q4],
        ['scales', led.scales ?? 0, acc.scales],
        ['embed', led.embed ?? 0, acc.embed],
        ['norms', led.norms ?? 0, acc.norms],
        ['kv_cache', led.kv_cache ?? 0, acc.kv_cache],
        ['decode', (led.decode_scratch ?? 0) + (led.decode_cache ?? 0), acc.decode],
      ];
      const bad = keys.filter(([, a, b]) => a !== b);
      rows.push({
        check: `ledger ${label}`,
        detail: keys.map(([k, a]) => `${k}=${a}`).join(' '),
        value: bad.length ? bad.map(([k, a, b]) => `${k} ${a}≠${b}`).join('; ') : 'all categories = accounting',
        tol: 'exact',
        pass: bad.length === 0,
      });
    } catch (e) {
      rows.push({ check: `logits ${label}`, detail: 'threw', value: `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`, tol: '', pass: false });
    } finally {
      eng?.dispose();
    }
  }

  // ---- 3. batched decode == single-sequence decode (bit-identical GEMV sums, per-slot KV), PDL on == off
  {
    const base = ref.prompt;
    const prompts = Array.from({ length: 8 }, (_, b) => base.slice(0, Math.max(3, base.length - 2 * b)).map((t, i) => (i === 1 ? (t + 17 * b) % ref.vocab : t)));
    const NB = 6;
    for (const spec of ['fp16', 'int8', 'cached', 'fused', 'gguf']) {
      let eng: CudaEngine | null = null;
      try {
        eng = CudaEngine.fromModel(model, { modes: spec, maxSeq: 128, maxBatch: 8 });
        const single: number[][] = [];
        for (const p of prompts) {
          eng.reset();
          const g0 = eng.forward(p).next;
          single.push([g0, ...eng.generate(NB, { graph: true }).tokens]);
        }
        const bg = eng.generateBatch(prompts, NB, { graph: true });
        const be = eng.generateBatch(prompts, NB, { graph: false });
        const same = (x: ArrayLike<number>, y: ArrayLike<number>) => Array.from(x).join() === Array.from(y).join();
        const okG = prompts.every((_, b) => same(bg.tokens[b]!, single[b]!));
        const okE = prompts.every((_, b) => same(be.tokens[b]!, single[b]!));
        const bad = prompts.map((_, b) => b).filter((b) => !same(bg.tokens[b]!, single[b]!));
        rows.push({
          check: `batch-8 ${spec}`,
          detail: `8 prompts (${prompts.map((p) => p.length).join('/')} tokens), ${NB} steps; graph ${bg.graph ? 'captured' : `NOT captured (${bg.graphError ?? '?'})`}; seq0 ${Array.from(bg.tokens[0]!).join(' ')}`,
          value: `graph ${okG ? '==' : '!='} single, eager ${okE ? '==' : '!='} single${bad.length ? ` (differ: ${bad.join(',')})` : ''}; ${bg.msPerStep.toFixed(3)} ms/step`,
          tol: 'tokens identical to 8 single-sequence runs',
          pass: okG && okE && bg.graph,
        });
      } catch (e) {
        rows.push({ check: `batch-8 ${spec}`, detail: 'threw', value: `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`, tol: '', pass: false });
      } finally {
        eng?.dispose();
      }
    }
    // the decode profile names every op of the step and times each one
    {
      let eng: CudaEngine | null = null;
      try {
        eng = CudaEngine.fromModel(model, { modes: 'fp16', maxSeq: 128, maxBatch: 8 });
        eng.reset();
        eng.forward(ref.prompt);
        const p1 = eng.profileDecode();
        eng.generateBatch(prompts, 2);
        const p8 = eng.profileDecode(8);
        const want = ['embedding', 'qkv gemv (+rmsnorm)', 'rope + attention', 'o gemv (+residual)', 'gate|up gemv (+rmsnorm)', 'down gemv (+swiglu, residual)', 'lm_head gemv', 'argmax', 'total'];
        const ok = (p: { op: string; ms: number }[]) =>
          want.every((w) => p.some((x) => x.op === w && x.ms > 0)) &&
          Math.abs(p.filter((x) => x.op !== 'total').reduce((a, x) => a + x.ms, 0) - p.find((x) => x.op === 'total')!.ms) < 1e-3;
        rows.push({
          check: 'decode profile fp16',
          detail: p1.map((x) => `${x.op} ${(x.ms * 1000).toFixed(0)}µs`).join(', '),
          value: `batch 1 total ${p1.at(-1)!.ms.toFixed(3)} ms, batch 8 total ${p8.at(-1)!.ms.toFixed(3)} ms`,
          tol: 'every op present, > 0, sums to total',
          pass: ok(p1) && ok(p8),
        });
      } catch (e) {
        rows.push({ check: 'decode profile fp16', detail: 'threw', value: `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`, tol: '', pass: false });
      } finally {
        eng?.dispose();
      }
    }
    // PDL changes scheduling only: logits with and without it are equal bit for bit
    for (const spec of ['fp16', 'int8']) {
      const run = (pdl: boolean) => {
        const eng = CudaEngine.fromModel(model, { modes: spec, maxSeq: 128, pdl });
        try {
          eng.reset();
          const out = [eng.forward(ref.prompt, { logits: true }).logits!];
          for (let s = 1; s < STEPS; s++) out.push(eng.forward([ref.greedy[s - 1]!], { logits: true }).logits!);
          const g = eng.generate(8, { graph: true });
          return { out, tokens: Array.from(g.tokens) };
        } finally {
          eng.dispose();
        }
      };
      try {
        const on = run(true);
        const off = run(false);
        let maxAbs = 0;
        on.out.forEach((l, s) => l.forEach((v, i) => (maxAbs = Math.max(maxAbs, Math.abs(v - off.out[s]![i]!)))));
        rows.push({
          check: `pdl ${spec}`,
          detail: `${STEPS} forward steps + 8 graph steps, PDL on vs off`,
          value: `max|Δ| ${maxAbs}; tokens ${on.tokens.join() === off.tokens.join() ? '==' : '!='}`,
          tol: 'Δ = 0',
          pass: maxAbs === 0 && on.tokens.join() === off.tokens.join(),
        });
      } catch (e) {
        rows.push({ check: `pdl ${spec}`, detail: 'threw', value: `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`, tol: '', pass: false });
      }
    }
  }

  // ---- 4. a corrupted compressed chunk is detected and named
  {
    let eng: CudaEngine | null = null;
    try {
      eng = CudaEngine.fromModel(model, { modes: 'fp16,layers.3-3=decode-per-forward', maxSeq: 64 });
      eng.reset();
      const led = n.deviceLedger();
      const victim = led.entries.find((e) => e.tag.endsWith(':weights:compressed'));
      if (!victim) throw new Error('no compressed buffer in the ledger');
      n.deviceUpload(victim.id, 0, new Uint8Array(64).fill(0xa5));
      let caught: Error & { code?: string } = new Error('no error');
      try {
        eng.forward(ref.prompt.slice(0, 4));
      } catch (e) {
        caught = e as Error & { code?: string };
      }
      rows.push({
        check: 'nvcomp corruption',
        detail: 'first 64 bytes of a layer-3 packed buffer overwritten',
        value: `${caught.code ?? 'none'}: ${caught.message.slice(0, 140)}`,
        tol: 'E_NVCOMP naming tensor+chunk',
        pass: caught.code === 'E_NVCOMP' && /model\.layers\.3\./.test(caught.message) && /chunk 0/.test(caught.message),
      });
    } catch (e) {
      rows.push({ check: 'nvcomp corruption', detail: 'threw', value: (e as Error).message, tol: '', pass: false });
    } finally {
      eng?.dispose();
    }
  }
  // ---- 2c. issue 12: every lab quant scheme patched, run on the CUDA engine, vs the tfjs reference of the same patched
  // model (computed here on the host CPU). int8 mode: schemes the int8 kernel computes exactly keep the patch's own
  // codes (roundings must be []) — int8 per-row on the int8 kernel, int4 / nf4 group as packed 4-bit codes + group
  // scales (cuda/gemv_blocks.cu, common/quant4.h) — every other scheme runs as fp16 of its exact dequantized weights (one stated
  // rounding per patched linear) — never re-quantized to int8. Tolerance as the logits check above (5e-2 + 1e-2·|ref|,
  // same top-1), on the prompt's last position and 3 greedy steps fed from the reference.
  for (const quant of ['int8:per-channel', 'int8:per-channel:scale=bf16', 'int8:per-tensor', 'int8:group=128:asym', 'int4:group=64', 'int4:group=32:asym', 'nf4:group=64', 'fp8']) {
    const label = `patched ${quant} on cuda int8`;
    try {
      unpatch(model);
      patch(model, { select: 'all', quant, attachQuantized: true });
      const t = tfjsEngine(model);
      const e = cudaEngine(model, { modes: 'int8', maxSeq: 256 });
      try {
        const exactKernel = /^int8:per-(channel|tensor)(:scale=\w+)?$/.test(quant) || /^(int4|nf4):group=/.test(quant);
        const roundings = e.info().roundings;
        const ct = t.newCache();
        const cg = e.newCache();
        let feed = ref.prompt;
        let worst = 0;
        let maxAbs = 0;
        let sameTop = true;
        for (let s = 0; s < 4; s++) {
          const want = t.forward(feed, ct, { lastOnly: true });
          const got = e.forward(feed, cg, { lastOnly: true });
          const c = compareLogits(got, want);
          worst = Math.max(worst, c.worstRatio);
          maxAbs = Math.max(maxAbs, c.maxAbs);
          if (c.argGot !== c.argWant) sameTop = false;
          feed = [c.argWant];
        }
        const roundingsOk = exactKernel ? roundings.length === 0 : roundings.length === model.linears().length && roundings.every((r) => r.includes('rounded to fp16'));
        rows.push({
          check: label,
          detail: `${roundings.length} stated roundings${roundings[0] ? ` (e.g. ${roundings[0]})` : ''}`,
          value: `max |Δ| ${maxAbs.toExponential(2)}, worst Δ/tol ${worst.toFixed(2)}, same top-1 ${sameTop}`,
          tol: `5e-2 + 1e-2·|ref|, top-1 equal; roundings ${exactKernel ? 'none (own codes)' : 'fp16 stated'}`,
          pass: worst <= 1 && sameTop && roundingsOk,
        });
      } finally {
        e.dispose();
        t.dispose();
      }
    } catch (x) {
      rows.push({ check: label, detail: 'threw', value: `${(x as { code?: string }).code ?? ''} ${(x as Error).message}`, tol: '', pass: false });
    }
  }
  unpatch(model);
  // a custom forward is refused before any device allocation
  {
    const l = model.linear('model.layers.2.mlp.up_proj');
    l.forward = (x) => x;
    let code = 'none';
    try {
      CudaEngine.fromModel(model, { modes: 'fp16' }).dispose();
    } catch (x) {
      code = (x as { code?: string }).code ?? 'none';
    }
    delete l.forward;
    rows.push({ check: 'custom forward refused', detail: 'model.layers.2.mlp.up_proj.forward set', value: code, tol: 'E_ENGINE', pass: code === 'E_ENGINE' });
  }
  model.dispose();
  report(rows, dev);
}

/** Write --out JSON, print the first mismatches of failed rows and the pass/fail table; exit status 1 on a failure. */
function report(rows: Row[], dev: { name: string }): void {
  const out = arg('--out');
  if (out) fs.writeFileSync(out, JSON.stringify({ device: dev, date: new Date().toISOString(), rows }, null, 1));
  for (const r of rows.filter((x) => !x.pass && x.first?.length)) console.log(`FAIL ${r.check} ${r.detail}:\n  ${r.first!.join('\n  ')}`);
  const w = Math.max(...rows.map((r) => r.check.length));
  console.log('\n' + 'check'.padEnd(w) + ' | result | value | tolerance | detail');
  for (const r of rows) console.log(`${r.check.padEnd(w)} | ${r.pass ? 'PASS  ' : 'FAIL  '} | ${r.value} | ${r.tol} | ${r.detail}`);
  const failed = rows.filter((r) => !r.pass).length;
  console.log(`\n${rows.length - failed}/${rows.length} checks passed on ${dev.name}`);
  process.exitCode = failed ? 1 : 0;
}

const mk = arg('--make-reference');
if (mk) await makeReference(mk, arg('--model', 'default')!);
else await runChecks();
