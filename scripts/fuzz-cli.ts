/**
 * CLI robustness fuzzer (issue 16, item 7): random argument vectors over every verb, run in-process through main()
 * (no process start per run), checked against the error contract:
 *
 *   crash        an exit status other than 0 / 1, an [E_INTERNAL] line, an uncaught exception or rejection
 *   hang         a run longer than 10 s (a run that never returns is caught by the parent's watchdog)
 *   off-contract status 1 without exactly one stderr line `codecllm: <...> [E_CODE]`, or status 0 with an error line
 *
 * Not part of `make test` (a benchmark: the count goes to BENCHMARKS.md). The parent process runs worker
 * processes of `--batch` runs each and restarts them; each worker announces every argv before running it, so a
 * worker that stops answering for 10 s is killed and its last argv recorded as a hang.
 *
 * Usage: node --import tsx scripts/fuzz-cli.ts [runs=100000] [seconds=1e9] [seed=1]
 *   prints a JSON summary (counts, rate, slowest runs, every failure's argv) on stdout.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const HANG_MS = 10_000;
const ONE_LINE = /^codecllm: [^\n]+ \[E_[A-Z_]+\]\n$/;

// ---------------------------------------------------------------- the argument generator

/** xorshift32: a seeded, reproducible stream. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

interface Fixtures {
  dir: string;
  models: string[];
  texts: string[];
  outs: string[];
  outDirs: string[];
}

/** Each verb, its positional count and its options (flag, value kind; null = a flag without value). */
const VERBS: Record<string, { positional: number; options: Record<string, string | null> }> = {
  info: { positional: 1, options: { '--json': null } },
  generate: {
    positional: 1,
    options: { '--prompt': 'prompt', '--max-tokens': 'int', '--temperature': 'num', '--top-k': 'int', '--top-p': 'num', '--seed': 'int', '--backend': 'backend', '--engine': 'engine', '--modes': 'modes', '--json': null },
  },
  eval: {
    positional: 1,
    options: { '--text': 'text', '--text-encoding': 'encoding', '--window': 'int', '--stride': 'int', '--max-tokens': 'int', '--backend': 'backend', '--patch': 'select', '--quant': 'spec', '--quality-tokens': 'int', '--json': null },
  },
  sweep: { positional: 1, options: { '--layers': 'layers', '--quant': 'spec', '--text': 'text', '--text-encoding': 'encoding', '--tokens': 'int', '--plan': 'out', '--json': null } },
  'job run': { positional: 1, options: { '--index': 'int', '--force': null, '--json': null } },
  'job merge': { positional: 1, options: { '--json': null } },
  diagnose: { positional: 1, options: { '--fault': 'fault', '--patch': 'select', '--quant': 'spec', '--json': null } },
  bench: { positional: 1, options: { '--device': 'device', '--modes': 'modes', '--prompt-tokens': 'int', '--tokens': 'int', '--batch': 'int', '--json': null } },
  compress: {
    positional: 1,
    options: { '--quant': 'cquant', '--codec': 'codec', '--out': 'out', '--level': 'int', '--chunk-size': 'int', '--transform': 'transform', '--allow-overflow': 'overflow', '--tensors': null, '--json': null },
  },
  verify: { positional: 1, options: { '--json': null } },
  decompress: { positional: 1, options: { '--out': 'outdir', '--dtype': 'dtype', '--allow-overflow': 'overflow', '--json': null } },
  roundtrip: {
    positional: 1,
    options: { '--quant': 'cquant', '--codec': 'codec', '--level': 'int', '--chunk-size': 'int', '--transform': 'transform', '--allow-overflow': 'overflow', '--tensors': null, '--json': null },
  },
  'kernel install': { positional: 0, options: { '--user': null, '--prefix': 'outdir' } },
  report: { positional: 1, options: { '--out': 'outdir', '--timeout': 'num', '--no-interactive': null } },
};

const GARBAGE = ['', ' ', '-', '--', '-x', '--json', 'NaN', 'Infinity', '-Infinity', '1e309', '0x10', '１２', 'null', 'undefined', '\u202e', 'é', '\ud83d\ude00', 'a'.repeat(300), '../../../../no-such-dir/x', '%s%n', '$(echo x)', '\t', 'true'];
const VALUES: Record<string, string[]> = {
  int: ['0', '1', '2', '7', '16', '64', '255', '256', '257', '4096', '65536', '-1', '-0', '+3', '1.5', '1e3', '1e12', '1000000000000', '9007199254740993', '99999999999999999999', 'abc', '', ' 4'],
  num: ['0', '0.5', '1', '2', '-5', '1e-9', '1e308', '1e309', 'NaN', 'Infinity', '', ' ', '.5', '5.', '0x1', '1,5', '-0'],
  prompt: ['hi', 'hello world', '', ' ', 'x'.repeat(300), '\u0000', 'é'.repeat(40), '<|im_start|>', '\ud800'],
  backend: ['wasm', 'cpu', 'gpu', ''],
  engine: ['tfjs', 'native', 'cuda', 'TFJS', ''],
  modes: ['fp16', 'int8', 'fused', 'int8,lm_head=fp16', 'fused:codec=ans', 'bogus', '', 'gguf'],
  encoding: ['utf8', 'latin1', 'utf16', ''],
  select: ['all', 'first:1', 'first:8', 'first:0', 'first:999', 'blocks:0-0', 'blocks:0-5', 'type:q,k', 'type:x', 're:q_proj', 're:(', 'q_proj', 'model.layers.0.self_attn.q_proj', 'lm_head', '', 'all+type:q'],
  spec: ['int8', 'int8:per-channel', 'int4:group=64', 'nf4:group=32', 'fp8', 'int8:group=7', 'int9', 'int8:asym:asym', '', 'int4:scale=fp16', 'nf4:asym'],
  cquant: ['none', 'f32', 'f16', 'bf16', 'int8', 'int4:group=32', 'f64', '', 'nope'],
  layers: ['1', '1,2', 'all', '1,5,all', '999', '0', '-1', '', ',', '1,,2', 'all,all', '3.5'],
  fault: ['scale-axis', 'scale-fp16-underflow', 'uint8-as-int8', 'transposed', 'stale-buffer', 'wrong-layer', 'bogus', ''],
  device: ['cpu', 'cuda', 'tpu', ''],
  codec: ['none', 'zstd', 'lz4', 'deflate', 'snappy', 'lz4frame', 'brotli', ''],
  transform: ['auto', 'none', 'byteplane', 'delta', 'xor', 'bogus', ''],
  overflow: ['saturate', 'keep-bf16', 'wrap', ''],
  dtype: ['f32', 'f16', 'bf16', ''],
};

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

/** One random argument vector (after 'node codecllm'). */
export function randomArgv(r: () => number, fx: Fixtures): string[] {
  const verbs = Object.keys(VERBS);
  const verb = r() < 0.03 ? pick(r, ['', 'help', 'infoo', '--help', '--version', 'kernel', '-V']) : pick(r, verbs);
  const spec = VERBS[verb];
  const argv = verb ? verb.split(' ') : [];
  if (!spec) return argv;
  const value = (kind: string): string => {
    const u = r();
    if (u < 0.08) return pick(r, GARBAGE);
    if (kind === 'text') return pick(r, fx.texts);
    if (kind === 'out') return pick(r, fx.outs);
    if (kind === 'outdir') return pick(r, fx.outDirs);
    return pick(r, VALUES[kind] ?? GARBAGE);
  };
  // positionals (sometimes too few or too many)
  let np = spec.positional;
  // (report with no notebook runs every notebook of the repository: real work, not a fuzz case)
  if (r() < 0.05 && verb !== 'report') np = Math.max(0, np - 1);
  if (r() < 0.05) np += 1;
  for (let i = 0; i < np; i++) argv.push(verb === 'report' ? path.join(fx.dir, `missing-${Math.floor(r() * 9)}.ipynb`) : r() < 0.9 ? pick(r, fx.models) : pick(r, GARBAGE));
  // options: the required ones usually, others at random, sometimes unknown or value-less
  const flags = Object.keys(spec.options);
  const n = Math.floor(r() * 6);
  const chosen = new Set<string>();
  for (const f of ['--prompt', '--text', '--quant', '--codec', '--out']) if (flags.includes(f) && r() < 0.85) chosen.add(f);
  for (let i = 0; i < n; i++) chosen.add(pick(r, flags));
  for (const f of chosen) {
    argv.push(f);
    const kind = spec.options[f];
    if (kind !== null && kind !== undefined && r() > 0.03) argv.push(value(kind));
  }
  if (r() < 0.05) argv.push(pick(r, ['--bogus', '-z', '--json=1', '--', 'extra']));
  if (r() < 0.02) argv.splice(Math.floor(r() * (argv.length + 1)), 0, pick(r, GARBAGE));
  return argv;
}

// ---------------------------------------------------------------- fixtures

async function makeFixtures(dir: string): Promise<Fixtures> {
  const { tinyConfig, syntheticWeights, writeGGUFModel, writeHFModel, byteLevelVocabMetadata } = await import('../src/model/synthetic.js');
  const { compressModel } = await import('../src/container/compress-model.js');
  const { execFileSync } = await import('node:child_process');
  const cfg = tinyConfig({ numLayers: 1, maxPositionEmbeddings: 128 });
  const gguf = path.join(dir, 'tiny.gguf');
  writeGGUFModel(gguf, cfg, syntheticWeights(cfg, 1), 'f32', byteLevelVocabMetadata());
  const q8 = path.join(dir, 'tiny-q8.gguf');
  writeGGUFModel(q8, cfg, syntheticWeights(cfg, 2), 'q8_0', byteLevelVocabMetadata());
  const huge = path.join(dir, 'huge.gguf');
  const w = syntheticWeights(cfg, 3);
  w.get('model.layers.0.mlp.up_proj.weight')!.data[3] = 1e6;
  w.get('model.norm.weight')!.data[0] = NaN;
  writeGGUFModel(huge, cfg, w, 'f32', byteLevelVocabMetadata());
  const hf = path.join(dir, 'hf');
  writeHFModel(hf, cfg, syntheticWeights(cfg, 4), 'f32');
  const cllm = path.join(dir, 'tiny.cllm');
  compressModel(gguf, cllm, { quant: 'int8', codec: 'zstd' });
  const corrupt = path.join(dir, 'corrupt.cllm');
  const bytes = fs.readFileSync(cllm);
  bytes[bytes.length - 10] ^= 0xff;
  fs.writeFileSync(corrupt, bytes);
  const fifo = path.join(dir, 'fifo.gguf');
  execFileSync('mkfifo', [fifo]);
  const fifoTxt = path.join(dir, 'fifo.txt');
  execFileSync('mkfifo', [fifoTxt]);
  const dev = path.join(dir, 'dev-null');
  try {
    execFileSync('mknod', [dev, 'c', '1', '3']);
  } catch {
    /* not root */
  }
  const text = path.join(dir, 'text.txt');
  fs.writeFileSync(text, 'The river begins as a thin stream of melted snow high in the mountains. '.repeat(4));
  const bin = path.join(dir, 'bin.txt');
  fs.writeFileSync(bin, Buffer.from([0, 1, 2, 255, 254, 10]));
  const empty = path.join(dir, 'empty.txt');
  fs.writeFileSync(empty, '');
  const sub = path.join(dir, 'sub');
  fs.mkdirSync(sub);
  fs.mkdirSync(path.join(dir, 'cwd'));
  return {
    dir,
    models: [gguf, gguf, q8, huge, hf, cllm, corrupt, fifo, dev, text, sub, path.join(dir, 'missing.gguf'), path.join(dir, 'x.safetensors')],
    texts: [text, text, bin, empty, fifoTxt, sub, dev, path.join(dir, 'missing.txt'), gguf],
    outs: [path.join(dir, 'o1.cllm'), path.join(dir, 'o2.cllm'), sub, dev, path.join(dir, 'nope', 'x.cllm'), path.join(text, 'x.cllm'), path.join(dir, 'n'.repeat(250) + '.cllm'), path.join(dir, 'n'.repeat(260))],
    outDirs: [path.join(dir, 'hf-out'), sub, text, dev, path.join(dir, 'nope', 'deeper')],
  };
}

// ---------------------------------------------------------------- worker: run argvs, report each

interface Outcome {
  argv: string[];
  status: number;
  code?: string;
  ms: number;
  stderr: string;
  kind: 'ok' | 'crash' | 'hang' | 'off-contract';
}

function classify(status: number, stderr: string, ms: number): Outcome['kind'] {
  if (status !== 0 && status !== 1) return 'crash';
  if (/\[E_INTERNAL\]/.test(stderr)) return 'crash';
  if (ms > HANG_MS) return 'hang';
  if (status === 1 && !ONE_LINE.test(stderr)) return 'off-contract';
  if (status === 0 && /codecllm: .*\[E_/.test(stderr)) return 'off-contract';
  return 'ok';
}

async function worker(dir: string, seed: number, runs: number): Promise<void> {
  process.env.CODECLLM_PROGRESS = '0';
  process.env.JUPYTER_DATA_DIR = path.join(dir, 'jupyter');
  process.env.HOME = dir;
  const { main } = await import('../src/cli/main.js');
  process.chdir(path.join(dir, 'cwd')); // relative paths in the random argv (e.g. --out true) land in the fixtures, not the repository
  const fx: Fixtures = JSON.parse(fs.readFileSync(path.join(dir, 'fixtures.json'), 'utf8'));
  const r = rng(seed);
  let uncaught: string | null = null;
  process.on('uncaughtException', (e) => (uncaught = `uncaught: ${e?.stack ?? e}`));
  process.on('unhandledRejection', (e) => (uncaught = `unhandled rejection: ${(e as Error)?.stack ?? e}`));
  const send = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
  for (let i = 0; i < runs; i++) {
    const argv = randomArgv(r, fx);
    send({ start: argv });
    const errs: string[] = [];
    process.exitCode = undefined;
    const t0 = performance.now();
    try {
      await main(['node', 'codecllm', ...argv], { out: () => {}, err: (s) => errs.push(s) });
    } catch (e) {
      uncaught = `main threw: ${(e as Error)?.stack ?? e}`;
    }
    const ms = performance.now() - t0;
    const status = uncaught ? 99 : Number(process.exitCode ?? 0);
    const stderr = uncaught ?? errs.join('');
    uncaught = null;
    process.exitCode = undefined;
    const code = /\[(E_[A-Z_]+)\]\n$/.exec(stderr)?.[1] ?? (status === 0 ? 'exit 0' : 'none');
    send({ done: { argv, status, ms, code, stderr: stderr.slice(0, 600), kind: classify(status, stderr, ms) } });
  }
  process.exitCode = 0;
}

// ---------------------------------------------------------------- parent: fixtures, workers, watchdog, summary

async function parent(total: number, seconds: number, seed: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-fuzz-cli-'));
  const fx = await makeFixtures(dir);
  fs.writeFileSync(path.join(dir, 'fixtures.json'), JSON.stringify(fx));
  const self = fileURLToPath(import.meta.url);
  const t0 = performance.now();
  const counts = { runs: 0, ok_exit0: 0, refused_exit1: 0, crash: 0, hang: 0, 'off-contract': 0 };
  const failures: Outcome[] = [];
  const slowest: { argv: string[]; ms: number }[] = [];
  const codes: Record<string, number> = {};
  let batchSeed = seed;
  const batch = 2000;
  while (counts.runs < total && (performance.now() - t0) / 1000 < seconds) {
    const n = Math.min(batch, total - counts.runs);
    const child = spawn(process.execPath, ['--import', 'tsx', self, '--worker', dir, String(batchSeed++), String(n)], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr.on('data', () => {}); // tfjs banners and the like: not the CLI's contract (io sinks carry that)
    let last: string[] | null = null;
    let lastAt = performance.now();
    const watchdog = setInterval(() => {
      if (last && performance.now() - lastAt > HANG_MS + 5000) {
        failures.push({ argv: last, status: -1, ms: performance.now() - lastAt, stderr: '(no answer: killed by the watchdog)', kind: 'hang' });
        counts.hang++;
        counts.runs++;
        last = null;
        child.kill('SIGKILL');
      }
    }, 1000);
    const lines = readline.createInterface({ input: child.stdout });
    for await (const line of lines) {
      let m: { start?: string[]; done?: Outcome };
      try {
        m = JSON.parse(line);
      } catch {
        continue; // not ours
      }
      if (m.start) {
        last = m.start;
        lastAt = performance.now();
      } else if (m.done) {
        last = null;
        const o = m.done;
        counts.runs++;
        if (o.kind === 'ok') o.status === 0 ? counts.ok_exit0++ : counts.refused_exit1++;
        else {
          counts[o.kind]++;
          if (failures.length < 200) failures.push(o);
        }
        const code = o.code ?? 'none';
        codes[code] = (codes[code] ?? 0) + 1;
        slowest.push({ argv: o.argv, ms: o.ms });
        slowest.sort((a, b) => b.ms - a.ms);
        slowest.length = Math.min(slowest.length, 5);
        if (counts.runs % 5000 === 0) process.stderr.write(`fuzz-cli: ${counts.runs} runs, ${((performance.now() - t0) / 1000).toFixed(0)} s, failures ${failures.length}\n`);
      }
    }
    clearInterval(watchdog);
    await new Promise((r) => child.once('close', r).once('exit', r));
    if ((child.exitCode !== 0 || child.signalCode !== null) && last) {
      // the worker died inside a run (an abort, a native crash, a signal): that run is a crash
      failures.push({ argv: last, status: child.exitCode ?? -1, ms: 0, stderr: `worker died (${child.signalCode ?? `exit ${child.exitCode}`})`, kind: 'crash' });
      counts.crash++;
      counts.runs++;
    }
  }
  const secs = (performance.now() - t0) / 1000;
  const summary = { date: new Date().toISOString(), load_average: os.loadavg().map((x) => +x.toFixed(2)), node: process.version, seed, seconds: +secs.toFixed(1), runs_per_s: +(counts.runs / secs).toFixed(1), ...counts, error_codes: codes, slowest, failures };
  process.stdout.write(JSON.stringify(summary, null, 1) + '\n');
  fs.rmSync(dir, { recursive: true, force: true });
}

const args = process.argv.slice(2);
if (args[0] === '--worker') await worker(args[1]!, Number(args[2]), Number(args[3]));
else await parent(Number(args[0] ?? 100000), Number(args[1] ?? 1e9), Number(args[2] ?? 1));
