/**
 * Order-0 Shannon entropy of byte streams, and the compression bound it implies.
 *
 *   H = -Σ_b p_b log2 p_b      (bits per byte, p_b = count of byte value b / n; 0 <= H <= 8)
 *   bound = n · H / 8          (bytes: the smallest output a memoryless coder of single bytes can reach)
 *
 * For a stream split into planes or sections (transforms.ts planes; codes / scales / zero points of a quantized
 * tensor) the bound is the sum over the parts: each part gets its own histogram, as a codec that sees the planes as
 * separate streams would. It is a bound for order-0 coders (Huffman, ANS, zstd's literals); LZ codecs can beat it on
 * data with repeats, and on trained weights they seldom do. Every report prints the achieved ratio beside
 * `raw / bound`.
 *
 * @example
 * const e = entropyReport(codes, [{ name: 'codes', offset: 0, length: codes.length }]);
 * e.bits; e.boundBytes; // bits/byte over the stream, n·H/8
 */
import { err, msg } from '../messages.js';
import type { Plane } from './transforms.js';

/**
 * Counts of each byte value in `data` (256 entries).
 * @example
 * byteHistogram(new Uint8Array([1, 1, 2]))[1]; // 2
 */
export function byteHistogram(data: Uint8Array): Float64Array {
  // counts in a Uint32Array are exact up to 4 GiB per call; chunks keep larger inputs exact too
  const h = new Float64Array(256);
  const c = new Uint32Array(256);
  const step = 1 << 30;
  for (let s = 0; s < data.length; s += step) {
    c.fill(0);
    const e = Math.min(data.length, s + step);
    for (let i = s; i < e; i++) c[data[i]!]!++;
    for (let b = 0; b < 256; b++) h[b]! += c[b]!;
  }
  return h;
}

/**
 * Shannon entropy in bits per symbol of a histogram (0 for an empty one).
 * @example
 * entropyOfHistogram(byteHistogram(new Uint8Array([0, 1, 2, 3]))); // 2
 */
export function entropyOfHistogram(h: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < h.length; i++) n += h[i]!;
  if (n === 0) return 0;
  let H = 0;
  for (let i = 0; i < h.length; i++) {
    const c = h[i]!;
    if (c > 0) H -= (c / n) * Math.log2(c / n);
  }
  return H;
}

/**
 * Order-0 entropy of a byte stream, bits per byte.
 * @example
 * shannonEntropy(new Uint8Array(100)); // 0
 */
export function shannonEntropy(data: Uint8Array): number {
  return entropyOfHistogram(byteHistogram(data));
}

/**
 * The order-0 bound n·H/8 in bytes.
 * @example
 * entropyBoundBytes(new Uint8Array([0, 1, 2, 3])); // 1
 */
export function entropyBoundBytes(data: Uint8Array): number {
  return (data.length * shannonEntropy(data)) / 8;
}

/** Entropy of one plane / section of a stream. */
export interface PlaneEntropy {
  readonly name: string;
  readonly bytes: number;
  /** bits per byte */
  readonly bits: number;
  /** bytes · bits / 8 */
  readonly boundBytes: number;
}

/** Entropy of a stream made of planes. */
export interface EntropyReport {
  readonly bytes: number;
  /** Bits per byte of the whole stream with one histogram (what a coder blind to the planes sees). */
  readonly bits: number;
  /** Σ over planes of bytes·H/8 (each plane its own histogram): the bound reported beside the achieved size. */
  readonly boundBytes: number;
  readonly planes: PlaneEntropy[];
}

/**
 * Entropy of `data` overall and per plane; planes must lie inside `data` (default: one plane, the whole stream).
 * @example
 * const r = entropyReport(planes, transformPlanes('byteplane', planes.length, 2, 'bf16'));
 * r.planes[0].bits; // ~2.6 for trained bf16 weights' high byte
 */
export function entropyReport(data: Uint8Array, planes?: readonly Plane[]): EntropyReport {
  const ps = planes ?? [{ name: 'bytes', offset: 0, length: data.length }];
  const total = new Float64Array(256);
  const out: PlaneEntropy[] = [];
  for (const p of ps) {
    const h = byteHistogram(data.subarray(p.offset, p.offset + p.length));
    for (let b = 0; b < 256; b++) total[b]! += h[b]!;
    const bits = entropyOfHistogram(h);
    out.push({ name: p.name, bytes: p.length, bits, boundBytes: (p.length * bits) / 8 });
  }
  return { bytes: data.length, bits: entropyOfHistogram(total), boundBytes: out.reduce((s, p) => s + p.boundBytes, 0), planes: out };
}

/**
 * Merge per-tensor plane entropies by plane name (sums bytes and bounds; bits = 8·bound/bytes).
 * @example
 * mergePlanes([r1.planes, r2.planes]);
 */
export function mergePlanes(lists: readonly (readonly PlaneEntropy[])[]): PlaneEntropy[] {
  const m = new Map<string, { bytes: number; bound: number }>();
  for (const l of lists)
    for (const p of l) {
      const e = m.get(p.name) ?? { bytes: 0, bound: 0 };
      e.bytes += p.bytes;
      e.bound += p.boundBytes;
      m.set(p.name, e);
    }
  return [...m].map(([name, e]) => ({ name, bytes: e.bytes, bits: e.bytes ? (8 * e.bound) / e.bytes : 0, boundBytes: e.bound }));
}

/**
 * Code lengths (bits) of an optimal (unrestricted-length) Huffman code for a histogram: one length per entry, 0 for
 * symbols that never occur; a lone used symbol gets 1 bit (a code needs at least one), an empty histogram all 0.
 * Ties are broken deterministically (lower count first, then leaves before merged nodes, then lower symbol index),
 * so the lengths are reproducible; every Huffman code has the same mean length Σ h·l / Σ h, which lies in [H, H+1).
 * Written here because no maintained npm package exposes plain code lengths from counts (the Huffman packages
 * encode strings); it is the textbook two-queue construction, O(n log n) for n entries.
 * @example
 * huffmanCodeLengths([1, 1, 2, 4]); // Uint8Array [3, 3, 2, 1]
 * huffmanCodeLengths(byteHistogram(codes)); // per-byte lengths of codes' Huffman code
 */
export function huffmanCodeLengths(h: ArrayLike<number>): Uint8Array {
  const n = h.length;
  const lengths = new Uint8Array(n);
  const leaves: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = h[i]!;
    if (!Number.isFinite(c) || c < 0) throw err('E_ARG', msg.badArg('histogram', `count ${c} at index ${i} is not a finite non-negative number`));
    if (c > 0) leaves.push(i);
  }
  if (leaves.length === 0) return lengths;
  if (leaves.length === 1) {
    lengths[leaves[0]!] = 1;
    return lengths;
  }
  leaves.sort((a, b) => h[a]! - h[b]! || a - b);
  // nodes 0..m-1 are the sorted leaves, m.. the merged nodes (created in non-decreasing weight order: the two-queue trick)
  const m = leaves.length;
  const weight = new Float64Array(2 * m - 1);
  const parent = new Int32Array(2 * m - 1).fill(-1);
  for (let i = 0; i < m; i++) weight[i] = h[leaves[i]!]!;
  let li = 0; // next unused leaf
  let qi = m; // next unused merged node
  const take = (made: number): number => (li < m && (qi >= made || weight[li]! <= weight[qi]!) ? li++ : qi++);
  for (let made = m; made < 2 * m - 1; made++) {
    const a = take(made);
    const b = take(made);
    weight[made] = weight[a]! + weight[b]!;
    parent[a] = parent[b] = made;
  }
  // depth of a node = depth of its parent + 1; parents have higher indices, so walk down from the root
  const depth = new Int32Array(2 * m - 1);
  for (let k = 2 * m - 3; k >= 0; k--) depth[k] = depth[parent[k]!]! + 1;
  for (let i = 0; i < m; i++) {
    if (depth[i]! > 255) throw err('E_ARG', msg.badArg('histogram', `Huffman code length ${depth[i]} exceeds 255 bits`));
    lengths[leaves[i]!] = depth[i]!;
  }
  return lengths;
}
