/**
 * codecllm/viz: small verbs that turn results into Jupyter mime bundles, and `display` to show them.
 *
 * @example
 * import { display, lineChart, table, tensorSummary } from 'codecllm';
 * await display(lineChart(rows, { x: 'layers', y: 'ppl' }));
 */
export { chart, renderSvg, lineChart, barChart, scatter, histogram, binValues } from './chart.js';
export type { XYOptions, HistogramOptions, HistogramBin } from './chart.js';
export { table, badge, tensorSummary, tensorStats } from './table.js';
export type { TableOptions, BadgeInput, PlainTensor, TfTensorLike, TensorStats } from './table.js';
export { display, displayHandle, inKernel, KERNEL_HOOK } from './display.js';
export type { DisplayContent } from './display.js';
export { progress, progressBundle } from './progress.js';
export type { Progress, ProgressTask, ProgressOptions } from './progress.js';
export { VEGALITE_MIME, VEGALITE_SCHEMA, escapeHtml, formatNumber, formatBytes, formatMs, toRows } from './mime.js';
export type { MimeBundle, VegaLiteSpec, DataInput, Rows, TableLike } from './mime.js';
