/**
 * `codecllm job exec` on a tiny synthetic GGUF with CPU workers (native engine): two workers pulling from one queue
 * merge to the in-process sweep's rows (all fields but time_s), each handed its next point only when it reports the
 * last one done (one queue, not a static split); a second exec runs nothing (the results verify); a
 * worker SIGKILLed in the middle of a point loses only that point, which is retried once on a replacement worker; a
 * point whose worker dies twice is reported by index and configuration (E_JOB, one line) while the others finish.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { cli, json, jobsFixture, withoutTime } from './jobs-helpers.js';

const { tmp, sweepArgs } = jobsFixture('codecllm-jobs-exec-');

const direct = await json('sweep', ...sweepArgs);
assert.ok(direct.rows[0].kl_mean > 0 && direct.rows[0].kl_mean < direct.rows[2].kl_mean, 'the rows differ from point to point');

async function freshPlan(name: string) {
  const plan = path.join(tmp, `${name}.jsonl`);
  await json('sweep', ...sweepArgs, '--plan', plan);
  return plan;
}

test('two CPU workers run every point; merge equals the in-process sweep; a second exec runs nothing', async () => {
  const plan = await freshPlan('two');
  const r = await json('job', 'exec', plan, '--workers', '2');
  assert.deepEqual([...r.ran].sort(), [0, 1, 2]);
  assert.deepEqual(r.failed, []);
  assert.equal(r.workers_started, 2);
  const merged = await json('job', 'merge', plan);
  assert.deepEqual(withoutTime(merged.rows), withoutTime(direct.rows));
  assert.equal(merged.tokens, direct.tokens);
  const again = await json('job', 'exec', plan, '--workers', '2');
  assert.deepEqual(again.verified, [0, 1, 2]);
  assert.deepEqual(again.ran, []);
  assert.equal(again.workers_started, 0);
});

test('workers pull one point at a time from one queue (not a static split)', async () => {
  const { execPlan } = await import('../src/jobs/exec.js');
  const plan = await freshPlan('pull');
  const events: { type: string; slot: string; index?: number }[] = [];
  const r = await execPlan(plan, { workers: 2, onEvent: (e) => events.push(e) });
  assert.deepEqual(r.failed, []);
  const starts = events.filter((e) => e.type === 'start');
  assert.deepEqual(starts.map((e) => e.index), [0, 1, 2], 'points leave the queue in order');
  // a worker is handed its next point only when it reports the last one done: per worker start, done, start, done…
  for (const slot of new Set(starts.map((e) => e.slot))) {
    const seq = events.filter((e) => e.slot === slot && (e.type === 'start' || e.type === 'done')).map((e) => e.type);
    assert.deepEqual(seq, seq.map((_, i) => (i % 2 ? 'done' : 'start')), `${slot}: ${seq.join(' ')}`);
  }
});

test('a worker killed in the middle of a point loses only that point: retried once on a replacement, results equal', async () => {
  const plan = await freshPlan('killed-once');
  process.env.CODECLLM_JOB_KILL = '1:1';
  try {
    const r = await json('job', 'exec', plan, '--workers', '1');
    assert.deepEqual([...r.ran].sort(), [0, 1, 2]);
    assert.deepEqual(r.failed, []);
    assert.equal(r.workers_started, 2, 'the killed worker was replaced');
  } finally {
    delete process.env.CODECLLM_JOB_KILL;
  }
  const merged = await json('job', 'merge', plan);
  assert.deepEqual(withoutTime(merged.rows), withoutTime(direct.rows));
});

test('a point whose worker dies twice is reported by index and configuration; the other points finish', async () => {
  const plan = await freshPlan('killed-twice');
  process.env.CODECLLM_JOB_KILL = '1:2';
  let r;
  try {
    r = await cli('job', 'exec', plan, '--workers', '2');
  } finally {
    delete process.env.CODECLLM_JOB_KILL;
  }
  assert.equal(r.status, 1, r.stdout);
  assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^codecllm: ${plan.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 1 of 3 points failed after 2 attempts — point 1 \\(layers 5, first:5, int8:per-tensor\\): worker cpu\\d \\(pid \\d+\\) died: killed by SIGKILL; then worker cpu\\d \\(pid \\d+\\) died: killed by SIGKILL \\[E_JOB\\]\\n$`));
  assert.match(r.stdout, /2 point\(s\) run, 0 already verified, 1 failed/);
  const m = await cli('job', 'merge', plan);
  assert.match(m.stderr, /missing result for point 1 of 3/);
  // the plan finishes on the next exec: only point 1 runs
  const rest = await json('job', 'exec', plan, '--workers', '2');
  assert.deepEqual(rest.ran, [1]);
  assert.deepEqual(rest.verified, [0, 2]);
  assert.equal(rest.workers_started, 1, 'one point: one worker');
  assert.deepEqual(withoutTime((await json('job', 'merge', plan)).rows), withoutTime(direct.rows));
});

test('--gpus refuses a malformed list', async () => {
  const r = await cli('job', 'exec', path.join(tmp, 'two.jsonl'), '--gpus', '0,0');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--gpus.*"0,0" is not a list of distinct GPU ids like 0,1,2 \[E_ARG\]\n$/);
});
