/**
 * The native kernel twin tests, run as the executables the native build makes beside the addon (native/test/*.cc):
 * `codecllm_cpu_twins` (every fast CPU kernel against its engine/ops_ref.h reference; also the reference ops alone on
 * caller-given inputs) and `codecllm_gpu_twins` (every CUDA kernel against its reference; CUDA builds only). They are
 * not part of the production addon.
 *
 * Located next to the addon (dirname of {@link nativePath}), or in `CODECLLM_TWINS_DIR`.
 *
 * @example
 * import { runTwins } from './twins.js';
 * const r = runTwins('cpu');
 * console.log(`${r.rows.filter((x) => x.pass).length}/${r.rows.length}`, r.status);
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { err } from '../messages.js';
import { nativePath } from './addon.js';

/** One twin case as the binary reports it (`CASE` row plus its `FIRST` mismatches). */
export interface TwinRow {
  pass: boolean;
  /** op or kernel name, e.g. 'linear', 'gemv' */
  op: string;
  /** shape / parameters as printed, e.g. 'q4_1 T=1 in=64 out=8' or 'K=576,N=1536,i8=1,seed=3' */
  shape: string;
  n: number;
  maxAbs: number;
  /** max |got − want| / (atol + rtol·|want|): ≤ 1 passes (0 for bit-exact cases) */
  ratio: number;
  fails: number;
  atol: number;
  rtol: number;
  /** the first mismatches (up to 5), or 'threw: …' */
  first: string[];
  /** further key=number fields after rtol (lossless_gemv: decodeMismatches, streamBytes, compress, msLossless, …) */
  extra: Record<string, number>;
}

export interface TwinRun {
  /** exit status: 0 all passed, 1 a case failed, 2 usage / device error */
  status: number;
  rows: TwinRow[];
  /** the binary's summary line, e.g. '92/92 kernel twins passed on NVIDIA H200' */
  summary: string;
  stdout: string;
  stderr: string;
}

/**
 * Path of a twin binary: CODECLLM_TWINS_DIR, else the addon's directory.
 * @example
 * twinBinary('cpu') // '…/native/build/Release/codecllm_cpu_twins'
 */
export function twinBinary(kind: 'cpu' | 'gpu'): string {
  return path.join(process.env.CODECLLM_TWINS_DIR ?? path.dirname(nativePath()), `codecllm_${kind}_twins`);
}

/** The binary's path, or E_NATIVE saying how to build it. */
function requireBinary(kind: 'cpu' | 'gpu'): string {
  const bin = twinBinary(kind);
  if (!fs.existsSync(bin))
    throw err('E_NATIVE', `codecllm: ${bin}: twin test binary not built (bash scripts/build-native.sh${kind === 'gpu' ? ' with CUDA' : ''})`);
  return bin;
}

/** Parse the CASE / FIRST rows of a twin binary's stdout. */
export function parseTwinOutput(stdout: string): { rows: TwinRow[]; summary: string } {
  const rows: TwinRow[] = [];
  let summary = '';
  for (const line of stdout.split('\n')) {
    const f = line.split('\t');
    if (f[0] === 'CASE' && f.length >= 10) {
      const kv: Record<string, number> = Object.fromEntries(f.slice(4).map((x) => [x.slice(0, x.indexOf('=')), Number(x.slice(x.indexOf('=') + 1))]));
      const { n, maxAbs, ratio, fails, atol, rtol, ...extra } = kv;
      rows.push({ pass: f[1] === 'PASS', op: f[2]!, shape: f[3]!, n: n!, maxAbs: maxAbs!, ratio: ratio!, fails: fails!, atol: atol!, rtol: rtol!, first: [], extra });
    } else if (f[0] === 'FIRST' && rows.length) rows.at(-1)!.first.push(f.slice(2).join('\t'));
    else if (/ twins passed/.test(line)) summary = line.trim();
  }
  return { rows, summary };
}

/**
 * Run a twin binary: all its cases (no `args`), or the one case `args` name (GPU: `['gemv', 'K=576', 'N=1536']`).
 * @example
 * runTwins('gpu', ['argmax', 'V=49152', 'seed=7']).rows[0].pass
 */
export function runTwins(kind: 'cpu' | 'gpu', args: string[] = [], env: NodeJS.ProcessEnv = process.env, timeoutMs = 300_000): TwinRun {
  const bin = requireBinary(kind);
  const r = spawnSync(bin, args, { env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.error) throw err('E_NATIVE', `codecllm: ${bin}: ${r.error.message}`);
  const { rows, summary } = parseTwinOutput(r.stdout);
  return { status: r.status ?? 2, rows, summary, stdout: r.stdout, stderr: r.stderr };
}

/**
 * One C++ REFERENCE op (engine/ops_ref.h) on caller-given inputs, through `codecllm_cpu_twins ref` — for tests that
 * hold the references against their TS definitions. Inputs are written to the binary's stdin in order (their sizes
 * cross as `parts=`, so a part of the wrong size is named in the error); the result is its float32 output. Ops:
 * dequant {format, rows, cols, group?, asym?} (w, [scale], [zero]); linear {format, T, in, out, group?, asym?, bias}
 * (w, [scale], [zero], x, [bias]); units {format, rows, cols, group?, asym?} (as dequant: the CUDA GEMV's unit cut
 * on the host); rmsnorm {T, h, eps} (x, w); rope {T, n, D} (x, positions, invFreq); ropeInvFreq {D, scaling, theta,
 * factor, low, high, original}. A failure is E_NATIVE carrying the binary's one-line message.
 * @example
 * const y = cpuReference('rmsnorm', { T: 1, h: 64, eps: 1e-5 }, [x, w]);
 */
export function cpuReference(op: string, params: Record<string, number | string>, inputs: ArrayBufferView[] = []): Float32Array {
  return runCpuOp('ref', op, params, inputs);
}

/**
 * The FAST CPU kernel (cpu/linear.cc) of `op` ('dequant' | 'linear') on caller-given inputs, through
 * `codecllm_cpu_twins fast`; arguments as {@link cpuReference}.
 * @example
 * const fast = cpuFast('dequant', { format: 'nf4_group', rows: 1, cols: 16, group: 16 }, [codes, scale]);
 */
export function cpuFast(op: 'dequant' | 'linear', params: Record<string, number | string>, inputs: ArrayBufferView[] = []): Float32Array {
  return runCpuOp('fast', op, params, inputs);
}

function runCpuOp(mode: 'ref' | 'fast', op: string, params: Record<string, number | string>, inputs: ArrayBufferView[]): Float32Array {
  const bin = requireBinary('cpu');
  const args = Object.entries(params).map(([k, v]) => {
    // eps crosses as the bits of its float32 value, so no decimal rounding changes it
    if (k === 'eps') return `eps_bits=${new Uint32Array(Float32Array.of(Number(v)).buffer)[0]}`;
    return `${k}=${v}`;
  });
  if (inputs.length) args.push(`parts=${inputs.map((a) => a.byteLength).join(',')}`);
  const input = Buffer.concat(inputs.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
  const r = spawnSync(bin, [mode, op, ...args], { input, maxBuffer: 1 << 30 });
  if (r.error) throw err('E_NATIVE', `codecllm: ${bin}: ${r.error.message}`);
  if (r.status !== 0) throw err('E_NATIVE', `codecllm: ${bin} ${mode} ${op}: exit ${r.status}: ${r.stderr.toString().trim()}`);
  const out = r.stdout as Buffer;
  return new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
}
