/**
 * The codecllm native addon (native/, C++ + optional CUDA/nvCOMP), loaded lazily from
 * `native/build/Release/codecllm_native.node` under the package root (or `CODECLLM_NATIVE=<path to .node>`).
 *
 * Build it with `npm run build:native` (= `bash scripts/build-native.sh`). Every function of the addon reports errors
 * as JS Errors with a `code` (E_ARG, E_CODEC, E_CUDA, E_NVCOMP, E_OOM, E_NATIVE), the C++ site (`file.cc:123`) and,
 * for nvCOMP, the codec / tensor / chunk / status; {@link wrapNativeError} turns them into {@link CodecLLMError}s with
 * the texts of src/messages.ts.
 *
 * @example
 * import { nativeInfo, requireNative } from './addon.js';
 * if (nativeInfo().built) console.log(requireNative('zstd').cpuCodecVersions());
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CodecLLMError, err, msg, type ErrorCode } from '../messages.js';

/** Build facts reported by the addon itself. */
export interface NativeBuildInfo {
  version: string;
  cuda: boolean;
  nvcomp: boolean;
  /** Linked with cuBLAS: the CUDA engine's prefill GEMM can run through it (CODECLLM_GEMM=own|cublas, native/src/gpu/prefill_gemm.h). */
  cublas?: boolean;
  napiVersion: number;
  /** CUDART_VERSION the addon was compiled against (CUDA builds only), e.g. 13000. */
  cudaRuntimeVersionBuilt?: number;
}

/** One allocation the addon made on the GPU for a caller, as listed by the VRAM ledger. */
export interface NativeLedgerEntry {
  id: number;
  tag: string;
  bytes: number;
}

/** VRAM ledger: own allocations by tag plus what cudaMemGetInfo reports. */
export interface NativeLedger {
  entries: NativeLedgerEntry[];
  /** bytes of live caller buffers (sum of entries) */
  ownBytes: number;
  /** bytes held by the addon's device scratch pool (reused across nvCOMP calls) */
  scratchBytes: number;
  /** bytes of pinned host staging held by the addon */
  pinnedBytes: number;
  /** cudaMemGetInfo */
  freeBytes: number;
  totalBytes: number;
}

export interface NativeDeviceInfo {
  device: number;
  name: string;
  computeCapability: string;
  multiprocessors: number;
  totalBytes: number;
  freeBytes: number;
  driverVersion: number;
  runtimeVersion: number;
}

/** Options of the nvCOMP batched APIs (see src/codec/nvcomp.ts). */
export interface NativeNvcompOptions {
  /** label used in error messages (tensor name) */
  tensor?: string;
  /** uncompressed chunk size in bytes (default 65536, capped by the codec's maximum) */
  chunkSize?: number;
  /** nvcompType_t name: 'char' | 'uchar' | 'short' | 'ushort' | 'int' | 'uint' | 'longlong' | 'ulonglong' | 'float8e4m3' | 'float16' | 'float32' | 'float64' */
  dataType?: string;
  /** Bitcomp algorithm (0 default, 1 sparse), (G)Deflate algorithm (0..5, default 1), Cascaded level (0..7, default 3) */
  algorithm?: number;
  /** repeat the timed launch this many times (benchmarks); results are checked after the last one */
  iterations?: number;
  /** index into the addon's stream pool (0..3, default 0) */
  stream?: number;
}

export interface NativeNvcompCompressResult {
  /** device buffer id holding the packed chunks (chunk i at chunkOffsets[i], 16-byte aligned) */
  id: number;
  /** sum of chunkBytes */
  compressedBytes: number;
  /** size of the packed buffer (compressedBytes plus alignment padding) */
  packedBytes: number;
  chunkSize: number;
  /** compressed size of each chunk */
  chunkBytes: Float64Array;
  /** byte offset of each chunk inside the packed buffer */
  chunkOffsets: Float64Array;
  /** mean GPU time of one batched compress launch, ms (CUDA events) */
  ms: number;
}

export interface NativeNvcompDecompressResult {
  /** mean GPU time of one batched decompress launch, ms (CUDA events) */
  ms: number;
}

/** One row of the native format table (blockFormats()). */
export interface NativeBlockFormat {
  id: number;
  name: string;
  kind: 'element' | 'block' | 'layout';
  blockElems: number;
  blockBytes: number;
}

/** The functions of the addon. CUDA/nvCOMP functions exist only when buildInfo().cuda / .nvcomp. */
export interface NativeAddon {
  buildInfo(): NativeBuildInfo;
  /** throws a native error of the given code (tests of the error path) */
  testThrow(code: string): never;
  cpuCompress(codec: string, data: ArrayBufferView, level?: number): Uint8Array;
  cpuDecompress(codec: string, data: ArrayBufferView, rawSize: number): Uint8Array;
  xxhash64(data: ArrayBufferView, seed?: bigint): bigint;
  cpuCodecVersions(): { zstd: string; lz4: string; zlib: string; xxhash: string };
  /** The native format table (common/weight_types.h) in id order; equals DTYPES + ENGINE_LAYOUTS (dtypes.ts). */
  blockFormats(): NativeBlockFormat[];
  /** GGML blocks of a block type (id or name) -> float32 through the native dequant_block (common/blocks.h). */
  dequantBlocks(type: number | string, blocks: Uint8Array): Float32Array;
  // ---- lossless bf16/fp16 weight streams (common/lossless.h; src/codec/lossless.ts)
  losslessLayout?(): Record<string, number>;
  losslessEncode?(dtype: number, rows: number, cols: number, words: ArrayBufferView, rowsPerSeg?: number): Uint8Array;
  losslessDecode?(stream: ArrayBufferView, label?: string): Uint8Array;
  losslessInfo?(stream: ArrayBufferView, label?: string): unknown;
  /** CUDA builds: device decode (bit-exact) + in-register GEMV vs the twin; timing with iterations > 0 */
  // ---- CUDA (buildInfo().cuda)
  deviceCount?(): number;
  deviceInfo?(): NativeDeviceInfo;
  deviceAlloc?(bytes: number, tag: string): number;
  deviceFree?(id: number): boolean;
  deviceSize?(id: number): number;
  deviceUpload?(id: number, offset: number, data: ArrayBufferView): void;
  deviceDownload?(id: number, offset: number, length: number): Uint8Array;
  deviceCopy?(dstId: number, dstOffset: number, srcId: number, srcOffset: number, length: number): void;
  deviceMemset?(id: number, value: number): void;
  deviceCountMismatches?(aId: number, aOffset: number, bId: number, bOffset: number, length: number): number;
  deviceLedger?(): NativeLedger;
  deviceSynchronize?(): void;
  deviceTrimScratch?(): number;
  deviceCopyBandwidth?(bytes: number, iterations: number): { bytes: number; iterations: number; ms: number };
  eventCreate?(): number;
  eventRecord?(id: number, stream?: number): void;
  eventElapsedMs?(startId: number, endId: number): number;
  eventDestroy?(id: number): boolean;
  // ---- nvCOMP (buildInfo().nvcomp)
  nvcompInfo?(): { version: number; cudartVersion: number; headerVersion: string };
  nvcompCodecs?(): { name: string; maxChunkBytes: number; dataTypeBytes: number }[];
  nvcompCompress?(codec: string, srcId: number, srcOffset: number, bytes: number, tag: string, opts: NativeNvcompOptions): NativeNvcompCompressResult;
  nvcompDecompress?(
    codec: string,
    srcId: number,
    chunkOffsets: Float64Array,
    chunkBytes: Float64Array,
    dstId: number,
    dstOffset: number,
    rawBytes: number,
    opts: NativeNvcompOptions,
  ): NativeNvcompDecompressResult;
}

/** What {@link nativeInfo} reports. */
export interface NativeInfo {
  /** the addon was found and loaded */
  built: boolean;
  cuda: boolean;
  nvcomp: boolean;
  /** addon version, '' when not built */
  version: string;
  /** path of the .node file that was (or would be) loaded */
  path: string;
  /** why loading failed, when it did and the file exists */
  loadError?: string;
}

let root: string | null = null;

/** The package root: the nearest folder above this module whose package.json is codecllm's (src/, dist/src/, bundles). */
function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    try {
      if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'codecllm') return (root = dir);
    } catch {
      /* no or unreadable package.json: keep walking */
    }
    const up = path.dirname(dir);
    if (up === dir) return (root = process.cwd());
    dir = up;
  }
}

let cached: { addon: NativeAddon | null; path: string; loadError?: string } | null = null;

/** Path of the addon: CODECLLM_NATIVE, else <package root>/native/build/Release/codecllm_native.node. */
export function nativePath(): string {
  return process.env.CODECLLM_NATIVE ?? path.join(packageRoot(), 'native', 'build', 'Release', 'codecllm_native.node');
}

/**
 * Loads the addon once and caches it; null when it is not built (or fails to load: see {@link nativeInfo}).
 * @example
 * const addon = loadNative(); if (addon) addon.xxhash64(new Uint8Array([97]));
 */
export function loadNative(): NativeAddon | null {
  if (cached) return cached.addon;
  const p = nativePath();
  if (!fs.existsSync(p)) {
    cached = { addon: null, path: p };
    return null;
  }
  try {
    const req = createRequire(import.meta.url);
    cached = { addon: req(p) as NativeAddon, path: p };
  } catch (e) {
    cached = { addon: null, path: p, loadError: e instanceof Error ? e.message : String(e) };
  }
  return cached.addon;
}

/**
 * The addon, or a CodecLLMError E_NATIVE (msg.nativeMissing) naming what needed it.
 * @example
 * const n = requireNative('zstd compression');
 */
export function requireNative(what: string): NativeAddon {
  const a = loadNative();
  if (!a) {
    const detail = cached?.loadError ? ` [${cached.loadError}]` : '';
    throw err('E_NATIVE', msg.nativeMissing(what) + detail);
  }
  return a;
}

/**
 * The addon with CUDA compiled in, or E_CUDA (msg.cudaUnavailable).
 * @example
 * const n = requireCuda('device buffers'); n.deviceCount!();
 */
export function requireCuda(what: string): Required<NativeAddon> {
  const a = requireNative(what);
  if (!a.buildInfo().cuda || !a.deviceAlloc) throw err('E_CUDA', msg.cudaUnavailable(what));
  return a as Required<NativeAddon>;
}

/**
 * Is the addon built, with CUDA, with nvCOMP?
 * @example
 * nativeInfo() // { built: true, cuda: false, nvcomp: false, version: '0.1.0', path: '…/codecllm_native.node' }
 */
export function nativeInfo(): NativeInfo {
  const a = loadNative();
  const p = cached?.path ?? nativePath();
  if (!a) return { built: false, cuda: false, nvcomp: false, version: '', path: p, ...(cached?.loadError ? { loadError: cached.loadError } : {}) };
  const b = a.buildInfo();
  return { built: true, cuda: b.cuda, nvcomp: b.nvcomp, version: b.version, path: p };
}

const NATIVE_CODES: ReadonlySet<string> = new Set(['E_ARG', 'E_CODEC', 'E_CUDA', 'E_NVCOMP', 'E_OOM', 'E_NATIVE']);

/** Fields a native error may carry (set by native/src/check.h). */
export interface NativeErrorFields {
  code: string;
  site?: string;
  status?: string;
  codec?: string;
  tensor?: string;
  op?: string;
  chunk?: string;
  chunks?: string;
  got?: string;
  expected?: string;
}

/** True for an Error thrown by the addon (it carries `native: true` and a code). */
export function isNativeError(e: unknown): e is Error & NativeErrorFields {
  return e instanceof Error && (e as { native?: unknown }).native === true && typeof (e as { code?: unknown }).code === 'string';
}

/**
 * Rewrites an addon error into a CodecLLMError whose text comes from src/messages.ts; other errors pass through.
 * `context.codec` names the CPU codec for E_CODEC errors.
 * @example
 * try { addon.cpuDecompress('zstd', bad, 10); } catch (e) { throw wrapNativeError(e, { codec: 'zstd', op: 'decompress' }); }
 */
export function wrapNativeError(e: unknown, context: { codec?: string; op?: 'compress' | 'decompress' } = {}): unknown {
  if (!isNativeError(e) || e instanceof CodecLLMError) return e;
  const site = e.site ?? '?';
  const code = (NATIVE_CODES.has(e.code) ? e.code : 'E_NATIVE') as ErrorCode;
  let text: string;
  switch (code) {
    case 'E_ARG':
      text = msg.nativeArg(e.message);
      break;
    case 'E_CODEC':
      text = msg.codecFailed(e.codec ?? context.codec ?? '?', context.op ?? (e.op === 'compress' ? 'compress' : 'decompress'), e.message);
      break;
    case 'E_CUDA':
      text = e.codec !== undefined ? msg.nvcompFailed(e.codec, e.tensor ?? '?', e.message, site) : msg.cudaFailed(e.message, site);
      break;
    case 'E_OOM':
      text = msg.deviceOom(e.message, site);
      break;
    case 'E_NVCOMP':
      if (e.chunk !== undefined && e.got !== undefined)
        text = msg.nvcompChunkSize(e.codec ?? '?', e.tensor ?? '?', e.chunk, e.chunks ?? '?', e.got, e.expected ?? '?');
      else if (e.chunk !== undefined)
        text = msg.nvcompChunkFailed(e.codec ?? '?', e.op ?? '?', e.tensor ?? '?', e.chunk, e.chunks ?? '?', e.status ?? '?');
      else text = msg.nvcompFailed(e.codec ?? '?', e.tensor ?? '?', e.message, site);
      break;
    default:
      text = msg.nativeFailed(e.message, site);
  }
  return err(code, text, e);
}

/**
 * Calls `fn`, rethrowing addon errors as CodecLLMErrors (see {@link wrapNativeError}).
 * @example
 * const out = callNative(() => addon.cpuCompress('zstd', data), { codec: 'zstd', op: 'compress' });
 */
export function callNative<T>(fn: () => T, context: { codec?: string; op?: 'compress' | 'decompress' } = {}): T {
  try {
    return fn();
  } catch (e) {
    throw wrapNativeError(e, context);
  }
}
