/**
 * `codecllm job run <plan> --index i` and `codecllm job merge <plan>`: the points of a `codecllm sweep --plan`,
 * one process per point (any host that sees the same model and text files), then the sweep's table or JSON.
 */
import type { Command } from 'commander';
import { runJob } from '../jobs/run.js';
import { mergePlan } from '../jobs/merge.js';
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
}
