/**
 * The jobs tests' shared fixture (jobs, jobs-exec, jobs-slurm): a tiny synthetic GGUF (2 layers, f32) and a short text
 * in a fresh temp folder, the 3-point sweep arguments every plan is made from, and the CLI run in-process.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tinyConfig, syntheticWeights, writeGGUFModel, byteLevelVocabMetadata } from '../src/model/synthetic.js';

process.env.CODECLLM_PROGRESS = '0';
const { main } = await import('../src/cli/main.js');

/** A temp folder holding tiny.gguf and text.txt, and the sweep arguments over them (native engine, 32 tokens). */
export function jobsFixture(prefix: string): { tmp: string; model: string; text: string; sweepArgs: string[] } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const cfg = tinyConfig({ numLayers: 2, maxPositionEmbeddings: 256 });
  const model = path.join(tmp, 'tiny.gguf');
  writeGGUFModel(model, cfg, syntheticWeights(cfg, 5), 'f32', byteLevelVocabMetadata());
  const text = path.join(tmp, 'text.txt');
  fs.writeFileSync(text, 'The river begins as a thin stream of melted snow high in the mountains. '.repeat(2));
  const sweepArgs = [model, '--layers', '1,5,all', '--quant', 'int8:per-tensor', '--text', text, '--tokens', '32', '--engine', 'native'];
  return { tmp, model, text, sweepArgs };
}

/** Run the CLI in-process; returns exit status, stdout, stderr. */
export async function cli(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  process.exitCode = 0;
  await main(['node', 'codecllm', ...args], { out: (s) => void (stdout += s), err: (s) => void (stderr += s) });
  const status = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { status, stdout, stderr };
}

/** Run the CLI with --json; asserts exit 0 and returns the parsed output. */
export async function json(...args: string[]) {
  const r = await cli(...args, '--json');
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Sweep rows without their wall time (the only field that differs between runs of the same point). */
export const withoutTime = (rows: Record<string, unknown>[]) => rows.map(({ time_s: _t, ...r }) => r);
