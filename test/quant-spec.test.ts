import assert from 'node:assert/strict';
import { test } from 'node:test';

import { isCodecError } from '../src/messages.js';
import { formatSpec, groupLayout, groupOf, parseSpec, quantSizes, toSpec } from '../src/quant/spec.js';
import { allSpecs } from './quant-helpers.js';

test('parseSpec: the issue spec strings', () => {
  assert.deepEqual(parseSpec('int8:per-channel'), { format: 'int8', granularity: 'per-channel', groupSize: 0, asym: false, scaleDType: 'fp32' });
  assert.deepEqual(parseSpec('int8:per-tensor'), { format: 'int8', granularity: 'per-tensor', groupSize: 0, asym: false, scaleDType: 'fp32' });
  assert.deepEqual(parseSpec('int8:per-input-channel').granularity, 'per-input-channel');
  assert.deepEqual(parseSpec('int8:group=128:asym'), { format: 'int8', granularity: 'group', groupSize: 128, asym: true, scaleDType: 'fp32' });
  assert.equal(parseSpec('int8:per-channel:scale=fp16').scaleDType, 'fp16');
  assert.equal(parseSpec('int8:per-channel:scale=bf16').scaleDType, 'bf16');
  assert.deepEqual(parseSpec('int4:group=64'), { format: 'int4', granularity: 'group', groupSize: 64, asym: false, scaleDType: 'fp32' });
  assert.deepEqual(parseSpec('nf4:group=64'), { format: 'nf4', granularity: 'group', groupSize: 64, asym: false, scaleDType: 'fp32' });
  assert.deepEqual(parseSpec('fp8'), { format: 'fp8', granularity: 'per-tensor', groupSize: 0, asym: false, scaleDType: 'fp32' });
  assert.equal(parseSpec('fp8:per-channel').granularity, 'per-channel');
  // defaults and option order
  assert.deepEqual(parseSpec('int8'), parseSpec('int8:per-channel'));
  assert.deepEqual(parseSpec('int4'), parseSpec('int4:group=64'));
  assert.deepEqual(parseSpec(' int8:scale=fp16:asym:group=32 '), parseSpec('int8:group=32:asym:scale=fp16'));
  assert.deepEqual(parseSpec('int8:sym'), parseSpec('int8:per-channel'));
});

test('formatSpec: canonical strings round-trip for every spec', () => {
  assert.equal(formatSpec(parseSpec('fp8')), 'fp8:per-tensor');
  assert.equal(formatSpec(parseSpec('int8:scale=fp16:asym:group=32')), 'int8:group=32:asym:scale=fp16');
  assert.equal(formatSpec(parseSpec('int8:per-channel:scale=fp32:sym')), 'int8:per-channel');
  const specs = allSpecs();
  assert.equal(specs.length, 2 * 7 * 2 * 3 + 2 * 7 * 3); // int8, int4 with asym; nf4, fp8 sym only
  const seen = new Set<string>();
  for (const s of specs) {
    const text = formatSpec(s);
    assert.deepEqual(parseSpec(text), s, text);
    assert.equal(formatSpec(parseSpec(text)), text);
    seen.add(text);
  }
  assert.equal(seen.size, specs.length, 'canonical strings are distinct');
});

test('parseSpec: exact E_QUANT messages for bad specs', () => {
  const cases: [string, string][] = [
    ['', "invalid quant spec '': empty (expected e.g. int8:per-channel, int8:group=128:asym, int4:group=64, nf4:group=64, fp8)"],
    ['int16', "invalid quant spec 'int16': unknown format 'int16' (expected int8, int4, nf4, fp8)"],
    ['INT8', "invalid quant spec 'INT8': unknown format 'INT8' (expected int8, int4, nf4, fp8)"],
    ['int8:per-row', "invalid quant spec 'int8:per-row': unknown option 'per-row' (expected per-tensor, per-channel, per-input-channel, group=N, sym, asym, scale=fp32|fp16|bf16)"],
    ['int8:', "invalid quant spec 'int8:': unknown option '' (expected per-tensor, per-channel, per-input-channel, group=N, sym, asym, scale=fp32|fp16|bf16)"],
    ['int8:group=100', "invalid quant spec 'int8:group=100': group size '100' is not one of 32, 64, 128, 256"],
    ['int8:group=', "invalid quant spec 'int8:group=': group size '' is not one of 32, 64, 128, 256"],
    ['int8:group=64.0', "invalid quant spec 'int8:group=64.0': group size '64.0' is not one of 32, 64, 128, 256"],
    ['int8:group=512', "invalid quant spec 'int8:group=512': group size '512' is not one of 32, 64, 128, 256"],
    ['int8:scale=fp8', "invalid quant spec 'int8:scale=fp8': unknown scale dtype 'fp8' (expected fp32, fp16, bf16)"],
    ['int8:per-tensor:per-channel', "invalid quant spec 'int8:per-tensor:per-channel': granularity given twice"],
    ['int8:sym:asym', "invalid quant spec 'int8:sym:asym': sym/asym given twice"],
    ['int8:scale=fp16:scale=fp16', "invalid quant spec 'int8:scale=fp16:scale=fp16': scale dtype given twice"],
    ['nf4:group=64:asym', "invalid quant spec 'nf4:group=64:asym': nf4 is symmetric only (asym needs int8 or int4)"],
    ['fp8:asym', "invalid quant spec 'fp8:asym': fp8 is symmetric only (asym needs int8 or int4)"],
  ];
  for (const [spec, message] of cases) {
    assert.throws(
      () => parseSpec(spec),
      (e: unknown) => isCodecError(e, 'E_QUANT') && (e as Error).message === message,
      `spec '${spec}'`,
    );
  }
  assert.throws(
    () => toSpec({ format: 'int8', granularity: 'group', groupSize: 100, asym: false, scaleDType: 'fp32' }),
    (e: unknown) => isCodecError(e, 'E_QUANT') && (e as Error).message === 'invalid quant spec object: groupSize 100',
  );
  assert.throws(
    () => toSpec({ format: 'fp8', granularity: 'per-tensor', groupSize: 0, asym: true, scaleDType: 'fp32' }),
    (e: unknown) => isCodecError(e, 'E_QUANT') && (e as Error).message === 'invalid quant spec object: fp8 is symmetric only',
  );
});

test('groupLayout / groupOf: per-tensor, per-channel, per-input-channel, groups with a short last group', () => {
  const rows = 3;
  const cols = 200;
  const pt = parseSpec('int8:per-tensor');
  const pc = parseSpec('int8:per-channel');
  const pic = parseSpec('int8:per-input-channel');
  const g64 = parseSpec('int8:group=64');
  assert.equal(groupLayout(pt, rows, cols).nGroups, 1);
  assert.equal(groupLayout(pc, rows, cols).nGroups, 3);
  assert.equal(groupLayout(pic, rows, cols).nGroups, 200);
  const L = groupLayout(g64, rows, cols);
  assert.equal(L.groupsPerRow, 4); // 64 + 64 + 64 + 8
  assert.equal(L.nGroups, 12);
  assert.equal(groupOf(g64, L, 0, 63), 0);
  assert.equal(groupOf(g64, L, 0, 64), 1);
  assert.equal(groupOf(g64, L, 0, 199), 3);
  assert.equal(groupOf(g64, L, 2, 0), 8);
  assert.equal(groupOf(pc, groupLayout(pc, rows, cols), 2, 150), 2);
  assert.equal(groupOf(pic, groupLayout(pic, rows, cols), 2, 150), 150);
  // SmolLM2: 576 = 4.5 x 128
  assert.equal(groupLayout(parseSpec('int8:group=128'), 576, 576).nGroups, 576 * 5);
});

test('quantSizes: bits per weight = codes + scales + zero points', () => {
  // 4096 x 4096 int8 per-channel fp32: 8 + 32/4096
  assert.equal(quantSizes(parseSpec('int8:per-channel'), 4096, 4096).bitsPerWeight, 8 + 32 / 4096);
  assert.equal(quantSizes(parseSpec('int8:per-channel:scale=fp16'), 4096, 4096).bitsPerWeight, 8 + 16 / 4096);
  assert.equal(quantSizes(parseSpec('int8:per-tensor'), 64, 64).bitsPerWeight, 8 + 32 / 4096);
  assert.equal(quantSizes(parseSpec('int8:group=128:asym'), 64, 256).bitsPerWeight, 8 + (32 + 8) / 128);
  assert.equal(quantSizes(parseSpec('int4:group=64'), 64, 64).bitsPerWeight, 4.5);
  assert.equal(quantSizes(parseSpec('int4:group=64:asym:scale=fp16'), 64, 64).bitsPerWeight, 4 + (16 + 4) / 64);
  assert.equal(quantSizes(parseSpec('nf4:group=64'), 64, 64).bitsPerWeight, 4.5);
  assert.equal(quantSizes(parseSpec('fp8:per-channel:scale=bf16'), 64, 64).bitsPerWeight, 8 + 16 / 64);
  // odd counts: 4-bit codes and zero points round up to whole bytes
  const s = quantSizes(parseSpec('int4:group=32:asym'), 3, 33); // 99 weights, 6 groups
  assert.deepEqual([s.codeBytes, s.scaleBytes, s.zeroBytes, s.totalBytes], [50, 24, 3, 77]);
});
