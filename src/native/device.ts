/**
 * GPU memory from TypeScript (native addon, CUDA builds): device buffers with an explicit lifetime, host<->device
 * copies, CUDA-event timing, a VRAM ledger and a device-to-device copy bandwidth measurement.
 *
 * Lifetime: every {@link DeviceBuffer} must be `dispose()`d; a FinalizationRegistry frees buffers that were garbage
 * collected without it (a safety net, counted by {@link leakedBuffers}, not a plan). The ledger lists every live
 * buffer by tag, the addon's scratch/pinned pools (reused across nvCOMP calls) and cudaMemGetInfo.
 *
 * @example
 * import { DeviceBuffer, vramLedger, cudaAvailable } from './native/device.js';
 * if (cudaAvailable()) {
 *   const buf = DeviceBuffer.fromHost(bytes, 'weights:layer0');
 *   console.log(vramLedger().byTag);     // [{ tag: 'weights:layer0', bytes, count: 1 }]
 *   const back = buf.download();
 *   buf.dispose();
 * }
 */
import { err, msg } from '../messages.js';
import { callNative, loadNative, requireCuda, type NativeAddon, type NativeDeviceInfo } from './addon.js';

type Cuda = Required<NativeAddon>;

let leaked = 0;
const registry = new FinalizationRegistry<number>((id) => {
  const n = loadNative();
  try {
    if (n?.deviceFree?.(id)) leaked++;
  } catch {
    /* the process may be shutting down */
  }
});

/**
 * True when the addon has CUDA and a GPU is visible (never throws).
 * @example
 * if (!cudaAvailable()) console.log('CPU codecs only');
 */
export function cudaAvailable(): boolean {
  const n = loadNative();
  if (!n?.deviceCount) return false;
  try {
    return n.deviceCount() > 0;
  } catch {
    return false;
  }
}

/**
 * The CUDA addon with a visible GPU, or E_CUDA (msg.cudaUnavailable) naming what needed it.
 * @example
 * const cuda = requireDevice('nvCOMP benchmark');
 */
export function requireDevice(what: string): Cuda {
  const n = requireCuda(what);
  if (!cudaAvailable()) throw err('E_CUDA', msg.cudaUnavailable(what));
  return n;
}

/**
 * Name, compute capability, memory, driver/runtime versions of the current GPU.
 * @example
 * deviceInfo().name // 'NVIDIA H100 80GB HBM3'
 */
export function deviceInfo(): NativeDeviceInfo {
  const n = requireDevice('deviceInfo');
  return callNative(() => n.deviceInfo());
}

/** A block of GPU memory owned by the caller. Ranges are checked; use after dispose() is E_ARG (msg.bufferDisposed). */
export class DeviceBuffer {
  readonly id: number;
  readonly bytes: number;
  readonly tag: string;
  #disposed = false;
  readonly #n: Cuda;

  private constructor(n: Cuda, id: number, bytes: number, tag: string) {
    this.#n = n;
    this.id = id;
    this.bytes = bytes;
    this.tag = tag;
    registry.register(this, id, this);
  }

  /**
   * Allocates `bytes` of device memory (cudaMalloc) listed in the ledger under `tag`.
   * @example
   * const b = DeviceBuffer.alloc(1 << 20, 'scratch:test');
   */
  static alloc(bytes: number, tag: string): DeviceBuffer {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw err('E_ARG', msg.badArg('bytes', `${bytes} is not a non-negative integer`));
    const n = requireDevice(`device buffer '${tag}'`);
    const id = callNative(() => n.deviceAlloc(bytes, tag));
    return new DeviceBuffer(n, id, bytes, tag);
  }

  /**
   * Allocates a buffer of `data.byteLength` bytes and uploads `data`.
   * @example
   * const b = DeviceBuffer.fromHost(new Uint8Array([1, 2, 3]), 'demo');
   */
  static fromHost(data: ArrayBufferView, tag: string): DeviceBuffer {
    const b = DeviceBuffer.alloc(data.byteLength, tag);
    try {
      b.upload(data);
    } catch (e) {
      b.dispose();
      throw e;
    }
    return b;
  }

  /** @internal wraps a buffer id the addon allocated (e.g. nvCOMP output). */
  static adopt(id: number, bytes: number, tag: string): DeviceBuffer {
    return new DeviceBuffer(requireCuda('device buffer'), id, bytes, tag);
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  #live(): void {
    if (this.#disposed) throw err('E_ARG', msg.bufferDisposed(this.tag));
  }

  #range(offset: number, length: number): void {
    this.#live();
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.bytes)
      throw err('E_ARG', msg.bufferRange(this.tag, offset, length, this.bytes));
  }

  /**
   * Copies `data` to [offset, offset + data.byteLength).
   * @example
   * b.upload(new Uint8Array([7]), 2);
   */
  upload(data: ArrayBufferView, offset = 0): this {
    this.#range(offset, data.byteLength);
    callNative(() => this.#n.deviceUpload(this.id, offset, data));
    return this;
  }

  /**
   * Copies [offset, offset + length) to a new host Uint8Array.
   * @example
   * const host = b.download();
   */
  download(offset = 0, length = this.bytes - offset): Uint8Array {
    this.#range(offset, length);
    return callNative(() => this.#n.deviceDownload(this.id, offset, length));
  }

  /**
   * Device-to-device copy from `src`.
   * @example
   * dst.copyFrom(src, { length: 1024 });
   */
  copyFrom(src: DeviceBuffer, o: { srcOffset?: number; dstOffset?: number; length?: number } = {}): this {
    const srcOffset = o.srcOffset ?? 0;
    const dstOffset = o.dstOffset ?? 0;
    const length = o.length ?? Math.min(src.bytes - srcOffset, this.bytes - dstOffset);
    src.#range(srcOffset, length);
    this.#range(dstOffset, length);
    callNative(() => this.#n.deviceCopy(this.id, dstOffset, src.id, srcOffset, length));
    return this;
  }

  /**
   * Sets every byte to `value`.
   * @example
   * b.fill(0);
   */
  fill(value: number): this {
    this.#live();
    callNative(() => this.#n.deviceMemset(this.id, value));
    return this;
  }

  /**
   * Number of differing bytes between this buffer and `other` over `length` bytes (a GPU kernel; the host twin is
   * comparing `download()`s).
   * @example
   * assert.equal(a.countMismatches(b), 0);
   */
  countMismatches(other: DeviceBuffer, length = Math.min(this.bytes, other.bytes), offset = 0, otherOffset = 0): number {
    this.#range(offset, length);
    other.#range(otherOffset, length);
    return callNative(() => this.#n.deviceCountMismatches(this.id, offset, other.id, otherOffset, length));
  }

  /**
   * Frees the memory now (idempotent).
   * @example
   * b.dispose();
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    registry.unregister(this);
    callNative(() => this.#n.deviceFree(this.id));
  }

  /**
   * Gives up ownership WITHOUT freeing: marks this object disposed (the finalizer will not free it) and returns the
   * id, for memory that native code owns from now on (the GPU engine takes packed nvCOMP chunks this way), or for a
   * buffer {@link DeviceBuffer.adopt}ed only to be read.
   * @example
   * engineSetCompressed(engineId, i, 'ans', z.buffer.release(), z.chunkOffsets, z.chunkBytes, z.chunkSize);
   */
  release(): number {
    if (this.#disposed) throw err('E_ARG', msg.bufferDisposed(this.tag));
    this.#disposed = true;
    registry.unregister(this);
    return this.id;
  }
}

/** Buffers freed by the finalizer because they were never dispose()d. */
export function leakedBuffers(): number {
  return leaked;
}

export interface VramLedger {
  entries: { id: number; tag: string; bytes: number }[];
  /** live caller buffers grouped by tag, largest first */
  byTag: { tag: string; bytes: number; count: number }[];
  ownBytes: number;
  scratchBytes: number;
  pinnedBytes: number;
  freeBytes: number;
  totalBytes: number;
  /** totalBytes - freeBytes (everything on the card, other processes included) */
  usedBytes: number;
}

/**
 * The VRAM ledger: own allocations by tag, the addon's pools, and cudaMemGetInfo — a table notebooks can chart.
 * @example
 * const l = vramLedger(); console.log(l.ownBytes, l.freeBytes, l.byTag);
 */
export function vramLedger(): VramLedger {
  const n = requireDevice('vramLedger');
  const l = callNative(() => n.deviceLedger());
  const by = new Map<string, { tag: string; bytes: number; count: number }>();
  for (const e of l.entries) {
    const t = by.get(e.tag) ?? { tag: e.tag, bytes: 0, count: 0 };
    t.bytes += e.bytes;
    t.count++;
    by.set(e.tag, t);
  }
  return { ...l, byTag: [...by.values()].sort((a, b) => b.bytes - a.bytes), usedBytes: l.totalBytes - l.freeBytes };
}

/**
 * Frees the addon's idle scratch and pinned blocks; returns the bytes released.
 * @example
 * trimScratch();
 */
export function trimScratch(): number {
  const n = requireDevice('trimScratch');
  return callNative(() => n.deviceTrimScratch());
}

/** cudaDeviceSynchronize */
export function deviceSynchronize(): void {
  const n = requireDevice('deviceSynchronize');
  callNative(() => n.deviceSynchronize());
}

/**
 * A pair of CUDA events: `start()`, GPU work, `stop()` -> milliseconds of GPU time on the pool stream.
 * @example
 * const t = new CudaTimer(); t.start(); run(); const ms = t.stop(); t.dispose();
 */
export class CudaTimer {
  readonly #n: Cuda;
  readonly #a: number;
  readonly #b: number;
  readonly #stream: number;
  constructor(stream = 0) {
    this.#n = requireDevice('CudaTimer');
    this.#a = callNative(() => this.#n.eventCreate());
    this.#b = callNative(() => this.#n.eventCreate());
    this.#stream = stream;
  }
  start(): void {
    callNative(() => this.#n.eventRecord(this.#a, this.#stream));
  }
  /** Records the end event, waits for it, returns the elapsed GPU time in ms. */
  stop(): number {
    callNative(() => this.#n.eventRecord(this.#b, this.#stream));
    return callNative(() => this.#n.eventElapsedMs(this.#a, this.#b));
  }
  dispose(): void {
    this.#n.eventDestroy(this.#a);
    this.#n.eventDestroy(this.#b);
  }
}

/**
 * Runs `fn` between two CUDA events on stream 0 and returns its result and the GPU milliseconds.
 * @example
 * const { ms } = timeDevice(() => dst.copyFrom(src));
 */
export function timeDevice<T>(fn: () => T): { result: T; ms: number } {
  const t = new CudaTimer();
  try {
    t.start();
    const result = fn();
    return { result, ms: t.stop() };
  } finally {
    t.dispose();
  }
}

export interface CopyBandwidth {
  bytes: number;
  iterations: number;
  /** mean ms of one device-to-device copy of `bytes` */
  ms: number;
  /** bytes copied per second / 1e9 */
  gbps: number;
  /** (bytes read + bytes written) per second / 1e9 — the figure usually quoted for HBM */
  gbpsReadWrite: number;
}

/**
 * Device-to-device copy bandwidth (cudaMemcpyAsync, CUDA events; 2 warm-up copies then `iterations` timed ones).
 * The nvCOMP benchmark reports decompression throughput as a fraction of `gbps`.
 * @example
 * copyBandwidth(256 * 2 ** 20).gbps // ~1500 on an H100 (≈3000 counting read + write)
 */
export function copyBandwidth(bytes = 256 * 2 ** 20, iterations = 20): CopyBandwidth {
  const n = requireDevice('copyBandwidth');
  const r = callNative(() => n.deviceCopyBandwidth(bytes, iterations));
  const gbps = r.bytes / (r.ms * 1e-3) / 1e9;
  return { ...r, gbps, gbpsReadWrite: 2 * gbps };
}
