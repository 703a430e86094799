/**
 * `codecllm job exec`: run a plan's points on this host — one worker process per GPU (`CUDA_VISIBLE_DEVICES` set to
 * it) or N CPU workers — each worker holding one loaded model and opening its engine per point, pulling the next point
 * from one shared queue when it finishes the last (not a static split).
 *
 * Points whose results already verify are not queued (run.ts's {@link resultVerifies}, the rule `job run` skips by).
 * A point that fails — its worker died (a replacement worker starts on the same GPU) or it threw — goes back to the
 * queue once; a second failure is reported by index and configuration, and the other points still run.
 *
 * @example
 * const r = await execPlan('plan.jsonl', { gpus: ['0', '1'] });
 * r.failed // [] when every point has a verified result
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { err, msg } from '../messages.js';
import { type Job, readPlan } from './plan.js';
import { resultVerifies } from './run.js';
import type { WorkerIn, WorkerOut } from './worker.js';

/** Tries per point: the first run and one retry. */
export const JOB_ATTEMPTS = 2;

export interface ExecOptions {
  /** GPU ids, one worker each (CUDA_VISIBLE_DEVICES); or */
  gpus?: string[];
  /** this many CPU workers (default 1 when no gpus). */
  workers?: number;
  /** Called as points start and end (progress; tests). */
  onEvent?: (e: { type: 'start' | 'done' | 'failed' | 'worker-exit'; slot: string; index?: number; pid?: number; detail?: string }) => void;
}

export interface ExecFailure {
  index: number;
  layers: number | 'all';
  select: string;
  quant: string;
  /** Why each attempt failed, in order. */
  errors: string[];
}

export interface ExecReport {
  plan: string;
  points: number;
  /** Points whose results verified before the run (not queued). */
  verified: number[];
  /** Points run now (in completion order). */
  ran: number[];
  failed: ExecFailure[];
  /** Worker processes started (more than the slots when some died). */
  workersStarted: number;
  timeS: number;
}

/** The worker module beside this one (worker.ts under tsx, worker.js compiled). */
function workerModule(): { file: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ext = path.extname(here);
  const execArgv = ext === '.ts' && !process.execArgv.join(' ').includes('tsx') ? [...process.execArgv, '--import', 'tsx'] : process.execArgv;
  return { file: path.join(path.dirname(here), `worker${ext}`), execArgv };
}

/**
 * Run every point of `planFile` whose result does not verify (see the module comment); resolves when every queued
 * point has a result or has failed {@link JOB_ATTEMPTS} times.
 * @example
 * const { ran, failed } = await execPlan('plan.jsonl', { workers: 2 });
 */
export async function execPlan(planFile: string, o: ExecOptions = {}): Promise<ExecReport> {
  const t0 = performance.now();
  const jobs = readPlan(planFile);
  const slots = o.gpus?.length ? o.gpus : Array.from({ length: o.workers ?? 1 }, (_, i) => `cpu${i}`);
  const verified = jobs.filter((j) => resultVerifies(planFile, j)).map((j) => j.index);
  const queue = jobs.filter((j) => !verified.includes(j.index));
  const errors = new Map<number, string[]>();
  const ran: number[] = [];
  const failed: ExecFailure[] = [];
  const { file, execArgv } = workerModule();
  let live = 0;
  let started = 0;
  const fail = (job: Job, why: string) => {
    const e = [...(errors.get(job.index) ?? []), why];
    errors.set(job.index, e);
    if (e.length < JOB_ATTEMPTS) queue.push(job);
    else failed.push({ index: job.index, layers: job.layers, select: job.select, quant: job.quant, errors: e });
  };

  await new Promise<void>((resolve) => {
    const start = (slot: string) => {
      const env = o.gpus?.length ? { ...process.env, CUDA_VISIBLE_DEVICES: slot } : process.env;
      const child = fork(file, [], { env, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      live++;
      started++;
      let current: Job | null = null;
      const next = () => {
        current = queue.shift() ?? null;
        if (!current) return child.send({ type: 'stop' } satisfies WorkerIn);
        o.onEvent?.({ type: 'start', slot, index: current.index, pid: child.pid });
        child.send({ type: 'run', plan: planFile, job: current, attempt: (errors.get(current.index)?.length ?? 0) + 1 } satisfies WorkerIn);
      };
      child.on('message', (m: WorkerOut) => {
        if (m.type === 'done' && current) {
          ran.push(current.index);
          o.onEvent?.({ type: 'done', slot, index: current.index, pid: child.pid });
        } else if (m.type === 'failed' && current) {
          fail(current, m.error);
          o.onEvent?.({ type: 'failed', slot, index: current.index, pid: child.pid, detail: m.error });
        }
        next();
      });
      let gone = false;
      const onGone = (why: string) => {
        if (gone) return;
        gone = true;
        live--;
        const lost = current;
        current = null;
        o.onEvent?.({ type: 'worker-exit', slot, index: lost?.index, pid: child.pid, detail: why });
        if (lost) {
          fail(lost, `worker ${slot} (pid ${child.pid}) died: ${why}`);
          if (queue.length) start(slot); // a replacement on the same GPU
        }
        if (live === 0) {
          for (const j of queue.splice(0)) failed.push({ index: j.index, layers: j.layers, select: j.select, quant: j.quant, errors: [...(errors.get(j.index) ?? []), 'not run: every worker exited'] });
          resolve();
        }
      };
      // a send to a worker that just died is reported here too; its 'exit' requeues the point. No pid: it never started.
      child.on('error', (e) => child.pid === undefined && onGone(`could not start: ${e.message}`));
      child.on('exit', (code, signal) => onGone(signal ? `killed by ${signal}` : `exit code ${code}`));
    };
    if (queue.length === 0) return resolve();
    for (const s of slots.slice(0, queue.length)) start(s);
  });
  failed.sort((a, b) => a.index - b.index);
  return { plan: planFile, points: jobs.length, verified, ran, failed, workersStarted: started, timeS: (performance.now() - t0) / 1000 };
}

/**
 * The E_JOB error for a run with failed points, naming each by index and configuration.
 * @example
 * if (r.failed.length) throw execFailureError(r);
 */
export function execFailureError(r: ExecReport) {
  const what = r.failed.map((f) => `point ${f.index} (layers ${f.layers}, ${f.select}, ${f.quant}): ${f.errors.join('; then ')}`);
  return err('E_JOB', msg.jobBad(r.plan, `${r.failed.length} of ${r.points} point${r.points > 1 ? 's' : ''} failed after ${JOB_ATTEMPTS} attempts — ${what.join(' | ')}`));
}
