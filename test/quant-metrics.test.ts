import assert from 'node:assert/strict';
import { test } from 'node:test';

import { checkBound, errorBound, errorStats } from '../src/quant/metrics.js';
import { dequantize, groupOfWeight, quantize } from '../src/quant/quantize.js';
import { formatSpec } from '../src/quant/spec.js';
import { KINDS, SHAPES, allSpecs, makeWeights } from './quant-helpers.js';

test('errorStats: known values', () => {
  const w = Float32Array.from([1, -2, 3, 0]);
  const same = errorStats(w, w);
  assert.deepEqual(same, { n: 4, meanAbsErr: 0, maxAbsErr: 0, relFrobenius: 0, sqnrDb: Infinity, cosine: 1 });
  const a = Float32Array.from([1, -2, 3.5, 0.5]); // errors 0, 0, -0.5, -0.5
  const e = errorStats(w, a);
  assert.equal(e.meanAbsErr, 0.25);
  assert.equal(e.maxAbsErr, 0.5);
  assert.equal(e.relFrobenius, Math.sqrt(0.5 / 14));
  assert.equal(e.sqnrDb, 10 * Math.log10(14 / 0.5));
  assert.equal(e.cosine, (1 + 4 + 10.5) / Math.sqrt(14 * (1 + 4 + 12.25 + 0.25)));
  assert.equal(errorStats(w, Float32Array.from([-1, 2, -3, 0])).cosine, -1);
  assert.equal(errorStats(new Float32Array(3), new Float32Array(3)).cosine, 1);
  assert.equal(errorStats(new Float32Array(3), Float32Array.from([0, 1, 0])).relFrobenius, Infinity);
});

test('errorBound / checkBound hold for every scheme x weight kind x shape', () => {
  let seed = 50_000;
  let tightest = 0; // the largest error / bound seen: the sweep must come near the bound, or it proves little
  for (const spec of allSpecs()) {
    for (const kind of KINDS) {
      for (const [rows, cols] of SHAPES) {
        const w = makeWeights(kind, rows, cols, seed++);
        const q = quantize(w, [rows, cols], spec);
        const label = `${formatSpec(spec)} ${kind} [${rows}, ${cols}]`;
        const chk = checkBound(q, w);
        if (!chk.ok) assert.fail(`${label}: ${chk.violations} violations, first ${JSON.stringify(chk.first[0])}`);
        tightest = Math.max(tightest, chk.maxRatio);
        const dq = dequantize(q);
        const gb = errorBound(q);
        for (let r = 0; r < rows; r++)
          for (let c = 0; c < cols; c++) {
            const i = r * cols + c;
            const g = groupOfWeight(q, r, c);
            if (!(Math.abs(w[i]! - dq[i]!) <= gb[g]!)) assert.fail(`${label}: group bound ${gb[g]} < error ${Math.abs(w[i]! - dq[i]!)} at ${i}`);
          }
      }
    }
  }
  assert.ok(tightest > 0.9 && tightest <= 1, `largest error / bound over the sweep: ${tightest}`);
});

test('the bound is tight enough to be useful: ~s/2 for int8, and overflowed scales have none', () => {
  const w = makeWeights('normal', 32, 256, 3);
  const q = quantize(w, [32, 256], 'int8:per-channel');
  const gb = errorBound(q);
  const dq = dequantize(q);
  for (let r = 0; r < 32; r++) {
    let maxErr = 0;
    for (let c = 0; c < 256; c++) maxErr = Math.max(maxErr, Math.abs(w[r * 256 + c]! - dq[r * 256 + c]!));
    assert.ok(maxErr > 0.8 * gb[r]! * 0.5, `row ${r}: bound ${gb[r]} far above error ${maxErr}`); // within 2.5x
    assert.ok(gb[r]! < 0.51 * (Math.max(...w.slice(r * 256, r * 256 + 256).map(Math.abs)) / 127));
  }
  const huge = Float32Array.from([1e7, -2e7, 3, 4]);
  const qh = quantize(huge, [1, 4], 'int8:per-tensor:scale=fp16');
  assert.equal(qh.stats.scaleOverflow, 1);
  assert.equal(errorBound(qh)[0], Infinity);
});

test('checkBound catches the seed bugs: another layer, a transposed weight, scales on the wrong axis', () => {
  const rows = 48;
  const cols = 64;
  const w = makeWeights('normal', rows, cols, 11);
  const other = makeWeights('normal', rows, cols, 12);
  for (const spec of ['int8:per-channel', 'int8:per-channel:scale=fp16', 'int4:group=32', 'nf4:group=64', 'fp8']) {
    const q = quantize(w, [rows, cols], spec);
    assert.ok(checkBound(q, w).ok, spec);
    // wrong layer: q holds layer A, the module is layer B
    const wrong = checkBound(q, other);
    assert.ok(!wrong.ok && wrong.violations > 0.5 * rows * cols, `${spec}: wrong layer ${wrong.violations}`);
    // transposed: the module's original read as (cols, rows)
    const t = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c]!;
    const tq = checkBound(quantize(t, [cols, rows], spec), w);
    assert.ok(!tq.ok && tq.violations > 0.5 * rows * cols, `${spec}: transposed ${tq.violations}`);
    assert.equal(tq.first.length, 5);
  }
  // scales broadcast along the wrong axis: per-channel scales applied per column (a square weight, so it fits)
  const sq = makeWeights('heavy', 64, 64, 13);
  const q = quantize(sq, [64, 64], 'int8:per-channel');
  const wrongAxis = { ...q, spec: { ...q.spec, granularity: 'per-input-channel' as const } };
  const bad = checkBound(wrongAxis, sq);
  assert.ok(!bad.ok && bad.violations > 64 * 64 * 0.3, `wrong axis ${bad.violations}`);
  // a module holding a tensor other than dequantize(q) (e.g. a stale buffer) is caught through `dequantized`
  const stale = dequantize(quantize(other, [rows, cols], 'int8:per-channel'));
  assert.ok(!checkBound(quantize(w, [rows, cols], 'int8:per-channel'), w, stale).ok);
});
