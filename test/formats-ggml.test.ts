/** GGML blocks vs an independent reference: vectors from gguf-py (scripts/gen-ggml-vectors.py), compared bit-exactly. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dequantizeBlocks, quantizeBlocks, type QuantizableBlockDType } from '../src/formats/ggml-blocks.js';
import { DTYPES, type GGMLBlockDType } from '../src/formats/dtypes.js';
import { isCodecError } from '../src/messages.js';

const vec = JSON.parse(readFileSync(new URL('./fixtures/formats/ggml-vectors.json', import.meta.url), 'utf8'));
const bytesOf = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));
const f32Of = (b64: string) => {
  const b = bytesOf(b64);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
};

/** Compare float32 arrays by bit pattern (so -0 vs 0 and NaN count); print the first mismatches. */
function assertBitsEqual(got: Float32Array, want: Float32Array, what: string) {
  assert.equal(got.length, want.length, `${what}: length`);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  const bad: string[] = [];
  for (let i = 0; i < g.length && bad.length < 5; i++) if (g[i] !== w[i]) bad.push(`[${i}] got ${got[i]} want ${want[i]}`);
  assert.deepEqual(bad, [], `${what}: first mismatches`);
}

for (const dt of ['q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k'] as GGMLBlockDType[]) {
  test(`dequantize ${dt} is bit-exact with gguf-py`, () => {
    const v = vec.dequant[dt];
    const blocks = bytesOf(v.blocks);
    assert.equal(blocks.length, (v.n / DTYPES[dt].blockElems) * DTYPES[dt].blockBytes);
    const want = f32Of(v.f32);
    assert.ok(want.some((x) => x !== 0), 'vectors are not all zero');
    assertBitsEqual(dequantizeBlocks(dt, blocks, v.n), want, dt);
  });
}

for (const dt of ['q8_0', 'q4_0', 'q4_1'] as QuantizableBlockDType[]) {
  test(`quantize ${dt} (reference quantizer) is byte-exact with gguf-py`, () => {
    const v = vec.quant[dt];
    const got = quantizeBlocks(dt, f32Of(v.f32));
    assert.deepEqual(Buffer.from(got), Buffer.from(bytesOf(v.blocks)));
  });
}

test('quantize then dequantize stays within half a step (q4_0: one step, its +8 clamp) of each block', () => {
  const x = new Float32Array(32 * 8).map((_, i) => Math.sin(i * 0.37) * (1 + (i >> 5)));
  for (const dt of ['q8_0', 'q4_0', 'q4_1'] as QuantizableBlockDType[]) {
    const y = dequantizeBlocks(dt, quantizeBlocks(dt, x), x.length);
    for (let b = 0; b < 8; b++) {
      const blk = x.subarray(b * 32, b * 32 + 32);
      const amax = Math.max(...blk.map(Math.abs));
      const range = Math.max(...blk) - Math.min(...blk);
      const step = dt === 'q8_0' ? amax / 127 : dt === 'q4_0' ? amax / 8 : range / 15;
      for (let j = 0; j < 32; j++) {
        const tol = dt === 'q4_0' ? step : step * 0.5;
        assert.ok(Math.abs(y[b * 32 + j]! - blk[j]!) <= tol + 1e-3 * amax, `${dt} block ${b} elem ${j}`);
      }
    }
  }
});

test('dequantize rejects a partial block or short buffer', () => {
  assert.throws(() => dequantizeBlocks('q8_0', new Uint8Array(34), 31), (e) => isCodecError(e, 'E_ARG'));
  assert.throws(() => dequantizeBlocks('q6_k', new Uint8Array(209), 256), (e) => isCodecError(e, 'E_ARG'));
  assert.throws(() => quantizeBlocks('q4_k' as QuantizableBlockDType, new Float32Array(256)), (e) => isCodecError(e, 'E_ARG'));
});

test('a block with a non-finite fp16 scale is an impossible block: one line naming file, tensor, block, field', async () => {
  const { encodeGGUF, parseGGUF } = await import('../src/formats/gguf.js');
  const { blockScaleProblem } = await import('../src/formats/ggml-blocks.js');
  const cases: [GGMLBlockDType, number, number, string][] = [
    ['q4_k', 1, 2, 'block 1 of 2 (q4_k): scale dmin is Inf'], // dmin at byte 2 of the second super-block
    ['q6_k', 0, 208, 'block 0 of 2 (q6_k): scale d is Inf'],
    ['q3_k', 1, 108, 'block 1 of 2 (q3_k): scale d is Inf'],
    ['q2_k', 0, 82, 'block 0 of 2 (q2_k): scale dmin is Inf'],
    ['q5_1', 1, 2, 'block 1 of 2 (q5_1): scale m is Inf'],
  ];
  for (const [dt, block, at, want] of cases) {
    const { blockElems, blockBytes } = DTYPES[dt];
    const data = new Uint8Array(2 * blockBytes);
    assert.equal(blockScaleProblem(dt, data), null, `${dt}: zero blocks are fine`);
    data[block * blockBytes + at] = 0x00;
    data[block * blockBytes + at + 1] = 0x7c; // fp16 +Inf
    assert.equal(blockScaleProblem(dt, data), want);
    const g = parseGGUF(encodeGGUF({ metadata: [], tensors: [{ name: 'w', dtype: dt, shape: [2, blockElems], data }] }), 'bad.gguf');
    assert.throws(() => g.readF32('w'), (e) => isCodecError(e, 'E_FORMAT') && e.message === `bad.gguf: tensor 'w' has impossible block data: ${want}`);
    data[block * blockBytes + at + 1] = 0xfe; // NaN
    assert.match(blockScaleProblem(dt, data) ?? '', /is NaN$/);
  }
});

test('TS dequantize equals the native table test vectors (test/fixtures/native/block-vectors.json) for all ten formats', () => {
  const nv = JSON.parse(readFileSync(new URL('./fixtures/native/block-vectors.json', import.meta.url), 'utf8'));
  const names = Object.keys(nv.types).sort();
  assert.deepEqual(names, ['q2_k', 'q3_k', 'q4_0', 'q4_1', 'q4_k', 'q5_0', 'q5_1', 'q5_k', 'q6_k', 'q8_0']);
  for (const dt of names as GGMLBlockDType[]) {
    const v = nv.types[dt];
    const want = f32Of(v.f32);
    assertBitsEqual(dequantizeBlocks(dt, bytesOf(v.blocks), want.length), want, `${dt} (native vectors, ${nv.gguf_version})`);
  }
});

test('a GGUF whose block data is shorter than type × shape says so in one line naming file and tensor', async () => {
  const { encodeGGUF, parseGGUF } = await import('../src/formats/gguf.js');
  const data = new Uint8Array(2 * DTYPES.q5_0.blockBytes); // 2 × 32 elements of q5_0 = 44 bytes
  const bytes = encodeGGUF({ metadata: [], tensors: [{ name: 'blk.0.attn_k.weight', dtype: 'q5_0', shape: [2, 32], data }] });
  const cut = bytes.subarray(0, bytes.length - 40); // the data section keeps 4 of the 44 bytes (+ padding)
  assert.throws(
    () => parseGGUF(cut, 'short.gguf'),
    (e) => isCodecError(e, 'E_GGUF') && /^short\.gguf: tensor 'blk\.0\.attn_k\.weight' data \[0, 44\) lies outside the data section of \d+ bytes$/.test(e.message),
  );
});
