/**
 * Tables, ledger badges and tensor summaries as mime bundles (text/html + text/plain).
 * All HTML is built from escaped text: cell values never inject markup.
 */
import { err, msg } from '../messages.js';
import { type DataInput, type MimeBundle, columnNames, escapeHtml, formatBytes, formatMs, formatNumber, formatValue, numRows, toRows } from './mime.js';

/** Options of `table`. */
export interface TableOptions {
  /** Rows shown (the rest is counted in a footer). Default 50. */
  maxRows?: number;
  /** Significant digits of non-integer numbers. Default 4. */
  digits?: number;
  /** Caption above the table. */
  caption?: string;
}

/**
 * An arquero table or row array as an HTML table (escaped) plus an aligned text table.
 *
 * @example
 * display(table(aq.table({ scheme: ['q8_0', 'q4_k'], rmse: [0.0012, 0.0098] })));
 */
export function table(data: DataInput, options: TableOptions = {}): MimeBundle {
  const maxRows = options.maxRows ?? 50;
  const digits = options.digits ?? 4;
  const cols = columnNames(data);
  const total = numRows(data);
  const rows = toRows(data, maxRows);
  const cells = rows.map((r) => cols.map((c) => formatValue(r[c], digits)));
  const numeric = cols.map((c) => rows.some((r) => typeof r[c] === 'number') && rows.every((r) => r[c] == null || typeof r[c] === 'number'));
  const more = total - rows.length;

  const th = cols.map((c, j) => `<th style="text-align:${numeric[j] ? 'right' : 'left'}">${escapeHtml(c)}</th>`).join('');
  const trs = cells
    .map((r) => `<tr>${r.map((v, j) => `<td style="text-align:${numeric[j] ? 'right' : 'left'}">${escapeHtml(v)}</td>`).join('')}</tr>`)
    .join('\n');
  const caption = options.caption ? `<caption>${escapeHtml(options.caption)}</caption>` : '';
  const foot = more > 0 ? `<tfoot><tr><td colspan="${cols.length}">… ${more} more rows (${total} total)</td></tr></tfoot>` : '';
  const html = `<table class="codecllm-table">${caption}<thead><tr>${th}</tr></thead>\n<tbody>\n${trs}\n</tbody>${foot}</table>`;

  const widths = cols.map((c, j) => Math.max(c.length, ...cells.map((r) => r[j]!.length)));
  const line = (vals: string[]) => vals.map((v, j) => (numeric[j] ? v.padStart(widths[j]!) : v.padEnd(widths[j]!))).join('  ').trimEnd();
  const text = [
    ...(options.caption ? [options.caption] : []),
    line(cols),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.map(line),
    ...(more > 0 ? [`… ${more} more rows (${total} total)`] : []),
  ].join('\n');
  return { 'text/html': html, 'text/plain': text };
}

/** Ledger-like measurement: what a badge shows. */
export interface BadgeInput {
  label: string;
  /** Bytes (e.g. peak VRAM or a tensor's size). */
  bytes?: number;
  /** Milliseconds (wall time). */
  ms?: number;
  /** Extra key/value facts, shown after bytes and time. */
  extra?: Readonly<Record<string, string | number>>;
}

/**
 * A small inline badge for a ledger entry: label, bytes and time.
 *
 * @example
 * display(badge({ label: 'decode layer 3', bytes: 12_582_912, ms: 4.2 })); // decode layer 3 | 12 MiB | 4.2 ms
 */
export function badge(entry: BadgeInput): MimeBundle {
  const parts: string[] = [];
  if (entry.bytes !== undefined) parts.push(formatBytes(entry.bytes));
  if (entry.ms !== undefined) parts.push(formatMs(entry.ms));
  for (const [k, v] of Object.entries(entry.extra ?? {})) parts.push(`${k} ${typeof v === 'number' ? formatNumber(v) : v}`);
  const pill = (s: string, bg: string) =>
    `<span style="display:inline-block;padding:1px 8px;background:${bg};color:#fff;font:12px/18px monospace">${escapeHtml(s)}</span>`;
  const html =
    `<span class="codecllm-badge" style="display:inline-flex;border-radius:4px;overflow:hidden">` +
    pill(entry.label, '#555') +
    parts.map((p, i) => pill(p, i % 2 ? '#2b7bb9' : '#3c9a5f')).join('') +
    `</span>`;
  return { 'text/html': html, 'text/plain': [entry.label, ...parts].join(' | ') };
}

/** Plain tensor input: `{shape, data}` (e.g. an F32Tensor) with an optional dtype. */
export interface PlainTensor {
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
  readonly dtype?: string;
}

/** The part of a tfjs Tensor used here. */
export interface TfTensorLike {
  readonly shape: readonly number[];
  readonly dtype: string;
  dataSync(): ArrayLike<number>;
}

/** Statistics of a tensor's values (over finite values; NaN/Inf counted separately). */
export interface TensorStats {
  shape: number[];
  dtype: string;
  size: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  nan: number;
  inf: number;
  /** The first few values (at most `head`). */
  head: number[];
}

function typedName(a: ArrayLike<number>): string {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Uint16Array) return 'uint16';
  if (a instanceof Uint32Array) return 'uint32';
  return 'number';
}

function unpack(x: unknown): { shape: number[]; dtype: string; data: ArrayLike<number> } {
  if (Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView) && !(x instanceof BigInt64Array) && !(x instanceof BigUint64Array))) {
    const a = x as ArrayLike<number>;
    return { shape: [a.length], dtype: typedName(a), data: a };
  }
  if (typeof x === 'object' && x !== null) {
    const t = x as Partial<TfTensorLike & PlainTensor>;
    if (Array.isArray(t.shape) && typeof t.dataSync === 'function') {
      return { shape: [...t.shape], dtype: String(t.dtype ?? 'float32'), data: t.dataSync() };
    }
    if (Array.isArray(t.shape) && t.data !== undefined && typeof (t.data as ArrayLike<number>).length === 'number') {
      const n = t.shape.reduce((a: number, b: number) => a * b, 1);
      if (n !== t.data.length) throw err('E_SHAPE', msg.vizTensorSize(t.shape, t.data.length));
      return { shape: [...t.shape], dtype: t.dtype ?? typedName(t.data), data: t.data };
    }
  }
  const what = x === null ? 'null' : Array.isArray(x) ? 'array' : typeof x === 'object' ? (x as object).constructor?.name ?? 'object' : typeof x;
  throw err('E_ARG', msg.vizNotTensor(what));
}

/**
 * Statistics of a tensor: min/max/mean/std over finite values (float64 accumulation, two passes), NaN/Inf counts
 * and the first `head` values.
 *
 * @example
 * tensorStats(new Float32Array([1, 2, 3])) // { shape: [3], dtype: 'float32', min: 1, max: 3, mean: 2, std: 0.816…, … }
 */
export function tensorStats(x: Float32Array | readonly number[] | PlainTensor | TfTensorLike, head = 8): TensorStats {
  const { shape, dtype, data } = unpack(x);
  let n = 0;
  let nan = 0;
  let inf = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (Number.isNaN(v)) nan++;
    else if (!Number.isFinite(v)) inf++;
    else {
      n++;
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  const mean = n > 0 ? sum / n : NaN;
  let ss = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (Number.isFinite(v)) ss += (v - mean) * (v - mean);
  }
  const out: number[] = [];
  for (let i = 0; i < Math.min(head, data.length); i++) out.push(data[i]!);
  return { shape, dtype, size: data.length, min: n ? min : NaN, max: n ? max : NaN, mean, std: n ? Math.sqrt(ss / n) : NaN, nan, inf, head: out };
}

/**
 * A tensor summarized, never dumped: shape, dtype, min/max/mean/std, NaN/Inf counts and a few values.
 *
 * @example
 * display(tensorSummary(tf.randomNormal([4096, 4096]))); // Tensor float32 [4096, 4096] (16777216): min … max … mean … std …
 */
export function tensorSummary(x: Float32Array | readonly number[] | PlainTensor | TfTensorLike, options: { name?: string } = {}): MimeBundle {
  const s = tensorStats(x);
  const f = (v: number) => formatNumber(v, 5);
  const title = `${options.name ? `${options.name}: ` : ''}Tensor ${s.dtype} [${s.shape.join(', ')}] (${s.size} elements)`;
  const stats: [string, string][] = [
    ['min', f(s.min)],
    ['max', f(s.max)],
    ['mean', f(s.mean)],
    ['std', f(s.std)],
  ];
  if (s.nan) stats.push(['NaN', String(s.nan)]);
  if (s.inf) stats.push(['Inf', String(s.inf)]);
  const headStr = `[${s.head.map(f).join(', ')}${s.size > s.head.length ? ', …' : ''}]`;
  const text = `${title}: ${stats.map(([k, v]) => `${k} ${v}`).join('  ')}\n  values ${headStr}`;
  const html =
    `<div class="codecllm-tensor" style="font:13px monospace"><b>${escapeHtml(title)}</b>` +
    `<table><tr>${stats.map(([k]) => `<th>${escapeHtml(k)}</th>`).join('')}</tr>` +
    `<tr>${stats.map(([, v]) => `<td style="text-align:right">${escapeHtml(v)}</td>`).join('')}</tr></table>` +
    `<div>values ${escapeHtml(headStr)}</div></div>`;
  return { 'text/html': html, 'text/plain': text };
}
