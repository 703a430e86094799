import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as aq from 'arquero';
import { barChart, binValues, chart, histogram, lineChart, scatter, VEGALITE_MIME, VEGALITE_SCHEMA } from '../src/viz/index.js';
import { CodecLLMError, msg } from '../src/messages.js';

/** Data-mark elements of a vega SVG (inside role-mark groups), by group class. */
function marks(svg: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = /<g class="mark-(\w+) role-mark[^"]*"[^>]*>([\s\S]*?)<\/g>/g;
  for (const m of svg.matchAll(re)) {
    const n = (m[2]!.match(/<(path|rect|line|circle)\b/g) ?? []).length;
    out.set(m[1]!, (out.get(m[1]!) ?? 0) + n);
  }
  return out;
}

const rows = [0, 1, 2, 3, 4].map((i) => ({ step: i, loss: 5 - i, acc: i / 4, run: i % 2 ? 'b' : 'a' }));

test('chart: bundle has exactly the vega-lite v5 JSON object, an SVG and text/plain', async () => {
  const spec = { title: 'demo', data: { values: rows }, mark: 'point', encoding: { x: { field: 'step', type: 'quantitative' }, y: { field: 'loss', type: 'quantitative' } } } as const;
  const b = await chart(spec as never);
  // the keys JupyterLab renders (its vega-lite v5 renderer), not the library's constant compared with itself
  assert.deepEqual(Object.keys(b).sort(), ['application/vnd.vegalite.v5+json', 'image/svg+xml', 'text/plain']);
  const vl = b[VEGALITE_MIME] as unknown as Record<string, unknown>;
  assert.equal(typeof vl, 'object', 'the spec is an object, not a string');
  assert.equal(vl.$schema, 'https://vega.github.io/schema/vega-lite/v5.json');
  assert.deepEqual(JSON.parse(JSON.stringify(vl)), { ...spec, $schema: VEGALITE_SCHEMA });
  const svg = b['image/svg+xml']!;
  assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal(marks(svg).get('symbol'), rows.length, 'one symbol per row');
  assert.ok(svg.includes('>demo</text>'), 'title rendered');
  assert.equal(b['text/plain'], '[chart: demo (point, 5 rows)]');
});

test('chart: a caller-set $schema is replaced by the v5 schema the frontends expect', async () => {
  const b = await chart({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', data: { values: rows }, mark: 'bar', encoding: { x: { field: 'run' }, y: { field: 'loss', aggregate: 'sum' } } } as never);
  assert.equal((b[VEGALITE_MIME] as { $schema: string }).$schema, VEGALITE_SCHEMA);
  assert.equal(marks(b['image/svg+xml']!).get('rect'), 2);
});

test('lineChart: one line per y field (folded in JS: one row per point), points on it; arquero tables work as input', async () => {
  const t = aq.from(rows);
  const b = await lineChart(t, { x: 'step', y: ['loss', 'acc'], title: 'two series' });
  const spec = b[VEGALITE_MIME] as { transform: unknown; data: { values: Record<string, unknown>[] }; encoding: { color: { field: string } } };
  assert.equal(spec.transform, undefined);
  assert.equal(spec.data.values.length, 10);
  assert.deepEqual(spec.data.values.slice(0, 2).map((r) => [r.step, r.series, r.value]), [[0, 'loss', 5], [0, 'acc', 0]]);
  assert.equal(spec.encoding.color.field, 'series');
  const m = marks(b['image/svg+xml']!);
  assert.equal(m.get('line'), 2, 'two line paths');
  assert.equal(m.get('symbol'), 10, 'a point per row and series');
});

test('barChart / scatter: marks per row; color groups bars', async () => {
  const bars = await barChart(rows, { x: 'step', y: 'loss', color: 'run' });
  assert.equal(marks(bars['image/svg+xml']!).get('rect'), 5);
  assert.deepEqual((bars[VEGALITE_MIME] as { encoding: { x: unknown } }).encoding.x, { field: 'step', type: 'nominal', title: 'step', sort: null });
  const pts = await scatter(rows, { x: 'loss', y: 'acc', logY: false });
  assert.equal(marks(pts['image/svg+xml']!).get('symbol'), 5);
});

test('builders name a missing field in the error', async () => {
  await assert.rejects(lineChart(rows, { x: 'step', y: 'nope' }), (e: unknown) => {
    assert.ok(e instanceof CodecLLMError);
    assert.equal(e.code, 'E_ARG');
    assert.equal(e.message, msg.vizNoField('nope', ['step', 'loss', 'acc', 'run']));
    assert.equal(e.message, "chart: no field 'nope' in the data (fields: step, loss, acc, run)");
    return true;
  });
});

test('binValues: nice shared bins, NaN/Inf skipped, counts add up', () => {
  const b = binValues({ a: [0, 0.1, 0.5, 0.99, 1, NaN, Infinity], b: [0.25] }, 2);
  assert.deepEqual(b, [
    { series: 'a', start: 0, end: 0.5, count: 2 },
    { series: 'a', start: 0.5, end: 1, count: 2 },
    { series: 'a', start: 1, end: 1.5, count: 1 },
    { series: 'b', start: 0, end: 0.5, count: 1 },
    { series: 'b', start: 0.5, end: 1, count: 0 },
    { series: 'b', start: 1, end: 1.5, count: 0 },
  ]);
  assert.deepEqual(binValues({ e: [NaN] }), []);
  assert.throws(() => binValues({ a: [1] }, 0), { message: msg.badArg('bins', '0 (expected an integer in [1, 10000])') });
});

test('histogram: only bin counts enter the spec (100k values → < 200 rows), bars drawn', async () => {
  let s = 1;
  const v = Float32Array.from({ length: 100_000 }, () => ((s = (s * 48271) % 2147483647) / 2147483647) * 2 - 1);
  const b = await histogram(v, { bins: 50 });
  const values = (b[VEGALITE_MIME] as { data: { values: { count: number }[] } }).data.values;
  assert.ok(values.length <= 60 && values.length >= 40, `bins: ${values.length}`);
  assert.equal(values.reduce((a, r) => a + r.count, 0), 100_000);
  assert.equal(marks(b['image/svg+xml']!).get('rect'), values.length);
  assert.ok(JSON.stringify(b).length < 60_000);
});

test('chart never mutates the caller data (vega tags rows while rendering)', async () => {
  const data = [{ a: 1, b: 2 }];
  const b = await chart({ data: { values: data }, mark: 'point', encoding: { x: { field: 'a', type: 'quantitative' } } } as never);
  assert.deepEqual(Object.getOwnPropertySymbols(data[0]!), []);
  assert.deepEqual(Object.getOwnPropertySymbols((b[VEGALITE_MIME] as { data: { values: object[] } }).data.values[0]!), []);
});
