/**
 * The 4-bit lab layouts kept resident by the native engines (native/src/common/quant4.h: int4 group sym / asym, nf4
 * group; packed codes + fp32 group scales + zero points), tied to the lab's definition (src/quant/quantize.ts,
 * numerics.ts NF4) and checked on the CPU here (the CUDA kernel, cuda/gemv_blocks.cu, runs the same header against
 * ref::linear_q4_group in scripts/gpu/check-engine.ts --kernels-only, q=6,7,8):
 *   - quant4Form(quantize(w, spec)) dequantizes natively (reference and fast LUT path) to dequantize(q) bit for bit,
 *     for int4 sym / asym and nf4, group / per-channel / per-tensor, fp32 / fp16 / bf16 scales;
 *   - the native NF4 table equals numerics.ts NF4 (every nibble with scale 1);
 *   - the fast linear equals the reference linear within a stated tolerance, and the reference linear equals a
 *     float64 dot over dequantize(q);
 *   - bad layouts are refused with one-line errors;
 *   - the CUDA GEMV's unit cut (native/src/cuda/gemv_units.h, q5_0 / q4_k / q6_k and the 4-bit layouts) run on the
 *     host equals the reference dequantization bit for bit (the GPU twins then only have the sums left to differ).
 * The native ops run in the twin test binary codecllm_cpu_twins (`ref` / `fast` <op>, src/native/twins.ts), not in the
 * production addon.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { cpuFast, cpuReference, twinBinary } from '../src/native/twins.js';
import { quant4Form } from '../src/engine/quant4-form.js';
import { normalRng } from '../src/model/synthetic.js';
import { dequantize, quantize } from '../src/quant/quantize.js';
import { NF4 } from '../src/quant/numerics.js';
import { DTYPES, f32ToF16, weightTypeId } from '../src/formats/dtypes.js';
import { dequantizeBlocks } from '../src/formats/ggml-blocks.js';

const built = fs.existsSync(twinBinary('cpu'));
const skip = built ? false : 'twin test binary codecllm_cpu_twins not built (npm run build:native)';
if (!built && process.env.CI) throw new Error('codecllm_cpu_twins is required under CI');

function randn(n: number, seed: number, std = 1): Float32Array {
  const r = normalRng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = std * r();
  return a;
}

const SPECS = [
  'int4:group=64',
  'int4:group=64:asym',
  'int4:group=32:scale=fp16',
  'int4:per-channel:asym:scale=bf16',
  'int4:per-tensor',
  'nf4:group=64',
  'nf4:group=128:scale=fp16',
  'nf4:per-channel',
];

function kernelArgs(spec: string, rows: number, cols: number, seed: number) {
  const w = randn(rows * cols, seed, 1 / Math.sqrt(cols));
  // an outlier per tensor so that clipping / the extreme codes are exercised
  w[(seed * 7919) % w.length] = 6 / Math.sqrt(cols);
  const q = quantize(w, [rows, cols], spec);
  const f = quant4Form(q, rows, cols);
  assert.ok(f, `${spec}: quant4Form`);
  return { q, args: { format: f.type, w: f.codes, scale: f.scale, ...(f.zero ? { zero: f.zero } : {}), group: f.group } };
}

/** A kernel's weight arguments as the twin binary takes them: parameters and the stdin parts (w, scale, [zero]). */
interface WArgs {
  format: string;
  w: Uint8Array;
  scale?: Float32Array;
  zero?: Uint8Array;
  group?: number;
}
function weightParts(a: WArgs): { params: Record<string, number | string>; inputs: ArrayBufferView[] } {
  const params: Record<string, number | string> = { format: a.format };
  const inputs: ArrayBufferView[] = [a.w];
  if (a.group !== undefined) params.group = a.group;
  if (a.scale) inputs.push(a.scale);
  if (a.zero) {
    params.asym = 1;
    inputs.push(a.zero);
  }
  return { params, inputs };
}
/** dequant / units (reference) or dequant (fast) of a (rows, cols) weight. */
function dequantOp(op: 'dequant' | 'units', fast: boolean, a: WArgs, rows: number, cols: number): Float32Array {
  const { params, inputs } = weightParts(a);
  return (fast ? cpuFast : cpuReference)(op as 'dequant', { ...params, rows, cols }, inputs);
}

function bitsEqual(got: Float32Array, want: Float32Array, label: string): void {
  assert.equal(got.length, want.length, `${label}: length`);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  const bad: string[] = [];
  for (let i = 0; i < w.length && bad.length < 5; i++) if (g[i] !== w[i]) bad.push(`[${i}] got ${got[i]} want ${want[i]}`);
  assert.deepEqual(bad, [], `${label}: first mismatches`);
}

test('quant4 layout ids are the engine layouts of dtypes.ts', () => {
  assert.equal(weightTypeId('i4_group'), 22);
  assert.equal(weightTypeId('nf4_group'), 23);
});

test('native 4-bit dequantize (reference and fast) == quantize.ts dequantize, bit for bit', { skip }, () => {
  let seed = 1;
  for (const spec of SPECS)
    for (const [rows, cols] of [[3, 64], [9, 576], [5, 1536], [2, 256]] as [number, number][]) {
      if (spec.includes('group=128') && cols % 128 !== 0) continue;
      const { q, args } = kernelArgs(spec, rows, cols, seed++);
      const want = dequantize(q);
      for (const fast of [false, true]) bitsEqual(dequantOp('dequant', fast, args, rows, cols), want, `${spec} ${rows}x${cols} fast=${fast}`);
    }
});

test('native NF4 table == numerics.ts NF4 (every nibble, scale 1)', { skip }, () => {
  const codes = Uint8Array.from({ length: 8 }, (_, i) => (2 * i) | ((2 * i + 1) << 4)); // nibbles 0..15 in order
  for (const fast of [false, true]) {
    const got = dequantOp('dequant', fast, { format: 'nf4_group', w: codes, scale: new Float32Array([1]), group: 16 }, 1, 16);
    bitsEqual(got, NF4, `NF4 table fast=${fast}`);
  }
});

test('4-bit fast linear == reference linear (stated tolerance); reference == float64 dot over dequantize(q)', { skip }, () => {
  // fast: float sums in another order than the double reference; |y| ~ N(0, 1): atol 2e-5 + rtol 1e-4·|ref|
  const atol = 2e-5;
  const rtol = 1e-4;
  let seed = 50;
  for (const spec of SPECS)
    for (const [T, inF, outF] of [[1, 576, 37], [1, 64, 8], [3, 1536, 9], [7, 256, 20]] as [number, number, number][]) {
      if (spec.includes('group=128') && inF % 128 !== 0) continue;
      const { q, args } = kernelArgs(spec, outF, inF, seed++);
      const x = randn(T * inF, seed++);
      const bias = randn(outF, seed++, 0.1);
      const { params, inputs } = weightParts(args);
      const p = { ...params, T, in: inF, out: outF, bias: 1 };
      const ref = cpuReference('linear', p, [...inputs, x, bias]);
      const fast = cpuFast('linear', p, [...inputs, x, bias]);
      const wd = dequantize(q);
      for (let t = 0; t < T; t++)
        for (let o = 0; o < outF; o++) {
          let acc = 0;
          for (let i = 0; i < inF; i++) acc += x[t * inF + i]! * wd[o * inF + i]!;
          const want = Math.fround(Math.fround(acc) + bias[o]!);
          const k = t * outF + o;
          assert.equal(ref[k], want, `${spec} T=${T} in=${inF} out=${outF}: reference [${t},${o}]`);
          const d = Math.abs(fast[k]! - ref[k]!);
          assert.ok(d <= atol + rtol * Math.abs(ref[k]!), `${spec} T=${T} in=${inF} out=${outF}: fast [${t},${o}] ${fast[k]} vs ${ref[k]} (|Δ| ${d})`);
        }
    }
});

test('bad 4-bit layouts are refused with one-line errors', { skip }, () => {
  const codes = new Uint8Array(32);
  const scale = new Float32Array(2);
  const bad = (args: Record<string, unknown>, re: RegExp) =>
    assert.throws(() => dequantOp('dequant', false, args as unknown as WArgs, 1, 64), (e: Error) => re.test(e.message) && !e.message.includes('\n'));
  bad({ format: 'nf4_group', w: codes, scale, group: 32, zero: new Uint8Array(2) }, /nf4_group has no zero points/);
  bad({ format: 'i4_group', w: codes, scale, group: 48 }, /group must be even and divide cols/);
  bad({ format: 'i4_group', w: new Uint8Array(31), scale, group: 32 }, /w: expected 32 bytes, got 31/);
  bad({ format: 'i4_group', w: codes, scale: new Float32Array(3), group: 32 }, /scale: expected 8 bytes, got 12/);
});

test('the CUDA GEMV unit cut (cuda/gemv_units.h), run on the host, == the reference dequantization bit for bit', { skip }, () => {
  // 4-bit lab layouts: vs the native reference dequant (itself == quantize.ts dequantize above)
  let seed = 200;
  for (const spec of ['int4:group=64', 'int4:group=32:asym', 'nf4:group=64', 'nf4:per-channel', 'int4:per-tensor:asym'])
    for (const [rows, cols] of [[3, 64], [5, 576]] as [number, number][]) {
      const { args } = kernelArgs(spec, rows, cols, seed++);
      bitsEqual(dequantOp('units', false, args, rows, cols), dequantOp('dequant', false, args, rows, cols), `units ${spec} ${rows}x${cols}`);
    }
  // raw GGML blocks (Gemma 3's q5_0 / q4_k / q6_k): random code / scale bytes with sane fp16 super-scales, vs the TS
  // dequantization (bit-exact to gguf.quants, test/native-blocks.test.ts)
  const r = normalRng(7);
  const fp16At: Record<'q5_0' | 'q4_k' | 'q6_k', number[]> = { q5_0: [0], q4_k: [0, 2], q6_k: [208] };
  for (const t of ['q5_0', 'q4_k', 'q6_k'] as const)
    for (const [rows, cols] of [[2, 256], [3, 1024]] as [number, number][]) {
      const bb = DTYPES[t].blockBytes;
      const nblk = (rows * cols) / DTYPES[t].blockElems;
      const raw = new Uint8Array(nblk * bb);
      for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(Math.abs(r()) * 7919) & 0xff;
      for (let b = 0; b < nblk; b++)
        for (const o of fp16At[t]) {
          const h = f32ToF16(0.001 + 0.05 * Math.abs(r()));
          raw[b * bb + o] = h & 0xff;
          raw[b * bb + o + 1] = h >> 8;
        }
      bitsEqual(dequantOp('units', false, { format: t, w: raw }, rows, cols), dequantizeBlocks(t, raw, rows * cols), `units ${t} ${rows}x${cols}`);
    }
});
