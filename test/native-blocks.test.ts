// One format table per language, tied together: the native table (native/src/common/weight_types.h + blocks.h, read
// through the addon's blockFormats()) equals the TS table (src/formats/dtypes.ts DTYPES + ENGINE_LAYOUTS): names, ids,
// elements and bytes per block. The native dequant_block of all ten GGML block formats is bit-exact against the PyPI
// `gguf` package's numpy reference (vectors: scripts/gen-native-block-vectors.py -> test/fixtures/native/).
// Needs the addon built: `bash scripts/build-native.sh`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DTYPES, ENGINE_LAYOUTS, weightTypeId, type GGMLBlockDType } from '../src/formats/dtypes.js';
import { isNativeError, requireNative } from '../src/native/addon.js';

interface Vectors {
  gguf_version: string;
  types: Record<string, { ggml_type: number; block_elems: number; block_bytes: number; blocks: string; f32: string }>;
}
const vectors = JSON.parse(readFileSync(new URL('./fixtures/native/block-vectors.json', import.meta.url), 'utf8')) as Vectors;
const bytesOf = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));
const f32Of = (b64: string) => {
  const b = bytesOf(b64);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};
const GGUF_TYPES: GGMLBlockDType[] = ['q4_0', 'q4_1', 'q5_0', 'q5_1', 'q8_0', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k'];

describe('format table: native == TS', () => {
  it('blockFormats() lists exactly DTYPES and ENGINE_LAYOUTS with the same ids, names and block geometry', () => {
    const native = requireNative('test').blockFormats();
    const ts = [
      ...Object.entries(DTYPES).map(([name, i]) => ({ name, ...i, kind: i.blockElems > 1 ? 'block' : 'element' })),
      ...Object.entries(ENGINE_LAYOUTS).map(([name, i]) => ({ name, ...i, kind: 'layout' })),
    ].sort((a, b) => a.id - b.id);
    assert.deepEqual(
      native.map((r) => ({ ...r })),
      ts.map((r) => ({ id: r.id, name: r.name, kind: r.kind, blockElems: r.blockElems, blockBytes: r.blockBytes })),
    );
    assert.deepEqual(native.map((r) => r.id), native.map((_, i) => i), 'ids are dense, in order, append-only');
  });

  it('block geometry equals the independent gguf package (GGML_QUANT_SIZES) for all ten formats', () => {
    assert.deepEqual(Object.keys(vectors.types).sort(), [...GGUF_TYPES].sort());
    for (const t of GGUF_TYPES) {
      const v = vectors.types[t]!;
      assert.deepEqual([DTYPES[t].blockElems, DTYPES[t].blockBytes], [v.block_elems, v.block_bytes], t);
    }
  });

  it('weightTypeId() gives the table ids (what crosses N-API)', () => {
    assert.equal(weightTypeId('q4_1'), DTYPES.q4_1.id);
    assert.equal(weightTypeId('i8_group'), ENGINE_LAYOUTS.i8_group.id);
    const byName = new Map(requireNative('test').blockFormats().map((r) => [r.name, r.id]));
    for (const t of [...Object.keys(DTYPES), ...Object.keys(ENGINE_LAYOUTS)] as (keyof typeof DTYPES)[])
      assert.equal(weightTypeId(t), byName.get(t), t);
  });
});

describe('native dequant_block == gguf.quants.dequantize (bit-exact)', () => {
  for (const t of GGUF_TYPES) {
    it(`${t}: ${vectors.gguf_version} reference vectors`, () => {
      const v = vectors.types[t]!;
      const want = f32Of(v.f32);
      const blocks = bytesOf(v.blocks);
      const n = requireNative('test');
      for (const type of [DTYPES[t].id, t]) {
        const got = n.dequantBlocks(type, blocks);
        assert.equal(got.length, want.length);
        const gotBits = new Uint32Array(got.buffer, got.byteOffset, got.length);
        const wantBits = new Uint32Array(want.buffer.slice(want.byteOffset, want.byteOffset + want.byteLength));
        const bad: string[] = [];
        for (let i = 0; i < want.length && bad.length < 5; i++)
          if (gotBits[i] !== wantBits[i]) bad.push(`[${i}] got ${got[i]} want ${want[i]}`);
        assert.deepEqual(bad, [], `${t}: first mismatches`);
      }
    });
  }

  it('rejects a partial block, a non-block type and an unknown id with E_ARG', () => {
    const n = requireNative('test');
    for (const [type, bytes] of [
      [DTYPES.q4_k.id, new Uint8Array(DTYPES.q4_k.blockBytes - 1)],
      ['f16', new Uint8Array(4)],
      [999, new Uint8Array(0)],
      ['q9_9', new Uint8Array(0)],
    ] as const) {
      assert.throws(() => n.dequantBlocks(type, bytes), (e: unknown) => isNativeError(e) && e.code === 'E_ARG', String(type));
    }
  });
});
