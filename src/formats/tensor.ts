/**
 * Tensors as the rest of the library sees them: a name, a storage dtype, a row-major shape (PyTorch order,
 * e.g. a linear weight is (out_features, in_features)) and lazily read bytes.
 *
 * Every checkpoint reader (safetensors, GGUF, .cllm) implements `TensorSource`; nothing is read until asked for,
 * so a 2 GB model never needs several times its size in RAM.
 */
import type { StorageDType } from './dtypes.js';

/** Metadata of one stored tensor. `shape` is row-major, outermost first (PyTorch order). */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: StorageDType;
  readonly shape: readonly number[];
  /** Bytes of the stored (possibly block-quantized) data. */
  readonly byteLength: number;
}

/** A lazily-read collection of named tensors (one file or a sharded set). */
export interface TensorSource {
  /** Path of the file (or folder) for error messages. */
  readonly file: string;
  /** All tensors, in file order. */
  list(): TensorInfo[];
  has(name: string): boolean;
  /** Metadata; throws E_FORMAT `missingTensor` when absent. */
  info(name: string): TensorInfo;
  /** The stored bytes, exactly as on disk (little-endian). */
  readRaw(name: string): Uint8Array;
  /** Values as float32, dequantizing block formats exactly as their reference defines them. */
  readF32(name: string): Float32Array;
  /** Release file handles. Reads after close throw. */
  close(): void;
}

/**
 * Number of elements of a shape (checked: every dim a non-negative safe integer, product safe).
 * @example
 * numel([576, 1536]) // 884736
 */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`invalid dimension ${d}`);
    n *= d;
    if (!Number.isSafeInteger(n)) throw new RangeError(`element count overflows`);
  }
  return n;
}

/** A dense float32 tensor held in host memory. */
export interface F32Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}
