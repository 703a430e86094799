/**
 * Whole models through the .cllm: tiny synthetic checkpoints (HF bf16 folder, GGUF q8_0 with a tokenizer) round-trip
 * bit-exactly with every CPU codec and quant choice; a .cllm loads anywhere a model path is accepted and gives the
 * same logits as the source quantized the same way (identical logits for --quant none); the CLI commands work end
 * to end, and Python's safetensors loads what `decompress` writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { load } from '../src/load.js';
import { openCheckpoint, type Checkpoint } from '../src/model/checkpoint.js';
import { tinyConfig, syntheticWeights, writeHFModel, writeGGUFModel, hfConfigJson } from '../src/model/synthetic.js';
import { compressModel, decompressToHF, openAnyCheckpoint, openCllmCheckpoint, roundtripModel, verifyCllm, parseQuantChoice } from '../src/container/compress-model.js';
import { CLLM_CODECS, cllmFromBuffer, openCllm, writeCllm } from '../src/container/cllm.js';
import { CodecLLMError } from '../src/messages.js';
import { quantize, dequantize } from '../src/quant/quantize.js';
import type { TensorSource } from '../src/formats/tensor.js';
import type { GGUFType } from '../src/formats/gguf.js';
import { throwsExact } from './cllm-helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-cllm-model-'));
const cfg = tinyConfig();
const weights = syntheticWeights(cfg, 11);
const hfDir = path.join(tmp, 'hf');
const ggufFile = path.join(tmp, 'tiny.gguf');
writeHFModel(hfDir, cfg, weights, 'bf16');

// a byte-level BPE vocabulary, so the GGUF carries a tokenizer the .cllm must keep
const TOKENS = ['<|endoftext|>', '<|im_start|>', 'h', 'e', 'l', 'o', 'Ġ', 'w', 'r', 'd', 'he', 'll', 'hell', 'hello', 'Ġw', 'or', 'Ġwor', 'Ġworl', 'Ġworld'];
const MERGES = ['h e', 'l l', 'he ll', 'hell o', 'Ġ w', 'o r', 'Ġw or', 'Ġwor l', 'Ġworl d'];
const T = (t: string) => t as GGUFType;
writeGGUFModel(ggufFile, cfg, weights, 'q8_0', [
  { key: 'tokenizer.ggml.model', type: T('string'), value: 'gpt2' },
  { key: 'tokenizer.ggml.pre', type: T('string'), value: 'smollm' },
  { key: 'tokenizer.ggml.tokens', type: T('array'), itemType: 'string', value: TOKENS } as never,
  { key: 'tokenizer.ggml.merges', type: T('array'), itemType: 'string', value: MERGES } as never,
  { key: 'tokenizer.ggml.token_type', type: T('array'), itemType: 'int32', value: TOKENS.map((_, i) => (i <= 1 ? 3 : 1)) } as never,
  { key: 'tokenizer.ggml.bos_token_id', type: T('uint32'), value: 1 },
  { key: 'tokenizer.ggml.eos_token_id', type: T('uint32'), value: 0 },
]);
const ids = [5, 17, 99, 3, 250, 42, 42, 7];

/** The source checkpoint with every 2-D weight replaced by dequantize(quantize(w, spec)) (the TS reference). */
function quantizedView(ck: Checkpoint, spec: string): Checkpoint {
  const w = ck.weights;
  const weights: TensorSource = {
    file: w.file,
    list: () => w.list(),
    has: (n) => w.has(n),
    info: (n) => w.info(n),
    readRaw: (n) => w.readRaw(n),
    readF32: (n) => {
      const shape = w.info(n).shape;
      const v = w.readF32(n);
      return shape.length === 2 ? dequantize(quantize(v, shape, spec)) : v;
    },
    close: () => w.close(),
  };
  return { file: ck.file, format: ck.format, config: ck.config, tokenizer: ck.tokenizer, metadata: ck.metadata, weights, close: () => ck.close() };
}

async function logits(src: string | Checkpoint): Promise<Float32Array> {
  const m = await load(src);
  try {
    const { logits } = m.forward(ids);
    const v = logits.dataSync() as Float32Array;
    logits.dispose();
    return v;
  } finally {
    m.dispose();
  }
}

test('every CPU codec x quant choice round-trips the tiny models bit-exactly', () => {
  for (const model of [hfDir, ggufFile])
    for (const quant of ['none', 'int8:per-channel', 'int4:group=64:asym:scale=bf16', 'bf16'])
      for (const codec of CLLM_CODECS) {
        const r = roundtripModel(model, { quant, codec, chunkSize: 4096 });
        assert.equal(r.bitExact, true, `${model} ${quant} ${codec}: ${JSON.stringify(r.mismatches)}`);
        assert.equal(r.tensors, 21);
        assert.ok(r.entropyBoundBytes > 0 && r.entropyBoundBytes < r.rawBytes, 'entropy bound below the raw size');
        if (codec === 'none') assert.equal(r.ratio, 1);
      }
});

test('quant none keeps the source storage (bf16 with byteplane, q8_0 blocks); quant specs quantize only 2-D tensors', () => {
  const a = compressModel(hfDir, path.join(tmp, 'a.cllm'), { quant: 'none', codec: 'zstd' });
  const g = compressModel(ggufFile, path.join(tmp, 'g.cllm'), { quant: 'int8:per-channel', codec: 'lz4' });
  const byName = (r: typeof a) => new Map(r.perTensor.map((t) => [t.name, t]));
  const at = byName(a).get('model.layers.0.mlp.up_proj.weight')!;
  assert.deepEqual([at.storage, at.transform], ['bf16', 'byteplane']);
  assert.deepEqual([byName(a).get('model.norm.weight')!.storage, byName(a).get('model.norm.weight')!.transform], ['f32', 'byteplane']);
  assert.equal(byName(g).get('model.layers.1.self_attn.k_proj.weight')!.storage, 'int8:per-channel');
  assert.equal(byName(g).get('model.layers.1.input_layernorm.weight')!.storage, 'f32');
  const q8 = compressModel(ggufFile, path.join(tmp, 'q8.cllm'), { quant: 'none', codec: 'zstd', transform: 'exponent-split' });
  assert.equal(byName(q8).get('model.embed_tokens.weight')!.storage, 'q8_0');
  assert.equal(byName(q8).get('model.embed_tokens.weight')!.transform, 'none'); // not applicable: auto
  // ratioVsFp16 = 2 bytes x params / file size
  assert.equal(g.ratioVsFp16, (2 * g.params) / fs.statSync(path.join(tmp, 'g.cllm')).size);
});

test('a .cllm loads as a model: same logits as the source quantized the same way; --quant none identical to the source', async () => {
  for (const [model, spec] of [[hfDir, 'int8:per-channel'], [ggufFile, 'int4:group=32'], [ggufFile, 'int8:group=64:asym:scale=fp16']] as const) {
    const f = path.join(tmp, 'logits.cllm');
    compressModel(model, f, { quant: spec, codec: 'zstd' });
    const got = await logits(f);
    const src = openCheckpoint(model);
    const want = await logits(quantizedView(src, spec));
    assert.deepEqual(got, want, `${model} ${spec}`);
    const plain = await logits(model);
    assert.notDeepEqual(got, plain, 'quantization changed something');
  }
  for (const model of [hfDir, ggufFile]) {
    const f = path.join(tmp, 'none.cllm');
    compressModel(model, f, { quant: 'none', codec: 'snappy' });
    assert.deepEqual(await logits(f), await logits(model), model);
  }
});

test('config and tokenizer travel in the manifest', () => {
  const f = path.join(tmp, 'tok.cllm');
  compressModel(ggufFile, f, { quant: 'none', codec: 'lz4' });
  const src = openCheckpoint(ggufFile);
  // no import side effect: the model layer refuses a .cllm with a pointer, the container's opener opens it
  throwsExact(() => openCheckpoint(f), 'E_FORMAT', `${f}: a .cllm container; open it with openAnyCheckpoint() or load() (src/container/compress-model.ts, src/load.ts)`);
  const ck = openAnyCheckpoint(f);
  try {
    assert.equal(ck.format, 'cllm');
    assert.deepEqual(ck.config, src.config);
    for (const text of ['hello world', 'hello  hello', 'world<|endoftext|>hell', ''])
      assert.deepEqual(ck.tokenizer!.encode(text), src.tokenizer!.encode(text), text);
    assert.equal(ck.tokenizer!.bosId, 1);
    assert.equal(ck.tokenizer!.eosId, 0);
    assert.equal(ck.tokenizer!.decode([13, 18]), src.tokenizer!.decode([13, 18]));
    assert.equal(ck.metadata['source.format'], 'gguf');
  } finally {
    ck.close();
    src.close();
  }
  // a HF folder without tokenizer.json: the container has none either
  const h = path.join(tmp, 'notok.cllm');
  compressModel(hfDir, h, { quant: 'none', codec: 'lz4' });
  const hk = openCllmCheckpoint(h);
  assert.equal(hk.tokenizer, null);
  hk.close();
});

test('bad options: exact messages', () => {
  throwsExact(() => parseQuantChoice('int9'), 'E_ARG', "invalid --quant 'int9': expected 'none' (keep source storage), a cast dtype (f32, f16, bf16) or a quant spec such as int8:per-channel");
  throwsExact(() => parseQuantChoice('int8:group=100'), 'E_QUANT', "invalid quant spec 'int8:group=100': group size '100' is not one of 32, 64, 128, 256");
  throwsExact(() => roundtripModel(hfDir, { quant: 'none', codec: 'brotli' as never }), 'E_ARG', 'unknown codec \'brotli\' (known: none, zstd, lz4, deflate, snappy, lz4frame)');
  throwsExact(() => roundtripModel(hfDir, { quant: 'none', codec: 'zstd', level: 99 }), 'E_ARG', 'invalid zstd level: 99 is not an integer in [-7, 22]');
  throwsExact(() => roundtripModel(hfDir, { quant: 'none', codec: 'zstd', chunkSize: 0 }), 'E_ARG', 'invalid chunk size: 0 is not an integer in [1, 268435456]');
  throwsExact(() => openCllmCheckpoint(path.join(tmp, 'missing.cllm')), 'E_IO', `${path.join(tmp, 'missing.cllm')}: no such file or directory`);
  // a bare tensor container (no config) is a valid .cllm but not a model
  const bare = path.join(tmp, 'bare.cllm');
  writeCllm(bare, [{ name: 'w', shape: [4], storage: 'f32', data: new Uint8Array(16), codec: 'zstd' }]);
  assert.equal(verifyCllm(bare).ok, true);
  throwsExact(() => openAnyCheckpoint(bare), 'E_CONFIG', `${bare}: the container carries no model config (not loadable as a model)`);
  // a model container missing a tensor the config implies
  const partial = path.join(tmp, 'partial.cllm');
  const src = openCheckpoint(hfDir);
  writeCllm(partial, src.weights.list().filter((t) => t.name !== 'model.norm.weight').map((t) => ({ name: t.name, shape: t.shape, storage: t.dtype, data: src.weights.readRaw(t.name), codec: 'lz4' as const })), { config: hfConfigJson(cfg) });
  src.close();
  throwsExact(() => openAnyCheckpoint(partial), 'E_SHAPE', `${partial}: tensor 'model.norm.weight' not found`);
});

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { main } from ${JSON.stringify(path.join(root, 'src/cli/main.ts'))}; await main(['node', 'codecllm', ...${JSON.stringify(args)}]);`], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, CODECLLM_PROGRESS: '0' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('CLI: compress, verify --json, roundtrip --json, info; a corrupted file fails verify with the problem named', () => {
  const out = path.join(tmp, 'cli.cllm');
  const c = cli('compress', ggufFile, '--quant', 'int8:per-channel', '--codec', 'zstd', '--out', out, '--level', '5', '--chunk-size', '4096', '--json');
  assert.equal(c.code, 0, c.stderr);
  const cj = JSON.parse(c.stdout);
  assert.equal(cj.level, 5);
  assert.equal(cj.chunk_size, 4096);
  assert.ok(cj.entropy_bound_ratio > 0 && cj.ratio > 0);
  const v = cli('verify', out, '--json');
  assert.equal(v.code, 0, v.stderr);
  const vj = JSON.parse(v.stdout);
  assert.equal(vj.ok, true);
  assert.equal(vj.tensors, 21);
  assert.equal(vj.ratio_vs_fp16, (2 * vj.params) / fs.statSync(out).size);
  assert.equal(vj.entropy_bound_ratio, cj.entropy_bound_ratio); // verify recomputes the bound from the decoded streams
  assert.equal(vj.ratio, cj.ratio);
  const r = cli('roundtrip', hfDir, '--quant', 'none', '--codec', 'lz4frame', '--json', '--tensors');
  assert.equal(r.code, 0, r.stderr);
  const rj = JSON.parse(r.stdout);
  assert.equal(rj.bit_exact, true);
  assert.equal(rj.per_tensor.length, 21);
  assert.ok('entropy_bound_ratio' in rj && 'ratio_vs_fp16' in rj && 'ratio' in rj);
  const i = cli('info', out, '--json');
  assert.equal(JSON.parse(i.stdout).format, 'cllm');
  // flip a byte in the last chunk
  const bad = path.join(tmp, 'bad.cllm');
  const bytes = fs.readFileSync(out);
  bytes[bytes.length - 3]! ^= 0x10;
  fs.writeFileSync(bad, bytes);
  const vb = cli('verify', bad, '--json');
  assert.equal(vb.code, 1);
  const vbj = JSON.parse(vb.stdout);
  assert.equal(vbj.ok, false);
  assert.equal(vbj.error_code, 'E_CHECKSUM');
  const last = openCllm(out).tensors().at(-1)!;
  assert.match(vbj.error, new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: tensor '${last.name}' chunk ${last.chunks.length - 1} of ${last.chunks.length}: checksum mismatch \\(stored [0-9a-f]{16}, computed [0-9a-f]{16}\\)$`));
  const e = cli('compress', ggufFile, '--quant', 'int8', '--codec', 'brotli', '--out', out);
  assert.equal(e.code, 1);
  assert.equal(e.stderr, "codecllm: unknown codec 'brotli' (known: none, zstd, lz4, deflate, snappy, lz4frame) [E_ARG]\n");
  const l = cli('compress', ggufFile, '--quant', 'none', '--codec', 'snappy', '--level', '3', '--out', out);
  assert.equal(l.code, 1);
  assert.equal(l.stderr, 'codecllm: invalid --level: codec snappy has no levels [E_ARG]\n');
});

function pythonSafetensors(): boolean {
  const r = spawnSync('python3', ['-c', 'from safetensors.numpy import load_file'], { encoding: 'utf8' });
  return r.status === 0;
}

test('decompress writes an HF folder that Python safetensors loads, with the .cllm values; it loads back as a model', async (t) => {
  const src = path.join(tmp, 'dec.cllm');
  compressModel(ggufFile, src, { quant: 'int4:group=32', codec: 'deflate' });
  const dir = path.join(tmp, 'dec-hf');
  const r = decompressToHF(src, dir, 'f32');
  assert.equal(r.tensors, 21);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  // the folder loads as a model with the .cllm's logits
  assert.deepEqual(await logits(dir), await logits(src));
  const f16 = path.join(tmp, 'dec-hf16');
  decompressToHF(src, f16, 'f16');
  if (!pythonSafetensors()) {
    if (process.env.CI === 'true') assert.fail('python3 safetensors is required in CI: pip install safetensors==0.8.0 numpy');
    t.skip('python3 safetensors not installed (pip install safetensors==0.8.0)');
    return;
  }
  const ck = openCllm(src);
  const want: Record<string, string> = {};
  for (const e of ck.tensors()) {
    const v = ck.readF32(e.name);
    want[e.name] = `${e.shape.join('x')} float32 ${crypto.createHash('sha256').update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)).digest('hex')}`;
  }
  ck.close();
  const py = `
import sys, json, hashlib
from safetensors.numpy import load_file
for folder in sys.argv[1:]:
    d = load_file(folder + '/model.safetensors')
    print(json.dumps({k: 'x'.join(map(str, v.shape)) + ' ' + str(v.dtype) + ' ' + hashlib.sha256(v.astype('<f4').tobytes()).hexdigest() for k, v in d.items()}))
`;
  const p = spawnSync('python3', ['-c', py, dir, f16], { encoding: 'utf8' });
  assert.equal(p.status, 0, p.stderr);
  const [a, b] = p.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  assert.deepEqual(a, want);
  assert.deepEqual(Object.keys(b!).sort(), Object.keys(want).sort());
  for (const [k, v] of Object.entries(b!)) assert.ok(v.includes(' float16 '), `${k}: ${v}`);
});

test('a model-sized .cllm: a dense sample of bit flips and truncations is always detected, chunk errors named', () => {
  const file = path.join(tmp, 'dense.cllm');
  compressModel(ggufFile, file, { quant: 'int8:per-channel', codec: 'zstd', chunkSize: 2048 });
  const good = new Uint8Array(fs.readFileSync(file));
  const head = openCllm(file);
  const dataOffset = head.header.dataOffset;
  const spans = head.tensors().flatMap((t) => t.chunks.map(([o, s], c) => ({ name: t.name, c, n: t.chunks.length, begin: dataOffset + o, end: dataOffset + o + s })));
  head.close();
  const fails = (b: Uint8Array): string => {
    try {
      cllmFromBuffer(b, 'dense.cllm').verify();
    } catch (e) {
      assert.ok(e instanceof CodecLLMError, String(e));
      return e.message;
    }
    return '';
  };
  assert.equal(fails(good), '');
  let flips = 0;
  for (let p = 0; p < good.length; p += p < dataOffset ? 13 : 29) {
    const bad = good.slice();
    bad[p]! ^= 1 << (p % 8);
    const m = fails(bad);
    assert.ok(m, `flip at ${p} undetected`);
    const at = spans.find((s) => p >= s.begin && p < s.end);
    if (at) assert.ok(m.startsWith(`dense.cllm: tensor '${at.name}' chunk ${at.c} of ${at.n}: checksum mismatch`), `${p}: ${m}`);
    flips++;
  }
  assert.ok(flips > 3000, `${flips} flips`);
  for (let n = 0; n < good.length; n += 311) assert.ok(fails(good.subarray(0, n)), `truncation to ${n} undetected`);
});
