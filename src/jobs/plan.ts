/**
 * Sweep plans: one self-contained job per configuration, one JSON object per line of a `.jsonl` file.
 *
 * A job names everything its point needs (model path and sha256, evaluation text path and sha256, tokens, patch
 * selection, quant spec, engine) and carries `hash`, the sha256 of its canonical JSON without `hash`. Results of
 * `job run` live in `<plan>.results/<index>.json` (run.ts); `job merge` gathers them (merge.ts).
 *
 * @example
 * const jobs = progressivePlan({ model: 'm.gguf', text: 't.txt', encoding: 'utf8', tokens: 128, quant: 'int8', layers: [1, 'all'], linears: 22, context: 2048, engine: 'native', modes: 'fp16' });
 * writeFileAtomic('plan.jsonl', planText(jobs));
 * readPlan('plan.jsonl').length // 2
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { err, msg } from '../messages.js';
import { progressiveSelect } from '../lab/sweep.js';
import { ENGINE_NAMES, type EngineName } from '../engine/engine.js';
import { resolveModelPath } from '../model/checkpoint.js';
import { ioError, readRegularFile, statRegularFile } from '../util/files.js';
import { registerTemp, tempPathFor, unregisterTemp } from '../util/temp-files.js';
import type { TextEncoding } from '../util/files.js';

export const JOB_FORMAT = 'codecllm-job';
export const JOB_VERSION = 1;

/** One point of a sweep. */
export interface Job {
  format: typeof JOB_FORMAT;
  version: typeof JOB_VERSION;
  /** 0-based position in the sweep's rows. */
  index: number;
  kind: 'progressive';
  /** Absolute path; sha256 of the file (a folder: of its sorted `name sha256` lines). */
  model: { path: string; sha256: string };
  text: { path: string; sha256: string; encoding: TextEncoding };
  /** Tokens of the text to evaluate on (the first N), scored in strided windows. */
  tokens: number;
  window: number;
  stride: number;
  /** Greedy continuation length (deterministic: no sampling, so no seed). */
  greedyTokens: number;
  /** The sweep row's `layers` (N of first:N, or 'all') and the selection it stands for. */
  layers: number | 'all';
  select: string;
  quant: string;
  /** The engine resolved when the plan was written (auto never reaches a job), and its GPU storage modes. */
  engine: EngineName;
  modes: string;
  hash: string;
}

/**
 * JSON with object keys sorted at every level (the form that is hashed).
 * @example
 * canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }) // '{"a":[2,{"c":4,"d":3}],"b":1}'
 */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/**
 * sha256 (hex) of the canonical JSON of `v` without its `hash` key.
 * @example
 * hashOf({ a: 1, hash: 'x' }) === hashOf({ a: 1 }) // true
 */
export function hashOf(v: object): string {
  const { hash: _h, ...rest } = v as { hash?: unknown };
  return crypto.createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/**
 * sha256 (hex) of a regular file, read in 4 MiB pieces.
 * @example
 * sha256File('data/texts/eval.txt').length // 64
 */
export function sha256File(file: string): string {
  statRegularFile(file);
  const h = crypto.createHash('sha256');
  const buf = Buffer.allocUnsafe(4 << 20);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw ioError(file, e);
  }
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } catch (e) {
    throw ioError(file, e);
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * sha256 of a model: of the file (GGUF, .cllm), or of a folder's sorted `name sha256` lines (its regular files).
 * @example
 * sha256Model('data/models/SmolLM2-135M-Instruct.Q4_1.gguf')
 */
export function sha256Model(p: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    throw ioError(p, e);
  }
  if (!st.isDirectory()) return sha256File(p);
  const lines = fs
    .readdirSync(p)
    .sort()
    .filter((n) => fs.statSync(path.join(p, n)).isFile())
    .map((n) => `${n} ${sha256File(path.join(p, n))}\n`);
  return crypto.createHash('sha256').update(lines.join('')).digest('hex');
}

/** Options of a progressive sweep plan (the `codecllm sweep` options, plus the model's linear count). */
export interface ProgressivePlanOptions {
  model: string;
  text: string;
  encoding: TextEncoding;
  tokens: number;
  quant: string;
  layers: readonly (number | 'all')[];
  /** Linear layers of the model (N >= linears is 'all', as progressiveSweep counts). */
  linears: number;
  /** The model's context length: the window is min(512, it), the stride half the window (engineSweep's defaults). */
  context: number;
  engine: EngineName;
  modes: string;
  greedyTokens?: number;
}

/**
 * The jobs of `codecllm sweep --plan`: one per --layers value, hashing the model and the text once.
 * @example
 * progressivePlan({ model: 'default', text: 'data/texts/eval.txt', encoding: 'utf8', tokens: 128, quant: 'int8', layers: [1, 5, 'all'], linears: 211, context: 8192, engine: 'native', modes: 'fp16' })
 */
export function progressivePlan(o: ProgressivePlanOptions): Job[] {
  const modelPath = path.resolve(resolveModelPath(o.model));
  const model = { path: modelPath, sha256: sha256Model(modelPath) };
  const textPath = path.resolve(o.text);
  const text = { path: textPath, sha256: sha256File(textPath), encoding: o.encoding };
  const window = Math.min(512, o.context);
  const stride = Math.max(1, Math.floor(window / 2));
  return o.layers.map((n, index) => {
    const job: Omit<Job, 'hash'> = {
      format: JOB_FORMAT,
      version: JOB_VERSION,
      index,
      kind: 'progressive',
      model,
      text,
      tokens: o.tokens,
      window,
      stride,
      greedyTokens: o.greedyTokens ?? 12,
      layers: n,
      select: progressiveSelect(n, o.linears),
      quant: o.quant,
      engine: o.engine,
      modes: o.modes,
    };
    return { ...job, hash: hashOf(job) };
  });
}

/**
 * The plan file's text: one job per line.
 * @example
 * planText(jobs).split('\n').length // jobs.length + 1
 */
export function planText(jobs: readonly Job[]): string {
  return jobs.map((j) => JSON.stringify(j)).join('\n') + '\n';
}

/** Largest plan file read (a line is about 1 KB: some 60,000 points). */
export const MAX_PLAN_BYTES = 64 << 20;

const bad = (file: string, detail: string) => err('E_JOB', msg.jobBad(file, detail));

function checkJob(file: string, line: number, v: unknown): Job {
  const where = `line ${line}`;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad(file, `${where}: not a JSON object`);
  const j = v as Record<string, unknown>;
  if (j.format !== JOB_FORMAT) throw bad(file, `${where}: not a codecllm job (format ${JSON.stringify(j.format)})`);
  if (j.version !== JOB_VERSION) throw bad(file, `${where}: unsupported job version ${JSON.stringify(j.version)} (expected ${JOB_VERSION})`);
  const isHash = (h: unknown) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h);
  const m = j.model as Job['model'] | undefined;
  const t = j.text as Job['text'] | undefined;
  const ok =
    Number.isSafeInteger(j.index) && (j.index as number) >= 0 &&
    j.kind === 'progressive' && (ENGINE_NAMES as readonly unknown[]).includes(j.engine) && typeof j.modes === 'string' &&
    typeof m === 'object' && m !== null && typeof m.path === 'string' && isHash(m.sha256) &&
    typeof t === 'object' && t !== null && typeof t.path === 'string' && isHash(t.sha256) && (t.encoding === 'utf8' || t.encoding === 'latin1') &&
    Number.isSafeInteger(j.tokens) && (j.tokens as number) >= 2 &&
    Number.isSafeInteger(j.greedyTokens) && (j.greedyTokens as number) >= 0 &&
    Number.isSafeInteger(j.window) && (j.window as number) >= 2 && Number.isSafeInteger(j.stride) && (j.stride as number) >= 1 &&
    (j.layers === 'all' || (Number.isSafeInteger(j.layers) && (j.layers as number) >= 1)) &&
    typeof j.select === 'string' && typeof j.quant === 'string' && isHash(j.hash);
  if (!ok) throw bad(file, `${where}: missing or malformed job fields`);
  if (hashOf(j) !== j.hash) throw bad(file, `${where}: job hash ${(j.hash as string).slice(0, 12)}… does not match its content (edited or corrupt)`);
  return j as unknown as Job;
}

/**
 * Read and check a plan: every line a job whose hash verifies; indices 0..n-1, each once; no configuration twice.
 * Throws E_JOB naming the file and the line, E_IO when it cannot be read.
 * @example
 * readPlan('plan.jsonl')[0].select // 'first:1'
 */
export function readPlan(file: string): Job[] {
  const size = statRegularFile(file).size;
  if (size > MAX_PLAN_BYTES) throw bad(file, `${size} bytes is too large for a plan (at most ${MAX_PLAN_BYTES}; a plan line is about 1 KB)`);
  const text = readRegularFile(file).toString('utf8');
  const jobs: Job[] = [];
  const lineOf = new Map<number, number>();
  const configLine = new Map<string, number>();
  text.split('\n').forEach((s, i) => {
    if (s.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch {
      throw bad(file, `line ${i + 1}: not valid JSON`);
    }
    const j = checkJob(file, i + 1, v);
    const prev = lineOf.get(j.index);
    if (prev !== undefined) throw bad(file, `duplicate point ${j.index} (lines ${prev} and ${i + 1})`);
    const config = hashOf({ ...j, index: 0 });
    const same = configLine.get(config);
    if (same !== undefined) throw bad(file, `duplicate configuration: lines ${same} and ${i + 1} are the same job (layers ${JSON.stringify(j.layers)})`);
    lineOf.set(j.index, i + 1);
    configLine.set(config, i + 1);
    jobs.push(j);
  });
  if (jobs.length === 0) throw bad(file, 'no jobs');
  jobs.sort((a, b) => a.index - b.index);
  const gap = jobs.findIndex((j, i) => j.index !== i);
  if (gap >= 0) throw bad(file, `point ${gap} is not in the plan (indices must run 0..${jobs.length - 1})`);
  return jobs;
}

/**
 * The folder of a plan's results, and the result file of one point.
 * @example
 * resultPath('runs/plan.jsonl', 3) // 'runs/plan.jsonl.results/3.json'
 */
export function resultPath(planFile: string, index: number): string {
  return path.join(resultsDir(planFile), `${index}.json`);
}

/** `<plan>.results` (see {@link resultPath}). */
export function resultsDir(planFile: string): string {
  return `${planFile}.results`;
}

/**
 * Write `data` to `file` atomically: a temp file beside it, fsync, rename (a reader sees the old file or the new one).
 * @example
 * writeFileAtomic('plan.jsonl.results/0.json', '{}\n');
 */
export function writeFileAtomic(file: string, data: string): void {
  const tmp = tempPathFor(file);
  registerTemp(tmp);
  try {
    const fd = fs.openSync(tmp, 'wx', 0o644);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw ioError(file, e);
  } finally {
    unregisterTemp(tmp);
  }
}
