/**
 * Baseline logits for the quality report, computed once and cached on disk so a sweep scores each configuration
 * without rerunning the baseline.
 *
 * What is kept: for every scored token (n − 1 of n, the strided-window rule of src/eval/windows.ts) the FULL base
 * distribution as float32 log-probabilities (V values: ln softmax of the row, computed in float64), and the base NLL
 * of the target in float64 (exactly what perplexity() computes, so the report's baseline_ppl equals it). Full, not
 * top-k: the KL divergence is then exact. Size: 4·V bytes a token (SmolLM2: 192 KiB/token, 137 MiB for the 711
 * tokens of data/texts/eval.txt).
 *
 * File (`<cacheDir>/<sha256 key>.base`, little endian): "CLLMBASE", u32 version (1), u32 header length, header JSON
 * { version, key, model, engine, window, stride, vocab, rows, ids }, zero padding to 8 bytes, f64 nll[rows],
 * f32 logProbs[rows·V]. The key hashes the model file (path, size, mtime), engine, window, stride and token ids;
 * written to a temporary name and renamed, so a file is whole or absent. A file that fails its checks is one
 * E_FORMAT line naming it (delete it to recompute), never silently used.
 *
 * @example
 * const { base, cached } = await baselineLogits(engine, ids, { window: 512, stride: 256, cacheDir: '.cache/codecllm' });
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { err, msg } from '../messages.js';
import type { Engine, EngineName } from '../engine/engine.js';
import { forEachScoredRow, logSumExp } from './windows.js';

export const BASE_CACHE_VERSION = 1;
const MAGIC = 'CLLMBASE';

export interface BaseLogits {
  ids: number[];
  window: number;
  stride: number;
  vocab: number;
  engine: EngineName;
  /** (rows, V) ln p_base of every scored token's row, float32 */
  logProbs: Float32Array;
  /** (rows) base NLL of each target, float64 */
  nll: Float64Array;
  /** what is stored: the full distribution */
  storage: 'full-f32-logprobs';
}

/**
 * Run the baseline windows on an engine and keep every scored row's log-probabilities.
 * @example
 * const base = await computeBaseline(engine, ids, 512, 256);
 */
export async function computeBaseline(engine: Engine, ids: readonly number[], window: number, stride: number, onProgress?: (d: number, t: number) => void): Promise<BaseLogits> {
  const V = engine.config.vocabSize;
  const rows = ids.length - 1;
  const logProbs = new Float32Array(rows * V);
  const nll = new Float64Array(rows);
  await forEachScoredRow(engine, ids, window, stride, (row, target, i) => {
    const lse = logSumExp(row);
    const out = logProbs.subarray((i - 1) * V, i * V);
    for (let k = 0; k < V; k++) out[k] = row[k]! - lse;
    nll[i - 1] = lse - row[target]!;
  }, onProgress);
  return { ids: [...ids], window, stride, vocab: V, engine: engine.engine, logProbs, nll, storage: 'full-f32-logprobs' };
}

/**
 * The cache key of a baseline: model file identity, engine, windows and token ids.
 * @example
 * baseCacheKey('/m/model.gguf', 'native', 512, 256, ids) // 64 hex digits
 */
export function baseCacheKey(modelFile: string, engine: EngineName, window: number, stride: number, ids: readonly number[]): string {
  let ident = modelFile;
  try {
    const st = fs.statSync(modelFile);
    ident += `:${st.size}:${st.mtimeMs}`;
  } catch {
    /* a synthetic source: path only */
  }
  return crypto.createHash('sha256').update(JSON.stringify({ v: BASE_CACHE_VERSION, ident, engine, window, stride, ids })).digest('hex');
}

/**
 * Write a baseline to `file` (atomically: temporary name, then rename).
 * @example
 * saveBaseline('.cache/codecllm/x.base', base, key, 'model.gguf');
 */
export function saveBaseline(file: string, b: BaseLogits, key: string, model: string): void {
  const rows = b.nll.length;
  const header = Buffer.from(JSON.stringify({ version: BASE_CACHE_VERSION, key, model, engine: b.engine, window: b.window, stride: b.stride, vocab: b.vocab, rows, ids: b.ids }));
  const pre = 8 + 4 + 4 + header.length;
  const pad = (8 - (pre % 8)) % 8;
  const head = Buffer.alloc(pre + pad);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(BASE_CACHE_VERSION, 8);
  head.writeUInt32LE(header.length, 12);
  header.copy(head, 16);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, head);
    fs.writeSync(fd, new Uint8Array(b.nll.buffer, b.nll.byteOffset, rows * 8));
    fs.writeSync(fd, new Uint8Array(b.logProbs.buffer, b.logProbs.byteOffset, b.logProbs.length * 4));
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/**
 * Read a baseline written by saveBaseline, checking its header, sizes and key; E_FORMAT naming the file otherwise.
 * @example
 * const b = loadBaseline(file, key);
 */
export function loadBaseline(file: string, key: string): BaseLogits {
  const bad = (why: string) => err('E_FORMAT', msg.baseCacheBad(file, why));
  const buf = fs.readFileSync(file);
  if (buf.length < 16 || buf.toString('latin1', 0, 8) !== MAGIC) throw bad('not a base-logit cache');
  const version = buf.readUInt32LE(8);
  if (version !== BASE_CACHE_VERSION) throw bad(`version ${version}, expected ${BASE_CACHE_VERSION}`);
  const hl = buf.readUInt32LE(12);
  if (16 + hl > buf.length) throw bad('truncated header');
  let h: { key: string; engine: EngineName; window: number; stride: number; vocab: number; rows: number; ids: number[] };
  try {
    h = JSON.parse(buf.toString('utf8', 16, 16 + hl));
  } catch {
    throw bad('header is not JSON');
  }
  if (h.key !== key) throw bad('key differs from its file name');
  const ok = (x: unknown) => Number.isSafeInteger(x) && (x as number) > 0;
  if (!ok(h.vocab) || !ok(h.rows) || !Array.isArray(h.ids) || h.ids.length !== h.rows + 1) throw bad('header fields');
  const off = 16 + hl + ((8 - ((16 + hl) % 8)) % 8);
  const need = off + h.rows * 8 + h.rows * h.vocab * 4;
  if (buf.length !== need) throw bad(`${buf.length} bytes, expected ${need}`);
  const copy = buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + need);
  const nll = new Float64Array(copy, 0, h.rows);
  const logProbs = new Float32Array(copy, h.rows * 8, h.rows * h.vocab);
  return { ids: h.ids, window: h.window, stride: h.stride, vocab: h.vocab, engine: h.engine, logProbs, nll, storage: 'full-f32-logprobs' };
}

/**
 * The baseline of `ids` on `engine`: from the cache when `cacheDir` holds it, else computed (and stored there).
 * @example
 * const { base, cached, file } = await baselineLogits(engine, ids, { window: 512, stride: 256, cacheDir });
 */
export async function baselineLogits(
  engine: Engine,
  ids: readonly number[],
  o: { window: number; stride: number; cacheDir?: string; onProgress?: (d: number, t: number) => void },
): Promise<{ base: BaseLogits; cached: boolean; file: string | null }> {
  const model = engine.model.checkpoint.file;
  if (!o.cacheDir) return { base: await computeBaseline(engine, ids, o.window, o.stride, o.onProgress), cached: false, file: null };
  const key = baseCacheKey(model, engine.engine, o.window, o.stride, ids);
  const file = path.join(o.cacheDir, `${key}.base`);
  if (fs.existsSync(file)) return { base: loadBaseline(file, key), cached: true, file };
  const base = await computeBaseline(engine, ids, o.window, o.stride, o.onProgress);
  saveBaseline(file, base, key, model);
  return { base, cached: false, file };
}
