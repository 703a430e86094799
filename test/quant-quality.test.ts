/**
 * Quality metrics, sweep and diagnosis on a real (tiny, synthetic) LlamaModel.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { tf } from '../src/model/backend.js';
import { LlamaModel } from '../src/model/llama.js';
import { syntheticWeights, tinyConfig, writeHFModel } from '../src/model/synthetic.js';
import { diagnose, diagnoseFault } from '../src/lab/diagnose.js';
import { patch, unpatch } from '../src/lab/patch.js';
import { VERDICT_THRESHOLDS, compareToBaseline, perplexityFromLogits, runBaseline, verdict } from '../src/eval/quality.js';
import { isCodecError } from '../src/messages.js';
import { compareLogits } from '../src/eval/compare.js';
import { parseLayerList, progressiveSweep, toTable } from '../src/lab/sweep.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-quant-'));
const cfg = tinyConfig({ numLayers: 3 });
writeHFModel(path.join(tmp, 'hf'), cfg, syntheticWeights(cfg, 21), 'f32');
const tokens = [1, 17, 99, 3, 250, 42, 42, 7, 8, 100, 5, 60];

test('verdict thresholds', () => {
  const t = VERDICT_THRESHOLDS;
  assert.equal(verdict({ klMean: 0, top1: 1, pplRatio: 1, sameGreedy: true }), 'PERFECT');
  assert.equal(verdict({ klMean: t.perfectKl, top1: 1, pplRatio: 1, sameGreedy: true }), 'PERFECT');
  assert.equal(verdict({ klMean: 0, top1: 1, pplRatio: 1, sameGreedy: false }), 'MINOR');
  assert.equal(verdict({ klMean: t.minorKl, top1: t.minorTop1, pplRatio: t.minorPplRatio, sameGreedy: false }), 'MINOR');
  assert.equal(verdict({ klMean: t.minorKl * 1.01, top1: 1, pplRatio: 1, sameGreedy: true }), 'MAJOR');
  assert.equal(verdict({ klMean: 0.001, top1: t.minorTop1 - 0.01, pplRatio: 1, sameGreedy: false }), 'MAJOR');
  assert.equal(verdict({ klMean: 0.001, top1: 1, pplRatio: t.minorPplRatio + 0.01, sameGreedy: false }), 'MAJOR');
  assert.equal(verdict({ klMean: NaN, top1: 1, pplRatio: 1, sameGreedy: true }), 'MAJOR');
  // perplexity: uniform logits over V give ppl = V
  assert.ok(Math.abs(perplexityFromLogits(new Float32Array(3 * 8), [0, 1, 2], 8) - 8) < 1e-9);
});

test('patched tiny Llama: int8 per-channel is near-lossless, identity is PERFECT, a fault is not', async () => {
  const model = await LlamaModel.load(path.join(tmp, 'hf'));
  try {
    const base = runBaseline(model, tokens, { greedyTokens: 6 });
    assert.equal(base.residuals.length, 3);
    // nothing patched: identical
    const same = compareToBaseline(model, base);
    assert.equal(same.verdict, 'PERFECT');
    assert.equal(same.klMean, 0);
    assert.deepEqual(same.blockTrace, [0, 0, 0]);
    // int8 per-channel on every linear; the originals are released: tfjs holds exactly as many tensors and bytes
    const before = tf.memory();
    const r = patch(model, { select: 'all', quant: 'int8:per-channel' });
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors);
    assert.equal(after.numBytes, before.numBytes);
    assert.equal(r.memoryAfter, r.memoryBefore);
    assert.equal(r.modules.length, 3 * 7 + 1);
    assert.deepEqual(r.failed, []);
    const q = compareToBaseline(model, base);
    assert.ok(q.klMean > 0 && q.klMean < 1e-3, `kl ${q.klMean}`);
    assert.ok(Math.abs(q.pplRatio - 1) < 0.01, `ppl ratio ${q.pplRatio}`);
    assert.notEqual(q.verdict, 'MAJOR');
    assert.ok(q.blockTrace.every((e) => e > 0 && e < 0.02), `trace ${q.blockTrace}`);
    // the uncertainties: eval/kld.ts over the T-1 positions with a target, the same KL as compareLogits on those rows
    const { logits } = model.forward(tokens);
    const pl = Float32Array.from(logits.dataSync());
    logits.dispose();
    const V = model.config.vocabSize;
    const firstRows = compareLogits(base.logits.subarray(0, (tokens.length - 1) * V), pl.subarray(0, (tokens.length - 1) * V), V);
    assert.equal(q.stats.tokens, tokens.length - 1);
    assert.ok(Math.abs(q.stats.kld.mean - firstRows.klMean) <= 1e-9 * firstRows.klMean, `${q.stats.kld.mean} vs ${firstRows.klMean}`);
    assert.ok(q.stats.kld.stderr > 0 && q.stats.kld.stderr < q.stats.kld.mean, `stderr ${q.stats.kld.stderr}`);
    assert.ok(Math.abs(q.stats.ln_ppl_ratio - Math.log(q.ppl / q.baselinePpl)) < 1e-9);
    assert.equal(same.stats.kld.mean, 0);
    assert.equal(same.stats.same_top_p, 1);
    assert.equal(diagnose(model).firstBadLayer, null);
    // the seed's bug on the same model: far worse
    unpatch(model);
    patch(model, { select: 'all', quant: 'int8:per-channel', fault: 'wrong-layer' });
    const bad = compareToBaseline(model, base);
    assert.ok(bad.klMean > 100 * q.klMean, `wrong-layer kl ${bad.klMean} vs ${q.klMean}`);
    assert.ok(bad.blockTrace[0]! < 0.02 && bad.blockTrace[1]! > 0.1, `trace ${bad.blockTrace}`); // block 0 is fine
    const d = diagnose(model);
    assert.equal(d.firstBadLayer, 'model.layers.1.self_attn.q_proj');
    assert.equal(d.cause, 'wrong-layer');
    unpatch(model);
    const d2 = diagnoseFault(model, 'uint8-as-int8');
    assert.equal(d2.cause, 'uint8-as-int8');
    assert.equal(d2.firstBadLayer, d2.injected);
    unpatch(model);
    assert.equal(compareToBaseline(model, base).verdict, 'PERFECT');
  } finally {
    model.dispose();
  }
});

test('progressive sweep rows and their arquero table', async () => {
  const model = await LlamaModel.load(path.join(tmp, 'hf'));
  try {
    const rows = progressiveSweep(model, { layers: [1, 5, 'all'], quant: 'int8:per-channel', tokens, greedyTokens: 4 });
    assert.deepEqual(rows.map((r) => r.select), ['first:1', 'first:5', 'all']);
    for (const r of rows) {
      assert.ok(r.ratio > 1.85 && r.ratio < 2, `ratio ${r.ratio}`); // 16 / (8 + 32 / in_features)
      assert.equal(typeof r.output, 'string');
      assert.ok(r.timeS > 0);
      assert.equal(r.blockTrace.length, 3);
      assert.ok(r.klStderr > 0 && r.top1Stderr >= 0 && Number.isFinite(r.lnPplRatioStderr), `${r.klStderr} ${r.top1Stderr} ${r.lnPplRatioStderr}`);
    }
    assert.ok(rows[0]!.klMean <= rows[2]!.klMean);
    const t = toTable(rows);
    assert.equal(t.numRows(), 3);
    assert.deepEqual(t.array('layers'), ['1', '5', 'all']);
    assert.ok(!t.columnNames().includes('blockTrace'), 'the trace arrays stay on the rows');
    // every step restored the originals
    assert.ok(model.linears().every((l) => l.patch === null));
  } finally {
    model.dispose();
  }
});

test('parseLayerList', () => {
  assert.deepEqual(parseLayerList('1,5,10,20,all'), [1, 5, 10, 20, 'all']);
  assert.throws(
    () => parseLayerList('1,x'),
    (e: unknown) => isCodecError(e, 'E_ARG') && (e as Error).message === "invalid --layers: '1,x' is not a comma-separated list of positive integers and 'all'",
  );
  assert.throws(() => parseLayerList('0'), (e: unknown) => isCodecError(e, 'E_ARG'));
});
