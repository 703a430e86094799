/**
 * The Slurm path for real: a one-node Slurm cluster on localhost (Debian's slurm-wlm: slurmctld + slurmd, started
 * here as the current user with a slurm.conf in a temp folder, AuthType=auth/none so no munge daemon), then
 * `codecllm job slurm plan --submit` (a job array on the native CPU engine), wait for the array to leave the queue,
 * `codecllm job merge` — equal to the in-process sweep of the same plan (every field but time_s). The daemons this test
 * started are stopped in `after`, by PID, pass or fail. Under CI=true a missing Slurm fails the test; elsewhere the
 * cluster test is skipped with the reason (`bash scripts/setup.sh` installs slurm-wlm). The script itself (array of
 * the points not yet verified, --gres=gpu:1 for cuda plans) is checked without Slurm.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { cli, json, jobsFixture, withoutTime } from './jobs-helpers.js';
import { hashOf, planText, readPlan, resultPath } from '../src/jobs/plan.js';
import { packageRoot } from '../src/util/paths.js';

const { tmp, model, sweepArgs } = jobsFixture('codecllm-slurm-');


test('the script: one array task per point not yet verified, a GPU each only for cuda plans', async () => {
  const plan = path.join(tmp, 'script.jsonl');
  await json('sweep', ...sweepArgs, '--plan', plan);
  const s = await json('job', 'slurm', plan, '--command', 'codecllm');
  assert.equal(s.script, `${plan}.sbatch`);
  assert.equal(s.array, '0-2');
  const body = fs.readFileSync(s.script, 'utf8');
  assert.match(body, /^#!\/bin\/bash\n/);
  assert.match(body, /\n#SBATCH --array=0-2\n/);
  assert.doesNotMatch(body, /--gres/);
  assert.match(body, new RegExp(`\\n#SBATCH --output=${plan.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.logs/slurm-%A_%a\\.out\\n`));
  assert.match(body, new RegExp(`\\nexec codecllm job run ${plan.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --index "\\$SLURM_ARRAY_TASK_ID"\\n$`));
  // point 1 verified: the array skips it; every point verified: nothing to submit
  assert.equal((await cli('job', 'run', plan, '--index', '1')).status, 0);
  assert.equal((await json('job', 'slurm', plan)).array, '0,2');
  for (const i of ['0', '2']) assert.equal((await cli('job', 'run', plan, '--index', i)).status, 0);
  const none = await json('job', 'slurm', plan, '--submit');
  assert.equal(none.script, null);
  assert.equal(none.job_id, null);
  // the same plan on the cuda engine asks for one GPU per task
  const cuda = path.join(tmp, 'cuda.jsonl');
  fs.writeFileSync(cuda, planText(readPlan(plan).map((j) => ({ ...j, engine: 'cuda' as const, hash: hashOf({ ...j, engine: 'cuda' }) }))));
  const c = await json('job', 'slurm', cuda, '--out', path.join(tmp, 'cuda.sh'));
  assert.equal(c.gpu, true);
  assert.match(fs.readFileSync(path.join(tmp, 'cuda.sh'), 'utf8'), /\n#SBATCH --gres=gpu:1\n/);
});

// ---- the one-node cluster
const SLURM_BINS = ['slurmctld', 'slurmd', 'sbatch', 'squeue', 'scontrol', 'scancel', 'sinfo'];
function findBin(name: string): string | null {
  for (const d of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin'])
    if (d && fs.existsSync(path.join(d, name))) return path.join(d, name);
  return null;
}
const bins = Object.fromEntries(SLURM_BINS.map((b) => [b, findBin(b)]));
const missing = SLURM_BINS.filter((b) => !bins[b]);
const CI = process.env.CI === 'true';
const skip = missing.length && !CI ? `Slurm is not installed (no ${missing.join(', ')}): bash scripts/setup.sh installs slurm-wlm` : false;

const dir = fs.mkdtempSync('/tmp/cslurm-'); // short: slurmd's sockets live under it
const daemons: ChildProcess[] = [];
let jobId: string | null = null;
const sh = (bin: string, args: string[]) => execFileSync(bins[bin]!, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const logs = () => ['slurmctld.log', 'slurmd.log'].map((f) => `--- ${f}\n${fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), 'utf8').slice(-3000) : '(none)'}`).join('\n');

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Poll `probe` every 0.5 s until it returns true; fail with `what` and the daemons' logs after `seconds`. */
async function waitFor(what: string, seconds: number, probe: () => boolean): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (!probe()) {
    if (Date.now() > end) assert.fail(`${what}: not within ${seconds} s\n${logs()}`);
    await sleep(500);
  }
}

before(async () => {
  if (skip) return;
  assert.deepEqual(missing, [], 'CI=true: Slurm must be installed (scripts/setup.sh installs slurm-wlm)');
  const user = os.userInfo().username;
  for (const d of ['state', 'spool']) fs.mkdirSync(path.join(dir, d));
  const conf = path.join(dir, 'slurm.conf');
  fs.writeFileSync(
    conf,
    [
      'ClusterName=codecllm',
      'SlurmctldHost=localhost(127.0.0.1)',
      `SlurmctldPort=${await freePort()}`,
      `SlurmdPort=${await freePort()}`,
      'AuthType=auth/none',
      'CredType=cred/none',
      `SlurmUser=${user}`,
      `SlurmdUser=${user}`,
      `StateSaveLocation=${dir}/state`,
      `SlurmdSpoolDir=${dir}/spool`,
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmdPidFile=${dir}/slurmd.pid`,
      `SlurmctldLogFile=${dir}/slurmctld.log`,
      `SlurmdLogFile=${dir}/slurmd.log`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'JobCompType=jobcomp/none',
      'SchedulerType=sched/builtin',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_CPU',
      'MpiDefault=none',
      'ReturnToService=2',
      `NodeName=codecllm0 NodeHostname=${os.hostname()} NodeAddr=127.0.0.1 CPUs=${os.cpus().length} State=UNKNOWN`,
      'PartitionName=local Nodes=codecllm0 Default=YES MaxTime=INFINITE State=UP',
      '',
    ].join('\n'),
  );
  process.env.SLURM_CONF = conf; // sbatch, squeue, … and the jobs (sbatch exports this environment) read it
  const start = (bin: string, args: string[]) => {
    const out = fs.openSync(path.join(dir, `${bin}.out`), 'w');
    daemons.push(spawn(bins[bin]!, args, { stdio: ['ignore', out, out] }));
    fs.closeSync(out);
  };
  start('slurmctld', ['-D', '-i', '-f', conf]);
  start('slurmd', ['-D', '-N', 'codecllm0', '-f', conf]);
  await waitFor('the node to come up idle', 60, () => {
    try {
      return sh('sinfo', ['-h', '-N', '-o', '%t']).trim() === 'idle'; // not idle* (not responding)
    } catch {
      return false;
    }
  });
});

after(async () => {
  if (jobId) {
    try {
      sh('scancel', [jobId]);
    } catch {
      /* gone already */
    }
  }
  for (const d of daemons) if (d.exitCode === null && d.signalCode === null) d.kill('SIGTERM');
  const end = Date.now() + 15_000;
  while (daemons.some((d) => d.exitCode === null && d.signalCode === null) && Date.now() < end) await sleep(100);
  for (const d of daemons) if (d.exitCode === null && d.signalCode === null) d.kill('SIGKILL');
  delete process.env.SLURM_CONF;
  for (const d of [dir, tmp]) fs.rmSync(d, { recursive: true, force: true });
});

test('a job array on a one-node Slurm cluster: submit, wait, merge — equal to the in-process sweep', { skip, timeout: 150_000 }, async () => {
  assert.ok(fs.existsSync(path.join(packageRoot(), 'dist', 'src', 'cli', 'main.js')), 'the compiled CLI the array tasks run (npm run build; make setup builds it)');
  const direct = await json('sweep', ...sweepArgs);
  const plan = path.join(tmp, 'slurm.jsonl');
  await json('sweep', ...sweepArgs, '--plan', plan);
  const s = await json('job', 'slurm', plan, '--submit');
  assert.match(String(s.job_id), /^\d+$/);
  jobId = s.job_id;
  await waitFor(`job array ${jobId} to leave the queue`, 120, () => sh('squeue', ['-h', '-j', jobId!, '-o', '%T']).trim() === '');
  const tasks = sh('scontrol', ['-o', 'show', 'job', jobId!]).trim().split('\n');
  const taskLog = (i: number) => {
    const f = path.join(`${plan}.logs`, `slurm-${jobId}_${i}.out`);
    return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '(no log)';
  };
  assert.equal(tasks.length, 3, tasks.join('\n'));
  for (const t of tasks) {
    const i = Number(/ArrayTaskId=(\d+)/.exec(t)?.[1]);
    assert.match(t, /JobState=COMPLETED .*ExitCode=0:0/, `task ${i}: ${t}\n${taskLog(i)}`);
    assert.ok(fs.existsSync(resultPath(plan, i)), `task ${i} wrote its result\n${taskLog(i)}`);
  }
  const merged = await json('job', 'merge', plan);
  assert.equal(merged.model, direct.model);
  assert.equal(merged.tokens, direct.tokens);
  assert.equal(merged.quant, direct.quant);
  assert.deepEqual(withoutTime(merged.rows), withoutTime(direct.rows));
});
