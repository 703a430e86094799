// Device memory, VRAM ledger and nvCOMP from TS. Without a GPU (CI, this machine) the tests check that every entry
// point fails with E_CUDA and the messages.ts text (never a crash) and exercise the host-side helpers; with a GPU
// (CUDA + nvCOMP build) they round-trip all eight codecs, cross-check the CPU codecs and corrupt chunks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunkCount, cpuCompressChunks, cpuDecompressChunks } from '../src/codec/cpu.js';
import { copyBandwidth, cudaAvailable, CudaTimer, DeviceBuffer, vramLedger } from '../src/native/device.js';
import {
  NVCOMP_CODECS,
  NVCOMP_CPU_TWIN,
  nvcompAvailable,
  nvcompCompress,
  nvcompCompressHost,
  nvcompDecompress,
  nvcompDecompressGroup,
  nvcompDecompressHost,
  nvcompInfo,
  packChunks,
  PACK_ALIGN,
} from '../src/codec/nvcomp.js';
import { CodecLLMError, msg } from '../src/messages.js';
import { nativeInfo } from '../src/native/addon.js';
import { bf16Weights } from './codec-helpers.js';



const gpu = cudaAvailable();
const gpuNvcomp = nvcompAvailable();

describe('chunking helpers (no GPU needed)', () => {
  it('chunkCount / cpuCompressChunks / cpuDecompressChunks round-trip with a partial last chunk', () => {
    const data = bf16Weights(100_000, 1); // 200000 bytes = 3 full 64 KiB chunks + 3392
    assert.equal(chunkCount(data.length, 65536), 4);
    assert.equal(chunkCount(0, 65536), 0);
    for (const codec of ['zstd', 'lz4', 'deflate', 'snappy'] as const) {
      const chunks = cpuCompressChunks(codec, data, 65536);
      assert.equal(chunks.length, 4);
      assert.ok(Buffer.from(cpuDecompressChunks(codec, chunks, data.length, 65536)).equals(Buffer.from(data)), codec);
    }
  });

  it('a corrupt chunk is named in the error', () => {
    const data = bf16Weights(100_000, 2);
    const chunks = cpuCompressChunks('zstd', data, 65536);
    chunks[2] = chunks[2]!.subarray(0, 10);
    assert.throws(
      () => cpuDecompressChunks('zstd', chunks, data.length, 65536),
      (e: unknown) => e instanceof CodecLLMError && e.code === 'E_CODEC' && e.message.startsWith(msg.codecFailed('zstd', 'decompress', 'chunk 2 of 4: ')),
    );
    assert.throws(
      () => cpuDecompressChunks('zstd', chunks.slice(0, 3), data.length, 65536),
      (e: unknown) => e instanceof CodecLLMError && e.message === msg.codecFailed('zstd', 'decompress', `3 chunks for ${data.length} bytes, expected 4`),
    );
  });

  it('packChunks aligns every chunk to PACK_ALIGN and keeps the bytes', () => {
    const chunks = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(17).fill(9), new Uint8Array([4])];
    const { packed, offsets, sizes } = packChunks(chunks);
    assert.deepEqual([...offsets], [0, 16, 16, 48]);
    assert.deepEqual([...sizes], [3, 0, 17, 1]);
    assert.equal(packed.length, 49);
    chunks.forEach((c, i) => {
      assert.equal(offsets[i]! % PACK_ALIGN, 0);
      assert.deepEqual([...packed.subarray(offsets[i]!, offsets[i]! + c.length)], [...c]);
    });
  });
});

describe('device memory without a GPU', { skip: gpu ? 'a GPU is visible' : false }, () => {
  it('every entry point is an E_CUDA CodecLLMError with the messages.ts text', () => {
    const want = (what: string) => (e: unknown) => e instanceof CodecLLMError && e.code === 'E_CUDA' && e.message === msg.cudaUnavailable(what);
    assert.throws(() => DeviceBuffer.alloc(16, 'x'), want("device buffer 'x'"));
    assert.throws(() => DeviceBuffer.fromHost(new Uint8Array(4), 'y'), want("device buffer 'y'"));
    assert.throws(() => vramLedger(), want('vramLedger'));
    assert.throws(() => copyBandwidth(), want('copyBandwidth'));
    assert.throws(() => new CudaTimer(), want('CudaTimer'));
    assert.throws(() => nvcompCompressHost('zstd', new Uint8Array(10)), want("device buffer 'nvcomp-host-in:zstd'"));
  });

  it('nvcompInfo works without a GPU when nvCOMP is compiled in', { skip: nativeInfo().nvcomp ? false : 'built without nvCOMP' }, () => {
    const i = nvcompInfo();
    assert.ok(i.version >= 5000, String(i.version));
    assert.match(i.headerVersion, /^\d+\.\d+\.\d+$/);
    assert.equal(Math.floor(i.version / 1000), Number(i.headerVersion.split('.')[0]), 'header and library major versions agree');
  });

  it('bad arguments are E_ARG before any CUDA call', () => {
    assert.throws(() => DeviceBuffer.alloc(-1, 'neg'), (e: unknown) => e instanceof CodecLLMError && e.code === 'E_ARG');
  });
});

describe('device memory on the GPU', { skip: gpu ? false : 'no GPU visible' }, () => {
  it('upload/download/copy/fill round-trip; ranges are checked; dispose is idempotent and final', () => {
    const data = bf16Weights(50_000, 3);
    const a = DeviceBuffer.fromHost(data, 'test:a');
    const b = DeviceBuffer.alloc(data.length, 'test:b');
    try {
      assert.ok(Buffer.from(a.download()).equals(Buffer.from(data)));
      b.copyFrom(a);
      assert.equal(a.countMismatches(b), 0);
      b.upload(new Uint8Array([data[5]! ^ 1, data[6]! ^ 2]), 5);
      assert.equal(a.countMismatches(b), 2);
      // host twin of the mismatch kernel
      const ha = a.download(), hb = b.download();
      assert.equal(ha.reduce((n, x, i) => n + (x !== hb[i] ? 1 : 0), 0), 2);
      assert.throws(() => a.download(data.length - 1, 2), (e: unknown) => e instanceof CodecLLMError && e.message === msg.bufferRange('test:a', data.length - 1, 2, data.length));
      b.fill(7);
      assert.ok(b.download(0, 100).every((x) => x === 7));
    } finally {
      a.dispose();
      b.dispose();
    }
    a.dispose();
    assert.throws(() => a.download(), (e: unknown) => e instanceof CodecLLMError && e.message === msg.bufferDisposed('test:a'));
  });

  it('the VRAM ledger lists own buffers by tag', () => {
    const before = vramLedger();
    const x = DeviceBuffer.alloc(3 << 20, 'ledger:x');
    const y = DeviceBuffer.alloc(1 << 20, 'ledger:x');
    const l = vramLedger();
    assert.equal(l.ownBytes - before.ownBytes, 4 << 20);
    assert.deepEqual(l.byTag.find((t) => t.tag === 'ledger:x'), { tag: 'ledger:x', bytes: 4 << 20, count: 2 });
    x.dispose();
    y.dispose();
    assert.equal(vramLedger().ownBytes, before.ownBytes);
  });

  it('copy bandwidth is measured', () => {
    const bw = copyBandwidth(64 << 20, 5);
    assert.ok(bw.gbps > 10 && bw.gbps < 1e5, String(bw.gbps));
  });
});

describe('nvCOMP on the GPU', { skip: gpuNvcomp ? false : 'no GPU or no nvCOMP' }, () => {
  const data = bf16Weights(300_001, 4); // 600002 bytes: 10 chunks, the last partial
  for (const codec of NVCOMP_CODECS) {
    it(`${codec}: bit-exact device round trip, per-chunk sizes`, () => {
      const src = DeviceBuffer.fromHost(data, `t:${codec}`);
      try {
        const z = nvcompCompress(codec, src, { tensor: 'test.weight' });
        assert.equal(z.chunkBytes.length, Math.ceil(data.length / z.chunkSize));
        const out = nvcompDecompress(z);
        assert.equal(out.buffer.countMismatches(src), 0);
        out.buffer.dispose();
        z.buffer.dispose();
      } finally {
        src.dispose();
      }
    });
  }
  for (const [nv, cpu] of Object.entries(NVCOMP_CPU_TWIN)) {
    it(`${nv}: nvCOMP chunks decode with the CPU ${cpu} codec and the reverse`, () => {
      const g = nvcompCompressHost(nv as 'lz4', data, { tensor: 'x' });
      assert.ok(Buffer.from(cpuDecompressChunks(cpu!, g.chunks, data.length, g.chunkSize)).equals(Buffer.from(data)));
      const back = nvcompDecompressHost(nv as 'lz4', cpuCompressChunks(cpu!, data, 65536), data.length, { tensor: 'x' });
      assert.ok(Buffer.from(back.data).equals(Buffer.from(data)));
    });
  }
  it('chunk CRC-32s from the device equal a bitwise CRC-32 of the chunks; a corrupt or cut chunk is rejected before decoding', () => {
    // readable twin of nvcompBatchedCRC32Async with the CRC-32/ISO-HDLC preset (zlib's crc32)
    const crc32 = (b: Uint8Array): number => {
      let c = 0xffffffff;
      for (const x of b) {
        c ^= x;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      }
      return (c ^ 0xffffffff) >>> 0;
    };
    const src = DeviceBuffer.fromHost(data, 't:crc');
    try {
      for (const codec of NVCOMP_CODECS) {
        const z = nvcompCompress(codec, src, { tensor: 'crc.weight' });
        try {
          const packed = z.buffer.download();
          z.chunkOffsets.forEach((off, i) => assert.equal(z.chunkCrc32![i], crc32(packed.subarray(off, off + z.chunkBytes[i]!)), `${codec} chunk ${i}`));
          packed[z.chunkOffsets[4]! + 1]! ^= 0x10;
          const bad = DeviceBuffer.fromHost(packed, 't:crc-bad');
          try {
            assert.throws(
              () => nvcompDecompress({ ...z, buffer: bad }, { tensor: 'crc.weight' }),
              (e: unknown) => e instanceof CodecLLMError && e.code === 'E_NVCOMP' && /tensor 'crc\.weight', chunk 4 of 10: crc32 mismatch/.test(e.message),
            );
          } finally {
            bad.dispose();
          }
          const cut = Float64Array.from(z.chunkBytes);
          cut[9] = cut[9]! - 1;
          assert.throws(() => nvcompDecompress({ ...z, chunkBytes: cut }), (e: unknown) => e instanceof CodecLLMError && /chunk 9 of 10: crc32 mismatch/.test(e.message));
        } finally {
          z.buffer.dispose();
        }
      }
    } finally {
      src.dispose();
    }
  });
  it('group decode (the GPU engine path): several tensors in one batched call, bit-exact for every codec', () => {
    const parts = [data.subarray(0, 331776), data.subarray(1000, 1000 + 110592)];
    const offsets = [0, 331776];
    const srcs = parts.map((p, i) => DeviceBuffer.fromHost(p, `t:group${i}`));
    const dst = DeviceBuffer.alloc(331776 + 110592, 't:group-out');
    try {
      for (const codec of NVCOMP_CODECS) {
        const zs = srcs.map((s) => nvcompCompress(codec, s, { tensor: 'g' }));
        try {
          dst.fill(0);
          const r = nvcompDecompressGroup(codec, zs.map((z, i) => ({ z, dstOffset: offsets[i]! })), dst, { chunkSize: 65536 });
          assert.equal(r.chunks, 6 + 2);
          assert.equal(r.path, codec === 'bitcomp' ? 'bitcomp-plan' : 'nvcomp-batched');
          parts.forEach((p, i) => assert.ok(Buffer.from(dst.download(offsets[i]!, p.length)).equals(Buffer.from(p)), `${codec} part ${i}`));
        } finally {
          for (const z of zs) z.buffer.dispose();
        }
      }
    } finally {
      for (const s of srcs) s.dispose();
      dst.dispose();
    }
  });
  it('release() hands the memory over without freeing it', () => {
    const a = DeviceBuffer.fromHost(data.subarray(0, 64), 't:rel');
    const before = vramLedger().ownBytes;
    const id = a.release();
    assert.ok(a.disposed);
    assert.equal(vramLedger().ownBytes, before, 'still allocated');
    assert.throws(() => a.release(), (e: unknown) => e instanceof CodecLLMError && e.message === msg.bufferDisposed('t:rel'));
    DeviceBuffer.adopt(id, 64, 't:rel2').dispose();
    assert.equal(vramLedger().ownBytes, before - 64);
  });
  it('a corrupt chunk is an E_NVCOMP error naming codec, tensor and chunk', () => {
    const chunks = cpuCompressChunks('zstd', data, 65536);
    chunks[3] = chunks[3]!.slice().fill(0x55, 0, 40);
    assert.throws(
      () => nvcompDecompressHost('zstd', chunks, data.length, { tensor: 'bad.weight' }),
      (e: unknown) => e instanceof CodecLLMError && e.code === 'E_NVCOMP' && /tensor 'bad\.weight', chunk 3 of 10/.test(e.message),
    );
  });
});
