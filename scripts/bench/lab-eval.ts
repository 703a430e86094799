/**
 * Lab timing (issue 12, item 5): `eval --patch all --quant int8:per-channel` on the default model's eval text, split
 * into its parts, per engine, in one process: load, the baseline pass (strided windows, full log-probs kept), patch()
 * (quantize + install + verify every module), engine set-up on the patched model, the patched pass with the quality
 * statistics. Wall and process CPU time per part; the load average before and after (the machine is shared).
 *
 *   node --import tsx scripts/bench/lab-eval.ts [--engines native,tfjs,cuda] [--quant int8:per-channel] [--model default|<gguf>] [--json out.json]
 */
import fs from 'node:fs';
import os from 'node:os';
import { LlamaModel } from '../../src/model/llama.js';
import { openEngine } from '../../src/lab/open-engine.js';
import type { EngineName } from '../../src/engine/engine.js';
import { computeBaseline } from '../../src/eval/base-logits.js';
import { scoreAgainstBaseline } from '../../src/eval/quality-report.js';
import { patch, unpatch } from '../../src/lab/patch.js';

const args = process.argv.slice(2);
const arg = (k: string, d?: string) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1]! : d;
};
const engines = arg('--engines', 'native,tfjs')!.split(',') as EngineName[];
const quant = arg('--quant', 'int8:per-channel')!;
const modelPath = arg('--model', 'default')!;
const text = fs.readFileSync(arg('--text', 'data/texts/eval.txt')!, 'utf8');

const part = async <T>(f: () => Promise<T> | T): Promise<{ v: T; wall: number; cpu: number }> => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const v = await f();
  const c = process.cpuUsage(c0);
  return { v, wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
};

const rows = [];
const load0 = os.loadavg();
for (const engine of engines) {
  const load = await part(() => LlamaModel.load(modelPath));
  const m = load.v;
  const ids = m.tokenizer!.encode(text);
  const be = await openEngine(m, { engine });
  const base = await part(() => computeBaseline(be, ids, 512, 256));
  be.dispose();
  const p = await part(() => patch(m, { select: 'all', quant, attachQuantized: true }));
  const setup = await part(() => openEngine(m, { engine }));
  const score = await part(() => scoreAgainstBaseline(setup.v, base.v));
  setup.v.dispose();
  unpatch(m);
  m.dispose();
  const s = score.v;
  const r = {
    engine,
    tokens: s.tokens,
    load_s: load.wall,
    baseline_s: base.wall,
    baseline_cpu_s: base.cpu,
    patch_s: p.wall,
    patch_cpu_s: p.cpu,
    engine_setup_s: setup.wall,
    patched_pass_s: score.wall,
    patched_pass_cpu_s: score.cpu,
    eval_s: base.wall + p.wall + setup.wall + score.wall,
    passes_s: base.wall + score.wall,
    ppl: s.ppl,
    baseline_ppl: s.baseline_ppl,
    kld_mean: s.kld.mean,
    same_top_p: s.same_top_p,
  };
  rows.push(r);
  console.error(JSON.stringify(r));
}
const res = { date: new Date().toISOString(), cpu: os.cpus()[0]?.model, cores: os.cpus().length, quant, loadavg_before: load0, loadavg_after: os.loadavg(), rows };
const out = arg('--json');
if (out) fs.writeFileSync(out, JSON.stringify(res, null, 1));
console.log('| engine | tokens | baseline pass s | patch() s | engine set-up s | patched pass s | eval total s | passes only s | ppl | KLD mean |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows)
  console.log(`| ${r.engine} | ${r.tokens} | ${r.baseline_s.toFixed(1)} | ${r.patch_s.toFixed(1)} | ${r.engine_setup_s.toFixed(1)} | ${r.patched_pass_s.toFixed(1)} | ${r.eval_s.toFixed(1)} | ${r.passes_s.toFixed(1)} | ${r.ppl.toFixed(4)} | ${r.kld_mean.toExponential(3)} |`);
console.log(`load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
