/**
 * The CPU reference model on tiny synthetic checkpoints: HF and GGUF loaders agree, KV-cache decode equals a full
 * prefill, generation is deterministic, perplexity scores every token once, configs are validated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LlamaModel } from '../src/model/llama.js';
import { tinyConfig, syntheticWeights, writeHFModel, writeGGUFModel } from '../src/model/synthetic.js';
import { configFromHF } from '../src/model/config.js';
import { generate } from '../src/model/generate.js';
import { perplexity, tokenNll } from '../src/eval/perplexity.js';
import { openCheckpoint, unpermuteRows } from '../src/model/checkpoint.js';
import { permuteRows } from '../src/model/synthetic.js';
import { isCodecError } from '../src/messages.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-model-'));
const cfg = tinyConfig();
const weights = syntheticWeights(cfg, 7);
const hfDir = path.join(tmp, 'hf');
const ggufFile = path.join(tmp, 'tiny.gguf');
writeHFModel(hfDir, cfg, weights, 'f32');
writeGGUFModel(ggufFile, cfg, weights, 'f32');
const ids = [5, 17, 99, 3, 250, 42, 42, 7];

/** max |a-b| */
function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('q/k permutation: unpermuteRows inverts llama.cpp permute', () => {
  const w = Float32Array.from({ length: 32 * 3 }, (_, i) => i);
  assert.deepEqual(unpermuteRows(permuteRows(w, 32, 4), 32, 4), w);
  assert.notDeepEqual(permuteRows(w, 32, 4), w);
});

test('HF safetensors and GGUF checkpoints of the same weights give the same logits', async () => {
  const a = await LlamaModel.load(hfDir);
  const b = await LlamaModel.load(ggufFile);
  const la = a.forward(ids).logits;
  const lb = b.forward(ids).logits;
  assert.deepEqual(la.shape, [ids.length, cfg.vocabSize]);
  const d = maxAbsDiff(la.dataSync() as Float32Array, lb.dataSync() as Float32Array);
  assert.ok(d < 1e-5, `max |Δlogit| ${d}`);
  la.dispose();
  lb.dispose();
  a.dispose();
  b.dispose();
});

test('KV-cache decode reproduces full-prefill logits at every position', async () => {
  const m = await LlamaModel.load(hfDir);
  const full = m.forward(ids).logits;
  const fullData = full.dataSync() as Float32Array;
  full.dispose();
  const cache = m.newCache();
  const first = m.forward(ids.slice(0, 3), cache).logits;
  const parts = [first.dataSync() as Float32Array];
  first.dispose();
  for (let i = 3; i < ids.length; i++) {
    const { logits } = m.forward([ids[i]!], cache);
    parts.push(logits.dataSync() as Float32Array);
    logits.dispose();
  }
  assert.equal(cache.length, ids.length);
  const inc = new Float32Array(fullData.length);
  let off = 0;
  for (const p of parts) {
    inc.set(p, off);
    off += p.length;
  }
  const d = maxAbsDiff(inc, fullData);
  assert.ok(d < 1e-4, `max |Δlogit| ${d}`);
  m.disposeCache(cache);
  m.dispose();
});

test('greedy generation is deterministic; seeded sampling is reproducible and seed-dependent', async () => {
  const m = await LlamaModel.load(hfDir);
  const g1 = await generate(m, ids, { maxTokens: 6, stopIds: [] });
  const g2 = await generate(m, ids, { maxTokens: 6, stopIds: [] });
  assert.equal(g1.ids.length, 6);
  assert.deepEqual(g1.ids, g2.ids);
  // greedy ids must be argmax of the full forward at each step
  const full = m.forward([...ids, ...g1.ids.slice(0, 5)]).logits;
  const rows = await full.array();
  full.dispose();
  for (let i = 0; i < 6; i++) {
    const row = rows[ids.length - 1 + i]!;
    assert.equal(g1.ids[i], row.indexOf(Math.max(...row)));
  }
  const s1 = await generate(m, ids, { maxTokens: 8, temperature: 1.5, seed: 1, stopIds: [] });
  const s2 = await generate(m, ids, { maxTokens: 8, temperature: 1.5, seed: 1, stopIds: [] });
  const s3 = await generate(m, ids, { maxTokens: 8, temperature: 1.5, seed: 2, stopIds: [] });
  assert.deepEqual(s1.ids, s2.ids);
  assert.notDeepEqual(s1.ids, s3.ids);
  m.dispose();
});

test('perplexity: strided windows score every token exactly once; one window equals the direct computation', async () => {
  const m = await LlamaModel.load(hfDir);
  const seq = Array.from({ length: 40 }, (_, i) => (i * 13 + 5) % cfg.vocabSize);
  const whole = await perplexity(m, seq, { window: 64 });
  assert.equal(whole.tokens, 39);
  const { logits } = m.forward(seq.slice(0, 39));
  const direct = tokenNll(logits, seq.slice(1));
  logits.dispose();
  assert.ok(maxAbsDiff(whole.nll, direct) < 1e-5);
  const strided = await perplexity(m, seq, { window: 16, stride: 8 });
  assert.equal(strided.tokens, 39);
  // the first window's tokens are scored with the same context as the direct computation
  assert.ok(maxAbsDiff(strided.nll.subarray(0, 15), direct.subarray(0, 15)) < 1e-5);
  assert.ok(strided.pplCI95[0] < strided.ppl && strided.ppl < strided.pplCI95[1]);
  m.dispose();
});

test('config validation names the file and field', () => {
  const f = 'm/config.json';
  const base = { architectures: ['LlamaForCausalLM'], hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 256 };
  assert.equal(configFromHF(base, f).headDim, 16);
  const cases: [Record<string, unknown>, string][] = [
    [{ ...base, architectures: ['GPT2LMHeadModel'] }, `m/config.json: unsupported architecture 'GPT2LMHeadModel' (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Gemma2ForCausalLM, Gemma3ForCausalLM; GGUF 'llama', 'qwen2', 'gemma3')`],
    [{ ...base, hidden_size: -3 }, `m/config.json: config field 'hidden_size' must be a positive integer (got "-3")`],
    [{ ...base, num_hidden_layers: 1e9 }, `m/config.json: config field 'num_hidden_layers' is 1000000000, above the limit 1024`],
    [{ ...base, num_key_value_heads: 3 }, `m/config.json: config field 'num_key_value_heads' (3) must divide num_attention_heads (4)`],
    [{ ...base, rope_scaling: { rope_type: 'yarn', factor: 2 } }, `m/config.json: config field 'rope_scaling' type 'yarn' is not supported (supported: linear, llama3)`],
  ];
  for (const [json, message] of cases) assert.throws(() => configFromHF(json, f), (e: unknown) => isCodecError(e) && e.message === message);
});

test('missing config.json and shape mismatches are one-line errors naming the file', () => {
  const empty = fs.mkdtempSync(path.join(tmp, 'empty-'));
  assert.throws(() => openCheckpoint(empty), (e: unknown) => isCodecError(e, 'E_CONFIG') && e.message === `${empty}: no config.json (not a Hugging Face model folder)`);
  const bad = path.join(tmp, 'bad');
  const w2 = syntheticWeights(cfg, 1);
  w2.set('model.layers.1.mlp.up_proj.weight', { shape: [64, 128], data: new Float32Array(64 * 128) });
  writeHFModel(bad, cfg, w2, 'f32');
  assert.throws(
    () => openCheckpoint(bad),
    (e: unknown) => isCodecError(e, 'E_SHAPE') && e.message === `${path.join(bad, 'model.safetensors')}: tensor 'model.layers.1.mlp.up_proj.weight' has shape [64, 128], expected [128, 64]`,
  );
});
