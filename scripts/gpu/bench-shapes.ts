/**
 * Full-size shapes on one GPU (issue 11 item 5): a Llama-3.1-8B-shaped model in every storage mode, and a
 * Llama-3.1-70B-shaped model in INT8 (~72 GB: fp16 would need ~141 GB and cannot fit one H200), both with RANDOM
 * weights generated on the device (CudaEngine.synthetic: speed and memory only — compression ratios of random codes
 * mean nothing). Each row: decode ms/token at batch 1 (graph replay, median over the run), the bandwidth floor
 * (weight bytes a step reads / device-to-device copy rate measured in this run, bytes read + written), prefill
 * tok/s, the VRAM ledger by category, and the HF transformers peer for the same shape when given (--hf, from
 * scripts/gpu/hf_baseline.py --shapes llama3.1-8b --compile).
 *
 *   node bench-shapes.mjs --out $OUT [--hf hf.json] [--shapes llama3.1-8b,llama3.1-70b] [--modes8b fp16,int8,...]
 *
 * Every (shape, mode) runs in its own child process, so a CUDA fault (sticky for a process's context) or an
 * out-of-memory costs one row only. Writes <out>/bench-shapes.json and <out>/bench-shapes.md (markdown printed last).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LlamaConfig } from '../../src/model/config.js';
import { CudaEngine } from '../../src/engine/cuda.js';
import { requireCuda } from '../../src/native/addon.js';
import { rng as prng } from '../../src/util/random.js';

const args = process.argv.slice(2);
const arg = (k: string, d?: string) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1]! : d;
};
const N_TOK = Number(arg('--tokens', '64'));
const N_PRE = Number(arg('--prefill', '128'));
const outDir = arg('--out', '.')!;

const LLAMA3_SCALING = { type: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 };
/** Llama-3.1 shapes (HF config.json of meta-llama/Llama-3.1-8B and -70B). */
export const SHAPES: Record<string, LlamaConfig> = {
  'llama3.1-8b': {
    architecture: 'llama', hiddenSize: 4096, intermediateSize: 14336, numLayers: 32, numHeads: 32, numKvHeads: 8, headDim: 128,
    vocabSize: 128256, rmsEps: 1e-5, ropeTheta: 500000, ropeScaling: LLAMA3_SCALING, maxPositionEmbeddings: 131072,
    tieWordEmbeddings: false, attentionBias: false, bosTokenId: 128000, eosTokenId: 128001,
  },
  'llama3.1-70b': {
    architecture: 'llama', hiddenSize: 8192, intermediateSize: 28672, numLayers: 80, numHeads: 64, numKvHeads: 8, headDim: 128,
    vocabSize: 128256, rmsEps: 1e-5, ropeTheta: 500000, ropeScaling: LLAMA3_SCALING, maxPositionEmbeddings: 131072,
    tieWordEmbeddings: false, attentionBias: false, bosTokenId: 128000, eosTokenId: 128001,
  },
};

interface Row {
  shape: string;
  mode: string;
  decodeMs: number;
  graph: boolean;
  prefillTokS: number;
  weightBytes: number;
  bytesPerToken: number;
  floorMs: number;
  ledger: Record<string, number>;
  totalVramBytes: number;
  buildS: number;
  profile?: { op: string; ms: number }[];
  failed?: string;
}

function child(shape: string, mode: string, rate: number): Row {
  const c = SHAPES[shape]!;
  const t0 = Date.now();
  const eng = CudaEngine.synthetic(c, 1, { modes: mode, maxSeq: N_PRE + N_TOK + 16, maxBatch: 1 });
  const buildS = (Date.now() - t0) / 1000;
  try {
    const r = prng(7);
    const prompt = Int32Array.from({ length: N_PRE }, () => Math.floor(r() * c.vocabSize));
    eng.reset();
    eng.forward(prompt);
    eng.generate(4); // captures the graph
    const pre: number[] = [];
    for (let i = 0; i < 3; i++) {
      eng.reset();
      pre.push(eng.forward(prompt).ms);
    }
    pre.sort((a, b) => a - b);
    const g = eng.generate(N_TOK - 8, { graph: true });
    const prof = eng.profileDecode(0);
    const led = eng.ledger();
    const acc = eng.expectedBytes();
    return {
      shape, mode, decodeMs: g.msPerToken, graph: g.graph, prefillTokS: N_PRE / (pre[1]! / 1000), weightBytes: led.weightBytes,
      bytesPerToken: acc.bytesPerToken, floorMs: acc.bytesPerToken / rate, ledger: led.categories, totalVramBytes: led.totalBytes, buildS, profile: prof,
    };
  } finally {
    eng.dispose();
  }
}

async function main(): Promise<void> {
  const n = requireCuda('shape bench');
  const dev = n.deviceInfo();
  const date = new Date().toISOString();
  const bw = n.deviceCopyBandwidth(1 << 30, 20);
  const rate = (2 * bw.bytes) / bw.ms;
  console.log(`device: ${dev.name}, ${date}; D2D copy ${(rate / 1e9).toFixed(2)} TB/s (read+write, 1 GiB x 20)`);
  const hf: Record<string, unknown>[] = arg('--hf') && fs.existsSync(arg('--hf')!) ? JSON.parse(fs.readFileSync(arg('--hf')!, 'utf8')) : [];
  const plan: [string, string][] = [];
  const shapes = arg('--shapes', 'llama3.1-8b,llama3.1-70b')!.split(',');
  const modes8b = arg('--modes8b', 'fp16,int8,gguf,fused:codec=bitcomp,fused:codec=ans,decode-per-forward:codec=bitcomp')!.split(/,(?![^:]*=)/);
  for (const s of shapes) for (const m of s === 'llama3.1-70b' ? ['int8'] : modes8b) plan.push([s, m]);
  const rows: Row[] = [];
  const self = fileURLToPath(import.meta.url);
  for (const [s, m] of plan) {
    const c = spawnSync(process.execPath, [self, '--child', m, '--shape', s, '--rate', String(rate), '--tokens', String(N_TOK), '--prefill', String(N_PRE)], {
      encoding: 'utf8',
      timeout: 300_000,
      maxBuffer: 1 << 26,
    });
    const line = (c.stdout ?? '').split('\n').find((l) => l.startsWith('ROW '));
    if (!line) {
      const why = (c.stderr ?? '').split('\n').find((l) => /^\S*Error\b|\[E_[A-Z_]+\]/.test(l)) ?? `exit ${c.status}${c.signal ? ' ' + c.signal : ''}`;
      console.log(`${s} ${m}: FAILED: ${why}`);
      fs.mkdirSync(outDir, { recursive: true });
      fs.appendFileSync(path.join(outDir, 'failures.log'), `== ${s} ${m}\n${(c.stderr ?? '').slice(-4000)}\n`);
      rows.push({ shape: s, mode: m, failed: why } as Row);
      continue;
    }
    const r = JSON.parse(line.slice(4)) as Row;
    console.log(`${s} ${m}: ${r.decodeMs.toFixed(3)} ms/tok (floor ${r.floorMs.toFixed(3)}, ${(r.decodeMs / r.floorMs).toFixed(2)}x), weights ${(r.weightBytes / 1e9).toFixed(2)} GB, VRAM ${(r.totalVramBytes / 1e9).toFixed(2)} GB, prefill ${r.prefillTokS.toFixed(0)} tok/s, built ${r.buildS.toFixed(1)} s`);
    rows.push(r);
  }
  const hfOf = (s: string, k: string) => {
    const h = hf.find((x) => x.shape === s) as Record<string, number> | undefined;
    return h && typeof h[k] === 'number' ? h[k]!.toFixed(2) : '';
  };
  const md = [
    `Full-size shapes (random weights, generated on the device) — ${dev.name}, ${date}; D2D copy ${(rate / 1e9).toFixed(2)} TB/s (read+write); prefill ${N_PRE} tokens, decode ${N_TOK - 8} tokens (graph), batch 1. Floor = weight bytes a step reads / copy rate.`,
    '',
    '| shape | mode | decode ms/tok | floor ms | × floor | prefill tok/s | weight GB | VRAM total GB | HF eager fp16 ms/tok | HF static+compile fp16 ms/tok |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) =>
      r.failed
        ? `| ${r.shape} | ${r.mode} | FAILED: ${r.failed.slice(0, 140)} | | | | | | | |`
        : `| ${r.shape} | ${r.mode} | ${r.decodeMs.toFixed(3)}${r.graph ? '' : ' (no graph)'} | ${r.floorMs.toFixed(3)} | ${(r.decodeMs / r.floorMs).toFixed(2)} | ${r.prefillTokS.toFixed(0)} | ${(r.weightBytes / 1e9).toFixed(2)} | ${(r.totalVramBytes / 1e9).toFixed(2)} | ${hfOf(r.shape, 'decode_ms_per_token_median')} | ${hfOf(r.shape, 'compiled_decode_ms_per_token_median')} |`,
    ),
    '',
    'VRAM ledger by category (GB):',
    '',
    ...rows.filter((r) => !r.failed).map((r) => `- ${r.shape} ${r.mode}: ${Object.entries(r.ledger).map(([k, v]) => `${k} ${(v / 1e9).toFixed(3)}`).join(', ')}`),
  ].join('\n');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'bench-shapes.json'), JSON.stringify({ device: dev, date, copyBytesPerMs: rate, hf, rows }, null, 1));
  fs.writeFileSync(path.join(outDir, 'bench-shapes.md'), md + '\n');
  console.log('\n' + md);
}

if (arg('--child')) console.log('ROW ' + JSON.stringify(child(arg('--shape')!, arg('--child')!, Number(arg('--rate')))));
else await main();
