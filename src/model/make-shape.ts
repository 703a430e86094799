/**
 * Write a named model shape (shapes.ts) as a Hugging Face checkpoint folder: sharded bf16 safetensors
 * (model-0000k-of-0000n.safetensors + model.safetensors.index.json), config.json, and a real tokenizer.json (the
 * default model's BPE tokenizer, converted from its GGUF metadata, padded with unreachable filler tokens up to the
 * shape's vocabulary size) with tokenizer_config.json.
 *
 * Weights are streamed: each tensor is generated and written in chunks of CHUNK elements, so memory stays at a few MB
 * whatever the model size. Statistics (stated in the safetensors metadata too): norm weights are exactly 1.0; every
 * other tensor is N(0, INIT_STD = 0.02) — Hugging Face Llama's initializer — sampled by inverse CDF from 65536
 * equiprobable quantiles rounded to bf16 (so the tails are cut at ±4.33σ; mean exactly 0, std 0.99997·0.02 before
 * bf16 rounding), indexed by mulberry32 seeded from (seed, tensor name): the same seed gives the same bytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { err, msg } from '../messages.js';
import { f32ToBf16 } from '../formats/dtypes.js';
import { openGGUF } from '../formats/gguf.js';
import { safetensorsPrefix } from '../formats/safetensors.js';
import { mulberry32 } from '../util/random.js';
import { gguf2TokenizerJson } from './tokenizer.js';
import { resolveModelPath, type Checkpoint } from './checkpoint.js';
import { configFromHF } from './config.js';
import { hfConfigOf, INIT_STD, shapeTensors, type ModelShape } from './shapes.js';

const CHUNK = 1 << 22; // elements generated per write (8 MiB of bf16)

/** Inverse standard normal CDF (Acklam's rational approximation, |relative error| < 1.2e-9). */
function normInv(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - lo) return -normInv(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/**
 * bf16 bit patterns of the 65536 equiprobable quantiles of N(0, std): entry i = bf16(std · Φ⁻¹((i + 0.5) / 65536)).
 * @example
 * normalTableBf16(0.02).length // 65536
 */
export function normalTableBf16(std: number): Uint16Array {
  const t = new Uint16Array(65536);
  for (let i = 0; i < 32768; i++) {
    const v = f32ToBf16(std * normInv((i + 0.5) / 65536));
    t[i] = v;
    t[65535 - i] = v ^ 0x8000; // exact symmetry: mean 0
  }
  return t;
}

/** FNV-1a of a string, mixed with the seed: each tensor's own PRNG stream. */
function tensorSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function writeTokenizer(dir: string, tok: ReturnType<typeof tokenizerFiles>): void {
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tok.tokenizer));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tok.config, null, 2) + '\n');
}

/**
 * (Re)write only a shape folder's tokenizer.json + tokenizer_config.json for a vocabulary of `vocabSize`.
 * @example
 * writeShapeTokenizer('data/shapes/llama3.2-1b', 128256);
 */
export function writeShapeTokenizer(dir: string, vocabSize: number): void {
  writeTokenizer(dir, tokenizerFiles(vocabSize));
}

export interface MakeShapeOptions {
  /** PRNG seed (default 0) */
  seed?: number;
  /** largest shard in bytes (default 5e9, Hugging Face's `max_shard_size="5GB"`) */
  shardBytes?: number;
  /** called after each tensor: tensors written, bytes written, totals */
  onProgress?: (p: { tensors: number; totalTensors: number; bytes: number; totalBytes: number }) => void;
}

export interface MakeShapeResult {
  dir: string;
  shards: string[];
  tensors: number;
  weightBytes: number;
  params: number;
}

/**
 * The tokenizer: the default model's (SmolLM2, 49152 tokens), converted from its GGUF metadata to tokenizer.json, with
 * filler tokens `<filler_N>` appended to the BPE vocabulary up to the shape's vocabulary size (no merge produces
 * them, so encoding is unchanged; a random model's output ids decode to them).
 */
function tokenizerFiles(vocabSize: number): { tokenizer: Record<string, unknown>; config: Record<string, unknown>; bos: number | null; eos: number | null } {
  const file = resolveModelPath('default');
  const g = openGGUF(file);
  try {
    const { json, bosId, eosId, addBos } = gguf2TokenizerJson(g.metadata, file);
    const vocab = (json.model as { vocab: Record<string, number> }).vocab;
    const byId = new Map(Object.entries(vocab).map(([k, v]) => [v, k]));
    let top = Math.max(...byId.keys(), ...((json.added_tokens as { id: number }[] | undefined) ?? []).map((t) => t.id));
    while (top + 1 < vocabSize) {
      top++;
      vocab[`<filler_${top}>`] = top;
    }
    const tokenName = (id: number | null) => (id === null ? null : (byId.get(id) ?? null));
    return {
      tokenizer: json,
      config: { add_bos_token: addBos, bos_token: tokenName(bosId), eos_token: tokenName(eosId), clean_up_tokenization_spaces: false, tokenizer_class: 'PreTrainedTokenizerFast' },
      bos: bosId,
      eos: eosId,
    };
  } finally {
    g.close();
  }
}

/** The first m words of buf: the next m values of a tensor's stream (`next`), or m ones. */
function fillChunk(buf: Uint16Array, m: number, fill: 'normal' | 'ones', next: () => number, table: Uint16Array, one: number): void {
  if (fill === 'ones') {
    buf.fill(one, 0, m);
    return;
  }
  let i = 0;
  for (; i + 1 < m; i += 2) {
    const r = next();
    buf[i] = table[r & 0xffff]!;
    buf[i + 1] = table[r >>> 16]!;
  }
  if (i < m) buf[i] = table[next() & 0xffff]!;
}

/**
 * The bf16 bit patterns {@link makeShape} writes for one tensor of `shape` (same seed, same bytes), generated in
 * memory without writing the shape: e.g. one full-size projection of a big shape for a codec experiment.
 * @example
 * shapeTensorBf16(shapeByName('llama3.1-8b'), 'model.layers.0.mlp.down_proj.weight').length // 4096 * 14336
 */
export function shapeTensorBf16(shape: ModelShape, name: string, seed = 0): Uint16Array {
  const t = shapeTensors(shape).find((x) => x.name === name);
  if (!t) throw err('E_ARG', msg.badArg('tensor', `'${name}' is not a tensor of this shape`));
  const count = t.shape.reduce((x, y) => x * y, 1);
  const out = new Uint16Array(count);
  const next = mulberry32(tensorSeed(seed, t.name));
  const table = normalTableBf16(INIT_STD);
  const one = f32ToBf16(1);
  // chunk by chunk as makeShape draws them (CHUNK is even: only a last, odd chunk draws a half-used value)
  for (let off = 0; off < count; off += CHUNK) fillChunk(out.subarray(off), Math.min(CHUNK, count - off), t.fill, next, table, one);
  return out;
}

/**
 * Write `shape` as a sharded bf16 Hugging Face checkpoint into `dir` (created; existing model files there are
 * replaced). Never holds more than one CHUNK of weights in memory.
 * @example
 * makeShape(shapeByName('tiny'), '/tmp/tiny', { seed: 1 }); // then openCheckpoint('/tmp/tiny')
 */
export function makeShape(shape: ModelShape, dir: string, o: MakeShapeOptions = {}): MakeShapeResult {
  const seed = o.seed ?? 0;
  const shardBytes = o.shardBytes ?? 5e9;
  if (!(shardBytes >= 1)) throw err('E_ARG', msg.badArg('shard size', String(shardBytes)));
  if (shape.hidden % shape.heads !== 0) throw err('E_ARG', msg.badArg('shape', `heads (${shape.heads}) must divide hidden (${shape.hidden})`));
  const tensors = shapeTensors(shape);
  // shards: consecutive tensors until the next would pass shardBytes (a tensor larger than that gets its own shard)
  const groups: (typeof tensors)[] = [[]];
  let acc = 0;
  for (const t of tensors) {
    const b = t.shape.reduce((x, y) => x * y, 1) * 2;
    if (acc > 0 && acc + b > shardBytes) {
      groups.push([]);
      acc = 0;
    }
    groups[groups.length - 1]!.push(t);
    acc += b;
  }
  fs.mkdirSync(dir, { recursive: true });
  const tok = tokenizerFiles(shape.vocab);
  const totalBytes = tensors.reduce((s, t) => s + t.shape.reduce((x, y) => x * y, 1) * 2, 0);
  const stats = `norms: 1.0; others: N(0, ${INIT_STD}) by inverse CDF over 65536 bf16 quantiles (tails cut at 4.33 sigma); mulberry32 seeded by (seed, tensor name)`;
  const metadata = { format: 'pt', codecllm_shape_seed: String(seed), codecllm_shape_weights: stats };
  const table = normalTableBf16(INIT_STD);
  const one = f32ToBf16(1);
  const buf = new Uint16Array(CHUNK);
  const bytes = new Uint8Array(buf.buffer);
  const weightMap: Record<string, string> = {};
  const shards: string[] = [];
  let done = 0;
  let written = 0;
  const n = groups.length;
  for (const [k, group] of groups.entries()) {
    const name = `model-${String(k + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
    const file = path.join(dir, name);
    const tmp = file + '.tmp';
    const { prefix } = safetensorsPrefix(group.map((t) => ({ name: t.name, dtype: 'bf16' as const, shape: t.shape })), metadata);
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, prefix);
      for (const t of group) {
        const count = t.shape.reduce((x, y) => x * y, 1);
        const next = mulberry32(tensorSeed(seed, t.name));
        for (let off = 0; off < count; off += CHUNK) {
          const m = Math.min(CHUNK, count - off);
          fillChunk(buf, m, t.fill, next, table, one);
          fs.writeSync(fd, bytes, 0, m * 2);
        }
        weightMap[t.name] = name;
        written += count * 2;
        o.onProgress?.({ tensors: ++done, totalTensors: tensors.length, bytes: written, totalBytes });
      }
    } catch (e) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw e;
    }
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
    shards.push(file);
  }
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: totalBytes }, weight_map: weightMap }, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(hfConfigOf(shape, { bos: tok.bos, eos: tok.eos }), null, 2) + '\n');
  writeTokenizer(dir, tok);
  fs.rmSync(path.join(dir, 'model.safetensors'), { force: true }); // a single-file checkpoint would shadow the index
  return { dir, shards, tensors: tensors.length, weightBytes: totalBytes, params: totalBytes / 2 };
}

/**
 * A header-only checkpoint of `shape`: its config and the tensor list make-shape would write (bf16, HF names), no
 * weights — what resident.ts needs to say how many bytes each engine would keep for a shape too big to write here.
 * Reading a tensor throws E_ARG; open a folder written by {@link makeShape} to read weights.
 * @example
 * residentBytes(shapeCheckpoint(shapeByName('llama3.1-70b'))).native.weight_bytes // ~141e9
 */
export function shapeCheckpoint(shape: ModelShape): Checkpoint {
  const file = 'shape-headers';
  const infos = new Map(shapeTensors(shape).map((t) => [t.name, { name: t.name, dtype: 'bf16' as const, shape: t.shape, byteLength: t.shape.reduce((a, b) => a * b, 1) * 2 }]));
  const noWeights = (): never => {
    throw err('E_ARG', msg.badArg('checkpoint', `${file} holds headers only (write the shape with makeShape to read weights)`));
  };
  const info = (name: string) => infos.get(name) ?? noWeights();
  return {
    file,
    format: 'hf',
    config: configFromHF(hfConfigOf(shape, { bos: null, eos: null }), `${file}/config.json`),
    tokenizer: null,
    metadata: {},
    weights: { file, list: () => [...infos.values()], has: (n: string) => infos.has(n), info, readRaw: noWeights, readF32: noWeights, close() {} },
    close() {},
  };
}
