/**
 * CPU inference benchmark of the default model: tfjs reference (src/model/llama.ts, wasm backend) vs the native CPU
 * engine (src/engine/cpu-native.ts) with exact compact storage ('auto') and with plain float32 ('f32').
 * Measures load time, prefill tokens/s (a PROMPT-token prompt, logits of the last position) and decode tokens/s
 * (DECODE greedy tokens after that prompt, one forward per token, KV cache), best of RUNS runs each.
 * Correctness first: the greedy continuations of every engine must equal the tfjs reference's, else it exits 1.
 * Prints a markdown table with machine, date, command and the load average (other processes share the cores).
 *
 *   node --import tsx scripts/bench-cpu.ts [--model default] [--prompt 128] [--decode 64] [--runs 3] [--json]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LlamaModel } from '../src/model/llama.js';
import { argmax } from '../src/model/generate.js';
import { createCpuEngine, type CpuEngine, type WeightStorage } from '../src/engine/cpu-native.js';
import { packageRoot } from '../src/util/paths.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt;
}
const MODEL = arg('model', 'default');
const PROMPT = Number(arg('prompt', '128'));
const DECODE = Number(arg('decode', '64'));
const RUNS = Number(arg('runs', '3'));
const JSON_OUT = process.argv.includes('--json');

interface Row {
  engine: string;
  loadMs: number;
  prefillTokS: number;
  decodeTokS: number;
  decodeMsPerToken: number;
  weightMB: number;
  ids: number[];
}

/** A forward over `ids` with a cache, returning the last row's logits. */
type Step = (ids: number[]) => Float32Array;

/** prefill PROMPT tokens then DECODE greedy steps; times in ms. */
function run(newSession: () => { step: Step; end: () => void }, prompt: number[]): { prefillMs: number; decodeMs: number; ids: number[] } {
  const s = newSession();
  try {
    let t0 = performance.now();
    let logits = s.step(prompt);
    const prefillMs = performance.now() - t0;
    const ids = [argmax(logits)];
    t0 = performance.now();
    for (let i = 0; i < DECODE; i++) {
      logits = s.step([ids[ids.length - 1]!]);
      ids.push(argmax(logits));
    }
    return { prefillMs, decodeMs: performance.now() - t0, ids };
  } finally {
    s.end();
  }
}

function best(newSession: () => { step: Step; end: () => void }, prompt: number[]) {
  run(newSession, prompt.slice(0, 8)); // warm-up (wasm compile, thread pool, page faults)
  let prefill = Infinity;
  let decode = Infinity;
  let ids: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const x = run(newSession, prompt);
    prefill = Math.min(prefill, x.prefillMs);
    decode = Math.min(decode, x.decodeMs);
    ids = x.ids;
  }
  return { prefillTokS: (prompt.length / prefill) * 1000, decodeTokS: (DECODE / decode) * 1000, decodeMsPerToken: decode / DECODE, ids };
}

async function main(): Promise<void> {
  const load0 = os.loadavg()[0]!;
  let t0 = performance.now();
  const model = await LlamaModel.load(MODEL);
  const tfjsLoadMs = performance.now() - t0;
  const tok = model.tokenizer;
  const text = fs.readFileSync(path.join(packageRoot(), 'data', 'texts', 'eval.txt'), 'utf8');
  let prompt = tok ? tok.encode(text) : [];
  while (prompt.length < PROMPT) prompt = prompt.concat(prompt.length ? prompt : [1, 2, 3]);
  prompt = prompt.slice(0, PROMPT);

  const rows: Row[] = [];
  const tf = best(() => {
    const cache = model.newCache();
    return {
      step: (ids) => {
        const { logits } = model.forward(ids, cache, { lastOnly: true });
        const r = logits.dataSync() as Float32Array;
        logits.dispose();
        return r;
      },
      end: () => model.disposeCache(cache),
    };
  }, prompt);
  rows.push({ engine: 'tfjs reference (wasm)', loadMs: tfjsLoadMs, weightMB: model.memory().total / 2 ** 20, ...tf });

  const engines: CpuEngine[] = [];
  for (const storage of ['auto', 'f32'] as WeightStorage[]) {
    t0 = performance.now();
    const e = createCpuEngine(model, { storage });
    const createMs = performance.now() - t0;
    engines.push(e);
    const info = e.info();
    const r = best(() => {
      const cache = e.newCache();
      return { step: (ids) => e.forward(ids, cache, { lastOnly: true }), end: () => e.freeCache(cache) };
    }, prompt);
    const fmts = Object.entries(info.linearFormats)
      .map(([k, v]) => `${v}×${k}`)
      .join(', ');
    rows.push({ engine: `native ${storage} (${fmts}; ${info.threads} threads, ${info.isa})`, loadMs: tfjsLoadMs + createMs, weightMB: info.weightBytes / 2 ** 20, ...r });
  }
  const load1 = os.loadavg()[0]!;

  let ok = true;
  for (const r of rows.slice(1))
    if (JSON.stringify(r.ids) !== JSON.stringify(rows[0]!.ids)) {
      ok = false;
      console.error(`MISMATCH: ${r.engine} greedy ids differ from the tfjs reference`);
    }
  const cpus = os.cpus();
  const machine = `${cpus[0]?.model ?? '?'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
  const command = `node --import tsx scripts/bench-cpu.ts ${process.argv.slice(2).join(' ')}`.trim();
  if (JSON_OUT) {
    console.log(JSON.stringify({ machine, date: new Date().toISOString(), command, model: MODEL, prompt: PROMPT, decode: DECODE, runs: RUNS, loadavg: [load0, load1], greedyMatch: ok, rows }, null, 1));
  } else {
    console.log(`CPU inference, ${path.basename(model.checkpoint.file)}: prompt ${PROMPT} tokens, decode ${DECODE} tokens, best of ${RUNS}`);
    console.log(`machine: ${machine}`);
    console.log(`date: ${new Date().toISOString()}  command: \`${command}\`  load average (1 min) before/after: ${load0.toFixed(2)} / ${load1.toFixed(2)}`);
    console.log(`greedy continuation identical to the tfjs reference: ${ok ? 'yes' : 'NO'}\n`);
    console.log('| engine | load s | weights MiB | prefill tok/s | decode tok/s | decode ms/token |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const r of rows)
      console.log(`| ${r.engine} | ${(r.loadMs / 1000).toFixed(2)} | ${r.weightMB.toFixed(0)} | ${r.prefillTokS.toFixed(1)} | ${r.decodeTokS.toFixed(1)} | ${r.decodeMsPerToken.toFixed(2)} |`);
    console.log('\nload s: tfjs = LlamaModel.load (read + dequantize + transpose); native = that + createCpuEngine (copy + verify storage).');
  }
  for (const e of engines) e.dispose();
  model.dispose();
  if (!ok) process.exit(1);
}

await main();
