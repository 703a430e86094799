/**
 * The quant lab on a large tied vocabulary (Gemma 3 270M: a 262,144 × 640 embedding that is also its lm_head) on
 * tfjs-wasm. A weight that has been through a matMul lives twice in the wasm heap (the tensor and XNNPACK's packed copy
 * of it, not counted by tf.memory()); patch() replaced each weight by uploading the new tensor before releasing the old
 * one, so patching the lm_head needed a third copy at the peak (3 × 0.63 GiB on Gemma) — the quant lab ran out of the
 * 4 GiB heap. setWeight now releases first, and the embedding table (only ever gathered by rows) stays in JS memory
 * instead of taking another vocab × hidden × 4 bytes of the heap. This test shows these facts on a tiny Gemma 3 with a
 * 64 MiB tied lm_head.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { LlamaModel } from '../src/model/llama.js';
import { tf } from '../src/model/backend.js';
import { tinyGemma3Config, syntheticWeights, writeHFModel } from '../src/model/synthetic.js';
import { patch, unpatch } from '../src/lab/patch.js';
import { runBaseline, compareToBaseline } from '../src/eval/quality.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-tied-head-'));
const cfg = tinyGemma3Config({ vocabSize: 131072, hiddenSize: 128, intermediateSize: 256, numLayers: 2 });
writeHFModel(tmp, cfg, syntheticWeights(cfg, 3), 'f32');
const HEAD = cfg.vocabSize * cfg.hiddenSize * 4; // 64 MiB

const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;

test('a tied 131k-vocab lm_head patched and restored three times on tfjs-wasm: the heap does not grow by a head copy', async (t) => {
  const m = await LlamaModel.load(tmp, { backend: 'wasm' });
  try {
    const ids = [2, 17, 99, 3, 250, 42, 7, 1];
    const h0 = heap();
    // after load: the lm_head's transposed copy and the small block weights; the embedding table is not in the heap
    assert.equal(m.embedTable.length * 4, HEAD);
    assert.ok(h0 < 1.5 * HEAD, `heap ${(h0 / 2 ** 20).toFixed(0)} MiB after load: the embedding table is in it`);
    const base = runBaseline(m, ids, { greedyTokens: 2 });
    const h1 = heap();
    // the first forward packs every weight: the heap grows by about the linears' own size (lm_head dominates)
    t.diagnostic(`heap ${(h0 / 2 ** 20).toFixed(0)} MiB after load, ${(h1 / 2 ** 20).toFixed(0)} MiB after the first forward (lm_head ${HEAD / 2 ** 20} MiB)`);
    assert.ok(h1 - h0 >= 0.9 * HEAD, 'the first matMul adds a packed copy of the lm_head to the wasm heap');
    const after: number[] = [];
    for (let round = 0; round < 3; round++) {
      const r = patch(m, { select: 'lm_head', quant: 'int8:per-channel' });
      assert.deepEqual(r.failed, []);
      const q = compareToBaseline(m, base);
      assert.ok(q.klMean > 0 && q.klMean < 0.05, `KL ${q.klMean}`);
      assert.ok(q.stats.kld.stderr > 0 && q.stats.tokens === ids.length - 1);
      unpatch(m);
      const back = compareToBaseline(m, base);
      assert.equal(back.klMean, 0, 'unpatch restores the exact logits');
      after.push(heap());
    }
    t.diagnostic(`heap after each patch/compare/unpatch round: ${after.map((h) => (h / 2 ** 20).toFixed(0)).join(', ')} MiB`);
    // Releasing first, a patch needs no extra copy; XNNPACK's packed copy is a little larger than the weight (it
    // carries the bias), so it may not fit the hole the old weight left: at most one packed-copy size of growth, once.
    // Uploading first grew the heap by two head copies.
    assert.ok(after.at(-1)! - h1 < 1.1 * HEAD, `the heap grew by ${((after.at(-1)! - h1) / 2 ** 20).toFixed(0)} MiB (a head copy is ${HEAD / 2 ** 20} MiB)`);
    assert.ok(after.at(-1)! - after[0]! < 0.1 * HEAD, 'no growth once the first round has run');
  } finally {
    m.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
