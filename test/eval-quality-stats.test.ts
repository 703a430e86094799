/**
 * The quality report's statistics (src/eval/kld.ts, llama.cpp's --kl-divergence definitions) against a
 * straightforward independent computation (float64 softmax, two-pass means and sample standard deviations, sorted
 * quantiles), the strided-window rule (every token scored once), and the on-disk baseline cache (round trip exact,
 * a damaged file is one E_FORMAT line, a cached sweep equals an uncached one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QualityAccumulator, percentileSorted } from '../src/eval/kld.js';
import { windowPlan, forEachScoredRow } from '../src/eval/windows.js';
import { baselineLogits } from '../src/eval/base-logits.js';
import { scoreAgainstBaseline } from '../src/eval/quality-report.js';
import { perplexity } from '../src/eval/perplexity.js';
import { tfjsEngine } from '../src/engine/tfjs.js';
import { normalRng, syntheticWeights, tinyConfig, writeHFModel } from '../src/model/synthetic.js';
import { LlamaModel } from '../src/model/llama.js';
import { patch } from '../src/lab/patch.js';
import { isCodecError } from '../src/messages.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-kld-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol * (1 + Math.abs(b)), `${what}: ${a} vs ${b}`);

test('statistics equal an independent computation on random distributions', () => {
  const V = 40;
  const n = 333;
  const r = normalRng(9);
  const acc = new QualityAccumulator(V);
  const kl: number[] = [];
  const pq: number[] = [];
  const pb: number[] = [];
  const nq: number[] = [];
  const nb: number[] = [];
  let same = 0;
  for (let t = 0; t < n; t++) {
    const base = Array.from({ length: V }, () => 2 * r());
    const pat = base.map((x) => x + 0.3 * r() + 1.7); // an offset: logits need not be normalized
    const target = Math.floor(Math.abs(r() * 997)) % V;
    // independent: float64 softmax
    const soft = (x: number[]) => {
      const e = x.map((v) => Math.exp(v));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s);
    };
    const P = soft(base);
    const Q = soft(pat);
    kl.push(P.reduce((s, p, i) => s + p * Math.log(p / Q[i]!), 0));
    pq.push(Q[target]!);
    pb.push(P[target]!);
    nq.push(-Math.log(Q[target]!));
    nb.push(-Math.log(P[target]!));
    if (P.indexOf(Math.max(...P)) === Q.indexOf(Math.max(...Q))) same++;
    acc.add(Float64Array.from(P, (p) => Math.log(p)), Float32Array.from(pat), target, -Math.log(P[target]!));
  }
  const s = acc.finish();
  const mean = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;
  const sd = (x: number[]) => Math.sqrt(x.reduce((a, v) => a + (v - mean(x)) ** 2, 0) / (x.length - 1));
  const sorted = [...kl].sort((a, b) => a - b);
  const quantile = (f: number) => {
    const h = (sorted.length - 1) * f;
    const lo = Math.floor(h);
    const hi = Math.ceil(h);
    return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
  };
  // pattern tolerance: float32 logits of the patched side vs float64 here
  const tol = 1e-5;
  assert.equal(s.tokens, n);
  close(s.kld.mean, mean(kl), tol, 'kld mean');
  close(s.kld.stderr, sd(kl) / Math.sqrt(n), 1e-4, 'kld stderr');
  close(s.kld.median, quantile(0.5), tol, 'median');
  close(s.kld.p90, quantile(0.9), tol, 'p90');
  close(s.kld.p99, quantile(0.99), tol, 'p99');
  close(s.kld.p999, quantile(0.999), tol, 'p99.9');
  close(s.kld.max, sorted.at(-1)!, tol, 'max');
  close(s.same_top_p, same / n, 0, 'same top');
  close(s.same_top_p_stderr, Math.sqrt(((same / n) * (1 - same / n)) / (n - 1)), 1e-12, 'same top stderr');
  const dp = pq.map((q, i) => q - pb[i]!);
  close(s.mean_dp, mean(dp), tol, 'mean dp');
  close(s.mean_dp_stderr, sd(dp) / Math.sqrt(n), 1e-4, 'mean dp stderr');
  close(s.rms_dp, Math.sqrt(mean(dp.map((d) => d * d))), tol, 'rms dp');
  close(s.ppl, Math.exp(mean(nq)), tol, 'ppl');
  close(s.baseline_ppl, Math.exp(mean(nb)), 1e-12, 'baseline ppl');
  const se = sd(nq) / Math.sqrt(n);
  close(s.ppl_ci95[0], Math.exp(mean(nq) - 1.96 * se), tol, 'ppl ci lo');
  close(s.ppl_ci95[1], Math.exp(mean(nq) + 1.96 * se), tol, 'ppl ci hi');
  const d = nq.map((q, i) => q - nb[i]!);
  close(s.ln_ppl_ratio, mean(d), tol, 'ln ratio');
  close(s.ln_ppl_ratio_stderr, sd(d) / Math.sqrt(n), 1e-4, 'ln ratio stderr');
  close(s.ppl_ratio, Math.exp(mean(nq)) / Math.exp(mean(nb)), tol, 'ppl ratio');
  const pearson = (x: number[], y: number[]) => {
    const mx = mean(x);
    const my = mean(y);
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < x.length; i++) {
      sxy += (x[i]! - mx) * (y[i]! - my);
      sxx += (x[i]! - mx) ** 2;
      syy += (y[i]! - my) ** 2;
    }
    return sxy / Math.sqrt(sxx * syy);
  };
  close(s.nll_correlation, pearson(nq, nb), 1e-6, 'nll correlation');
  close(s.p_correlation, pearson(pq, pb), 1e-6, 'p correlation');
  assert.ok(s.kld.median <= s.kld.p90 && s.kld.p90 <= s.kld.p99 && s.kld.p99 <= s.kld.p999 && s.kld.p999 <= s.kld.max);
  assert.equal(percentileSorted([1, 2, 3, 4], 0.5), 2.5);
});

test('the strided-window rule scores every token after the first exactly once', () => {
  for (const [n, w, s] of [[10, 4, 2], [711, 512, 256], [100, 16, 16], [5, 64, 32], [513, 512, 1]] as const) {
    const seen = new Array<number>(n).fill(0);
    for (const win of windowPlan(n, w, s)) {
      assert.ok(win.end - win.begin <= w);
      for (let r = win.firstRow; r < win.end - 1 - win.begin; r++) seen[win.begin + r + 1]!++;
    }
    assert.deepEqual(seen, [0, ...new Array(n - 1).fill(1)], `${n}/${w}/${s}`);
  }
  assert.throws(() => windowPlan(10, 4, 5), (e: unknown) => isCodecError(e, 'E_ARG'));
});

test('baseline cache: exact round trip, a cached score equals an uncached one, a damaged file is one E_FORMAT line', async () => {
  const c = tinyConfig({ numLayers: 2 });
  const dir = path.join(tmp, 'm');
  writeHFModel(dir, c, syntheticWeights(c, 4), 'f32');
  const m = await LlamaModel.load(dir);
  try {
    const e = tfjsEngine(m);
    const ids = Array.from({ length: 70 }, (_, i) => (i * 13 + 7) % c.vocabSize);
    const cacheDir = path.join(tmp, 'cache');
    const a = await baselineLogits(e, ids, { window: 32, stride: 16, cacheDir });
    assert.equal(a.cached, false);
    const b = await baselineLogits(e, ids, { window: 32, stride: 16, cacheDir });
    assert.equal(b.cached, true);
    assert.deepEqual(b.base.ids, ids);
    assert.deepEqual(Array.from(b.base.nll), Array.from(a.base.nll));
    assert.ok(Buffer.from(b.base.logProbs.buffer, b.base.logProbs.byteOffset, b.base.logProbs.byteLength).equals(Buffer.from(a.base.logProbs.buffer)));
    // the baseline's NLLs are perplexity()'s
    const p = await perplexity(e, ids, { window: 32, stride: 16 });
    const self = await scoreAgainstBaseline(e, b.base);
    assert.equal(self.baseline_ppl, p.ppl);
    assert.equal(self.tokens, ids.length - 1);
    assert.ok(Math.abs(self.kld.mean) < 1e-7 && self.kld.max < 1e-6 && self.same_top_p === 1 && Math.abs(self.ln_ppl_ratio) < 1e-9, JSON.stringify(self.kld));
    // a patched model scored against the cached and the fresh baseline: identical reports
    patch(m, { select: 'all', quant: 'int4:group=32' });
    const s1 = await scoreAgainstBaseline(e, a.base);
    const s2 = await scoreAgainstBaseline(e, b.base);
    assert.deepEqual(s1, s2);
    assert.ok(s1.kld.mean > 0 && s1.ppl !== s1.baseline_ppl);
    let rows = 0;
    await forEachScoredRow(e, ids, 32, 16, () => rows++);
    assert.equal(rows, ids.length - 1);
    // damage: truncate
    fs.truncateSync(b.file!, fs.statSync(b.file!).size - 4);
    await assert.rejects(baselineLogits(e, ids, { window: 32, stride: 16, cacheDir }), (x: unknown) => isCodecError(x, 'E_FORMAT') && (x as Error).message.startsWith(b.file!) && !(x as Error).message.includes('\n'));
  } finally {
    m.dispose();
  }
});
