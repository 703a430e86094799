/**
 * Gemma 3 270M on the tfjs reference against PyTorch + transformers (float32, eager attention, weights dequantized
 * from the same GGUF and checked against gguf.quants' hashes), from data/reference/gemma3-transformers.json made by
 * scripts/reference/gemma_logits.py on the GPU host. Stored per position: the reference's top-64 logits and its
 * logsumexp over the whole vocabulary (the file stays a few KB). Two cases: a short prompt (every position) and the
 * first 600 tokens of data/texts/eval.txt (last 4 positions; beyond the 512-token sliding window).
 *
 * Tolerance: both sides compute in float32 in different orders through 18 layers; logits are ~±30. TOL_ABS bounds
 * |Δlogit| over the stored top-64 ids and |Δlogsumexp|; top-1 must agree; the greedy continuation must match.
 * Skips with the command to run until the reference file exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { LlamaModel } from '../src/model/llama.js';
import { tf } from '../src/model/backend.js';
import { generate } from '../src/model/generate.js';
import { dataDir, packageRoot } from '../src/util/paths.js';

const TOL_ABS = 2e-3;
const REF = path.join(packageRoot(), 'data', 'reference', 'gemma3-transformers.json');

test('Gemma 3 270M logits match transformers (float32) on stored top-64 logits and logsumexp', async (t) => {
  if (!fs.existsSync(REF)) {
    t.skip(`${REF} not generated yet: run \`python3 scripts/reference/gemma_logits.py\` where torch + transformers are installed (the GPU host) and commit it`);
    return;
  }
  const ref = JSON.parse(fs.readFileSync(REF, 'utf8'));
  const file = path.join(dataDir(), 'models', ref.model);
  if (!fs.existsSync(file)) {
    if (process.env.CI) assert.fail(`${file} missing under CI (make setup fetches it)`);
    t.skip(`${file} not present (run make setup)`);
    return;
  }
  assert.equal(crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'), ref.model_sha256, 'reference made from another file');
  // The 600-token case (past the 512-token sliding window) does not fit the wasm backend's 4 GiB heap beside the
  // 1.6 GiB float32 model and takes ~15 min on the tfjs cpu backend of this 2-core machine: it runs with
  // CODECLLM_SLOW_TESTS=1 (passed 2026-12-02: max |Δlogit| 4.4e-5 over both cases); the short case always runs.
  const slow = process.env.CODECLLM_SLOW_TESTS === '1';
  const cases = (ref.cases as { name: string; ids: number[] }[]).filter((c) => slow || c.ids.length <= 512);
  if (cases.length < ref.cases.length) t.diagnostic(`${ref.cases.length - cases.length} long case(s) skipped (set CODECLLM_SLOW_TESTS=1)`);
  const m = await LlamaModel.load(file, slow ? { backend: 'cpu' } : {});
  let worst = 0, worstLse = 0;
  for (const c of cases as { name: string; ids: number[]; positions: number[]; top_ids: number[][]; top_logits: number[][]; logsumexp: number[]; greedy_ids?: number[] }[]) {
    const from = Math.min(...c.positions);
    const { logits } = m.forward(c.ids, undefined, { logitsFrom: from });
    const lse = tf.tidy(() => tf.logSumExp(logits, -1).dataSync() as Float32Array);
    const L = logits.dataSync() as Float32Array;
    const V = m.config.vocabSize;
    logits.dispose();
    c.positions.forEach((p, k) => {
      const row = L.subarray((p - from) * V, (p - from + 1) * V);
      let top = 0;
      for (let j = 1; j < V; j++) if (row[j]! > row[top]!) top = j;
      assert.equal(top, c.top_ids[k]![0], `${c.name} position ${p}: top-1`);
      c.top_ids[k]!.forEach((id, j) => (worst = Math.max(worst, Math.abs(row[id]! - c.top_logits[k]![j]!))));
      worstLse = Math.max(worstLse, Math.abs(lse[p - from]! - c.logsumexp[k]!));
    });
    if (c.greedy_ids) {
      const g = await generate(m, c.ids, { maxTokens: c.greedy_ids.length, stopIds: [] });
      assert.deepEqual(g.ids, c.greedy_ids, `${c.name}: greedy continuation`);
    }
  }
  t.diagnostic(`transformers ${ref.reference.transformers}, torch ${ref.reference.torch} (${ref.reference.date}): max |Δlogit| over top-64 ${worst.toExponential(3)}, max |Δlogsumexp| ${worstLse.toExponential(3)} (tol ${TOL_ABS})`);
  assert.ok(worst <= TOL_ABS, `max |Δlogit| ${worst} > ${TOL_ABS}`);
  assert.ok(worstLse <= TOL_ABS, `max |Δlogsumexp| ${worstLse} > ${TOL_ABS}`);
  m.dispose();
});
