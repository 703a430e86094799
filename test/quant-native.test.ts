import assert from 'node:assert/strict';
import { test } from 'node:test';

import { isCodecError } from '../src/messages.js';
import { nativeQuantAvailable, nativeSupports, quantizeFast, quantizeNative } from '../src/quant/native.js';
import { type QuantizedTensor, dequantize, quantize, scaleBits } from '../src/quant/quantize.js';
import { formatSpec } from '../src/quant/spec.js';
import { KINDS, SHAPES, allSpecs, makeWeights } from './quant-helpers.js';

const skip = nativeQuantAvailable() ? false : 'native addon not built (npm run build:native)';

/**
 * Compare native vs TS bit for bit (named tolerance: atol = 0, rtol = 0 on codes, scale bits, zero points, stats).
 * On a mismatch, report the first mismatches and the max abs error between the two dequantized tensors.
 */
function compare(ref: QuantizedTensor, nat: QuantizedTensor, label: string): void {
  const lines: string[] = [];
  const diff = (what: string, a: ArrayLike<number>, b: ArrayLike<number>) => {
    if (a.length !== b.length) return lines.push(`${what}: length ${a.length} vs ${b.length}`);
    let shown = 0;
    let count = 0;
    for (let i = 0; i < a.length; i++)
      if (a[i] !== b[i]) {
        count++;
        if (shown++ < 5) lines.push(`${what}[${i}]: ts ${a[i]} native ${b[i]}`);
      }
    if (count) lines.push(`${what}: ${count} mismatches`);
    return 0;
  };
  diff('codes', ref.codes, nat.codes);
  diff('scaleBits', scaleBits(ref), scaleBits(nat));
  diff('zeros', ref.zeros ?? [], nat.zeros ?? []);
  assert.equal(nat.codes.constructor, ref.codes.constructor);
  if (JSON.stringify(ref.stats) !== JSON.stringify(nat.stats)) lines.push(`stats: ts ${JSON.stringify(ref.stats)} native ${JSON.stringify(nat.stats)}`);
  if (lines.length) {
    const a = dequantize(ref);
    const b = dequantize(nat);
    let maxErr = 0;
    for (let i = 0; i < a.length; i++) maxErr = Math.max(maxErr, Math.abs(a[i]! - b[i]!));
    assert.fail(`${label}: native != TS (max |dq_ts - dq_native| = ${maxErr})\n  ${lines.join('\n  ')}`);
  }
}

test('native quantizer == TS reference, bit for bit: int8/int4 specs x weight kinds x shapes x threads', { skip }, () => {
  const specs = allSpecs().filter((s) => nativeSupports(s));
  assert.equal(specs.length, 84);
  const shapes: [number, number][] = [...SHAPES, [3, 1537], [130, 96], [257, 64]];
  let seed = 90_000;
  let n = 0;
  // groups on the reference's hard paths where native matched (the sweep must reach every one of them)
  const hard = { zeroGroups: 0, scaleUnderflow: 0, scaleOverflow: 0, scaleSubnormal: 0, scaleNudged: 0, clipped: 0 };
  for (const spec of specs)
    for (const kind of KINDS)
      for (const [rows, cols] of shapes) {
        const w = makeWeights(kind, rows, cols, seed++);
        const ref = quantize(w, [rows, cols], spec);
        const threads = [1, 2, 3, 7][n++ % 4]!;
        compare(ref, quantizeNative(w, [rows, cols], spec, { threads }), `${formatSpec(spec)} ${kind} [${rows}, ${cols}] threads ${threads}`);
        for (const k of Object.keys(hard) as (keyof typeof hard)[]) hard[k] += ref.stats[k];
      }
  for (const [k, v] of Object.entries(hard)) assert.ok(v > 0, `no ${k} group in the sweep: native is untested there (${JSON.stringify(hard)})`);
});

test('native: odd element counts and odd rows pack 4-bit codes without races (many threads)', { skip }, () => {
  for (const [rows, cols] of [
    [101, 33],
    [9, 1],
    [64, 255],
  ] as [number, number][]) {
    const w = makeWeights('heavy', rows, cols, rows * cols);
    for (const spec of ['int4:per-channel', 'int4:group=32:asym:scale=fp16', 'int4:per-input-channel:asym', 'int4:per-tensor'])
      for (const threads of [2, 5, 16]) compare(quantize(w, [rows, cols], spec), quantizeNative(w, [rows, cols], spec, { threads }), `${spec} [${rows}, ${cols}] x${threads}`);
  }
});

test('native: errors (non-finite weight, unsupported spec, bad shape) are E_QUANT with the TS texts', { skip }, () => {
  const w = makeWeights('normal', 4, 8, 1);
  w[13] = Infinity;
  assert.throws(
    () => quantizeNative(w, [4, 8], 'int8:per-channel', { threads: 2 }),
    (e: unknown) => isCodecError(e, 'E_QUANT') && (e as Error).message === 'quantize: non-finite weight Infinity at [1, 5] (only finite weights can be quantized)',
  );
  assert.throws(
    () => quantizeNative(w, [4, 8], 'nf4:group=64'),
    (e: unknown) =>
      isCodecError(e, 'E_QUANT') &&
      (e as Error).message === "native quantizer does not support 'nf4:group=64' (native: int8 with any granularity, int4; nf4 and fp8 run in TS)",
  );
  assert.throws(() => quantizeNative(w, [4, 9], 'int8'), (e: unknown) => isCodecError(e, 'E_QUANT'));
  // quantizeFast falls back to TS for nf4
  const ok = makeWeights('normal', 4, 64, 2);
  assert.deepEqual(quantizeFast(ok, [4, 64], 'nf4:group=64').codes, quantize(ok, [4, 64], 'nf4:group=64').codes);
});
