/**
 * CPU codecs through the native addon (libzstd, liblz4, zlib, snappy; libxxhash for checksums). No GPU needed; CI
 * and GPU-less machines use these. Chunk formats match nvCOMP's standard-format codecs, so a chunk compressed by one
 * decodes with the other: 'zstd' = one zstd frame (nvCOMP Zstd), 'lz4' = one raw LZ4 block (nvCOMP LZ4), 'deflate' =
 * raw deflate, RFC 1951 (nvCOMP Deflate), 'snappy' = raw snappy (nvCOMP Snappy). 'lz4frame' is the LZ4 frame format
 * (with content checksum) for files; 'none' stores the bytes.
 *
 * Decompression is strict: the output must be exactly `rawSize` bytes and the whole input must be consumed; anything
 * else, including corrupt or truncated input, is a CodecLLMError E_CODEC (never a crash).
 *
 * @example
 * import { cpuCompress, cpuDecompress, xxhash64 } from './codec/cpu.js';
 * const z = cpuCompress('zstd', bytes, { level: 3 });
 * const back = cpuDecompress('zstd', z, bytes.length);   // bit-exact
 * const h = xxhash64(bytes);                               // bigint
 */
import { err, msg } from '../messages.js';
import { callNative, requireNative } from '../native/addon.js';

/** CPU codec names (append-only). */
export type CpuCodec = 'none' | 'zstd' | 'lz4' | 'deflate' | 'snappy' | 'lz4frame';

export const CPU_CODECS: readonly CpuCodec[] = ['none', 'zstd', 'lz4', 'deflate', 'snappy', 'lz4frame'];

/** Level ranges and defaults per codec (zstd: negative = fast modes; lz4: 0 = fast, 1..12 = HC; deflate: zlib 0..9). */
export const CPU_CODEC_LEVELS: Readonly<Record<CpuCodec, { min: number; max: number; default: number } | null>> = {
  none: null,
  zstd: { min: -7, max: 22, default: 3 },
  lz4: { min: 0, max: 12, default: 0 },
  lz4frame: { min: 0, max: 12, default: 0 },
  deflate: { min: 0, max: 9, default: 6 },
  snappy: null,
};

export interface CpuCompressOptions {
  /** compression level; see {@link CPU_CODEC_LEVELS} */
  level?: number;
}

/** Throws E_ARG (msg.unknownCodec) unless `codec` is a CPU codec name. */
export function assertCpuCodec(codec: string): asserts codec is CpuCodec {
  if (!(CPU_CODECS as readonly string[]).includes(codec)) throw err('E_ARG', msg.unknownCodec(codec, CPU_CODECS));
}

/**
 * Compresses `data` with a CPU codec.
 * @example
 * const z = cpuCompress('lz4', new Uint8Array(1024));
 */
export function cpuCompress(codec: CpuCodec, data: ArrayBufferView, opts: CpuCompressOptions = {}): Uint8Array {
  assertCpuCodec(codec);
  const lv = CPU_CODEC_LEVELS[codec];
  if (opts.level !== undefined && lv && (!Number.isInteger(opts.level) || opts.level < lv.min || opts.level > lv.max))
    throw err('E_ARG', msg.badArg(`${codec} level`, `${opts.level} is not an integer in [${lv.min}, ${lv.max}]`));
  const n = requireNative(`${codec} compression`);
  return callNative(() => n.cpuCompress(codec, data, opts.level), { codec, op: 'compress' });
}

/**
 * Decompresses `data` that must expand to exactly `rawSize` bytes.
 * @example
 * const raw = cpuDecompress('zstd', z, 1024);
 */
export function cpuDecompress(codec: CpuCodec, data: ArrayBufferView, rawSize: number): Uint8Array {
  assertCpuCodec(codec);
  if (!Number.isSafeInteger(rawSize) || rawSize < 0) throw err('E_ARG', msg.badArg('rawSize', `${rawSize} is not a non-negative integer`));
  const n = requireNative(`${codec} decompression`);
  return callNative(() => n.cpuDecompress(codec, data, rawSize), { codec, op: 'decompress' });
}

/**
 * XXH64 of `data` (libxxhash) with an optional 64-bit seed.
 * @example
 * xxhash64(new TextEncoder().encode('a')) // 0xd24ec4f1a98c6e5bn
 */
export function xxhash64(data: ArrayBufferView, seed: bigint = 0n): bigint {
  if (seed < 0n || seed >= 1n << 64n) throw err('E_ARG', msg.badArg('seed', 'must be an unsigned 64-bit integer'));
  const n = requireNative('xxhash64');
  return callNative(() => n.xxhash64(data, seed));
}

/**
 * Versions of the linked codec libraries.
 * @example
 * cpuCodecVersions() // { zstd: '1.5.4', lz4: '1.9.4', zlib: '1.2.13', xxhash: '0.8.1' }
 */
export function cpuCodecVersions(): { zstd: string; lz4: string; zlib: string; xxhash: string } {
  return requireNative('codec versions').cpuCodecVersions();
}

/**
 * Chunk i of a `rawSize`-byte tensor cut into `chunkSize` pieces covers [i*chunkSize, min((i+1)*chunkSize, rawSize)) —
 * the same chunking as src/codec/nvcomp.ts, so chunk streams interoperate with nvCOMP's LZ4/Zstd/Deflate/Snappy.
 */
export function chunkCount(rawSize: number, chunkSize: number): number {
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw err('E_ARG', msg.badArg('chunkSize', `${chunkSize} is not a positive integer`));
  return Math.ceil(rawSize / chunkSize);
}

/**
 * Compresses `data` chunk by chunk (default 64 KiB chunks).
 * @example
 * const chunks = cpuCompressChunks('zstd', bytes, 65536);
 */
export function cpuCompressChunks(codec: CpuCodec, data: Uint8Array, chunkSize = 65536, opts: CpuCompressOptions = {}): Uint8Array[] {
  const n = chunkCount(data.length, chunkSize);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push(cpuCompress(codec, data.subarray(i * chunkSize, Math.min((i + 1) * chunkSize, data.length)), opts));
  return out;
}

/**
 * Inverse of {@link cpuCompressChunks}: the chunk count must match `rawSize` / `chunkSize` and every chunk must
 * expand to exactly its size (else E_CODEC naming the chunk).
 * @example
 * const raw = cpuDecompressChunks('zstd', chunks, bytes.length, 65536);
 */
export function cpuDecompressChunks(codec: CpuCodec, chunks: readonly Uint8Array[], rawSize: number, chunkSize = 65536): Uint8Array {
  const n = chunkCount(rawSize, chunkSize);
  if (chunks.length !== n) throw err('E_CODEC', msg.codecFailed(codec, 'decompress', `${chunks.length} chunks for ${rawSize} bytes, expected ${n}`));
  const out = new Uint8Array(rawSize);
  for (let i = 0; i < n; i++) {
    const size = Math.min(chunkSize, rawSize - i * chunkSize);
    let part: Uint8Array;
    try {
      part = cpuDecompress(codec, chunks[i]!, size);
    } catch (e) {
      throw err('E_CODEC', msg.codecFailed(codec, 'decompress', `chunk ${i} of ${n}: ${(e as Error).message}`), e);
    }
    out.set(part, i * chunkSize);
  }
  return out;
}
