/** Seeded weight generators and spec lists for the quant tests (not a test file itself). */
import { GRANULARITIES, GROUP_SIZES, QUANT_FORMATS, SCALE_DTYPES } from '../src/quant/spec.js';
import type { QuantSpec } from '../src/quant/spec.js';
import { rng } from '../src/util/random.js';



export function gaussian(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

export type Kind = 'normal' | 'heavy' | 'zero-rows-cols' | 'tiny' | 'huge' | 'positive' | 'negative' | 'ties' | 'sparse';
export const KINDS: readonly Kind[] = ['normal', 'heavy', 'zero-rows-cols', 'tiny', 'huge', 'positive', 'negative', 'ties', 'sparse'];

/** A (rows, cols) float32 weight of the given kind. */
export function makeWeights(kind: Kind, rows: number, cols: number, seed: number): Float32Array {
  const r = rng(seed);
  const w = new Float32Array(rows * cols);
  for (let i = 0; i < w.length; i++) {
    const g = gaussian(r);
    switch (kind) {
      case 'normal':
        w[i] = 0.02 * g;
        break;
      case 'heavy': // Student-t-like: a Gaussian over a random small denominator, plus rare outliers
        w[i] = (0.02 * g) / Math.max(0.05, Math.abs(gaussian(r))) * (r() < 0.001 ? 50 : 1);
        break;
      case 'zero-rows-cols':
        w[i] = 0.02 * g;
        break;
      case 'tiny': // provokes fp16 scale underflow (-> 0) and subnormal scales, with a few ordinary rows
        w[i] = g * 10 ** -(3 + Math.floor(r() * 7));
        break;
      case 'huge': // provokes fp16 scale overflow (absmax / 127 > 65504)
        w[i] = g * 10 ** Math.floor(r() * 9);
        break;
      case 'positive':
        w[i] = Math.abs(0.02 * g) + 1e-3;
        break;
      case 'negative':
        w[i] = -Math.abs(0.02 * g) - 1e-3;
        break;
      case 'ties': // exact halves: rne ties everywhere (scales come out as powers of two)
        w[i] = Math.round(g * 40) / 2;
        break;
      case 'sparse':
        w[i] = r() < 0.9 ? 0 : 0.02 * g;
        break;
    }
  }
  if (kind === 'zero-rows-cols') {
    for (let c = 0; c < cols; c++) w[Math.floor(rows / 2) * cols + c] = 0;
    for (let rr = 0; rr < rows; rr++) w[rr * cols + (cols >> 1)] = 0;
    for (let rr = 0; rr < rows; rr++) if (rr % 3 === 0) w[rr * cols] = 0;
  }
  if (kind === 'tiny') {
    // per row: one magnitude, so that per-channel scales underflow or go subnormal as a whole
    for (let rr = 0; rr < rows; rr++) {
      const m = 10 ** -(3 + (rr % 8));
      for (let c = 0; c < cols; c++) w[rr * cols + c] = gaussian(r) * m;
    }
  }
  return w;
}

export const SHAPES: readonly [number, number][] = [
  [1, 1],
  [1, 33],
  [3, 7],
  [5, 64],
  [7, 130],
  [16, 576],
  [37, 200],
];

/** Every valid spec (group sizes rotated through granularities). */
export function allSpecs(): QuantSpec[] {
  const out: QuantSpec[] = [];
  for (const format of QUANT_FORMATS)
    for (const granularity of GRANULARITIES)
      for (const asym of [false, true])
        for (const scaleDType of SCALE_DTYPES) {
          if (asym && (format === 'nf4' || format === 'fp8')) continue;
          const sizes = granularity === 'group' ? GROUP_SIZES : [0];
          for (const groupSize of sizes) out.push({ format, granularity, groupSize, asym, scaleDType });
        }
  return out;
}

export { rng };
