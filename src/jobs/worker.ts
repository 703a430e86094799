/**
 * A `codecllm job exec` worker process (exec.ts forks it): one {@link JobRunner} — one loaded model, one engine at a
 * time, one baseline — for every point the executor hands it over IPC, one point at a time.
 *
 * Messages in: `{ type: 'run', plan, job, attempt }`, `{ type: 'stop' }`. Out: `{ type: 'ready' }`, then per point
 * `{ type: 'done', index }` or `{ type: 'failed', index, error }`.
 *
 * `CODECLLM_JOB_KILL=i:n` (tests): the worker SIGKILLs itself when handed point i on attempt 1..n — a real worker
 * death in the middle of a point.
 */
import type { Job } from './plan.js';
import { JobRunner } from './run.js';

export type WorkerIn = { type: 'run'; plan: string; job: Job; attempt: number } | { type: 'stop' };
export type WorkerOut =
  | { type: 'ready' }
  | { type: 'done'; index: number }
  | { type: 'failed'; index: number; error: string };

const send = (m: WorkerOut) => process.send!(m);
const kill = /^(\d+):(\d+)$/.exec(process.env.CODECLLM_JOB_KILL ?? '');
const runner = new JobRunner();

process.on('message', (m: WorkerIn) => {
  if (m.type === 'stop') {
    runner.dispose();
    process.disconnect();
    return;
  }
  const index = m.job.index;
  if (kill && Number(kill[1]) === index && m.attempt <= Number(kill[2])) process.kill(process.pid, 'SIGKILL');
  runner.run(m.plan, m.job).then(
    () => send({ type: 'done', index }),
    (e: unknown) => send({ type: 'failed', index, error: e instanceof Error ? e.message : String(e) }),
  );
});
send({ type: 'ready' });
