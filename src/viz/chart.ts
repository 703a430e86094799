/**
 * Vega-lite charts as Jupyter mime bundles: the spec as JSON (interactive in JupyterLab / VS Code) plus an SVG
 * rendered here with vega (visible in static HTML, GitHub, nbconvert), plus a one-line text/plain.
 *
 * The SVG is rendered by the same libraries a frontend uses: vega-lite `compile` → `vega.View` with the headless
 * renderer → `toSVG()`. `toSVG` is asynchronous in vega, so `chart` and the builders return a Promise
 * (`display(await chart(spec))`, or pass the promise to `display`).
 */
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { err, msg } from '../messages.js';
import {
  type DataInput,
  type MimeBundle,
  type VegaLiteSpec,
  VEGALITE_MIME,
  formatNumber,
  VEGALITE_SCHEMA,
  columnNames,
  numRows,
  toRows,
} from './mime.js';

/**
 * Render a vega-lite spec to an SVG string in-process (no browser, no network: data must be inline).
 *
 * @example
 * const svg = await renderSvg({ data: { values: [{ a: 1 }] }, mark: 'point', encoding: { x: { field: 'a' } } });
 */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const vgSpec = compile(spec).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function describe(spec: VegaLiteSpec): string {
  const s = spec as { title?: unknown; mark?: unknown; data?: { values?: unknown } };
  const t = s.title as { text?: unknown; subtitle?: unknown } | string | undefined;
  let title = typeof t === 'string' ? t : typeof t?.text === 'string' ? t.text : '';
  let note = typeof t === 'object' && typeof t?.subtitle === 'string' && t.subtitle ? `; ${t.subtitle}` : '';
  if (typeof t === 'object' && t?.subtitle === '' && / not (shown|counted)/.test(title)) (note = `; ${title}`), (title = '');
  const mark = typeof s.mark === 'string' ? s.mark : typeof (s.mark as { type?: unknown })?.type === 'string' ? (s.mark as { type: string }).type : 'composite';
  const values = s.data?.values;
  const rows = Array.isArray(values) ? `, ${values.length} rows` : '';
  return `[chart${title ? `: ${title}` : ''} (${mark}${rows})${note}]`;
}

/**
 * A vega-lite chart as a mime bundle: `application/vnd.vegalite.v5+json` (the spec object, `$schema` set to the
 * v5 schema the frontends expect), `image/svg+xml` (rendered here) and `text/plain`.
 *
 * @example
 * display(await chart({ data: { values: rows }, mark: 'line',
 *   encoding: { x: { field: 'step', type: 'quantitative' }, y: { field: 'loss', type: 'quantitative' } } }));
 */
export async function chart(spec: VegaLiteSpec): Promise<MimeBundle> {
  if (typeof spec !== 'object' || spec === null) throw err('E_ARG', msg.badArg('spec', 'expected a vega-lite spec object'));
  // A JSON copy: what goes on the wire is exactly what the frontend gets, and vega (which tags every data row
  // with a Symbol id while rendering) never touches the caller's rows or the bundle's spec.
  const full = JSON.parse(JSON.stringify({ ...spec, $schema: VEGALITE_SCHEMA })) as VegaLiteSpec;
  const svg = await renderSvg(structuredClone(full));
  return { [VEGALITE_MIME]: full, 'image/svg+xml': svg, 'text/plain': describe(full) } as MimeBundle;
}

/** Options shared by the x/y builders. */
export interface XYOptions {
  /** Field on the x axis. */
  x: string;
  /** Field(s) on the y axis; several fields become one colored series each. */
  y: string | readonly string[];
  /** Field that splits rows into colored series. */
  color?: string;
  title?: string;
  xTitle?: string;
  yTitle?: string;
  width?: number;
  height?: number;
  /** Log scales: points with a value <= 0 on that axis cannot be drawn; they are left out and the chart says so. */
  logX?: boolean;
  logY?: boolean;
  /**
   * d3-format strings per field (axis labels and tooltips), e.g. `{ ppl: '.2f', ratio: '.1%' }`. Without one,
   * tooltips show 3 significant digits (integers in full) and log axes plain numbers.
   */
  format?: Readonly<Record<string, string>>;
}

type FieldType = 'quantitative' | 'nominal' | 'temporal';

function fieldType(rows: readonly Record<string, unknown>[], field: string): FieldType {
  for (const r of rows) {
    const v = r[field];
    if (v === null || v === undefined) continue;
    if (typeof v === 'number') return 'quantitative';
    if (v instanceof Date) return 'temporal';
    return 'nominal';
  }
  return 'quantitative';
}

function checkFields(data: DataInput, fields: readonly (string | undefined)[]): void {
  const names = new Set(columnNames(data));
  for (const f of fields) {
    if (f !== undefined && !names.has(f)) throw err('E_ARG', msg.vizNoField(f, [...names]));
  }
}

/** Prefix of the preformatted tooltip copies of numeric fields (`_fmt_<field>`). */
const FMT = '_fmt_';
/** Above this many points a line chart draws no point markers (the line alone stays readable and the SVG small). */
const LINE_POINTS_MAX = 2000;

/**
 * Rows that can be drawn, and a note on those that cannot: quantitative x/y values that are missing or not finite
 * (NaN/±Inf arrive as null), and values <= 0 on a log axis. Pure; exported for tests.
 *
 * @example
 * plottableRows([{ x: 1, y: 0 }, { x: 2, y: 3 }], [{ field: 'y', log: true }]) // { rows: [{ x: 2, y: 3 }], note: '1 of 2 points not shown: 1 with y <= 0 (log scale)' }
 */
export function plottableRows(
  rows: readonly Record<string, unknown>[],
  fields: readonly { field: string; log?: boolean; label?: string }[],
): { rows: Record<string, unknown>[]; note: string } {
  const missing = new Map<string, number>();
  const nonPositive = new Map<string, number>();
  const out: Record<string, unknown>[] = [];
  for (const r of rows) {
    let keep = true;
    for (const { field, log, label } of fields) {
      const v = r[field];
      const name = label ?? field;
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        missing.set(name, (missing.get(name) ?? 0) + 1);
        keep = false;
        break;
      }
      if (log && v <= 0) {
        nonPositive.set(name, (nonPositive.get(name) ?? 0) + 1);
        keep = false;
        break;
      }
    }
    if (keep) out.push(r as Record<string, unknown>);
  }
  const parts = [
    ...[...nonPositive].map(([f, n]) => `${n} with ${f} <= 0 (log scale)`),
    ...[...missing].map(([f, n]) => `${n} with ${f} missing or not finite`),
  ];
  const dropped = rows.length - out.length;
  return { rows: out, note: dropped ? `${dropped} of ${rows.length} points not shown: ${parts.join(', ')}` : '' };
}

/** Title with the note as a visible (red) subtitle, in the SVG and in the interactive chart alike. */
function titleWithNote(title: string | undefined, note: string): object {
  if (!note) return title ? { title } : {};
  // vega draws no subtitle under an empty title: without a title the note is the (small, red) title
  if (!title) return { title: { text: note, subtitle: '', fontSize: 12, fontWeight: 'normal', color: '#b3261e', anchor: 'start' } };
  return { title: { text: title, subtitle: note, subtitleColor: '#b3261e', anchor: 'start' } };
}

/** Adds `_fmt_<f>` (3 significant digits, integers in full) for each numeric field without its own format. */
function addFormatted(rows: Record<string, unknown>[], fields: readonly string[]): Record<string, unknown>[] {
  if (fields.length === 0) return rows;
  return rows.map((r) => {
    const o = { ...r };
    for (const f of fields) if (typeof r[f] === 'number') o[FMT + f] = formatNumber(r[f] as number, 3);
    return o;
  });
}

/** Tooltip entries: numeric fields as their preformatted copy (or with their d3 format), others as they are. */
function tooltip(fields: readonly string[], numeric: ReadonlySet<string>, format: Readonly<Record<string, string>>): object[] {
  return fields.map((f) => {
    if (!numeric.has(f)) return { field: f };
    if (format[f]) return { field: f, type: 'quantitative', format: format[f] };
    return { field: FMT + f, title: f };
  });
}

function xyBase(data: DataInput, o: XYOptions, mark: { type: string; point?: boolean; [k: string]: unknown }, xType?: FieldType): VegaLiteSpec {
  const ys = typeof o.y === 'string' ? [o.y] : [...o.y];
  checkFields(data, [o.x, ...ys, o.color]);
  const multi = ys.length > 1;
  const yField = multi ? 'value' : ys[0]!;
  const colorField = multi ? 'series' : o.color;
  let rows = toRows(data);
  // several y fields: one row per (row, field) in JS, so each value can be checked on its own
  if (multi) rows = rows.flatMap((r) => ys.map((f) => ({ ...r, series: f, value: r[f] })));
  const xT = xType ?? fieldType(rows, o.x);
  const checks = [...(xT === 'quantitative' ? [{ field: o.x, log: o.logX }] : []), { field: yField, log: o.logY, label: multi ? ys.join('/') : yField }];
  const { rows: shown, note } = plottableRows(rows, checks);
  const format = o.format ?? {};
  const numeric = new Set([...(xT === 'quantitative' ? [o.x] : []), yField]);
  const tipFields = [o.x, ...(multi ? ['series', 'value'] : [yField]), ...(o.color && !multi ? [o.color] : [])];
  const axis = (f: string, log?: boolean) => (format[f] ? { axis: { format: format[f] } } : log ? { axis: { format: '~g' } } : {});
  const encoding: Record<string, unknown> = {
    x: {
      field: o.x,
      type: xT,
      title: o.xTitle ?? o.x,
      ...(o.logX ? { scale: { type: 'log' } } : {}),
      ...(xT === 'quantitative' ? axis(o.x, o.logX) : {}),
      ...(xType === 'nominal' ? { sort: null } : {}),
    },
    y: {
      field: yField,
      type: 'quantitative',
      title: o.yTitle ?? (multi ? ys.join(', ') : yField),
      ...(o.logY ? { scale: { type: 'log' } } : {}),
      ...axis(multi ? ys[0]! : yField, o.logY),
    },
  };
  if (colorField) encoding.color = { field: colorField, type: 'nominal', sort: null };
  encoding.tooltip = tooltip(tipFields, numeric, format);
  const m = mark.type === 'line' && shown.length > LINE_POINTS_MAX ? { ...mark, point: false } : mark;
  return {
    ...titleWithNote(o.title, note),
    width: o.width ?? 480,
    height: o.height ?? 260,
    data: { values: addFormatted(shown, [...numeric].filter((f) => !format[f])) },
    mark: m,
    encoding,
  } as VegaLiteSpec;
}

/**
 * Line chart of `y` against `x` (one line per `color` value, or per field when `y` is a list).
 *
 * @example
 * display(await lineChart(aq.table({ step: [0, 1, 2], ppl: [12.1, 12.3, 13.0] }), { x: 'step', y: 'ppl' }));
 */
export async function lineChart(data: DataInput, options: XYOptions): Promise<MimeBundle> {
  return chart(xyBase(data, options, { type: 'line', point: true }));
}

/**
 * Scatter plot of `y` against `x`.
 *
 * @example
 * display(await scatter(rows, { x: 'entropy', y: 'ratio', color: 'codec' }));
 */
export async function scatter(data: DataInput, options: XYOptions): Promise<MimeBundle> {
  return chart(xyBase(data, options, { type: 'point', filled: true }));
}

/**
 * Bar chart: one bar per `x` category (in data order), height `y`; `color` groups bars side by side.
 *
 * @example
 * display(await barChart([{ codec: 'zstd', ratio: 1.3 }, { codec: 'ans', ratio: 1.4 }], { x: 'codec', y: 'ratio' }));
 */
export async function barChart(data: DataInput, options: XYOptions): Promise<MimeBundle> {
  const spec = xyBase(data, options, { type: 'bar' }, 'nominal') as unknown as { encoding: Record<string, Record<string, unknown>> };
  // bars stack from 0 by default, which a log axis cannot place (no ticks, no bars): grouped bars do not stack
  if (options.logY) spec.encoding.y!.stack = null;
  if (options.color && typeof options.y === 'string') spec.encoding.xOffset = { field: options.color, type: 'nominal', sort: null };
  if (typeof options.y !== 'string' && options.y.length > 1) spec.encoding.xOffset = { field: 'series', type: 'nominal', sort: null };
  return chart(spec as unknown as VegaLiteSpec);
}

/** Options of `histogram`. */
export interface HistogramOptions {
  /** Approximate number of bins (rounded to a nice step). Default 40. */
  bins?: number;
  title?: string;
  xTitle?: string;
  /** Log-scale counts (weights are heavy-tailed). */
  logY?: boolean;
  width?: number;
  height?: number;
}

/** Histogram counts: `start` of each bin, its `end` and `count`, per series. */
export interface HistogramBin {
  series: string;
  start: number;
  end: number;
  count: number;
}

/**
 * A "nice" bin step (1, 2 or 5 × 10^k) giving about `bins` bins over [lo, hi].
 * Written here because vega's own bin helper is not part of its public typings; binning must happen in JS since
 * inlining millions of raw weights into a spec for vega-lite's bin transform is not an option.
 */
function niceStep(lo: number, hi: number, bins: number): number {
  const raw = (hi - lo) / Math.max(1, bins);
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/**
 * Bin numeric values (NaN/±Inf skipped) into shared nice bins, per series.
 *
 * @example
 * binValues({ w: new Float32Array([0, 0.5, 1]) }, 2) // [{ series: 'w', start: 0, end: 0.5, count: 1 }, ...]
 */
export function binValues(series: Readonly<Record<string, ArrayLike<number>>>, bins = 40): HistogramBin[] {
  if (!Number.isInteger(bins) || bins < 1 || bins > 10000) throw err('E_ARG', msg.badArg('bins', `${bins} (expected an integer in [1, 10000])`));
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of Object.values(series)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      if (Number.isFinite(x)) {
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
    }
  }
  if (lo > hi) return [];
  const step = niceStep(lo, hi, bins);
  const start = Math.floor(lo / step) * step;
  const n = Math.max(1, Math.floor((hi - start) / step) + 1);
  const out: HistogramBin[] = [];
  for (const [name, v] of Object.entries(series)) {
    const counts = new Float64Array(n);
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      if (!Number.isFinite(x)) continue;
      const b = Math.min(n - 1, Math.floor((x - start) / step));
      counts[b]!++;
    }
    for (let b = 0; b < n; b++) {
      const s = start + b * step;
      out.push({ series: name, start: Number(s.toPrecision(12)), end: Number((s + step).toPrecision(12)), count: counts[b]! });
    }
  }
  return out;
}

/**
 * Histogram of numeric values (binned here, so only bin counts enter the spec); pass a record of arrays to
 * overlay several series.
 *
 * @example
 * display(await histogram({ weights: w, errors: e }, { bins: 60, logY: true, title: 'layer 0 q_proj' }));
 */
export async function histogram(values: ArrayLike<number> | Readonly<Record<string, ArrayLike<number>>>, options: HistogramOptions = {}): Promise<MimeBundle> {
  const series = isArrayLikeNumbers(values) ? { values } : values;
  const names = Object.keys(series);
  const binsOut = binValues(series, options.bins ?? 40);
  // on a log axis an empty bin has no bar (not a bar of height 0, which the axis cannot place)
  const rows = options.logY ? binsOut.filter((b) => b.count > 0) : binsOut;
  let nonFinite = 0;
  for (const v of Object.values(series)) for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) nonFinite++;
  const note = nonFinite ? `${nonFinite} NaN/±Inf value${nonFinite > 1 ? 's' : ''} not counted` : '';
  const multi = names.length > 1;
  return chart({
    ...titleWithNote(options.title, note),
    width: options.width ?? 480,
    height: options.height ?? 220,
    data: { values: addFormatted(rows as unknown as Record<string, unknown>[], ['start', 'end']) },
    mark: multi ? { type: 'bar', opacity: 0.55, binSpacing: 0 } : { type: 'bar', binSpacing: 0 },
    encoding: {
      x: { field: 'start', type: 'quantitative', bin: { binned: true }, title: options.xTitle ?? (multi ? 'value' : names[0]) },
      x2: { field: 'end' },
      y: { field: 'count', type: 'quantitative', stack: null, ...(options.logY ? { scale: { type: 'log' }, axis: { format: '~g' } } : {}) },
      ...(multi ? { color: { field: 'series', type: 'nominal', sort: null } } : {}),
      tooltip: [{ field: 'series' }, { field: FMT + 'start', title: 'start' }, { field: FMT + 'end', title: 'end' }, { field: 'count' }],
    },
  } as VegaLiteSpec);
}

function isArrayLikeNumbers(x: unknown): x is ArrayLike<number> {
  return Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView));
}

export { numRows };
