/**
 * The part every single-file checkpoint reader shares: a name index over a header's tensor entries, lazy byte reads
 * at `dataOffset + offset`, and float32 decoding of any storage dtype (plain element types, or GGML blocks dequantized
 * as llama.cpp defines them). GGUF and safetensors readers extend it with their own header fields.
 */
import { err, msg } from '../messages.js';
import { DTYPES, decodeToF32, type ElementDType, type GGMLBlockDType, type StorageDType } from './dtypes.js';
import { blockScaleProblem, dequantizeBlocks } from './ggml-blocks.js';
import { printable, type ByteSource } from './binary.js';
import type { TensorInfo, TensorSource } from './tensor.js';

/** Stored bytes of `dtype` as float32 (elements = bytes / blockBytes × blockElems). */
export function decodeStoredF32(dtype: StorageDType, raw: Uint8Array): Float32Array {
  const d = DTYPES[dtype];
  const n = (raw.byteLength / d.blockBytes) * d.blockElems;
  return d.blockElems > 1 ? dequantizeBlocks(dtype as GGMLBlockDType, raw, n) : decodeToF32(dtype as ElementDType, raw, n);
}

export abstract class IndexedFileSource<T extends TensorInfo> implements TensorSource {
  protected readonly byName: Map<string, T>;

  constructor(
    protected readonly src: ByteSource,
    tensors: readonly T[],
    /** File offset where tensor data begins. */
    readonly dataOffset: number,
  ) {
    this.byName = new Map(tensors.map((t) => [t.name, t]));
  }

  /** Offset of a tensor's bytes from `dataOffset`. */
  protected abstract offsetOf(t: T): number;

  get file(): string {
    return this.src.file;
  }
  list(): T[] {
    return [...this.byName.values()];
  }
  has(name: string): boolean {
    return this.byName.has(name);
  }
  info(name: string): T {
    const t = this.byName.get(name);
    if (!t) throw err('E_FORMAT', msg.missingTensor(this.file, printable(name)));
    return t;
  }
  readRaw(name: string): Uint8Array {
    const t = this.info(name);
    return this.src.read(this.dataOffset + this.offsetOf(t), t.byteLength);
  }
  /** float32 values of a tensor; GGML blocks are checked first (a non-finite scale is a one-line E_FORMAT). */
  readF32(name: string): Float32Array {
    const t = this.info(name);
    const raw = this.readRaw(name);
    if (DTYPES[t.dtype].blockElems > 1) {
      const bad = blockScaleProblem(t.dtype as GGMLBlockDType, raw);
      if (bad) throw err('E_FORMAT', msg.badBlocks(this.file, printable(name), bad));
    }
    return decodeStoredF32(t.dtype, raw);
  }
  close(): void {
    this.src.close();
  }
}
