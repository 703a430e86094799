/**
 * Streaming checkpoint loads (src/engine/cpu-checkpoint.ts, src/engine/resident.ts, src/model/make-shape.ts):
 *
 * 1. A small sharded bf16 checkpoint written by the shape generator loads into the native engine tensor by tensor;
 *    its logits equal the tfjs reference's (loaded the usual way from the same files) within atol 1e-4 +
 *    rtol 1e-4·|ref| (the weights are identical; only summation order differs — measured max ~3e-7), unpatched and
 *    with int8 / int4 patches applied on the way in (vs the tfjs model patched with the same spec).
 * 2. Memory, in a child process: the RSS growth during load (VmHWM after the load minus VmRSS before it) is at most
 *    1.3 × the resident weight bytes + 64 MiB (headers and tokenizer opened before the measurement), the resident
 *    bytes equal resident.ts's prediction, and repeated interrupted loads do not accumulate memory.
 * 3. Bad input: a shard listed in the index but missing, an index naming a path outside the folder, a checkpoint that
 *    does not fit the memory (native) or the wasm heap (tfjs): one-line errors with codes, before allocation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nativeInfo } from '../src/native/addon.js';
import { cpuEngineAddon } from '../src/engine/cpu-native.js';
import { loadCpuEngine } from '../src/engine/cpu-checkpoint.js';
import { checkNativeFits, checkTfjsFits, residentBytes } from '../src/model/resident.js';
import { LlamaModel } from '../src/model/llama.js';
import { openCheckpoint } from '../src/model/checkpoint.js';
import { makeShape, normalTableBf16, shapeCheckpoint, shapeTensorBf16 } from '../src/model/make-shape.js';
import { SHAPES, shapeByName, INIT_STD, type ModelShape } from '../src/model/shapes.js';
import { patch } from '../src/lab/patch.js';
import { bf16ToF32 } from '../src/formats/dtypes.js';
import { isCodecError } from '../src/messages.js';

const built = nativeInfo().built && (() => {
  try {
    cpuEngineAddon();
    return true;
  } catch {
    return false;
  }
})();
const skip = built ? false : 'native addon not built with cpu_engine.cc';
if (!built && process.env.CI) throw new Error('native addon with the CPU engine is required under CI');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-shapes-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The CI shape, sharded small so the index has several files. */
const tinyDir = path.join(tmp, 'tiny');
const tinyMade = makeShape(shapeByName('tiny'), tinyDir, { seed: 7, shardBytes: 3e6 });

function assertClose(ref: Float32Array, got: Float32Array, atol: number, rtol: number, label: string): number {
  assert.equal(got.length, ref.length, `${label}: length`);
  let maxErr = 0;
  const bad: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(got[i]! - ref[i]!);
    maxErr = Math.max(maxErr, e);
    if (!(e <= atol + rtol * Math.abs(ref[i]!)) && bad.length < 5) bad.push(`[${i}] ref ${ref[i]} got ${got[i]}`);
  }
  assert.equal(bad.length, 0, `${label}: max |Δ| ${maxErr}; first mismatches ${bad.join(', ')}`);
  return maxErr;
}

test('make-shape writes a sharded HF checkpoint with the stated statistics', () => {
  assert.ok(tinyMade.shards.length >= 3, `${tinyMade.shards.length} shards`);
  const ck = openCheckpoint(tinyDir);
  try {
    assert.equal(ck.config.hiddenSize, SHAPES.tiny!.hidden);
    assert.equal(ck.config.numLayers, SHAPES.tiny!.layers);
    assert.ok(ck.tokenizer, 'tokenizer.json read');
    assert.deepEqual(ck.tokenizer!.decode(ck.tokenizer!.encode('Hello, world')), 'Hello, world');
    const w = ck.weights.readF32('model.layers.1.mlp.up_proj.weight');
    let s = 0;
    let ss = 0;
    for (const v of w) (s += v), (ss += v * v);
    const mean = s / w.length;
    const std = Math.sqrt(ss / w.length - mean * mean);
    // 10240 samples: the standard error of the std is ~0.7%, of the mean ~1% of std
    assert.ok(Math.abs(std / INIT_STD - 1) < 0.04, `std ${std}`);
    assert.ok(Math.abs(mean) < 0.05 * INIT_STD, `mean ${mean}`);
    assert.deepEqual([...new Set(ck.weights.readF32('model.norm.weight'))], [1]);
    assert.equal(ck.weights.info('model.embed_tokens.weight').dtype, 'bf16');
  } finally {
    ck.close();
  }
  // the quantile table itself: symmetric, std within 0.1% of the target before sampling
  const t = normalTableBf16(INIT_STD);
  let ss = 0;
  for (let i = 0; i < t.length; i++) ss += bf16ToF32(t[i]!) ** 2;
  assert.ok(Math.abs(Math.sqrt(ss / t.length) / INIT_STD - 1) < 1e-3);
  // a vocabulary larger than the tokenizer's: filler tokens decode, encoding is unchanged
  const big = makeShape({ ...SHAPES.tiny!, layers: 1, vocab: 49160 }, path.join(tmp, 'tiny-vocab'), { seed: 1 });
  const ckBig = openCheckpoint(big.dir);
  try {
    assert.equal(ckBig.tokenizer!.decode([49159]), '<filler_49159>');
    assert.deepEqual(ckBig.tokenizer!.encode('Hello, world'), openCheckpoint(tinyDir).tokenizer!.encode('Hello, world'));
  } finally {
    ckBig.close();
  }
  // deterministic: same seed, same bytes
  const again = makeShape(shapeByName('tiny'), path.join(tmp, 'tiny-again'), { seed: 7, shardBytes: 3e6 });
  for (let i = 0; i < again.shards.length; i++) assert.ok(fs.readFileSync(again.shards[i]!).equals(fs.readFileSync(tinyMade.shards[i]!)), `shard ${i} differs`);
});

test('streaming native load: logits equal the tfjs reference (unpatched and patched on the way in)', { skip }, async () => {
  const model = await LlamaModel.load(tinyDir);
  const tokens = [1, 17, 300, 4000, 12, 49151, 5];
  try {
    for (const quant of [null, 'int8:per-channel', 'int4:group=32', 'int8:per-tensor', 'nf4:group=32']) {
      if (quant) patch(model, { select: 'all', quant });
      const { logits } = model.forward(tokens);
      const ref = logits.dataSync() as Float32Array;
      logits.dispose();
      const e = loadCpuEngine(tinyDir, { patch: quant ? { select: 'all', quant } : null });
      try {
        assertClose(ref, e.forward(tokens), 1e-4, 1e-4, `logits ${quant ?? 'bf16'}`);
        const info = e.info();
        assert.equal(info.weightBytes, e.predicted.native.weight_bytes, 'resident bytes as predicted');
        const want = quant === null ? 'bf16' : quant.startsWith('nf4') ? 'nf4_group' : quant.startsWith('int4') ? 'i8_group' : 'i8_channel';
        assert.deepEqual(Object.keys(info.linearFormats), [want]);
        // KV-cache decode agrees with the full prefill
        const cache = e.newCache();
        e.forward(tokens.slice(0, 5), cache);
        const last = e.forward(tokens.slice(5), cache);
        const V = model.config.vocabSize;
        assertClose(ref.subarray(5 * V), last, 1e-4, 1e-4, `decode ${quant ?? 'bf16'}`);
      } finally {
        e.dispose();
      }
    }
  } finally {
    model.dispose();
  }
});

/** A wider shape for the memory test: 63 M parameters (126 MB bf16), big enough that 1.3x dominates the constant. */
const memShape: ModelShape = { ...SHAPES.tiny!, hidden: 512, intermediate: 1536, layers: 4, heads: 8, kvHeads: 4 };
const memDir = path.join(tmp, 'mem');
let memMade = false;
function child(args: string[]) {
  if (!memMade) {
    makeShape(memShape, memDir, { seed: 3, shardBytes: 40e6 });
    memMade = true;
  }
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(HERE, 'checkpoint-load-child.ts'), memDir, ...args], { encoding: 'utf8', env: { ...process.env, CODECLLM_THREADS: '1' } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}
const MiB = 2 ** 20;

test('streaming native load: RSS growth <= 1.3x resident weight bytes + 64 MiB (child process)', { skip: skip || (process.platform !== 'linux' && 'needs /proc') }, () => {
  for (const quant of [undefined, 'int8:per-channel']) {
    const r = child(quant ? ['load', quant] : ['load']);
    const growth = r.peak - r.before;
    const bound = 1.3 * r.weightBytes + 64 * MiB;
    assert.equal(r.weightBytes, r.predicted);
    assert.ok(r.weightBytes > 60 * MiB, `weights ${r.weightBytes}`);
    assert.ok(growth <= bound, `${quant ?? 'bf16'}: RSS grew ${(growth / MiB).toFixed(1)} MiB during the load, bound ${(bound / MiB).toFixed(1)} MiB (resident ${(r.weightBytes / MiB).toFixed(1)} MiB)`);
  }
});

test('interrupted loads free what they took', { skip: skip || (process.platform !== 'linux' && 'needs /proc') }, () => {
  const r = child(['interrupt']);
  assert.equal(r.errors, 5);
  // four more loads stopped at 90% of a 126 MB checkpoint: had they leaked, RSS would have grown by ~400 MB
  assert.ok(r.after - r.first < 0.5 * r.weightBytes, `RSS grew ${((r.after - r.first) / MiB).toFixed(1)} MiB over 4 more interrupted loads of ${(r.weightBytes / MiB).toFixed(0)} MiB`);
});

function expectCode(fn: () => unknown, code: string, re: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isCodecError(e), String(e));
    assert.equal(e.code, code);
    assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });
}

test('bad input: missing shard, shard outside the folder', () => {
  const dir = path.join(tmp, 'broken');
  makeShape(shapeByName('tiny'), dir, { seed: 1, shardBytes: 3e6 });
  const index = path.join(dir, 'model.safetensors.index.json');
  const shard = JSON.parse(fs.readFileSync(index, 'utf8')).weight_map['lm_head.weight'] as string;
  fs.renameSync(path.join(dir, shard), path.join(dir, 'moved.bin'));
  expectCode(() => loadCpuEngine(dir), 'E_IO', new RegExp(`${shard}: no such file`));
  fs.renameSync(path.join(dir, 'moved.bin'), path.join(dir, shard));
  const j = JSON.parse(fs.readFileSync(index, 'utf8'));
  j.weight_map['lm_head.weight'] = `../${shard}`;
  fs.writeFileSync(index, JSON.stringify(j));
  expectCode(() => loadCpuEngine(dir), 'E_SAFETENSORS', /outside the model folder/);
});

const headerOnly = shapeCheckpoint;

test('model-size refusals: needed vs available, a way out, before allocation', () => {
  const ck8 = headerOnly(SHAPES['llama3.1-8b']!);
  const r = residentBytes(ck8);
  // 8.03 B bf16 parameters: 16.06 GB resident (+ norms in f32)
  assert.ok(Math.abs(r.native.weight_bytes / 16.06e9 - 1) < 0.01, String(r.native.weight_bytes));
  const r8 = residentBytes(ck8, { patch: { select: 'all', quant: 'int8:per-channel' } });
  assert.ok(r8.native.weight_bytes < 0.55 * r.native.weight_bytes, String(r8.native.weight_bytes));
  expectCode(() => checkNativeFits(ck8, r, 12 * 2 ** 30), 'E_MEMORY', /needs 14\.\d\d GiB resident \+ [\d.]+ GiB while loading, 12\.00 GiB available; try --patch all --quant int8:per-channel \(7\.\d\d GiB resident\)/);
  checkNativeFits(ck8, r8, 12 * 2 ** 30); // int8 fits in 12 GiB
  // the tfjs reference on wasm: a 1B shape needs more float32 than the 4 GiB heap
  const ck1 = headerOnly(SHAPES['llama3.2-1b']!);
  expectCode(() => checkTfjsFits(ck1, 'wasm'), 'E_MEMORY', /tfjs reference \(wasm\) needs 5\.\d\d GiB .* heap holds 3\.50 GiB; use --engine native/);
  checkTfjsFits(headerOnly(SHAPES.tiny!), 'wasm');
});

test('shapeCheckpoint: the same resident bytes as the written shape, and no weights to read', () => {
  const written = openCheckpoint(tinyDir);
  try {
    const headers = shapeCheckpoint(shapeByName('tiny'));
    for (const patchSpec of [null, { select: 'all', quant: 'int8:per-channel' }])
      assert.deepEqual(residentBytes(headers, { patch: patchSpec }), residentBytes(written, { patch: patchSpec }));
    assert.deepEqual(headers.weights.list().map((t) => [t.name, t.shape]), written.weights.list().map((t) => [t.name, t.shape]));
    expectCode(() => headers.weights.readRaw('model.norm.weight'), 'E_ARG', /headers only/);
    expectCode(() => headers.weights.info('nope'), 'E_ARG', /headers only/);
  } finally {
    written.close();
  }
});

test('shapeTensorBf16: the bytes makeShape wrote, for every tensor; other seeds differ', () => {
  const ck = openCheckpoint(tinyDir);
  try {
    for (const t of ck.weights.list()) {
      const raw = ck.weights.readRaw(t.name);
      const words = shapeTensorBf16(shapeByName('tiny'), t.name, 7);
      assert.deepEqual(new Uint8Array(words.buffer), raw, t.name);
    }
    const a = shapeTensorBf16(shapeByName('tiny'), 'model.layers.0.mlp.up_proj.weight', 7);
    const b = shapeTensorBf16(shapeByName('tiny'), 'model.layers.0.mlp.up_proj.weight', 8);
    assert.ok(a.some((w, i) => w !== b[i]), 'seed 8 gave the bytes of seed 7');
    expectCode(() => shapeTensorBf16(shapeByName('tiny'), 'lm_head.bias'), 'E_ARG', /not a tensor of this shape/);
  } finally {
    ck.close();
  }
});

test('native load refuses (E_MEMORY) under CODECLLM_MEMORY_LIMIT before allocating', { skip }, () => {
  const prev = process.env.CODECLLM_MEMORY_LIMIT;
  process.env.CODECLLM_MEMORY_LIMIT = String(4 * MiB);
  try {
    expectCode(() => loadCpuEngine(tinyDir), 'E_MEMORY', /needs 0\.01 GiB resident .* 0\.00 GiB available/);
  } finally {
    if (prev === undefined) delete process.env.CODECLLM_MEMORY_LIMIT;
    else process.env.CODECLLM_MEMORY_LIMIT = prev;
  }
});
