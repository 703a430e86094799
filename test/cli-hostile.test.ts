/**
 * Issue 16: every bad input a clear refusal, every interrupted write cleaned up, nothing silently wrong.
 *
 * One table: each row is a command line, the exit status it must end with, the pattern of its one stderr line
 * (`codecllm: <file>: <problem> [E_CODE]`) and a time bound. Rows run in-process through main() (fast: no process
 * start per row); rows that need a real process (signals, a FIFO that must not block) spawn one. Fixtures are tiny
 * synthetic models (one block, 8 linear layers) except where the case is about the default model (SmolLM2-135M:
 * prompts longer than what the tfjs heap holds, the chunk-table limit, the baseline that must not run first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tinyConfig, syntheticWeights, writeGGUFModel, writeHFModel, byteLevelVocabMetadata } from '../src/model/synthetic.js';
import { main } from '../src/cli/main.js';
import { packageRoot } from '../src/util/paths.js';
import { DEFAULT_MODEL_FILE } from '../src/model/checkpoint.js';

process.env.CODECLLM_PROGRESS = '0';
const ROOT = packageRoot();
const HAVE_DEFAULT = fs.existsSync(path.join(ROOT, 'data', 'models', DEFAULT_MODEL_FILE));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-hostile-'));
const P = (...p: string[]) => path.join(tmp, ...p);
const ONE_LINE = /^codecllm: [^\n]+ \[E_[A-Z_]+\]\n$/;

// ---- fixtures
const cfg = tinyConfig({ numLayers: 1, maxPositionEmbeddings: 256 }); // 1 x 7 + lm_head = 8 linear layers
const tiny = P('tiny.gguf');
writeGGUFModel(tiny, cfg, syntheticWeights(cfg, 1), 'f32', byteLevelVocabMetadata());

const huge = P('huge.gguf'); // a weight of 1e6: beyond fp16
{
  const w = syntheticWeights(cfg, 2);
  w.get('model.layers.0.mlp.down_proj.weight')!.data[5] = 1e6;
  w.get('model.layers.0.mlp.down_proj.weight')!.data[9] = -2e5;
  writeGGUFModel(huge, cfg, w, 'f32', byteLevelVocabMetadata());
}
const nanLinear = P('nan-linear.gguf');
{
  const w = syntheticWeights(cfg, 3);
  w.get('model.layers.0.self_attn.v_proj.weight')!.data[7] = NaN;
  writeGGUFModel(nanLinear, cfg, w, 'f32', byteLevelVocabMetadata());
}
const nanNorm = P('nan-norm.gguf'); // NaN logits everywhere, linears finite
{
  const w = syntheticWeights(cfg, 4);
  w.get('model.norm.weight')!.data.fill(NaN);
  writeGGUFModel(nanNorm, cfg, w, 'f32', byteLevelVocabMetadata());
}
const longCtx = P('long-context.gguf'); // context 200k: a 40k-token prompt fits the context, not the wasm heap
{
  const c = tinyConfig({ numLayers: 1, maxPositionEmbeddings: 200_000 });
  writeGGUFModel(longCtx, c, syntheticWeights(c, 5), 'f32', byteLevelVocabMetadata());
}
const badMerge = P('bad-merge.gguf'); // merge 'h e' makes 'he', which is not a token
writeGGUFModel(
  badMerge,
  cfg,
  syntheticWeights(cfg, 6),
  'f32',
  byteLevelVocabMetadata().map((m) => (m.key === 'tokenizer.ggml.merges' ? { ...m, value: ['h e'] } : m)),
);
const hfBad = P('hf-bad-merge'); // the same in an HF tokenizer.json
{
  writeHFModel(hfBad, cfg, syntheticWeights(cfg, 7), 'f32');
  const vocab: Record<string, number> = { a: 0, b: 1, c: 2 };
  for (let i = 3; i < cfg.vocabSize; i++) vocab[`t${i}`] = i;
  fs.writeFileSync(
    path.join(hfBad, 'tokenizer.json'),
    JSON.stringify({ version: '1.0', model: { type: 'BPE', vocab, merges: ['a b'] }, added_tokens: [], pre_tokenizer: null, normalizer: null, decoder: null }),
  );
}
const fifoGguf = P('fifo.gguf');
const fifoHF = P('hf-fifo');
const fifoCllm = P('fifo.cllm');
const fifoText = P('fifo.txt');
spawnSync('mkfifo', [fifoGguf, fifoCllm, fifoText]);
writeHFModel(fifoHF, cfg, syntheticWeights(cfg, 8), 'f32');
fs.rmSync(path.join(fifoHF, 'model.safetensors'));
spawnSync('mkfifo', [path.join(fifoHF, 'model.safetensors')]);
const chardev = P('null-device'); // our own character device (1, 3 = null): never the system's /dev/null
const haveCharDev = spawnSync('mknod', [chardev, 'c', '1', '3']).status === 0;

const goodText = P('good.txt');
fs.writeFileSync(goodText, 'The river begins as a thin stream of melted snow high in the mountains. '.repeat(2));
const binText = P('binary.txt');
fs.writeFileSync(binText, Buffer.from([0x54, 0x68, 0x65, 0x00, 0x01, 0x02, 0x7f, 0x45, 0x4c, 0x46]));
const badUtf8 = P('latin1.txt');
fs.writeFileSync(badUtf8, Buffer.from('caf\xe9 cr\xe8me br\xfbl\xe9e, the river and the snow', 'latin1'));
const aFile = P('plain-file');
fs.writeFileSync(aFile, 'x');
const outDir = P('out');
fs.mkdirSync(outDir);
const roDir = P('read-only');
fs.mkdirSync(roDir, { mode: 0o500 });
const isRoot = process.getuid?.() === 0;

// prompts for the default model: 641 tokens (inside the 8,192 context, beyond the tfjs wasm heap), 20,001 tokens
const words = (n: number) => Array.from({ length: n }, (_, i) => ` w${i % 97}`).join('');

// ---- the harness

interface Result {
  status: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run the CLI in this process; capture stdout/stderr and the exit status. */
async function cli(args: string[]): Promise<Result> {
  const out: string[] = [];
  const errs: string[] = [];
  process.exitCode = undefined;
  const t0 = performance.now();
  await main(['node', 'codecllm', ...args], { out: (s) => out.push(s), err: (s) => errs.push(s) });
  const status = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { status, stdout: out.join(''), stderr: errs.join(''), ms: performance.now() - t0 };
}

const CHILD = `
const { main } = await import('./src/cli/main.ts');
const rows = JSON.parse(process.argv[1]);
const out = [];
for (const args of rows) {
  const so = [], se = [];
  process.exitCode = undefined;
  const t0 = performance.now();
  await main(['node', 'codecllm', ...args], { out: (s) => so.push(s), err: (s) => se.push(s) });
  out.push({ status: Number(process.exitCode ?? 0), stdout: so.join(''), stderr: se.join(''), ms: performance.now() - t0 });
}
process.exitCode = 0;
process.stdout.write(JSON.stringify(out));
`;

/**
 * Run several command lines in one child process (TypeScript through tsx) under a hard timeout: for rows where a
 * regression would block the whole process (a FIFO opened for reading), so it cannot hang the test run.
 */
function cliProcessBatch(rows: string[][], timeoutMs: number): Result[] {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD, JSON.stringify(rows)], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, CODECLLM_PROGRESS: '0' },
  });
  assert.equal(r.status, 0, `child: status ${r.status} signal ${r.signal} (a blocked open?)\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Run the CLI as a child process with a hard timeout (for signals). */
function cliProcess(args: string[], timeoutMs: number, onSpawn?: (pid: number) => void): Promise<Result> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', "import('./src/cli/main.ts').then((m) => m.main(['node', 'codecllm', ...process.argv.slice(1)]))", '--', ...args], {
      cwd: ROOT,
      env: { ...process.env, CODECLLM_PROGRESS: '0' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    onSpawn?.(child.pid!);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ status: code ?? (signal === 'SIGKILL' ? 137 : 128), stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

interface Row {
  /** the case, in words */
  name: string;
  args: () => string[];
  status: number;
  /** the one stderr line (status 1), or null: stderr empty */
  stderr: RegExp | null;
  /** seconds */
  within: number;
  /** needs the default model */
  default?: boolean;
  /** run as a child process (a regression here could block) */
  process?: boolean;
  skip?: string | false;
  check?: (r: Result) => void;
}

const ROWS: Row[] = [
  // ---- silently wrong results
  { name: 'compress --quant f16 of a 1e6 weight: refused with tensor, count, largest', args: () => ['compress', huge, '--quant', 'f16', '--codec', 'lz4', '--out', P('huge.cllm')], status: 1,
    stderr: /huge\.gguf: tensor 'model\.layers\.0\.mlp\.down_proj\.weight': 2 value\(s\) that f16 cannot hold .*largest \|value\| 1000000.*--allow-overflow .*\[E_NUMERIC\]/, within: 10,
    check: () => assert.ok(!fs.existsSync(P('huge.cllm'))) },
  { name: 'compress --quant f16 --allow-overflow keep-bf16 keeps that tensor as bf16', args: () => ['compress', huge, '--quant', 'f16', '--codec', 'lz4', '--out', P('huge-bf16.cllm'), '--json', '--tensors', '--allow-overflow', 'keep-bf16'], status: 0, stderr: null, within: 10,
    check: (r) => {
      const t = JSON.parse(r.stdout).per_tensor.find((x: { name: string }) => x.name === 'model.layers.0.mlp.down_proj.weight');
      assert.equal(t.storage, 'bf16');
    } },
  { name: 'compress --quant f16 --allow-overflow saturate stores ±65504', args: () => ['compress', huge, '--quant', 'f16', '--codec', 'lz4', '--out', P('huge-sat.cllm'), '--allow-overflow', 'saturate'], status: 0, stderr: null, within: 10 },
  { name: 'decompress --dtype f16 of a 1e6 weight: refused', args: () => ['decompress', huge, '--out', P('huge-hf'), '--dtype', 'f16'], status: 1, stderr: /down_proj\.weight': 2 value\(s\) that f16 cannot hold.*\[E_NUMERIC\]/, within: 10,
    check: () => assert.ok(!fs.existsSync(P('huge-hf', 'model.safetensors'))) },
  { name: 'GGUF tokenizer whose merge makes a piece missing from the vocabulary: refused naming it', args: () => ['generate', badMerge, '--prompt', 'hello there', '--max-tokens', '1'], status: 1, stderr: /bad-merge\.gguf: invalid tokenizer: merge 0 \("h e"\) makes 'he', which is not in the vocabulary \[E_TOKENIZER\]/, within: 10 },
  { name: 'HF tokenizer.json whose merge makes a missing piece: refused naming it', args: () => ['eval', hfBad, '--text', goodText], status: 1, stderr: /tokenizer\.json: invalid tokenizer: merge 0 \("a b"\) makes 'ab', which is not in the vocabulary \[E_TOKENIZER\]/, within: 10 },
  { name: 'eval --text of a binary file (NUL bytes): refused', args: () => ['eval', tiny, '--text', binText], status: 1, stderr: /binary\.txt: not a UTF-8 text: NUL byte at offset 3 .*--text-encoding latin1.*\[E_ARG\]/, within: 5 },
  { name: 'eval --text with invalid UTF-8: refused with the byte offset', args: () => ['eval', tiny, '--text', badUtf8], status: 1, stderr: /latin1\.txt: not a UTF-8 text: invalid UTF-8 at byte offset 3 .*\[E_ARG\]/, within: 5 },
  { name: 'eval --text-encoding latin1 reads the same file on request', args: () => ['eval', tiny, '--text', badUtf8, '--text-encoding', 'latin1', '--window', '32', '--json'], status: 0, stderr: null, within: 20,
    check: (r) => assert.ok(JSON.parse(r.stdout).tokens > 10) },
  { name: 'sweep --layers 999 on a model with 8 linear layers: refused', args: () => ['sweep', tiny, '--layers', '1,999', '--quant', 'int8', '--text', goodText, '--tokens', '16'], status: 1, stderr: /invalid --layers: 999 exceeds the 8 linear layers of .*tiny\.gguf.*\[E_ARG\]/, within: 5 },
  { name: 'eval --patch with NaN logits: no 100% top-1 agreement, verdict MAJOR', args: () => ['eval', nanNorm, '--text', goodText, '--window', '32', '--patch', 'all', '--quant', 'int8', '--quality-tokens', '8', '--json', '--engine', 'tfjs'], status: 0, stderr: null, within: 30,
    check: (r) => {
      const j = JSON.parse(r.stdout);
      assert.equal(j.top1_agreement, 0);
      assert.equal(j.verdict, 'MAJOR');
    } },
  { name: 'eval --patch q_proj (short name): refused before any model work (default model)', default: true, args: () => ['eval', 'default', '--text', path.join(ROOT, 'data/texts/eval.txt'), '--patch', 'q_proj', '--quant', 'int8'], status: 1, stderr: /invalid selection 'q_proj': a short module name matching 30 modules .*\[E_PATCH\]/, within: 15 },
  { name: 'eval --quant with a bad spec: refused while parsing the arguments', args: () => ['eval', tiny, '--text', goodText, '--patch', 'all', '--quant', 'int9'], status: 1, stderr: /invalid quant spec 'int9'.*\[E_QUANT\]/, within: 2 },
  { name: 'compress --out naming a character device: refused, the device stays a device', skip: !haveCharDev && 'mknod not permitted', args: () => ['compress', tiny, '--quant', 'none', '--codec', 'lz4', '--out', chardev], status: 1, stderr: /null-device: --out names a character device; it must be a regular file or not exist \[E_IO\]/, within: 5,
    check: () => assert.ok(fs.statSync(chardev).isCharacterDevice()) },
  { name: 'overwriting a .cllm keeps its mode (0600)', args: () => {
      const f = P('mode.cllm');
      fs.writeFileSync(f, 'old');
      fs.chmodSync(f, 0o600);
      return ['compress', tiny, '--quant', 'none', '--codec', 'lz4', '--out', f];
    }, status: 0, stderr: null, within: 10, check: () => assert.equal(fs.statSync(P('mode.cllm')).mode & 0o777, 0o600) },
  { name: 'overwriting a .cllm owned by another user keeps its owner (root only)', skip: !isRoot && 'needs root', args: () => {
      const f = P('owned.cllm');
      fs.writeFileSync(f, 'old');
      fs.chownSync(f, 4321, 4321);
      return ['compress', tiny, '--quant', 'none', '--codec', 'lz4', '--out', f];
    }, status: 0, stderr: null, within: 10, check: () => assert.deepEqual([fs.statSync(P('owned.cllm')).uid, fs.statSync(P('owned.cllm')).gid], [4321, 4321]) },
  { name: 'an unknown option close to a known one: the suggestion stays on the one line', args: () => ['info', tiny, '--jsn'], status: 1, stderr: /^codecllm: info: unknown option '--jsn' \(Did you mean --json\?\) \[E_ARG\]\n$/, within: 2 },
  { name: 'a new .cllm gets the usual mode (0666 & ~umask)', args: () => ['compress', tiny, '--quant', 'none', '--codec', 'lz4', '--out', P('fresh.cllm')], status: 0, stderr: null, within: 10,
    check: () => assert.equal(fs.statSync(P('fresh.cllm')).mode & 0o777, 0o666 & ~process.umask()) },

  // ---- crashes and hangs
  { name: 'generate default with a 641-token prompt on tfjs: refused (needed vs available bytes), naming --engine native', default: true, args: () => ['generate', 'default', '--prompt', words(221), '--max-tokens', '1', '--engine', 'tfjs'], status: 1,
    stderr: /SmolLM2-135M-Instruct\.Q4_1\.gguf: the tfjs reference would need [0-9.]+ GiB for this prompt, its wasm backend holds [0-9.]+ GiB; use --engine native .*\[E_OOM\]/, within: 15 },
  { name: 'a prompt that fits the context but not the wasm heap (tiny model, 200k context): E_OOM', args: () => ['generate', longCtx, '--prompt', 'x'.repeat(40_000), '--max-tokens', '1', '--engine', 'tfjs'], status: 1, stderr: /long-context\.gguf: the tfjs reference would need .*--engine native.*\[E_OOM\]/, within: 10 },
  { name: 'the same prompt on the cpu backend is not refused for the wasm heap', args: () => ['generate', longCtx, '--prompt', 'x'.repeat(300), '--max-tokens', '2', '--backend', 'cpu', '--json', '--engine', 'tfjs'], status: 0, stderr: null, within: 30 },
  { name: 'generate default with a 20,001-token prompt: refused against the 8,192 context', default: true, args: () => ['generate', 'default', '--prompt', words(6_900), '--engine', 'native'], status: 1, stderr: /prompt \+ --max-tokens \d+ tokens exceeds the model's context of 8192 tokens \[E_ARG\]/, within: 20 },
  { name: '--max-tokens 1000000000000 on a 256-token context: refused', args: () => ['generate', tiny, '--prompt', 'hi', '--max-tokens', '1000000000000'], status: 1, stderr: /tiny\.gguf: prompt \+ --max-tokens 1000000000002 tokens exceeds the model's context of 256 tokens \[E_ARG\]/, within: 5 },
  { name: '--max-tokens 1e12: not an integer', args: () => ['generate', tiny, '--prompt', 'hi', '--max-tokens', '1e12'], status: 1, stderr: /^codecllm: invalid --max-tokens: '1e12' is not an integer in \[1, ∞\] \[E_ARG\]\n$/, within: 2 },
  { name: 'prompt + --max-tokens inside the context runs (tiny model)', args: () => ['generate', tiny, '--prompt', 'hi', '--max-tokens', '254', '--json'], status: 0, stderr: null, within: 60 },
  { name: 'eval --window beyond the context: refused', args: () => ['eval', tiny, '--text', goodText, '--window', '4096'], status: 1, stderr: /--window 4096 tokens exceeds the model's context of 256 tokens \[E_ARG\]/, within: 5 },
  { name: 'bench --prompt-tokens + --tokens beyond the context: refused', args: () => ['bench', tiny, '--prompt-tokens', '250', '--tokens', '10'], status: 1, stderr: /--prompt-tokens \+ --tokens 260 tokens exceeds .*\[E_ARG\]/, within: 5 },
  { name: 'a FIFO as a .gguf model: refused without blocking', process: true, args: () => ['info', fifoGguf], status: 1, stderr: /fifo\.gguf: not a regular file \(it is a FIFO \(named pipe\)\) \[E_IO\]/, within: 15 },
  { name: 'a FIFO as model.safetensors of an HF folder: refused without blocking', process: true, args: () => ['info', fifoHF], status: 1, stderr: /model\.safetensors: not a regular file \(it is a FIFO/, within: 15 },
  { name: 'verify of a FIFO: refused without blocking', process: true, args: () => ['verify', fifoCllm], status: 1, stderr: /fifo\.cllm: not a regular file \(it is a FIFO/, within: 15 },
  { name: 'eval --text naming a FIFO: refused without blocking', process: true, args: () => ['eval', tiny, '--text', fifoText], status: 1, stderr: /fifo\.txt: not a regular file \(it is a FIFO/, within: 15 },
  { name: '--chunk-size 1: refused while parsing (below 4 KiB)', args: () => ['compress', tiny, '--quant', 'none', '--codec', 'zstd', '--chunk-size', '1', '--out', P('c1.cllm')], status: 1, stderr: /invalid --chunk-size: '1' is not an integer in \[4096, 268435456\] \[E_ARG\]/, within: 2 },
  { name: '--chunk-size above the container limit (256 MiB): refused while parsing', default: true, args: () => ['roundtrip', 'default', '--quant', 'int4', '--codec', 'none', '--chunk-size', '268435457'], status: 1, stderr: /invalid --chunk-size: '268435457' is not an integer/, within: 5 },

  // ---- messages off the contract
  { name: 'unknown option', args: () => ['info', tiny, '--bogus'], status: 1, stderr: /^codecllm: info: unknown option '--bogus' \[E_ARG\]\n$/, within: 2 },
  { name: 'unknown command', args: () => ['infoo', tiny], status: 1, stderr: /^codecllm: usage: unknown command 'infoo' \(Did you mean info\?\) \[E_ARG\]\n$/, within: 2 },
  { name: 'no command', args: () => [], status: 1, stderr: /^codecllm: usage: missing command \(expected one of: info, generate, .*\) \[E_ARG\]\n$/, within: 2 },
  { name: 'missing argument', args: () => ['generate', '--prompt', 'x'], status: 1, stderr: /^codecllm: generate: missing required argument 'model' \[E_ARG\]\n$/, within: 2 },
  { name: 'missing option value', args: () => ['eval', tiny, '--text'], status: 1, stderr: /^codecllm: eval: option '--text <file>' argument missing \[E_ARG\]\n$/, within: 2 },
  { name: 'missing required option', args: () => ['compress', tiny, '--codec', 'lz4', '--out', P('x.cllm')], status: 1, stderr: /^codecllm: compress: required option '--quant <spec>' not specified \[E_ARG\]\n$/, within: 2 },
  { name: 'too many arguments', args: () => ['info', tiny, tiny], status: 1, stderr: /^codecllm: info: too many arguments for 'info'\. Expected 1 argument but got 2\. \[E_ARG\]\n$/, within: 2 },
  { name: 'kernel without its subcommand', args: () => ['kernel'], status: 1, stderr: /^codecllm: kernel: missing command \(expected one of: install\) \[E_ARG\]\n$/, within: 2 },
  { name: 'verify of a missing file: one line on stderr, nothing on stdout', args: () => ['verify', P('nope.cllm')], status: 1, stderr: /nope\.cllm: no such file or directory \[E_IO\]/, within: 2, check: (r) => assert.equal(r.stdout, '') },
  { name: 'verify of a directory: one line on stderr, nothing on stdout', args: () => ['verify', outDir], status: 1, stderr: /out: not a regular file \(it is a directory\) \[E_IO\]/, within: 2, check: (r) => assert.equal(r.stdout, '') },
  { name: '--out that is a directory', args: () => ['compress', tiny, '--quant', 'none', '--codec', 'lz4', '--out', outDir], status: 1, stderr: /out: --out names a directory; it must be a regular file or not exist \[E_IO\]/, within: 2 },
  { name: '--out in a missing folder', args: () => ['compress', tiny, '--quant', 'none', '--codec', 'lz4', '--out', P('no-such-folder', 'x.cllm')], status: 1, stderr: /x\.cllm: folder .*no-such-folder does not exist \(or is not a folder\) \[E_IO\]/, within: 2 },
  { name: '--out under a file where a folder is expected', args: () => ['compress', tiny, '--quant', 'none', '--codec', 'lz4', '--out', path.join(aFile, 'x.cllm')], status: 1, stderr: /x\.cllm: folder .*plain-file does not exist \(or is not a folder\) \[E_IO\]/, within: 2 },
  { name: '--out unwritable', args: () => ['compress', tiny, '--quant', 'none', '--codec', 'lz4', '--out', isRoot ? '/proc/codecllm-hostile.cllm' : path.join(roDir, 'x.cllm')], status: 1, stderr: /codecllm-hostile\.cllm: .*\[E_IO\]|x\.cllm: permission denied \(EACCES\) \[E_IO\]/, within: 5 },
  { name: 'decompress --out naming a file', args: () => ['decompress', tiny, '--out', aFile], status: 1, stderr: /plain-file: --out names a regular file; it must be a folder or not exist \[E_IO\]/, within: 2 },
  { name: "--temperature ''", args: () => ['generate', tiny, '--prompt', 'x', '--temperature', ''], status: 1, stderr: /^codecllm: invalid --temperature: '' is not a number in \[0, 1000\] \[E_ARG\]\n$/, within: 2 },
  { name: '--top-p -5', args: () => ['generate', tiny, '--prompt', 'x', '--top-p', '-5'], status: 1, stderr: /^codecllm: invalid --top-p: '-5' is not a number in \(0, 1\] \[E_ARG\]\n$/, within: 2 },
  { name: '--top-p NaN', args: () => ['generate', tiny, '--prompt', 'x', '--top-p', 'NaN'], status: 1, stderr: /invalid --top-p: 'NaN' is not a number/, within: 2 },
  { name: '--top-k beyond the vocabulary', args: () => ['generate', tiny, '--prompt', 'x', '--top-k', '100000'], status: 1, stderr: /invalid --top-k: 100000 exceeds the vocabulary of 256 \[E_ARG\]/, within: 5 },
  { name: '--level outside the codec range', args: () => ['compress', tiny, '--quant', 'none', '--codec', 'deflate', '--level', '12', '--out', P('l.cllm')], status: 1, stderr: /invalid --level: 12 is outside deflate's range \[0, 9\] \[E_ARG\]/, within: 2 },
  { name: 'a NaN weight: the error names the tensor', args: () => ['compress', nanLinear, '--quant', 'int8', '--codec', 'lz4', '--out', P('nan.cllm')], status: 1, stderr: /nan-linear\.gguf: tensor 'model\.layers\.0\.self_attn\.v_proj\.weight' has 1 non-finite value\(s\) \(first at element 7: NaN\) \[E_NUMERIC\]/, within: 10 },
  { name: 'a NaN weight under eval --patch: the error names the module', args: () => ['eval', nanLinear, '--text', goodText, '--window', '32', '--patch', 'all', '--quant', 'int8'], status: 1, stderr: /model\.layers\.0\.self_attn\.v_proj: quantize: non-finite weight NaN .*\[E_QUANT\]/, within: 30 },
  { name: 'a 245-character file name is written (the temp name is cut to fit)', args: () => ['compress', tiny, '--quant', 'none', '--codec', 'lz4', '--out', P('n'.repeat(240) + '.cllm')], status: 0, stderr: null, within: 10,
    check: () => assert.ok(fs.statSync(P('n'.repeat(240) + '.cllm')).size > 0) },
  { name: 'a 256-byte file name: refused on one line', args: () => ['compress', tiny, '--quant', 'none', '--codec', 'lz4', '--out', P('n'.repeat(251) + '.cllm')], status: 1, stderr: /file name longer than 255 bytes \[E_IO\]/, within: 2 },
];

function checkRow(row: Row, args: string[], r: Result): void {
  const show = `${args.join(' ').slice(0, 200)}\n  status ${r.status}, ${r.ms.toFixed(0)} ms\n  stderr: ${r.stderr.slice(0, 500)}`;
  assert.equal(r.status, row.status, show);
  if (row.stderr === null) assert.equal(r.stderr, '', show);
  else {
    assert.match(r.stderr, ONE_LINE, show);
    assert.match(r.stderr, row.stderr, show);
  }
  assert.ok(r.ms <= row.within * 1000, `took ${r.ms.toFixed(0)} ms, bound ${row.within} s\n${show}`);
  row.check?.(r);
}

const skipOf = (row: Row) => row.skip || (row.default && !HAVE_DEFAULT ? 'default model not fetched' : false);
for (const row of ROWS.filter((r) => !r.process)) {
  test(`hostile: ${row.name}`, { skip: skipOf(row) }, async () => {
    const args = row.args();
    checkRow(row, args, await cli(args));
  });
}

// rows that would block a process on regression: all in one child process under a hard timeout
test('hostile: FIFOs given as model, HF weights, .cllm and text are refused without blocking', () => {
  const rows = ROWS.filter((r) => r.process && !skipOf(r));
  const argvs = rows.map((r) => r.args());
  const results = cliProcessBatch(argvs, 60_000);
  rows.forEach((row, i) => checkRow(row, argvs[i]!, results[i]!));
});

// ---- interrupted writes, stale temps, disk full

const temps = (dir: string): string[] => fs.readdirSync(dir).filter((n) => /codecllm-(data-)?tmp$|\.tmp$/.test(n));

// a model of ~60 tensors of <= 0.5 MB: zstd level 19 keeps compress busy for seconds, one tensor at a time
const mid = P('mid.gguf');
{
  const c = tinyConfig({ numLayers: 8, hiddenSize: 256, intermediateSize: 512, numHeads: 4, numKvHeads: 2, headDim: 64, maxPositionEmbeddings: 256 });
  writeGGUFModel(mid, c, syntheticWeights(c, 9), 'f32', byteLevelVocabMetadata());
}

test('hostile: SIGINT, SIGTERM, SIGHUP during compress remove the temp files and keep the old file', async () => {
  const runs = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map(async (sig) => {
    const dir = fs.mkdtempSync(P(`sig-${sig}-`));
    const out = path.join(dir, 'x.cllm');
    fs.writeFileSync(out, 'old contents');
    let killed = false;
    const r = await cliProcess(['compress', mid, '--quant', 'none', '--codec', 'zstd', '--level', '19', '--out', out], 60_000, (pid) => {
      const poll = setInterval(() => {
        if (temps(dir).length) {
          clearInterval(poll);
          killed = true;
          process.kill(pid, sig);
        }
      }, 10);
      setTimeout(() => clearInterval(poll), 55_000);
    });
    assert.ok(killed, `${sig}: the temp file never appeared`);
    assert.deepEqual(temps(dir), [], `${sig}: left behind: ${temps(dir)}`);
    assert.equal(fs.readFileSync(out, 'utf8'), 'old contents');
    assert.equal(r.status, 128 + { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 }[sig], `${sig}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^codecllm: interrupted by ${sig}: temporary files removed, no output written \\[E_IO\\]\\n$`));
  });
  await Promise.all(runs);
});

test('hostile: stale temps of dead processes are removed by the next write into the folder; live ones are kept', async () => {
  const dir = fs.mkdtempSync(P('stale-'));
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout.trim();
  const staleNew = `.x.cllm.${dead}.abc123.codecllm-data-tmp`;
  const staleOld = `.x.cllm.${dead}.k2j3h4.data.tmp`; // the name earlier versions used
  const live = `.y.cllm.${process.pid}.zzz999.codecllm-tmp`;
  const other = '.not-ours.tmp';
  for (const n of [staleNew, staleOld, live, other]) fs.writeFileSync(path.join(dir, n), 'x');
  const r = await cli(['compress', tiny, '--quant', 'none', '--codec', 'lz4', '--out', path.join(dir, 'new.cllm')]);
  assert.equal(r.status, 0, r.stderr);
  const left = fs.readdirSync(dir).sort();
  assert.deepEqual(left, [live, other, 'new.cllm'].sort());
});

test('hostile: disk full (ENOSPC) during compress is one E_IO line, no temp file, the old file intact', async () => {
  const dir = fs.mkdtempSync(P('enospc-'));
  const out = path.join(dir, 'full.cllm');
  fs.writeFileSync(out, 'old');
  const { syncBuiltinESMExports } = await import('node:module');
  const real = fs.writeSync;
  let calls = 0;
  (fs as { writeSync: unknown }).writeSync = (...a: unknown[]) => {
    if (++calls === 5) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return (real as (...x: unknown[]) => number)(...a);
  };
  syncBuiltinESMExports();
  let r: Result;
  try {
    r = await cli(['compress', tiny, '--quant', 'none', '--codec', 'none', '--chunk-size', '4096', '--out', out]);
  } finally {
    (fs as { writeSync: unknown }).writeSync = real;
    syncBuiltinESMExports();
  }
  assert.equal(r.status, 1);
  assert.match(r.stderr, ONE_LINE);
  assert.match(r.stderr, /full\.cllm: no space left on device \(ENOSPC\) \[E_IO\]/);
  assert.deepEqual(temps(dir), []);
  assert.equal(fs.readFileSync(out, 'utf8'), 'old');
});

test('hostile: --engine native handles a prompt the tfjs reference refuses (7,000 tokens, 200k context)', async () => {
  const prompt = 'y'.repeat(7000);
  const refused = await cli(['generate', longCtx, '--prompt', prompt, '--max-tokens', '1', '--engine', 'tfjs']);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /would need .* GiB .*use --engine native.*\[E_OOM\]/);
  const r = await cli(['generate', longCtx, '--prompt', prompt, '--max-tokens', '1', '--engine', 'native', '--json']);
  if (r.status !== 0 && /E_NATIVE/.test(r.stderr)) return; // native addon not built here
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).prompt_tokens, 7000);
});

test('hostile: the chunk table implied by a chunk size is checked against the manifest limit before any work', { skip: !HAVE_DEFAULT && 'default model not fetched' }, async () => {
  const { checkChunkPlan } = await import('../src/container/compress-model.js');
  const { openCheckpoint } = await import('../src/model/checkpoint.js');
  const ck = openCheckpoint('default');
  try {
    const t0 = performance.now();
    assert.throws(() => checkChunkPlan(ck, { quant: 'f32', codec: 'zstd', chunkSize: 1 }), { code: 'E_ARG', message: /invalid chunk size: 1 bytes makes \d+ chunks, whose table .* exceeds the manifest limit of 536870912 bytes/ });
    assert.ok(performance.now() - t0 < 1000);
    checkChunkPlan(ck, { quant: 'f32', codec: 'zstd', chunkSize: 4096 }); // the CLI's smallest chunk fits
  } finally {
    ck.close();
  }
});
