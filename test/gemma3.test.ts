/**
 * Gemma 3 in the tfjs reference, on a tiny synthetic checkpoint (6 layers: 5 local with window 8, 1 global; MQA;
 * head_dim 32 ≠ hidden/heads; tied embeddings), against a readable plain-loop twin written here from the Hugging Face
 * Gemma3 modelling code: embedding × √hidden, RMSNorm with (1 + w), q/k RMSNorm, rope (local base 10000 on the
 * sliding layers), sliding-window mask, sandwich norms, GeGLU. Tolerance: max |Δlogit| ≤ 1e-4 (float32 tfjs vs
 * float64 loops). Also: the GGUF form of the same weights (norms stored as 1 + w, llama.cpp naming) gives the same
 * logits, KV-cache decode equals a full forward, and unknown architectures are refused before loading (E_ARCH).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LlamaModel } from '../src/model/llama.js';
import { tinyGemma3Config, syntheticWeights, writeHFModel, writeGGUFModel } from '../src/model/synthetic.js';
import { configFromGGUF, configFromHF, engineDims, featuresOf, nativeEngineGap, type LlamaConfig } from '../src/model/config.js';
import { openCheckpoint } from '../src/model/checkpoint.js';
import { isCodecError } from '../src/messages.js';
import { nativeInfo } from '../src/native/addon.js';
import { createCpuEngine } from '../src/engine/cpu-native.js';
import { loadCpuEngine } from '../src/engine/cpu-checkpoint.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-gemma3-'));
const cfg = tinyGemma3Config();
const weights = syntheticWeights(cfg, 11);
const hfDir = path.join(tmp, 'hf');
const ggufFile = path.join(tmp, 'tiny-gemma3.gguf');
writeHFModel(hfDir, cfg, weights, 'f32');
writeGGUFModel(ggufFile, cfg, weights, 'f32');
const ids = [2, 17, 99, 3, 250, 42, 42, 7, 1, 64, 128, 200, 5, 9]; // 14 tokens > window 8

/** The plain-loop twin: Hugging Face Gemma3ForCausalLM's forward in float64 loops, logits (T, V). */
function referenceGemma3(c: LlamaConfig, w: Map<string, { data: Float32Array }>, tokens: number[]): Float64Array {
  const f = featuresOf(c);
  const { hiddenSize: h, numHeads: H, numKvHeads: Hkv, headDim: D, intermediateSize: I, vocabSize: V } = c;
  const W = (n: string) => w.get(n)!.data;
  const T = tokens.length;
  const rms = (x: Float64Array, g: Float32Array) => {
    let ms = 0;
    for (const v of x) ms += v * v;
    const r = 1 / Math.sqrt(ms / x.length + c.rmsEps);
    return x.map((v, i) => v * r * (1 + g[i]!));
  };
  const matvec = (m: Float32Array, rows: number, cols: number, x: Float64Array) => {
    const y = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += m[r * cols + k]! * x[k]!;
      y[r] = s;
    }
    return y;
  };
  const rope = (x: Float64Array, pos: number, theta: number) => {
    const out = new Float64Array(D);
    for (let i = 0; i < D / 2; i++) {
      const a = pos * (1 / Math.pow(theta, (2 * i) / D));
      out[i] = x[i]! * Math.cos(a) - x[i + D / 2]! * Math.sin(a);
      out[i + D / 2] = x[i + D / 2]! * Math.cos(a) + x[i]! * Math.sin(a);
    }
    return out;
  };
  const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
  let xs = tokens.map((t) => Float64Array.from(W('model.embed_tokens.weight').subarray(t * h, (t + 1) * h), (v) => v * Math.sqrt(h)));
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    const sliding = f.slidingLayers![l]!;
    const theta = sliding && f.ropeThetaLocal !== null ? f.ropeThetaLocal : c.ropeTheta;
    const cap = (v: number, k: number | null) => (k === null ? v : k * Math.tanh(v / k));
    const qs: Float64Array[][] = [], ks: Float64Array[][] = [], vs: Float64Array[][] = [];
    for (let t = 0; t < T; t++) {
      const hn = rms(xs[t]!, W(p + 'input_layernorm.weight'));
      const q = matvec(W(p + 'self_attn.q_proj.weight'), H * D, h, hn);
      const k = matvec(W(p + 'self_attn.k_proj.weight'), Hkv * D, h, hn);
      const v = matvec(W(p + 'self_attn.v_proj.weight'), Hkv * D, h, hn);
      const qk = (x: Float64Array, norm: string) => (f.qkNorm ? rms(x, W(p + norm)) : x);
      qs.push(Array.from({ length: H }, (_, i) => rope(qk(q.subarray(i * D, (i + 1) * D), 'self_attn.q_norm.weight'), t, theta)));
      ks.push(Array.from({ length: Hkv }, (_, i) => rope(qk(k.subarray(i * D, (i + 1) * D), 'self_attn.k_norm.weight'), t, theta)));
      vs.push(Array.from({ length: Hkv }, (_, i) => v.slice(i * D, (i + 1) * D)));
    }
    xs = xs.map((x, t) => {
      const att = new Float64Array(H * D);
      for (let hh = 0; hh < H; hh++) {
        const kv = Math.floor(hh / (H / Hkv));
        const sc: number[] = [];
        for (let s = 0; s <= t; s++) {
          if (sliding && t - s >= f.slidingWindow!) sc.push(-Infinity);
          else sc.push(cap(qs[t]![hh]!.reduce((a, qv, d) => a + qv * ks[s]![kv]![d]!, 0) * f.attnScale, f.attnSoftcap));
        }
        const mx = Math.max(...sc);
        const e = sc.map((v) => Math.exp(v - mx));
        const z = e.reduce((a, b) => a + b, 0);
        for (let s = 0; s <= t; s++) for (let d = 0; d < D; d++) att[hh * D + d] += (e[s]! / z) * vs[s]![kv]![d]!;
      }
      const o = rms(matvec(W(p + 'self_attn.o_proj.weight'), h, H * D, att), W(p + 'post_attention_layernorm.weight'));
      const x1 = x.map((v, i) => v + o[i]!);
      const hn2 = rms(x1, W(p + 'pre_feedforward_layernorm.weight'));
      const g = matvec(W(p + 'mlp.gate_proj.weight'), I, h, hn2);
      const u = matvec(W(p + 'mlp.up_proj.weight'), I, h, hn2);
      const mlp = rms(matvec(W(p + 'mlp.down_proj.weight'), h, I, g.map((gv, i) => gelu(gv) * u[i]!)), W(p + 'post_feedforward_layernorm.weight'));
      return x1.map((v, i) => v + mlp[i]!);
    });
  }
  const out = new Float64Array(T * V);
  xs.forEach((x, t) => out.set(matvec(W('model.embed_tokens.weight'), V, h, rms(x, W('model.norm.weight'))).map((v) => (f.finalSoftcap === null ? v : f.finalSoftcap * Math.tanh(v / f.finalSoftcap))), t * V));
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('tiny Gemma 3 (HF folder) matches the plain-loop twin of transformers’ Gemma3 forward', async (t) => {
  const m = await LlamaModel.load(hfDir);
  assert.equal(m.config.architecture, 'gemma3');
  assert.deepEqual(m.blocks.map((b) => b.sliding), [true, true, true, true, true, false]);
  const { logits } = m.forward(ids);
  const got = logits.dataSync() as Float32Array;
  logits.dispose();
  const want = referenceGemma3(cfg, weights, ids);
  const d = maxAbsDiff(got, want);
  t.diagnostic(`max |Δlogit| ${d.toExponential(3)} (tol 1e-4), logit scale ${Math.max(...want.map(Math.abs)).toFixed(2)}`);
  assert.ok(d <= 1e-4, `max |Δlogit| ${d}`);
  // the window matters: with every layer global the logits of the late tokens change
  const allGlobal = referenceGemma3({ ...cfg, features: { ...featuresOf(cfg), slidingLayers: new Array(6).fill(false) } }, weights, ids);
  assert.ok(maxAbsDiff(allGlobal, want) > 1e-3, 'sliding window has an effect on a 14-token input');
  m.dispose();
});

test('tiny Gemma 2 (no q/k norm, one rope base, attention soft-cap 2 (active on these scores) and final soft-cap 30) matches the twin', async (t) => {
  const g2 = tinyGemma3Config({
    architecture: 'gemma2',
    numLayers: 2,
    features: { ...featuresOf(cfg), qkNorm: false, ropeThetaLocal: null, slidingLayers: [true, false], attnSoftcap: 2, finalSoftcap: 30 },
  });
  const w2 = syntheticWeights(g2, 5);
  const dir = path.join(tmp, 'gemma2');
  writeHFModel(dir, g2, w2, 'f32');
  const m = await LlamaModel.load(dir);
  assert.equal(featuresOf(m.config).attnSoftcap, 2);
  const { logits } = m.forward(ids);
  const got = logits.dataSync() as Float32Array;
  logits.dispose();
  const want = referenceGemma3(g2, w2, ids);
  const d = maxAbsDiff(got, want);
  t.diagnostic(`max |Δlogit| ${d.toExponential(3)} (tol 1e-4); final logits capped at ±30: max ${Math.max(...want.map(Math.abs)).toFixed(2)}`);
  assert.ok(d <= 1e-4, `max |Δlogit| ${d}`);
  assert.ok(Math.max(...want.map(Math.abs)) < 30);
  m.dispose();
});

test('tiny Gemma 3: the GGUF form (norms stored as 1 + w, llama.cpp names, hard-coded swa pattern) gives the same logits', async () => {
  const ck = openCheckpoint(ggufFile);
  const f = featuresOf(ck.config);
  assert.equal(f.normOffset, 0, 'GGUF norms already hold 1 + w');
  assert.deepEqual(f.slidingLayers, [true, true, true, true, true, false]);
  assert.equal(f.ropeThetaLocal, 10000);
  assert.ok(ck.weights.has('model.layers.0.pre_feedforward_layernorm.weight'));
  ck.close();
  const [a, b] = [await LlamaModel.load(hfDir), await LlamaModel.load(ggufFile)];
  const la = a.forward(ids).logits, lb = b.forward(ids).logits;
  assert.ok(maxAbsDiff(la.dataSync(), lb.dataSync()) <= 1e-5);
  la.dispose();
  lb.dispose();
  a.dispose();
  b.dispose();
});

test('native CPU engine: tiny Gemma 3 (HF folder: norms + 1 at load; GGUF form) and tiny Gemma 2 (active soft-caps) match the twin, copied or streamed', { skip: nativeInfo().built ? false : 'native addon not built' }, async (t) => {
  const want3 = referenceGemma3(cfg, weights, ids);
  const g2 = tinyGemma3Config({
    architecture: 'gemma2',
    numLayers: 2,
    features: { ...featuresOf(cfg), qkNorm: false, ropeThetaLocal: null, slidingLayers: [true, false], attnSoftcap: 2, finalSoftcap: 30 },
  });
  const w2 = syntheticWeights(g2, 5);
  const dir2 = path.join(tmp, 'gemma2-native');
  writeHFModel(dir2, g2, w2, 'f32');
  const want2 = referenceGemma3(g2, w2, ids);
  for (const [name, src, want] of [['gemma3 hf', hfDir, want3], ['gemma3 gguf', ggufFile, want3], ['gemma2 hf', dir2, want2]] as const) {
    const m = await LlamaModel.load(src);
    const copied = createCpuEngine(m);
    const streamed = loadCpuEngine(src); // norms read from the file: + normOffset (1 for HF Gemma) applied here
    try {
      for (const [how, e] of [['copied', copied], ['streamed', streamed]] as const) {
        const d = maxAbsDiff(e.forward(ids), want);
        t.diagnostic(`${name} ${how}: max |Δlogit| vs twin ${d.toExponential(3)} (tol 1e-4)`);
        assert.ok(d <= 1e-4, `${name} ${how}: max |Δlogit| ${d}`);
      }
    } finally {
      copied.dispose();
      streamed.dispose();
      m.dispose();
    }
  }
});

test('tiny Gemma 3: KV-cache decode (past the window) equals one full forward', async () => {
  const m = await LlamaModel.load(hfDir);
  const full = m.forward(ids).logits;
  const cache = m.newCache();
  const parts: Float32Array[] = [];
  const first = m.forward(ids.slice(0, 5), cache).logits;
  parts.push(first.dataSync() as Float32Array);
  first.dispose();
  for (let i = 5; i < ids.length; i++) {
    const { logits } = m.forward([ids[i]!], cache);
    parts.push(logits.dataSync() as Float32Array);
    logits.dispose();
  }
  const joined = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    joined.set(p, o);
    o += p.length;
  }
  assert.ok(maxAbsDiff(joined, full.dataSync()) <= 1e-4);
  full.dispose();
  m.disposeCache(cache);
  m.dispose();
});

test('architectures the reference cannot run are refused before loading, naming what is missing (E_ARCH)', () => {
  const base = { hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 256 };
  const refused: [Record<string, unknown>, RegExp][] = [
    [{ ...base, architectures: ['Phi3ForCausalLM'] }, /^c\.json: architecture 'Phi3ForCausalLM' needs fused qkv_proj \/ gate_up_proj weights/],
    [{ ...base, architectures: ['MixtralForCausalLM'] }, /needs mixture-of-experts MLPs/],
    [{ ...base, architectures: ['Qwen2ForCausalLM'], use_sliding_window: true }, /needs Qwen2's use_sliding_window/],
    [{ ...base, architectures: ['LlamaForCausalLM'], hidden_act: 'relu' }, /needs hidden activation 'relu'/],
    [{ ...base, architectures: ['FalconForCausalLM'] }, /unsupported architecture 'FalconForCausalLM'/],
  ];
  for (const [json, re] of refused) assert.throws(() => configFromHF(json, 'c.json'), (e) => isCodecError(e, 'E_ARCH') && re.test(e.message) && !e.message.includes('\n'));
  const meta = (arch: string) => new Map<string, never>([['general.architecture', arch as never]]);
  assert.throws(() => configFromGGUF(meta('phi3'), new Set(), 'p.gguf'), (e) => isCodecError(e, 'E_ARCH') && e.message === "p.gguf: architecture 'phi3' needs fused qkv / gate_up weights (Phi-3), which codecllm does not implement");
  assert.throws(() => configFromGGUF(meta('mamba'), new Set(), 'p.gguf'), (e) => isCodecError(e, 'E_ARCH') && /^p\.gguf: unsupported architecture 'mamba'/.test(e.message));
  // both native engines take Gemma's features (the CPU engine: test/engine-cpu-gemma.test.ts, test/zoo.test.ts; the
  // CUDA engine: scripts/gpu/check-engine.ts on the GPU host)
  for (const engine of ['native', 'cuda'] as const) {
    assert.equal(nativeEngineGap(cfg, engine), null, engine);
    assert.equal(engineDims(cfg, engine).headDim, cfg.headDim);
  }
});

test('Hugging Face Gemma 3 config forms: layer_types, sliding_window_pattern, transformers 5 rope_parameters', () => {
  const base = {
    architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', hidden_size: 64, intermediate_size: 128, num_hidden_layers: 7,
    num_attention_heads: 4, num_key_value_heads: 1, head_dim: 32, vocab_size: 256, query_pre_attn_scalar: 32, sliding_window: 8,
  };
  const a = configFromHF({ ...base, rope_theta: 1e6, rope_local_base_freq: 10000 }, 'c.json');
  assert.deepEqual(featuresOf(a).slidingLayers, [true, true, true, true, true, false, true]);
  assert.equal(a.ropeTheta, 1e6);
  assert.equal(featuresOf(a).ropeThetaLocal, 10000);
  assert.equal(a.tieWordEmbeddings, true);
  const b = configFromHF({ ...base, rope_parameters: { full_attention: { rope_type: 'linear', rope_theta: 1e6, factor: 8 }, sliding_attention: { rope_type: 'default', rope_theta: 1e4 } } }, 'c.json');
  assert.deepEqual(b.ropeScaling, { type: 'linear', factor: 8 });
  assert.equal(featuresOf(b).ropeThetaLocal, 1e4);
  const lt = ['full_attention', 'sliding_attention', 'full_attention', 'sliding_attention', 'full_attention', 'sliding_attention', 'full_attention'];
  assert.deepEqual(featuresOf(configFromHF({ ...base, layer_types: lt }, 'c.json')).slidingLayers, lt.map((x) => x === 'sliding_attention'));
  assert.throws(() => configFromHF({ ...base, layer_types: ['full_attention'] }, 'c.json'), (e) => isCodecError(e, 'E_CONFIG') && /layer_types' has 1 entries for 7 layers/.test(e.message));
});

test('a tfjs heap abort inside forward becomes one E_OOM line with the sizes and the remedy', async () => {
  const m = await LlamaModel.load(hfDir);
  m.lmHead.forward = () => {
    throw new Error('Aborted(). Build with -sASSERTIONS for more info.');
  };
  assert.throws(
    () => m.forward(ids),
    (e) => isCodecError(e, 'E_OOM') && /^tfjs ran out of memory \(Aborted\(\)\. Build with -sASSERTIONS for more info\.\): 14 rows of 256 logits need 0\.00 GiB .* score fewer positions at once \(a smaller eval --window\)$/.test(e.message),
  );
  m.lmHead.forward = () => {
    throw new RangeError('something else');
  };
  assert.throws(() => m.forward(ids), (e) => e instanceof RangeError, 'other errors pass through');
  m.dispose();
});
