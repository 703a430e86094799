/**
 * How small can the GPU engine's `fused` weights get? Issue 5 asks for `fused` weight VRAM <= 0.45x fp16; this
 * measures the best any lossless order-0 coder of the engine's int8 codes can do on the real default model
 * (SmolLM2-135M-Instruct), against the bytes src/engine/modes.ts accountBytes counts as weight VRAM.
 *
 *   node --import tsx scripts/entropy-bound.ts [--json out.json]
 *
 * For every linear (30 blocks x q,k,v,o,gate,up,down, plus lm_head = the tied embedding table):
 *   codes    the engine's int8 codes: quantizeFast(W, (out, in), 'int8:per-channel:scale=fp32') of the installed
 *            weight, exactly as CudaEngine.fromModel stores them (symmetric, one fp32 scale a row)
 *   H        order-0 entropy of the codes, bits/code (one histogram per tensor): n·H/8 bytes is the floor of any
 *            memoryless coder (rANS/ANS approach it)
 *   Huffman  a real Huffman code built per tensor from that histogram (huffmanCodeLengths): its mean length, and
 *            bytes = ceil(Σ count·length / 8) + 256 (a canonical code table of one length byte per symbol)
 * and the weight VRAM those sizes give (accountBytes: codes + 4 B/row scales + fp16 embedding + fp32 norms):
 *   A  linears coded, embedding fp16 and read as lm_head (spec 'fused,lm_head=fp16', tied head shared)
 *   B  A, but the embedding/lm_head table int8-coded per row at its own entropy too (one copy serves both)
 *   C  the engine's default 'fused' spec today: lm_head coded as its own linear beside the fp16 embedding table
 * The default checkpoint is a GGUF: linears Q4_1 (32-weight blocks, fp16 d + fp16 m + 16 nibble bytes), the
 * embedding Q8_0; the installed weights are these blocks dequantized (checked here bit for bit). So storing the
 * original blocks is a lossless alternative (for the model as loaded); it is measured too, raw and with the nibbles
 * at their order-0 entropy (d and m kept raw).
 *
 * The ratio denominator is accountBytes' weightTotal of the all-fp16 engine (tied head shared), norms included.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { byteHistogram, entropyOfHistogram, huffmanCodeLengths } from '../src/codec/entropy.js';
import { DTYPES, bitsPerWeight } from '../src/formats/dtypes.js';
import { dequantizeBlocks } from '../src/formats/ggml-blocks.js';
import { accountBytes, parseModeSpec, resolveModes, type ByteAccount } from '../src/engine/modes.js';
import { DEFAULT_MODEL_FILE } from '../src/model/checkpoint.js';
import { LlamaModel } from '../src/model/llama.js';
import { BLOCK_LINEARS } from '../src/model/names.js';
import { quantizeFast } from '../src/quant/native.js';
import { dequantize } from '../src/quant/quantize.js';

const DATE = '2026-11-26';
const QUANT = 'int8:per-channel:scale=fp32';
const TARGET = 0.45;
/** canonical Huffman table: one code-length byte for each of the 256 byte values */
const HUFFMAN_TABLE_BYTES = 256;

interface TensorRow {
  path: string;
  kind: string;
  layer: number | null;
  out: number;
  in: number;
  /** stored dtype of the checkpoint tensor the weight was dequantized from */
  source_dtype: string;
  /** order-0 entropy of the int8 codes, bits/code */
  entropy_bits: number;
  /** mean length of the per-tensor Huffman code, bits/code */
  huffman_bits: number;
  huffman_max_len: number;
  /** ceil(Σ count·len / 8) + table */
  huffman_bytes: number;
  /** n·H/8 */
  entropy_bytes: number;
  distinct_codes: number;
  clipped: number;
  /** share of weights the int8 codes reproduce bit for bit (dequantize(q) === installed weight) */
  int8_exact_fraction: number;
  /** max |dequantize(q) - w| over the tensor */
  int8_max_abs_err: number;
  /** order-0 entropy of the checkpoint's 4-bit (Q4_1) or 8-bit (Q8_0) block codes, bits/code */
  source_code_entropy_bits: number;
  source_bytes: number;
}

function args(): { json: string | null } {
  const a = process.argv.slice(2);
  let json: string | null = null;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '--json' && a[i + 1]) json = a[++i]!;
    else throw new Error(`entropy-bound: unknown argument '${a[i]}' (usage: [--json out.json])`);
  }
  return { json };
}

/** Histogram of the block codes of GGML data: Q4_1 nibbles (16 symbols) or Q8_0 int8 bytes (256). */
function blockCodeHistogram(dtype: string, raw: Uint8Array): Float64Array {
  // block layouts as in ggml-blocks.ts LAYOUTS: q4_1 = d:f16, m:f16, qs:u8[16]; q8_0 = d:f16, qs:i8[32]
  if (dtype === 'q4_1') {
    const { blockBytes } = DTYPES.q4_1;
    const h = new Float64Array(16);
    for (let b = 0; b < raw.length; b += blockBytes)
      for (let j = 4; j < blockBytes; j++) {
        h[raw[b + j]! & 15]!++;
        h[raw[b + j]! >> 4]!++;
      }
    return h;
  }
  if (dtype === 'q8_0') {
    const { blockBytes } = DTYPES.q8_0;
    const h = new Float64Array(256);
    for (let b = 0; b < raw.length; b += blockBytes) for (let j = 2; j < blockBytes; j++) h[raw[b + j]!]!++;
    return h;
  }
  throw new Error(`entropy-bound: checkpoint tensor dtype ${dtype} is not a GGML block type this script reads`);
}

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

const mb = (b: number) => (b / 1e6).toFixed(3);
const r4 = (x: number) => +x.toFixed(4);

async function main(): Promise<void> {
  const opt = args();
  const t0 = performance.now();
  const model = await LlamaModel.load('default');
  const c = model.config;
  const src = model.checkpoint.weights;
  const lins = model.linears();
  const rows: TensorRow[] = [];
  let checkedDequant = 0;
  for (const lin of lins) {
    const w = model.getWeight(lin.path);
    const stored = lin.kind === 'lm_head' && c.tieWordEmbeddings ? 'model.embed_tokens.weight' : lin.path + '.weight';
    const info = src.info(stored);
    const raw = src.readRaw(stored);
    // the installed weight is exactly the checkpoint's blocks dequantized (llama.cpp reference), nothing else
    if (!bitsEqual(w, dequantizeBlocks(info.dtype as 'q4_1' | 'q8_0', raw, w.length)))
      throw new Error(`entropy-bound: ${lin.path}: installed weight differs from dequantized ${info.dtype} blocks`);
    checkedDequant++;
    const q = quantizeFast(w, [lin.outFeatures, lin.inFeatures], QUANT);
    if (!(q.codes instanceof Int8Array) || !(q.scales instanceof Float32Array) || q.scales.length !== lin.outFeatures)
      throw new Error(`entropy-bound: ${lin.path}: ${QUANT} did not give int8 codes with one fp32 scale a row`);
    const n = q.codes.length;
    const h = byteHistogram(new Uint8Array(q.codes.buffer, q.codes.byteOffset, n));
    const H = entropyOfHistogram(h);
    const len = huffmanCodeLengths(h);
    let hufBits = 0;
    let distinct = 0;
    for (let b = 0; b < 256; b++) {
      hufBits += h[b]! * len[b]!;
      if (h[b]! > 0) distinct++;
    }
    const sh = blockCodeHistogram(info.dtype, raw);
    const dq = dequantize(q);
    let exact = 0;
    let maxErr = 0;
    for (let i = 0; i < n; i++) {
      if (dq[i] === w[i]) exact++;
      else maxErr = Math.max(maxErr, Math.abs(dq[i]! - w[i]!));
    }
    rows.push({
      path: lin.path,
      kind: lin.kind,
      layer: lin.layer,
      out: lin.outFeatures,
      in: lin.inFeatures,
      source_dtype: info.dtype,
      entropy_bits: H,
      huffman_bits: hufBits / n,
      huffman_max_len: Math.max(...len),
      huffman_bytes: Math.ceil(hufBits / 8) + HUFFMAN_TABLE_BYTES,
      entropy_bytes: (n * H) / 8,
      distinct_codes: distinct,
      clipped: q.stats.clipped,
      int8_exact_fraction: exact / n,
      int8_max_abs_err: maxErr,
      source_code_entropy_bits: entropyOfHistogram(sh),
      source_bytes: info.byteLength,
    });
  }
  const loadS = (performance.now() - t0) / 1000;

  // ---- byte accounting (modes.ts), all variants with norms, as weightTotal counts them
  const acct = (spec: string, compressed?: number[], sharedHead = false): ByteAccount =>
    accountBytes(c, resolveModes(parseModeSpec(spec), c), { maxSeq: 2048, kvDtype: 'f16', sharedHead, ...(compressed ? { compressedBytes: compressed } : {}) });
  const fp16 = acct('fp16', undefined, true);
  const FP16 = fp16.weightTotal;
  const head = rows[rows.length - 1]!;
  const blockRows = rows.slice(0, -1);
  const linWeights = blockRows.reduce((s, r) => s + r.out * r.in, 0);
  const embWeights = c.vocabSize * c.hiddenSize;
  const sum = (rs: TensorRow[], f: (r: TensorRow) => number) => rs.reduce((s, r) => s + f(r), 0);
  const entA = acct('fused,lm_head=fp16', rows.map((r) => r.entropy_bytes), true);
  const hufA = acct('fused,lm_head=fp16', rows.map((r) => r.huffman_bytes), true);
  const entC = acct('fused', rows.map((r) => r.entropy_bytes));
  const hufC = acct('fused', rows.map((r) => r.huffman_bytes));
  const int8A = acct('int8,lm_head=fp16', undefined, true);
  // B: the fp16 embedding replaced by int8 codes at their entropy + one fp32 scale a row (one copy, also lm_head)
  const embScales = 4 * c.vocabSize;
  const entB = entA.weightTotal - entA.embed + head.entropy_bytes + embScales;
  const hufB = hufA.weightTotal - hufA.embed + head.huffman_bytes + embScales;
  // original GGUF blocks, stored as they are (lossless for the model as loaded); Q4_1 nibbles also at their entropy
  const q41Bytes = sum(blockRows, (r) => r.source_bytes);
  const q41EntBytes = sum(blockRows, (r) => (r.out * r.in * (r.source_code_entropy_bits + 32 / DTYPES.q4_1.blockElems)) / 8);
  const q80Bytes = head.source_bytes;
  const q80EntBytes = (embWeights * (head.source_code_entropy_bits + 16 / DTYPES.q8_0.blockElems)) / 8;
  const norms = fp16.norms;
  const embFp16 = fp16.embed;
  const linScales = entA.scales; // per-row fp32 scales of the 210 block linears

  const variants = [
    { name: 'fp16 (denominator): linears fp16 + fp16 embedding shared as lm_head', bytes: FP16, linear_bits: 16, embedding: 'fp16' },
    { name: 'int8 (raw codes, 8 bits) + fp16 embedding shared as lm_head', bytes: int8A.weightTotal, linear_bits: 8, embedding: 'fp16' },
    { name: 'A: int8 codes at order-0 entropy + fp16 embedding shared as lm_head', bytes: entA.weightTotal, linear_bits: (8 * sum(blockRows, (r) => r.entropy_bytes)) / linWeights, embedding: 'fp16' },
    { name: 'A: int8 codes, per-tensor Huffman + fp16 embedding shared as lm_head', bytes: hufA.weightTotal, linear_bits: (8 * sum(blockRows, (r) => r.huffman_bytes)) / linWeights, embedding: 'fp16' },
    { name: 'B: A (entropy) + embedding/lm_head int8 per row at its entropy', bytes: entB, linear_bits: (8 * sum(blockRows, (r) => r.entropy_bytes)) / linWeights, embedding: `int8 at ${head.entropy_bits.toFixed(3)} bits` },
    { name: 'B: A (Huffman) + embedding/lm_head int8 per row, Huffman', bytes: hufB, linear_bits: (8 * sum(blockRows, (r) => r.huffman_bytes)) / linWeights, embedding: `int8 Huffman ${head.huffman_bits.toFixed(3)} bits` },
    { name: "C: engine's default 'fused' layout (lm_head coded separately, at entropy) + fp16 embedding", bytes: entC.weightTotal, linear_bits: (8 * sum(blockRows, (r) => r.entropy_bytes)) / linWeights, embedding: 'fp16 + coded lm_head copy' },
    { name: "C: engine's default 'fused' layout, Huffman", bytes: hufC.weightTotal, linear_bits: (8 * sum(blockRows, (r) => r.huffman_bytes)) / linWeights, embedding: 'fp16 + coded lm_head copy' },
    { name: 'GGUF Q4_1 blocks as stored + fp16 embedding shared as lm_head', bytes: q41Bytes + embFp16 + norms, linear_bits: bitsPerWeight('q4_1'), embedding: 'fp16' },
    { name: 'GGUF Q4_1 blocks + GGUF Q8_0 embedding as stored (the file)', bytes: q41Bytes + q80Bytes + norms, linear_bits: bitsPerWeight('q4_1'), embedding: `q8_0 (${bitsPerWeight('q8_0')} bits)` },
    { name: 'Q4_1 nibbles at order-0 entropy (d, m raw) + fp16 embedding', bytes: q41EntBytes + embFp16 + norms, linear_bits: (8 * q41EntBytes) / linWeights, embedding: 'fp16' },
    { name: 'Q4_1 nibbles at entropy + Q8_0 embedding codes at entropy (d raw)', bytes: q41EntBytes + q80EntBytes + norms, linear_bits: (8 * q41EntBytes) / linWeights, embedding: `q8_0 codes at ${head.source_code_entropy_bits.toFixed(3)} bits + d` },
  ].map((v) => ({ ...v, linear_bits: r4(v.linear_bits), ratio: v.bytes / FP16, meets_target: v.bytes / FP16 <= TARGET }));

  // what the linears' codes would have to average to reach the target
  const budget = TARGET * FP16;
  const neededLinearBitsFp16Emb = (8 * (budget - embFp16 - norms - linScales)) / linWeights;
  const neededBitsAllCoded = (8 * (budget - norms - linScales - embScales)) / (linWeights + embWeights);

  // costs B leaves out: a u32 offset a row so embedding lookups can find a coded row; the decode area of the
  // engine's fused schedule (each linear decoded whole into a double buffer; accountBytes.decode, outside weightTotal)
  const embRowIndex = 4 * c.vocabSize;
  const overheads = {
    target_bytes: budget,
    B_entropy_headroom_bytes: budget - entB,
    B_huffman_headroom_bytes: budget - hufB,
    embedding_row_offsets_bytes: embRowIndex,
    fused_decode_area_bytes_lm_head_fp16: entA.decode,
    fused_decode_area_bytes_lm_head_coded: entC.decode,
  };

  const kinds = [...BLOCK_LINEARS, 'lm_head'] as const;
  const perKind = kinds.map((k) => {
    const rs = rows.filter((r) => r.kind === k);
    const mean = (f: (r: TensorRow) => number) => sum(rs, f) / rs.length;
    return {
      kind: k,
      tensors: rs.length,
      shape: `${rs[0]!.out}x${rs[0]!.in}`,
      source_dtype: rs[0]!.source_dtype,
      entropy_bits_mean: mean((r) => r.entropy_bits),
      entropy_bits_min: Math.min(...rs.map((r) => r.entropy_bits)),
      entropy_bits_max: Math.max(...rs.map((r) => r.entropy_bits)),
      huffman_bits_mean: mean((r) => r.huffman_bits),
      huffman_max_len: Math.max(...rs.map((r) => r.huffman_max_len)),
      distinct_codes_mean: mean((r) => r.distinct_codes),
      int8_exact_fraction_mean: mean((r) => r.int8_exact_fraction),
      int8_max_abs_err: Math.max(...rs.map((r) => r.int8_max_abs_err)),
      source_code_entropy_bits_mean: mean((r) => r.source_code_entropy_bits),
    };
  });

  // ---- print
  const lines: string[] = [];
  const p = (s = '') => lines.push(s);
  p(`# entropy bound of int8 per-channel codes, ${DEFAULT_MODEL_FILE} (${DATE})`);
  p();
  p(`weights: ${DEFAULT_MODEL_FILE}: ${rows.length - 1} linears stored as Q4_1 (${bitsPerWeight('q4_1')} bits/weight), embedding (= tied lm_head) as Q8_0; the installed weights are those blocks dequantized (checked bit for bit on ${checkedDequant} tensors); codes = ${QUANT} (loaded and measured in ${loadS.toFixed(1)} s)`);
  p(`fp16 weight VRAM (accountBytes 'fp16', tied head shared): linears ${mb(fp16.weights_fp16)} MB + embedding ${mb(embFp16)} MB + norms ${mb(norms)} MB = ${mb(FP16)} MB; target ${TARGET}x = ${mb(budget)} MB`);
  p();
  p('| variant | weight bytes | MB | x fp16 | linear bits/weight | embedding | <= 0.45x |');
  p('| --- | ---: | ---: | ---: | ---: | --- | --- |');
  for (const v of variants) p(`| ${v.name} | ${Math.round(v.bytes)} | ${mb(v.bytes)} | ${v.ratio.toFixed(4)} | ${v.linear_bits.toFixed(4)} | ${v.embedding} | ${v.meets_target ? 'yes' : 'no'} |`);
  p();
  p('| kind | tensors | shape | source | H int8 codes (mean) | min | max | Huffman mean bits | max code len | distinct codes | H of source block codes | int8 exact share | int8 max abs err |');
  p('| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const k of perKind)
    p(`| ${k.kind} | ${k.tensors} | ${k.shape} | ${k.source_dtype} | ${k.entropy_bits_mean.toFixed(4)} | ${k.entropy_bits_min.toFixed(4)} | ${k.entropy_bits_max.toFixed(4)} | ${k.huffman_bits_mean.toFixed(4)} | ${k.huffman_max_len} | ${k.distinct_codes_mean.toFixed(1)} | ${k.source_code_entropy_bits_mean.toFixed(4)} | ${k.int8_exact_fraction_mean.toFixed(4)} | ${k.int8_max_abs_err.toExponential(3)} |`);
  p();
  p(`to reach ${TARGET}x: with the fp16 embedding kept, the linears' codes must average ${neededLinearBitsFp16Emb.toFixed(4)} bits/weight (codes, scales extra); with the embedding int8-coded too, all codes ${neededBitsAllCoded.toFixed(4)} bits/weight`);
  p(`B headroom to ${TARGET}x: ${mb(overheads.B_entropy_headroom_bytes)} MB at entropy, ${mb(overheads.B_huffman_headroom_bytes)} MB with Huffman; not in B: embedding row offsets (u32 a row) ${mb(embRowIndex)} MB`);
  p(`fused decode double buffer (accountBytes.decode, not in weightTotal): ${mb(entA.decode)} MB = ${(entA.decode / FP16).toFixed(4)}x fp16 with lm_head fp16; ${mb(entC.decode)} MB = ${(entC.decode / FP16).toFixed(4)}x with lm_head coded`);
  console.log(lines.join('\n'));

  if (opt.json) {
    const out = {
      date: DATE,
      model: 'SmolLM2-135M-Instruct',
      file: DEFAULT_MODEL_FILE,
      command: `node --import tsx scripts/entropy-bound.ts --json ${opt.json}`,
      machine: `${os.cpus()[0]?.model ?? '?'} x ${os.availableParallelism()}, node ${process.version}`,
      weights_note: `Linears are GGUF Q4_1 (fp16 d + fp16 m + 32 4-bit codes per 32 weights, ${bitsPerWeight('q4_1')} bits/weight), the embedding (tied lm_head) GGUF Q8_0 (${bitsPerWeight('q8_0')} bits/weight); LlamaModel.load('default') installs them dequantized to float32, bit-identical to llama.cpp's reference dequantization (checked on ${checkedDequant} tensors).`,
      quant: QUANT,
      huffman_table_bytes: HUFFMAN_TABLE_BYTES,
      target_ratio: TARGET,
      fp16_account: fp16,
      linear_weights: linWeights,
      embedding_weights: embWeights,
      variants,
      needed: {
        linear_bits_with_fp16_embedding: neededLinearBitsFp16Emb,
        all_code_bits_with_coded_embedding: neededBitsAllCoded,
      },
      overheads,
      per_kind: perKind,
      tensors: rows,
    };
    fs.mkdirSync(path.dirname(opt.json), { recursive: true });
    fs.writeFileSync(opt.json, JSON.stringify(out, null, 1) + '\n');
    console.log(`wrote ${opt.json}`);
  }
}

await main();
