/** Helpers shared by CLI commands: loading a model with a progress bar, printing human or JSON output. */
import fs from 'node:fs';
import type { LlamaModel } from '../model/llama.js';
import { load } from '../load.js';
import { progressBar } from './progress.js';
import { err, msg } from '../messages.js';

export async function loadWithProgress(path: string, backend?: 'wasm' | 'cpu'): Promise<LlamaModel> {
  const bar = progressBar('loading', 1);
  try {
    return await load(path, { backend, onProgress: (d, t) => bar.update(d, t) });
  } finally {
    bar.stop();
  }
}

/** Print `obj` as JSON (with --json) or as `human` lines. */
export function output(json: boolean, obj: unknown, human: () => string): void {
  process.stdout.write(json ? JSON.stringify(obj, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n' : human() + '\n');
}

export function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    throw err('E_IO', msg.fileNotFound(file));
  }
}

export function intOpt(name: string, v: string, min = 0): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw err('E_ARG', msg.badArg(name, `'${v}' is not an integer >= ${min}`));
  return n;
}

export function numOpt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw err('E_ARG', msg.badArg(name, `'${v}' is not a number`));
  return n;
}
