/**
 * nvCOMP on the GPU (native addon built with CUDA + nvCOMP 6): the batched APIs of ANS, Bitcomp, Cascaded, Deflate,
 * GDeflate, LZ4, Snappy and Zstd over {@link DeviceBuffer}s.
 *
 * A tensor is cut into chunks (default 64 KiB, capped by the codec's maximum; chunk i covers
 * [i*chunkSize, min((i+1)*chunkSize, rawBytes))). Every launch status and every per-chunk status is checked and each
 * chunk's decompressed size is compared with the expected one; a failure is a CodecLLMError E_NVCOMP naming codec,
 * tensor, chunk and status (msg.nvcompChunkFailed / msg.nvcompChunkSize). Compression also returns each packed chunk's
 * CRC-32 (zlib's crc32, computed on the device); decompression verifies them on the device BEFORE any chunk reaches
 * the decoder, because nvCOMP 5.1 documents corrupt input as undefined behaviour (possibly an illegal memory access
 * that kills the process's CUDA context) for every decoder but ANS and LZ4. LZ4, Zstd, Deflate and Snappy chunks are
 * the standard formats of the CPU codecs with the same names (src/codec/cpu.ts): raw LZ4 block, zstd frame, raw
 * deflate (RFC 1951), raw snappy. GDeflate, ANS, Bitcomp and Cascaded are nvCOMP's own formats.
 *
 * @example
 * import { DeviceBuffer } from '../native/device.js';
 * import { nvcompCompress, nvcompDecompress } from './nvcomp.js';
 * const src = DeviceBuffer.fromHost(bytes, 'w');
 * const z = nvcompCompress('zstd', src, { tensor: 'blk.0.attn_q.weight' });
 * const back = nvcompDecompress(z);            // { buffer, ms }
 * console.log(z.ratio, back.buffer.countMismatches(src));  // ratio, 0
 * z.buffer.dispose(); back.buffer.dispose(); src.dispose();
 */
import { err, msg } from '../messages.js';
import {
  callNative,
  loadNative,
  requireNative,
  type NativeAddon,
  type NativeNvcompCompressResult,
  type NativeNvcompDecompressResult,
  type NativeNvcompOptions,
} from '../native/addon.js';
import type { CpuCodec } from './cpu.js';
import { DeviceBuffer, requireDevice } from '../native/device.js';

/** nvCOMP codec names (append-only). */
export type NvcompCodec = 'ans' | 'bitcomp' | 'cascaded' | 'deflate' | 'gdeflate' | 'lz4' | 'snappy' | 'zstd';
export const NVCOMP_CODECS: readonly NvcompCodec[] = ['ans', 'bitcomp', 'cascaded', 'deflate', 'gdeflate', 'lz4', 'snappy', 'zstd'];

/** nvCOMP codecs whose chunks are a standard format that a CPU codec of src/codec/cpu.ts reads and writes. */
export const NVCOMP_CPU_TWIN: Readonly<Partial<Record<NvcompCodec, CpuCodec>>> = { lz4: 'lz4', zstd: 'zstd', deflate: 'deflate', snappy: 'snappy' };

export const DEFAULT_CHUNK_SIZE = 65536;
/** Chunks are packed at this alignment (covers every codec's decompression input alignment). */
export const PACK_ALIGN = 16;

export type NvcompOptions = NativeNvcompOptions;

/** Compressed chunks of one tensor on the GPU. */
export interface NvcompCompressed {
  codec: NvcompCodec;
  /** packed chunks; owned by the caller (dispose it) */
  buffer: DeviceBuffer;
  rawBytes: number;
  chunkSize: number;
  chunkBytes: Float64Array;
  chunkOffsets: Float64Array;
  compressedBytes: number;
  /** rawBytes / compressedBytes */
  ratio: number;
  /** mean GPU ms of one batched compress launch */
  ms: number;
  /** options used (needed again to decompress: dataType for some codecs, chunkSize) */
  options: NvcompOptions;
  /** CRC-32 of each packed chunk (zlib crc32); nvcompDecompress verifies them before decoding */
  chunkCrc32?: Uint32Array;
}

/** The addon's nvCOMP functions as this module calls them (newer than src/native/addon.ts's declarations). */
interface NvcompAddon {
  nvcompCompress(codec: string, srcId: number, srcOffset: number, bytes: number, tag: string, opts: NativeNvcompOptions):
    NativeNvcompCompressResult & { chunkCrc32?: Uint32Array; tempBytes?: number; slotBytes?: number };
  nvcompDecompress(codec: string, srcId: number, chunkOffsets: Float64Array, chunkBytes: Float64Array, dstId: number, dstOffset: number,
    rawBytes: number, opts: NativeNvcompOptions, chunkCrc32?: Uint32Array): NativeNvcompDecompressResult & { verified?: boolean };
  nvcompDecompressGroup?(codec: string, parts: { id: number; chunkOffsets: Float64Array; chunkBytes: Float64Array; rawBytes: number; dstOffset: number }[],
    dstId: number, opts: NativeNvcompOptions & { bitcompPlan?: boolean }): { chunks: number; ms: number; path: string; tempBytes: number };
}

function assertCodec(codec: string): asserts codec is NvcompCodec {
  if (!(NVCOMP_CODECS as readonly string[]).includes(codec)) throw err('E_ARG', msg.unknownCodec(codec, NVCOMP_CODECS));
}

type NvcompNative = Omit<Required<NativeAddon>, 'nvcompCompress' | 'nvcompDecompress'> & NvcompAddon;

function requireNvcomp(what: string): NvcompNative {
  const n = requireDevice(what);
  if (!n.buildInfo().nvcomp) throw err('E_NVCOMP', msg.nvcompMissing(what));
  return n as unknown as NvcompNative;
}

/**
 * True when the addon has nvCOMP and a GPU is visible.
 * @example
 * if (nvcompAvailable()) runGpuBench();
 */
export function nvcompAvailable(): boolean {
  const n = loadNative();
  if (!n?.buildInfo().nvcomp || !n.deviceCount) return false;
  try {
    return n.deviceCount() > 0;
  } catch {
    return false;
  }
}

/**
 * nvCOMP library version (nvcompGetProperties) and the CUDA runtime it was built with; works without a GPU.
 * @example
 * nvcompInfo() // { version: 6000, cudartVersion: 13000, headerVersion: '6.0.0' }
 */
export function nvcompInfo(): { version: number; cudartVersion: number; headerVersion: string } {
  const n = requireNative('nvcompInfo');
  if (!n.nvcompInfo) throw err('E_NVCOMP', msg.nvcompMissing('nvcompInfo'));
  return callNative(() => n.nvcompInfo!());
}

/**
 * Compresses `bytes` bytes of `src` from `offset` (default: the whole buffer).
 * @example
 * const z = nvcompCompress('lz4', src, { tensor: 'w', chunkSize: 65536 });
 */
export function nvcompCompress(
  codec: NvcompCodec,
  src: DeviceBuffer,
  opts: NvcompOptions & { offset?: number; bytes?: number; tag?: string } = {},
): NvcompCompressed {
  assertCodec(codec);
  const n = requireNvcomp(`nvCOMP ${codec}`);
  const offset = opts.offset ?? 0;
  const bytes = opts.bytes ?? src.bytes - offset;
  if (src.disposed) throw err('E_ARG', msg.bufferDisposed(src.tag));
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(bytes) || offset < 0 || bytes < 0 || offset + bytes > src.bytes)
    throw err('E_ARG', msg.bufferRange(src.tag, offset, bytes, src.bytes));
  const { offset: _o, bytes: _b, tag: _t, ...native } = opts;
  const tag = opts.tag ?? `nvcomp:${codec}:${opts.tensor ?? src.tag}`;
  const r = callNative(() => n.nvcompCompress(codec, src.id, offset, bytes, tag, native));
  return {
    codec,
    buffer: DeviceBuffer.adopt(r.id, r.packedBytes, tag),
    rawBytes: bytes,
    chunkSize: r.chunkSize,
    chunkBytes: r.chunkBytes,
    chunkOffsets: r.chunkOffsets,
    compressedBytes: r.compressedBytes,
    ratio: r.compressedBytes > 0 ? bytes / r.compressedBytes : 1,
    ms: r.ms,
    options: { ...native, chunkSize: r.chunkSize },
    ...(r.chunkCrc32 ? { chunkCrc32: r.chunkCrc32 } : {}),
  };
}

/**
 * Decompresses into `dst` (allocated when not given) at `dstOffset`; checks every chunk's status and size. When
 * `c.chunkCrc32` is there (nvcompCompress sets it) each chunk's CRC-32 is checked on the device first and a
 * mismatch is E_NVCOMP naming the chunk, without running the decoder; `verify: false` skips that (benchmarks of
 * the decoder alone, or tests of how a decoder meets corrupt input).
 * @example
 * const { buffer, ms } = nvcompDecompress(z);
 */
export function nvcompDecompress(
  c: Pick<NvcompCompressed, 'codec' | 'buffer' | 'rawBytes' | 'chunkSize' | 'chunkBytes' | 'chunkOffsets'> & {
    options?: NvcompOptions;
    chunkCrc32?: Uint32Array;
  },
  o: { dst?: DeviceBuffer; dstOffset?: number; tensor?: string; iterations?: number; stream?: number; tag?: string; verify?: boolean } = {},
): { buffer: DeviceBuffer; ms: number; verified: boolean } {
  assertCodec(c.codec);
  const n = requireNvcomp(`nvCOMP ${c.codec}`);
  if (c.buffer.disposed) throw err('E_ARG', msg.bufferDisposed(c.buffer.tag));
  const dst = o.dst ?? DeviceBuffer.alloc(c.rawBytes, o.tag ?? `nvcomp-out:${c.codec}:${o.tensor ?? c.options?.tensor ?? c.buffer.tag}`);
  try {
    if (dst.disposed) throw err('E_ARG', msg.bufferDisposed(dst.tag));
    const opts: NvcompOptions = { ...(c.options ?? {}), chunkSize: c.chunkSize };
    if (o.tensor !== undefined) opts.tensor = o.tensor;
    if (o.iterations !== undefined) opts.iterations = o.iterations;
    if (o.stream !== undefined) opts.stream = o.stream;
    const crc = o.verify === false ? undefined : c.chunkCrc32;
    const r = callNative(() =>
      n.nvcompDecompress(c.codec, c.buffer.id, c.chunkOffsets, c.chunkBytes, dst.id, o.dstOffset ?? 0, c.rawBytes, opts, crc),
    );
    return { buffer: dst, ms: r.ms, verified: r.verified === true };
  } catch (e) {
    if (!o.dst) dst.dispose();
    throw e;
  }
}

/**
 * Packs host chunks into one buffer at {@link PACK_ALIGN}-byte aligned offsets (the layout nvcompDecompress reads).
 * @example
 * const { packed, offsets, sizes } = packChunks(cpuCompressChunks('zstd', bytes));
 */
export function packChunks(chunks: readonly Uint8Array[]): { packed: Uint8Array; offsets: Float64Array; sizes: Float64Array } {
  const offsets = new Float64Array(chunks.length);
  const sizes = new Float64Array(chunks.length);
  let off = 0;
  chunks.forEach((c, i) => {
    offsets[i] = off;
    sizes[i] = c.length;
    off = Math.ceil((off + c.length) / PACK_ALIGN) * PACK_ALIGN;
  });
  const total = chunks.length ? offsets[chunks.length - 1]! + sizes[chunks.length - 1]! : 0;
  const packed = new Uint8Array(total);
  chunks.forEach((c, i) => packed.set(c, offsets[i]!));
  return { packed, offsets, sizes };
}

/**
 * Host in, host chunks out: uploads `data`, compresses on the GPU, downloads each compressed chunk.
 * @example
 * const { chunks } = nvcompCompressHost('zstd', bytes); // chunks decode with cpuDecompressChunks('zstd', …)
 */
export function nvcompCompressHost(
  codec: NvcompCodec,
  data: Uint8Array,
  opts: NvcompOptions = {},
): { chunks: Uint8Array[]; chunkSize: number; compressedBytes: number; ms: number } {
  const src = DeviceBuffer.fromHost(data, `nvcomp-host-in:${opts.tensor ?? codec}`);
  try {
    const z = nvcompCompress(codec, src, opts);
    try {
      const packed = z.buffer.download();
      const chunks = Array.from(z.chunkOffsets, (off, i) => packed.slice(off, off + z.chunkBytes[i]!));
      return { chunks, chunkSize: z.chunkSize, compressedBytes: z.compressedBytes, ms: z.ms };
    } finally {
      z.buffer.dispose();
    }
  } finally {
    src.dispose();
  }
}

/**
 * Host chunks in, host bytes out: packs and uploads the chunks, decompresses on the GPU, downloads.
 * @example
 * const raw = nvcompDecompressHost('lz4', cpuCompressChunks('lz4', bytes), bytes.length).data;
 */
export function nvcompDecompressHost(
  codec: NvcompCodec,
  chunks: readonly Uint8Array[],
  rawBytes: number,
  opts: NvcompOptions = {},
): { data: Uint8Array; ms: number } {
  const { packed, offsets, sizes } = packChunks(chunks);
  const buf = DeviceBuffer.fromHost(packed, `nvcomp-host-chunks:${opts.tensor ?? codec}`);
  try {
    const out = nvcompDecompress(
      { codec, buffer: buf, rawBytes, chunkSize: opts.chunkSize ?? DEFAULT_CHUNK_SIZE, chunkBytes: sizes, chunkOffsets: offsets, options: opts },
      opts.tensor !== undefined ? { tensor: opts.tensor } : {},
    );
    try {
      return { data: out.buffer.download(), ms: out.ms };
    } finally {
      out.buffer.dispose();
    }
  } finally {
    buf.dispose();
  }
}

/** One tensor of a group decode: packed chunks as nvcompCompress made them, decoded to `dstOffset` of the group's buffer. */
export interface NvcompGroupPart {
  z: Pick<NvcompCompressed, 'buffer' | 'rawBytes' | 'chunkBytes' | 'chunkOffsets'>;
  dstOffset: number;
}

/**
 * Decodes several tensors' chunks in ONE batched nvCOMP call into `dst`, through the GPU engine's decode path
 * (native cuda::NvGroupDecoder: chunk tables on the device, Bitcomp through a plan made once from the compressed
 * headers unless `bitcompPlan: false`), and checks every chunk's status and size. For tests and diagnosis.
 * @example
 * const r = nvcompDecompressGroup('ans', [{ z: a, dstOffset: 0 }, { z: b, dstOffset: 65536 }], out, { chunkSize: 65536 });
 */
export function nvcompDecompressGroup(
  codec: NvcompCodec,
  parts: readonly NvcompGroupPart[],
  dst: DeviceBuffer,
  opts: NvcompOptions & { bitcompPlan?: boolean } = {},
): { chunks: number; ms: number; path: string; tempBytes: number } {
  assertCodec(codec);
  const n = requireNvcomp(`nvCOMP ${codec}`);
  if (!n.nvcompDecompressGroup) throw err('E_NVCOMP', msg.nvcompMissing('nvcompDecompressGroup (rebuild the addon)'));
  for (const p of parts) if (p.z.buffer.disposed) throw err('E_ARG', msg.bufferDisposed(p.z.buffer.tag));
  if (dst.disposed) throw err('E_ARG', msg.bufferDisposed(dst.tag));
  const native = parts.map((p) => ({ id: p.z.buffer.id, chunkOffsets: p.z.chunkOffsets, chunkBytes: p.z.chunkBytes, rawBytes: p.z.rawBytes, dstOffset: p.dstOffset }));
  return callNative(() => n.nvcompDecompressGroup!(codec, native, dst.id, opts));
}
