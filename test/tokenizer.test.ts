/**
 * Tokenizer tests.
 *  1. A tiny hand-made byte-level BPE vocabulary built in-process (no model needed): exact ids worked out by hand
 *     from the merge ranks, per pre-tokenizer; BOS handling; special and user-defined tokens; exact error messages.
 *  1b. A 256-byte vocabulary (data/reference/tokenizer-tiny.json) against llama.cpp's ids under each supported
 *     `tokenizer.ggml.pre` family (made by scripts/reference/tokenizer_ids.py --tiny).
 *  2. The default model (SmolLM2-135M-Instruct GGUF, fetched by `make setup`): ids equal the stored reference
 *     (data/reference/tokenizer-smollm2.json, made by scripts/reference/tokenizer_ids.py with transformers/tokenizers,
 *     cross-checked with llama.cpp) on every case, and decode(encode(x)) == x.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import {
  tokenizerFromGGUF,
  tokenizerFromHFJson,
  gguf2TokenizerJson,
  type GGUFValue,
  type TextTokenizer,
} from '../src/model/tokenizer.js';
import { CodecLLMError } from '../src/messages.js';
import { openGGUF, encodeGGUF, parseGGUF } from '../src/formats/gguf.js';

// --- 1. tiny vocabulary -------------------------------------------------------------------------------------------

// id: token. 'Ġ' is the byte-level symbol of a space.
const TINY_TOKENS = [
  '<|endoftext|>', // 0 control
  '<|im_start|>', // 1 control
  'h', 'e', 'l', 'o', 'Ġ', 'w', 'r', 'd', '1', '2', // 2..11
  'he', 'll', 'hell', 'hello', // 12..15
  'Ġw', 'or', 'Ġwor', 'Ġworl', 'Ġworld', // 16..20
  'Ġ1', 'ĠĠ', // 21, 22
  '<tool>', // 23 user-defined
  'Â', '½', 'ĠÂ', 'ĠÂ½', 'Â½', // 24..28: '½' is UTF-8 C2 BD, byte-level 'Â½'
];
const TINY_MERGES = ['h e', 'l l', 'he ll', 'hell o', 'Ġ w', 'o r', 'Ġw or', 'Ġwor l', 'Ġworl d', 'Ġ 1', 'Ġ Ġ', 'Ġ Â', 'ĠÂ ½', 'Â ½'];
const TINY_TYPES = TINY_TOKENS.map((t, i) => (i <= 1 ? 3 : t === '<tool>' ? 4 : 1));

function tinyMeta(over: Record<string, GGUFValue | undefined> = {}): Map<string, GGUFValue> {
  const base: Record<string, GGUFValue | undefined> = {
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.pre': 'smollm',
    'tokenizer.ggml.tokens': TINY_TOKENS,
    'tokenizer.ggml.merges': TINY_MERGES,
    'tokenizer.ggml.token_type': TINY_TYPES,
    'tokenizer.ggml.bos_token_id': 1,
    'tokenizer.ggml.eos_token_id': 0n, // GGUF u64 values arrive as bigint
    'tokenizer.ggml.add_bos_token': false,
    ...over,
  };
  const m = new Map<string, GGUFValue>();
  for (const [k, v] of Object.entries(base)) if (v !== undefined) m.set(k, v);
  return m;
}

function throwsExact(fn: () => unknown, code: string, message: string) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CodecLLMError, `expected CodecLLMError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.message, message);
    return true;
  });
}

describe('tokenizer: tiny hand-made vocabulary', () => {
  const smol = tokenizerFromGGUF(tinyMeta(), 'tiny.gguf');
  const gpt2 = tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.pre': 'gpt-2' }), 'tiny.gguf');

  test('merges apply in rank order', () => {
    // 'hello' -> h e l l o -> he l l o -> he ll o -> hell o -> hello; ' world' -> Ġ w o r l d -> ... -> Ġworld
    assert.deepEqual(smol.encode('hello world'), [15, 20]);
    assert.deepEqual(smol.encode('hell'), [14]);
    assert.deepEqual(smol.encode('held'), [12, 4, 9]);
  });

  test("'smollm' splits digits before the GPT-2 regex; 'gpt-2' does not", () => {
    // smollm: 'hello ' | '1' -> hello, Ġ, 1.   gpt-2: 'hello', ' 1' -> hello, Ġ1
    assert.deepEqual(smol.encode('hello 1'), [15, 6, 10]);
    assert.deepEqual(gpt2.encode('hello 1'), [15, 21]);
    // smollm: '  ' | '1' | '2' -> ĠĠ, 1, 2.   gpt-2: ' ' (\s+(?!\S)), ' 12' -> Ġ, Ġ1, 2
    assert.deepEqual(smol.encode('  12'), [22, 10, 11]);
    assert.deepEqual(gpt2.encode('  12'), [6, 21, 11]);
  });

  test('llama-bpe, qwen2 and default regexes split as llama.cpp does', () => {
    const with_ = (pre: string) => tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.pre': pre }), 'tiny.gguf');
    // llama3/qwen2: '  12' -> ' ' (\s+ fallback: the lone space before a digit), ' ' , '12' ('\p{N}{1,3}' / '\p{N}')
    // -> Ġ, Ġ, 1, 2 (no ĠĠ merge across pieces; no Ġ1 since the digit piece has no space)
    for (const pre of ['llama-bpe', 'qwen2', 'default']) {
      const t = with_(pre);
      assert.deepEqual(t.encode('  12', { addBos: false }), [6, 6, 10, 11], pre);
      assert.deepEqual(t.encode('hello 1', { addBos: false }), [15, 6, 10], pre);
      assert.deepEqual(t.encode('hello world', { addBos: false }), [15, 20], pre);
    }
  });

  test("digits are any Unicode \\p{N} ('½'), as in Rust tokenizers and llama.cpp", () => {
    // smollm: ' ' | '½' -> Ġ, Â½.   gpt-2: ' ½' -> Ġ Â ½ -> ĠÂ ½ -> ĠÂ½
    assert.deepEqual(smol.encode(' ½'), [6, 28]);
    assert.deepEqual(gpt2.encode(' ½'), [27]);
    // a tokenizer.json with HF's Digits pre-tokenizer splits it the same way
    const { json } = gguf2TokenizerJson(tinyMeta(), 'tiny.gguf');
    const withDigits = { ...json, pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, { type: 'ByteLevel', add_prefix_space: false, use_regex: true }] } };
    assert.deepEqual(tokenizerFromHFJson(withDigits, 'tiny/tokenizer.json').encode('h ½1'), [2, 6, 28, 10]);
  });

  test('control and user-defined tokens in the text are matched whole', () => {
    assert.deepEqual(smol.encode('<|im_start|>hello<|endoftext|>'), [1, 15, 0]);
    assert.deepEqual(smol.encode('<tool>hello'), [23, 15]);
  });

  test('BOS: from add_bos_token by default, overridable per call', () => {
    assert.equal(smol.bosId, 1);
    assert.equal(smol.eosId, 0);
    assert.equal(smol.addBosDefault, false);
    assert.deepEqual(smol.encode('hello'), [15]);
    assert.deepEqual(smol.encode('hello', { addBos: true }), [1, 15]);
    const withBos = tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.add_bos_token': true }), 'tiny.gguf');
    assert.deepEqual(withBos.encode('hello'), [1, 15]);
    assert.deepEqual(withBos.encode(''), [1]);
    assert.deepEqual(withBos.encode('hello', { addBos: false }), [15]);
    // llama.cpp's default for a missing add_bos_token: true for the llama3 family, false otherwise
    const llama3 = tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.pre': 'llama-bpe', 'tokenizer.ggml.add_bos_token': undefined }), 'tiny.gguf');
    assert.deepEqual(llama3.encode('hello'), [1, 15]);
  });

  test('decode inverts encode; skipSpecial drops control tokens', () => {
    assert.equal(smol.decode([15, 20]), 'hello world');
    assert.equal(smol.decode([1, 15, 6, 10, 0]), '<|im_start|>hello 1<|endoftext|>');
    assert.equal(smol.decode([1, 15, 6, 10, 0], { skipSpecial: true }), 'hello 1');
    assert.equal(smol.decode([]), '');
    for (const s of ['hello world', '  12', 'hello 1 22', '<tool>hello', 'world<|endoftext|>']) assert.equal(smol.decode(smol.encode(s)), s);
    assert.equal(smol.vocabSize, 29);
    assert.equal(smol.tokenToString(20), 'Ġworld');
  });

  test('the tokenizer.json built from GGUF loads through the tokenizer.json path with the same ids', () => {
    const { json } = gguf2TokenizerJson(tinyMeta(), 'tiny.gguf');
    const parsed = JSON.parse(JSON.stringify(json));
    const hf = tokenizerFromHFJson(parsed, 'tiny/tokenizer.json', { bos_token: '<|im_start|>', eos_token: { content: '<|endoftext|>' }, add_bos_token: true });
    assert.equal(hf.bosId, 1);
    assert.equal(hf.eosId, 0);
    assert.deepEqual(hf.encode('hello  12'), [1, 15, 22, 10, 11]);
    assert.deepEqual(hf.encode('hello  12', { addBos: false }), smol.encode('hello  12'));
    assert.equal(hf.vocabSize, 29);
  });

  test('tokenizer.json: BOS taken from a TemplateProcessing post-processor when there is no config', () => {
    const { json } = gguf2TokenizerJson(tinyMeta(), 'tiny.gguf');
    const withTemplate = {
      ...json,
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<|im_start|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [],
        special_tokens: {},
      },
    };
    const hf = tokenizerFromHFJson(withTemplate, 'tiny/tokenizer.json');
    assert.equal(hf.addBosDefault, true);
    assert.deepEqual(hf.encode('hello'), [1, 15]); // once: the library's post-processor is not also run
  });

  test('a GGUF file written and parsed in memory gives the same tokenizer as the metadata map', () => {
    const bytes = encodeGGUF({
      metadata: [
        { key: 'general.architecture', type: 'string', value: 'llama' },
        { key: 'tokenizer.ggml.model', type: 'string', value: 'gpt2' },
        { key: 'tokenizer.ggml.pre', type: 'string', value: 'smollm' },
        { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: TINY_TOKENS },
        { key: 'tokenizer.ggml.merges', type: 'array', itemType: 'string', value: TINY_MERGES },
        { key: 'tokenizer.ggml.token_type', type: 'array', itemType: 'int32', value: TINY_TYPES },
        { key: 'tokenizer.ggml.bos_token_id', type: 'uint32', value: 1 },
        { key: 'tokenizer.ggml.eos_token_id', type: 'uint64', value: 0n },
        { key: 'tokenizer.ggml.add_bos_token', type: 'bool', value: true },
      ],
      tensors: [],
    });
    const g = parseGGUF(bytes, 'mem.gguf');
    const t = tokenizerFromGGUF(g.metadata, g.file);
    assert.deepEqual(t.encode('<tool>hello  12 ½'), [1, 23, 15, 22, 10, 11, 6, 28]);
    assert.equal(t.eosId, 0);
  });

  test('errors: unsupported tokenizer models and pre-tokenizers', () => {
    throwsExact(
      () => tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.model': 'bert' }), 'tiny.gguf'),
      'E_TOKENIZER',
      "tiny.gguf: unsupported tokenizer model 'bert' (supported: gpt2 byte-level BPE, llama SentencePiece)",
    );
    throwsExact(
      () => tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.pre': 'bogus' }), 'tiny.gguf'),
      'E_TOKENIZER',
      "tiny.gguf: unsupported pre-tokenizer 'bogus' (tokenizer.ggml.pre; supported: default, gpt-2, phi-2, mpt, olmo, jais, " +
        'smollm, starcoder, refact, command-r, codeshell, exaone, minerva-7b, llama3, llama-v3, llama-bpe, falcon3, dbrx, ' +
        'smaug-bpe, qwen2, deepseek-r1-qwen, megrez)',
    );
    throwsExact(
      () => tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.model': undefined }), 'tiny.gguf'),
      'E_TOKENIZER',
      "tiny.gguf: tokenizer metadata 'tokenizer.ggml.model' is missing",
    );
  });

  test('errors: malformed vocabulary metadata', () => {
    throwsExact(() => tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.tokens': undefined }), 't.gguf'), 'E_TOKENIZER', 't.gguf: GGUF has no tokenizer.ggml.tokens');
    throwsExact(
      () => tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.tokens': ['a', 7] }), 't.gguf'),
      'E_TOKENIZER',
      "t.gguf: tokenizer metadata 'tokenizer.ggml.tokens' entry 1 must be a string, got number 7",
    );
    throwsExact(
      () => tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.tokens': [...TINY_TOKENS.slice(0, 28), 'he'] }), 't.gguf'),
      'E_TOKENIZER',
      "t.gguf: tokenizer metadata 'tokenizer.ggml.tokens' has duplicate token 'he' (ids 12 and 28)",
    );
    throwsExact(
      () => tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.merges': ['h e', 'hello'] }), 't.gguf'),
      'E_TOKENIZER',
      "t.gguf: tokenizer metadata 'tokenizer.ggml.merges' entry 1 is not 'left right': 'hello'",
    );
    throwsExact(
      () => tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.merges': ['h e', 'a\nb'] }), 't.gguf'),
      'E_TOKENIZER',
      "t.gguf: tokenizer metadata 'tokenizer.ggml.merges' entry 1 is not 'left right': 'a\\nb'", // one line
    );
    throwsExact(
      () => tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.merges': undefined }), 't.gguf'),
      'E_TOKENIZER',
      "t.gguf: tokenizer metadata 'tokenizer.ggml.merges' is missing (required for gpt2 BPE)",
    );
    throwsExact(
      () => tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.bos_token_id': 29 }), 't.gguf'),
      'E_TOKENIZER',
      "t.gguf: tokenizer metadata 'tokenizer.ggml.bos_token_id' must be a token id in [0, 29), got number 29",
    );
    throwsExact(
      () => tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.eos_token_id': -1 }), 't.gguf'),
      'E_TOKENIZER',
      "t.gguf: tokenizer metadata 'tokenizer.ggml.eos_token_id' must be a token id in [0, 29), got number -1",
    );
    throwsExact(
      () => tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.token_type': [1, 1] }), 't.gguf'),
      'E_TOKENIZER',
      "t.gguf: tokenizer metadata 'tokenizer.ggml.token_type' must be an array of 29 integers (one per token), got an array of 2",
    );
    throwsExact(
      () => tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.add_bos_token': 1 }), 't.gguf'),
      'E_TOKENIZER',
      "t.gguf: tokenizer metadata 'tokenizer.ggml.add_bos_token' must be a boolean, got number 1",
    );
    throwsExact(
      () => tokenizerFromGGUF(tinyMeta({ 'tokenizer.ggml.pre': ['smollm'] }), 't.gguf'),
      'E_TOKENIZER',
      "t.gguf: tokenizer metadata 'tokenizer.ggml.pre' must be a string, got an array of 1",
    );
  });

  test('fuzz: any mix of wrong metadata values gives a tokenizer or a CodecLLMError, never another error', () => {
    let seed = 12345;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    const junk: (GGUFValue | undefined)[] = [
      undefined, 0, -1, 2 ** 40, 1n << 70n, 3n, 'gpt2', 'smollm', 'llama', '', true, [], [''], ['a', 'a'], [1, 2], [[1]],
      TINY_TOKENS, TINY_MERGES, TINY_TYPES, ['h e', ' x'], TINY_TOKENS.map(() => 3), TINY_TOKENS.map(() => 4), ['Ġ', ''],
    ];
    const keys = ['tokenizer.ggml.model', 'tokenizer.ggml.pre', 'tokenizer.ggml.tokens', 'tokenizer.ggml.merges', 'tokenizer.ggml.token_type',
      'tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id', 'tokenizer.ggml.unknown_token_id', 'tokenizer.ggml.add_bos_token'];
    let built = 0;
    for (let it = 0; it < 2000; it++) {
      const over: Record<string, GGUFValue | undefined> = {};
      for (let k = 1 + rnd(3); k > 0; k--) over[keys[rnd(keys.length)]!] = junk[rnd(junk.length)];
      try {
        const t = tokenizerFromGGUF(tinyMeta(over), 'f.gguf');
        const ids = t.encode('hello  12 <|im_start|>½');
        t.decode(ids);
        built++;
      } catch (e) {
        assert.ok(e instanceof CodecLLMError, `iteration ${it} ${JSON.stringify(over, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}: ${String(e)}`);
        assert.ok(!e.message.includes('\n'), `one-line message: ${e.message}`);
      }
    }
    assert.ok(built > 0 && built < 2000, `some inputs build (${built}), some are rejected`);
  });

  test('errors: bad tokenizer.json and bad ids', () => {
    throwsExact(() => tokenizerFromHFJson([], 'x.json'), 'E_TOKENIZER', 'x.json: invalid tokenizer: not a JSON object');
    throwsExact(() => tokenizerFromHFJson({ added_tokens: [] }, 'x.json'), 'E_TOKENIZER', "x.json: invalid tokenizer: missing 'model'");
    throwsExact(
      () => tokenizerFromHFJson({ model: { type: 'BPE', vocab: { a: 1e12 }, merges: [] } }, 'x.json'),
      'E_TOKENIZER',
      "x.json: invalid tokenizer: token 'a' has id 1000000000000, expected an integer in [0, 16777216)",
    );
    throwsExact(
      () => tokenizerFromHFJson({ model: { type: 'BPE', vocab: { a: 0 }, merges: 5 } }, 'x.json'),
      'E_TOKENIZER',
      "x.json: invalid tokenizer: BPE 'model.merges' is not an array",
    );
    throwsExact(
      () => tokenizerFromHFJson({ model: { type: 'BPE', vocab: { a: 0 }, merges: [] }, pre_tokenizer: { type: 'NoSuchPre' } }, 'x.json'),
      'E_TOKENIZER',
      'x.json: invalid tokenizer: Unknown PreTokenizer type: NoSuchPre', // the library's words, on our one line
    );
    throwsExact(() => smol.decode([99]), 'E_ARG', 'invalid token id: 99 is out of range [0, 29)');
    throwsExact(() => smol.decode([1.5]), 'E_ARG', 'invalid token id: 1.5 is out of range [0, 29)');
    throwsExact(() => smol.tokenToString(-1), 'E_ARG', 'invalid token id: -1 is out of range [0, 29)');
  });
});

// --- 1b. a byte-level vocabulary against llama.cpp, for every supported pre-tokenizer family ----------------------

describe('tokenizer: 256-byte vocabulary vs llama.cpp ids per tokenizer.ggml.pre (data/reference/tokenizer-tiny.json)', () => {
  const ref = JSON.parse(fs.readFileSync('data/reference/tokenizer-tiny.json', 'utf8')) as {
    vocab: { tokens: string[]; merges: string[]; token_type: number[]; bos_id: number; eos_id: number };
    cases: { pre: string; text: string; ids: number[] }[];
  };
  const pres = [...new Set(ref.cases.map((c) => c.pre))];

  test('the reference covers one name of each regex family', () => {
    assert.deepEqual(pres, ['gpt-2', 'smollm', 'llama-bpe', 'dbrx', 'qwen2', 'default']);
  });

  for (const pre of pres) {
    test(`pre '${pre}': ids equal llama.cpp's and decode inverts encode`, () => {
      const v = ref.vocab;
      const meta = new Map<string, GGUFValue>([
        ['tokenizer.ggml.model', 'gpt2'],
        ['tokenizer.ggml.pre', pre],
        ['tokenizer.ggml.tokens', v.tokens],
        ['tokenizer.ggml.merges', v.merges],
        ['tokenizer.ggml.token_type', v.token_type],
        ['tokenizer.ggml.bos_token_id', v.bos_id],
        ['tokenizer.ggml.eos_token_id', v.eos_id],
        ['tokenizer.ggml.add_bos_token', false],
      ]);
      const t = tokenizerFromGGUF(meta, `tiny-${pre}.gguf`);
      const bad: string[] = [];
      for (const c of ref.cases.filter((c) => c.pre === pre)) {
        const ids = t.encode(c.text);
        if (JSON.stringify(ids) !== JSON.stringify(c.ids)) bad.push(`${JSON.stringify(c.text)}: got ${JSON.stringify(ids)}, llama.cpp ${JSON.stringify(c.ids)}`);
        else if (t.decode(ids) !== c.text) bad.push(`${JSON.stringify(c.text)}: round trip gives ${JSON.stringify(t.decode(ids))}`);
      }
      assert.deepEqual(bad, []);
    });
  }
});

// --- 2. the default model against the stored reference --------------------------------------------------------------

const MODEL = 'data/models/SmolLM2-135M-Instruct.Q4_1.gguf';
const REFERENCE = 'data/reference/tokenizer-smollm2.json';
const haveModel = fs.existsSync(MODEL);
const skipReason = haveModel ? false : `${MODEL} not found: run 'make setup' to fetch the default model`;

interface RefCase {
  name: string;
  text: string;
  ids: number[];
}
interface Reference {
  model_sha256: string;
  bos_id: number;
  eos_id: number;
  vocab_size: number;
  cases: RefCase[];
}

describe('tokenizer: SmolLM2-135M GGUF vs reference ids (transformers/tokenizers, llama.cpp)', () => {
  const ref = JSON.parse(fs.readFileSync(REFERENCE, 'utf8')) as Reference;
  let tok: TextTokenizer;
  const load = () => {
    if (tok) return tok;
    const g = openGGUF(MODEL);
    try {
      tok = tokenizerFromGGUF(g.metadata, g.file);
    } finally {
      g.close();
    }
    return tok;
  };

  test('reference covers the mixed text and the edge cases', () => {
    const mixed = fs.readFileSync('data/texts/mixed.txt', 'utf8');
    assert.ok(ref.cases.some((c) => c.text === mixed), 'the whole of data/texts/mixed.txt is a case');
    for (const t of ['', ' ', '  leading spaces', '\n\n', '1234567', '😀']) assert.ok(ref.cases.some((c) => c.text === t), `edge case ${JSON.stringify(t)}`);
  });

  test('model file is the one the reference was made from', { skip: skipReason }, () => {
    const h = createHash('sha256').update(fs.readFileSync(MODEL)).digest('hex');
    assert.equal(h, ref.model_sha256, `${MODEL} differs from the model the reference was made from`);
  });

  test('special ids and vocabulary size', { skip: skipReason }, () => {
    const t = load();
    assert.equal(t.bosId, ref.bos_id);
    assert.equal(t.eosId, ref.eos_id);
    assert.equal(t.vocabSize, ref.vocab_size);
    assert.equal(t.addBosDefault, false); // the GGUF says tokenizer.ggml.add_bos_token = false
    assert.equal(t.tokenToString(t.eosId!), '<|im_end|>');
  });

  test('ids equal the reference on every case, and decode(encode(x)) == x', { skip: skipReason }, () => {
    const t = load();
    const bad: string[] = [];
    for (const c of ref.cases) {
      const ids = t.encode(c.text);
      if (JSON.stringify(ids) !== JSON.stringify(c.ids)) {
        const at = ids.findIndex((v, i) => v !== c.ids[i]);
        bad.push(`${c.name}: first difference at ${at}: got ${JSON.stringify(ids.slice(at, at + 8))}, want ${JSON.stringify(c.ids.slice(at, at + 8))}`);
      }
      const back = t.decode(ids);
      if (back !== c.text) bad.push(`${c.name}: round trip gives ${JSON.stringify(back.slice(0, 80))}`);
    }
    assert.deepEqual(bad, [], `mismatches:\n${bad.join('\n')}`);
  });

  test('addBos prepends the BOS id once; skipSpecial drops it again', { skip: skipReason }, () => {
    const t = load();
    const ids = t.encode('Hello world', { addBos: true });
    assert.equal(ids[0], ref.bos_id);
    assert.deepEqual(ids.slice(1), t.encode('Hello world'));
    assert.equal(t.decode(ids, { skipSpecial: true }), 'Hello world');
  });

  test('the tokenizer.json rebuilt from the GGUF gives the same ids through tokenizerFromHFJson', { skip: skipReason }, () => {
    const g = openGGUF(MODEL);
    let hf: TextTokenizer;
    try {
      hf = tokenizerFromHFJson(JSON.parse(JSON.stringify(gguf2TokenizerJson(g.metadata, g.file).json)), 'tokenizer.json');
    } finally {
      g.close();
    }
    for (const c of ref.cases) assert.deepEqual(hf.encode(c.text), c.ids, c.name);
  });
});
