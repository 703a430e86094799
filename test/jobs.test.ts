/**
 * Sweep plans end to end on a tiny synthetic GGUF (in-process CLI): `sweep --plan` → `job run` for every index →
 * `job merge` equals the in-process `sweep` rows (all fields but time_s); a second run skips; a tampered result, a
 * result of another plan, a stray result file, a missing point, a duplicated or edited plan line are refused by name
 * with E_JOB on one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cli, json, jobsFixture, withoutTime } from './jobs-helpers.js';

const { tmp, model, sweepArgs } = jobsFixture('codecllm-jobs-');
const plan = path.join(tmp, 'plan.jsonl');

/** Expect one E_JOB line naming `subject` and matching `problem`. */
async function refused(args: string[], subject: string, problem: RegExp) {
  const r = await cli(...args);
  assert.equal(r.status, 1, r.stdout);
  assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
  assert.ok(r.stderr.startsWith(`codecllm: ${subject}: `), r.stderr);
  assert.match(r.stderr, problem);
  assert.match(r.stderr, /\[E_JOB\]\n$/);
}


test('plan → run every index → merge equals the in-process sweep; a second run skips', async () => {
  const direct = await json('sweep', ...sweepArgs);
  const p = await json('sweep', ...sweepArgs, '--plan', plan);
  assert.equal(p.jobs, 3);
  const lines = fs.readFileSync(plan, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((j) => j.select), ['first:1', 'first:5', 'all']);
  assert.match(lines[0].model.sha256, /^[0-9a-f]{64}$/);
  await refused(['job', 'merge', plan], plan, /missing results for points 0, 1, 2 of 3/);
  for (let i = 2; i >= 0; i--) {
    const r = await json('job', 'run', plan, '--index', String(i));
    assert.equal(r.skipped, false);
    assert.equal(r.job_hash, lines[i].hash);
  }
  const merged = await json('job', 'merge', plan);
  assert.equal(merged.model, direct.model);
  assert.equal(merged.quant, direct.quant);
  assert.equal(merged.tokens, direct.tokens);
  assert.equal(merged.engine, direct.engine);
  assert.ok(direct.rows[0].kl_mean > 0 && direct.rows[0].kl_mean < direct.rows[2].kl_mean, 'the rows differ from point to point');
  assert.deepEqual(withoutTime(merged.rows), withoutTime(direct.rows));
  const again = await json('job', 'run', plan, '--index', '1');
  assert.equal(again.skipped, true);
  const human = await cli('job', 'merge', plan);
  assert.match(human.stdout, /^engine native \(from the plan .*plan\.jsonl\); \d+ tokens scored per row;.*\nlayers +ratio +ppl \(base/);
});

test('merge refuses a tampered result, a missing point, a stray result and a result of another plan, by name', async () => {
  const dir = `${plan}.results`;
  const r1 = path.join(dir, '1.json');
  const good = fs.readFileSync(r1, 'utf8');
  const tampered = JSON.parse(good);
  assert.ok(tampered.row.kl_mean > 0);
  tampered.row.kl_mean = 0;
  fs.writeFileSync(r1, JSON.stringify(tampered));
  await refused(['job', 'merge', plan], r1, /result hash does not match its content/);
  // job run does not trust it either: it runs the point again
  const rerun = await json('job', 'run', plan, '--index', '1');
  assert.equal(rerun.skipped, false);
  assert.equal(fs.readFileSync(r1, 'utf8').length > 0, true);

  const r2 = path.join(dir, '2.json');
  const saved = fs.readFileSync(r2);
  fs.rmSync(r2);
  await refused(['job', 'merge', plan], plan, /missing result for point 2 of 3/);
  fs.writeFileSync(r2, saved);

  fs.copyFileSync(r2, path.join(dir, '7.json'));
  await refused(['job', 'merge', plan], path.join(dir, '7.json'), /answers no point of/);
  fs.rmSync(path.join(dir, '7.json'));

  fs.copyFileSync(path.join(dir, '0.json'), r2); // point 0's result in point 2's place
  await refused(['job', 'merge', plan], r2, /holds point 0, not point 2/);
  fs.writeFileSync(r2, saved);

  // the same sweep with another quant is another plan: its results do not answer this one
  const other = path.join(tmp, 'other.jsonl');
  await json('sweep', ...sweepArgs.map((a) => (a === 'int8:per-tensor' ? 'int8:per-channel' : a)), '--plan', other);
  fs.mkdirSync(`${other}.results`);
  for (const i of [0, 1, 2]) fs.copyFileSync(path.join(dir, `${i}.json`), path.join(`${other}.results`, `${i}.json`));
  await refused(['job', 'merge', other], path.join(`${other}.results`, '0.json'), /answers job [0-9a-f]{12}…, but point 0 of the plan is job/);

  assert.equal((await cli('job', 'merge', plan)).status, 0);
});

test('a duplicated or edited plan line, and a changed model, are refused', async () => {
  const lines = fs.readFileSync(plan, 'utf8').trim().split('\n');
  const dup = path.join(tmp, 'dup.jsonl');
  fs.writeFileSync(dup, [...lines, lines[1]].join('\n') + '\n');
  await refused(['job', 'merge', dup], dup, /duplicate point 1 \(lines 2 and 4\)/);
  const edited = path.join(tmp, 'edited.jsonl');
  fs.writeFileSync(edited, [lines[0], lines[1]!.replace('first:5', 'first:6'), lines[2]].join('\n') + '\n');
  await refused(['job', 'run', edited, '--index', '0'], edited, /line 2: job hash [0-9a-f]{12}… does not match its content/);
  const copy = path.join(tmp, 'copy.jsonl');
  fs.copyFileSync(plan, copy);
  const m2 = path.join(tmp, 'tiny.gguf');
  const bytes = fs.readFileSync(m2);
  fs.writeFileSync(m2, Buffer.concat([bytes, Buffer.from([0])]));
  try {
    await refused(['job', 'run', copy, '--index', '0'], m2, /sha256 [0-9a-f]{12}… differs from .* point 0 \(the model changed/);
  } finally {
    fs.writeFileSync(m2, bytes);
  }
  const none = await cli('job', 'merge', path.join(tmp, 'none.jsonl'));
  assert.equal(none.status, 1);
  assert.match(none.stderr, /^codecllm: .*none\.jsonl: no such file or directory \[E_IO\]\n$/);
  const bad = await cli('job', 'run', plan, '--index', '3');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /invalid --index: 3: .* has points 0\.\.2 \[E_ARG\]/);
});
