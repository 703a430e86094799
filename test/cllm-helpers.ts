/** Shared fixtures for the .cllm tests and the fuzzer: a small multi-chunk container and manifest rewriting. */
import assert from 'node:assert/strict';
import { CLLM_HEADER_BYTES, encodeCllm, type CllmTensorInput, type CllmCodec } from '../src/container/cllm.js';
import { xxhash64 } from '../src/codec/cpu.js';
import { CodecLLMError } from '../src/messages.js';
import { quantize } from '../src/quant/quantize.js';
import { quantToBytes } from '../src/container/cllm.js';
import { f32ToBf16 } from '../src/formats/dtypes.js';
import { quantizeBlocks } from '../src/formats/ggml-blocks.js';
import { normalRng } from '../src/model/synthetic.js';

export const hex = (h: bigint) => h.toString(16).padStart(16, '0');

export function throwsExact(fn: () => unknown, code: string, message: string | RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CodecLLMError, `expected CodecLLMError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

/** Seeded float32 values ~ N(0, std²). */
export function gauss(n: number, seed: number, std = 0.05): Float32Array {
  const r = normalRng(seed);
  return Float32Array.from({ length: n }, () => std * r());
}

/**
 * Small tensors of every storage kind, chunked small so each has several chunks:
 * 'a' bf16 [16, 8] byteplane, 'b' int8:per-channel [4, 32], 'c' f32 [8] byteplane, 'd' q8_0 [2, 32], 'e' bf16 [6] exponent-split,
 * 'f' int4:group=32:asym:scale=fp16 [2, 64].
 */
export function smallTensors(codec: CllmCodec, chunkSize = 48): CllmTensorInput[] {
  const a = gauss(128, 1);
  const bf = new Uint16Array(a.length);
  for (let i = 0; i < a.length; i++) bf[i] = f32ToBf16(a[i]!);
  const e = new Uint16Array([0x3f80, 0xc020, 0x0001, 0x7f80, 0xffff, 0x0000]);
  return [
    { name: 'a', shape: [16, 8], storage: 'bf16', data: new Uint8Array(bf.buffer), transform: 'byteplane', codec, chunkSize },
    { name: 'b', shape: [4, 32], storage: 'int8:per-channel', data: quantToBytes(quantize(gauss(128, 2), [4, 32], 'int8:per-channel')), codec, chunkSize },
    { name: 'c', shape: [8], storage: 'f32', data: new Uint8Array(gauss(8, 3).buffer), transform: 'byteplane', codec, chunkSize },
    { name: 'd', shape: [2, 32], storage: 'q8_0', data: quantizeBlocks('q8_0', gauss(64, 4)), codec, chunkSize },
    { name: 'e', shape: [6], storage: 'bf16', data: new Uint8Array(e.buffer), transform: 'exponent-split', codec, chunkSize },
    { name: 'f', shape: [2, 64], storage: 'int4:group=32:asym:scale=fp16', data: quantToBytes(quantize(gauss(128, 5), [2, 64], 'int4:group=32:asym:scale=fp16')), codec, chunkSize },
  ];
}

/** The manifest object and the parts of a .cllm buffer. */
export function split(bytes: Uint8Array): { manifest: Record<string, unknown>; mlen: number; data: Uint8Array } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const mlen = Number(dv.getBigUint64(8, true));
  const manifest = JSON.parse(Buffer.from(bytes.subarray(CLLM_HEADER_BYTES, CLLM_HEADER_BYTES + mlen)).toString('utf8'));
  return { manifest, mlen, data: bytes.subarray(CLLM_HEADER_BYTES + mlen) };
}

/**
 * A .cllm with `manifest` (object or raw text) and `data`, with a consistent header: valid manifest and header
 * checksums, so the parser's deeper checks are reached (a hostile file, not a corrupted one).
 */
export function assemble(manifest: unknown, data: Uint8Array, over: { version?: number; mlen?: bigint } = {}): Uint8Array {
  const m = Buffer.from(typeof manifest === 'string' ? manifest : JSON.stringify(manifest), 'utf8');
  const out = new Uint8Array(CLLM_HEADER_BYTES + m.length + data.length);
  const dv = new DataView(out.buffer);
  out.set(Buffer.from('CLLM', 'latin1'), 0);
  dv.setUint32(4, over.version ?? 1, true);
  dv.setBigUint64(8, over.mlen ?? BigInt(m.length), true);
  dv.setBigUint64(16, xxhash64(m), true);
  dv.setBigUint64(24, xxhash64(out.subarray(0, 24)), true);
  out.set(m, CLLM_HEADER_BYTES);
  out.set(data, CLLM_HEADER_BYTES + m.length);
  return out;
}

/** The small container. */
export function smallFile(codec: CllmCodec = 'zstd', chunkSize = 48): Uint8Array {
  return encodeCllm(smallTensors(codec, chunkSize), { metadata: { purpose: 'test' } });
}
