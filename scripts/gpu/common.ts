/**
 * Shared helpers of the GPU scripts (bundled by esbuild into .gpubuild/*.mjs for the GPU host, which has no
 * node_modules): seeded synthetic tensors, the default-model samples made by make-samples.ts, argument parsing and
 * plain-text tables.
 */
import fs from 'node:fs';
import path from 'node:path';
import { cpuDecompress } from '../../src/codec/cpu.js';
import { rng } from '../../src/util/random.js';


function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

/** bf16 bytes (little-endian) of n N(0, 0.02) weights: like an LLM linear layer. */
export function syntheticBf16(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const out = new Uint8Array(n * 2);
  for (let i = 0; i < n; i++) {
    f[0] = 0.02 * gauss(r);
    const x = u[0]!;
    const b = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff; // round to nearest even
    out[2 * i] = b & 0xff;
    out[2 * i + 1] = b >>> 8;
  }
  return out;
}

/** int8 codes of per-channel absmax-quantized Gaussian weights (peaked around 0, like quantized LLM weights). */
export function syntheticInt8(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(n);
  // absmax of a Gaussian row of 576 weights is ~3.2 sigma: codes have sigma ~ 127/3.2 ~ 40
  for (let i = 0; i < n; i++) out[i] = Math.max(-127, Math.min(127, Math.round(40 * gauss(r)))) & 0xff;
  return out;
}

/** Repeats `unit` to `bytes` bytes (throughput runs: chunks are independent, so the ratio is the unit's). */
export function tile(unit: Uint8Array, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let off = 0; off < bytes; off += unit.length) out.set(unit.subarray(0, Math.min(unit.length, bytes - off)), off);
  return out;
}

export interface Dataset {
  name: string;
  /** element kind: chooses typed codec variants (ANS float16, Bitcomp ushort …) */
  kind: 'bf16' | 'int8';
  data: Uint8Array;
  source: string;
}

export interface SampleManifest {
  model: string;
  tensors: string[];
  files: { name: string; kind: 'bf16' | 'int8'; file: string; rawBytes: number; codec: 'zstd'; note: string }[];
}

/** The default model's weight samples written by scripts/gpu/make-samples.ts (zstd files + samples.json), if present. */
export function loadSamples(dir: string): Dataset[] {
  const mf = path.join(dir, 'samples.json');
  if (!fs.existsSync(mf)) return [];
  const m = JSON.parse(fs.readFileSync(mf, 'utf8')) as SampleManifest;
  return m.files.map((f) => ({
    name: f.name,
    kind: f.kind,
    data: cpuDecompress('zstd', fs.readFileSync(path.join(dir, f.file)), f.rawBytes),
    source: `${m.model}: ${f.note}`,
  }));
}

/** The datasets of a run: default-model samples when present, plus synthetic bf16 and int8 of `bytes` bytes each. */
export function datasets(sampleDir: string, bytes: number): Dataset[] {
  const out: Dataset[] = [];
  for (const s of loadSamples(sampleDir)) out.push({ ...s, data: s.data.length >= bytes ? s.data.subarray(0, bytes) : tile(s.data, bytes) });
  const unit = Math.min(bytes, 32 << 20);
  out.push({ name: 'synthetic-bf16', kind: 'bf16', data: tile(syntheticBf16(unit / 2, 1), bytes), source: 'seeded N(0, 0.02) as bf16' });
  out.push({ name: 'synthetic-int8', kind: 'int8', data: tile(syntheticInt8(unit, 2), bytes), source: 'seeded int8 codes, sigma 40' });
  return out;
}

export function parseArgs(argv: string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const [k, v] = a.slice(2).split('=', 2) as [string, string | undefined];
    if (v !== undefined) o[k] = v;
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) o[k] = argv[++i]!;
    else o[k] = 'true';
  }
  return o;
}

/** Plain-text table (markdown-compatible). */
export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const w = head.map((_, j) => Math.max(...cells.map((r) => (r[j] ?? '').length)));
  const line = (r: string[]) => '| ' + r.map((c, j) => c.padEnd(w[j]!)).join(' | ') + ' |';
  return [line(cells[0]!), '| ' + w.map((n) => '-'.repeat(n)).join(' | ') + ' |', ...cells.slice(1).map(line)].join('\n');
}

export { rng };
