/**
 * Opening a model checkpoint: a Hugging Face folder (config.json + safetensors + tokenizer.json), a GGUF file,
 * or a named model ('default' = SmolLM2-135M-Instruct, 'gemma3-270m' = Gemma 3 270M; fetched by `make setup`). The result exposes the weights under canonical
 * (Hugging Face) names and layouts, validated against the config, read lazily.
 */
import fs from 'node:fs';
import path from 'node:path';
import { err, msg, isCodecError } from '../messages.js';
import type { TensorInfo, TensorSource } from '../formats/tensor.js';
import { openGGUF, type GGUFFile } from '../formats/gguf.js';
import { openSafetensors, openShardedSafetensors } from '../formats/safetensors.js';
import { configFromGGUF, configFromHF, type LlamaConfig } from './config.js';
import { expectedTensors, ggufName } from './names.js';
import { tokenizerFromGGUF, tokenizerFromHFJson, type TextTokenizer } from './tokenizer.js';
import { dataDir } from '../util/paths.js';
import { fileKind, ioError, openRegularFile, readRegularFile } from '../util/files.js';

export type CheckpointFormat = 'hf' | 'gguf' | 'cllm';

export interface Checkpoint {
  /** Path as given (resolved for 'default'). */
  readonly file: string;
  readonly format: CheckpointFormat;
  readonly config: LlamaConfig;
  /** Tokenizer from tokenizer.json or GGUF's embedded vocab; null when the checkpoint carries none. */
  readonly tokenizer: TextTokenizer | null;
  /** Weights under canonical names, in Hugging Face layout (GGUF's q/k row permutation undone). */
  readonly weights: TensorSource;
  /** File-level metadata worth showing (GGUF general.*, safetensors __metadata__). */
  readonly metadata: Record<string, string>;
  close(): void;
}

/** GGML block types the engines can keep as stored (the CPU engine's compact storage, the GPU engine's gguf mode). */
export type GgmlBlockType = 'q4_1' | 'q8_0' | 'q5_0' | 'q4_k' | 'q6_k';
/** GGML block types the native CPU engine keeps as stored (native/src/cpu/engine.h IsEngineBlockFormat): all five. */
export type CpuBlockType = GgmlBlockType;
/** Block types an engine may keep as the file's own blocks (CPU: cpu/linear.cc; CUDA: all five, native/src/cuda/gemv_blocks.cu for the last three). */
export const CPU_BLOCK_TYPES: readonly CpuBlockType[] = Object.freeze(['q4_1', 'q8_0', 'q5_0', 'q4_k', 'q6_k'] as const);
const KEPT_BLOCK_TYPES: ReadonlySet<string> = new Set<string>(CPU_BLOCK_TYPES);

/**
 * The checkpoint's raw GGML blocks of tensor `name` when an engine may keep them (q4_1, q8_0, q5_0, q4_k, q6_k); null when it is absent or stored in another dtype.
 * @example
 * ggmlBlocks(model.checkpoint, 'model.layers.0.mlp.up_proj.weight')?.type // 'q4_1' for the default model
 * ggmlBlocks(gemma.checkpoint, 'model.layers.0.mlp.down_proj.weight')?.type // a k-quant
 */
export function ggmlBlocks(ck: Checkpoint, name: string): { type: GgmlBlockType; raw: Uint8Array } | null {
  if (!ck.weights.has(name)) return null;
  const dt = String(ck.weights.info(name).dtype);
  return KEPT_BLOCK_TYPES.has(dt) ? { type: dt as GgmlBlockType, raw: ck.weights.readRaw(name) } : null;
}

export const DEFAULT_MODEL_FILE = 'SmolLM2-135M-Instruct.Q4_1.gguf';

/**
 * Named models: name -> file under data/models/ and the script that fetches it (by package name, sha256 checked).
 * 'default' is SmolLM2-135M-Instruct (Q4_1); 'gemma3-270m' is Gemma 3 270M (Q4_K_M: Q8_0/Q5_0/Q4_K/Q6_K blocks).
 */
export const NAMED_MODELS: Readonly<Record<string, { file: string; fetch: string; what: string }>> = Object.freeze({
  default: { file: DEFAULT_MODEL_FILE, fetch: 'scripts/fetch-default-model.sh', what: 'SmolLM2-135M-Instruct' },
  'gemma3-270m': { file: 'gemma-3-270m-q4_k_m.gguf', fetch: 'scripts/fetch-gemma3-model.sh', what: 'Gemma 3 270M (Q4_K_M)' },
});

/**
 * Resolve a named model ('default', 'gemma3-270m') to its fetched file, checking it exists. Other paths are returned
 * as they are.
 * @example
 * resolveModelPath('default') // '<package>/data/models/SmolLM2-135M-Instruct.Q4_1.gguf'
 * resolveModelPath('gemma3-270m') // '<package>/data/models/gemma-3-270m-q4_k_m.gguf'
 */
export function resolveModelPath(p: string): string {
  const named = Object.hasOwn(NAMED_MODELS, p) ? NAMED_MODELS[p]! : undefined;
  if (!named) return p;
  const f = path.join(dataDir(), 'models', named.file);
  if (!fs.existsSync(f)) throw err('E_DEFAULT_MODEL', msg.namedModelMissing(p, f, named.fetch, named.what));
  return f;
}

/**
 * Open a Hugging Face folder or a GGUF file lazily ('default' resolved). A .cllm container is refused with a pointer:
 * it lives a layer above (src/container/), opened explicitly by `openAnyCheckpoint()` / `load()`.
 * @example
 * const ck = openCheckpoint('default');
 * console.log(ck.config.numLayers, ck.weights.info('model.layers.0.self_attn.q_proj.weight').shape);
 */
export function openCheckpoint(p: string): Checkpoint {
  const file = resolveModelPath(p);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw ioError(file, e);
  }
  if (st.isDirectory()) return openHF(file);
  if (!st.isFile()) throw err('E_IO', msg.notAFileKind(file, fileKind(st))); // a FIFO or device: never opened
  if (file.endsWith('.cllm')) throw err('E_FORMAT', msg.cllmNeedsContainerOpener(file));
  if (file.endsWith('.gguf')) return openGGUFCheckpoint(file);
  // sniff the magic
  const fd = openRegularFile(file);
  const b = Buffer.alloc(4);
  try {
    fs.readSync(fd, b, 0, 4, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (b.toString('latin1') === 'GGUF') return openGGUFCheckpoint(file);
  if (b.toString('latin1') === 'CLLM') throw err('E_FORMAT', msg.cllmNeedsContainerOpener(file));
  throw err('E_FORMAT', msg.unknownModelPath(file));
}

function checkShapes(file: string, cfg: LlamaConfig, src: TensorSource): void {
  const have = new Set(src.list().map((t) => t.name));
  for (const [name, shape] of expectedTensors(cfg)) {
    if (!have.has(name)) throw err('E_SHAPE', msg.missingTensor(file, name));
    const got = src.info(name).shape;
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) throw err('E_SHAPE', msg.shapeMismatch(file, name, shape, got));
  }
}

function openHF(dir: string): Checkpoint {
  const cfgFile = path.join(dir, 'config.json');
  if (!fs.existsSync(cfgFile)) throw err('E_CONFIG', msg.missingConfig(dir));
  let cfgJson: unknown;
  try {
    cfgJson = JSON.parse(readRegularFile(cfgFile).toString('utf8'));
  } catch (e) {
    if (isCodecError(e)) throw e;
    throw err('E_CONFIG', msg.badHeader(cfgFile, `invalid JSON (${(e as Error).message})`));
  }
  const config = configFromHF(cfgJson, cfgFile);
  const single = path.join(dir, 'model.safetensors');
  const index = path.join(dir, 'model.safetensors.index.json');
  let weights: TensorSource;
  let metadata: Record<string, string> = {};
  if (fs.existsSync(single)) {
    const s = openSafetensors(single);
    metadata = { ...s.metadata };
    weights = s;
  } else if (fs.existsSync(index)) weights = openShardedSafetensors(index);
  else throw err('E_IO', msg.missingWeights(dir));
  try {
    checkShapes(weights.file, config, weights);
  } catch (e) {
    weights.close();
    throw e;
  }
  let tokenizer: TextTokenizer | null = null;
  const tj = path.join(dir, 'tokenizer.json');
  if (fs.existsSync(tj)) {
    let json: unknown;
    try {
      json = JSON.parse(readRegularFile(tj).toString('utf8'));
    } catch (e) {
      if (isCodecError(e)) throw e;
      throw err('E_TOKENIZER', msg.badHeader(tj, `invalid JSON (${(e as Error).message})`));
    }
    const tcFile = path.join(dir, 'tokenizer_config.json');
    let tc: unknown;
    if (fs.existsSync(tcFile)) {
      try {
        tc = JSON.parse(readRegularFile(tcFile).toString('utf8'));
      } catch (e) {
        if (isCodecError(e)) throw e;
        throw err('E_TOKENIZER', msg.badHeader(tcFile, `invalid JSON (${(e as Error).message})`));
      }
    }
    tokenizer = tokenizerFromHFJson(json, tj, tc);
  }
  return { file: dir, format: 'hf', config, tokenizer, weights, metadata, close: () => weights.close() };
}

/**
 * Undo llama.cpp's convert-time permutation of q/k rows (HF rotate-half layout -> GGUF interleaved layout).
 * w is (rows, rowBytes) of raw bytes or elements; GGUF row h*hd + 2i + j holds HF row h*hd + j*hd/2 + i.
 * @example
 * const hf = unpermuteRows(ggufQ, 576, 9); // q_proj rows back in Hugging Face order
 */
export function unpermuteRows<T extends Uint8Array | Float32Array>(w: T, rows: number, nHead: number): T {
  const rowLen = w.length / rows;
  const hd = rows / nHead;
  const half = hd / 2;
  const out = new (w.constructor as { new (n: number): T })(w.length);
  for (let h = 0; h < nHead; h++)
    for (let i = 0; i < half; i++)
      for (let j = 0; j < 2; j++) {
        const src = (h * hd + 2 * i + j) * rowLen;
        const dst = (h * hd + j * half + i) * rowLen;
        out.set(w.subarray(src, src + rowLen) as never, dst);
      }
  return out;
}

/** A canonical-name view over a GGUF file. */
class GGUFCanonicalSource implements TensorSource {
  readonly file: string;
  private readonly map = new Map<string, { src: string; permuteHeads: number }>();
  constructor(private readonly g: GGUFFile, cfg: LlamaConfig) {
    this.file = g.file;
    const names = new Set(g.list().map((t) => t.name));
    const permute = cfg.architecture === 'llama';
    for (const canonical of expectedTensors(cfg).keys()) {
      const gn = ggufName(canonical, cfg)!;
      if (!names.has(gn)) continue;
      let heads = 0;
      if (permute && /self_attn\.q_proj\./.test(canonical)) heads = cfg.numHeads;
      if (permute && /self_attn\.k_proj\./.test(canonical)) heads = cfg.numKvHeads;
      this.map.set(canonical, { src: gn, permuteHeads: heads });
    }
  }
  list(): TensorInfo[] {
    return [...this.map.keys()].map((n) => this.info(n));
  }
  has(name: string): boolean {
    return this.map.has(name);
  }
  private entry(name: string) {
    const e = this.map.get(name);
    if (!e) throw err('E_FORMAT', msg.missingTensor(this.file, name));
    return e;
  }
  info(name: string): TensorInfo {
    const e = this.entry(name);
    return { ...this.g.info(e.src), name };
  }
  readRaw(name: string): Uint8Array {
    const e = this.entry(name);
    const raw = this.g.readRaw(e.src);
    return e.permuteHeads ? unpermuteRows(raw, this.g.info(e.src).shape[0]!, e.permuteHeads) : raw;
  }
  readF32(name: string): Float32Array {
    const e = this.entry(name);
    const v = this.g.readF32(e.src);
    return e.permuteHeads ? unpermuteRows(v, this.g.info(e.src).shape[0]!, e.permuteHeads) : v;
  }
  close(): void {
    this.g.close();
  }
}

function openGGUFCheckpoint(file: string): Checkpoint {
  const g = openGGUF(file);
  try {
    const names = new Set(g.list().map((t) => t.name));
    const emb = names.has('token_embd.weight') ? g.info('token_embd.weight').shape[0] : undefined;
    const config = configFromGGUF(g.metadata, names, file, emb);
    const weights = new GGUFCanonicalSource(g, config);
    checkShapes(file, config, weights);
    let tokenizer: TextTokenizer | null = null;
    if (g.metadata.has('tokenizer.ggml.tokens')) tokenizer = tokenizerFromGGUF(g.metadata, file);
    const metadata: Record<string, string> = {};
    for (const [k, v] of g.metadata) if (k.startsWith('general.') && (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint')) metadata[k] = String(v);
    return { file, format: 'gguf', config, tokenizer, weights, metadata, close: () => g.close() };
  } catch (e) {
    g.close();
    if (isCodecError(e)) throw e;
    throw err('E_GGUF', `${file}: ${(e as Error).message}`, e);
  }
}
