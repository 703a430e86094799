/**
 * Native CPU engine (native/src/cpu_engine.cc + engine/ops_ref.h, src/engine/cpu-native.ts).
 *
 * 1. Kernel twins: the twin test binary codecllm_cpu_twins (native/test/cpu_twins.cc, built beside the addon, not part
 *    of it) runs every fast kernel against its ops_ref.h reference on seeded random inputs over several shapes, with
 *    atol + rtol·|ref| stated per dtype there; here it must exit 0 with every op and dtype present, with AVX2 and without.
 * 2. The C++ references against the TS definitions they twin (fp16/bf16 conversions, GGML blocks, int8 dequantize,
 *    rope inverse frequencies): bit-exact, through `codecllm_cpu_twins ref` (src/native/twins.ts cpuReference).
 * 3. Engine logits against the tfjs reference (src/model/llama.ts) on tiny models, prefill and KV-cache decode, and
 *    greedy generation token for token; against PyTorch (data/reference) on the stored tiny models and on the real
 *    default model (max |Δlogit| <= 5e-4, as test/reference-logits.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { callNative, nativeInfo } from '../src/native/addon.js';
import { cpuReference, parseTwinOutput, runTwins, twinBinary } from '../src/native/twins.js';
import { createCpuEngine, cpuEngineAddon, generateNative, type CpuEngine } from '../src/engine/cpu-native.js';
import { LlamaModel, ropeInvFreq } from '../src/model/llama.js';
import { generate } from '../src/model/generate.js';
import { normalRng, syntheticWeights, tinyConfig, writeHFModel, writeGGUFModel } from '../src/model/synthetic.js';
import type { LlamaConfig } from '../src/model/config.js';
import { DTYPES, bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../src/formats/dtypes.js';
import { dequantizeBlocks, quantizeBlocks } from '../src/formats/ggml-blocks.js';
import { dequantize, quantize } from '../src/quant/quantize.js';
import { compareLogits } from '../src/eval/compare.js';
import { isCodecError, msg } from '../src/messages.js';
import { packageRoot } from '../src/util/paths.js';
import { rng } from '../src/util/random.js';

const built = nativeInfo().built && (() => {
  try {
    cpuEngineAddon();
    return true;
  } catch {
    return false;
  }
})();
const skip = built ? false : 'native addon not built with cpu_engine.cc (npm run build:native)';
if (!built && process.env.CI) throw new Error('native addon with the CPU engine is required under CI');

const ROOT = packageRoot();
const REF = path.join(ROOT, 'data', 'reference');

function randn(n: number, seed: number, std = 1): Float32Array {
  const r = normalRng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = std * r();
  return a;
}

/** |got - ref| <= atol + rtol·|ref| everywhere, else fail listing the first mismatches and the max error. */
function assertClose(ref: Float32Array, got: Float32Array, atol: number, rtol: number, label: string): number {
  assert.equal(got.length, ref.length, `${label}: length`);
  let maxErr = 0;
  let bad = 0;
  const first: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(got[i]! - ref[i]!);
    if (!(e <= maxErr)) maxErr = e;
    if (!(e <= atol + rtol * Math.abs(ref[i]!))) {
      bad++;
      if (first.length < 5) first.push(`[${i}] ref ${ref[i]} got ${got[i]} (|Δ| ${e.toExponential(3)})`);
    }
  }
  if (bad) assert.fail(`${label}: ${bad}/${ref.length} outside atol ${atol} + rtol ${rtol}·|ref|; max |Δ| ${maxErr}\n  ${first.join('\n  ')}`);
  return maxErr;
}

function assertBitExact(ref: Float32Array, got: Float32Array, label: string): void {
  assert.equal(got.length, ref.length, `${label}: length`);
  const a = new Uint32Array(ref.buffer, ref.byteOffset, ref.length);
  const b = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const first: string[] = [];
  let bad = 0;
  let maxErr = 0;
  for (let i = 0; i < a.length; i++)
    if (a[i] !== b[i] && !(Number.isNaN(ref[i]) && Number.isNaN(got[i]))) {
      bad++;
      maxErr = Math.max(maxErr, Math.abs(ref[i]! - got[i]!));
      if (first.length < 5) first.push(`[${i}] ref ${ref[i]} got ${got[i]}`);
    }
  if (bad) assert.fail(`${label}: ${bad} values differ bitwise (atol = rtol = 0); max |Δ| ${maxErr}\n  ${first.join('\n  ')}`);
}

// ---------------------------------------------------------------------------------------------------------------
// 1. kernel twins
// ---------------------------------------------------------------------------------------------------------------

type Fmt = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_1' | 'i8_channel' | 'i8_channel_asym' | 'i8_group' | 'i8_group_asym';
/** [atol, rtol] per weight dtype for fast vs reference linear (same for all: only summation order differs). */
const LINEAR_TOL: Record<Fmt, [number, number]> = {
  f32: [2e-5, 1e-4],
  f16: [2e-5, 1e-4],
  bf16: [2e-5, 1e-4],
  q8_0: [2e-5, 1e-4],
  q4_1: [2e-5, 1e-4],
  i8_channel: [2e-5, 1e-4],
  i8_channel_asym: [2e-5, 1e-4],
  i8_group: [2e-5, 1e-4],
  i8_group_asym: [2e-5, 1e-4],
};
const GROUP = 32;

/** Weight args (format, w, scale, zero, group) of a (rows, cols) weight in `fmt`, made from seeded float weights. */
function weightArgs(fmt: Fmt, rows: number, cols: number, seed: number): Record<string, unknown> {
  const w = randn(rows * cols, seed, 1 / Math.sqrt(cols));
  switch (fmt) {
    case 'f32':
      return { format: 'f32', w };
    case 'f16':
    case 'bf16': {
      const u = new Uint16Array(w.length);
      for (let i = 0; i < w.length; i++) u[i] = fmt === 'f16' ? f32ToF16(w[i]!) : f32ToBf16(w[i]!);
      return { format: fmt, w: u };
    }
    case 'q8_0':
    case 'q4_1':
      return { format: fmt, w: quantizeBlocks(fmt, w) };
    default: {
      const spec = `int8:${fmt.startsWith('i8_group') ? `group=${GROUP}` : 'per-channel'}${fmt.endsWith('asym') ? ':asym' : ''}`;
      const q = quantize(w, [rows, cols], spec);
      return {
        format: fmt.startsWith('i8_group') ? 'i8_group' : 'i8_channel',
        w: q.codes,
        scale: q.scales,
        ...(q.zeros ? { zero: q.zeros } : {}),
        group: GROUP,
        _q: q,
      };
    }
  }
}

/** dequant args for cpuReference: the weight's parameters and its stdin parts (codes, scales, zero points) */
function refDequant(wa: Record<string, unknown>, rows: number, cols: number): Float32Array {
  const asym = wa.zero !== undefined;
  const params: Record<string, number | string> = { format: wa.format as string, rows, cols };
  const inputs = [wa.w as ArrayBufferView];
  if (wa.scale) {
    params.group = wa.group as number;
    params.asym = asym ? 1 : 0;
    inputs.push(wa.scale as Float32Array);
    if (asym) inputs.push(wa.zero as Uint8Array);
  }
  return cpuReference('dequant', params, inputs);
}

const TWIN_OPS = ['linear', 'dequant', 'attention', 'attention_ex', 'swiglu', 'geglu', 'api'];
/** every dtype of LINEAR_TOL, and the Gemma 3 Q4_K_M block formats (seeded random blocks in the binary) */
const TWIN_DTYPES = [...Object.keys(LINEAR_TOL), 'q5_0', 'q4_k', 'q6_k'];

/** The twin binary's run: exit 0, every row passing, every op and every weight dtype present. */
function assertTwinsPass(env: NodeJS.ProcessEnv, isa: RegExp): void {
  const r = runTwins('cpu', [], env);
  const failed = r.rows.filter((x) => !x.pass);
  assert.equal(r.status, 0, `codecllm_cpu_twins failed:\n${failed.map((x) => `${x.op} ${x.shape}: ${x.first.join('; ')}`).join('\n')}\n${r.stderr}`);
  assert.equal(failed.length, 0);
  assert.match(r.summary, isa);
  for (const op of TWIN_OPS) assert.ok(r.rows.some((x) => x.op === op && x.n > 0), `no ${op} twin case`);
  for (const d of TWIN_DTYPES) {
    assert.ok(r.rows.some((x) => x.op === 'linear' && x.shape.startsWith(d + ' ')), `no linear ${d} case`);
    assert.ok(r.rows.some((x) => x.op === 'dequant' && x.shape.startsWith(d + ' ') && x.atol === 0 && x.rtol === 0), `no bit-exact dequant ${d} case`);
  }
}

test('codecllm_cpu_twins: every fast kernel == its ops_ref twin (linear every dtype incl. q5_0/q4_k/q6_k, dequant bit-exact, attention and attention_ex, swiglu, geglu)', { skip }, () => {
  assert.ok(fs.existsSync(twinBinary('cpu')), `${twinBinary('cpu')} not built`);
  assertTwinsPass(process.env, /cpu kernel twins passed \(isa (avx2\+fma|scalar)\)/);
});

test('codecllm_cpu_twins with CODECLLM_NO_AVX2=1: the plain fast kernels pass the same twins', { skip }, () => {
  assertTwinsPass({ ...process.env, CODECLLM_NO_AVX2: '1' }, /\(isa scalar\)/);
});

test('twin output parsing: a FAIL row and its first mismatches are reported as failing', () => {
  const out = 'CASE\tPASS\tswiglu\tn=7\tn=7\tmaxAbs=0.000e+00\tratio=0.000\tfails=0\tatol=1.0e-06\trtol=1.0e-06\n' +
    'CASE\tFAIL\tlinear\tq4_1 T=1 in=64 out=8\tn=8\tmaxAbs=1.000e+00\tratio=5.000\tfails=2\tatol=2.0e-05\trtol=1.0e-04\n' +
    'FIRST\tlinear\t[3] ref 1 got 2\n1/2 cpu kernel twins passed (isa scalar)\n';
  const { rows, summary } = parseTwinOutput(out);
  assert.equal(rows.length, 2);
  assert.deepEqual(rows.map((r) => r.pass), [true, false]);
  assert.deepEqual(rows[1]!.first, ['[3] ref 1 got 2']);
  assert.equal(rows[1]!.fails, 2);
  assert.equal(summary, '1/2 cpu kernel twins passed (isa scalar)');
});

test('twin output parsing: key=number fields after rtol land in extra (lossless_gemv sizes and timing)', () => {
  const out = 'CASE\tPASS\tlossless_gemv\tcols=2048,f16=0,rows=2048,rowsPerSeg=4,seed=503\tn=2048\tmaxAbs=2.860e-07\tratio=0.004\tfails=0\tatol=1.0e-05\trtol=1.0e-04\tdecodeMismatches=0\tstreamBytes=5.7e+06\tcompress=0.6747\tmsLossless=0.0447\n';
  const [r] = parseTwinOutput(out).rows;
  assert.equal(r!.op, 'lossless_gemv');
  assert.equal(r!.fails, 0);
  assert.equal(r!.rtol, 1e-4);
  assert.deepEqual(r!.extra, { decodeMismatches: 0, streamBytes: 5.7e6, compress: 0.6747, msLossless: 0.0447 });
});

test('ops_ref dequantize == the TS definitions (dtypes.ts, ggml-blocks.ts, quantize.ts), bit for bit', { skip }, () => {
  // every fp16 / bf16 bit pattern
  const all = new Uint16Array(65536).map((_, i) => i);
  const f16 = cpuReference('dequant', { format: 'f16', rows: 1, cols: 65536 }, [all]);
  const bf16 = cpuReference('dequant', { format: 'bf16', rows: 1, cols: 65536 }, [all]);
  assertBitExact(Float32Array.from(all, (h) => f16ToF32(h)), f16, 'f16 -> f32');
  assertBitExact(Float32Array.from(all, (h) => bf16ToF32(h)), bf16, 'bf16 -> f32');
  let seed = 200;
  for (const fmt of ['q8_0', 'q4_1'] as const) {
    const wa = weightArgs(fmt, 7, 96, seed++);
    assertBitExact(dequantizeBlocks(fmt, wa.w as Uint8Array, 7 * 96), refDequant(wa, 7, 96), `${fmt} vs ggml-blocks.ts`);
  }
  for (const fmt of ['i8_channel', 'i8_channel_asym', 'i8_group', 'i8_group_asym'] as const) {
    const wa = weightArgs(fmt, 6, 80, seed++);
    assertBitExact(dequantize(wa._q as never), refDequant(wa, 6, 80), `${fmt} vs quantize.ts dequantize`);
  }
});

// ---- the GGML block formats of Gemma 3's Q4_K_M file (q5_0, q4_k, q6_k): the reference dequantization == the TS
// definition (ggml-blocks.ts) on seeded random blocks (random bytes, the fp16 scales replaced by finite ones); the
// fast linear / dequantize against the reference run in codecllm_cpu_twins (RandomKWeight there)

type KFmt = 'q5_0' | 'q4_k' | 'q6_k';
/** Byte offsets of each block's fp16 scale fields, and the weight magnitude per unit of d (max |code · sub-scale|). */
const K_BLOCKS: Record<KFmt, { halves: number[]; unit: number }> = {
  q5_0: { halves: [0], unit: 16 },
  q4_k: { halves: [0, 2], unit: 63 * 15 },
  q6_k: { halves: [208], unit: 128 * 32 },
};
function randomBlocks(fmt: KFmt, rows: number, cols: number, seed: number): Uint8Array {
  const { blockElems, blockBytes } = DTYPES[fmt];
  const nb = (rows * cols) / blockElems;
  const r = rng(seed);
  const b = new Uint8Array(nb * blockBytes);
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
  const scale = 1 / (Math.sqrt(cols) * K_BLOCKS[fmt].unit);
  for (let k = 0; k < nb; k++)
    for (const o of K_BLOCKS[fmt].halves) {
      const h = f32ToF16((0.25 + r()) * scale);
      b[k * blockBytes + o] = h & 0xff;
      b[k * blockBytes + o + 1] = h >> 8;
    }
  return b;
}

test('ops_ref dequantize == ggml-blocks.ts for q5_0 / q4_k / q6_k, bit for bit', { skip }, () => {
  let seed = 950;
  for (const fmt of Object.keys(K_BLOCKS) as KFmt[])
    for (const [rows, cols] of [[3, 256], [5, 1024], [1, 2048]] as [number, number][]) {
      const w = randomBlocks(fmt, rows, cols, seed++);
      assertBitExact(dequantizeBlocks(fmt, w, rows * cols), cpuReference('dequant', { format: fmt, rows, cols }, [w]), `dequant ${fmt} ${rows}x${cols} vs ggml-blocks.ts`);
    }
});

test('ops_ref rmsnorm and rope_rotate_half == the llama.ts formulas (JS float32 emulation)', { skip }, () => {
  const fr = Math.fround;
  let seed = 400;
  for (const [T, h] of [[1, 64], [5, 576], [3, 70]] as [number, number][]) {
    const x = randn(T * h, seed++, 3);
    const w = randn(h, seed++);
    const eps = fr(1e-5);
    const want = new Float32Array(T * h);
    for (let t = 0; t < T; t++) {
      let ss = 0;
      for (let i = 0; i < h; i++) ss += x[t * h + i]! * x[t * h + i]!;
      const r = fr(1 / Math.sqrt(fr(fr(ss / h) + eps)));
      for (let i = 0; i < h; i++) want[t * h + i] = fr(fr(x[t * h + i]! * r) * w[i]!);
    }
    assertClose(want, cpuReference('rmsnorm', { T, h, eps }, [x, w]), 1e-6, 1e-6, `rmsnorm T=${T} h=${h}`);
  }
  for (const [T, n, D, p0] of [[1, 4, 16, 0], [6, 3, 64, 10], [2, 9, 64, 4000], [3, 2, 128, 70000]] as [number, number, number, number][]) {
    const c = tinyConfig({ headDim: D, ropeTheta: D === 128 ? 500000 : 10000 });
    const inv = ropeInvFreq(c);
    const x = randn(T * n * D, seed++);
    const positions = Int32Array.from({ length: T }, (_, t) => p0 + 3 * t);
    const want = new Float32Array(x.length);
    const half = D / 2;
    for (let t = 0; t < T; t++)
      for (let j = 0; j < n; j++)
        for (let i = 0; i < half; i++) {
          // llama.ts ensureRope + rope(): f = fround(p * inv), cos/sin to float, x*cos + rotate_half(x)*sin
          const f = fr(positions[t]! * inv[i]!);
          const cs = fr(Math.cos(f));
          const sn = fr(Math.sin(f));
          const o = (t * n + j) * D;
          const x1 = x[o + i]!;
          const x2 = x[o + i + half]!;
          want[o + i] = fr(fr(x1 * cs) + fr(-x2 * sn));
          want[o + i + half] = fr(fr(x2 * cs) + fr(x1 * sn));
        }
    const got = cpuReference('rope', { T, n, D }, [x, positions, inv]);
    assertClose(want, got, 1e-6, 0, `rope T=${T} n=${n} D=${D} positions from ${p0}`);
  }
});

test('ops_ref rope_inv_freq == ropeInvFreq (llama.ts), bit for bit', { skip }, () => {
  const cases: LlamaConfig[] = [
    tinyConfig(),
    tinyConfig({ headDim: 64, ropeTheta: 100000 }),
    tinyConfig({ headDim: 128, ropeTheta: 500000, ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 } }),
    tinyConfig({ headDim: 32, ropeScaling: { type: 'linear', factor: 4 } }),
  ];
  for (const c of cases) {
    const rs = c.ropeScaling;
    const got = cpuReference('ropeInvFreq', {
      D: c.headDim,
      theta: c.ropeTheta,
      scaling: rs === null ? 0 : rs.type === 'linear' ? 1 : 2,
      factor: rs?.factor ?? 1,
      low: rs?.type === 'llama3' ? rs.lowFreqFactor : 1,
      high: rs?.type === 'llama3' ? rs.highFreqFactor : 1,
      original: rs?.type === 'llama3' ? rs.originalMaxPositionEmbeddings : 1,
    });
    assertBitExact(ropeInvFreq(c), got, `inv_freq D=${c.headDim} theta=${c.ropeTheta} ${rs?.type ?? 'none'}`);
  }
});

// ---------------------------------------------------------------------------------------------------------------
// 2. the engine against the tfjs reference on tiny models
// ---------------------------------------------------------------------------------------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-cpu-engine-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

/** tfjs vs native on tiny models: both float32, different summation order; logits are O(1..10). */
const TINY_ATOL = 1e-4;

async function tinyModel(name: string, c: LlamaConfig, kind: 'f32' | 'f16' | 'bf16' | 'q4_1' | 'q8_0', seed = 7): Promise<LlamaModel> {
  const w = syntheticWeights(c, seed);
  if (kind === 'q4_1' || kind === 'q8_0') {
    const f = path.join(tmp, `${name}.gguf`);
    writeGGUFModel(f, c, w, kind);
    return LlamaModel.load(f);
  }
  const dir = path.join(tmp, name);
  writeHFModel(dir, c, w, kind);
  return LlamaModel.load(dir);
}

function tfjsLogits(m: LlamaModel, ids: number[], cache?: ReturnType<LlamaModel['newCache']>, lastOnly = false): Float32Array {
  const { logits } = m.forward(ids, cache, { lastOnly });
  const r = logits.dataSync() as Float32Array;
  logits.dispose();
  return r;
}

/** Prefill + 4 decode steps + a 3-token chunk on both engines, compared at every step. */
function compareWithTfjs(m: LlamaModel, e: CpuEngine, label: string, reference = false): number {
  const V = m.config.vocabSize;
  const ids = [3, 17, 99, 5, 42, 7, 1];
  let worst = 0;
  worst = Math.max(worst, assertClose(tfjsLogits(m, ids), e.forward(ids, undefined, { reference }), TINY_ATOL, 0, `${label} prefill (no cache)`));
  const tc = m.newCache();
  const nc = e.newCache();
  worst = Math.max(worst, assertClose(tfjsLogits(m, ids, tc, true), e.forward(ids, nc, { lastOnly: true, reference }), TINY_ATOL, 0, `${label} prefill lastOnly`));
  const steps: number[][] = [[11], [200 % V], [0], [V - 1], [4, 8, 15]];
  for (const s of steps) worst = Math.max(worst, assertClose(tfjsLogits(m, s, tc), e.forward(s, nc, { reference }), TINY_ATOL, 0, `${label} decode ${s} at ${nc.length}`));
  assert.equal(nc.length, tc.length);
  m.disposeCache(tc);
  e.freeCache(nc);
  return worst;
}

const TINY_CASES: { name: string; c: LlamaConfig; kind: 'f32' | 'f16' | 'bf16' | 'q4_1' | 'q8_0'; expect: string }[] = [
  { name: 'llama-gqa-f32', c: tinyConfig(), kind: 'f32', expect: 'f32' },
  { name: 'qwen2-bias-tied', c: tinyConfig({ architecture: 'qwen2', attentionBias: true, tieWordEmbeddings: true, numKvHeads: 1 }), kind: 'f32', expect: 'f32' },
  { name: 'llama3-rope-mha', c: tinyConfig({ numKvHeads: 4, ropeTheta: 500000, ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 } }), kind: 'f32', expect: 'f32' },
  { name: 'llama-f16', c: tinyConfig({ numLayers: 3 }), kind: 'f16', expect: 'f16' },
  { name: 'llama-bf16', c: tinyConfig({ hiddenSize: 96, numHeads: 6, numKvHeads: 2 }), kind: 'bf16', expect: 'bf16' },
  { name: 'gguf-q4_1', c: tinyConfig(), kind: 'q4_1', expect: 'q4_1' },
  { name: 'gguf-q8_0-tied', c: tinyConfig({ tieWordEmbeddings: true }), kind: 'q8_0', expect: 'q8_0' },
];

for (const tc of TINY_CASES)
  test(`engine == tfjs reference: ${tc.name} (prefill, KV-cache decode, greedy; storage ${tc.expect})`, { skip }, async (t) => {
    const m = await tinyModel(tc.name, tc.c, tc.kind);
    const e = createCpuEngine(m);
    try {
      const formats = new Set(e.formats.values());
      assert.deepEqual([...formats], [tc.expect], `storage chosen: ${[...formats]}`);
      const worst = compareWithTfjs(m, e, tc.name);
      const worstRef = compareWithTfjs(m, e, `${tc.name} (reference ops)`, true);
      t.diagnostic(`${tc.name}: max |Δlogit| fast ${worst.toExponential(2)}, reference ops ${worstRef.toExponential(2)} (tol ${TINY_ATOL}); ${JSON.stringify(e.info().linearFormats)}`);
      const g1 = await generate(m, [5, 6, 7], { maxTokens: 12, stopIds: [] });
      const g2 = await generateNative(e, [5, 6, 7], { maxTokens: 12, stopIds: [] });
      assert.deepEqual(g2.ids, g1.ids, 'greedy continuation');
      const f32 = createCpuEngine(m, { storage: 'f32' });
      assert.deepEqual([...new Set(f32.formats.values())], ['f32']);
      assert.deepEqual(f32.forward([9, 8, 7]), e.forward([9, 8, 7]), "storage 'f32' and the exact compact storage give identical logits");
      assert.deepEqual(f32.forward([9]), e.forward([9]), "identical logits at T = 1 too (the batch-1 block GEMV)");
      f32.dispose();
    } finally {
      e.dispose();
      m.dispose();
    }
  });

test('patched weights: model.setWeight is picked up by forward; engine.setWeight changes the engine only', { skip }, async () => {
  const m = await tinyModel('patch', tinyConfig(), 'q4_1', 11);
  const e = createCpuEngine(m);
  try {
    const p = 'model.layers.1.mlp.down_proj';
    assert.equal(e.formats.get(p), 'q4_1');
    const w = m.getWeight(p).map((v, i) => v + 0.01 * Math.sin(i));
    m.setWeight(p, w, { quant: 'test' });
    const ids = [1, 2, 3, 4];
    assertClose(tfjsLogits(m, ids), e.forward(ids), TINY_ATOL, 0, 'after model.setWeight');
    assert.equal(e.formats.get(p), 'f32', 'a patched weight that no block format reproduces is kept as float32');
    assert.equal(e.sync(), 0);
    // engine-only change: logits move away from the model's, and come back when set back
    const before = e.forward(ids);
    assert.equal(e.setWeight(p, new Float32Array(w.length)), 'bf16'); // all zeros: exactly bf16
    const zeroed = e.forward(ids);
    assert.ok(zeroed.some((v, i) => Math.abs(v - before[i]!) > 1e-3), 'engine.setWeight changed the logits');
    e.setWeight(p, w);
    assertClose(before, e.forward(ids), 0, 0, 'set back');
  } finally {
    e.dispose();
    m.dispose();
  }
});

test('int8 / int4 / nf4 patched weights: kept as int8 (nf4: packed 4-bit) codes when they reproduce the weight exactly, logits == tfjs', { skip }, async () => {
  const m = await tinyModel('patch-int8', tinyConfig(), 'f32', 21);
  const e = createCpuEngine(m);
  try {
    const cases: [string, string, string][] = [
      ['model.layers.0.self_attn.q_proj', 'int8:per-channel', 'i8_channel'],
      ['model.layers.0.mlp.up_proj', 'int8:per-channel:asym:scale=fp16', 'i8_channel'],
      ['model.layers.1.mlp.down_proj', 'int8:group=32:scale=bf16', 'i8_group'],
      ['model.layers.1.self_attn.v_proj', 'int4:group=32:asym', 'i8_group'],
      ['model.layers.0.mlp.gate_proj', 'int4:per-tensor', 'i8_channel'],
      ['lm_head', 'int8:group=64:asym', 'i8_group'],
      ['model.layers.1.self_attn.o_proj', 'nf4:group=32', 'nf4_group'], // packed NF4 indices + group scales (common/quant4.h)
    ];
    const ids = [5, 4, 3, 2, 1];
    for (const [p, spec, want] of cases) {
      const l = m.linear(p);
      const q = quantize(m.getWeight(p), [l.outFeatures, l.inFeatures], spec);
      const w = dequantize(q);
      m.setWeight(p, w, { quant: spec, quantized: q }); // model first: forward's sync sees the PatchInfo's quantized form
      assertClose(tfjsLogits(m, ids), e.forward(ids), TINY_ATOL, 0, `${p} ${spec}`);
      assert.equal(e.formats.get(p), want, `${p} ${spec}`);
      assert.equal(e.setWeight(p, w, { quantized: q }), want, `${p} ${spec} via engine.setWeight`);
    }
    // a quantized form that does not match the weight is not trusted: float32
    const p = 'model.layers.0.self_attn.k_proj';
    const l = m.linear(p);
    const q = quantize(m.getWeight(p), [l.outFeatures, l.inFeatures], 'int8:per-channel');
    const w = dequantize(q);
    w[7] = w[7]! + 1e-3;
    assert.equal(e.setWeight(p, w, { quantized: q }), 'f32');
    const q4 = quantize(m.getWeight(p), [l.outFeatures, l.inFeatures], 'nf4:group=32');
    const w4 = dequantize(q4);
    w4[3] = w4[3]! + 1e-3;
    assert.equal(e.setWeight(p, w4, { quantized: q4 }), 'f32', 'an nf4 form that does not reproduce the weight: float32');
  } finally {
    e.dispose();
    m.dispose();
  }
});

test('CODECLLM_VALIDATE_WITH_TFJS: every forward is rerun on tfjs; a disagreement throws E_ENGINE', { skip }, async () => {
  const m = await tinyModel('validate', tinyConfig(), 'f32', 12);
  const old = process.env.CODECLLM_VALIDATE_WITH_TFJS;
  process.env.CODECLLM_VALIDATE_WITH_TFJS = '1';
  const e = createCpuEngine(m);
  try {
    const r = await generateNative(e, [1, 2, 3], { maxTokens: 6, stopIds: [] });
    assert.equal(r.ids.length, 6);
    e.setWeight('lm_head', new Float32Array(m.config.vocabSize * m.config.hiddenSize));
    assert.throws(
      () => e.forward([1, 2]),
      (x: unknown) =>
        isCodecError(x, 'E_ENGINE') &&
        /^native CPU engine disagrees with the tfjs reference \(CODECLLM_VALIDATE_WITH_TFJS\): \|Δlogit\| \S+ above 0\.001 \+ 1e-3·\|ref\| at row [01], token \d+ \(cache position 0\)$/.test(x.message),
    );
  } finally {
    if (old === undefined) delete process.env.CODECLLM_VALIDATE_WITH_TFJS;
    else process.env.CODECLLM_VALIDATE_WITH_TFJS = old;
    e.dispose();
    m.dispose();
  }
});

test('misuse: disposed engine, foreign cache, custom forward, bad tokens', { skip }, async () => {
  const m = await tinyModel('misuse', tinyConfig(), 'f32', 13);
  const e = createCpuEngine(m);
  const e2 = createCpuEngine(m);
  const c2 = e2.newCache();
  assert.throws(() => e.forward([1], c2), (x: unknown) => isCodecError(x, 'E_ENGINE') && x.message === msg.engineForeignCache());
  assert.throws(() => e.forward([]), (x: unknown) => isCodecError(x, 'E_ARG') && x.message === msg.badArg('tokens', 'empty sequence'));
  assert.throws(() => e.forward([256]), (x: unknown) => isCodecError(x, 'E_ARG') && x.message === msg.badArg('tokens', 'token id 256 outside [0, 256)'));
  e2.dispose();
  assert.throws(() => e2.forward([1]), (x: unknown) => isCodecError(x, 'E_ENGINE') && x.message === msg.engineDisposed());
  const l = m.linear('model.layers.0.self_attn.o_proj');
  l.forward = (x) => x;
  assert.throws(() => e.forward([1]), (x: unknown) => isCodecError(x, 'E_ENGINE') && x.message === msg.engineCustomForward('model.layers.0.self_attn.o_proj'));
  delete l.forward;
  assert.equal(e.forward([1]).length, 256);
  e.dispose();
  m.dispose();
});

test('misuse: architecture features out of range are one-line E_ARG from cpuEngineCreate; an unset Gemma norm is refused at forward', { skip }, () => {
  const a = cpuEngineAddon();
  const cfg = tinyConfig();
  const base = { hidden: cfg.hiddenSize, intermediate: cfg.intermediateSize, layers: cfg.numLayers, heads: cfg.numHeads, kvHeads: cfg.numKvHeads, headDim: cfg.headDim, vocab: cfg.vocabSize, rmsEps: cfg.rmsEps, invFreq: ropeInvFreq(cfg) };
  const layers = new Uint8Array(cfg.numLayers).fill(1);
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ hiddenAct: 'relu' }, /config\.hiddenAct: 'relu' \(expected 'silu' or 'gelu_tanh'\)/],
    [{ slidingLayers: layers, slidingWindow: 0 }, /config\.slidingWindow: expected an integer in \[1, 2\^30\)/],
    [{ slidingLayers: layers, slidingWindow: 1e20 }, /config\.slidingWindow: expected an integer in \[1, 2\^30\)/],
    [{ slidingLayers: layers, slidingWindow: 2.5 }, /config\.slidingWindow/],
    [{ slidingLayers: new Uint8Array(cfg.numLayers + 1), slidingWindow: 4 }, /config\.slidingLayers: expected \d+ elements/],
    [{ attnSoftcap: -1 }, /config\.attnSoftcap \/ finalSoftcap: must be >= 0/],
    [{ embedScale: Number.NaN }, /config\.embedScale: expected a finite number/],
    [{ invFreqLocal: new Float32Array(1) }, /config\.invFreqLocal: expected \d+ elements/],
  ];
  for (const [extra, re] of bad)
    assert.throws(() => callNative(() => a.cpuEngineCreate({ ...base, ...extra } as never)), (x: unknown) => isCodecError(x, 'E_ARG') && re.test(x.message) && !x.message.includes('\n'), JSON.stringify(Object.keys(extra)));
  // sandwich norms switched on, every Llama tensor set but not the pre-/post-FFN norms: the forward names the layer
  // instead of reading an empty vector; once they are set it runs
  const id = a.cpuEngineCreate({ ...base, sandwichNorms: true });
  try {
    const h = cfg.hiddenSize, I = cfg.intermediateSize, qd = cfg.numHeads * cfg.headDim, kvd = cfg.numKvHeads * cfg.headDim;
    const z = (n: number) => new Float32Array(n).fill(0.01);
    a.cpuEngineSetTensor(id, -1, 0, z(cfg.vocabSize * h), null, null, 'f32');
    a.cpuEngineSetTensor(id, -1, 1, z(h), null, null, 'f32');
    a.cpuEngineSetTensor(id, -1, 2, z(cfg.vocabSize * h), null, null, 'f32');
    const sizes = [h, h, qd * h, kvd * h, kvd * h, h * qd, I * h, I * h, h * I];
    for (let l = 0; l < cfg.numLayers; l++) sizes.forEach((n, slot) => a.cpuEngineSetTensor(id, l, slot, z(n), null, null, 'f32'));
    assert.throws(() => callNative(() => a.cpuEngineForward(id, -1, Int32Array.of(1), true, false)), (x: unknown) => isCodecError(x, 'E_ARG') && /layer 0 is not fully set/.test(x.message));
    for (let l = 0; l < cfg.numLayers; l++) for (const slot of [12, 13]) a.cpuEngineSetTensor(id, l, slot, z(h), null, null, 'f32');
    assert.equal(callNative(() => a.cpuEngineForward(id, -1, Int32Array.of(1), true, false)).length, cfg.vocabSize);
  } finally {
    a.cpuEngineDispose(id);
  }
});

// ---------------------------------------------------------------------------------------------------------------
// 3. against PyTorch (stored references)
// ---------------------------------------------------------------------------------------------------------------

/** name -> max |Δlogit| (the tolerances of test/reference-logits.test.ts) */
const TORCH_TOL: Record<string, number> = { 'tiny-llama': 1e-4, 'tiny-qwen2': 1e-4, smollm2: 5e-4 };

for (const name of Object.keys(TORCH_TOL))
  test(`engine logits match PyTorch: ${name}`, { skip }, async (t) => {
    const meta = JSON.parse(fs.readFileSync(path.join(REF, `${name}.json`), 'utf8'));
    const weights = path.join(ROOT, meta.weights_file);
    if (!fs.existsSync(weights)) {
      if (process.env.CI) assert.fail(`${weights} missing under CI (make setup fetches it)`);
      t.skip(`${weights} not present (run make setup)`);
      return;
    }
    assert.equal(crypto.createHash('sha256').update(fs.readFileSync(weights)).digest('hex'), meta.weights_sha256, 'reference was computed on other weights');
    const buf = fs.readFileSync(path.join(REF, meta.logits_file));
    const ref = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const V = (meta.logits_shape as [number, number])[1];
    const m = await LlamaModel.load(name === 'smollm2' ? weights : path.dirname(weights));
    for (const storage of ['auto', 'f32'] as const) {
      const e = createCpuEngine(m, { storage });
      const c = compareLogits(ref, e.forward(meta.ids), V);
      t.diagnostic(`${name} (${storage}: ${JSON.stringify(e.info().linearFormats)}): max|Δlogit|=${c.maxAbsDiff.toExponential(3)} (tol ${TORCH_TOL[name]}), mean KL=${c.klMean.toExponential(3)}, top-1 ${c.top1Agreement}`);
      assert.ok(c.maxAbsDiff <= TORCH_TOL[name]!, `${storage}: max |Δlogit| ${c.maxAbsDiff} > ${TORCH_TOL[name]} at ${c.argMaxDiff}`);
      assert.equal(c.top1Agreement, 1);
      const g = await generateNative(e, meta.ids, { maxTokens: meta.greedy_ids.length, stopIds: [] });
      assert.deepEqual(g.ids, meta.greedy_ids, `${storage}: greedy continuation differs from transformers`);
      e.dispose();
    }
    m.dispose();
  });
