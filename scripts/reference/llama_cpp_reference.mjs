#!/usr/bin/env node
/**
 * Reference ids from llama.cpp itself, through node-llama-cpp@3.21.1 (npm; ships prebuilt llama.cpp binaries).
 * node-llama-cpp is NOT a dependency of codecllm: install it outside the repository and point --peer at it:
 *   mkdir -p ../peers && cd ../peers && npm init -y && npm install --save-exact node-llama-cpp@3.21.1
 *
 * Modes (run from the repository root):
 *   node scripts/reference/llama_cpp_reference.mjs tokens --peer ../peers [--model data/models/gemma-3-270m-q4_k_m.gguf]
 *     llama.cpp's tokenizer (model loaded vocab-only; parse_special = true, no BOS added) on the mixed corpus below;
 *     writes data/reference/tokenizer-gemma3.json: {reference, model_sha256, bos_id, add_bos, cases: [{name, text, ids}]}.
 *   node scripts/reference/llama_cpp_reference.mjs generate --peer ../peers [--model ...] [--tokens 24]
 *     greedy decoding on llama.cpp's CPU backend for the prompts below (BOS + prompt ids, temperature 0);
 *     writes data/reference/llamacpp-gemma3.json: {reference, model_sha256, cases: [{prompt, ids, greedy_ids}]}.
 *     llama.cpp's CPU matmuls quantize activations to q8 for these weight types, so its logits differ from a float32
 *     reference by ~1e-2; compare tokens and top-1 only (test/gemma3.test.ts states the tolerance).
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const mode = args[0];
const opt = (k, d) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : d;
};
const peer = path.resolve(opt('--peer', '../peers'));
const model = path.resolve(opt('--model', 'data/models/gemma-3-270m-q4_k_m.gguf'));
const entry = path.join(peer, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
if (!fs.existsSync(entry)) {
  console.error(`node-llama-cpp not found under ${peer} (see the header of this script)`);
  process.exit(1);
}
const { getLlama } = await import(pathToFileURL(entry).href);
const version = JSON.parse(fs.readFileSync(path.join(peer, 'node_modules', 'node-llama-cpp', 'package.json'), 'utf8')).version;
const sha = crypto.createHash('sha256').update(fs.readFileSync(model)).digest('hex');

/** The mixed corpus: ASCII, Unicode, CJK, emoji, digits, whitespace runs, control bytes, special-token text. */
export const CORPUS = [
  ['ascii', 'The quick brown fox jumps over the lazy dog.'],
  ['leading-space', ' Hello world'],
  ['spaces', 'a  b   c    d     e'],
  ['trailing-spaces', 'end   '],
  ['only-spaces', '     '],
  ['newlines', 'line one\nline two\n\nline four\r\nwindows'],
  ['tabs', '\tindented\t\tcode\t'],
  ['digits', '0 12 345 6789 3.14159 1,000,000 2026-12-02'],
  ['accents', 'Ça va? Über naïve café résumé piñata'],
  ['cjk', '日本語のテキストと中文文本，한국어 텍스트'],
  ['emoji', 'I ❤️ 🦙s 👩‍👩‍👧‍👦 🇫🇷 🙂🙃'],
  ['arabic-hebrew', 'مرحبا بالعالم שלום עולם'],
  ['combining', 'e\u0301 a\u0308 n\u0303 (combining marks)'],
  ['math', '∑ᵢ xᵢ² ≤ ∞ ± √2 → ½ ¾ ²'],
  ['code', 'def f(x):\n    return x**2  # square\n'],
  ['control-bytes', 'a\u0000b\u0001c\u0007d\u001be\u007f'],
  ['rare-chars', '\u{10FFFF}\u{E000}\u{1D11E}\u{FFFD}'],
  ['special-text', '<start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n'],
  ['bos-text', '<bos>literal bos'],
  ['byte-fallback', '\u{1F9EC}\u{1FAE0}\u{2FA1D}'],
  ['long-word', 'Pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism'],
  ['urls', 'https://example.com/path?q=1&r=2#frag'],
  ['mixed', 'Hello, 世界! 123 🌍\n\t  done.'],
];

const PROMPTS = ['The capital of France is', 'Once upon a time, in a small village,', 'def fibonacci(n):'];

const llama = await getLlama({ gpu: false, logLevel: 'error' });
const reference = `llama.cpp via node-llama-cpp ${version} (prebuilt, CPU), ${new Date().toISOString().slice(0, 10)}`;

if (mode === 'tokens') {
  const m = await llama.loadModel({ modelPath: model, vocabOnly: true });
  const cases = CORPUS.map(([name, text]) => ({ name, text, ids: Array.from(m.tokenize(text, true)) }));
  const out = { generator: 'scripts/reference/llama_cpp_reference.mjs tokens', reference, model: path.basename(model), model_sha256: sha,
    bos_id: m.tokens.bos, eos_id: m.tokens.eos, add_bos: m.shouldPrependBosToken, parse_special: true, cases };
  const f = opt('--out', 'data/reference/tokenizer-gemma3.json');
  fs.writeFileSync(f, JSON.stringify(out, null, 1) + '\n');
  console.log(`wrote ${f}: ${cases.length} cases, ${cases.reduce((s, c) => s + c.ids.length, 0)} ids`);
} else if (mode === 'generate') {
  const n = Number(opt('--tokens', '24'));
  const m = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
  const cases = [];
  for (const prompt of PROMPTS) {
    const ctx = await m.createContext({ contextSize: 256, batchSize: 256, threads: 2 });
    const seq = ctx.getSequence();
    const ids = [m.tokens.bos, ...m.tokenize(prompt, true)];
    const greedy = [];
    for await (const t of seq.evaluate(ids, { temperature: 0 })) {
      greedy.push(t);
      if (greedy.length >= n) break;
    }
    cases.push({ prompt, ids, greedy_ids: greedy, text: m.detokenize(greedy) });
    await ctx.dispose();
  }
  const out = { generator: 'scripts/reference/llama_cpp_reference.mjs generate', reference, model: path.basename(model), model_sha256: sha,
    note: 'greedy (temperature 0) on llama.cpp CPU: activations quantized to q8 inside its matmuls; compare tokens/top-1 only', cases };
  const f = opt('--out', 'data/reference/llamacpp-gemma3.json');
  fs.writeFileSync(f, JSON.stringify(out, null, 1) + '\n');
  for (const c of cases) console.log(JSON.stringify(c.prompt), '->', JSON.stringify(c.text));
} else {
  console.error('usage: llama_cpp_reference.mjs tokens|generate --peer DIR [--model FILE] [--out FILE]');
  process.exit(1);
}
