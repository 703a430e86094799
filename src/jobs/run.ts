/**
 * `codecllm job run`: run one point of a plan and write `<plan>.results/<index>.json` atomically.
 *
 * A result holds the job's hash, the checkpoint name the sweep prints, the token count, the sweep row, and `hash`
 * (sha256 of its canonical JSON without `hash`). A point whose result exists and verifies against the job is skipped.
 * Before running, the model and the text are hashed again and must match the job (E_JOB otherwise). A
 * {@link JobRunner} keeps the loaded model and the baseline between points (the executor's workers, exec.ts); a
 * point's row does not depend on what ran before it (every row starts from the checkpoint's weights).
 *
 * @example
 * const r = await runJob('plan.jsonl', 0); // { skipped: false, file: 'plan.jsonl.results/0.json', result }
 */
import fs from 'node:fs';
import { err, isCodecError, msg } from '../messages.js';
import { load } from '../load.js';
import { sweepTokens } from '../lab/sweep.js';
import { sweepBaseline, sweepRow, type EngineSweepRow, type SweepBaseline } from '../lab/engine-sweep.js';
import type { LlamaModel } from '../model/llama.js';
import { decodeText, ioError, readRegularFile, statRegularFile } from '../util/files.js';
import { type Job, canonicalJson, hashOf, readPlan, resultPath, resultsDir, sha256Model, writeFileAtomic } from './plan.js';
import crypto from 'node:crypto';

export const RESULT_FORMAT = 'codecllm-job-result';
export const RESULT_VERSION = 1;

/** The result file of one job. */
export interface JobResult {
  format: typeof RESULT_FORMAT;
  version: typeof RESULT_VERSION;
  index: number;
  /** The hash of the job this result answers. */
  jobHash: string;
  /** The checkpoint name (as `codecllm sweep` prints it), the tokens evaluated, whether the baseline came from a cache. */
  model: string;
  tokens: number;
  baselineCached: boolean;
  row: EngineSweepRow;
  hash: string;
}

/**
 * Read a result file and check it against its job: format, its own hash, the job's hash and index. Throws E_JOB
 * naming the file (E_IO when it cannot be read).
 * @example
 * readResult('plan.jsonl.results/2.json', jobs[2]).row.klMean
 */
export function readResult(file: string, job: Job): JobResult {
  const bad = (detail: string) => err('E_JOB', msg.jobBad(file, detail));
  const size = statRegularFile(file).size;
  if (size > 1 << 20) throw bad(`${size} bytes is too large for a job result (at most 1 MiB)`);
  let v: unknown;
  try {
    v = JSON.parse(readRegularFile(file).toString('utf8'));
  } catch (e) {
    if (isCodecError(e)) throw e;
    throw bad('not valid JSON (a partial or corrupt result)');
  }
  const r = v as Partial<JobResult> | null;
  if (r === null || typeof r !== 'object' || r.format !== RESULT_FORMAT) throw bad('not a codecllm job result');
  if (r.version !== RESULT_VERSION) throw bad(`unsupported result version ${JSON.stringify(r.version)} (expected ${RESULT_VERSION})`);
  if (typeof r.hash !== 'string' || hashOf(r) !== r.hash) throw bad('result hash does not match its content (tampered or corrupt)');
  if (r.index !== job.index) throw bad(`holds point ${JSON.stringify(r.index)}, not point ${job.index} (a duplicate or misplaced result)`);
  if (r.jobHash !== job.hash)
    throw bad(`answers job ${String(r.jobHash).slice(0, 12)}…, but point ${job.index} of the plan is job ${job.hash.slice(0, 12)}… (a result of another plan)`);
  if (typeof r.row !== 'object' || r.row === null || typeof r.row.time_s !== 'number' || typeof r.model !== 'string' || !Number.isSafeInteger(r.tokens)) throw bad('missing result fields');
  return r as JobResult;
}

/**
 * True when the result of `job` exists and verifies (a point to skip) — the one skip rule of `job run`, `job exec`
 * and `job slurm`.
 * @example
 * readPlan('plan.jsonl').filter((j) => !resultVerifies('plan.jsonl', j)) // the points still to run
 */
export function resultVerifies(planFile: string, job: Job): boolean {
  const file = resultPath(planFile, job.index);
  if (!fs.existsSync(file)) return false;
  try {
    readResult(file, job);
    return true;
  } catch {
    return false;
  }
}

/** The text of a job, re-hashed; E_JOB when it changed since the plan was written. */
function checkText(planFile: string, job: Job): string {
  const bytes = readRegularFile(job.text.path);
  const th = crypto.createHash('sha256').update(bytes).digest('hex');
  if (th !== job.text.sha256)
    throw err('E_JOB', msg.jobBad(job.text.path, `sha256 ${th.slice(0, 12)}… differs from ${job.text.sha256.slice(0, 12)}… in ${planFile} point ${job.index} (the text changed since the plan was written)`));
  return decodeText(job.text.path, bytes, job.text.encoding);
}

/** The model of a job, re-hashed (once per load); E_JOB when it changed since the plan was written. */
function checkModel(planFile: string, job: Job): void {
  const mh = sha256Model(job.model.path);
  if (mh !== job.model.sha256)
    throw err('E_JOB', msg.jobBad(job.model.path, `sha256 ${mh.slice(0, 12)}… differs from ${job.model.sha256.slice(0, 12)}… in ${planFile} point ${job.index} (the model changed since the plan was written)`));
}

/** What a point's baseline depends on: every job field but the configuration (layers, selection, quant). */
function baselineKey(job: Job): string {
  return canonicalJson({ model: job.model, text: job.text, tokens: job.tokens, window: job.window, stride: job.stride, greedyTokens: job.greedyTokens, engine: job.engine, modes: job.modes });
}

/**
 * Runs points of plans in this process, keeping the last model (loaded once, hashed at load) and the last baseline
 * between points that share them.
 * @example
 * const runner = new JobRunner();
 * try { for (const j of readPlan('plan.jsonl')) await runner.run('plan.jsonl', j); } finally { runner.dispose(); }
 */
export class JobRunner {
  private model: { key: string; m: LlamaModel } | null = null;
  private baseline: { key: string; b: SweepBaseline; ids: number[] } | null = null;

  /** Run `job` (a point of `planFile`) unless its result verifies (or `force`), writing its result atomically. */
  async run(planFile: string, job: Job, o: { force?: boolean } = {}): Promise<{ skipped: boolean; file: string; result: JobResult }> {
    const file = resultPath(planFile, job.index);
    if (!o.force && resultVerifies(planFile, job)) return { skipped: true, file, result: readResult(file, job) };
    const text = checkText(planFile, job);
    const modelKey = `${job.model.path}\n${job.model.sha256}`;
    if (this.model?.key !== modelKey) {
      this.dispose();
      checkModel(planFile, job);
      this.model = { key: modelKey, m: await load(job.model.path) };
    }
    const m = this.model.m;
    const key = baselineKey(job);
    if (this.baseline?.key !== key) {
      this.baseline = null;
      const ids = sweepTokens(m, text, job.tokens);
      const b = await sweepBaseline(m, { engine: job.engine, modes: job.modes, ids, window: job.window, stride: job.stride, greedyTokens: job.greedyTokens });
      this.baseline = { key, b, ids };
    }
    const { b, ids } = this.baseline;
    const row = await sweepRow(m, b, { engine: job.engine, modes: job.modes }, { select: job.select, quant: job.quant, label: job.layers });
    const body = { format: RESULT_FORMAT, version: RESULT_VERSION, index: job.index, jobHash: job.hash, model: m.checkpoint.file, tokens: ids.length, baselineCached: b.cached, row };
    const plain = JSON.parse(JSON.stringify(body)) as Omit<JobResult, 'hash'>; // NaN -> null before hashing, as read back
    const result: JobResult = { ...plain, hash: hashOf(plain) };
    try {
      fs.mkdirSync(resultsDir(planFile), { recursive: true });
    } catch (e) {
      throw ioError(resultsDir(planFile), e);
    }
    writeFileAtomic(file, JSON.stringify(result, null, 1) + '\n');
    return { skipped: false, file, result };
  }

  /** Free the model and the baseline. */
  dispose(): void {
    this.baseline = null;
    this.model?.m.dispose();
    this.model = null;
  }
}

/**
 * Run point `index` of a plan on its engine (baseline, patch, score, greedy continuation: the sweep's steps for that
 * row) and write its result atomically; skip it when its result already verifies (unless `force`).
 * @example
 * for (let i = 0; i < readPlan('plan.jsonl').length; i++) await runJob('plan.jsonl', i);
 */
export async function runJob(planFile: string, index: number, o: { force?: boolean } = {}): Promise<{ skipped: boolean; file: string; result: JobResult }> {
  const jobs = readPlan(planFile);
  const job = jobs[index];
  if (!job) throw err('E_ARG', msg.badArg('--index', `${index}: ${planFile} has points 0..${jobs.length - 1}`));
  const runner = new JobRunner();
  try {
    return await runner.run(planFile, job, o);
  } finally {
    runner.dispose();
  }
}
