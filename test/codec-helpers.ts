/** Seeded test data shared by the codec tests (not a test file itself). */
import { rng } from '../src/util/random.js';

/** bf16 bytes of N(0, 0.02) weights: compressible exponent bytes, noisy mantissas (like real LLM weights). */
export function bf16Weights(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const out = new Uint8Array(n * 2);
  for (let i = 0; i < n; i++) {
    f[0] = 0.02 * Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
    const b = u[0]! >>> 16;
    out[2 * i] = b & 0xff;
    out[2 * i + 1] = b >>> 8;
  }
  return out;
}
