/**
 * Charts that do not lie (issue 15): every chart helper on edge data — zeros (on log axes), NaN, one point, 10k
 * points — renders an SVG with drawn marks, finite geometry and labelled axes; points that cannot be drawn are
 * left out with a visible note giving their number; tooltips show 3 significant digits (or the field's format).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { barChart, chart, histogram, lineChart, scatter, VEGALITE_MIME } from '../src/viz/index.js';
import { plottableRows } from '../src/viz/chart.js';
import type { MimeBundle } from '../src/viz/index.js';

/** Drawn data marks (elements inside role-mark groups). */
function markCount(svg: string): number {
  let n = 0;
  for (const m of svg.matchAll(/<g class="mark-\w+ role-mark[^"]*"[^>]*>([\s\S]*?)<\/g>/g)) n += (m[1]!.match(/<(path|rect|line|circle)\b/g) ?? []).length;
  return n;
}
/** Tick labels of each axis, in SVG order. */
function axisLabels(svg: string): string[][] {
  return [...svg.matchAll(/<g class="mark-text role-axis-label"[^>]*>([\s\S]*?)<\/g>/g)].map((m) => [...m[1]!.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((t) => t[1]!));
}
/** The note on left-out points: the subtitle under a title, or the title itself when the chart has none. */
function subtitle(svg: string): string {
  const texts = [...svg.matchAll(/role-title-(?:subtitle|text)[\s\S]*?<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!.replace(/&lt;/g, '<'));
  return texts.find((t) => / not (shown|counted)/.test(t)) ?? '';
}
function spec(b: MimeBundle): { data: { values: Record<string, unknown>[] }; encoding: Record<string, { field?: string; title?: string; format?: string; axis?: { format?: string } } & object> } {
  return b[VEGALITE_MIME] as never;
}
/** The checks every edge case must pass: finite geometry, marks drawn, every axis labelled. */
function sane(b: MimeBundle, what: string, minMarks = 1): string {
  const svg = b['image/svg+xml'] as string;
  assert.ok(!/\s(?:d|x|y|x1|x2|y1|y2|width|height|transform)="[^"]*(?:NaN|Infinity)/.test(svg), `${what}: NaN/Infinity in the SVG geometry`);
  assert.ok(markCount(svg) >= minMarks, `${what}: ${markCount(svg)} marks`);
  const axes = axisLabels(svg);
  assert.equal(axes.length, 2, `${what}: axes ${JSON.stringify(axes)}`);
  for (const a of axes) assert.ok(a.length >= 1 && a.every((l) => l.length <= 8), `${what}: axis labels ${JSON.stringify(a)}`);
  return svg;
}

const withZeros = [{ x: 1, y: 0 }, { x: 2, y: 0.06654810530851009 }, { x: 3, y: 5 }, { x: 4, y: 12.5 }];
const withNaN = [{ x: 1, y: 1 }, { x: 2, y: NaN }, { x: 3, y: Infinity }, { x: 4, y: 2 }];
const onePoint = [{ x: 3, y: 0.5 }];
const many = Array.from({ length: 10_000 }, (_, i) => ({ x: i, y: Math.sin(i / 300) + 2 }));

test('plottableRows: counts what it leaves out, per reason', () => {
  const r = plottableRows([...withZeros, { x: 5, y: null }, { x: 6, y: -1 }], [{ field: 'x' }, { field: 'y', log: true }]);
  assert.deepEqual(r.rows.map((p) => p.x), [2, 3, 4]);
  assert.equal(r.note, '3 of 6 points not shown: 2 with y <= 0 (log scale), 1 with y missing or not finite');
  assert.deepEqual(plottableRows(onePoint, [{ field: 'y' }]), { rows: onePoint, note: '' });
});

for (const [name, build] of [
  ['lineChart', lineChart],
  ['scatter', scatter],
  ['barChart', barChart],
] as const) {
  test(`${name}: zeros on a log axis are left out with a visible note; the rest is drawn on labelled axes`, async () => {
    const b = await build(withZeros, { x: 'x', y: 'y', logY: true, title: 'ppl' });
    const svg = sane(b, `${name} zeros/log`, 3);
    const note = '1 of 4 points not shown: 1 with y <= 0 (log scale)';
    assert.equal(subtitle(svg), note);
    assert.ok((b['text/plain'] as string).endsWith(`; ${note}]`), b['text/plain'] as string);
    assert.equal(spec(b).data.values.length, 3);
    // without the log scale the zero is a real point
    const lin = await build(withZeros, { x: 'x', y: 'y' });
    sane(lin, `${name} zeros/linear`, 4);
    assert.equal(subtitle(lin['image/svg+xml'] as string), '');
    assert.equal(spec(lin).data.values.length, 4);
  });

  test(`${name}: NaN and ±Inf are left out with a note; one point draws; 10k points draw`, async () => {
    const b = await build(withNaN, { x: 'x', y: 'y' });
    sane(b, `${name} NaN`, 2);
    assert.equal(subtitle(b['image/svg+xml'] as string), '2 of 4 points not shown: 2 with y missing or not finite');
    sane(await build(onePoint, { x: 'x', y: 'y' }), `${name} one point`);
    sane(await build(onePoint, { x: 'x', y: 'y', logX: name !== 'barChart', logY: true }), `${name} one point, log`);
    const t0 = performance.now();
    const big = await build(many, { x: 'x', y: 'y' });
    sane(big, `${name} 10k`);
    assert.equal(spec(big).data.values.length, 10_000);
    assert.ok(performance.now() - t0 < 60_000);
  });
}

test('tooltips: 3 significant digits (integers in full), or the field\'s own d3 format; log axes plain numbers', async () => {
  const b = await lineChart(withZeros, { x: 'x', y: 'y', logY: true });
  const s = spec(b);
  assert.deepEqual(s.encoding.tooltip, [{ field: '_fmt_x', title: 'x' }, { field: '_fmt_y', title: 'y' }] as never);
  assert.deepEqual(s.data.values.map((r) => r._fmt_y), ['0.0665', '5', '12.5']);
  assert.equal(s.encoding.y!.axis!.format, '~g');
  const f = await scatter(withZeros, { x: 'x', y: 'y', format: { y: '.1%' } });
  const fs = spec(f);
  assert.deepEqual(fs.encoding.tooltip, [{ field: '_fmt_x', title: 'x' }, { field: 'y', type: 'quantitative', format: '.1%' }] as never);
  assert.equal(fs.encoding.y!.axis!.format, '.1%');
  assert.ok(axisLabels(f['image/svg+xml'] as string).some((a) => a.every((l) => l.endsWith('%'))), JSON.stringify(axisLabels(f['image/svg+xml'] as string)));
});

test('several y fields on a log axis: each value checked on its own', async () => {
  const rows = [{ x: 1, a: 0, b: 2 }, { x: 2, a: 1, b: 3 }];
  const b = await lineChart(rows, { x: 'x', y: ['a', 'b'], logY: true });
  const svg = sane(b, 'multi log', 3);
  assert.equal(subtitle(svg), '1 of 4 points not shown: 1 with a/b <= 0 (log scale)');
});

test('10k points: a line chart drops its point markers (one path), the data stay whole', async () => {
  const b = await lineChart(many, { x: 'x', y: 'y' });
  assert.deepEqual((b[VEGALITE_MIME] as { mark: unknown }).mark, { type: 'line', point: false });
  assert.ok(!(b['image/svg+xml'] as string).includes('mark-symbol'));
});

test('histogram: zeros, NaN (counted in a note), one value, 10k values, log counts', async () => {
  const zeros = await histogram([0, 0, 0, 1, 2], { logY: true });
  sane(zeros, 'histogram zeros/log');
  const nan = await histogram([1, NaN, 2, Infinity, 3]);
  sane(nan, 'histogram NaN');
  assert.equal(subtitle(nan['image/svg+xml'] as string), '2 NaN/±Inf values not counted');
  sane(await histogram([0.5]), 'histogram one value');
  const big = await histogram(Float32Array.from(many, (r) => r.y), { logY: true, bins: 50 });
  sane(big, 'histogram 10k');
  assert.deepEqual((spec(big).data.values[0] as { _fmt_start: string })._fmt_start.length <= 6, true);
});

test('chart (raw spec): one point and no rows render without throwing', async () => {
  const enc = { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } };
  sane(await chart({ data: { values: onePoint }, mark: 'point', encoding: enc } as never), 'chart one point');
  const empty = await chart({ data: { values: [] }, mark: 'point', encoding: enc } as never);
  assert.match(empty['image/svg+xml'] as string, /^<svg/);
  assert.equal(empty['text/plain'], '[chart (point, 0 rows)]');
});
