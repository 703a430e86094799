/**
 * huffmanCodeLengths (src/codec/entropy.ts), used by scripts/entropy-bound.ts: lengths on inputs known by hand, the
 * Kraft equality Σ 2^-l = 1 of a complete prefix code, the mean length within [H, H+1) of the order-0 entropy, and
 * optimality against an exhaustive search on small histograms.
 */
import assert from 'node:assert/strict';
import test from 'node:test';

import { byteHistogram, entropyOfHistogram, huffmanCodeLengths } from '../src/codec/entropy.js';
import { isCodecError } from '../src/messages.js';
import { rng } from '../src/util/random.js';

const mean = (h: ArrayLike<number>, l: Uint8Array) => {
  let s = 0;
  let n = 0;
  for (let i = 0; i < h.length; i++) {
    s += h[i]! * l[i]!;
    n += h[i]!;
  }
  return s / n;
};
const kraft = (l: Uint8Array) => l.reduce((s, x) => s + (x ? 2 ** -x : 0), 0);

test('huffmanCodeLengths: known lengths by hand', () => {
  assert.deepEqual([...huffmanCodeLengths([1, 1, 2, 4])], [3, 3, 2, 1]);
  assert.deepEqual([...huffmanCodeLengths([4, 2, 1, 1])], [1, 2, 3, 3]);
  assert.deepEqual([...huffmanCodeLengths([5, 5])], [1, 1]);
  assert.deepEqual([...huffmanCodeLengths([1, 1, 1, 1])], [2, 2, 2, 2]);
  // unused symbols get no code; a lone symbol gets 1 bit; an empty histogram none
  assert.deepEqual([...huffmanCodeLengths([0, 3, 0, 1, 1])], [0, 1, 0, 2, 2]);
  assert.deepEqual([...huffmanCodeLengths([0, 7, 0])], [0, 1, 0]);
  assert.deepEqual([...huffmanCodeLengths([0, 0])], [0, 0]);
  assert.deepEqual([...huffmanCodeLengths([])], []);
  // Fibonacci counts give the deepest tree: n symbols, longest code n-1 bits
  assert.deepEqual([...huffmanCodeLengths([1, 1, 2, 3, 5, 8, 13])], [6, 6, 5, 4, 3, 2, 1]);
});

test('huffmanCodeLengths: bad counts throw E_ARG with the message text', () => {
  assert.throws(
    () => huffmanCodeLengths([1, -1]),
    (e: unknown) => isCodecError(e, 'E_ARG') && (e as Error).message === 'invalid histogram: count -1 at index 1 is not a finite non-negative number',
  );
  assert.throws(() => huffmanCodeLengths([1, NaN]), (e: unknown) => isCodecError(e, 'E_ARG'));
});

test('huffmanCodeLengths: complete prefix code, mean length in [H, H+1) on seeded random byte streams', () => {
  const rnd = rng(7);
  for (const [n, spread] of [
    [1000, 4],
    [5000, 40],
    [20000, 256],
    [3, 256],
  ] as const) {
    const data = new Uint8Array(n);
    // roughly Laplacian around 128, like int8 weight codes
    for (let i = 0; i < n; i++) data[i] = Math.max(0, Math.min(255, Math.round(128 + (spread / 4) * Math.log(rnd() + 1e-12) * (rnd() < 0.5 ? -1 : 1))));
    const h = byteHistogram(data);
    const l = huffmanCodeLengths(h);
    const used = h.filter((c) => c > 0).length;
    if (used > 1) assert.ok(Math.abs(kraft(l) - 1) < 1e-12, `Kraft sum ${kraft(l)} for n=${n}`);
    const H = entropyOfHistogram(h);
    const L = mean(h, l);
    assert.ok(L >= H - 1e-12 && L < H + 1, `mean ${L} vs entropy ${H} (n=${n}, spread=${spread})`);
    for (let b = 0; b < 256; b++) assert.equal(l[b]! > 0, h[b]! > 0, `symbol ${b}: length ${l[b]}, count ${h[b]}`);
  }
});

/** Smallest Σ h·l over all complete prefix codes on up to 6 used symbols (exhaustive over length vectors). */
function bestCost(h: number[]): number {
  let best = Infinity;
  const l = new Array<number>(h.length).fill(1);
  const rec = (i: number) => {
    if (i === h.length) {
      if (Math.abs(l.reduce((s, x) => s + 2 ** -x, 0) - 1) < 1e-12) best = Math.min(best, h.reduce((s, c, k) => s + c * l[k]!, 0));
      return;
    }
    for (let x = 1; x < h.length; x++) {
      l[i] = x;
      rec(i + 1);
    }
  };
  rec(0);
  return best;
}

test('huffmanCodeLengths: optimal against exhaustive search on small seeded histograms', () => {
  const rnd = rng(11);
  for (let t = 0; t < 60; t++) {
    const k = 2 + (t % 5);
    const h = Array.from({ length: k }, () => 1 + Math.floor(rnd() * 50));
    const l = huffmanCodeLengths(h);
    assert.equal(
      h.reduce((s, c, i) => s + c * l[i]!, 0),
      bestCost(h),
      `histogram ${h.join(',')}: lengths ${[...l].join(',')}`,
    );
  }
});
