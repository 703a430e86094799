/**
 * The TS reference against PyTorch + transformers (CPU, float32), from the stored reference files in data/reference/
 * (made by scripts/reference/torch_logits.py; see each JSON's `reference` block for versions and date).
 *
 * Tolerance (stated, per case): both sides compute in float32 with different operation orders, so logits differ by
 * rounding that grows with depth. TOL_ABS bounds max |Δlogit|; TOL_KL bounds the mean KL(torch ‖ ts) per position.
 * Greedy continuations must match token for token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { LlamaModel } from '../src/model/llama.js';
import { generate } from '../src/model/generate.js';
import { compareLogits } from '../src/eval/compare.js';
import { packageRoot } from '../src/util/paths.js';

const ROOT = packageRoot();
const REF = path.join(ROOT, 'data', 'reference');
/** name -> [max |Δlogit|, mean KL] tolerances */
const TOL: Record<string, [number, number]> = {
  'tiny-llama': [1e-4, 1e-9],
  'tiny-qwen2': [1e-4, 1e-9],
  smollm2: [5e-4, 1e-8],
};

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

for (const name of Object.keys(TOL)) {
  test(`logits match PyTorch: ${name}`, async (t) => {
    const meta = JSON.parse(fs.readFileSync(path.join(REF, `${name}.json`), 'utf8'));
    const weights = path.join(ROOT, meta.weights_file);
    if (!fs.existsSync(weights)) {
      if (process.env.CI) assert.fail(`${weights} missing under CI (make setup fetches it)`);
      t.skip(`${weights} not present (run make setup)`);
      return;
    }
    assert.equal(sha256(weights), meta.weights_sha256, 'reference was computed on other weights');
    const buf = fs.readFileSync(path.join(REF, meta.logits_file));
    const ref = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const [T, V] = meta.logits_shape as [number, number];
    const m = await LlamaModel.load(name === 'smollm2' ? weights : path.dirname(weights));
    const { logits } = m.forward(meta.ids);
    const c = compareLogits(ref, logits.dataSync() as Float32Array, V);
    logits.dispose();
    const [tolAbs, tolKl] = TOL[name]!;
    t.diagnostic(`${name}: T=${T} max|Δlogit|=${c.maxAbsDiff.toExponential(3)} at ${c.argMaxDiff} (tol ${tolAbs}), mean KL=${c.klMean.toExponential(3)} (tol ${tolKl}), top-1 agreement ${c.top1Agreement}`);
    assert.ok(c.maxAbsDiff <= tolAbs, `max |Δlogit| ${c.maxAbsDiff} > ${tolAbs} at position/index ${c.argMaxDiff}`);
    assert.ok(c.klMean <= tolKl, `mean KL ${c.klMean} > ${tolKl}`);
    assert.equal(c.top1Agreement, 1);
    const g = await generate(m, meta.ids, { maxTokens: meta.greedy_ids.length, stopIds: [] });
    assert.deepEqual(g.ids, meta.greedy_ids, 'greedy continuation differs from transformers');
    m.dispose();
  });
}
