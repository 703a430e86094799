/**
 * GPU correctness check of the nvCOMP binding (run on the GPU host, see scripts/gpu/run-on-device.sh):
 *   - all eight codecs (plus typed variants) round-trip bit-exactly on the default model's weight samples
 *     (scripts/gpu/make-samples.ts) and on synthetic bf16 / int8 data, checked on the GPU (mismatch kernel) and on the
 *     host (its twin: download and compare);
 *   - nvCOMP LZ4/Zstd/Deflate/Snappy chunks decode with the CPU libraries and CPU chunks decode with nvCOMP;
 *   - a corrupted or truncated chunk is reported (E_NVCOMP naming codec, tensor, chunk, status) or, for formats
 *     without checksums, shows up as wrong bytes — never a crash;
 *   - chunk-size capping, empty and odd-sized inputs, argument errors, no leaked device buffers.
 * Prints a pass/fail table; writes JSON to --out (default $OUT/check-nvcomp.json when $OUT is set). Exit 1 on failure.
 * Usage: node .gpubuild/check-nvcomp.mjs [--mib 8] [--samples .gpubuild/samples] [--out file.json]
 */
import fs from 'node:fs';
import path from 'node:path';
import { cpuCompressChunks, cpuDecompressChunks } from '../../src/codec/cpu.js';
import { DeviceBuffer, deviceInfo, vramLedger } from '../../src/codec/device.js';
import {
  NVCOMP_CODECS,
  NVCOMP_CPU_TWIN,
  nvcompCompress,
  nvcompCompressHost,
  nvcompDecompress,
  nvcompDecompressHost,
  nvcompInfo,
  type NvcompCodec,
  type NvcompOptions,
} from '../../src/codec/nvcomp.js';
import { CodecLLMError } from '../../src/messages.js';
import { nativeInfo } from '../../src/native.js';
import { datasets, parseArgs, table, type Dataset } from './common.js';

const args = parseArgs(process.argv.slice(2));
const bytes = Math.round(Number(args.mib ?? 8) * 2 ** 20);
const sampleDir = args.samples ?? path.join(process.cwd(), '.gpubuild', 'samples');
const outFile = args.out ?? (process.env.OUT ? path.join(process.env.OUT, 'check-nvcomp.json') : undefined);

interface Row {
  check: string;
  dataset: string;
  codec: string;
  ok: boolean;
  detail: string;
}
const rows: Row[] = [];
function record(check: string, dataset: string, codec: string, fn: () => string): void {
  try {
    rows.push({ check, dataset, codec, ok: true, detail: fn() });
  } catch (e) {
    const m = e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : String(e);
    rows.push({ check, dataset, codec, ok: false, detail: m.slice(0, 300) });
  }
}
function assert(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(what);
}
function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Codec variants per dataset kind: default byte-wise, plus typed variants where the codec has a data type. */
function variants(kind: Dataset['kind']): { codec: NvcompCodec; label: string; opts: NvcompOptions }[] {
  const v: { codec: NvcompCodec; label: string; opts: NvcompOptions }[] = NVCOMP_CODECS.map((c) => ({ codec: c, label: c, opts: {} }));
  if (kind === 'bf16') {
    v.push({ codec: 'ans', label: 'ans/float16', opts: { dataType: 'float16' } });
    v.push({ codec: 'bitcomp', label: 'bitcomp/ushort', opts: { dataType: 'ushort' } });
    v.push({ codec: 'cascaded', label: 'cascaded/ushort', opts: { dataType: 'ushort' } });
  } else {
    v.push({ codec: 'bitcomp', label: 'bitcomp/char', opts: { dataType: 'char' } });
    v.push({ codec: 'cascaded', label: 'cascaded/char', opts: { dataType: 'char' } });
  }
  v.push({ codec: 'deflate', label: 'deflate/alg4', opts: { algorithm: 4 } });
  v.push({ codec: 'gdeflate', label: 'gdeflate/alg0', opts: { algorithm: 0 } });
  return v;
}

process.on('uncaughtException', (e) => {
  console.error(`check-nvcomp: ${(e as { code?: string }).code ?? 'error'}: ${e.message}`);
  process.exit(2);
});
const info = { build: nativeInfo(), device: deviceInfo(), nvcomp: nvcompInfo() };
console.log(`check-nvcomp: ${info.device.name} (cc ${info.device.computeCapability}), driver ${info.device.driverVersion}, ` +
  `runtime ${info.device.runtimeVersion}, nvCOMP ${info.nvcomp.version} (cudart ${info.nvcomp.cudartVersion}), ${bytes} bytes per dataset`);
const ledger0 = vramLedger().ownBytes;

const sets = datasets(sampleDir, bytes);
for (const ds of sets) {
  const src = DeviceBuffer.fromHost(ds.data, `check:${ds.name}`);
  try {
    for (const v of variants(ds.kind)) {
      const tensor = `${ds.name}`;
      record('roundtrip', ds.name, v.label, () => {
        const z = nvcompCompress(v.codec, src, { ...v.opts, tensor });
        try {
          const out = nvcompDecompress(z);
          try {
            const gpuMism = out.buffer.countMismatches(src);
            const hostEq = equal(out.buffer.download(), ds.data);
            assert(gpuMism === 0 && hostEq, `mismatches gpu=${gpuMism} host-equal=${hostEq}`);
            return `ratio ${z.ratio.toFixed(3)}, ${z.chunkBytes.length} chunks of ${z.chunkSize}`;
          } finally {
            out.buffer.dispose();
          }
        } finally {
          z.buffer.dispose();
        }
      });
    }
  } finally {
    src.dispose();
  }
  // standard formats: nvCOMP <-> CPU libraries
  const part = ds.data.subarray(0, Math.min(ds.data.length, 4 << 20));
  for (const [nv, cpu] of Object.entries(NVCOMP_CPU_TWIN) as [NvcompCodec, 'lz4'][]) {
    record('gpu->cpu', ds.name, `${nv}->${cpu}`, () => {
      const g = nvcompCompressHost(nv, part, { tensor: ds.name });
      assert(equal(cpuDecompressChunks(cpu, g.chunks, part.length, g.chunkSize), part), 'CPU decode differs');
      return `${g.chunks.length} chunks decoded by the CPU ${cpu} library`;
    });
    record('cpu->gpu', ds.name, `${cpu}->${nv}`, () => {
      const chunks = cpuCompressChunks(cpu, part, 65536);
      const back = nvcompDecompressHost(nv, chunks, part.length, { tensor: ds.name });
      assert(equal(back.data, part), 'nvCOMP decode differs');
      return `${chunks.length} CPU chunks decoded by nvCOMP`;
    });
  }
}

// edge cases
const odd = sets[sets.length - 1]!.data.subarray(0, 65536 * 3 + 4097);
for (const codec of NVCOMP_CODECS) {
  record('odd-size', 'int8 196705 B', codec, () => {
    const src = DeviceBuffer.fromHost(odd, 'check:odd');
    try {
      const z = nvcompCompress(codec, src, { tensor: 'odd' });
      const out = nvcompDecompress(z);
      const m = out.buffer.countMismatches(src);
      out.buffer.dispose();
      z.buffer.dispose();
      assert(m === 0, `${m} mismatches`);
      return `${z.chunkBytes.length} chunks, last ${odd.length % z.chunkSize} B`;
    } finally {
      src.dispose();
    }
  });
  record('one-byte', '1 B', codec, () => {
    const src = DeviceBuffer.fromHost(new Uint8Array([0x5a]), 'check:one');
    try {
      const z = nvcompCompress(codec, src, { tensor: 'one' });
      const out = nvcompDecompress(z);
      const b = out.buffer.download();
      out.buffer.dispose();
      z.buffer.dispose();
      assert(b.length === 1 && b[0] === 0x5a, 'wrong byte');
      return 'ok';
    } finally {
      src.dispose();
    }
  });
  record('empty', '0 B', codec, () => {
    const src = DeviceBuffer.alloc(0, 'check:empty');
    try {
      const z = nvcompCompress(codec, src, { tensor: 'empty' });
      assert(z.chunkBytes.length === 0, 'chunks for an empty input');
      const out = nvcompDecompress(z);
      out.buffer.dispose();
      z.buffer.dispose();
      return '0 chunks';
    } finally {
      src.dispose();
    }
  });
}
record('chunk-cap', 'int8', 'lz4 chunkSize 32 MiB', () => {
  const src = DeviceBuffer.fromHost(sets[sets.length - 1]!.data, 'check:cap');
  try {
    const z = nvcompCompress('lz4', src, { chunkSize: 32 << 20, tensor: 'cap' });
    z.buffer.dispose();
    assert(z.chunkSize === 1 << 24, `chunkSize ${z.chunkSize}`);
    return 'capped to 16 MiB (nvcompLZ4CompressionMaxAllowedChunkSize)';
  } finally {
    src.dispose();
  }
});
record('bad-args', '-', 'zstd', () => {
  const src = DeviceBuffer.fromHost(odd, 'check:args');
  try {
    const z = nvcompCompress('zstd', src, { tensor: 'args' });
    try {
      let code = '';
      try {
        nvcompDecompress({ ...z, rawBytes: z.rawBytes + 65536 }).buffer.dispose();
      } catch (e) {
        code = (e as CodecLLMError).code;
      }
      assert(code === 'E_ARG', `wrong chunk count gave ${code || 'no error'}`);
      code = '';
      try {
        nvcompDecompress({ ...z, chunkOffsets: Float64Array.from(z.chunkOffsets, (o, i) => (i === 1 ? o + 1e9 : o)) }).buffer.dispose();
      } catch (e) {
        code = (e as CodecLLMError).code;
      }
      assert(code === 'E_ARG', `chunk outside the buffer gave ${code || 'no error'}`);
      return 'E_ARG for wrong chunk count and out-of-range chunk';
    } finally {
      z.buffer.dispose();
    }
  } finally {
    src.dispose();
  }
});
record('mismatch-kernel', '-', '-', () => {
  const a = sets[0]!.data.subarray(0, 1_000_003);
  const b = a.slice();
  const flips = [0, 15, 16, 17, 4095, 999_999, 1_000_002];
  for (const i of flips) b[i]! ^= 1;
  const da = DeviceBuffer.fromHost(a, 'check:mm-a');
  const db = DeviceBuffer.fromHost(b, 'check:mm-b');
  try {
    const gpu = da.countMismatches(db);
    const host = a.reduce((n, x, i) => n + (x !== b[i] ? 1 : 0), 0);
    assert(gpu === host && host === flips.length, `gpu ${gpu} host ${host}`);
    const off = da.countMismatches(db, 1000, 1, 1); // unaligned pointers
    assert(off === 3, `unaligned count ${off}`);
    return `gpu ${gpu} = host ${host}`;
  } finally {
    da.dispose();
    db.dispose();
  }
});
// corruption last: a decoder fault there must not hide the results above
for (const ds of sets) {
  const src = DeviceBuffer.fromHost(ds.data, `check:${ds.name}`);
  try {
    for (const v of variants(ds.kind)) {
      const tensor = `${ds.name}`;
      record('corrupt-chunk', ds.name, v.label, () => {
        const z = nvcompCompress(v.codec, src, { ...v.opts, tensor });
        const k = Math.floor(z.chunkBytes.length / 2);
        const packed = z.buffer.download();
        const off = z.chunkOffsets[k]!;
        const len = z.chunkBytes[k]!;
        for (let i = 0; i < Math.min(len, 64); i++) packed[off + Math.floor((i * len) / 64)]! ^= 0xa5;
        const bad = DeviceBuffer.fromHost(packed, 'check:corrupt');
        try {
          let out: { buffer: DeviceBuffer } | null = null;
          try {
            out = nvcompDecompress({ ...z, buffer: bad }, { tensor: `${tensor}#corrupt` });
          } catch (e) {
            assert(e instanceof CodecLLMError && e.code === 'E_NVCOMP', `unexpected error ${String(e)}`);
            assert(e.message.includes(`chunk ${k} of ${z.chunkBytes.length}`) && e.message.includes(`${tensor}#corrupt`), `error does not name chunk ${k}: ${e.message}`);
            return `status: ${e.message}`;
          }
          const mism = out.buffer.countMismatches(src);
          out.buffer.dispose();
          assert(mism > 0, 'corruption went unnoticed: decoded bytes equal the original');
          return `no status (format has no checksum): ${mism} wrong bytes (the .cllm chunk xxhash64 catches these)`;
        } finally {
          bad.dispose();
          z.buffer.dispose();
        }
      });
      record('truncated-chunk', ds.name, v.label, () => {
        const z = nvcompCompress(v.codec, src, { ...v.opts, tensor });
        try {
          const k = z.chunkBytes.length - 1;
          const cut = Float64Array.from(z.chunkBytes);
          cut[k] = Math.max(1, cut[k]! - 9);
          let out: { buffer: DeviceBuffer } | null = null;
          try {
            out = nvcompDecompress({ ...z, chunkBytes: cut }, { tensor });
          } catch (e) {
            assert(e instanceof CodecLLMError && e.code === 'E_NVCOMP', `unexpected error ${String(e)}`);
            assert(e.message.includes(`chunk ${k} of`), `error does not name chunk ${k}: ${e.message}`);
            return `status: ${e.message}`;
          }
          const mism = out.buffer.countMismatches(src);
          out.buffer.dispose();
          assert(mism > 0, 'truncation went unnoticed');
          return `no status: ${mism} wrong bytes`;
        } finally {
          z.buffer.dispose();
        }
      });
    }
  } finally {
    src.dispose();
  }
}
record('ledger', '-', '-', () => {
  const l = vramLedger();
  assert(l.ownBytes === ledger0, `own bytes ${l.ownBytes} != ${ledger0} at start: leaked ${JSON.stringify(l.byTag)}`);
  return `no leaked buffers; scratch pool ${l.scratchBytes} B, pinned ${l.pinnedBytes} B, free ${l.freeBytes} of ${l.totalBytes}`;
});

const failed = rows.filter((r) => !r.ok);
console.log(table(['check', 'dataset', 'codec', 'result', 'detail'], rows.map((r) => [r.check, r.dataset, r.codec, r.ok ? 'PASS' : 'FAIL', r.detail.slice(0, 140)])));
console.log(`check-nvcomp: ${rows.length - failed.length} passed, ${failed.length} failed`);
if (outFile) fs.writeFileSync(outFile, JSON.stringify({ date: new Date().toISOString(), info, datasets: sets.map((d) => ({ name: d.name, kind: d.kind, bytes: d.data.length, source: d.source })), rows }, null, 2));
process.exitCode = failed.length ? 1 : 0;
