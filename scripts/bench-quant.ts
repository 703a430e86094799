/**
 * Benchmark: quantize every weight matrix of the default model (SmolLM2-135M: token embedding + 30 x 7 linear
 * layers = 134.5M weights), TS reference vs native, and check both agree bit for bit and round-trip first.
 *
 *   node --import tsx scripts/bench-quant.ts [--spec int8:per-channel ...] [--threads 1,2] [--repeat 3] [--random] [--no-ts]
 *
 * Weights: data/models/*.gguf (openGGUF, dequantized to float32) when present, else seeded random matrices of the
 * SmolLM2-135M shapes (--random forces them). Timed: the quantizer calls only (not loading, not the checks); each
 * timing is the best of --repeat runs (default 3 native, 1 TS), since a shared 2-core box is noisy.
 * Prints a table and one JSON line (`BENCH {...}`) for BENCHMARKS.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { openGGUF } from '../src/formats/gguf.js';
import { nativeQuantAvailable, nativeSupports, quantizeNative } from '../src/quant/native.js';
import { type QuantizedTensor, dequantize, quantize, scaleBits } from '../src/quant/quantize.js';
import { formatSpec, parseSpec, quantSizes } from '../src/quant/spec.js';

interface Mat {
  name: string;
  shape: [number, number];
  w: Float32Array;
}

function args() {
  const a = process.argv.slice(2);
  const specs: string[] = [];
  let threads = [1, os.availableParallelism()];
  let random = false;
  let ts = true;
  let repeat = 3;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '--spec') specs.push(a[++i]!);
    else if (a[i] === '--threads') threads = a[++i]!.split(',').map(Number);
    else if (a[i] === '--random') random = true;
    else if (a[i] === '--no-ts') ts = false;
    else if (a[i] === '--repeat') repeat = Number(a[++i]);
    else throw new Error(`unknown argument ${a[i]}`);
  }
  return { specs: specs.length ? specs : ['int8:per-channel'], threads: [...new Set(threads)], random, ts, repeat };
}

function loadModel(): { source: string; mats: Mat[] } | null {
  const dir = 'data/models';
  const file = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith('.gguf')) : undefined;
  if (!file) return null;
  const g = openGGUF(path.join(dir, file));
  const mats: Mat[] = [];
  for (const t of g.list()) {
    if (t.shape.length !== 2) continue;
    mats.push({ name: t.name, shape: [t.shape[0]!, t.shape[1]!], w: g.readF32(t.name) });
  }
  g.close();
  return { source: path.join(dir, file), mats };
}

function randomModel(): { source: string; mats: Mat[] } {
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s / 4294967296);
  const make = (name: string, rows: number, cols: number): Mat => {
    const w = new Float32Array(rows * cols);
    for (let i = 0; i < w.length; i++) w[i] = 0.02 * Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
    return { name, shape: [rows, cols], w };
  };
  const mats: Mat[] = [make('token_embd.weight', 49152, 576)];
  for (let l = 0; l < 30; l++) {
    for (const [n, r, c] of [
      ['attn_q', 576, 576],
      ['attn_k', 192, 576],
      ['attn_v', 192, 576],
      ['attn_output', 576, 576],
      ['ffn_gate', 1536, 576],
      ['ffn_up', 1536, 576],
      ['ffn_down', 576, 1536],
    ] as const)
      mats.push(make(`blk.${l}.${n}.weight`, r, c));
  }
  return { source: 'random (SmolLM2-135M shapes, N(0, 0.02))', mats };
}

function same(a: QuantizedTensor, b: QuantizedTensor): boolean {
  const eq = (x: ArrayLike<number>, y: ArrayLike<number>) => x.length === y.length && Array.prototype.every.call(x, (v, i) => v === y[i]);
  return eq(a.codes, b.codes) && eq(scaleBits(a), scaleBits(b)) && eq(a.zeros ?? [], b.zeros ?? []);
}

function main(): void {
  const opt = args();
  const t0 = performance.now();
  const model = (!opt.random && loadModel()) || randomModel();
  const loadS = (performance.now() - t0) / 1000;
  const weights = model.mats.reduce((n, m) => n + m.w.length, 0);
  console.log(`weights: ${model.source}: ${model.mats.length} matrices, ${(weights / 1e6).toFixed(1)}M weights (loaded in ${loadS.toFixed(1)} s)`);
  console.log(`machine: ${os.cpus()[0]?.model ?? '?'} x ${os.availableParallelism()}, node ${process.version}, native ${nativeQuantAvailable() ? 'built' : 'NOT built'}`);
  const results: Record<string, unknown>[] = [];
  const load = os.loadavg()[0]!;
  for (const specText of opt.specs) {
    const spec = parseSpec(specText);
    const label = formatSpec(spec);
    let bytes = 0;
    for (const m of model.mats) bytes += quantSizes(spec, m.shape[0], m.shape[1]).totalBytes;
    const row: Record<string, unknown> = { spec: label, weights, bitsPerWeight: +((bytes * 8) / weights).toFixed(4) };
    // TS reference
    let ref: QuantizedTensor[] = [];
    if (opt.ts) {
      const t = performance.now();
      ref = model.mats.map((m) => quantize(m.w, m.shape, spec));
      row.ts_s = +((performance.now() - t) / 1000).toFixed(2);
      // round trip before benchmark numbers count
      for (const [i, q] of ref.entries())
        if (!same(q, quantize(dequantize(q), q.shape, spec))) throw new Error(`${label}: round trip failed on ${model.mats[i]!.name}`);
      row.roundTrip = 'ok';
    }
    if (nativeQuantAvailable() && nativeSupports(spec)) {
      for (const threads of opt.threads) {
        let best = Infinity;
        let nat: QuantizedTensor[] = [];
        for (let k = 0; k < opt.repeat; k++) {
          const t = performance.now();
          nat = model.mats.map((m) => quantizeNative(m.w, m.shape, spec, { threads }));
          best = Math.min(best, performance.now() - t);
        }
        row[`native_t${threads}_s`] = +(best / 1000).toFixed(3);
        if (ref.length) {
          for (const [i, q] of nat.entries()) if (!same(q, ref[i]!)) throw new Error(`${label}: native != TS on ${model.mats[i]!.name}`);
          row.nativeEqualsTs = true;
        }
      }
    }
    results.push(row);
    console.log(Object.entries(row).map(([k, v]) => `${k}=${v}`).join('  '));
  }
  console.log(
    `BENCH ${JSON.stringify({ date: new Date().toISOString().slice(0, 10), source: model.source, cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), loadavg1: +load.toFixed(1), node: process.version, results })}`,
  );
}

main();
