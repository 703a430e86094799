/**
 * Load-time validation of a BPE tokenizer: every merge's two parts and its result must be vocabulary pieces, or the
 * tokenizer library silently drops text that reaches that merge (an 11-byte prompt became 6 tokens). The first
 * offender is named; nothing is repaired.
 *
 * @example
 * checkMerges('tokenizer.json', (p) => p in vocab, [['a', 'b']]); // throws E_TOKENIZER unless 'a', 'b', 'ab' exist
 */
import { err, msg } from '../messages.js';

/**
 * Refuse the first merge whose parts or result are missing from the vocabulary.
 * @example
 * checkMerges('m.gguf', (p) => vocab[p] !== undefined, mergePairs);
 */
export function checkMerges(file: string, has: (piece: string) => boolean, merges: Iterable<readonly [string, string]>): void {
  let i = 0;
  for (const [a, b] of merges) {
    for (const piece of [a, b, a + b]) {
      if (!has(piece)) throw err('E_TOKENIZER', msg.tokenizerMergeMissing(file, i, JSON.stringify(`${a} ${b}`), piece));
    }
    i++;
  }
}

/**
 * The merges of a Hugging Face BPE `model.merges` array ('a b' strings or [a, b] pairs); E_TOKENIZER on another shape.
 * @example
 * [...hfMergePairs('t.json', ['a b', ['c', 'd']])] // [['a', 'b'], ['c', 'd']]
 */
export function* hfMergePairs(file: string, merges: readonly unknown[]): Generator<[string, string]> {
  for (let i = 0; i < merges.length; i++) {
    const m = merges[i];
    if (typeof m === 'string') {
      const at = m.indexOf(' ', 1);
      if (at < 0) throw err('E_TOKENIZER', msg.tokenizerBadJson(file, `merge ${i} is not 'left right': ${JSON.stringify(m)}`));
      yield [m.slice(0, at), m.slice(at + 1)];
    } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') yield [m[0], m[1]];
    else throw err('E_TOKENIZER', msg.tokenizerBadJson(file, `merge ${i} is neither 'left right' nor a pair of strings`));
  }
}
