/**
 * GPU engine checks (issue 5, item 3): every CUDA kernel against its ops_ref.h twin, the engine's logits against the
 * TS reference on the default model in every storage mode, graph replay against eager decode, the VRAM ledger
 * against the byte accounting of src/engine/modes.ts, and a corrupted nvCOMP chunk surfacing as E_NVCOMP.
 * Prints a pass/fail table last; exits 1 when anything fails.
 *
 *   # on a CPU machine: reference logits of the TS model (original weights, int8-patched weights, and every lab
 *   # scheme of --part patched, each patched with the tfjs reference): the GPU host runs only the CUDA engine
 *   node --import tsx scripts/gpu/check-engine.ts --make-reference .gpuengine/ref
 *   #   (--only-missing: keep a stored ref.json and the stored patched schemes, make only the schemes it lacks)
 *   # on the GPU host (see scripts/gpu/engine-on-device.sh), one part per device call (each well under 4 min):
 *   node check-engine.mjs --part kernels  --out $OUT/check-kernels.json       (twin binary incl. lossless GEMV; no model)
 *   node check-engine.mjs --part zoo      --out …                             (5: architecture zoo; + Gemma with --gemma-ref)
 *   node check-engine.mjs --part logits   --ref <ref> --model <gguf> --out …   (2: every mode vs TS reference, graphs, ledger)
 *   node check-engine.mjs --part patched  --ref <ref> --model <gguf> --out …   (2c: lab schemes on cuda vs stored tfjs logits;
 *                                                                              --schemes a,b for a subset)
 *   node check-engine.mjs --part prefill  --ref <ref> --model <gguf> --out …   (2d: cuBLAS prefill == own GEMM, ledger)
 *   node check-engine.mjs --part batch    --ref <ref> --model <gguf> --out …   (3: batched == single, profile, PDL)
 *   node check-engine.mjs --part chunks   --ref <ref> --model <gguf> --out …   (4: corrupted nvCOMP chunk, custom forward)
 *   --part takes a comma list; without it every part runs (one long call). --kernels-only = --part kernels.
 *   The kernel twins run the executable codecllm_gpu_twins (native/test/gpu_twins.cc) beside the addon
 *   (CODECLLM_NATIVE's directory, or CODECLLM_TWINS_DIR).
 *   node check-engine.mjs --no-default --out $OUT/check-zoo.json         (kernel twins + the architecture zoo on CUDA)
 *   # Gemma 3 270M: reference here (--make-reference .gpuengine/ref-gemma --model <gemma gguf> --no-int8), then
 *   node check-engine.mjs --no-default --gemma-ref .gpuengine/ref-gemma --gemma-model <gemma gguf> --out …
 *
 * Tolerances (stated, per check):
 *   kernels        each test states atol + rtol·|ref| (fp32 accumulation order vs the double reference; see
 *                  native/test/gpu_twins.cc); conversions and argmax are exact.
 *   logits         |Δ| ≤ 5e-2 + 1e-2·|ref| element-wise over the last position's logits at each of 5 steps, and the
 *                  same top-1 token at every step. fp16 mode is compared with the fp32 reference on the original
 *                  weights (fp16 weights, fp16 embeddings, fp16 prefill activations, fp16 or fp32 KV cache);
 *                  int8 with the reference patched with the same int8 per-channel weights (dequantized).
 *                  Measured on the H100 (2026-11-25): max |Δ| 2.6e-2..3.8e-2, mean 5e-3..1.1e-2 over 49152 logits of
 *                  magnitude ~10-20 — the fp16 rounding of embeddings and prefill activations (the int8 engine, whose
 *                  weights equal the reference's exactly, shows the same 3.1e-2), so the bound is 5e-2, not 2e-2.
 *   compressed     decode-per-forward, cached and fused decode the very int8 codes of the int8 mode and run the same
 *                  kernels: their logits must equal the int8 engine's bit for bit (Δ = 0).
 *   prefill GEMM   (issue 12 item 5) the same engine built twice, CODECLLM_GEMM=own (our tensor-core GEMM) and
 *                  =cublas (CODECLLM_CUBLAS_MIN_T=2: every prefill linear through cuBLAS), prefills one window of
 *                  PREFILL_WINDOW tokens, a 5-token chunk and one decode step: last-position logits
 *                  |Δ| ≤ 2e-2 + 1e-2·|own| and the same top-1 at each, the cuBLAS ledger rows (workspace, scratch)
 *                  as gpu/prefill_gemm.h sizes them. Both multiply the same fp16 operands with fp32 accumulation;
 *                  only the order of the sums differs (and what an fp16 rounding of a later activation makes of that).
 *                  Kernel rows `gemm blas=1` check the whole cuBLAS linear against ref::linear_* with the tolerance of
 *                  our GEMM's rows; `dequant_f16` and `gemm_epilogue` are exact (bits / same float operations).
 *   zoo, gemma3    architecture features (GeGLU, sandwich norms, q/k norm, sliding window, local rope, soft-caps):
 *                  max |Δ| ≤ 2e-2·max|ref| over the compared rows and the same argmax (a reference near tie within
 *                  that bound is counted, not failed); fp16 storage vs the float32 reference (zoo: transformers'
 *                  logits; Gemma 3 270M: the tfjs reference on the same dequantized GGUF weights). Stated before the
 *                  first H200 run; the measured values go here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LlamaModel } from '../../src/model/llama.js';
import { quantizeFast } from '../../src/quant/native.js';
import { dequantize } from '../../src/quant/quantize.js';
import { CudaEngine } from '../../src/engine/cuda.js';
import { runTwins, type TwinRow } from '../../src/native/twins.js';
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
/** prefill window of the cuBLAS-vs-own check: the prompt repeated to this many tokens (one prefill chunk of 256) */
const PREFILL_WINDOW = 200;
const INT8_SPEC = 'int8:per-channel:scale=fp32';
/**
 * Lab schemes of --part patched (issue 12), each patched into the model and run on the CUDA engine in int8 mode.
 * Appended, never inserted: a stored reference's files patched<i>.f32 keep their index, and --make-reference
 * --only-missing computes just the schemes a stored patched.json lacks.
 */
const PATCHED_SCHEMES = ['int8:per-channel', 'int8:per-channel:scale=bf16', 'int8:per-tensor', 'int8:group=128:asym', 'int4:group=64', 'nf4:group=64', 'fp8', 'int4:group=32:asym'];
/** Positions compared per patched scheme: the prompt's last, then PATCHED_STEPS - 1 greedy steps fed from the reference. */
const PATCHED_STEPS = 4;
const PARTS = ['kernels', 'zoo', 'logits', 'patched', 'prefill', 'batch', 'chunks'] as const;
type Part = (typeof PARTS)[number];

/** Stored tfjs reference of one patched scheme: logits (PATCHED_STEPS, vocab) in `file`, and what each step fed. */
interface PatchedRef {
  file: string;
  /** feeds[0] = the prompt, feeds[s] = [reference top-1 of step s-1] */
  feeds: number[][];
}

interface RefFile {
  prompt: number[];
  /** greedy tokens of the reference: g0 after the prompt, then after feeding g0..g(STEPS-2) */
  greedy: number[];
  vocab: number;
  sets: Record<string, string>;
  /** models with a sliding window (Gemma 3: 512): a prompt longer than the window, its greedy tokens (set 'long') */
  long?: { prompt: number[]; greedy: number[]; window: number };
}

/** A prompt of at least `minTokens` tokens (numbered sentences, so no two windows of it are alike). */
function longPrompt(m: LlamaModel, minTokens: number): number[] {
  const parts: string[] = [];
  for (let i = 1; ; i++) {
    parts.push(`Sentence ${i}: the ${['red', 'green', 'blue', 'silver'][i % 4]} fox number ${i * 7} crossed river ${i % 13} before noon.`);
    if (i % 16 === 0) {
      const ids = m.tokenizer!.encode(parts.join(' '));
      if (ids.length >= minTokens) return ids;
    }
  }
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
  // --only-missing: keep a stored reference (ref.json and its sets) and the stored patched schemes; compute the rest
  const onlyMissing = args.includes('--only-missing') && fs.existsSync(path.join(dir, 'ref.json'));
  if (onlyMissing) {
    const stored = JSON.parse(fs.readFileSync(path.join(dir, 'ref.json'), 'utf8')) as RefFile;
    console.log(`reference: kept ${dir}/ref.json (--only-missing)`);
    await makePatchedReference(dir, modelPath, stored.prompt, stored.vocab);
    return;
  }
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
  const ref: RefFile = { prompt, greedy: a.greedy, vocab: m.config.vocabSize, sets };
  fs.writeFileSync(path.join(dir, 'ref.json'), JSON.stringify(ref)); // usable already; rewritten with every set below
  // a sliding window short enough to matter (Gemma 3 270M: 512): a prompt 64 tokens past it, so the local layers mask
  const window = m.config.features?.slidingLayers?.some((x) => x) ? m.config.features.slidingWindow : null;
  if (window !== null && window <= 1024 && !args.includes('--no-long')) {
    const lp = longPrompt(m, window + 64);
    const l = referenceLogits(m, lp);
    write('long', l.logits);
    ref.long = { prompt: lp, greedy: l.greedy, window };
    console.log(`reference 'long': ${lp.length} prompt tokens (window ${window}), greedy ${l.greedy.join(' ')}`);
  }
  if (!args.includes('--no-int8')) {
    patchInt8(m);
    const b = referenceLogits(m, prompt);
    write('int8', b.logits);
    (ref as unknown as Record<string, unknown>).greedyInt8 = b.greedy;
  }
  fs.writeFileSync(path.join(dir, 'ref.json'), JSON.stringify(ref));
  console.log(`reference: ${prompt.length} prompt tokens, greedy ${a.greedy.join(' ')} -> ${dir}`);
  m.dispose();
  // --part patched: the tfjs reference of every lab scheme, patched exactly as the GPU host patches it (--no-patched:
  // skipped, e.g. Gemma's reference, whose checks do not patch)
  if (args.includes('--no-patched')) return;
  await makePatchedReference(dir, modelPath, prompt, ref.vocab);
}

/** patched.json + patched<i>.f32: the tfjs logits of every PATCHED_SCHEMES scheme (with --only-missing, only those a
 *  stored patched.json in `dir` lacks; the stored ones are kept as they are). */
async function makePatchedReference(dir: string, modelPath: string, prompt: number[], vocab: number): Promise<void> {
  const t0 = Date.now();
  const pj = path.join(dir, 'patched.json');
  const patched: Record<string, PatchedRef> = {};
  if (args.includes('--only-missing') && fs.existsSync(pj)) {
    const stored = JSON.parse(fs.readFileSync(pj, 'utf8')) as { steps: number; vocab: number; schemes: Record<string, PatchedRef> };
    if (stored.steps === PATCHED_STEPS && stored.vocab === vocab)
      for (const [q, r] of Object.entries(stored.schemes)) if (PATCHED_SCHEMES.includes(q) && fs.existsSync(path.join(dir, r.file))) patched[q] = r;
  }
  const todo = PATCHED_SCHEMES.filter((q) => !patched[q]);
  if (todo.length === 0) {
    console.log(`patched references: all ${PATCHED_SCHEMES.length} schemes stored in ${pj}`);
    return;
  }
  const pm = await LlamaModel.load(modelPath);
  for (const [i, quant] of PATCHED_SCHEMES.entries()) {
    if (patched[quant]) continue;
    unpatch(pm);
    patch(pm, { select: 'all', quant, attachQuantized: true });
    const t = tfjsEngine(pm);
    try {
      const c = t.newCache();
      const logits: Float32Array[] = [];
      const feeds: number[][] = [];
      let feed = prompt;
      for (let s = 0; s < PATCHED_STEPS; s++) {
        const want = t.forward(feed, c, { lastOnly: true });
        feeds.push(feed);
        logits.push(want.slice());
        let best = 0;
        for (let k = 1; k < want.length; k++) if (want[k]! > want[best]!) best = k;
        feed = [best];
      }
      const file = `patched${i}.f32`;
      const buf = new Float32Array(PATCHED_STEPS * logits[0]!.length);
      logits.forEach((l, s) => buf.set(l, s * l.length));
      fs.writeFileSync(path.join(dir, file), new Uint8Array(buf.buffer));
      patched[quant] = { file, feeds };
    } finally {
      t.dispose();
    }
  }
  unpatch(pm);
  pm.dispose();
  fs.writeFileSync(pj, JSON.stringify({ steps: PATCHED_STEPS, vocab, schemes: patched }));
  console.log(`patched references: ${todo.length} of ${PATCHED_SCHEMES.length} schemes made (${todo.join(', ')}) x ${PATCHED_STEPS} positions in ${((Date.now() - t0) / 1000).toFixed(1)} s -> ${pj}`);
}

interface Row {
  check: string;
  detail: string;
  value: string;
  tol: string;
  pass: boolean;
  first?: string[];
}

/** A `lossless_gemv` row of codecllm_gpu_twins (native/test/gpu_twins.cc, issue 14) as its check row: the device decoder
 *  bit-exact against the source words, the in-register GEMV against its twin (reference decode + double linear), the
 *  stream's size ratio, and with iterations ms per call beside the plain 16-bit GEMV of the same loop (kernel-level
 *  speed signal only). */
function losslessRow(r: TwinRow): Row {
  const p = Object.fromEntries(r.shape.split(',').map((x) => [x.slice(0, x.indexOf('=')), Number(x.slice(x.indexOf('=') + 1))]));
  const detail = `rows=${p.rows} cols=${p.cols} dtype=${p.f16 ? 'f16' : 'bf16'} rowsPerSeg=${p.rowsPerSeg}${p.iterations ? ` iterations=${p.iterations}` : ''}`;
  const e = r.extra;
  const tol = `decode bit-exact; |Δ| ≤ atol·Σ|w·x| + rtol·|ref| per row, atol ${r.atol} rtol ${r.rtol}`;
  if (e.decodeMismatches === undefined) return { check: 'kernel lossless-gemv', detail, value: r.first[0] ?? 'no result', tol, pass: false, first: r.first };
  const speed = e.msLossless !== undefined
    ? ` | ${e.msLossless.toFixed(4)} ms vs plain ${e.msPlain!.toFixed(4)} ms (${(e.msLossless / e.msPlain!).toFixed(2)}×), in ${e.gbpsLosslessIn!.toFixed(0)} GB/s, out ${e.gbpsLosslessOut!.toFixed(0)} GB/s, plain ${e.gbpsPlain!.toFixed(0)} GB/s`
    : '';
  return {
    check: 'kernel lossless-gemv',
    detail,
    value: `decode mismatches ${e.decodeMismatches}, max|Δ| ${r.maxAbs.toExponential(2)} (${r.ratio.toFixed(2)}×tol), ratio ${e.compress!.toFixed(4)}${speed}`,
    tol,
    pass: r.pass,
    first: r.first,
  };
}

function compareLogits(got: Float32Array, want: Float32Array, atol = 5e-2, rtol = 1e-2): { maxAbs: number; meanAbs: number; worstRatio: number; argGot: number; argWant: number } {
  let maxAbs = 0;
  let sum = 0;
  let worst = 0;
  let ag = 0;
  let aw = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    maxAbs = Math.max(maxAbs, Number.isNaN(d) ? Infinity : d);
    sum += d;
    worst = Math.max(worst, d / (atol + rtol * Math.abs(want[i]!)));
    if (got[i]! > got[ag]!) ag = i;
    if (want[i]! > want[aw]!) aw = i;
  }
  return { maxAbs, meanAbs: sum / want.length, worstRatio: Number.isNaN(worst) ? Infinity : worst, argGot: ag, argWant: aw };
}

/** The parts to run: --part a,b (PARTS), --kernels-only = kernels; default every part. */
function selectedParts(): Set<Part> {
  if (args.includes('--kernels-only')) return new Set(['kernels']);
  const spec = arg('--part');
  if (!spec) return new Set(PARTS);
  const want = spec.split(',').map((x) => x.trim());
  const bad = want.filter((x) => !(PARTS as readonly string[]).includes(x));
  if (bad.length) throw new Error(`codecllm: check-engine.ts: unknown --part ${bad.join(',')} (expected ${PARTS.join('|')}) [E_ARG]`);
  return new Set(want as Part[]);
}

async function runChecks(): Promise<void> {
  const rows: Row[] = [];
  const n = requireCuda('GPU engine checks');
  const dev = n.deviceInfo();
  const parts = selectedParts();
  console.log(`parts: ${[...parts].join(', ')}`);
  // ---- 1. kernels vs twins: the twin test binary codecllm_gpu_twins (native/test/gpu_twins.cc), one row per case
  if (parts.has('kernels')) {
    try {
      const t = runTwins('gpu');
      for (const r of t.rows)
        rows.push(
          r.op === 'lossless_gemv'
            ? losslessRow(r)
            : {
                check: `kernel ${r.op}`,
                detail: r.shape.replace(/,/g, ' '),
                value: `max|Δ| ${r.maxAbs.toExponential(2)} (${r.ratio.toFixed(2)}×tol) n=${r.n}`,
                tol: `${r.atol.toExponential(1)}+${r.rtol.toExponential(1)}|ref|`,
                pass: r.pass,
                first: r.first,
              },
        );
      if (!t.rows.some((r) => r.op === 'lossless_gemv'))
        rows.push({ check: 'kernel lossless-gemv', detail: 'codecllm_gpu_twins', value: 'no lossless_gemv case in the twin binary', tol: '', pass: false });
      if (t.status !== 0 && t.rows.every((r) => r.pass))
        rows.push({ check: 'kernel twins', detail: 'codecllm_gpu_twins', value: `exit ${t.status}: ${t.stderr.trim().slice(0, 200)}`, tol: 'exit 0', pass: false });
      console.log(t.summary || `codecllm_gpu_twins: exit ${t.status}`);
    } catch (e) {
      rows.push({ check: 'kernel twins', detail: 'codecllm_gpu_twins', value: String((e as Error).message), tol: 'exit 0', pass: false });
    }
  }

  if (!['zoo', 'logits', 'patched', 'prefill', 'batch', 'chunks'].some((x) => parts.has(x as Part))) return report(rows, dev); // the twins alone: no model

  // ---- 5. architecture zoo (tiny random checkpoints in the tree) and Gemma 3 270M on the CUDA engine
  if (parts.has('zoo') && !args.includes('--no-zoo')) await zooChecks(rows);
  const gemmaRef = arg('--gemma-ref');
  if (parts.has('zoo') && (gemmaRef || args.includes('--gemma-model'))) await gemmaChecks(rows, gemmaRef, arg('--gemma-model', 'data/models/gemma-3-270m-q4_k_m.gguf')!);
  if (args.includes('--no-default') || !['logits', 'patched', 'prefill', 'batch', 'chunks'].some((x) => parts.has(x as Part))) return report(rows, dev); // the default model's sections skipped

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
  for (const v of parts.has('logits') ? variants : []) {
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
  if (parts.has('batch')) {
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
  if (parts.has('chunks')) {
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
  // model (stored by --make-reference on a CPU machine: patched.json + patched<i>.f32; the GPU host runs only the CUDA
  // engine). int8 mode: schemes the int8 kernel computes exactly keep the patch's own codes (roundings must be []) —
  // int8 per-row on the int8 kernel, int4 / nf4 group as packed 4-bit codes + group scales (cuda/gemv_blocks.cu,
  // common/quant4.h) — every other scheme runs as fp16 of its exact dequantized weights (one stated rounding per patched linear) — never
  // re-quantized to int8. Tolerance as the logits check above (5e-2 + 1e-2·|ref|, same top-1), on the prompt's last
  // position and PATCHED_STEPS - 1 greedy steps fed from the reference.
  if (parts.has('patched')) {
    const pj = path.join(refDir, 'patched.json');
    const stored = fs.existsSync(pj) ? (JSON.parse(fs.readFileSync(pj, 'utf8')) as { steps: number; vocab: number; schemes: Record<string, PatchedRef> }) : null;
    // --schemes a,b: a subset (split the part over two device calls if it ever nears the limit)
    const only = arg('--schemes')?.split(',');
    for (const quant of PATCHED_SCHEMES.filter((q) => !only || only.includes(q))) {
      const label = `patched ${quant} on cuda int8`;
      const pr = stored?.schemes[quant];
      if (!stored || !pr) {
        rows.push({ check: label, detail: `no stored reference in ${pj}`, value: 'missing (run --make-reference again)', tol: '', pass: false });
        continue;
      }
      try {
        const b = fs.readFileSync(path.join(refDir, pr.file));
        const all = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
        unpatch(model);
        patch(model, { select: 'all', quant, attachQuantized: true });
        const e = cudaEngine(model, { modes: 'int8', maxSeq: 256 });
        try {
          const exactKernel = /^int8:per-(channel|tensor)(:scale=\w+)?$/.test(quant) || /^(int4|nf4):group=/.test(quant);
          const roundings = e.info().roundings;
          const cg = e.newCache();
          let worst = 0;
          let maxAbs = 0;
          let sameTop = true;
          for (let s = 0; s < stored.steps; s++) {
            const want = all.subarray(s * stored.vocab, (s + 1) * stored.vocab);
            const got = e.forward(pr.feeds[s]!, cg, { lastOnly: true });
            const c = compareLogits(got, want);
            worst = Math.max(worst, c.worstRatio);
            maxAbs = Math.max(maxAbs, c.maxAbs);
            if (c.argGot !== c.argWant) sameTop = false;
          }
          const roundingsOk = exactKernel ? roundings.length === 0 : roundings.length === model.linears().length && roundings.every((r) => r.includes('rounded to fp16'));
          rows.push({
            check: label,
            detail: `vs stored tfjs reference (${stored.steps} positions); ${roundings.length} stated roundings${roundings[0] ? ` (e.g. ${roundings[0]})` : ''}`,
            value: `max |Δ| ${maxAbs.toExponential(2)}, worst Δ/tol ${worst.toFixed(2)}, same top-1 ${sameTop}`,
            tol: `5e-2 + 1e-2·|ref|, top-1 equal; roundings ${exactKernel ? 'none (own codes)' : 'fp16 stated'}`,
            pass: worst <= 1 && sameTop && roundingsOk,
          });
        } finally {
          e.dispose();
        }
      } catch (x) {
        rows.push({ check: label, detail: 'threw', value: `${(x as { code?: string }).code ?? ''} ${(x as Error).message}`, tol: '', pass: false });
      }
    }
    unpatch(model);
  }
  // ---- 2d. issue 12 item 5: prefill through cuBLAS equals our GEMM (CODECLLM_GEMM is read at finalize, per engine)
  if (parts.has('prefill')) {
    const window = Array.from({ length: PREFILL_WINDOW }, (_, i) => ref.prompt[i % ref.prompt.length]!);
    const saved = { gemm: process.env.CODECLLM_GEMM, minT: process.env.CODECLLM_CUBLAS_MIN_T };
    const c = model.config;
    const lins = model.linears();
    for (const spec of ['fp16', 'int8', 'gguf', 'cached']) {
      const label = `prefill cublas vs own ${spec}`;
      try {
        const run = (gemm: 'own' | 'cublas') => {
          process.env.CODECLLM_GEMM = gemm;
          process.env.CODECLLM_CUBLAS_MIN_T = '2';
          const eng = CudaEngine.fromModel(model, { modes: spec, maxSeq: 512, maxPrefill: 256 });
          try {
            eng.reset();
            const t0 = Date.now();
            const out = [eng.forward(window, { logits: true })];
            out.push(eng.forward(window.slice(1, 6), { logits: true }));
            out.push(eng.forward([window[0]!], { logits: true }));
            const led = eng.ledger().categories;
            return { out, ms: out[0]!.ms, wall: Date.now() - t0, scratch: led.gemm_scratch ?? 0, ws: led.cublas_workspace ?? 0, modes: eng.plan.modes };
          } finally {
            eng.dispose();
          }
        };
        const own = run('own');
        const cub = run('cublas');
        // scratch as prefill_gemm.cc sizes it: fp16 (largest non-fp16 linear) + fp32 (maxPrefill x largest scaled or biased linear)
        let wElems = 0;
        let yRows = 0;
        lins.slice(0, c.numLayers * 7).forEach((l, i) => {
          const m = cub.modes[i]!;
          if (m !== 'fp16') wElems = Math.max(wElems, l.outFeatures * l.inFeatures);
          if ((m !== 'fp16' && m !== 'gguf') || l.bias) yRows = Math.max(yRows, l.outFeatures);
        });
        const wantScratch = 2 * wElems + 4 * yRows * 256;
        let worst = 0;
        let maxAbs = 0;
        let top = 0;
        const per: string[] = [];
        cub.out.forEach((r, k) => {
          const cmp = compareLogits(r.logits!, own.out[k]!.logits!, 2e-2, 1e-2);
          worst = Math.max(worst, cmp.worstRatio);
          maxAbs = Math.max(maxAbs, cmp.maxAbs);
          if (cmp.argGot === cmp.argWant) top++;
          per.push(cmp.maxAbs.toExponential(1));
        });
        const ledgerOk = own.ws === 0 && own.scratch === 0 && cub.ws === 32 * 2 ** 20 && cub.scratch === wantScratch;
        rows.push({
          check: label,
          detail: `window ${PREFILL_WINDOW} + chunk 5 + 1 decode step, max|Δ| each ${per.join(' ')}; prefill ${own.ms.toFixed(2)} ms own vs ${cub.ms.toFixed(2)} ms cuBLAS; ledger cublas_workspace ${cub.ws}, gemm_scratch ${cub.scratch} (want ${wantScratch}; own engine ${own.ws}/${own.scratch})`,
          value: `max|Δ| ${maxAbs.toExponential(2)}, worst Δ/tol ${worst.toFixed(2)}, top1 ${top}/3`,
          tol: '2e-2+1e-2|own|, top1 all; ledger exact',
          pass: worst <= 1 && top === 3 && ledgerOk,
        });
      } catch (e) {
        rows.push({ check: label, detail: 'threw', value: `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`, tol: '', pass: false });
      }
    }
    // a bad switch value is a one-line E_ARG at finalize, nothing left allocated
    try {
      process.env.CODECLLM_GEMM = 'fast';
      const before = n.deviceLedger().entries.length;
      let code = 'none';
      try {
        CudaEngine.fromModel(model, { modes: 'fp16', maxSeq: 64 }).dispose();
      } catch (x) {
        code = (x as { code?: string }).code ?? 'none';
      }
      const after = n.deviceLedger().entries.length;
      rows.push({ check: 'CODECLLM_GEMM=fast refused', detail: `ledger entries ${before} -> ${after}`, value: code, tol: 'E_ARG, no buffers left', pass: code === 'E_ARG' && after === before });
    } catch (x) {
      rows.push({ check: 'CODECLLM_GEMM=fast refused', detail: 'threw', value: (x as Error).message, tol: '', pass: false });
    }
    for (const [k, v] of [['CODECLLM_GEMM', saved.gemm], ['CODECLLM_CUBLAS_MIN_T', saved.minT]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  unpatch(model);
  // a custom forward is refused before any device allocation
  if (parts.has('chunks')) {
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

/** max |x| */
function maxAbsOf(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!));
  return m;
}

/** Index of the largest and the gap to the second largest. */
function top2(x: ArrayLike<number>): { arg: number; gap: number } {
  let a = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[a]!) a = i;
  let b = -Infinity;
  for (let i = 0; i < x.length; i++) if (i !== a) b = Math.max(b, x[i]!);
  return { arg: a, gap: x[a]! - b };
}

/** Relative logit tolerance of the architecture checks (zoo, Gemma 3): fp16 weights, embeddings, prefill activations
 *  and KV cache against a float32 reference. Stated before measurement; the H200 values go beside it. */
const ARCH_RTOL = 2e-2;

/**
 * Compare logits rows with a tolerance relative to the reference's scale: max |Δ| ≤ ARCH_RTOL·max|ref| over all rows,
 * and the same argmax in every row unless the reference's own top-2 gap there is within that tolerance (a near tie;
 * counted and reported, never silently passed).
 */
function compareRows(got: Float32Array[], want: Float32Array[]): { maxAbs: number; tolAbs: number; top1: number; ties: number; pass: boolean; perRow: string[] } {
  let refMax = 0;
  for (const w of want) refMax = Math.max(refMax, maxAbsOf(w));
  const tolAbs = ARCH_RTOL * refMax;
  let maxAbs = 0;
  let top1 = 0;
  let ties = 0;
  let ok = true;
  const perRow: string[] = [];
  want.forEach((w, r) => {
    const g = got[r]!;
    let m = 0;
    for (let i = 0; i < w.length; i++) {
      const d = Math.abs(g[i]! - w[i]!);
      m = Math.max(m, Number.isNaN(d) ? Infinity : d);
    }
    maxAbs = Math.max(maxAbs, m);
    const tw = top2(w);
    const same = top2(g).arg === tw.arg;
    if (same) top1++;
    else if (tw.gap <= tolAbs) ties++;
    else ok = false;
    perRow.push(m.toExponential(1));
  });
  return { maxAbs, tolAbs, top1, ties, pass: ok && maxAbs <= tolAbs, perRow };
}

/**
 * Architecture zoo on the CUDA engine (fp16 storage, KV f16 and f32): every tiny random checkpoint of
 * data/reference/zoo (scripts/reference/zoo.py; Llama rope3, Qwen2, Qwen3, Mistral, Gemma 2, Gemma 3) against
 * transformers' float32 logits at every position — prefill of the whole prompt (last row), prefill of 2 tokens then
 * one decode step per token (every other row), a chunked prefill (maxPrefill 5: chunks cross the sliding window), and
 * the graph-replayed greedy continuation against transformers' greedy ids. Refused architectures (Phi-3) must be
 * refused at load with E_ARCH. Tolerance: compareRows (ARCH_RTOL·max|ref|, same argmax).
 */
async function zooChecks(rows: Row[]): Promise<void> {
  const zoo = arg('--zoo-dir', 'data/reference/zoo')!;
  if (!fs.existsSync(zoo)) {
    rows.push({ check: 'zoo', detail: zoo, value: 'missing', tol: '', pass: false });
    return;
  }
  for (const name of fs.readdirSync(zoo).sort()) {
    const dir = path.join(zoo, name);
    if (!fs.existsSync(path.join(dir, 'reference.json'))) continue;
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as { ids: number[]; greedy_ids: number[]; logits_shape: [number, number]; logits_file: string };
    let model: LlamaModel;
    try {
      model = await LlamaModel.load(dir);
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      rows.push({ check: `zoo ${name}`, detail: 'load', value: `${code} ${(e as Error).message}`, tol: 'loads, or E_ARCH', pass: code === 'E_ARCH' });
      continue;
    }
    const [T, V] = meta.logits_shape;
    const b = fs.readFileSync(path.join(dir, meta.logits_file));
    const all = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    const ref = Array.from({ length: T }, (_, t) => all.subarray(t * V, (t + 1) * V));
    const maxSeq = Math.min(64, model.config.maxPositionEmbeddings);
    for (const kv of ['f16', 'f32'] as const) {
      const label = `zoo ${name} fp16 kv=${kv}`;
      let eng: CudaEngine | null = null;
      try {
        eng = CudaEngine.fromModel(model, { modes: 'fp16', kvDtype: kv, maxSeq });
        eng.reset();
        const got: Float32Array[] = new Array(T);
        const whole = eng.forward(meta.ids, { logits: true }).logits!;
        eng.reset();
        got[1] = eng.forward(meta.ids.slice(0, 2), { logits: true }).logits!;
        for (let t = 2; t < T; t++) got[t] = eng.forward([meta.ids[t]!], { logits: true }).logits!;
        const c = compareRows([whole, ...got.slice(1)], [ref[T - 1]!, ...ref.slice(1)]);
        // greedy continuation, graph-replayed, against transformers' greedy ids
        eng.reset();
        const g0 = eng.forward(meta.ids).next;
        const g = eng.generate(meta.greedy_ids.length - 1, { graph: true });
        const tokens = [g0, ...g.tokens];
        const sameGreedy = tokens.join() === meta.greedy_ids.join();
        // ledger vs the byte accounting (norm slots by feature)
        const led = eng.ledger().categories;
        const acc = eng.expectedBytes();
        const ledgerOk = (led.norms ?? 0) === acc.norms && (led.embed ?? 0) === acc.embed && (led.weights_fp16 ?? 0) === acc.weights_fp16 && (led.kv_cache ?? 0) === acc.kv_cache;
        rows.push({
          check: label,
          detail: `T=${T}: prefill-all last row + decode rows 1..${T - 1}, max|Δ| per row ${c.perRow.join(' ')}; greedy ${tokens.join(' ')} (transformers ${meta.greedy_ids.join(' ')}, graph ${g.graph ? 'captured' : `NOT captured: ${g.graphError ?? '?'}`}); ledger norms ${led.norms ?? 0} vs ${acc.norms}`,
          value: `max|Δ| ${c.maxAbs.toExponential(2)} (tol ${c.tolAbs.toExponential(2)}), top1 ${c.top1}/${T}${c.ties ? ` (${c.ties} near ties)` : ''}, greedy ${sameGreedy ? '==' : '!='}, ledger ${ledgerOk ? 'ok' : 'MISMATCH'}`,
          tol: `${ARCH_RTOL}·max|ref|, same argmax, greedy ids equal, ledger exact`,
          pass: c.pass && sameGreedy && g.graph && ledgerOk,
        });
        if (kv === 'f16') {
          // chunked prefill: chunks of 5 (the window of the local layers is 6): the last row again
          eng.dispose();
          eng = CudaEngine.fromModel(model, { modes: 'fp16', kvDtype: kv, maxSeq, maxPrefill: 5 });
          eng.reset();
          const chunked = eng.forward(meta.ids, { logits: true }).logits!;
          const cc = compareRows([chunked], [ref[T - 1]!]);
          rows.push({
            check: `zoo ${name} chunked prefill`,
            detail: `maxPrefill 5, ${T} tokens, last row`,
            value: `max|Δ| ${cc.maxAbs.toExponential(2)} (tol ${cc.tolAbs.toExponential(2)}), top1 ${cc.top1}/1`,
            tol: `${ARCH_RTOL}·max|ref|, same argmax`,
            pass: cc.pass,
          });
        }
      } catch (e) {
        rows.push({ check: label, detail: 'threw', value: `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`, tol: '', pass: false });
      } finally {
        eng?.dispose();
      }
    }
    model.dispose();
  }
}

/**
 * Gemma 3 270M (Q4_K_M GGUF: Q8_0 / Q5_0 / Q4_K / Q6_K blocks dequantized, then fp16 on the device; its weights are
 * 4/5/6-bit-derived) on the CUDA engine against the tfjs reference's float32 logits made on the CPU host
 * (--make-reference … --model <gemma gguf> --no-int8): the short prompt and, when the sliding window is short, a
 * prompt 64 tokens past it (set 'long'), STEPS teacher-forced steps each, graph-replayed greedy tokens, and the ledger.
 */
async function gemmaChecks(rows: Row[], refDir: string | undefined, modelPath: string): Promise<void> {
  let model: LlamaModel | null = null;
  try {
    const ref = refDir ? (JSON.parse(fs.readFileSync(path.join(refDir, 'ref.json'), 'utf8')) as RefFile) : null;
    const t0 = Date.now();
    model = await LlamaModel.load(modelPath);
    console.log(`gemma model loaded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // fp16 storage vs the original weights; int8 storage (per-channel codes, the engine's own quantizer) vs the reference
    // patched with the same int8 per-channel weights (set 'int8', made unless --no-int8)
    // gguf storage: the file's own q5_0 / q4_k / q6_k / q8_0 blocks resident (gemv_blocks.cu), vs the original weights
    const sets: { name: string; prompt: number[]; greedy: number[]; spec: 'fp16' | 'int8' | 'gguf' }[] = ref
      ? [{ name: 'original', prompt: ref.prompt, greedy: ref.greedy, spec: 'fp16' }, { name: 'original', prompt: ref.prompt, greedy: ref.greedy, spec: 'gguf' }]
      : [];
    if (ref?.long) sets.push({ name: 'long', prompt: ref.long.prompt, greedy: ref.long.greedy, spec: 'fp16' });
    const greedyInt8 = (ref as unknown as { greedyInt8?: number[] } | null)?.greedyInt8;
    if (ref?.sets.int8 && greedyInt8) sets.push({ name: 'int8', prompt: ref.prompt, greedy: greedyInt8, spec: 'int8' });
    for (const set of sets) {
      const b = fs.readFileSync(path.join(refDir!, ref!.sets[set.name]!));
      const all = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
      const want = Array.from({ length: STEPS }, (_, s) => all.subarray(s * ref!.vocab, (s + 1) * ref!.vocab));
      for (const kv of set.spec === 'fp16' ? (['f16', 'f32'] as const) : (['f16'] as const)) {
        const label = `gemma3 ${set.name} ${set.spec} kv=${kv}`;
        let eng: CudaEngine | null = null;
        try {
          eng = CudaEngine.fromModel(model, { modes: set.spec, kvDtype: kv, maxSeq: set.prompt.length + STEPS + 8 > 256 ? 1024 : 256 });
          eng.reset();
          const got: Float32Array[] = [eng.forward(set.prompt, { logits: true }).logits!];
          for (let s = 1; s < STEPS; s++) got.push(eng.forward([set.greedy[s - 1]!], { logits: true }).logits!);
          const c = compareRows(got, want);
          eng.reset();
          const g0 = eng.forward(set.prompt).next;
          const g = eng.generate(STEPS - 1, { graph: true });
          const tokens = [g0, ...g.tokens];
          const agree = tokens.filter((t, i) => t === set.greedy[i]).length;
          const led = eng.ledger().categories;
          const acc = eng.expectedBytes();
          const keys: [string, number, number][] = [
            ['weights_fp16', led.weights_fp16 ?? 0, acc.weights_fp16],
            ['embed', led.embed ?? 0, acc.embed],
            ['norms', led.norms ?? 0, acc.norms],
            ['kv_cache', led.kv_cache ?? 0, acc.kv_cache],
          ];
          const bad = keys.filter(([, x, y]) => x !== y);
          rows.push({
            check: label,
            detail: `${set.prompt.length} prompt tokens${set.name === 'long' ? ` (window ${ref!.long!.window})` : ''}, ${STEPS} steps, max|Δ| per step ${c.perRow.join(' ')}; greedy ${tokens.join(' ')} (ref ${set.greedy.join(' ')}, graph ${g.graph ? 'captured' : `NOT captured: ${g.graphError ?? '?'}`}); ${keys.map(([k, x]) => `${k}=${x}`).join(' ')}`,
            value: `max|Δ| ${c.maxAbs.toExponential(2)} (tol ${c.tolAbs.toExponential(2)}), top1 ${c.top1}/${STEPS}${c.ties ? ` (${c.ties} near ties)` : ''}, greedy agree ${agree}/${STEPS}, ledger ${bad.length ? bad.map(([k, x, y]) => `${k} ${x}≠${y}`).join('; ') : 'ok'}`,
            tol: `${ARCH_RTOL}·max|ref|, same argmax, greedy all, ledger exact`,
            pass: c.pass && agree === STEPS && g.graph && bad.length === 0,
          });
        } catch (e) {
          rows.push({ check: label, detail: 'threw', value: `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`, tol: '', pass: false });
        } finally {
          eng?.dispose();
        }
      }
    }
    gemmaVsTransformers(rows, model);
  } catch (e) {
    rows.push({ check: 'gemma3', detail: 'threw', value: `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`, tol: '', pass: false });
  } finally {
    model?.dispose();
  }
}

/**
 * Gemma 3 270M on the CUDA engine against PyTorch transformers (float32, weights dequantized from the same GGUF):
 * data/reference/gemma3-transformers.json (scripts/reference/gemma_logits.py; in the tree) stores the top-64 logits and
 * the logsumexp at chosen positions of a 13-token prompt (every position, plus its 16 greedy ids) and of a 600-token
 * prompt (positions 596-599: past the 512-token sliding window, so the local layers mask). The CUDA logits of each
 * position come from a prefill up to it and decode steps after it. Tolerance: |Δ| over the 64 stored logits and
 * |Δlogsumexp| ≤ ARCH_RTOL·max|stored logit|, the same top-1 (unless the stored top-2 gap is within that bound),
 * greedy ids equal.
 */
function gemmaVsTransformers(rows: Row[], model: LlamaModel): void {
  const file = arg('--gemma-transformers', 'data/reference/gemma3-transformers.json')!;
  if (!fs.existsSync(file)) {
    rows.push({ check: 'gemma3 vs transformers', detail: file, value: 'missing', tol: '', pass: false });
    return;
  }
  const tr = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    reference: { transformers: string; torch: string; date: string };
    cases: { name: string; ids: number[]; positions: number[]; top_ids: number[][]; top_logits: number[][]; logsumexp: number[]; greedy_ids?: number[] }[];
  };
  const lse = (x: Float32Array) => {
    let m = -Infinity;
    for (const v of x) m = Math.max(m, v);
    let s = 0;
    for (const v of x) s += Math.exp(v - m);
    return m + Math.log(s);
  };
  for (const kv of ['f16', 'f32'] as const) {
    for (const c of tr.cases) {
      const label = `gemma3 ${c.name} vs transformers fp16 kv=${kv}`;
      let eng: CudaEngine | null = null;
      try {
        eng = CudaEngine.fromModel(model, { modes: 'fp16', kvDtype: kv, maxSeq: c.ids.length + 32 > 256 ? 1024 : 256 });
        eng.reset();
        const from = Math.min(...c.positions);
        const last = Math.max(...c.positions);
        const got = new Map<number, Float32Array>();
        got.set(from, eng.forward(c.ids.slice(0, from + 1), { logits: true }).logits!);
        for (let p = from + 1; p <= last; p++) got.set(p, eng.forward([c.ids[p]!], { logits: true }).logits!);
        let refMax = 0;
        for (const r of c.top_logits) refMax = Math.max(refMax, maxAbsOf(r));
        const tolAbs = ARCH_RTOL * refMax;
        let maxAbs = 0;
        let maxLse = 0;
        let top1 = 0;
        let ties = 0;
        let ok = true;
        c.positions.forEach((p, k) => {
          const row = got.get(p)!;
          c.top_ids[k]!.forEach((id, j) => (maxAbs = Math.max(maxAbs, Math.abs(row[id]! - c.top_logits[k]![j]!))));
          maxLse = Math.max(maxLse, Math.abs(lse(row) - c.logsumexp[k]!));
          if (top2(row).arg === c.top_ids[k]![0]) top1++;
          else if (c.top_logits[k]![0]! - c.top_logits[k]![1]! <= tolAbs) ties++;
          else ok = false;
        });
        let greedy = '';
        let greedyOk = true;
        if (c.greedy_ids) {
          eng.reset();
          const g0 = eng.forward(c.ids).next;
          const g = eng.generate(c.greedy_ids.length - 1, { graph: true });
          const tokens = [g0, ...g.tokens];
          greedyOk = tokens.join() === c.greedy_ids.join() && g.graph;
          greedy = `; greedy ${tokens.join(' ')} (transformers ${c.greedy_ids.join(' ')}, graph ${g.graph ? 'captured' : `NOT captured: ${g.graphError ?? '?'}`})`;
        }
        rows.push({
          check: label,
          detail: `${c.ids.length} ids, positions ${from}..${last} (prefill to ${from}, decode after); transformers ${tr.reference.transformers} torch ${tr.reference.torch} (${tr.reference.date})${greedy}`,
          value: `max|Δ| top-64 ${maxAbs.toExponential(2)}, |Δlogsumexp| ${maxLse.toExponential(2)} (tol ${tolAbs.toExponential(2)}), top1 ${top1}/${c.positions.length}${ties ? ` (${ties} near ties)` : ''}${c.greedy_ids ? `, greedy ${greedyOk ? '==' : '!='}` : ''}`,
          tol: `${ARCH_RTOL}·max|ref|, same top-1${c.greedy_ids ? ', greedy ids equal' : ''}`,
          pass: ok && maxAbs <= tolAbs && maxLse <= tolAbs && greedyOk,
        });
      } catch (e) {
        rows.push({ check: label, detail: 'threw', value: `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`, tol: '', pass: false });
      } finally {
        eng?.dispose();
      }
    }
  }
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
