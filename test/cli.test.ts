/**
 * The CLI end to end on a tiny synthetic GGUF with a byte-level vocabulary: JSON fields of info / generate / eval /
 * eval --patch / sweep / diagnose, and one-line errors with exit status 1 for bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tinyConfig, syntheticWeights, writeGGUFModel, byteLevelVocabMetadata } from '../src/model/synthetic.js';
import { packageRoot } from '../src/util/paths.js';

const ROOT = packageRoot();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-cli-'));
const cfg = tinyConfig({ numLayers: 3, maxPositionEmbeddings: 512 });
const model = path.join(tmp, 'tiny.gguf');
writeGGUFModel(model, cfg, syntheticWeights(cfg, 3), 'f32', byteLevelVocabMetadata());
const text = path.join(tmp, 'text.txt');
fs.writeFileSync(text, 'The river begins as a thin stream of melted snow high in the mountains. '.repeat(3));

/** Run the CLI (TypeScript sources through tsx); returns exit status, stdout, stderr. */
function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', "import('./src/cli/main.ts').then((m) => m.main(['node', 'codecllm', ...process.argv.slice(1)]))", '--', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, CODECLLM_PROGRESS: '0' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(...args: string[]) {
  const r = cli(...args, '--json');
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('info --json reports the architecture fields', () => {
  const i = json('info', model);
  for (const k of ['architecture', 'layers', 'hidden_size', 'heads', 'kv_heads', 'vocab_size', 'params', 'linear_layers']) assert.ok(k in i, k);
  assert.equal(i.architecture, 'llama');
  assert.equal(i.layers, 3);
  assert.equal(i.kv_heads, 2);
  assert.equal(i.linear_layers, 3 * 7 + 1);
});

test('generate --json continues a text prompt deterministically', () => {
  const a = json('generate', model, '--prompt', 'hello', '--max-tokens', '5');
  const b = json('generate', model, '--prompt', 'hello', '--max-tokens', '5');
  assert.equal(a.prompt_tokens, 5); // byte-level: one token per byte
  assert.ok(a.tokens.length <= 5);
  assert.deepEqual(a.tokens, b.tokens);
  assert.equal(typeof a.text, 'string');
});

test('eval --json gives ppl with its interval; --patch adds the quality fields', () => {
  const e = json('eval', model, '--text', text, '--window', '64');
  assert.equal(e.tokens, fs.readFileSync(text).length - 1);
  assert.ok(e.ppl > 1 && e.ppl_ci95[0] < e.ppl && e.ppl < e.ppl_ci95[1]);
  const cache = path.join(tmp, 'base-cache');
  const p = json('eval', model, '--text', text, '--window', '64', '--patch', 'all', '--quant', 'int8:per-channel', '--base-cache', cache);
  // the quality report's fields (issue 12), on the default engine (native here)
  for (const k of ['ppl', 'ppl_ci95', 'baseline_ppl', 'ppl_ratio', 'ln_ppl_ratio', 'same_top_p', 'mean_dp', 'rms_dp', 'patched_modules', 'engine', 'kl_mean', 'top1_agreement', 'verdict', 'first_divergence', 'block_trace'])
    assert.ok(k in p, k);
  for (const k of ['mean', 'stderr', 'median', 'p90', 'p99', 'p999', 'max']) assert.equal(typeof p.kld[k], 'number', `kld.${k}`);
  assert.equal(p.tokens, e.tokens);
  assert.equal(p.base_logits.cached, false);
  assert.ok(Math.abs(p.baseline_ppl - e.ppl) <= 1e-4 * e.ppl, `${p.baseline_ppl} vs ${e.ppl}`);
  assert.equal(p.patched_modules, 22);
  assert.ok(['PERFECT', 'MINOR'].includes(p.verdict), p.verdict);
  // tfjs: the baseline is the plain eval's, the block trace is there, and a second run reads the cached baseline
  const et = json('eval', model, '--text', text, '--window', '64', '--engine', 'tfjs');
  const pt = json('eval', model, '--text', text, '--window', '64', '--patch', 'blocks:1-2&type:gate,up,down', '--quant', 'int8:per-channel', '--engine', 'tfjs', '--base-cache', cache, '--list-modules');
  assert.equal(pt.baseline_ppl, et.ppl);
  assert.equal(pt.engine, 'tfjs');
  assert.equal(pt.patched_modules, 6);
  assert.deepEqual(pt.patched_module_paths, ['model.layers.1.mlp.gate_proj', 'model.layers.1.mlp.up_proj', 'model.layers.1.mlp.down_proj', 'model.layers.2.mlp.gate_proj', 'model.layers.2.mlp.up_proj', 'model.layers.2.mlp.down_proj']);
  assert.equal(pt.block_trace.length, 3);
  const pt2 = json('eval', model, '--text', text, '--window', '64', '--patch', 'all', '--quant', 'nf4:group=64', '--engine', 'tfjs', '--base-cache', cache);
  assert.equal(pt2.base_logits.cached, true);
  assert.equal(pt2.baseline_ppl, et.ppl);
});

test('sweep --json has one row per layer count with the seed table fields', () => {
  const s = json('sweep', model, '--layers', '1,5,all', '--quant', 'int8:per-tensor', '--text', text, '--tokens', '48');
  assert.deepEqual(s.rows.map((r: { layers: unknown }) => r.layers), [1, 5, 'all']);
  for (const k of ['layers', 'ratio', 'ppl', 'kl_mean', 'top1_agreement', 'verdict', 'output', 'time_s']) assert.ok(k in s.rows[0], k);
  assert.ok(s.rows[0].kl_mean <= s.rows[2].kl_mean);
});

test('select resolves A&B and A+B, counts and lists the modules; an empty selection is one E_PATCH line', () => {
  const s = json('select', model, 'blocks:1-2&type:gate,up,down+lm_head');
  assert.equal(s.count, 7);
  assert.deepEqual(s.by_kind, { gate: 2, up: 2, down: 2, lm_head: 1 });
  assert.equal(s.paths.at(-1), 'lm_head');
  const r = cli('select', model, 'blocks:0&type:lm_head');
  assert.equal(r.status, 1);
  assert.equal(r.stderr, "codecllm: selection 'blocks:0&type:lm_head' matches no linear layer [E_PATCH]\n");
});

test('diagnose --fault finds and names every injected fault', () => {
  for (const fault of ['scale-axis', 'scale-fp16-underflow', 'uint8-as-int8', 'transposed', 'stale-buffer', 'wrong-layer']) {
    const d = json('diagnose', model, '--fault', fault);
    assert.equal(d.cause, fault, `${fault}: ${d.evidence}`);
    assert.match(d.first_bad_layer, /^model\.layers\.\d+\.|^lm_head$/);
  }
  const clean = json('diagnose', model, '--patch', 'all', '--quant', 'int8:per-channel');
  assert.equal(clean.first_bad_layer, null);
  // the engine runs exactly the weights the diagnosis read
  assert.ok(clean.engine_check.positions > 0 && clean.engine_check.max_abs_diff < 1e-3, JSON.stringify(clean.engine_check));
});

test('bad input: one line on stderr naming the file and problem, exit status 1', () => {
  const missing = path.join(tmp, 'nope.gguf');
  let r = cli('info', missing);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `codecllm: ${missing}: no such file or directory [E_IO]\n`);
  const junk = path.join(tmp, 'junk.gguf');
  fs.writeFileSync(junk, Buffer.from('GGUF\x03\x00\x00\x00' + 'x'.repeat(20)));
  r = cli('info', junk);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.split('\n').length, 2);
  assert.ok(r.stderr.startsWith(`codecllm: ${junk}: `), r.stderr);
  r = cli('eval', model, '--text', text, '--patch', 'all');
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'codecllm: invalid --patch/--quant: give both (e.g. --patch all --quant int8:per-channel) [E_ARG]\n');
});

test('generate on the default engine (native here) gives the tfjs reference tokens; bench --device cpu reports both engines', () => {
  const a = json('generate', model, '--prompt', 'hello world', '--max-tokens', '6');
  const b = json('generate', model, '--prompt', 'hello world', '--max-tokens', '6', '--engine', 'tfjs');
  assert.equal(b.engine, 'tfjs');
  // the default is the fastest engine available, and the output says which and why
  assert.ok(['native', 'cuda'].includes(a.engine), a.engine);
  assert.match(a.engine_reason, /^auto: /);
  assert.deepEqual(b.tokens, a.tokens);
  const bench = json('bench', model, '--device', 'cpu', '--prompt-tokens', '8', '--tokens', '4');
  assert.deepEqual(bench.rows.map((r: { engine: string }) => r.engine), ['tfjs', 'native']);
  assert.deepEqual(bench.rows[0].ids, bench.rows[1].ids);
  for (const r of bench.rows) assert.ok(r.decode_tokens_per_s > 0 && r.prefill_tokens_per_s > 0);
  const r = cli('generate', model, '--prompt', 'x', '--engine', 'gpu');
  assert.equal(r.status, 1);
  assert.equal(r.stderr, "codecllm: invalid --engine: 'gpu' (expected tfjs, native, cuda, auto) [E_ARG]\n");
});
