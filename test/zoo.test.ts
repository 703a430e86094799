/**
 * The architecture zoo against PyTorch + transformers: tiny random-weight checkpoints with reference logits written
 * by scripts/reference/zoo.py on a host with torch + transformers (data/reference/zoo/<name>/). Each one either loads
 * on the tfjs reference and matches transformers' float32 logits (max |Δlogit| ≤ TOL_ABS, same greedy continuation),
 * or is refused before loading with one E_ARCH line naming the missing feature. The native engines run plain Llama
 * graphs only: every architecture with features beyond Llama must be refused there with E_ARCH too.
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
import { openCheckpoint } from '../src/model/checkpoint.js';
import { isCodecError } from '../src/messages.js';
import { packageRoot } from '../src/util/paths.js';

const ZOO = path.join(packageRoot(), 'data', 'reference', 'zoo');
const HOW = 'run `python3 scripts/reference/zoo.py` where torch + transformers are installed (the GPU host) and commit data/reference/zoo/';
/** name -> expected outcome on the tfjs reference: [max |Δlogit|, mean KL] tolerances, or the E_ARCH message part */
const CASES: Record<string, [number, number] | RegExp> = {
  'llama-rope3': [1e-4, 1e-9],
  qwen2: [1e-4, 1e-9],
  qwen3: [1e-4, 1e-9],
  mistral: [1e-4, 1e-9],
  gemma2: [2e-4, 1e-9],
  gemma3: [2e-4, 1e-9],
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
    const [tolAbs, tolKl] = want;
    t.diagnostic(`${name} (${meta.architecture}, transformers ${meta.reference.transformers}): T=${T} max|Δlogit|=${c.maxAbsDiff.toExponential(3)} (tol ${tolAbs}), mean KL=${c.klMean.toExponential(3)} (tol ${tolKl})`);
    assert.ok(c.maxAbsDiff <= tolAbs, `max |Δlogit| ${c.maxAbsDiff} > ${tolAbs} at ${c.argMaxDiff}`);
    assert.ok(c.klMean <= tolKl, `mean KL ${c.klMean} > ${tolKl}`);
    const g = await generate(m, meta.ids, { maxTokens: meta.greedy_ids.length, stopIds: [] });
    assert.deepEqual(g.ids, meta.greedy_ids, 'greedy continuation differs from transformers');
    const gap = nativeEngineGap(m.config);
    if (gap) assert.throws(() => engineDims(m.config), (e) => isCodecError(e, 'E_ARCH') && e.message.includes(gap));
    m.dispose();
  });
}
