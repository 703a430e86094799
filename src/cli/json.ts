/**
 * The one place where TypeScript's camelCase becomes the CLI's snake_case: `--json` output runs through
 * {@link cliJson}. Library objects keep camelCase (klMean, ratioVsFp16, firstBadLayer); the command line prints
 * kl_mean, ratio_vs_fp16, first_bad_layer. Keys that are not plain camelCase (tensor names, dtypes such as q4_1,
 * already snake_case keys) pass unchanged.
 *
 * @example
 * cliJson({ klMean: 1e-4, pplCI95: [9, 10], compressMBps: 300, perTensor: [{ rawBytes: 4 }] });
 * // { kl_mean: 1e-4, ppl_ci95: [9, 10], compress_MBps: 300, per_tensor: [{ raw_bytes: 4 }] }
 */

/**
 * snake_case of one camelCase key. An upper-case run followed by a lower-case letter is a unit and keeps its case
 * (compressMBps -> compress_MBps); otherwise it is lower-cased (pplCI95 -> ppl_ci95, top1Agreement -> top1_agreement).
 * @example
 * snakeKey('ratioVsFp16'); // 'ratio_vs_fp16'
 */
export function snakeKey(k: string): string {
  if (!/^[a-z][a-zA-Z0-9]*$/.test(k)) return k;
  return k.replace(/([a-z0-9])([A-Z]+)(?=([a-z]?))/g, (_m, a: string, run: string, next: string) => `${a}_${run.length > 1 && next ? run : run.toLowerCase()}`);
}

/**
 * A copy of `v` with every plain object's keys in snake_case (arrays and values kept; bigint left to the printer).
 * @example
 * cliJson({ firstBadLayer: null }); // { first_bad_layer: null }
 */
export function cliJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(cliJson);
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return v;
  if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [snakeKey(k), cliJson(x)]));
}
