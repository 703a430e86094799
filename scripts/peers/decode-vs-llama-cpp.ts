/**
 * Native CPU decode of a GGUF model vs llama.cpp (npm node-llama-cpp@3.21.1, prebuilt CPU binaries), at 1 and 2
 * threads, measured in one run: each (engine, threads) configuration runs in its own child process, one after
 * another, on the same prompt tokens (the model's own tokenizer) with greedy decoding of N tokens; decode tok/s =
 * (N − 1) / time from the first generated token to the last (the prefill is timed separately). Each configuration
 * runs `--reps` times; the table gives the median.
 *
 * node-llama-cpp is a peer for benchmarks only, installed in its own folder (not a dependency of codecllm, not in CI):
 *   (cd scripts/peers && npm ci)
 *   node --import tsx scripts/peers/decode-vs-llama-cpp.ts [--model default] [--tokens 64] [--reps 3] [--json out.json]
 *
 * Our engine: src/engine/cpu-native.ts (exact float32 activations, the checkpoint's q4_1/q8_0 blocks kept as they are),
 * thread count by CODECLLM_THREADS. llama.cpp: its own q4_1/q8_0 kernels with q8 activations in the dot products
 * (an approximation ours does not make), threads by the context's `threads` option, no GPU.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const arg = (k: string, d?: string) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1]! : d;
};
const PROMPT = 'The river begins as a thin stream of melted snow high in the mountains, and by the time it reaches the valley';
const here = path.dirname(fileURLToPath(import.meta.url));

interface Measure {
  engine: 'codecllm-native' | 'llama.cpp';
  threads: number;
  prompt_tokens: number;
  decode_tokens: number;
  prefill_ms: number;
  decode_tok_s: number;
  tokens: number[];
}

async function workerOurs(model: string, n: number, threads: number): Promise<Measure> {
  const { LlamaModel } = await import('../../src/model/llama.js');
  const { openEngine } = await import('../../src/lab/open-engine.js');
  const { generate } = await import('../../src/model/generate.js');
  const m = await LlamaModel.load(model);
  const e = await openEngine(m, { engine: 'native' });
  const prompt = m.tokenizer!.encode(PROMPT);
  await generate(e, prompt, { maxTokens: 4, stopIds: [] }); // warm-up
  const r = await generate(e, prompt, { maxTokens: n, stopIds: [] });
  const dec = r.decodeMs.reduce((a, b) => a + b, 0);
  e.dispose();
  m.dispose();
  return { engine: 'codecllm-native', threads, prompt_tokens: prompt.length, decode_tokens: r.decodeMs.length, prefill_ms: r.prefillMs, decode_tok_s: (1000 * r.decodeMs.length) / dec, tokens: r.ids };
}

async function workerLlama(model: string, n: number, threads: number): Promise<Measure> {
  const spec = path.join(here, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const L: any = await import(spec);
  const llama = await L.getLlama({ gpu: false, build: 'never', maxThreads: threads, logLevel: 'error' });
  const mdl = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
  const { openCheckpoint } = await import('../../src/model/checkpoint.js');
  const ck = openCheckpoint(model);
  const prompt = ck.tokenizer!.encode(PROMPT); // the same token ids as ours
  ck.close();
  const run = async (count: number) => {
    const ctx = await mdl.createContext({ contextSize: 512, threads: { ideal: threads, min: threads }, batchSize: 512 });
    const seq = ctx.getSequence();
    const times: number[] = [];
    const toks: number[] = [];
    const t0 = performance.now();
    for await (const t of seq.evaluate(prompt, { temperature: 0 })) {
      times.push(performance.now());
      toks.push(t);
      if (toks.length >= count) break;
    }
    await ctx.dispose();
    return { prefillMs: times[0]! - t0, decodeMs: times[times.length - 1]! - times[0]!, toks };
  };
  await run(4); // warm-up
  const r = await run(n);
  await mdl.dispose();
  await llama.dispose();
  return { engine: 'llama.cpp', threads, prompt_tokens: prompt.length, decode_tokens: r.toks.length - 1, prefill_ms: r.prefillMs, decode_tok_s: (1000 * (r.toks.length - 1)) / r.decodeMs, tokens: r.toks };
}

async function main(): Promise<void> {
  const n = Number(arg('--tokens', '64'));
  const worker = arg('--worker');
  if (worker) {
    const model = arg('--model-file')!;
    const threads = Number(arg('--threads'));
    const r = worker === 'ours' ? await workerOurs(model, n, threads) : await workerLlama(model, n, threads);
    process.stdout.write('RESULT ' + JSON.stringify(r) + '\n');
    return;
  }
  const { resolveModelPath } = await import('../../src/model/checkpoint.js');
  const model = resolveModelPath(arg('--model', 'default')!);
  const reps = Number(arg('--reps', '3'));
  if (!fs.existsSync(path.join(here, 'node_modules', 'node-llama-cpp'))) throw new Error('install the peer first: (cd scripts/peers && npm ci)');
  const rows: (Measure & { reps: number[] })[] = [];
  const load0 = os.loadavg();
  for (const threads of [1, 2])
    for (const w of ['ours', 'llama'] as const) {
      const got: Measure[] = [];
      for (let k = 0; k < reps; k++) {
        const p = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--worker', w, '--model-file', model, '--threads', String(threads), '--tokens', String(n)], {
          encoding: 'utf8',
          env: { ...process.env, CODECLLM_THREADS: String(threads), CODECLLM_PROGRESS: '0' },
        });
        const line = p.stdout.split('\n').find((l) => l.startsWith('RESULT '));
        if (!line) throw new Error(`${w} at ${threads} threads failed: ${p.stderr.slice(-2000)}`);
        got.push(JSON.parse(line.slice(7)));
      }
      const sorted = [...got].sort((a, b) => a.decode_tok_s - b.decode_tok_s);
      rows.push({ ...sorted[Math.floor(sorted.length / 2)]!, reps: got.map((g) => g.decode_tok_s) });
      console.error(`${w} ${threads}t: ${got.map((g) => g.decode_tok_s.toFixed(1)).join(', ')} tok/s`);
    }
  const res = { model, date: new Date().toISOString(), cpu: os.cpus()[0]?.model, cores: os.cpus().length, loadavg_before: load0, loadavg_after: os.loadavg(), decode_tokens: n, rows };
  const out = arg('--json');
  if (out) fs.writeFileSync(out, JSON.stringify(res, null, 1));
  console.log(`| engine | threads | decode tok/s (median of ${reps}) | runs | prefill ms (${rows[0]?.prompt_tokens} tokens) |`);
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.engine} | ${r.threads} | ${r.decode_tok_s.toFixed(1)} | ${r.reps.map((x) => x.toFixed(1)).join(', ')} | ${r.prefill_ms.toFixed(0)} |`);
  console.log(`load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

await main();
