/**
 * The SentencePiece tokenizer (tokenizer-spm.ts) against llama.cpp itself: ids stored in data/reference/tokenizer-gemma3.json
 * by scripts/reference/llama_cpp_reference.mjs (node-llama-cpp 3.21.1's prebuilt llama.cpp, vocab-only load,
 * parse_special = true, no BOS) on a mixed corpus: ASCII, Unicode, CJK, emoji, digits, whitespace runs, control bytes.
 * Exact equality, case by case. Plus small hand-made vocabularies for the algorithm's rules (scores, ties, byte fallback).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { openGGUF, type GGUFValue } from '../src/formats/gguf.js';
import { tokenizerFromGGUF } from '../src/model/tokenizer.js';
import { spmTokenizerFromGGUF } from '../src/model/tokenizer-spm.js';
import { isCodecError } from '../src/messages.js';
import { dataDir, packageRoot } from '../src/util/paths.js';

const ref = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'data', 'reference', 'tokenizer-gemma3.json'), 'utf8'));

test('Gemma 3 SentencePiece ids equal llama.cpp on the mixed corpus', (t) => {
  const p = path.join(dataDir(), 'models', ref.model);
  if (!fs.existsSync(p)) {
    if (process.env.CI) assert.fail(`${p} missing under CI (make setup fetches it)`);
    t.skip(`${p} not present (run make setup)`);
    return;
  }
  const g = openGGUF(p);
  const tok = tokenizerFromGGUF(g.metadata, g.file);
  g.close();
  assert.equal(tok.bosId, ref.bos_id);
  assert.equal(tok.eosId, ref.eos_id);
  assert.equal(tok.addBosDefault, true);
  const bad: string[] = [];
  for (const c of ref.cases as { name: string; text: string; ids: number[] }[]) {
    const got = tok.encode(c.text, { addBos: false });
    if (JSON.stringify(got) !== JSON.stringify(c.ids)) bad.push(`${c.name}: got ${JSON.stringify(got)} want ${JSON.stringify(c.ids)}`);
    // decode(encode(x)) == x for text without special pieces
    if (!/<[a-z_]+>/.test(c.text)) assert.equal(tok.decode(got), c.text, `${c.name}: round trip`);
  }
  assert.deepEqual(bad, []);
  assert.deepEqual(tok.encode('Hi').slice(0, 1), [ref.bos_id], 'add_bos from the file');
  t.diagnostic(`${ref.cases.length} cases, reference: ${ref.reference}; model sha256 ${ref.model_sha256.slice(0, 12)}…`);
  if (process.env.CODECLLM_HASH_MODELS) assert.equal(crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex'), ref.model_sha256);
});

/** A tiny SPM vocabulary: pieces with scores and types; byte pieces for all 256 bytes. */
function tinyMeta(pieces: [string, number, number][], extra: Record<string, GGUFValue> = {}): Map<string, GGUFValue> {
  const all: [string, number, number][] = [['<unk>', 0, 2], ['<s>', 0, 3], ['</s>', 0, 3], ...pieces];
  for (let b = 0; b < 256; b++) all.push([`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0, 6]);
  return new Map<string, GGUFValue>([
    ['tokenizer.ggml.model', 'llama'],
    ['tokenizer.ggml.tokens', all.map((p) => p[0])],
    ['tokenizer.ggml.scores', all.map((p) => p[1])],
    ['tokenizer.ggml.token_type', all.map((p) => p[2])],
    ['tokenizer.ggml.bos_token_id', 1],
    ['tokenizer.ggml.eos_token_id', 2],
    ...Object.entries(extra),
  ]);
}

test('SPM rules: highest score merges first, leftmost on ties, space prefix, byte fallback, special pieces', () => {
  // ids: 3 '▁', 4 'a', 5 'b', 6 'ab', 7 'ba', 8 '▁a', 9 '<tool>'
  const meta = tinyMeta([['▁', -1, 1], ['a', -1, 1], ['b', -1, 1], ['ab', -2, 1], ['ba', -1.5, 1], ['▁a', -3, 1], ['<tool>', 0, 4]]);
  const tok = spmTokenizerFromGGUF(meta, 'tiny.gguf');
  const B = (b: number) => 10 + b; // byte piece of byte b
  assert.deepEqual(tok.encode('aba', { addBos: false }), [8, 7], "' aba': 'ba' (-1.5) beats 'ab' (-2), then '▁a'");
  assert.deepEqual(tok.encode('ab', { addBos: false }), [3, 6], "' ab': '▁a' (-3) and 'ab' (-2) compete, 'ab' wins");
  assert.deepEqual(tok.encode('bab', { addBos: false }), [3, 7, 5], 'tie-free: ba first, leftmost');
  assert.deepEqual(tok.encode('é', { addBos: false }), [3, B(0xc3), B(0xa9)], 'unknown character: its UTF-8 bytes');
  assert.deepEqual(tok.encode('a<tool>b', { addBos: false }), [8, 9, 3, 5], 'space prefix at the start and after a special piece');
  assert.deepEqual(tok.encode('x', { addBos: true }), [1, 3, B(0x78)]);
  const noPrefix = spmTokenizerFromGGUF(tinyMeta([['▁', -1, 1], ['a', -1, 1]], { 'tokenizer.ggml.add_space_prefix': false }), 'tiny.gguf');
  assert.deepEqual(noPrefix.encode('a a', { addBos: false }), [4, 3, 4]);
  assert.equal(tok.decode([8, 7, B(0xc3), B(0xa9)]), 'abaé');
  assert.equal(tok.decode([1, 4], { skipSpecial: true }), 'a');
});

test('SPM metadata errors are one line naming file and key', () => {
  const meta = tinyMeta([['a', -1, 1]]);
  meta.set('tokenizer.ggml.scores', [1, 2]);
  assert.throws(() => spmTokenizerFromGGUF(meta, 'bad.gguf'), (e) => isCodecError(e, 'E_TOKENIZER') && /^bad\.gguf: tokenizer metadata 'tokenizer\.ggml\.scores' must be an array of 260 numbers/.test(e.message));
  const m2 = tinyMeta([['a', -1, 1]], { 'tokenizer.ggml.bos_token_id': 999 });
  assert.throws(() => spmTokenizerFromGGUF(m2, 'bad.gguf'), (e) => isCodecError(e, 'E_TOKENIZER') && e.message === "bad.gguf: tokenizer metadata 'tokenizer.ggml.bos_token_id' must be a token id in [0, 260), got number 999");
});
