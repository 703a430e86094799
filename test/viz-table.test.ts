import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as aq from 'arquero';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { badge, formatBytes, formatMs, formatNumber, table, tensorStats, tensorSummary } from '../src/viz/index.js';
import { CodecLLMError, msg } from '../src/messages.js';

test('table: escaped HTML, aligned text, exact keys', () => {
  const b = table([{ name: '<script>alert(1)</script>', n: 3, x: 0.123456 }, { name: 'a&b', n: 12, x: 2.5 }]);
  assert.deepEqual(Object.keys(b).sort(), ['text/html', 'text/plain']);
  assert.ok(!b['text/html']!.includes('<script>'));
  assert.ok(b['text/html']!.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(b['text/html']!.includes('<td style="text-align:left">a&amp;b</td>'));
  assert.equal(
    b['text/plain'],
    ['name                        n       x', '-------------------------  --  ------', '<script>alert(1)</script>   3  0.1235', 'a&b                        12     2.5'].join('\n'),
  );
});

test('table: arquero input, maxRows footer counts the rest', () => {
  const t = aq.table({ i: Array.from({ length: 120 }, (_, k) => k) });
  const b = table(t, { maxRows: 10 });
  assert.equal((b['text/html']!.match(/<tr>/g) ?? []).length, 1 + 10 + 1);
  assert.ok(b['text/html']!.includes('… 110 more rows (120 total)'));
  assert.ok(b['text/plain'].endsWith('… 110 more rows (120 total)'));
});

test('formatters', () => {
  assert.equal(formatNumber(0.123456), '0.1235');
  assert.equal(formatNumber(12345678.9), '1.235e+7');
  assert.equal(formatNumber(1e-7), '1e-7');
  assert.equal(formatNumber(42), '42');
  assert.equal(formatNumber(NaN), 'NaN');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(3 * 1024 ** 3), '3 GiB');
  assert.equal(formatMs(1534), '1.53 s');
  assert.equal(formatMs(0.25), '250 µs');
});

test('badge: label | bytes | time | extras, HTML escaped', () => {
  const b = badge({ label: 'decode <L3>', bytes: 12_582_912, ms: 4.2, extra: { ratio: 1.3333333 } });
  assert.equal(b['text/plain'], 'decode <L3> | 12 MiB | 4.2 ms | ratio 1.333');
  assert.ok(b['text/html']!.includes('decode &lt;L3&gt;'));
  assert.ok(!b['text/html']!.includes('<L3>'));
});

test('tensorStats matches a float64 two-pass reference; NaN/Inf counted apart', () => {
  let s = 7;
  const data = Float32Array.from({ length: 10_001 }, () => ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5) * 3);
  data[5] = NaN;
  data[9] = -Infinity;
  const finite = [...data].filter(Number.isFinite);
  const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
  const std = Math.sqrt(finite.reduce((a, b) => a + (b - mean) ** 2, 0) / finite.length);
  const st = tensorStats({ shape: [73, 137], data });
  assert.deepEqual(st.shape, [73, 137]);
  assert.equal(st.dtype, 'float32');
  assert.equal(st.size, 10_001);
  assert.equal(st.nan, 1);
  assert.equal(st.inf, 1);
  assert.equal(st.min, Math.min(...finite));
  assert.equal(st.max, Math.max(...finite));
  const tol = (ref: number) => 1e-12 + 1e-9 * Math.abs(ref);
  assert.ok(Math.abs(st.mean - mean) <= tol(mean), `mean ${st.mean} vs ${mean}`);
  assert.ok(Math.abs(st.std - std) <= tol(std), `std ${st.std} vs ${std}`);
  assert.deepEqual(st.head, [...data.subarray(0, 8)]);
});

test('tensorSummary: summarized, never dumped (1M elements → short text)', () => {
  const b = tensorSummary(new Float32Array(1_000_000).fill(0.5), { name: 'w' });
  assert.deepEqual(Object.keys(b).sort(), ['text/html', 'text/plain']);
  assert.equal(
    b['text/plain'],
    'w: Tensor float32 [1000000] (1000000 elements): min 0.5  max 0.5  mean 0.5  std 0\n  values [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, …]',
  );
  assert.ok(b['text/html']!.length < 1000);
});

test('tensorSummary: tfjs tensors (dtype and shape from the tensor)', async () => {
  await tf.setBackend('cpu');
  const t = tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32');
  const st = tensorStats(t);
  assert.deepEqual([st.shape, st.dtype, st.min, st.max, st.mean], [[2, 2], 'int32', 1, 4, 2.5]);
  t.dispose();
});

test('tensorSummary: shape/data mismatch and non-tensors are one-line errors', () => {
  assert.throws(() => tensorSummary({ shape: [2, 3], data: new Float32Array(5) }), (e: unknown) => {
    assert.ok(e instanceof CodecLLMError && e.code === 'E_SHAPE');
    assert.equal(e.message, 'tensorSummary: shape [2, 3] has 6 elements but the data has 5');
    assert.equal(e.message, msg.vizTensorSize([2, 3], 5));
    return true;
  });
  assert.throws(() => tensorSummary('x' as never), { message: msg.vizNotTensor('string') });
  assert.throws(() => tensorSummary(new Map() as never), { message: 'tensorSummary: expected a Float32Array, number[], {shape, data} or tfjs Tensor, got Map' });
});
