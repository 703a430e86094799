/**
 * The quantization lab's README findings table for one model, by the method of the SmolLM2 table: the first N tokens
 * of a text (default 96 of data/texts/eval.txt), one baseline with a G-token greedy continuation (default 12), then
 * each scheme on ALL linears (lm_head included) through src/lab/sweep.ts runStep — ppl, KL(base‖patched) ± stderr,
 * top-1 ± stderr, ln(ppl ratio) ± stderr, greedy divergence, verdict and the per-block residual trace — and, with
 * --types, one scheme on each layer family alone (attention q,k,v,o / MLP gate,up,down / lm_head).
 *
 *   node --import tsx scripts/lab-findings.ts gemma3-270m --out data/results/gemma3-findings.json [--tokens 96]
 *        [--greedy 12] [--quant int8:per-channel,int8:per-tensor,...] [--types int4:group=64] [--backend wasm|cpu]
 *
 * Writes JSON with its context (model file, text, tokens, engine/backend, date, host, load average before/after).
 */
import fs from 'node:fs';
import os from 'node:os';
import { LlamaModel } from '../src/model/llama.js';
import { tf } from '../src/model/backend.js';
import { runStep, sweepTokens, type SweepRow } from '../src/lab/sweep.js';
import { runBaseline } from '../src/eval/quality.js';
import { resolveSelection } from '../src/model/select.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : def;
};
const model = args[0] && !args[0].startsWith('--') ? args[0] : 'gemma3-270m';
const out = opt('out', '');
const textFile = opt('text', 'data/texts/eval.txt');
const nTokens = Number(opt('tokens', '96'));
const greedy = Number(opt('greedy', '12'));
const quants = opt('quant', 'int8:per-channel,int8:per-tensor,int4:group=64,nf4:group=64,fp8').split(',');
const typeQuant = opt('types', '');
const backend = opt('backend', 'wasm') as 'wasm' | 'cpu';
const load = () => os.loadavg().map((x) => Number(x.toFixed(2)));
const heapGiB = () => {
  const h = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.length;
  return h ? Number((h / 2 ** 30).toFixed(2)) : null;
};

const t0 = performance.now();
const result: Record<string, unknown> = { model, date: new Date().toISOString(), host: os.hostname(), cpus: os.cpus().length, load_before: load() };
const m = await LlamaModel.load(model, { backend });
result.model_file = m.checkpoint.file;
result.engine = `tfjs reference (${backend})`;
result.load_s = (performance.now() - t0) / 1000;
const text = fs.readFileSync(textFile, 'utf8');
const ids = sweepTokens(m, text, nTokens);
Object.assign(result, { text: textFile, tokens: ids.length, greedy_tokens: greedy, linears: m.linears().length });
const tb = performance.now();
const base = runBaseline(m, ids, { greedyTokens: greedy });
result.baseline_ppl = base.ppl;
result.baseline_output = m.tokenizer!.decode(base.greedy);
result.baseline_s = (performance.now() - tb) / 1000;
const rows: (SweepRow & { wasm_heap_gib: number | null; rss_gib: number })[] = [];
const save = () => {
  result.rows = rows;
  result.load_after = load();
  result.time_s = (performance.now() - t0) / 1000;
  if (out) fs.writeFileSync(out, JSON.stringify(result, null, 1) + '\n');
};
const step = (select: string, quant: string) => {
  const row = runStep(m, base, select, quant, select === 'all' ? 'all' : resolveSelection(m.linears(), select).length);
  rows.push({ ...row, wasm_heap_gib: heapGiB(), rss_gib: Number((process.memoryUsage().rss / 2 ** 30).toFixed(2)) });
  console.log(`${select} ${row.quant}: ppl ${row.ppl.toFixed(2)} kl ${row.klMean.toFixed(4)}±${row.klStderr.toFixed(4)} top1 ${(100 * row.top1Agreement).toFixed(1)}% ${row.verdict} div ${row.firstDivergence} ${row.timeS.toFixed(0)} s heap ${heapGiB()} GiB`);
  save();
};
for (const q of quants) step('all', q);
if (typeQuant) for (const sel of ['type:q,k,v,o', 'type:gate,up,down', 'type:lm_head']) step(sel, typeQuant);
save();
m.dispose();
