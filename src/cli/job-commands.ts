/**
 * `codecllm job run <plan> --index i` and `codecllm job merge <plan>`: the points of a `codecllm sweep --plan`,
 * one process per point (any host that sees the same model and text files), then the sweep's table or JSON;
 * `codecllm job exec` runs them on this host's GPUs (or CPU workers), `codecllm job slurm` writes (and submits) a
 * Slurm job array of them.
 */
import type { Command } from 'commander';
import { runJob } from '../jobs/run.js';
import { mergePlan } from '../jobs/merge.js';
import { execFailureError, execPlan } from '../jobs/exec.js';
import { submitSlurm, writeSlurmScript } from '../jobs/slurm.js';
import { err, msg } from '../messages.js';
import { int, text } from './args.js';
import { output } from './common.js';
import { printSweep } from './quant-commands.js';

export function registerJobCommands(program: Command): void {
  const job = program.command('job').description('run the points of a sweep plan one by one (any process, any host), then merge them');
  job
    .command('run <plan>')
    .description('run one point of a plan and write <plan>.results/<index>.json atomically (skipped when its result verifies)')
    .requiredOption('--index <i>', 'the point to run (0-based line of the plan)', int('--index', 0))
    .option('--force', 'run again even when a verified result exists')
    .option('--json', 'JSON output')
    .action(async (plan: string, o: { index: number; force?: boolean; json?: boolean }) => {
      text('plan')(plan);
      const r = await runJob(plan, o.index, { force: !!o.force });
      output(!!o.json, { index: o.index, skipped: r.skipped, result: r.file, jobHash: r.result.jobHash, row: r.result.row }, () =>
        `${r.file}: point ${o.index} ${r.skipped ? 'skipped (its result exists and verifies)' : `done in ${r.result.row.time_s.toFixed(2)} s`}`,
      );
    });
  job
    .command('merge <plan>')
    .description("collect a plan's results into the table (or JSON) codecllm sweep prints")
    .option('--json', 'JSON output')
    .action((plan: string, o: { json?: boolean }) => {
      text('plan')(plan);
      printSweep(!!o.json, mergePlan(plan));
    });
  job
    .command('exec <plan>')
    .description('run the points of a plan on this host: one worker per GPU (--gpus) or N CPU workers, pulling from one queue; a point whose worker dies is retried once')
    .option('--gpus <ids>', 'comma-separated GPU ids, one worker each (CUDA_VISIBLE_DEVICES)', gpuList)
    .option('--workers <n>', 'CPU workers (when no --gpus)', int('--workers', 1, 256), 1)
    .option('--json', 'JSON output')
    .action(async (plan: string, o: { gpus?: string[]; workers: number; json?: boolean }) => {
      text('plan')(plan);
      const r = await execPlan(plan, { gpus: o.gpus, workers: o.workers });
      output(!!o.json, r, () =>
        `${plan}: ${r.ran.length} point(s) run, ${r.verified.length} already verified, ${r.failed.length} failed, in ${r.timeS.toFixed(1)} s on ${o.gpus ? `GPUs ${o.gpus.join(',')}` : `${o.workers} CPU worker(s)`} (${r.workersStarted} worker process(es) started)`,
      );
      if (r.failed.length) throw execFailureError(r);
    });
  job
    .command('slurm <plan>')
    .description('write an sbatch job-array script (one task per point not yet verified; --gres=gpu:1 for cuda plans), and submit it with --submit')
    .option('--out <file>', 'the script (default <plan>.sbatch)', text('--out'))
    .option('--command <cmd>', 'how a node runs codecllm (default: this node binary and this package, absolute paths)', text('--command'))
    .option('--submit', 'submit it with sbatch and print the job id')
    .option('--json', 'JSON output')
    .action((plan: string, o: { out?: string; command?: string; submit?: boolean; json?: boolean }) => {
      text('plan')(plan);
      const s = writeSlurmScript(plan, { out: o.out, command: o.command });
      const jobId = o.submit && s.script ? submitSlurm(s.script) : null;
      output(!!o.json, { script: s.script, points: s.points, array: s.array, gpu: s.gpu, jobId }, () =>
        s.script
          ? `${s.script}: array ${s.array} of ${s.points} point(s)${s.gpu ? ', one GPU each' : ''}${jobId ? `; submitted as job ${jobId}` : ` (submit: sbatch ${s.script})`}; then: codecllm job merge ${plan}`
          : `${plan}: all ${s.points} point(s) have verified results; nothing to submit (codecllm job merge ${plan})`,
      );
    });
}

/** `--gpus 0,1,3`: distinct non-negative integer ids. */
function gpuList(v: string): string[] {
  const ids = v.split(',').map((x) => x.trim());
  if (!ids.every((x) => /^(0|[1-9][0-9]{0,3})$/.test(x)) || new Set(ids).size !== ids.length)
    throw err('E_ARG', msg.badArg('--gpus', `${JSON.stringify(v)} is not a list of distinct GPU ids like 0,1,2`));
  return ids;
}
