/**
 * The project's one seeded PRNG: mulberry32 (32-bit state, fast, good enough for test data and sampling). Seeded
 * fixtures, sampling and benchmarks all draw from it, so the same seed gives the same numbers everywhere.
 */

/**
 * Raw 32-bit outputs of mulberry32.
 * @example
 * const next = mulberry32(1); next(); // an integer in [0, 2^32)
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * Uniform floats in [0, 1) from mulberry32.
 * @example
 * const r = rng(42); r(); // 0 <= x < 1
 */
export function rng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}
