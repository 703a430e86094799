/**
 * Text tokenizers: Hugging Face `tokenizer.json` files and the vocabularies embedded in GGUF files, both run by the
 * well-kept `@huggingface/tokenizers` library (pure JS, the Transformers.js tokenizer core).
 *
 * GGUF carries no tokenizer.json; it carries the pieces (`tokenizer.ggml.tokens`, `.merges`, `.token_type`, special ids,
 * and `tokenizer.ggml.pre`, the name of the pre-tokenizer regex set llama.cpp applies). `gguf2TokenizerJson` rebuilds
 * the equivalent tokenizer.json object from them, so both paths share one engine. What is written here by hand is only
 * that translation (no library does it in JS) and the small `TextTokenizer` wrapper (BOS handling, id checks, errors).
 *
 * Supported GGUF tokenizers: `tokenizer.ggml.model = 'gpt2'` (byte-level BPE) with the `tokenizer.ggml.pre` values in
 * `GGUF_PRE_TOKENIZERS` (each mapped to the Hugging Face pre-tokenizer that llama.cpp's regexes in llama-vocab.cpp
 * reproduce), and SentencePiece ('llama', tokenizer-spm.ts: llama.cpp's algorithm by hand). WordPiece ('bert') and
 * others raise E_TOKENIZER.
 *
 * Special tokens written in the text (e.g. `<|im_start|>`) are parsed as their ids, as Hugging Face tokenizers do
 * (llama.cpp's `parse_special = true`).
 *
 * @example
 * const gguf = openGGUF('data/models/SmolLM2-135M-Instruct.Q4_1.gguf');
 * const tok = tokenizerFromGGUF(gguf.metadata, gguf.file);
 * tok.encode('Hello world'); // [19556, 905]
 * tok.decode([19556, 905]); // 'Hello world'
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { checkMerges, hfMergePairs } from './tokenizer-check.js';
import { err, msg } from '../messages.js';
import type { GGUFValue } from '../formats/gguf.js';
import { spmTokenizerFromGGUF } from './tokenizer-spm.js';

export type { GGUFValue };

/** Largest vocabulary accepted (ids must fit well inside int32; real vocabularies are < 1M). */
export const MAX_VOCAB = 1 << 24;

/** A text tokenizer: text ⇄ token ids. */
export interface TextTokenizer {
  /** Token ids of `text`. `addBos` defaults to the model's own setting (GGUF `tokenizer.ggml.add_bos_token`). */
  encode(text: string, opts?: { addBos?: boolean }): number[];
  /** Text of `ids`. `skipSpecial` drops special (control) tokens such as `<|im_end|>`. */
  decode(ids: number[], opts?: { skipSpecial?: boolean }): string;
  readonly bosId: number | null;
  readonly eosId: number | null;
  /** Number of ids (max id + 1); the embedding table must have at least this many rows. */
  readonly vocabSize: number;
  /** Whether `encode` prepends BOS when not told otherwise. */
  readonly addBosDefault: boolean;
  /** The vocabulary entry of `id`, as stored (byte-level BPE shows a space as 'Ġ'). */
  tokenToString(id: number): string;
}

/** How a GGUF `tokenizer.ggml.pre` name maps to Hugging Face components. */
interface PreSpec {
  readonly preTokenizer: object;
  readonly normalizer: object | null;
  /** BPE `ignore_merges` (llama.cpp sets it for the llama3 family). */
  readonly ignoreMerges: boolean;
  /** llama.cpp's add_bos default for this pre type (the GGUF key `tokenizer.ggml.add_bos_token` overrides it). */
  readonly addBos: boolean;
}

// The GPT-2 regex (llama.cpp: LLAMA_VOCAB_PRE_TYPE_GPT2; HF: ByteLevel with use_regex).
const GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
// The Llama 3 regex, as in Meta's tokenizer.json (llama.cpp rewrites the (?i:) group by hand; same language).
const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// The Qwen2 regex, as in Qwen2's tokenizer.json (single digits).
const QWEN2_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
const isolated = (regex: string) => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false });

const GPT2: PreSpec = { preTokenizer: byteLevel(true), normalizer: null, ignoreMerges: false, addBos: false };
// llama.cpp splits '\p{N}' first, then the GPT-2 regex == HF Sequence[Digits(individual_digits), ByteLevel]
// (written as Split '\p{N}': see `fixDigits` for why).
const DIGITS_GPT2: PreSpec = {
  preTokenizer: { type: 'Sequence', pretokenizers: [isolated('\\p{N}'), byteLevel(true)] },
  normalizer: null,
  ignoreMerges: false,
  addBos: false,
};
const llama3 = (ignoreMerges: boolean, addBos: boolean): PreSpec => ({
  preTokenizer: { type: 'Sequence', pretokenizers: [isolated(LLAMA3_REGEX), byteLevel(false)] },
  normalizer: null,
  ignoreMerges,
  addBos,
});
// Qwen2's tokenizer.json also NFC-normalizes (llama.cpp does not; they differ only on non-NFC input).
const QWEN2: PreSpec = {
  preTokenizer: { type: 'Sequence', pretokenizers: [isolated(QWEN2_REGEX), byteLevel(false)] },
  normalizer: { type: 'NFC' },
  ignoreMerges: false,
  addBos: false,
};
// llama.cpp's fallback for a missing or 'default' pre type: four regexes applied one after another, each keeping
// the unmatched text as pieces too (== HF Split 'Isolated').
const DEFAULT: PreSpec = {
  preTokenizer: {
    type: 'Sequence',
    pretokenizers: [
      isolated('[\\p{P}\\$\\+<=>\\^~\\|]+'),
      isolated(GPT2_REGEX),
      isolated('\\p{N}+'),
      isolated('[0-9][0-9][0-9]'),
      byteLevel(false),
    ],
  },
  normalizer: null,
  ignoreMerges: false,
  addBos: false,
};

/**
 * GGUF `tokenizer.ggml.pre` values understood by `tokenizerFromGGUF`, grouped as llama.cpp's llama-vocab.cpp groups
 * them (same regex list ⇒ same tokens). '' stands for a missing key (llama.cpp then uses 'default').
 */
export const GGUF_PRE_TOKENIZERS: Readonly<Record<string, PreSpec>> = Object.freeze({
  '': DEFAULT,
  default: DEFAULT,
  'gpt-2': GPT2,
  'phi-2': GPT2,
  mpt: GPT2,
  olmo: GPT2,
  jais: GPT2,
  smollm: DIGITS_GPT2,
  starcoder: DIGITS_GPT2,
  refact: DIGITS_GPT2,
  'command-r': DIGITS_GPT2,
  codeshell: DIGITS_GPT2,
  exaone: DIGITS_GPT2,
  'minerva-7b': DIGITS_GPT2,
  llama3: llama3(true, true),
  'llama-v3': llama3(true, true),
  'llama-bpe': llama3(true, true),
  falcon3: llama3(true, true),
  dbrx: llama3(false, false),
  'smaug-bpe': llama3(false, false),
  qwen2: QWEN2,
  'deepseek-r1-qwen': QWEN2,
  megrez: QWEN2,
});

// GGUF token types (llama.cpp's llama_token_type).
const TOKEN_TYPE_CONTROL = 3;
const TOKEN_TYPE_USER_DEFINED = 4;

// --- metadata readers (each rejects a wrong type with a one-line error naming the file and key)

function badField(file: string, key: string, detail: string): never {
  throw err('E_TOKENIZER', msg.tokenizerBadField(file, key, detail));
}

function optString(meta: Map<string, GGUFValue>, file: string, key: string): string | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') badField(file, key, `must be a string, got ${describe(v)}`);
  return v;
}

function optBool(meta: Map<string, GGUFValue>, file: string, key: string): boolean | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') badField(file, key, `must be a boolean, got ${describe(v)}`);
  return v;
}

/** An optional token id: an integer in [0, n). */
function optId(meta: Map<string, GGUFValue>, file: string, key: string, n: number): number | null {
  const v = meta.get(key);
  if (v === undefined) return null;
  const id = toInt(v);
  if (id === null || id < 0 || id >= n) badField(file, key, `must be a token id in [0, ${n}), got ${describe(v)}`);
  return id;
}

function stringArray(meta: Map<string, GGUFValue>, file: string, key: string): string[] | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) badField(file, key, `must be an array of strings, got ${describe(v)}`);
  if (v.length > MAX_VOCAB) throw err('E_TOKENIZER', msg.tooLarge(file, `${key} count`, v.length, MAX_VOCAB));
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'string') badField(file, key, `entry ${i} must be a string, got ${describe(v[i]!)}`);
  }
  return v as string[];
}

function toInt(v: GGUFValue): number | null {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  return null;
}

/** A token or string for a one-line message: quoted, control characters escaped, cut at 40 characters. */
function q(s: string): string {
  return `'${JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s).slice(1, -1)}'`;
}

function describe(v: GGUFValue): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return q(v);
  return `${typeof v} ${String(v)}`;
}

/**
 * The fields every GGUF tokenizer shares, read and checked once (pieces, BOS/EOS/UNK/PAD ids in range), plus the
 * checked readers, for the tokenizer kinds built elsewhere (tokenizer-spm.ts).
 * @example
 * const f = ggufTokenizerFields(g.metadata, g.file); f.tokens.length; f.optBool('tokenizer.ggml.add_bos_token');
 */
export function ggufTokenizerFields(meta: Map<string, GGUFValue>, file: string) {
  const tokens = stringArray(meta, file, 'tokenizer.ggml.tokens');
  if (tokens === undefined || tokens.length === 0) throw err('E_TOKENIZER', msg.tokenizerMissingVocab(file));
  const n = tokens.length;
  const bosId = optId(meta, file, 'tokenizer.ggml.bos_token_id', n);
  const eosId = optId(meta, file, 'tokenizer.ggml.eos_token_id', n);
  const unkId = optId(meta, file, 'tokenizer.ggml.unknown_token_id', n);
  optId(meta, file, 'tokenizer.ggml.padding_token_id', n); // validated only
  return {
    tokens,
    bosId,
    eosId,
    unkId,
    optBool: (key: string) => optBool(meta, file, key),
    bad: (key: string, detail: string): never => badField(file, key, detail),
    describe: (v: GGUFValue | undefined) => (v === undefined ? 'nothing' : describe(v)),
  };
}

/**
 * Build the Hugging Face tokenizer.json object equivalent to a GGUF's embedded tokenizer, plus the BOS/EOS facts the
 * tokenizer.json format keeps elsewhere (tokenizer_config.json).
 *
 * @example
 * const { json, bosId, addBos } = gguf2TokenizerJson(gguf.metadata, 'model.gguf');
 * JSON.stringify(json); // a tokenizer.json the Python `tokenizers` library also loads
 */
export function gguf2TokenizerJson(
  meta: Map<string, GGUFValue>,
  file: string,
): { json: Record<string, unknown>; bosId: number | null; eosId: number | null; addBos: boolean; pre: string } {
  const model = optString(meta, file, 'tokenizer.ggml.model');
  if (model === undefined) badField(file, 'tokenizer.ggml.model', 'is missing');
  if (model !== 'gpt2') throw err('E_TOKENIZER', msg.tokenizerUnsupported(file, model));
  const tokens = stringArray(meta, file, 'tokenizer.ggml.tokens');
  if (tokens === undefined || tokens.length === 0) throw err('E_TOKENIZER', msg.tokenizerMissingVocab(file));
  const merges = stringArray(meta, file, 'tokenizer.ggml.merges');
  if (merges === undefined) badField(file, 'tokenizer.ggml.merges', 'is missing (required for gpt2 BPE)');
  const pre = optString(meta, file, 'tokenizer.ggml.pre') ?? '';
  const spec = Object.hasOwn(GGUF_PRE_TOKENIZERS, pre) ? GGUF_PRE_TOKENIZERS[pre]! : undefined;
  if (spec === undefined) {
    const names = Object.keys(GGUF_PRE_TOKENIZERS).filter((k) => k !== '');
    throw err('E_TOKENIZER', msg.tokenizerUnsupportedPre(file, pre, names));
  }

  const n = tokens.length;
  let types: (number | null)[] | undefined;
  const rawTypes = meta.get('tokenizer.ggml.token_type');
  if (rawTypes !== undefined) {
    if (!Array.isArray(rawTypes) || rawTypes.length !== n)
      badField(file, 'tokenizer.ggml.token_type', `must be an array of ${n} integers (one per token), got ${describe(rawTypes)}`);
    types = rawTypes.map(toInt);
  }

  // vocab: token -> id. A null-prototype object, so a token named '__proto__' is an ordinary key.
  const vocab: Record<string, number> = Object.create(null);
  for (let i = 0; i < n; i++) {
    const t = tokens[i]!;
    if (vocab[t] !== undefined) badField(file, 'tokenizer.ggml.tokens', `has duplicate token ${q(t)} (ids ${vocab[t]} and ${i})`);
    vocab[t] = i;
  }

  // merges: 'left right', split at the first space after position 0 (llama.cpp's rule; a token may start with ' ').
  const mergePairs: [string, string][] = new Array(merges.length);
  for (let i = 0; i < merges.length; i++) {
    const m = merges[i]!;
    const at = m.indexOf(' ', 1);
    if (at < 0) badField(file, 'tokenizer.ggml.merges', `entry ${i} is not 'left right': ${q(m)}`);
    mergePairs[i] = [m.slice(0, at), m.slice(at + 1)];
  }
  checkMerges(file, (p) => vocab[p] !== undefined, mergePairs); // a merge into a missing piece drops text silently

  const bosId = optId(meta, file, 'tokenizer.ggml.bos_token_id', n);
  const eosId = optId(meta, file, 'tokenizer.ggml.eos_token_id', n);
  const unkId = optId(meta, file, 'tokenizer.ggml.unknown_token_id', n);
  optId(meta, file, 'tokenizer.ggml.padding_token_id', n); // validated only
  const addBos = optBool(meta, file, 'tokenizer.ggml.add_bos_token') ?? spec.addBos;

  // Control tokens become special added tokens; user-defined ones plain added tokens. Both are matched in the raw
  // text before pre-tokenization, as llama.cpp's tokenizer_st_partition does.
  const added: object[] = [];
  if (types) {
    for (let i = 0; i < n; i++) {
      const ty = types[i];
      if ((ty === TOKEN_TYPE_CONTROL || ty === TOKEN_TYPE_USER_DEFINED) && tokens[i] !== '') {
        added.push({
          id: i,
          content: tokens[i],
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: false,
          special: ty === TOKEN_TYPE_CONTROL,
        });
      }
    }
  }

  const json: Record<string, unknown> = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: spec.normalizer,
    pre_tokenizer: spec.preTokenizer,
    post_processor: null, // BOS is added by TextTokenizer.encode
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unkId === null ? null : tokens[unkId],
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: spec.ignoreMerges,
      vocab,
      merges: mergePairs,
    },
  };
  return { json, bosId, eosId, addBos, pre };
}

/**
 * The tokenizer embedded in a GGUF file's metadata (see `GGUF_PRE_TOKENIZERS` for what is supported).
 *
 * @example
 * const g = openGGUF('model.gguf');
 * const tok = tokenizerFromGGUF(g.metadata, 'model.gguf');
 * tok.encode('3.14'); // digits are single tokens for SmolLM2: [35, 30, 33, 36]
 */
export function tokenizerFromGGUF(meta: Map<string, GGUFValue>, file: string): TextTokenizer {
  if (optString(meta, file, 'tokenizer.ggml.model') === 'llama') return spmTokenizerFromGGUF(meta, file);
  const { json, bosId, eosId, addBos } = gguf2TokenizerJson(meta, file);
  const tok = construct(json, { clean_up_tokenization_spaces: false }, file);
  return new HFTextTokenizer(file, tok, bosId, eosId, addBos, (meta.get('tokenizer.ggml.tokens') as string[]).length);
}

/**
 * A Hugging Face tokenizer from a parsed tokenizer.json, and optionally its tokenizer_config.json (which holds
 * `bos_token`, `eos_token`, `add_bos_token`, `clean_up_tokenization_spaces`). The tokenizer.json post-processor is not
 * run: BOS is prepended by `encode` when `addBos` (default: tokenizer_config's `add_bos_token`, else whether the
 * post-processor template starts with a special token).
 *
 * @example
 * const json = JSON.parse(fs.readFileSync('model/tokenizer.json', 'utf8'));
 * const tok = tokenizerFromHFJson(json, 'model/tokenizer.json');
 * tok.decode(tok.encode('Hello')); // 'Hello'
 */
export function tokenizerFromHFJson(json: unknown, file: string, config?: unknown): TextTokenizer {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw err('E_TOKENIZER', msg.tokenizerBadJson(file, 'not a JSON object'));
  const j = json as Record<string, unknown>;
  const m = j['model'] as Record<string, unknown> | undefined;
  if (m === null || typeof m !== 'object') throw err('E_TOKENIZER', msg.tokenizerBadJson(file, "missing 'model'"));
  const vocab = m['vocab'];
  if (vocab === null || typeof vocab !== 'object') throw err('E_TOKENIZER', msg.tokenizerBadJson(file, "missing 'model.vocab'"));
  if (m['type'] === 'BPE' && !Array.isArray(m['merges'])) throw err('E_TOKENIZER', msg.tokenizerBadJson(file, "BPE 'model.merges' is not an array"));
  const added = j['added_tokens'] ?? [];
  if (!Array.isArray(added)) throw err('E_TOKENIZER', msg.tokenizerBadJson(file, "'added_tokens' is not an array"));

  // Every id must be an integer in [0, MAX_VOCAB): the library indexes arrays by id.
  let maxId = -1;
  const checkId = (id: unknown, what: string) => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= MAX_VOCAB)
      throw err('E_TOKENIZER', msg.tokenizerBadJson(file, `${what} has id ${String(id)}, expected an integer in [0, ${MAX_VOCAB})`));
    if (id > maxId) maxId = id;
  };
  const entries: [string, unknown][] = Array.isArray(vocab)
    ? (vocab as unknown[]).map((e, i) => [String(Array.isArray(e) ? e[0] : i), i]) // Unigram: [[piece, score], ...]
    : Object.entries(vocab);
  for (const [t, id] of entries) checkId(id, `token ${q(t)}`);
  for (const a of added) {
    if (a === null || typeof a !== 'object' || typeof (a as Record<string, unknown>)['content'] !== 'string')
      throw err('E_TOKENIZER', msg.tokenizerBadJson(file, 'an added token has no string content'));
    checkId((a as Record<string, unknown>)['id'], `added token ${q(String((a as Record<string, unknown>)['content']))}`);
  }
  if (maxId < 0) throw err('E_TOKENIZER', msg.tokenizerBadJson(file, 'empty vocabulary'));
  if (m['type'] === 'BPE' && !Array.isArray(vocab)) {
    const v = vocab as Record<string, unknown>;
    checkMerges(file, (p) => Object.hasOwn(v, p), hfMergePairs(file, m['merges'] as unknown[]));
  }

  const cfg = (config !== null && typeof config === 'object' ? config : {}) as Record<string, unknown>;
  const tokenName = (v: unknown): string | undefined =>
    typeof v === 'string' ? v : v !== null && typeof v === 'object' && typeof (v as Record<string, unknown>)['content'] === 'string' ? ((v as Record<string, unknown>)['content'] as string) : undefined;

  // The post-processor's leading special token (Llama 3: '<|begin_of_text|>'), if it has one.
  let templateBos: string | undefined;
  const pp = j['post_processor'] as Record<string, unknown> | null | undefined;
  if (pp && pp['type'] === 'TemplateProcessing' && Array.isArray(pp['single'])) {
    const first = (pp['single'] as Record<string, Record<string, unknown>>[])[0];
    if (first && first['SpecialToken'] && typeof first['SpecialToken']['id'] === 'string') templateBos = first['SpecialToken']['id'];
  }

  const tok = construct(
    // Components a file leaves out are absent (null); the library insists on the keys.
    { normalizer: null, decoder: null, ...j, pre_tokenizer: fixDigits(j['pre_tokenizer'] ?? null), post_processor: null, added_tokens: added },
    { clean_up_tokenization_spaces: typeof cfg['clean_up_tokenization_spaces'] === 'boolean' ? cfg['clean_up_tokenization_spaces'] : false },
    file,
  );
  const idOf = (name: string | undefined) => (name === undefined ? null : tok.token_to_id(name) ?? null);
  for (const k of ['bos_token', 'eos_token'] as const) {
    const name = tokenName(cfg[k]);
    if (name !== undefined && idOf(name) === null) throw err('E_TOKENIZER', msg.tokenizerSpecialMissing(file, `tokenizer_config ${k}`, JSON.stringify(name)));
  }
  const bosId = idOf(tokenName(cfg['bos_token'])) ?? idOf(templateBos);
  const eosId = idOf(tokenName(cfg['eos_token']));
  const addBos = typeof cfg['add_bos_token'] === 'boolean' ? cfg['add_bos_token'] : templateBos !== undefined && idOf(templateBos) !== null;
  return new HFTextTokenizer(file, tok, bosId, eosId, addBos, maxId + 1);
}

/**
 * Rewrite HF `Digits` pre-tokenizers as the equivalent `Split` on `\p{N}` (Isolated). Rust `tokenizers` splits on
 * `char::is_numeric` (Unicode Nd, Nl, No: '½', '²', '١', '４'), as llama.cpp's `\p{N}` does, but tokenizers.js 0.2.0
 * builds Digits from JS `\d`, which is ASCII-only even with the u flag, so '½' would stay glued to its neighbours.
 */
function fixDigits(pre: unknown): unknown {
  if (pre === null || typeof pre !== 'object') return pre;
  const p = pre as Record<string, unknown>;
  if (p['type'] === 'Digits') return isolated(p['individual_digits'] === true ? '\\p{N}' : '\\p{N}+');
  if (p['type'] === 'Sequence' && Array.isArray(p['pretokenizers'])) return { ...p, pretokenizers: p['pretokenizers'].map(fixDigits) };
  return pre;
}

/** Build the library tokenizer; its own errors (TypeError on odd JSON) become one-line E_TOKENIZER errors. */
function construct(json: object, config: object, file: string): Tokenizer {
  try {
    return new Tokenizer(json, config);
  } catch (e) {
    throw err('E_TOKENIZER', msg.tokenizerBadJson(file, e instanceof Error ? e.message : String(e)), e);
  }
}

class HFTextTokenizer implements TextTokenizer {
  constructor(
    private readonly file: string,
    private readonly tok: Tokenizer,
    readonly bosId: number | null,
    readonly eosId: number | null,
    readonly addBosDefault: boolean,
    readonly vocabSize: number,
  ) {}

  encode(text: string, opts?: { addBos?: boolean }): number[] {
    if (typeof text !== 'string') throw err('E_ARG', msg.badArg('text', `expected a string, got ${typeof text}`));
    const ids = text.length === 0 ? [] : this.run('encode', () => this.tok.encode(text, { add_special_tokens: false }).ids);
    if ((opts?.addBos ?? this.addBosDefault) && this.bosId !== null) ids.unshift(this.bosId);
    return ids;
  }

  decode(ids: number[], opts?: { skipSpecial?: boolean }): string {
    for (const id of ids) this.checkId(id);
    if (ids.length === 0) return ''; // the library rejects an empty list
    return this.run('decode', () => this.tok.decode(ids, { skip_special_tokens: opts?.skipSpecial ?? false }));
  }

  tokenToString(id: number): string {
    this.checkId(id);
    const s = this.tok.id_to_token(id);
    if (s === undefined) throw err('E_ARG', msg.badArg('token id', `${id} has no vocabulary entry`));
    return s;
  }

  /** Run the library; an error inside it (a component configured in a way it cannot run) becomes E_TOKENIZER. */
  private run<T>(what: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      throw err('E_TOKENIZER', msg.tokenizerBadJson(this.file, `${what} failed: ${e instanceof Error ? e.message : String(e)}`), e);
    }
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize)
      throw err('E_ARG', msg.badArg('token id', `${String(id)} is out of range [0, ${this.vocabSize})`));
  }
}
