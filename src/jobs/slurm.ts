/**
 * `codecllm job slurm`: an `sbatch` job-array script for a plan — one array task per point whose result does not yet
 * verify (run.ts's {@link resultVerifies}), each running `codecllm job run <plan> --index $SLURM_ARRAY_TASK_ID`;
 * `--gres=gpu:1` when the plan's engine is cuda, no GPU asked for the CPU engines. Logs go beside the results
 * (`<plan>.logs/slurm-<job>_<task>.out`; the results folder holds results only). Slurm schedules; codecllm only writes the script (and can submit it).
 *
 * @example
 * const s = writeSlurmScript('plan.jsonl', {}); // { script: 'plan.jsonl.sbatch', array: '0-15', gpu: true, … }
 * submitSlurm(s.script) // '4242' (the array's job id)
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { err, msg } from '../messages.js';
import { packageRoot } from '../util/paths.js';
import { ioError } from '../util/files.js';
import { readPlan, writeFileAtomic } from './plan.js';
import { resultVerifies } from './run.js';

/**
 * A word for a POSIX shell, single-quoted when it holds anything but safe characters.
 * @example
 * shellWord("it's") // `'it'\''s'`
 */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Sorted indices as an `--array` list of ranges.
 * @example
 * arrayRanges([0, 1, 2, 5, 7, 8]) // '0-2,5,7-8'
 */
export function arrayRanges(indices: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < indices.length; ) {
    let j = i;
    while (j + 1 < indices.length && indices[j + 1] === indices[j]! + 1) j++;
    out.push(i === j ? `${indices[i]}` : `${indices[i]}-${indices[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/**
 * The folder of a plan's Slurm task logs.
 * @example
 * logsDir('runs/plan.jsonl') // 'runs/plan.jsonl.logs'
 */
export function logsDir(planFile: string): string {
  return `${planFile}.logs`;
}

/**
 * This installation's CLI: the node running now and bin/codecllm.js of the package (absolute paths).
 * @example
 * defaultCommand() // '/usr/bin/node /opt/codecllm/bin/codecllm.js'
 */
export function defaultCommand(): string {
  return `${shellWord(process.execPath)} ${shellWord(path.join(packageRoot(), 'bin', 'codecllm.js'))}`;
}

export interface SlurmScript {
  /** Where the script was written (null when every point already verifies: nothing to run). */
  script: string | null;
  points: number;
  /** The `--array` list (the points still to run). */
  array: string;
  gpu: boolean;
  text: string;
}

/**
 * Write the job-array script of `planFile` to `o.out` (default `<plan>.sbatch`) atomically; `o.command` is how a
 * node calls codecllm (default {@link defaultCommand}: the same paths must exist on the nodes).
 * @example
 * writeSlurmScript('/shared/plan.jsonl', { command: 'codecllm' }).array // '0-999'
 */
export function writeSlurmScript(planFile: string, o: { out?: string; command?: string } = {}): SlurmScript {
  const jobs = readPlan(planFile);
  const pending = jobs.filter((j) => !resultVerifies(planFile, j)).map((j) => j.index);
  const plan = path.resolve(planFile);
  const gpu = jobs.some((j) => j.engine === 'cuda');
  const array = arrayRanges(pending);
  const text = [
    '#!/bin/bash',
    `# codecllm job array: ${pending.length} of the ${jobs.length} points of ${plan} (the others have verified results)`,
    `#SBATCH --job-name=codecllm-${path.basename(plan).replace(/[^A-Za-z0-9_.-]/g, '_')}`,
    `#SBATCH --array=${array}`,
    '#SBATCH --ntasks=1',
    ...(gpu ? ['#SBATCH --gres=gpu:1'] : []),
    `#SBATCH --output=${path.join(path.resolve(logsDir(planFile)), 'slurm-%A_%a.out')}`,
    'set -euo pipefail',
    `exec ${o.command ?? defaultCommand()} job run ${shellWord(plan)} --index "$SLURM_ARRAY_TASK_ID"`,
    '',
  ].join('\n');
  if (pending.length === 0) return { script: null, points: jobs.length, array, gpu, text };
  const script = o.out ?? `${planFile}.sbatch`;
  try {
    fs.mkdirSync(logsDir(planFile), { recursive: true }); // Slurm does not create it
  } catch (e) {
    throw ioError(logsDir(planFile), e);
  }
  writeFileAtomic(script, text);
  return { script, points: jobs.length, array, gpu, text };
}

/**
 * `sbatch --parsable <script>`: the array's job id (E_JOB with sbatch's own message when it refuses or is missing).
 * @example
 * submitSlurm('plan.jsonl.sbatch') // '4242'
 */
export function submitSlurm(script: string): string {
  try {
    const out = execFileSync('sbatch', ['--parsable', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.trim().split(';')[0]!;
  } catch (e) {
    const x = e as { code?: string; stderr?: string; message: string };
    const why = x.code === 'ENOENT' ? 'sbatch not found (is Slurm installed on this host?)' : (x.stderr || x.message).trim().replace(/\s*\n\s*/g, ' ');
    throw err('E_JOB', msg.jobBad(script, `sbatch refused the script: ${why}`));
  }
}
