/**
 * The CLI's argument layer: one table of option kinds, each a commander parser that checks type, range and
 * finiteness when commander reads the argv (before any command runs). A bad value is one line,
 * `codecllm: invalid --top-p: '-5' is not a number in (0, 1] [E_ARG]`, exit 1. Checks that need the model
 * (context length, linear count, selectors) live in preflight.ts and run before the weights are loaded.
 *
 * To add an option to a command: `.option('--x <n>', 'help', int('--x', 1, 100), 7)` (defaults are given parsed).
 *
 * @example
 * program.command('generate <model>').option('--top-p <p>', 'nucleus', num('--top-p', { min: 0, minOpen: true, max: 1 }), 1);
 */
import { err, msg } from '../messages.js';

/** A commander option parser: (raw value, previous value) -> parsed value; throws E_ARG. */
export type Parser<T> = (value: string, previous?: unknown) => T;

const show = (v: string) => `'${v.length > 60 ? v.slice(0, 57) + '...' : v}'`;

/**
 * Integer in [min, max] written in decimal (no '1e3', no '0x10', no blanks).
 * @example
 * int('--top-k', 0)('40') // 40
 */
export function int(name: string, min = 0, max = Number.MAX_SAFE_INTEGER): Parser<number> {
  return (v) => parseIntArg(name, v, min, max);
}

/**
 * Parse one integer argument (see {@link int}).
 * @example
 * parseIntArg('--seed', '7', 0, 2 ** 32 - 1) // 7
 */
export function parseIntArg(name: string, v: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^[+-]?[0-9]+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw err('E_ARG', msg.badArg(name, `${show(v)} is not an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}]`));
  return n;
}

/** Range of a number option; `minOpen` / `maxOpen` exclude the bound. */
export interface NumRange {
  min?: number;
  max?: number;
  minOpen?: boolean;
  maxOpen?: boolean;
}

/**
 * A finite decimal number within a range ('' and blanks are not 0; 'Infinity' and 'NaN' are refused).
 * @example
 * num('--temperature', { min: 0 })('0.7') // 0.7
 */
export function num(name: string, r: NumRange = {}): Parser<number> {
  return (v) => {
    const n = /^\s*$/.test(v) || !/^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(v.trim()) ? NaN : Number(v);
    const lo = r.min ?? -Infinity;
    const hi = r.max ?? Infinity;
    const ok = Number.isFinite(n) && (r.minOpen ? n > lo : n >= lo) && (r.maxOpen ? n < hi : n <= hi);
    if (!ok) {
      const range = `${r.minOpen ? '(' : '['}${Number.isFinite(lo) ? lo : '-∞'}, ${Number.isFinite(hi) ? hi : '∞'}${r.maxOpen || !Number.isFinite(hi) ? ')' : ']'}`;
      throw err('E_ARG', msg.badArg(name, `${show(v)} is not a number in ${range}`));
    }
    return n;
  };
}

/**
 * One of a fixed set of words.
 * @example
 * oneOf('--backend', ['wasm', 'cpu'])('cpu') // 'cpu'
 */
export function oneOf<const T extends string>(name: string, values: readonly T[]): Parser<T> {
  return (v) => {
    if (!(values as readonly string[]).includes(v)) throw err('E_ARG', msg.badArg(name, `${show(v)} (expected ${values.join(', ')})`));
    return v as T;
  };
}

/**
 * A non-empty string (paths, specs, prompts), optionally checked further by `check`.
 * @example
 * text('--out')('m.cllm') // 'm.cllm'
 */
export function text(name: string, check?: (v: string) => void, allowEmpty = false): Parser<string> {
  return (v) => {
    if (v === '' && !allowEmpty) throw err('E_ARG', msg.badArg(name, 'empty'));
    if (v.includes('\0')) throw err('E_ARG', msg.badArg(name, 'contains a NUL character'));
    check?.(v);
    return v;
  };
}

