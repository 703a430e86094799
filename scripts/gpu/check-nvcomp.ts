/**
 * GPU correctness check of the nvCOMP binding (run on the GPU host, see scripts/gpu/run-on-device.sh):
 *   - all eight codecs (plus typed variants) round-trip bit-exactly on the default model's weight samples
 *     (scripts/gpu/make-samples.ts) and on synthetic bf16 / int8 data, checked on the GPU (mismatch kernel) and on the
 *     host (its twin: download and compare);
 *   - nvCOMP LZ4/Zstd/Deflate/Snappy chunks decode with the CPU libraries and CPU chunks decode with nvCOMP;
 *   - chunk CRC-32s (computed on the device) equal zlib's crc32 of the downloaded chunks (TS twin below);
 *   - a corrupted or truncated chunk is rejected by the CRC-32 check (E_NVCOMP naming codec, tensor, chunk) before it
 *     reaches a decoder; handed to the decoder unverified, ANS and LZ4 must report a status or wrong bytes (nvCOMP
 *     documents statuses for them), the other decoders are only observed (nvCOMP 5.1 documents undefined behaviour);
 *   - chunk-size capping, empty and odd-sized inputs, argument errors, no leaked device buffers;
 *   - the GPU engine's decode path (nvcompDecompressGroup: several tensors in one batched call, tables on the device;
 *     Bitcomp through a plan made once) for every codec, and the engine itself with Bitcomp/ANS-compressed linears
 *     giving the int8 engine's tokens (graph and eager);
 *   - issue reproductions: ANS compress of a TinyLlama-shaped synthetic engine's linear 96 (5632x2048 int8) at 64 KiB
 *     chunks and of all its 155 linears, with the binding's ANS headroom and (observed only) without it
 *     (CODECLLM_NVCOMP_ANS_HEADROOM=0 CODECLLM_NVCOMP_TEMP=async: the binding as it was).
 * Each part runs in its own child process (`--part NAME`): a CUDA fault (sticky for a process's context) costs that
 * part only, and is reported with the step it happened in. Rows print as they arrive; the table comes at the end.
 * Writes JSON to --out (default $OUT/check-nvcomp.json when $OUT is set), with `faulted`: parts that hit a CUDA fault
 * (run-on-device.sh reruns those under compute-sanitizer). Exit 1 on any failure.
 * Usage: node .gpubuild/check-nvcomp.mjs [--mib 8] [--samples .gpubuild/samples] [--out file.json] [--parts a,b]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuCompressChunks, cpuDecompressChunks } from '../../src/codec/cpu.js';
import { DeviceBuffer, deviceInfo, vramLedger } from '../../src/native/device.js';
import {
  NVCOMP_CODECS,
  NVCOMP_CPU_TWIN,
  nvcompCompress,
  nvcompCompressHost,
  nvcompDecompress,
  nvcompDecompressGroup,
  nvcompDecompressHost,
  nvcompInfo,
  type NvcompCodec,
  type NvcompCompressed,
  type NvcompOptions,
} from '../../src/codec/nvcomp.js';
import { CodecLLMError } from '../../src/messages.js';
import { loadNative, nativeInfo } from '../../src/native/addon.js';
import type { EngineDims } from '../../src/model/config.js';
import { datasets, parseArgs, rng, syntheticInt8, table, type Dataset } from './common.js';

const args = parseArgs(process.argv.slice(2));
const bytes = Math.round(Number(args.mib ?? 8) * 2 ** 20);
const sampleDir = args.samples ?? path.join(process.cwd(), '.gpubuild', 'samples');
const outFile = args.out ?? (process.env.OUT ? path.join(process.env.OUT, 'check-nvcomp.json') : undefined);
const tmpCodes = path.join(os.tmpdir(), 'codecllm-linear96.i8');

interface Row {
  check: string;
  dataset: string;
  codec: string;
  /** 'PASS' | 'FAIL' | 'INFO' (observed behaviour nvCOMP leaves undefined: reported, not judged) */
  result: 'PASS' | 'FAIL' | 'INFO';
  detail: string;
  part?: string;
}

// ------------------------------------------------------------------------------------------------ child side

function emit(r: Row): void {
  process.stdout.write('ROW ' + JSON.stringify(r) + '\n');
}
function step(s: string): void {
  process.stderr.write('STEP ' + s + '\n');
}
function errText(e: unknown): string {
  return e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : String(e);
}
/** A CUDA fault (illegal address …) poisons the context: every later call fails, so the part stops there. */
function isFault(e: unknown): boolean {
  return /IllegalAddress|illegal memory|LaunchFailure|unspecified launch|MisalignedAddress|IllegalInstruction|HardwareStackError/i.test(errText(e));
}
function record(check: string, dataset: string, codec: string, fn: () => string, info = false): void {
  step(`${check} ${dataset} ${codec}`);
  try {
    emit({ check, dataset, codec, result: info ? 'INFO' : 'PASS', detail: fn() });
  } catch (e) {
    emit({ check, dataset, codec, result: info ? 'INFO' : 'FAIL', detail: errText(e).slice(0, 400) });
    if (isFault(e)) {
      process.stderr.write(`FAULT ${check} ${dataset} ${codec}: ${errText(e)}\n`);
      process.exit(3);
    }
  }
}
function assert(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(what);
}
function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** CRC-32/ISO-HDLC (zlib's crc32), bitwise table: the readable twin of the device CRC-32 (nvcompBatchedCRC32Async). */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Codec variants per dataset kind: default byte-wise, plus typed / algorithm variants where the codec has them. */
function variants(kind: Dataset['kind'], codec: NvcompCodec): { codec: NvcompCodec; label: string; opts: NvcompOptions }[] {
  const v: { codec: NvcompCodec; label: string; opts: NvcompOptions }[] = [{ codec, label: codec, opts: {} }];
  if (codec === 'ans' && kind === 'bf16') v.push({ codec, label: 'ans/float16', opts: { dataType: 'float16' } });
  if (codec === 'bitcomp') v.push(kind === 'bf16' ? { codec, label: 'bitcomp/ushort', opts: { dataType: 'ushort' } } : { codec, label: 'bitcomp/char', opts: { dataType: 'char' } });
  if (codec === 'cascaded') v.push(kind === 'bf16' ? { codec, label: 'cascaded/ushort', opts: { dataType: 'ushort' } } : { codec, label: 'cascaded/char', opts: { dataType: 'char' } });
  if (codec === 'deflate') v.push({ codec, label: 'deflate/alg4', opts: { algorithm: 4 } });
  if (codec === 'gdeflate') v.push({ codec, label: 'gdeflate/alg0', opts: { algorithm: 0 } });
  return v;
}

/** Compress `src`, then flip 64 bytes of the middle chunk; returns the bad buffer and the chunk index. */
function corruptCopy(z: NvcompCompressed): { bad: DeviceBuffer; k: number } {
  const k = Math.floor(z.chunkBytes.length / 2);
  const packed = z.buffer.download();
  const off = z.chunkOffsets[k]!;
  const len = z.chunkBytes[k]!;
  for (let i = 0; i < Math.min(len, 64); i++) packed[off + Math.floor((i * len) / 64)]! ^= 0xa5;
  return { bad: DeviceBuffer.fromHost(packed, 'check:corrupt'), k };
}

function partCodec(codec: NvcompCodec): void {
  const sets = datasets(sampleDir, bytes);
  for (const ds of sets) {
    const src = DeviceBuffer.fromHost(ds.data, `check:${ds.name}`);
    try {
      for (const v of variants(ds.kind, codec)) {
        const tensor = ds.name;
        record('roundtrip', ds.name, v.label, () => {
          const z = nvcompCompress(v.codec, src, { ...v.opts, tensor });
          try {
            const out = nvcompDecompress(z);
            try {
              const gpuMism = out.buffer.countMismatches(src);
              const hostEq = equal(out.buffer.download(), ds.data);
              assert(out.verified, 'chunk CRC-32s were not verified');
              assert(gpuMism === 0 && hostEq, `mismatches gpu=${gpuMism} host-equal=${hostEq}`);
              return `ratio ${z.ratio.toFixed(3)}, ${z.chunkBytes.length} chunks of ${z.chunkSize}, crc32 verified`;
            } finally {
              out.buffer.dispose();
            }
          } finally {
            z.buffer.dispose();
          }
        });
        record('corrupt-chunk', ds.name, v.label, () => {
          const z = nvcompCompress(v.codec, src, { ...v.opts, tensor });
          const { bad, k } = corruptCopy(z);
          try {
            let out: { buffer: DeviceBuffer } | null = null;
            try {
              out = nvcompDecompress({ ...z, buffer: bad }, { tensor: `${tensor}#corrupt` });
            } catch (e) {
              assert(e instanceof CodecLLMError && e.code === 'E_NVCOMP', `unexpected error ${errText(e)}`);
              assert(e.message.includes(`chunk ${k} of ${z.chunkBytes.length}`) && e.message.includes(`${tensor}#corrupt`) && e.message.includes('crc32 mismatch'),
                `error does not name chunk ${k} / crc32: ${e.message}`);
              return e.message;
            }
            out.buffer.dispose();
            throw new Error('corruption went unnoticed');
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
            try {
              nvcompDecompress({ ...z, chunkBytes: cut }, { tensor }).buffer.dispose();
            } catch (e) {
              assert(e instanceof CodecLLMError && e.code === 'E_NVCOMP', `unexpected error ${errText(e)}`);
              assert(e.message.includes(`chunk ${k} of`), `error does not name chunk ${k}: ${e.message}`);
              return e.message;
            }
            throw new Error('truncation went unnoticed');
          } finally {
            z.buffer.dispose();
          }
        });
      }
    } finally {
      src.dispose();
    }
    // standard formats: nvCOMP <-> CPU libraries
    const cpu = NVCOMP_CPU_TWIN[codec];
    if (cpu) {
      const part = ds.data.subarray(0, Math.min(ds.data.length, 4 << 20));
      record('gpu->cpu', ds.name, `${codec}->${cpu}`, () => {
        const g = nvcompCompressHost(codec, part, { tensor: ds.name });
        assert(equal(cpuDecompressChunks(cpu, g.chunks, part.length, g.chunkSize), part), 'CPU decode differs');
        return `${g.chunks.length} chunks decoded by the CPU ${cpu} library`;
      });
      record('cpu->gpu', ds.name, `${cpu}->${codec}`, () => {
        const chunks = cpuCompressChunks(cpu, part, 65536);
        const back = nvcompDecompressHost(codec, chunks, part.length, { tensor: ds.name });
        assert(equal(back.data, part), 'nvCOMP decode differs');
        return `${chunks.length} CPU chunks decoded by nvCOMP`;
      });
    }
  }
  // edge cases
  const odd = sets[sets.length - 1]!.data.subarray(0, 65536 * 3 + 4097);
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

/** Corrupt / truncated chunks handed to the decoder WITHOUT the CRC-32 check (verify: false). */
function partRawCorrupt(codec: NvcompCodec): void {
  // nvCOMP 5.1 headers: ANS and LZ4 (CUDA backend) set statuses on corrupt input; the others are undefined behaviour
  const documented = codec === 'ans' || codec === 'lz4';
  const ds = { name: 'synthetic-int8', data: syntheticInt8(bytes, 2) };
  const src = DeviceBuffer.fromHost(ds.data, 'check:raw');
  try {
    record('raw-corrupt', ds.name, codec, () => {
      const z = nvcompCompress(codec, src, { tensor: 'raw' });
      const { bad, k } = corruptCopy(z);
      try {
        let out: { buffer: DeviceBuffer } | null = null;
        try {
          out = nvcompDecompress({ ...z, buffer: bad }, { tensor: 'raw#corrupt', verify: false });
        } catch (e) {
          assert(e instanceof CodecLLMError && e.code === 'E_NVCOMP', `unexpected error ${errText(e)}`);
          return `decoder status: ${e.message}`;
        }
        const m = out.buffer.countMismatches(src);
        out.buffer.dispose();
        assert(m > 0, `corrupt chunk ${k} decoded to the original bytes`);
        return `no status: ${m} wrong bytes`;
      } finally {
        bad.dispose();
        z.buffer.dispose();
      }
    }, !documented);
    record('raw-truncated', ds.name, codec, () => {
      const z = nvcompCompress(codec, src, { tensor: 'raw' });
      try {
        const cut = Float64Array.from(z.chunkBytes);
        cut[cut.length - 1] = Math.max(1, cut[cut.length - 1]! - 9);
        let out: { buffer: DeviceBuffer } | null = null;
        try {
          out = nvcompDecompress({ ...z, chunkBytes: cut }, { tensor: 'raw#truncated', verify: false });
        } catch (e) {
          assert(e instanceof CodecLLMError && e.code === 'E_NVCOMP', `unexpected error ${errText(e)}`);
          return `decoder status: ${e.message}`;
        }
        const m = out.buffer.countMismatches(src);
        out.buffer.dispose();
        assert(m > 0, 'truncated chunk decoded to the original bytes');
        return `no status: ${m} wrong bytes`;
      } finally {
        z.buffer.dispose();
      }
    }, true); // a cut of trailing bytes can be padding the decoder never reads (ANS did decode it exactly): observed only
  } finally {
    src.dispose();
  }
}

function partMisc(): void {
  const data = syntheticInt8(bytes, 2);
  const odd = data.subarray(0, 65536 * 3 + 4097);
  record('chunk-cap', 'int8', 'lz4 chunkSize 32 MiB', () => {
    const src = DeviceBuffer.fromHost(data, 'check:cap');
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
  record('crc32-twin', 'int8 196705 B', 'zstd, ans', () => {
    const src = DeviceBuffer.fromHost(odd, 'check:crc');
    try {
      let n = 0;
      for (const c of ['zstd', 'ans'] as const) {
        const z = nvcompCompress(c, src, { tensor: 'crc' });
        try {
          assert(z.chunkCrc32 && z.chunkCrc32.length === z.chunkBytes.length, 'no chunk CRC-32s');
          const packed = z.buffer.download();
          z.chunkOffsets.forEach((off, i) => {
            const want = crc32(packed.subarray(off, off + z.chunkBytes[i]!));
            assert(z.chunkCrc32![i] === want, `${c} chunk ${i}: device crc32 ${z.chunkCrc32![i]!.toString(16)}, TS ${want.toString(16)}`);
            n++;
          });
        } finally {
          z.buffer.dispose();
        }
      }
      return `${n} chunk CRC-32s: device = TS twin`;
    } finally {
      src.dispose();
    }
  });
  record('mismatch-kernel', '-', '-', () => {
    const a = data.subarray(0, 1_000_003);
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
}

/** The engine's decode path: a layer-like group (tensors of 331776, 110592 and 884736 bytes, each compressed by its
 *  own nvcompCompress call, several with a partial last chunk) decoded in ONE call into one buffer on stream 2. */
function partGroup(): void {
  const sizes = [331776, 110592, 884736, 110592];
  const r = rng(7);
  const tensors = sizes.map((n, t) => {
    const d = syntheticInt8(n, 10 + t);
    if (t === 3) for (let i = 0; i < n; i++) d[i] = Math.floor(r() * 256); // one incompressible tensor
    return d;
  });
  const offsets: number[] = [];
  let total = 0;
  for (const n of sizes) {
    offsets.push(total);
    total = Math.ceil((total + n) / 256) * 256;
  }
  const want = new Uint8Array(total);
  tensors.forEach((d, t) => want.set(d, offsets[t]!));
  for (const codec of NVCOMP_CODECS) {
    const paths = codec === 'bitcomp' ? [true, false] : [true];
    for (const plan of paths) {
      const label = codec === 'bitcomp' ? `bitcomp (${plan ? 'plan made once' : 'nvcompBatchedBitcompDecompressAsync per call'})` : codec;
      // the per-call nvCOMP Bitcomp API is what the engine used before (nvcompErrorInternal there): observed, not judged
      record('group-decode', `4 tensors, ${(total / 2 ** 20).toFixed(2)} MiB`, label, () => {
        const srcs = tensors.map((d, t) => DeviceBuffer.fromHost(d, `check:group${t}`));
        const zs: NvcompCompressed[] = [];
        const dst = DeviceBuffer.alloc(total, 'check:group-out');
        try {
          for (const [t, s] of srcs.entries()) zs.push(nvcompCompress(codec, s, { tensor: `group${t}`, stream: 2 }));
          const g = nvcompDecompressGroup(codec, zs.map((z, t) => ({ z, dstOffset: offsets[t]! })), dst, { chunkSize: 65536, stream: 2, tensor: 'group', bitcompPlan: plan });
          const got = dst.download();
          let bad = 0;
          tensors.forEach((d, t) => {
            if (!equal(got.subarray(offsets[t]!, offsets[t]! + d.length), d)) bad++;
          });
          assert(bad === 0, `${bad} of ${tensors.length} tensors decoded wrong`);
          return `${g.chunks} chunks in one call, path ${g.path}, temp ${g.tempBytes} B: bit-exact`;
        } finally {
          for (const z of zs) z.buffer.dispose();
          for (const s of srcs) s.dispose();
          dst.dispose();
        }
      }, codec === 'bitcomp' && !plan);
    }
  }
}

// ---- the GPU engine's functions (native/src/gpu_engine.cc), called directly (no model code in this bundle)
interface EngineFns {
  engineCreate(cfg: Record<string, unknown>): number;
  engineRandomize(id: number, seed: number, modes: Int32Array): void;
  engineLinearCodes(id: number, index: number): { id: number; bytes: number };
  engineSetCompressed(id: number, index: number, codec: string, packedId: number, offs: Float64Array, sizes: Float64Array, chunk: number): void;
  engineFinalize(id: number, schedule: string): void;
  engineForward(id: number, tokens: Int32Array, wantLogits: boolean): { next: number; ms: number };
  engineGenerate(id: number, n: number, useGraph: boolean): { tokens: Int32Array; graph: boolean; graphError?: string };
  engineDestroy(id: number): boolean;
  deviceSize(id: number): number;
  deviceFree(id: number): boolean;
}
function engineFns(): EngineFns {
  const n = loadNative() as unknown as EngineFns | null;
  assert(n && typeof n.engineCreate === 'function', 'addon has no GPU engine');
  return n;
}
/** A model shape as the engine's create call takes it (rmsEps set at the call). */
type Shape = Omit<EngineDims, 'rmsEps'>;
const TINYLLAMA: Shape = { hidden: 2048, intermediate: 5632, layers: 22, heads: 32, kvHeads: 4, headDim: 64, vocab: 32000 };
const SMALL: Shape = { hidden: 576, intermediate: 1536, layers: 3, heads: 9, kvHeads: 3, headDim: 64, vocab: 4096 };
function createEngine(e: EngineFns, s: Shape, seed: number, maxSeq = 64): number {
  const half = s.headDim / 2;
  const cos = new Float32Array(maxSeq * half);
  const sin = new Float32Array(maxSeq * half);
  for (let p = 0; p < maxSeq; p++)
    for (let i = 0; i < half; i++) {
      const f = p / Math.pow(10000, (2 * i) / s.headDim);
      cos[p * half + i] = Math.cos(f);
      sin[p * half + i] = Math.sin(f);
    }
  const id = e.engineCreate({ ...s, rmsEps: 1e-5, maxSeq, maxPrefill: 16, kvDtype: 'f16', ropeCos: cos, ropeSin: sin });
  // every linear int8 (engine modes code 1): the codes of linear i depend only on (seed, i), as in CudaEngine.synthetic
  e.engineRandomize(id, seed, new Int32Array(s.layers * 7 + 1).fill(1));
  return id;
}

/** Bug repro: ANS compress of the TinyLlama-shaped synthetic engine's linear 96 at 64 KiB chunks (the GPU engine
 *  bench hit cudaErrorIllegalAddress there, deterministically; 16 KiB worked), then every linear in engine order. */
function partEngineAns(): void {
  const e = engineFns();
  let id = 0;
  record('engine-ans-64k', 'TinyLlama-shape seed 1', 'ans linear96', () => {
    id = createEngine(e, TINYLLAMA, 1);
    const c = e.engineLinearCodes(id, 96);
    assert(c.bytes === 5632 * 2048, `linear 96 has ${c.bytes} bytes`);
    const codes = DeviceBuffer.adopt(c.id, c.bytes, 'engine-codes'); // the engine's: released, never freed here
    try {
      fs.writeFileSync(tmpCodes, codes.download());
      const z = nvcompCompress('ans', codes, { chunkSize: 65536, tensor: 'linear96' });
      try {
        const out = nvcompDecompress(z);
        const m = out.buffer.countMismatches(codes);
        out.buffer.dispose();
        assert(m === 0, `${m} mismatches`);
        return `5632x2048 int8, ${z.chunkBytes.length} chunks, ratio ${z.ratio.toFixed(4)}: round trip bit-exact (codes saved for the isolated repro)`;
      } finally {
        z.buffer.dispose();
      }
    } finally {
      codes.release();
    }
  });
  record('engine-ans-64k', 'TinyLlama-shape seed 1', 'ans, all 155 linears in order', () => {
    let chunks = 0;
    for (let i = 0; i < TINYLLAMA.layers * 7 + 1; i++) {
      const c = e.engineLinearCodes(id, i);
      const codes = DeviceBuffer.adopt(c.id, c.bytes, 'engine-codes');
      try {
        const z = nvcompCompress('ans', codes, { chunkSize: 65536, tensor: `linear${i}` });
        try {
          const out = nvcompDecompress(z);
          const m = out.buffer.countMismatches(codes);
          out.buffer.dispose();
          assert(m === 0, `linear${i}: ${m} mismatches`);
          chunks += z.chunkBytes.length;
        } finally {
          z.buffer.dispose();
        }
      } finally {
        codes.release();
      }
    }
    return `155 linears (${chunks} chunks of 64 KiB) round-trip bit-exact`;
  });
  if (id) e.engineDestroy(id);
}

/** The saved linear-96 codes alone (no engine); with CODECLLM_NVCOMP_ANS_HEADROOM=0 as the binding was before. */
function partAnsFile(): void {
  const old = process.env.CODECLLM_NVCOMP_ANS_HEADROOM === '0';
  const how = old ? 'as before (no ANS headroom)' : 'with ANS headroom';
  record('ans-linear96-isolated', 'linear96 codes', `ans 64 KiB, ${how}`, () => {
    assert(fs.existsSync(tmpCodes), 'no saved codes (the engine-ans part failed before saving them)');
    const data = new Uint8Array(fs.readFileSync(tmpCodes));
    const src = DeviceBuffer.fromHost(data, 'check:linear96');
    try {
      const z = nvcompCompress('ans', src, { chunkSize: 65536, tensor: 'linear96' });
      try {
        const out = nvcompDecompress(z);
        const m = out.buffer.countMismatches(src);
        out.buffer.dispose();
        assert(m === 0, `${m} mismatches`);
        const r = z as unknown as { tempBytes?: number; slotBytes?: number };
        return `round trip bit-exact; temp ${r.tempBytes ?? '?'} B, slot ${r.slotBytes ?? '?'} B`;
      } finally {
        z.buffer.dispose();
      }
    } finally {
      src.dispose();
    }
  }, old);
}

/** The engine with compressed linears (fused schedule: decode one layer ahead on a second stream, in the graph)
 *  must give the int8 engine's tokens; Bitcomp failed here with nvcompErrorInternal before. */
function partEngineDecode(): void {
  const e = engineFns();
  const prompt = Int32Array.from({ length: 8 }, (_, i) => 11 + 37 * i);
  const run = (codec: NvcompCodec | null, schedule: string): { first: number; graph: number[]; eager: number[]; usedGraph: boolean; graphError?: string } => {
    const id = createEngine(e, SMALL, 3);
    try {
      if (codec)
        for (let i = 0; i < SMALL.layers * 7 + 1; i++) {
          const c = e.engineLinearCodes(id, i);
          const codes = DeviceBuffer.adopt(c.id, c.bytes, 'engine-codes');
          const z = nvcompCompress(codec, codes, { chunkSize: 65536, tensor: `linear${i}` });
          codes.release();
          e.engineSetCompressed(id, i, codec, z.buffer.release(), z.chunkOffsets, z.chunkBytes, z.chunkSize); // the engine owns it now
        }
      e.engineFinalize(id, codec ? schedule : 'none');
      const first = e.engineForward(id, prompt, false).next;
      const g = e.engineGenerate(id, 6, true);
      const ea = e.engineGenerate(id, 3, false);
      return { first, graph: Array.from(g.tokens), eager: Array.from(ea.tokens), usedGraph: g.graph, ...(g.graphError ? { graphError: g.graphError } : {}) };
    } finally {
      e.engineDestroy(id);
    }
  };
  let ref: ReturnType<typeof run> | null = null;
  record('engine-decode', 'synthetic 3-layer', 'int8 (reference)', () => {
    ref = run(null, 'none');
    return `tokens ${ref.first} | ${ref.graph.join(' ')} | ${ref.eager.join(' ')} (graph ${ref.usedGraph})`;
  });
  for (const [codec, schedule] of [['bitcomp', 'fused'], ['bitcomp', 'decode-per-forward'], ['ans', 'fused']] as const)
    record('engine-decode', 'synthetic 3-layer', `${codec} ${schedule}`, () => {
      assert(ref, 'no int8 reference');
      const r = run(codec, schedule);
      const same = r.first === ref.first && r.graph.join() === ref.graph.join() && r.eager.join() === ref.eager.join();
      assert(same, `tokens ${r.first} | ${r.graph.join(' ')} | ${r.eager.join(' ')} differ from int8 ${ref.first} | ${ref.graph.join(' ')} | ${ref.eager.join(' ')}`);
      assert(r.usedGraph, `decode step not captured: ${r.graphError ?? '?'}`);
      return `int8 engine's tokens (prefill, 6 graph steps, 3 eager steps); decode captured in the graph`;
    });
}

function runPart(name: string): void {
  const ledger0 = vramLedger().ownBytes;
  if (name.startsWith('codec:')) partCodec(name.slice(6) as NvcompCodec);
  else if (name.startsWith('raw-corrupt:')) partRawCorrupt(name.slice(12) as NvcompCodec);
  else if (name === 'misc') partMisc();
  else if (name === 'group') partGroup();
  else if (name === 'engine-ans') partEngineAns();
  else if (name === 'ans-file') partAnsFile();
  else if (name === 'engine-decode') partEngineDecode();
  else throw new Error(`unknown part ${name}`);
  const l = vramLedger();
  process.stdout.write('DONE ' + JSON.stringify({ leaked: l.ownBytes - ledger0, byTag: l.byTag, scratch: l.scratchBytes }) + '\n');
}

// ------------------------------------------------------------------------------------------------ parent side

interface PartSpec {
  name: string;
  env?: Record<string, string>;
  label?: string;
}
function allParts(): PartSpec[] {
  const p: PartSpec[] = NVCOMP_CODECS.map((c) => ({ name: `codec:${c}` }));
  p.push({ name: 'misc' }, { name: 'group' }, { name: 'engine-decode' }, { name: 'engine-ans' });
  p.push({ name: 'ans-file', label: 'ans-file (ANS headroom)' });
  p.push({ name: 'ans-file', env: { CODECLLM_NVCOMP_ANS_HEADROOM: '0', CODECLLM_NVCOMP_TEMP: 'async' }, label: 'ans-file (as before)' });
  for (const c of NVCOMP_CODECS) p.push({ name: `raw-corrupt:${c}` });
  return p;
}

function parent(): void {
  const self = fileURLToPath(import.meta.url);
  const info = { build: nativeInfo(), device: deviceInfo(), nvcomp: nvcompInfo() };
  console.log(`check-nvcomp: ${info.device.name} (cc ${info.device.computeCapability}), driver ${info.device.driverVersion}, ` +
    `runtime ${info.device.runtimeVersion}, nvCOMP ${info.nvcomp.version} (cudart ${info.nvcomp.cudartVersion}), ${bytes} bytes per dataset`);
  const only = args.parts ? new Set(args.parts.split(',')) : null;
  const rows: Row[] = [];
  const faulted: { part: string; env?: Record<string, string>; step: string; error: string }[] = [];
  const leaks: string[] = [];
  const t0 = Date.now();
  for (const p of allParts()) {
    if (only && !only.has(p.name)) continue;
    const label = p.label ?? p.name;
    const c = spawnSync(process.execPath, [self, '--part', p.name, '--mib', String(bytes / 2 ** 20), '--samples', sampleDir], {
      encoding: 'utf8',
      timeout: 180_000,
      env: { ...process.env, ...(p.env ?? {}) },
      maxBuffer: 64 << 20,
    });
    const out = (c.stdout ?? '').split('\n');
    for (const l of out.filter((x) => x.startsWith('ROW '))) {
      const r = { ...(JSON.parse(l.slice(4)) as Row), part: label };
      rows.push(r);
      console.log(`  [${label}] ${r.result} ${r.check} ${r.dataset} ${r.codec}: ${r.detail.slice(0, 200)}`);
    }
    const done = out.find((x) => x.startsWith('DONE '));
    const errLines = (c.stderr ?? '').split('\n');
    const lastStep = [...errLines].reverse().find((x) => x.startsWith('STEP '))?.slice(5) ?? '(start)';
    if (done) {
      const d = JSON.parse(done.slice(5)) as { leaked: number; byTag: unknown };
      if (d.leaked !== 0) leaks.push(`${label}: ${d.leaked} B ${JSON.stringify(d.byTag)}`);
      continue;
    }
    const fault = errLines.find((x) => x.startsWith('FAULT '));
    const why = fault ?? (errLines.filter((x) => x && !x.startsWith('STEP ') && !x.startsWith('nvcomp-debug')).slice(-3).join(' | ') || `exit ${c.status}${c.signal ? ' ' + c.signal : ''}`);
    // a fault while observing undefined behaviour (unverified corrupt input to a decoder without statuses) is INFO
    const ub = p.name.startsWith('raw-corrupt:') && !['raw-corrupt:ans', 'raw-corrupt:lz4'].includes(p.name);
    const oldPath = p.env?.CODECLLM_NVCOMP_ANS_HEADROOM === '0';
    const r: Row = { check: 'part', dataset: '-', codec: label, result: ub || oldPath ? 'INFO' : 'FAIL', detail: `stopped in '${lastStep}': ${why}`.slice(0, 500), part: label };
    rows.push(r);
    console.log(`  [${label}] ${r.result} stopped in '${lastStep}': ${why.slice(0, 300)}`);
    faulted.push({ part: p.name, ...(p.env ? { env: p.env } : {}), step: lastStep, error: why.slice(0, 500) });
  }
  rows.push({
    check: 'ledger',
    dataset: '-',
    codec: '-',
    result: leaks.length ? 'FAIL' : 'PASS',
    detail: leaks.length ? `leaked: ${leaks.join('; ')}` : 'no part leaked device buffers',
  });
  const failed = rows.filter((r) => r.result === 'FAIL');
  console.log(table(['part', 'check', 'dataset', 'codec', 'result', 'detail'], rows.map((r) => [r.part ?? '', r.check, r.dataset, r.codec, r.result, r.detail.slice(0, 140)])));
  console.log(`check-nvcomp: ${rows.filter((r) => r.result === 'PASS').length} passed, ${failed.length} failed, ` +
    `${rows.filter((r) => r.result === 'INFO').length} info; ${faulted.length} part(s) stopped by a fault; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (outFile) {
    const sets = datasets(sampleDir, bytes);
    fs.writeFileSync(outFile, JSON.stringify({ date: new Date().toISOString(), info, datasets: sets.map((d) => ({ name: d.name, kind: d.kind, bytes: d.data.length, source: d.source })), rows, faulted }, null, 2));
  }
  process.exitCode = failed.length ? 1 : 0;
}

if (args.part) {
  process.on('uncaughtException', (e) => {
    process.stderr.write(`${isFault(e) ? 'FAULT' : 'ERROR'} uncaught: ${errText(e)}\n`);
    process.exit(2);
  });
  runPart(args.part);
} else {
  process.on('uncaughtException', (e) => {
    console.error(`check-nvcomp: ${errText(e)}`);
    process.exit(2);
  });
  parent();
}
