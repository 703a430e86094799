/** Helpers shared by CLI commands: opening and loading a model with a progress bar, printing human or JSON output. */
import type { LlamaModel } from '../model/llama.js';
import type { Checkpoint } from '../model/checkpoint.js';
import { openAnyCheckpoint } from '../container/compress-model.js';
import { load } from '../load.js';
import { progressBar } from './progress.js';
import { cliJson } from './json.js';
import { io } from '../util/io.js';
import { readTextFile, type TextEncoding } from '../util/files.js';
import { num, parseIntArg } from './args.js';

/**
 * Load a model (path or an already opened checkpoint, which the model then owns) with a progress bar.
 * @example
 * const m = await loadWithProgress('default'); m.dispose();
 */
export async function loadWithProgress(source: string | Checkpoint, backend?: 'wasm' | 'cpu'): Promise<LlamaModel> {
  const bar = progressBar('loading', 1);
  try {
    return await load(source, { backend, onProgress: (d, t) => bar.update(d, t) });
  } finally {
    bar.stop();
  }
}

/**
 * Open a checkpoint lazily, run the pre-load checks on it, then load its weights. The checkpoint is closed when a
 * check fails; otherwise the returned model owns it.
 * @example
 * const m = await checkThenLoad('default', (ck) => checkTokensFit(ck, '--window', 512, ck.config.maxPositionEmbeddings));
 */
export async function checkThenLoad(model: string, check: (ck: Checkpoint) => void, backend?: 'wasm' | 'cpu'): Promise<LlamaModel> {
  const ck = openAnyCheckpoint(model);
  try {
    check(ck);
    return await loadWithProgress(ck, backend);
  } catch (e) {
    ck.close();
    throw e;
  }
}

/** Print `obj` as JSON (with --json; keys in snake_case, cli/json.ts) or as `human` lines. */
export function output(json: boolean, obj: unknown, human: () => string): void {
  io.out(json ? JSON.stringify(cliJson(obj), (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n' : human() + '\n');
}

/**
 * A text file to evaluate on: a regular file, valid UTF-8 (or latin1 when asked), E_IO / E_ARG otherwise.
 * @example
 * readText('data/texts/eval.txt').length
 */
export function readText(file: string, encoding: TextEncoding = 'utf8'): string {
  return readTextFile(file, encoding);
}

/** Integer option value >= min (kept for callers outside the option table; prefer args.int as a parser). */
export function intOpt(name: string, v: string, min = 0): number {
  return parseIntArg(name, String(v), min);
}

/** Finite number option value (kept for callers outside the option table; prefer args.num as a parser). */
export function numOpt(name: string, v: string): number {
  return num(name)(String(v));
}
