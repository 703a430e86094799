/**
 * `codecllm job merge`: gather a plan's results into the object `codecllm sweep --json` prints
 * ({ model, quant, tokens, rows }), refusing missing points, results that do not verify (tampered, of another plan,
 * misplaced), files that answer no point of the plan, and results that disagree on the model or the token count.
 *
 * @example
 * const s = mergePlan('plan.jsonl'); s.rows.length === readPlan('plan.jsonl').length
 */
import fs from 'node:fs';
import path from 'node:path';
import { err, msg } from '../messages.js';
import type { EngineSweepRow } from '../lab/engine-sweep.js';
import type { EngineName } from '../engine/engine.js';
import { ioError } from '../util/files.js';
import { readPlan, resultPath, resultsDir } from './plan.js';
import { readResult } from './run.js';

/** What `codecllm sweep` reports (timeS: the sum of the points' times when merged). */
export interface SweepResult {
  model: string;
  engine: EngineName;
  engineReason: string;
  quant: string;
  tokens: number;
  baselineCached: boolean;
  timeS: number;
  rows: EngineSweepRow[];
}

const TEMP = /\.codecllm-(?:data-)?tmp$/;

/**
 * Merge every result of `planFile` (E_JOB naming the file and the problem; missing points all named at once).
 * @example
 * mergePlan('plan.jsonl').rows.map((r) => r.klMean)
 */
export function mergePlan(planFile: string): SweepResult {
  const jobs = readPlan(planFile);
  const dir = resultsDir(planFile);
  let names: string[] = [];
  try {
    names = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
  } catch (e) {
    throw ioError(dir, e);
  }
  for (const n of names.sort()) {
    if (TEMP.test(n)) continue; // a run in progress (or killed) writes here; never read
    const m = /^(0|[1-9][0-9]*)\.json$/.exec(n);
    if (!m || Number(m[1]) >= jobs.length)
      throw err('E_JOB', msg.jobBad(path.join(dir, n), `answers no point of ${planFile} (points 0..${jobs.length - 1})`));
  }
  const missing = jobs.filter((j) => !fs.existsSync(resultPath(planFile, j.index))).map((j) => j.index);
  if (missing.length)
    throw err('E_JOB', msg.jobBad(planFile, `missing result${missing.length > 1 ? 's' : ''} for point${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${jobs.length} (run: codecllm job run ${planFile} --index i)`));
  const results = jobs.map((j) => readResult(resultPath(planFile, j.index), j));
  const first = results[0]!;
  for (const r of results)
    if (r.model !== first.model || r.tokens !== first.tokens || jobs[r.index]!.quant !== jobs[0]!.quant || jobs[r.index]!.engine !== jobs[0]!.engine)
      throw err('E_JOB', msg.jobBad(resultPath(planFile, r.index), `point ${r.index} ran on ${r.model} with ${r.tokens} tokens, point 0 on ${first.model} with ${first.tokens} (not one sweep)`));
  return {
    model: first.model,
    engine: jobs[0]!.engine,
    engineReason: `from the plan ${planFile}`,
    quant: jobs[0]!.quant,
    tokens: first.tokens,
    baselineCached: results.every((r) => r.baselineCached),
    timeS: results.reduce((t, r) => t + r.row.time_s, 0),
    rows: results.map((r) => r.row),
  };
}
