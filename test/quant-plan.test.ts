/** The quant plan: one resolution of a spec, and the quantizer's output has exactly the plan's shape. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planOf, quantPlan } from '../src/quant/plan.js';
import { quantize } from '../src/quant/quantize.js';
import { QUANT_FORMATS, FORMAT_INFO } from '../src/quant/spec.js';
import { makeWeights } from './quant-helpers.js';

const specs = ['int8:per-channel', 'int8:group=32:asym:scale=fp16', 'int4:group=64', 'int4:per-tensor:asym:scale=bf16', 'nf4:group=32', 'fp8:per-input-channel'];

test('quantize() output matches its plan: array types, byte sizes, groups', () => {
  const [rows, cols] = [6, 80];
  const w = makeWeights('heavy', rows, cols, 7);
  for (const s of specs) {
    const q = quantize(w, [rows, cols], s);
    const p = quantPlan(s, rows, cols);
    assert.equal(q.codes.constructor, p.codesArray, s);
    assert.equal(q.scales.constructor, p.scalesArray, s);
    assert.equal(q.codes.byteLength, p.sizes.codeBytes, s);
    assert.equal(q.scales.length, p.layout.nGroups, s);
    assert.equal(q.zeros?.byteLength ?? 0, p.sizes.zeroBytes, s);
    assert.equal(planOf(q), planOf(q), 'planOf caches per tensor');
  }
});

test('plan encoder and decoder agree: every stored value decodes, and re-encodes to itself', () => {
  for (const f of QUANT_FORMATS) {
    const p = quantPlan(`${f}:per-tensor`, 1, 1);
    for (let u = 0; u < p.storedValues; u++) {
      const code = p.codeOfStored(u);
      const v = p.value(code, 0);
      assert.equal(p.valueTable![u], v, `${f} stored ${u}`);
      if (f === 'fp8' && (u & 0x7f) === 0x7f) continue; // NaN bit patterns: no value to re-encode
      if (Math.abs(v) > FORMAT_INFO[f].symMax) continue; // int8 -128, int4 stored 0 (-8): never written by quantize
      const back = p.encode(v, 0);
      assert.equal(p.value(back.code, 0), v, `${f} stored ${u}: value ${v}`);
      assert.equal(back.clipped, false, `${f} stored ${u}`);
    }
    // beyond the end code: clipped and saturated at the end value
    const far = p.encode(FORMAT_INFO[f].symMax * 4, 0);
    assert.equal(far.clipped, true, f);
    assert.equal(Math.abs(p.value(far.code, 0)), FORMAT_INFO[f].symMax, f);
  }
  const a = quantPlan('int4:group=32:asym', 1, 32);
  assert.equal(a.valueTable, null);
  assert.deepEqual([a.encode(-3.4, 5), a.value(2, 5), a.zeroPoint(-1, 0.25)], [{ code: 2, clipped: false }, -3, 4]);
});
