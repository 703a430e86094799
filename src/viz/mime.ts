/**
 * Jupyter mime bundles and the small formatting helpers every viz verb shares.
 *
 * A mime bundle maps a mime type to its content; a frontend shows the richest type it understands
 * (JupyterLab: the vega-lite JSON, interactive; static HTML: the SVG; a terminal: text/plain).
 */
import type { TopLevelSpec } from 'vega-lite';

/** A vega-lite spec (any top-level vega-lite spec; `$schema` is set by `chart`). */
export type VegaLiteSpec = TopLevelSpec;

/** The mime type JupyterLab, Notebook 7 and VS Code render with vega-embed (vega-lite 5 runtime in the frontend). */
export const VEGALITE_MIME = 'application/vnd.vegalite.v5+json';
/**
 * `$schema` written into every spec. The frontends behind `VEGALITE_MIME` run vega-lite 5 and warn when a spec
 * declares another major; vega-lite 6 (used here to render the SVG) compiles v5-schema specs unchanged.
 */
export const VEGALITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

/** A Jupyter mime bundle: `text/plain` always, richer types when the object has them. */
export interface MimeBundle {
  'text/plain': string;
  'text/html'?: string;
  'image/svg+xml'?: string;
  'application/vnd.vegalite.v5+json'?: VegaLiteSpec;
  [mime: string]: unknown;
}

/** Row-oriented data: an array of plain objects. */
export type Rows = readonly Record<string, unknown>[];

/** The part of an arquero table the viz verbs use (structural, so any arquero 7 table fits). */
export interface TableLike {
  numRows(): number;
  columnNames(): string[];
  objects(options?: { limit?: number }): object[];
}

/** Tabular input: an arquero table or an array of row objects. */
export type DataInput = TableLike | Rows;

/** True when `x` looks like an arquero table. */
export function isTableLike(x: unknown): x is TableLike {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as TableLike).objects === 'function' &&
    typeof (x as TableLike).numRows === 'function' &&
    typeof (x as TableLike).columnNames === 'function'
  );
}

/** JSON-safe cell value: bigint → number, NaN/±Infinity → null (JSON has neither), typed arrays → arrays. */
export function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>, (x) => jsonSafe(x));
  return v;
}

/**
 * Rows of `data` as JSON-safe plain objects (at most `limit` rows).
 *
 * @example
 * toRows(aq.table({ x: [1, 2] })) // [{ x: 1 }, { x: 2 }]
 */
export function toRows(data: DataInput, limit = Infinity): Record<string, unknown>[] {
  const raw = isTableLike(data)
    ? (data.objects(Number.isFinite(limit) ? { limit } : undefined) as Record<string, unknown>[])
    : data.slice(0, Number.isFinite(limit) ? limit : undefined);
  return raw.map((r) => {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(r)) o[k] = jsonSafe(r[k]);
    return o;
  });
}

/** Column names of `data` (union of keys for rows, in first-seen order). */
export function columnNames(data: DataInput): string[] {
  if (isTableLike(data)) return data.columnNames();
  const seen = new Set<string>();
  for (const r of data) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

/** Number of rows of `data`. */
export function numRows(data: DataInput): number {
  return isTableLike(data) ? data.numRows() : data.length;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Escape text for HTML element content and attribute values.
 *
 * @example
 * escapeHtml('<b>') // '&lt;b&gt;'
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * Compact, lossless-enough number formatting for tables and summaries: integers as-is, other values with
 * `digits` significant digits (exponent form outside [1e-3, 1e6)).
 *
 * @example
 * formatNumber(0.123456) // '0.1235'
 * formatNumber(12345678.9) // '1.235e+7'
 */
export function formatNumber(x: number, digits = 4): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Inf' : '-Inf';
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e6) return String(Number(x.toPrecision(digits)));
  return x.toExponential(digits - 1).replace(/\.?0+e/, 'e');
}

/** Format any cell value as text. */
export function formatValue(v: unknown, digits = 4): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return formatNumber(v, digits);
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    try {
      return JSON.stringify(v, (_k, x) => jsonSafe(x)) ?? String(v);
    } catch {
      return String(v);
    }
  }
  return String(v);
}

/**
 * Human-readable byte count (binary units).
 *
 * @example
 * formatBytes(1536) // '1.5 KiB'
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = Math.abs(n);
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const s = i === 0 ? String(v) : String(Number(v.toPrecision(3)));
  return `${n < 0 ? '-' : ''}${s} ${units[i]}`;
}

/**
 * Human-readable duration from milliseconds.
 *
 * @example
 * formatMs(1534) // '1.53 s'
 */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (Math.abs(ms) < 1) return `${Number((ms * 1000).toPrecision(3))} µs`;
  if (Math.abs(ms) < 1000) return `${Number(ms.toPrecision(3))} ms`;
  return `${Number((ms / 1000).toPrecision(3))} s`;
}
