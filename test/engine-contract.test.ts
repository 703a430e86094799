/**
 * The one engine contract (issue 12, src/engine/engine.ts, open.ts, tfjs.ts, native.ts, cuda-patches.ts):
 *
 * 1. The one generation loop (src/model/generate.ts) driven through a fake engine: stop ids, the config's EOS when
 *    there is no tokenizer, onToken, sampling, and a measured time per decode step (issue 10: the CUDA path had its
 *    own loop that ignored all of these).
 * 2. The CUDA engine refuses a custom forward (fault injection) with one E_ENGINE line before touching a device,
 *    and plans patched linears without re-quantizing them (the patch's own int8 codes, or fp16 stated).
 * 3. openEngine: tfjs and native give the same logits on a tiny model; every lab quant scheme patched through
 *    openEngine runs on the native engine with the tfjs reference's logits (tolerance below).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generate } from '../src/model/generate.js';
import type { Engine, EngineCache } from '../src/engine/engine.js';
import { defaultEngine } from '../src/engine/open.js';
import { openEngine } from '../src/lab/open-engine.js';
import { CudaEngine } from '../src/engine/cuda.js';
import { planPatchedLinears } from '../src/engine/cuda-patches.js';
import { NF4 } from '../src/quant/numerics.js';
import { parseModeSpec, resolveModes } from '../src/engine/modes.js';
import { LlamaModel } from '../src/model/llama.js';
import { syntheticWeights, tinyConfig, writeHFModel } from '../src/model/synthetic.js';
import { patch, unpatch } from '../src/lab/patch.js';
import { formatSpec, toSpec } from '../src/quant/spec.js';
import { cudaAvailable } from '../src/native/device.js';
import { isCodecError } from '../src/messages.js';
import { nativeInfo } from '../src/native/addon.js';
import type { LlamaConfig } from '../src/model/config.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-contract-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

async function tinyModel(name: string, c: LlamaConfig = tinyConfig(), seed = 5): Promise<LlamaModel> {
  const dir = path.join(tmp, name);
  writeHFModel(dir, c, syntheticWeights(c, seed), 'f32');
  return LlamaModel.load(dir);
}

/**
 * A scripted engine: forward returns logits whose argmax is script[i] at step i, and burns `delayMs[i]` of wall time,
 * so measured decode times must differ step by step.
 */
function fakeEngine(script: number[], delayMs: number[] = [], eos: number | null = 2): Engine & { calls: number[][] } {
  const V = 16;
  let step = 0;
  const calls: number[][] = [];
  const config = { ...tinyConfig({ vocabSize: V }), eosTokenId: eos };
  return {
    engine: 'native',
    config,
    tokenizer: null,
    model: { checkpoint: { file: 'fake' } } as unknown as LlamaModel,
    calls,
    forward(tokens: readonly number[], cache?: EngineCache, o: { lastOnly?: boolean } = {}) {
      assert.ok(cache, 'generation runs on a cache');
      assert.equal(o.lastOnly, true);
      calls.push([...tokens]);
      const t0 = performance.now();
      while (performance.now() - t0 < (delayMs[step] ?? 0));
      const out = new Float32Array(V);
      out[script[step] ?? 0] = 10;
      out[(script[step]! + 1) % V] = 9; // a runner-up for sampling
      step++;
      (cache as { length: number }).length += tokens.length;
      return out;
    },
    newCache: () => ({ length: 0 }),
    freeCache() {},
    info: () => ({ engine: 'native', weights: 'fake', roundings: [], details: {} }),
    dispose() {},
  };
}

test('one generation loop on any engine: stop ids, config EOS, onToken, measured decode steps', async () => {
  // config EOS (2) stops generation when there is no tokenizer
  let e = fakeEngine([5, 6, 2, 7]);
  let seen: number[] = [];
  let r = await generate(e, [1, 3], { maxTokens: 10, onToken: (id) => seen.push(id) });
  assert.deepEqual(r.ids, [5, 6]);
  assert.deepEqual(seen, [5, 6]);
  assert.deepEqual(e.calls, [[1, 3], [5], [6]], 'prefill, then each sampled token fed back');
  // explicit stop ids override EOS
  e = fakeEngine([5, 6, 2, 7, 9]);
  r = await generate(e, [1], { maxTokens: 10, stopIds: [7] });
  assert.deepEqual(r.ids, [5, 6, 2]);
  // every decode step timed on its own (not copies of a mean)
  e = fakeEngine([5, 6, 8, 9], [0, 2, 40, 2]);
  r = await generate(e, [1], { maxTokens: 4, stopIds: [] });
  assert.equal(r.decodeMs.length, 3);
  assert.ok(r.decodeMs[1]! > r.decodeMs[0]! + 20 && r.decodeMs[1]! > r.decodeMs[2]! + 20, `decodeMs ${r.decodeMs}`);
  // sampling works on engines (the CUDA path was greedy-only): temperature > 0 with a seed is deterministic
  const a = await generate(fakeEngine(Array(8).fill(4)), [1], { maxTokens: 8, stopIds: [], temperature: 5, seed: 3 });
  const b = await generate(fakeEngine(Array(8).fill(4)), [1], { maxTokens: 8, stopIds: [], temperature: 5, seed: 3 });
  assert.deepEqual(a.ids, b.ids);
  assert.ok(a.ids.some((t) => t === 5), `a runner-up is sampled at temperature 5: ${a.ids}`);
});

test('the CUDA engine refuses a custom forward with one E_ENGINE line, before needing a device', async () => {
  const m = await tinyModel('custom');
  try {
    m.linear('model.layers.1.mlp.up_proj').forward = (x) => x;
    assert.throws(
      () => CudaEngine.fromModel(m, { modes: 'int8' }),
      (e: unknown) => isCodecError(e) && e.code === 'E_ENGINE' && e.message.includes("'model.layers.1.mlp.up_proj'") && !e.message.includes('\n'),
    );
  } finally {
    m.dispose();
  }
});

test('CUDA patch plan: the patch’s own int8 codes where the kernel matches, else fp16 stated — never int8 re-quantized', async () => {
  const m = await tinyModel('plan');
  try {
    const c = m.config;
    const int8Plan = resolveModes(parseModeSpec('int8'), c);
    const idx = (p: string) => m.linears().findIndex((l) => l.path === p);
    // unpatched: nothing changes
    let p = planPatchedLinears(m, int8Plan);
    assert.deepEqual(p.modes, int8Plan.modes);
    assert.equal(p.int8.size, 0);
    assert.deepEqual(p.roundings, []);
    const cases: [string, 'patch' | 'q4' | 'fp16'][] = [
      ['int8:per-channel', 'patch'],
      ['int8:per-channel:scale=bf16', 'patch'],
      ['int8:per-tensor', 'patch'],
      ['int4:per-channel', 'patch'],
      // 4-bit codes + group scales resident (cuda/gemv_blocks.cu, layout native common/quant4.h)
      ['int4:group=64', 'q4'],
      ['int4:group=32:asym', 'q4'],
      ['nf4:group=64', 'q4'],
      ['fp8', 'fp16'],
      ['int8:group=32:asym', 'fp16'],
    ];
    for (const [quant, want] of cases) {
      unpatch(m);
      patch(m, { select: 'blocks:0', quant, attachQuantized: true });
      p = planPatchedLinears(m, int8Plan);
      const i = idx('model.layers.0.mlp.down_proj');
      const j = idx('model.layers.1.mlp.down_proj');
      assert.equal(p.modes[j], 'int8', `${quant}: unpatched linears keep their mode`);
      if (want === 'q4') {
        const f = p.quant4.get(i)!;
        assert.ok(f, `${quant}: held as 4-bit codes`);
        assert.equal(p.modes[i], 'int8');
        assert.equal(p.int8.has(i), false);
        assert.deepEqual(p.roundings, [], `${quant}: exact, no rounding to state`);
        // float(value(nibble) × scale) (quant4.h) reproduces the installed weight bit for bit
        const w = m.getWeight('model.layers.0.mlp.down_proj');
        const cols = m.linear('model.layers.0.mlp.down_proj').inFeatures;
        const ng = cols / f.group;
        for (let k = 0; k < w.length; k++) {
          const u = (f.codes[k >> 1]! >> ((k & 1) * 4)) & 15;
          const g = Math.floor(k / cols) * ng + Math.floor((k % cols) / f.group);
          const v = f.type === 'nf4_group' ? NF4[u]! : f.zero ? u - f.zero[g]! : u - 8;
          assert.ok(Object.is(Math.fround(v * f.scale[g]!), w[k]), `${quant} weight ${k}`);
        }
      } else if (want === 'patch') {
        const got = p.int8.get(i)!;
        assert.equal(got.source, 'patch', quant);
        assert.equal(p.modes[i], 'int8');
        // the codes are the patch's: code × scale reproduces the installed weight bit for bit
        const w = m.getWeight('model.layers.0.mlp.down_proj');
        const cols = m.linear('model.layers.0.mlp.down_proj').inFeatures;
        for (let k = 0; k < w.length; k++) assert.ok(Object.is(Math.fround(got.codes[k]! * got.scales[Math.floor(k / cols)]!), w[k]), `${quant} weight ${k}`);
        assert.deepEqual(p.roundings, []);
      } else {
        assert.equal(p.modes[i], 'fp16', quant);
        assert.equal(p.int8.has(i), false);
        assert.equal(p.roundings.length, 7, `${quant}: one stated rounding per patched linear`);
        assert.ok(p.roundings[0]!.startsWith(`model.layers.0.self_attn.q_proj: ${formatSpec(toSpec(quant))} dequantized, rounded to fp16`), p.roundings[0]);
      }
    }
    // a patch without attached codes: int8 per-channel codes re-derived only when bit-exact
    unpatch(m);
    patch(m, { select: 'blocks:0', quant: 'int8:per-channel' });
    p = planPatchedLinears(m, int8Plan);
    assert.equal(p.int8.get(idx('model.layers.0.mlp.down_proj'))?.source, 'rederived');
    // fp16 mode: the rounding is stated too
    p = planPatchedLinears(m, resolveModes(parseModeSpec('fp16'), c));
    assert.equal(p.roundings.length, 7);
    assert.equal(p.int8.size, 0);
  } finally {
    m.dispose();
  }
});

const nativeOk = nativeInfo().built && defaultEngine().engine !== 'tfjs';

test('openEngine: tfjs and native give the same logits; cuda without a GPU is one E_CUDA line', { skip: nativeOk ? false : 'native addon not built' }, async () => {
  const m = await tinyModel('open');
  try {
    assert.equal(defaultEngine().engine, cudaAvailable() ? 'cuda' : 'native');
    const ids = [3, 9, 27, 81, 243 % 256, 5, 7, 11];
    const t = await openEngine(m, { engine: 'tfjs' });
    const n = await openEngine(m, { engine: 'auto' });
    assert.equal(n.engine, cudaAvailable() ? 'cuda' : 'native');
    const a = t.forward(ids, undefined, { logitsFrom: 3 });
    const b = n.forward(ids, undefined, { logitsFrom: 3 });
    assert.equal(a.length, 5 * m.config.vocabSize);
    assert.equal(b.length, a.length);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    assert.ok(worst < 1e-4, `max |Δlogit| ${worst}`);
    t.dispose();
    n.dispose();
    if (!cudaAvailable()) await assert.rejects(openEngine(m, { engine: 'cuda' }), (e: unknown) => isCodecError(e) && e.code === 'E_CUDA');
  } finally {
    m.dispose();
  }
});

/**
 * Every lab quant scheme on the native engine vs the tfjs reference, same patched model: both float32 over the same
 * exact weights (the native engine keeps int8/int4 codes + scales that reproduce them bit for bit, other schemes as
 * float32), so only summation order differs: max |Δlogit| <= 1e-4 (logits O(1..10)), same argmax everywhere.
 */
test('patched logits on the native engine equal the tfjs reference for every quant scheme', { skip: nativeOk ? false : 'native addon not built' }, async () => {
  const m = await tinyModel('schemes', tinyConfig({ numLayers: 2 }), 11);
  const specs = [
    'int8:per-channel',
    'int8:per-tensor',
    'int8:per-input-channel',
    'int8:group=32',
    'int8:group=32:asym',
    'int8:per-channel:scale=fp16',
    'int8:per-channel:scale=bf16',
    'int4:group=64',
    'int4:group=32:asym',
    'nf4:group=64',
    'fp8',
  ];
  const ids = Array.from({ length: 12 }, (_, i) => (i * 37 + 5) % m.config.vocabSize);
  try {
    for (const quant of specs) {
      unpatch(m);
      const n = await openEngine(m, { engine: 'native', patch: { select: 'all', quant } });
      const t = await openEngine(m, { engine: 'tfjs' });
      assert.equal(n.patchReport!.modules.length, m.linears().length);
      const a = t.forward(ids);
      const b = n.forward(ids);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      assert.ok(worst <= 1e-4, `${quant}: max |Δlogit| ${worst} (${n.info().weights})`);
      n.dispose();
      t.dispose();
    }
  } finally {
    m.dispose();
  }
});
