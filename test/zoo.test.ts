/**
 * The architecture zoo against PyTorch + transformers: tiny random-weight checkpoints with reference logits written
 * by scripts/reference/zoo.py on a host with torch + transformers (data/reference/zoo/<name>/). Each one either loads
 * on the tfjs reference and matches transformers' float32 logits (max |Δlogit| ≤ TOL_ABS, same greedy continuation),
 * or is refused before loading with one E_ARCH line naming the missing feature. The native CPU engine runs every
 * architecture the reference loads (qkv bias, q/k norm, sliding window, soft-capping, GeGLU, sandwich norms) and must
 * match transformers within the same tolerance, prefill and KV-cache decode, with the same greedy continuation. The
 * CUDA engine implements the same features (checked against this zoo on the GPU host by scripts/gpu/check-engine.ts);
 * should config.ts's ENGINE_FEATURES list one it lacks, it must be refused there with one E_ARCH line naming it.
 * Until the zoo has been generated, every case skips with the command to run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { LlamaModel } from '../src/model/llama.js';
import { generate } from '../src/model/generate.js';
import { compareLogits } from '../src/eval/compare.js';
import { engineDims, nativeEngineGap } from '../src/model/config.js';
import { createCpuEngine, generateNative } from '../src/engine/cpu-native.js';
import { nativeInfo } from '../src/native/addon.js';
import { openCheckpoint } from '../src/model/checkpoint.js';
import { isCodecError } from '../src/messages.js';
import { packageRoot } from '../src/util/paths.js';

const ZOO = path.join(packageRoot(), 'data', 'reference', 'zoo');
const HOW = 'run `python3 scripts/reference/zoo.py` where torch + transformers are installed (the GPU host) and commit data/reference/zoo/';
/**
 * name -> expected outcome on the tfjs reference: [rtol, mean KL] (max |Δlogit| ≤ rtol · max |ref logit|), or the E_ARCH
 * message part. Measured on 2026-12-02 (tfjs wasm vs torch 2.11 CPU float32, eager): max |Δ| / max |ref| was 1.2e-4
 * (llama-rope3), 2.9e-4 (qwen2), 1.5e-4 (qwen3), 8.5e-5 (mistral), 1.2e-4 (gemma2), 4.4e-5 (gemma3), largest at the
 * last positions; mean KL ≤ 1.1e-7. The random tiny models have logits up to ±38 (std ~6), which amplifies float32
 * rounding; the tolerance is 5e-4 relative, KL 1e-6, and the greedy continuation must be identical.
 */
const CASES: Record<string, [number, number] | RegExp> = {
  'llama-rope3': [5e-4, 1e-6],
  qwen2: [5e-4, 1e-6],
  qwen3: [5e-4, 1e-6],
  mistral: [5e-4, 1e-6],
  gemma2: [5e-4, 1e-6],
  gemma3: [5e-4, 1e-6],
  phi3: /architecture 'Phi3ForCausalLM' needs fused qkv_proj \/ gate_up_proj weights/,
};

for (const [name, want] of Object.entries(CASES)) {
  test(`zoo ${name}: ${want instanceof RegExp ? 'refused with E_ARCH' : 'matches transformers'}`, async (t) => {
    const dir = path.join(ZOO, name);
    if (!fs.existsSync(path.join(dir, 'reference.json'))) {
      t.skip(`${dir} not generated yet: ${HOW}`);
      return;
    }
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8'));
    if (want instanceof RegExp) {
      assert.throws(() => openCheckpoint(dir), (e) => isCodecError(e, 'E_ARCH') && want.test(e.message) && !e.message.includes('\n'));
      return;
    }
    const buf = fs.readFileSync(path.join(dir, meta.logits_file));
    const ref = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const [T, V] = meta.logits_shape as [number, number];
    const m = await LlamaModel.load(dir);
    const { logits } = m.forward(meta.ids);
    const c = compareLogits(ref, logits.dataSync() as Float32Array, V);
    logits.dispose();
    let refMax = 0;
    for (const v of ref) refMax = Math.max(refMax, Math.abs(v));
    const [rtol, tolKl] = want;
    const tolAbs = rtol * refMax;
    t.diagnostic(`${name} (${meta.architecture}, transformers ${meta.reference.transformers}): T=${T} max|Δlogit|=${c.maxAbsDiff.toExponential(3)} (tol ${tolAbs.toExponential(2)} = ${rtol}·max|ref| ${refMax.toFixed(2)}), mean KL=${c.klMean.toExponential(3)} (tol ${tolKl})`);
    assert.ok(c.maxAbsDiff <= tolAbs, `max |Δlogit| ${c.maxAbsDiff} > ${tolAbs} at ${c.argMaxDiff}`);
    assert.ok(c.klMean <= tolKl, `mean KL ${c.klMean} > ${tolKl}`);
    const g = await generate(m, meta.ids, { maxTokens: meta.greedy_ids.length, stopIds: [] });
    assert.deepEqual(g.ids, meta.greedy_ids, 'greedy continuation differs from transformers');
    const gap = nativeEngineGap(m.config, 'cuda');
    if (gap) assert.throws(() => engineDims(m.config, 'cuda'), (e) => isCodecError(e, 'E_ARCH') && e.message.includes(gap) && !e.message.includes('\n'));
    if (nativeInfo().built) {
      // the native CPU engine: same reference, same tolerance; prefill, then the same positions decoded one at a time
      assert.equal(nativeEngineGap(m.config, 'native'), null);
      const e = createCpuEngine(m);
      try {
        const cn = compareLogits(ref, e.forward(meta.ids), V);
        const cache = e.newCache();
        const dec = new Float32Array(T * V);
        dec.set(e.forward(meta.ids.slice(0, 1), cache), 0);
        for (let i = 1; i < T; i++) dec.set(e.forward([meta.ids[i]], cache), i * V);
        const cd = compareLogits(ref, dec, V);
        t.diagnostic(`${name} native: max|Δlogit| prefill ${cn.maxAbsDiff.toExponential(3)}, decode ${cd.maxAbsDiff.toExponential(3)}, mean KL ${cn.klMean.toExponential(3)}`);
        for (const [what, x] of [['prefill', cn], ['decode', cd]] as const) {
          assert.ok(x.maxAbsDiff <= tolAbs, `native ${what}: max |Δlogit| ${x.maxAbsDiff} > ${tolAbs} at ${x.argMaxDiff}`);
          assert.ok(x.klMean <= tolKl, `native ${what}: mean KL ${x.klMean} > ${tolKl}`);
        }
        const gn = await generateNative(e, meta.ids, { maxTokens: meta.greedy_ids.length, stopIds: [] });
        assert.deepEqual(gn.ids, meta.greedy_ids, 'native: greedy continuation differs from transformers');
      } finally {
        e.dispose();
      }
    }
    m.dispose();
  });
}
