/**
 * llama.cpp's SentencePiece tokenizer (GGUF `tokenizer.ggml.model = 'llama'`: Llama 1/2, Mistral v1, Gemma), written
 * by hand because no JS library runs it from a GGUF: tokenizers.js has SentencePiece's *Unigram* (Viterbi over
 * scores), but llama.cpp (and SentencePiece's BPE model, which Gemma uses) merges the highest-scoring adjacent pair
 * first; a BPE rebuilt from scores needs every token split into pieces as merges (millions for 262k pieces) and still
 * breaks ties differently. So this is llama.cpp's llm_tokenizer_spm_session, step for step (llama-vocab.cpp):
 *
 *   1. special tokens (control, user-defined, unknown; longest first) are cut out of the raw text (parse_special);
 *   2. each remaining fragment: a ' ' is prepended when `tokenizer.ggml.add_space_prefix` (default true) and the
 *      fragment starts the text or follows a special token; every ' ' becomes '▁' (U+2581);
 *   3. the fragment is split into UTF-8 characters; adjacent pairs whose concatenation is a vocabulary piece go into
 *      a queue ordered by that piece's score (highest first, then leftmost); merge until the queue is empty;
 *   4. every final symbol is its token, or (byte fallback) one `<0xXX>` token per UTF-8 byte.
 *
 * Everything works on UTF-8 bytes (keys are latin1 strings of the bytes), like the C++ code.
 *
 * @example
 * const tok = spmTokenizerFromGGUF(openGGUF('data/models/gemma-3-270m-q4_k_m.gguf').metadata, 'gemma.gguf');
 * tok.encode('Hello world'); // [2, 9259, 1902]  (BOS, 'Hello', '▁world')
 */
import { err, msg } from '../messages.js';
import type { GGUFValue } from '../formats/gguf.js';
import { ggufTokenizerFields, MAX_VOCAB, type TextTokenizer } from './tokenizer.js';

// GGUF token types (llama.cpp's llama_token_type).
const NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, BYTE = 6;

/** One symbol of the merge chain: bytes [start, start + n) of the fragment; n = 0 once merged away. */
interface Sym {
  start: number;
  n: number;
  prev: number;
  next: number;
}
interface Bigram {
  left: number;
  right: number;
  score: number;
  size: number;
}

/** Max-heap on (score desc, left asc): llama.cpp's llm_bigram_spm::comparator. */
class BigramQueue {
  private readonly h: Bigram[] = [];
  get size(): number {
    return this.h.length;
  }
  private static before(a: Bigram, b: Bigram): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }
  push(b: Bigram): void {
    const h = this.h;
    h.push(b);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!BigramQueue.before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  pop(): Bigram {
    const h = this.h;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && BigramQueue.before(h[l]!, h[m]!)) m = l;
        if (r < h.length && BigramQueue.before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** UTF-8 sequence length from the first byte (llama.cpp's unicode_len_utf8). */
function utf8Len(b: number): number {
  return [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4][b >> 4]!;
}

const bytesKey = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

/** The SentencePiece tokenizer of a GGUF (see the module comment). */
export class SpmTokenizer implements TextTokenizer {
  /** UTF-8 bytes of each piece as a latin1 string -> id (the last id wins for a duplicate, as llama.cpp's map). */
  private readonly byBytes = new Map<string, number>();
  /** Special pieces matched in the raw text, longest first (llama.cpp's cache_special_tokens). */
  private readonly specials: { text: string; id: number }[];
  private readonly byteIds = new Int32Array(256).fill(-1);

  constructor(
    private readonly file: string,
    private readonly tokens: readonly string[],
    private readonly scores: Float32Array,
    private readonly types: Int32Array,
    readonly bosId: number | null,
    readonly eosId: number | null,
    readonly addBosDefault: boolean,
    private readonly addSpacePrefix: boolean,
  ) {
    const specials: { text: string; id: number }[] = [];
    for (let i = 0; i < tokens.length; i++) {
      this.byBytes.set(bytesKey(tokens[i]!), i);
      const ty = types[i]!;
      if ((ty === CONTROL || ty === USER_DEFINED || ty === UNKNOWN) && tokens[i] !== '') specials.push({ text: tokens[i]!, id: i });
    }
    specials.sort((a, b) => Buffer.byteLength(b.text) - Buffer.byteLength(a.text)); // stable: ties keep id order
    this.specials = specials;
    for (let b = 0; b < 256; b++) {
      const hex = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
      const id = this.byBytes.get(hex) ?? this.byBytes.get(String.fromCharCode(b));
      if (id !== undefined) this.byteIds[b] = id;
    }
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  encode(text: string, opts?: { addBos?: boolean }): number[] {
    if (typeof text !== 'string') throw err('E_ARG', msg.badArg('text', `expected a string, got ${typeof text}`));
    const out: number[] = [];
    if ((opts?.addBos ?? this.addBosDefault) && this.bosId !== null) out.push(this.bosId);
    let prevSpecial = true;
    for (const f of this.partition(text)) {
      if (typeof f === 'number') {
        out.push(f);
        prevSpecial = true;
        continue;
      }
      let s = this.addSpacePrefix && prevSpecial ? ' ' + f : f;
      s = s.replaceAll(' ', '\u2581');
      this.tokenizeFragment(Buffer.from(s, 'utf8'), out);
      prevSpecial = false;
    }
    return out;
  }

  /** Cut special pieces out of the text, longest piece first (llama.cpp's tokenizer_st_partition, parse_special). */
  private partition(text: string): (string | number)[] {
    let frags: (string | number)[] = text.length ? [text] : [];
    for (const sp of this.specials) {
      if (!text.includes(sp.text)) continue;
      const next: (string | number)[] = [];
      for (const f of frags) {
        if (typeof f === 'number' || !f.includes(sp.text)) {
          next.push(f);
          continue;
        }
        const parts = f.split(sp.text);
        parts.forEach((p, i) => {
          if (i > 0) next.push(sp.id);
          if (p.length) next.push(p);
        });
      }
      frags = next;
    }
    return frags;
  }

  /** llm_tokenizer_spm_session::tokenize on the UTF-8 bytes of one escaped fragment. */
  private tokenizeFragment(b: Buffer, out: number[]): void {
    if (b.length === 0) return;
    const syms: Sym[] = [];
    for (let offs = 0; offs < b.length; ) {
      const n = Math.min(utf8Len(b[offs]!), b.length - offs);
      syms.push({ start: offs, n, prev: syms.length - 1, next: offs + n === b.length ? -1 : syms.length + 1 });
      offs += n;
    }
    const queue = new BigramQueue();
    const revMerge = new Map<string, [number, number]>();
    const tryAdd = (left: number, right: number) => {
      if (left === -1 || right === -1) return;
      const key = b.toString('latin1', syms[left]!.start, syms[left]!.start + syms[left]!.n + syms[right]!.n);
      const id = this.byBytes.get(key);
      if (id === undefined) return;
      queue.push({ left, right, score: this.scores[id]!, size: key.length });
      revMerge.set(key, [left, right]);
    };
    for (let i = 1; i < syms.length; i++) tryAdd(i - 1, i);
    while (queue.size > 0) {
      const bg = queue.pop();
      const l = syms[bg.left]!, r = syms[bg.right]!;
      if (l.n === 0 || r.n === 0 || l.n + r.n !== bg.size) continue;
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) syms[r.next]!.prev = bg.left;
      tryAdd(l.prev, bg.left);
      tryAdd(bg.left, l.next);
    }
    const resegment = (s: Sym) => {
      const key = b.toString('latin1', s.start, s.start + s.n);
      const id = this.byBytes.get(key);
      if (id !== undefined) return void out.push(id);
      const p = revMerge.get(key);
      if (p === undefined) {
        for (let j = 0; j < s.n; j++) out.push(this.byteToken(b[s.start + j]!));
        return;
      }
      resegment(syms[p[0]]!);
      resegment(syms[p[1]]!);
    };
    for (let i = 0; i !== -1; i = syms[i]!.next) resegment(syms[i]!);
  }

  private byteToken(byte: number): number {
    const id = this.byteIds[byte]!;
    if (id < 0) throw err('E_TOKENIZER', msg.tokenizerBadField(this.file, 'tokenizer.ggml.tokens', `has no byte-fallback piece <0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`));
    return id;
  }

  /** llama.cpp's token_to_piece: '▁' -> ' ', <0xXX> -> the byte, control pieces only when not skipped. */
  decode(ids: number[], opts?: { skipSpecial?: boolean }): string {
    const parts: Buffer[] = [];
    for (const id of ids) {
      this.checkId(id);
      const ty = this.types[id]!;
      const t = this.tokens[id]!;
      if (ty === BYTE) {
        const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(t);
        parts.push(m ? Buffer.of(parseInt(m[1]!, 16)) : Buffer.from(t, 'utf8'));
      } else if (ty === CONTROL) {
        if (!opts?.skipSpecial) parts.push(Buffer.from(t, 'utf8'));
      } else if (ty === UNKNOWN) parts.push(Buffer.from('\u2585', 'utf8'));
      else if (ty === USER_DEFINED) parts.push(Buffer.from(t, 'utf8'));
      else parts.push(Buffer.from(t.replaceAll('\u2581', ' '), 'utf8'));
    }
    let s = Buffer.concat(parts).toString('utf8');
    if (this.addSpacePrefix && s.startsWith(' ')) s = s.slice(1);
    return s;
  }

  tokenToString(id: number): string {
    this.checkId(id);
    return this.tokens[id]!;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.tokens.length) throw err('E_ARG', msg.badArg('token id', `${String(id)} is out of range [0, ${this.tokens.length})`));
  }
}

/**
 * The SentencePiece tokenizer embedded in a GGUF (`tokenizer.ggml.model = 'llama'`): pieces, scores, token types,
 * special ids, add_bos / add_space_prefix, each checked with a one-line E_TOKENIZER naming file and key.
 * @example
 * const g = openGGUF('data/models/gemma-3-270m-q4_k_m.gguf');
 * spmTokenizerFromGGUF(g.metadata, g.file).encode('3.14', { addBos: false }); // one id per digit and '.'
 */
export function spmTokenizerFromGGUF(meta: Map<string, GGUFValue>, file: string): SpmTokenizer {
  const f = ggufTokenizerFields(meta, file);
  const tokens = f.tokens;
  const n = tokens.length;
  if (n > MAX_VOCAB) throw err('E_TOKENIZER', msg.tooLarge(file, 'tokenizer.ggml.tokens count', n, MAX_VOCAB));
  const sr = meta.get('tokenizer.ggml.scores');
  const scoresRaw = Array.isArray(sr) && sr.length === n ? sr : f.bad('tokenizer.ggml.scores', `must be an array of ${n} numbers (one per token), got ${f.describe(sr)}`);
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = scoresRaw[i];
    if (typeof v !== 'number' || Number.isNaN(v)) f.bad('tokenizer.ggml.scores', `entry ${i} must be a number, got ${f.describe(v)}`);
    scores[i] = v as number;
  }
  const tr = meta.get('tokenizer.ggml.token_type');
  const types = new Int32Array(n).fill(NORMAL);
  if (tr !== undefined) {
    const typesRaw = Array.isArray(tr) && tr.length === n ? tr : f.bad('tokenizer.ggml.token_type', `must be an array of ${n} integers (one per token), got ${f.describe(tr)}`);
    for (let i = 0; i < n; i++) {
      const v = typesRaw[i];
      if (typeof v !== 'number' || !Number.isInteger(v)) f.bad('tokenizer.ggml.token_type', `entry ${i} must be an integer, got ${f.describe(v)}`);
      types[i] = v as number;
    }
  }
  const addSpacePrefix = f.optBool('tokenizer.ggml.add_space_prefix') ?? true;
  return new SpmTokenizer(file, tokens, scores, types, f.bosId, f.eosId, f.optBool('tokenizer.ggml.add_bos_token') ?? true, addSpacePrefix);
}
