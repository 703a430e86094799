/**
 * GPU engine benchmark (issue 5, item 5): decode ms/token at batch 1 (graph replay and eager) and batch 8 (ms per
 * step of 8 tokens, graph), prefill tokens/s and weight VRAM for every storage mode, on the default model (real weights) and on a TinyLlama-1.1B-shaped model
 * (RANDOM weights generated on the device: speed only; its compression ratios mean nothing). Beside each row: the
 * bandwidth floor (weight bytes a decode step must read / device-to-device copy rate measured in this run, counting
 * bytes read + written) and the HF transformers eager fp16 peer (scripts/gpu/hf_baseline.py, same shapes, same run).
 *
 *   node bench-engine.mjs --model <gguf> --out $OUT [--hf hf.json] [--tokens 128] [--prefill 128] [--codec ans]
 *
 * A mode suffixed `@nopdl` runs with programmatic dependent launch off (what PDL buys, fp16 / int8 / cached).
 * Prefill GEMM section (issue 12 item 5; `--no-prefill-gemm` skips it): prefill tok/s at each of --prefill-lens
 * (default 4,16,64,128,512) tokens for --prefill-modes (default fp16,int8,gguf), our GEMM (CODECLLM_GEMM=own) beside
 * cuBLAS (CODECLLM_GEMM=cublas with CODECLLM_CUBLAS_MIN_T=2, so quantized modes take cuBLAS at every length: the
 * crossover that sets the default threshold), and HF eager fp16 where hf.json has that length (hf_baseline.py
 * --prefill-lens). `--prefill-only` runs this section alone. Median of 5 prefills after 2 warm-ups, each a fresh reset() + forward(T tokens) (one chunk).
 * Writes <out>/bench-engine.json and <out>/bench-engine.md; prints the markdown table last.
 * Each synthetic-shape mode runs in a child process (`--child <spec>`), so a CUDA fault in one (a sticky error kills
 * the process's CUDA context) costs only its row.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlamaModel } from '../../src/model/llama.js';
import type { LlamaConfig } from '../../src/model/config.js';
import { CudaEngine } from '../../src/engine/cuda.js';
import { requireCuda } from '../../src/native/addon.js';
import { rng as prng } from '../../src/util/random.js';

const args = process.argv.slice(2);
const arg = (k: string, d?: string) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1]! : d;
};
const N_TOK = Number(arg('--tokens', '128'));
const N_PRE = Number(arg('--prefill', '128'));
const CODEC = arg('--codec', 'ans')!;
const outDir = arg('--out', '.')!;

const TINYLLAMA: LlamaConfig = {
  architecture: 'llama',
  hiddenSize: 2048,
  intermediateSize: 5632,
  numLayers: 22,
  numHeads: 32,
  numKvHeads: 4,
  headDim: 64,
  vocabSize: 32000,
  rmsEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  maxPositionEmbeddings: 2048,
  tieWordEmbeddings: false,
  attentionBias: false,
  bosTokenId: 1,
  eosTokenId: 2,
};

interface Row {
  shape: string;
  mode: string;
  decodeMsGraph: number;
  decodeMsEager: number;
  prefillTokS: number;
  weightBytes: number;
  weightRatioVsFp16: number;
  /** bytes of weights a decode step reads from their resident form */
  bytesPerToken: number;
  floorMs: number;
  /** compressed schedules also write and re-read the decoded int8 codes */
  trafficFloorMs: number;
  compressionRatio?: number;
  cacheDecodeMs?: number;
  graph: boolean;
  graphError?: string;
  hfDecodeMs?: number;
  hfPrefillTokS?: number;
  /** batch 8: ms per decode step (8 tokens), graph replay */
  b8MsPerStep: number;
  b8Graph: boolean;
  hfB8MsPerStep?: number;
  /** one eager step at position prefill + tokens with an event after each op (engine.profileDecode): batch 1 and 8 */
  profile1?: { op: string; ms: number }[];
  profile8?: { op: string; ms: number }[];
}


function benchEngine(shape: string, mode: string, make: () => CudaEngine, rateBytesPerMs: number, fp16Bytes: number | null): Row {
  const t0 = Date.now();
  const eng = make();
  const buildS = (Date.now() - t0) / 1000;
  try {
    const r = prng(7);
    const prompt = Int32Array.from({ length: N_PRE }, () => Math.floor(r() * eng.config.vocabSize));
    // warm-up: prefill + a few graph steps (captures the graph) + a few eager steps
    eng.reset();
    eng.forward(prompt);
    eng.generate(4);
    eng.generate(2, { graph: false });
    // prefill (median of 3)
    const pre: number[] = [];
    let cacheDecodeMs: number | undefined;
    for (let i = 0; i < 3; i++) {
      const rr = eng.reset();
      if (eng.plan.schedule === 'cached') cacheDecodeMs = rr.cacheDecodeMs;
      pre.push(eng.forward(prompt).ms);
    }
    pre.sort((a, b) => a - b);
    const g = eng.generate(N_TOK, { graph: true });
    eng.reset();
    eng.forward(prompt);
    const e = eng.generate(Math.min(N_TOK, 64), { graph: false });
    // batch 8: 8 random prompts of N_PRE tokens, warm-up (captures the batch graph), then N_TOK steps
    const prompts = Array.from({ length: 8 }, () => Int32Array.from({ length: N_PRE }, () => Math.floor(r() * eng.config.vocabSize)));
    eng.generateBatch(prompts, 4);
    const b8 = eng.generateBatch(prompts, N_TOK);
    const prof8 = eng.profileDecode(8);
    eng.reset();
    eng.forward(prompt);
    eng.generate(N_TOK - 1);
    const prof1 = eng.profileDecode(0);
    const led = eng.ledger();
    const acc = eng.expectedBytes();
    let int8Raw = 0;
    const comp = eng.compressedBytes.reduce((a, b) => a + b, 0);
    const c = eng.config;
    const qd = c.numHeads * c.headDim;
    const kvd = c.numKvHeads * c.headDim;
    const perBlock = [qd * c.hiddenSize, kvd * c.hiddenSize, kvd * c.hiddenSize, c.hiddenSize * qd, 3 * c.intermediateSize * c.hiddenSize];
    eng.plan.modes.forEach((m, i) => {
      if (m === 'fp16' || m === 'int8') return;
      const k = i % 7;
      int8Raw += i === eng.plan.modes.length - 1 ? c.vocabSize * c.hiddenSize : k < 4 ? perBlock[k]! : c.intermediateSize * c.hiddenSize;
    });
    const traffic = eng.plan.schedule === 'decode-per-forward' || eng.plan.schedule === 'fused' ? acc.bytesPerToken + 2 * int8Raw : eng.plan.schedule === 'cached' ? acc.bytesPerToken - comp + int8Raw : acc.bytesPerToken;
    const row: Row = {
      shape,
      mode,
      decodeMsGraph: g.msPerToken,
      decodeMsEager: e.msPerToken,
      prefillTokS: N_PRE / (pre[1]! / 1000),
      weightBytes: led.weightBytes,
      weightRatioVsFp16: fp16Bytes ? led.weightBytes / fp16Bytes : 1,
      bytesPerToken: acc.bytesPerToken,
      floorMs: acc.bytesPerToken / rateBytesPerMs,
      trafficFloorMs: traffic / rateBytesPerMs,
      ...(int8Raw ? { compressionRatio: int8Raw / comp } : {}),
      ...(cacheDecodeMs !== undefined ? { cacheDecodeMs } : {}),
      graph: g.graph,
      ...(g.graphError ? { graphError: g.graphError } : {}),
      b8MsPerStep: b8.msPerStep,
      b8Graph: b8.graph,
      profile1: prof1,
      profile8: prof8,
    };
    console.log(
      `${shape} ${mode}: decode ${g.msPerToken.toFixed(3)} ms/tok (graph ${g.graph}), eager ${e.msPerToken.toFixed(3)}, batch-8 ${b8.msPerStep.toFixed(3)} ms/step, prefill ${row.prefillTokS.toFixed(0)} tok/s, weights ${(led.weightBytes / 1e6).toFixed(1)} MB, floor ${row.floorMs.toFixed(3)} ms (built in ${buildS.toFixed(1)} s)`,
    );
    return row;
  } finally {
    eng.dispose();
  }
}

/** Prefill tok/s of one mode at each length (fresh sequence each time; median of 5 after 2 warm-ups). */
function benchPrefill(make: () => CudaEngine, lens: number[]): Record<string, number> {
  const eng = make();
  try {
    const r = prng(11);
    const out: Record<string, number> = {};
    for (const T of lens) {
      const prompt = Int32Array.from({ length: T }, () => Math.floor(r() * eng.config.vocabSize));
      const ms: number[] = [];
      for (let i = 0; i < 7; i++) {
        eng.reset();
        const t = eng.forward(prompt).ms;
        if (i >= 2) ms.push(t);
      }
      ms.sort((a, b) => a - b);
      out[String(T)] = T / (ms[2]! / 1000);
    }
    return out;
  } finally {
    eng.dispose();
  }
}

async function prefillChild(m: string): Promise<void> {
  const lens = arg('--lens', '128')!.split(',').map(Number);
  const o = { modes: withCodec(m), maxSeq: Math.max(...lens) + 8, maxPrefill: Math.max(...lens) };
  let res: Record<string, number>;
  if (arg('--shape') === 'tinyllama') res = benchPrefill(() => CudaEngine.synthetic(TINYLLAMA, 1, o), lens);
  else {
    const model = await LlamaModel.load(arg('--model', 'default')!);
    res = benchPrefill(() => CudaEngine.fromModel(model, o), lens);
    model.dispose();
  }
  console.log('PREFILL ' + JSON.stringify(res));
}

interface PrefillRow {
  shape: string;
  mode: string;
  T: number;
  ownTokS?: number;
  cublasTokS?: number;
  hfTokS?: number;
  failed?: string;
}

/** Our GEMM vs cuBLAS prefill, every (shape, mode, gemm) in its own child process. */
function prefillGemmRows(hf: { shape: string; prefill_by_len?: Record<string, number>; prefill_tokens?: number; prefill_tok_s?: number }[]): PrefillRow[] {
  const lens = arg('--prefill-lens', process.env.PREFILL_LENS ?? '4,16,64,128,512')!; // engine-on-device.sh passes PREFILL_LENS to hf_baseline.py too
  const modes = arg('--prefill-modes', 'fp16,int8,gguf')!.split(',');
  const self = fileURLToPath(import.meta.url);
  const rows: PrefillRow[] = [];
  for (const shape of ['smollm2', 'tinyllama']) {
    const label = shape === 'smollm2' ? 'SmolLM2-135M (real)' : 'TinyLlama-1.1B shape (random)';
    const h = hf.find((x) => x.shape === shape);
    for (const m of modes) {
      const res: Record<string, Record<string, number> | string> = {};
      for (const gemm of ['own', 'cublas']) {
        const c = spawnSync(process.execPath, [self, '--prefill-child', m, '--shape', shape, '--model', arg('--model', 'default')!, '--lens', lens, '--codec', CODEC], {
          encoding: 'utf8',
          timeout: 180_000,
          env: { ...process.env, CODECLLM_GEMM: gemm, CODECLLM_CUBLAS_MIN_T: '2' },
        });
        const line = (c.stdout ?? '').split('\n').find((l) => l.startsWith('PREFILL '));
        res[gemm] = line ? (JSON.parse(line.slice(8)) as Record<string, number>) : ((c.stderr ?? '').split('\n').find((l) => /Error:/.test(l)) ?? `exit ${c.status}${c.signal ? ' ' + c.signal : ''}`);
      }
      for (const T of lens.split(',').map(Number)) {
        const own = res.own, cub = res.cublas;
        const hfT = h?.prefill_by_len?.[String(T)] ?? (h?.prefill_tokens === T ? h.prefill_tok_s : undefined);
        const row: PrefillRow = { shape: label, mode: m, T };
        if (typeof own === 'object') row.ownTokS = own[String(T)];
        if (typeof cub === 'object') row.cublasTokS = cub[String(T)];
        if (hfT !== undefined) row.hfTokS = hfT;
        const fail = [typeof own === 'string' ? `own: ${own}` : '', typeof cub === 'string' ? `cublas: ${cub}` : ''].filter(Boolean).join('; ');
        if (fail) row.failed = fail;
        rows.push(row);
        console.log(`prefill ${label} ${m} T=${T}: own ${row.ownTokS?.toFixed(0) ?? '-'} tok/s, cuBLAS ${row.cublasTokS?.toFixed(0) ?? '-'} tok/s, HF ${row.hfTokS?.toFixed(0) ?? '-'}${fail ? ` (${fail})` : ''}`);
      }
    }
  }
  return rows;
}

/** 'fused' -> 'fused:codec=ans' unless the spec names a codec; '@nopdl' stripped. */
function withCodec(m: string): string {
  m = m.replace('@nopdl', '');
  return m === 'fp16' || m === 'int8' || m === 'gguf' || m.includes('codec=') ? m : `${m}:codec=${CODEC}`;
}

async function child(m: string): Promise<void> {
  const rate = Number(arg('--rate'));
  const o = { modes: withCodec(m), maxSeq: 1024, maxBatch: 8, pdl: !m.endsWith('@nopdl') };
  if (arg('--shape') === 'tinyllama') {
    const r = benchEngine('TinyLlama-1.1B shape (random)', m, () => CudaEngine.synthetic(TINYLLAMA, 1, o), rate, null);
    console.log('ROW ' + JSON.stringify(r));
    return;
  }
  const model = await LlamaModel.load(arg('--model', 'default')!);
  const r = benchEngine('SmolLM2-135M (real)', m, () => CudaEngine.fromModel(model, o), rate, null);
  console.log('ROW ' + JSON.stringify(r));
  model.dispose();
}

/** Markdown table: one row per (shape, mode), one column per op, µs at batch 1 / batch 8. */
function profileTable(rows: Row[]): string[] {
  const ok = rows.filter((r) => r.profile1 && r.profile8 && !r.mode.includes('@nopdl'));
  const ops: string[] = [];
  for (const r of ok) for (const p of [...r.profile1!, ...r.profile8!]) if (!ops.includes(p.op)) ops.push(p.op);
  const us = (ps: { op: string; ms: number }[], op: string) => {
    const p = ps.find((x) => x.op === op);
    return p ? (p.ms * 1000).toFixed(0) : '';
  };
  return [
    `| shape | mode | ${ops.map((o) => o.replaceAll('|', '\\|')).join(' | ')} |`,
    `| --- | --- | ${ops.map(() => '---').join(' | ')} |`,
    ...ok.map((r) => `| ${r.shape} | ${r.mode} | ${ops.map((op) => `${us(r.profile1!, op)} / ${us(r.profile8!, op)}`).join(' | ')} |`),
  ];
}

async function main(): Promise<void> {
  const n = requireCuda('GPU engine bench');
  const dev = n.deviceInfo();
  const date = new Date().toISOString();
  console.log(`device: ${dev.name}, ${date}`);
  const bw = n.deviceCopyBandwidth(1 << 30, 20);
  const rate = (2 * bw.bytes) / bw.ms; // bytes per ms, read + written
  console.log(`D2D copy: ${(rate / 1e9).toFixed(2)} TB/s (read+write, 1 GiB x 20)`);
  const hf: { shape: string; decode_ms_per_token_median: number; prefill_tok_s: number; prefill_tokens?: number; prefill_by_len?: Record<string, number>; decode_b8_ms_per_step_median?: number }[] = arg('--hf') && fs.existsSync(arg('--hf')!) ? JSON.parse(fs.readFileSync(arg('--hf')!, 'utf8')) : [];
  // --prefill-only: only the prefill GEMM section (own vs cuBLAS vs HF), no decode rows
  const modes = args.includes('--prefill-only') ? [] : (arg('--modes', 'fp16,fp16@nopdl,int8,int8@nopdl,gguf,decode-per-forward,cached,fused,fused:chunk=16384,fused:codec=bitcomp') as string).split(' ').join('').split(/,(?![^:]*=)/);
  const rows: Row[] = [];
  // every (shape, mode) in its own child process: a CUDA fault (sticky for a process's context) costs one row only
  const self = fileURLToPath(import.meta.url);
  for (const shape of ['smollm2', 'tinyllama']) {
    let fp16: number | null = null;
    const label = shape === 'smollm2' ? 'SmolLM2-135M (real)' : 'TinyLlama-1.1B shape (random)';
    for (const m of modes) {
      const c = spawnSync(
        process.execPath,
        [self, '--child', m, '--shape', shape, '--model', arg('--model', 'default')!, '--rate', String(rate), '--tokens', String(N_TOK), '--prefill', String(N_PRE), '--codec', CODEC],
        { encoding: 'utf8', timeout: 180_000 },
      );
      const line = (c.stdout ?? '').split('\n').find((l) => l.startsWith('ROW '));
      process.stdout.write((c.stdout ?? '').split('\n').filter((l) => !l.startsWith('ROW ') && !/TensorFlow|=====|^$/.test(l)).map((l) => l + '\n').join(''));
      if (!line) {
        const why = (c.stderr ?? '').split('\n').find((l) => /Error:/.test(l)) ?? `exit ${c.status}${c.signal ? ' ' + c.signal : ''}`;
        console.log(`${label} ${m}: FAILED: ${why}`);
        rows.push({ shape: label, mode: m, failed: why } as unknown as Row);
        continue;
      }
      const r = JSON.parse(line.slice(4)) as Row;
      if (m === 'fp16') fp16 = r.weightBytes;  // '@nopdl' rows have the same bytes
      r.weightRatioVsFp16 = fp16 ? r.weightBytes / fp16 : 1;
      rows.push(r);
    }
  }
  for (const r of rows) {
    const h = hf.find((x) => (r.shape.startsWith('SmolLM2') ? x.shape === 'smollm2' : x.shape === 'tinyllama'));
    if (h) {
      r.hfDecodeMs = h.decode_ms_per_token_median;
      r.hfPrefillTokS = h.prefill_tok_s;
      if (h.decode_b8_ms_per_step_median !== undefined) r.hfB8MsPerStep = h.decode_b8_ms_per_step_median;
    }
  }
  const prefillRows = args.includes('--no-prefill-gemm') ? [] : prefillGemmRows(hf);
  const f0 = (x?: number) => (x === undefined ? '' : x.toFixed(0));
  const md = [
    `GPU engine bench — ${dev.name}, ${date}; D2D copy ${(rate / 1e9).toFixed(2)} TB/s (read+write); prefill ${N_PRE} tokens, decode ${N_TOK} tokens (graph) / ${Math.min(N_TOK, 64)} (eager) at batch 1, ${N_TOK} steps at batch 8; codec ${CODEC}, 64 KiB chunks. Floor = weight bytes a step reads / copy rate (the same for batch 1 and 8: weights are read once per step).`,
    '',
    '| shape | mode | decode ms/tok (graph) | eager | floor ms | floor w/ decode traffic | × floor | batch-8 ms/step | batch-8 tok/s | prefill tok/s | weight MB | × fp16 | ratio int8/compressed | HF eager fp16 ms/tok | HF batch-8 ms/step | HF prefill tok/s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) =>
      (r as unknown as { failed?: string }).failed ? `| ${r.shape} | ${r.mode} | FAILED: ${(r as unknown as { failed: string }).failed.slice(0, 120)} ||||||||||||||` :
        `| ${r.shape} | ${r.mode} | ${r.decodeMsGraph.toFixed(3)}${r.graph ? '' : ' (no graph)'} | ${r.decodeMsEager.toFixed(3)} | ${r.floorMs.toFixed(3)} | ${r.trafficFloorMs.toFixed(3)} | ${(r.decodeMsGraph / r.floorMs).toFixed(2)} | ${r.b8MsPerStep.toFixed(3)}${r.b8Graph ? '' : ' (no graph)'} | ${(8000 / r.b8MsPerStep).toFixed(0)} | ${r.prefillTokS.toFixed(0)} | ${(r.weightBytes / 1e6).toFixed(1)} | ${r.weightRatioVsFp16.toFixed(3)} | ${r.compressionRatio ? r.compressionRatio.toFixed(3) : ''} | ${r.hfDecodeMs?.toFixed(2) ?? ''} | ${r.hfB8MsPerStep?.toFixed(2) ?? ''} | ${r.hfPrefillTokS?.toFixed(0) ?? ''} |`,
    ),
    '',
    `Where a decode step goes (engine.profileDecode: one eager step at position ${N_PRE + N_TOK}, an event after every op, summed over layers; µs, batch 1 / batch 8):`,
    '',
    ...profileTable(rows),
    ...(prefillRows.length
      ? [
          '',
          `Prefill GEMM (issue 12 item 5): tok/s of one fresh prefill of T random tokens (median of 5 after 2 warm-ups), our tensor-core GEMM (CODECLLM_GEMM=own) vs cuBLAS (CODECLLM_GEMM=cublas, CODECLLM_CUBLAS_MIN_T=2: quantized weights dequantized to fp16 scratch then cuBLAS at every T); HF eager fp16 from hf_baseline.py --prefill-lens (random weights, batch 1).`,
          '',
          '| shape | mode | T | own GEMM tok/s | cuBLAS tok/s | cuBLAS / own | HF eager fp16 tok/s | cuBLAS / HF |',
          '| --- | --- | --- | --- | --- | --- | --- | --- |',
          ...prefillRows.map((r) =>
            `| ${r.shape} | ${r.mode} | ${r.T} | ${f0(r.ownTokS)} | ${f0(r.cublasTokS)} | ${r.ownTokS && r.cublasTokS ? (r.cublasTokS / r.ownTokS).toFixed(2) : ''} | ${f0(r.hfTokS)} | ${r.hfTokS && r.cublasTokS ? (r.cublasTokS / r.hfTokS).toFixed(2) : ''} |${r.failed ? ` FAILED: ${r.failed.slice(0, 120)}` : ''}`,
          ),
        ]
      : []),
  ].join('\n');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'bench-engine.json'), JSON.stringify({ device: dev, date, copyBytesPerMs: rate, hf, rows, prefillRows }, null, 1));
  fs.writeFileSync(path.join(outDir, 'bench-engine.md'), md + '\n');
  console.log('\n' + md);
}

if (arg('--child')) await child(arg('--child')!);
else if (arg('--prefill-child')) await prefillChild(arg('--prefill-child')!);
else await main();
