// GPU engine (issue 5), CPU-side parts: storage-mode spec parsing, per-linear resolution, byte accounting, rope
// tables, and the error when no GPU is visible. The GPU parts (kernels vs ops_ref.h twins, logits vs the TS
// reference, graph replay, ledger) run on the device through scripts/gpu/check-engine.ts; here they are skipped with
// the reason when no CUDA device is visible.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accountBytes, linearShapes, parseModeSpec, resolveModes, ENGINE_ALIGN } from '../src/engine/modes.js';
import { CudaEngine, cudaArchConfig, kernelTest, ropeTables } from '../src/engine/cuda.js';
import { cudaAvailable } from '../src/native/device.js';
import { nativeInfo } from '../src/native/addon.js';
import { tinyConfig } from '../src/model/synthetic.js';
import { configFromHF, paramCount } from '../src/model/config.js';
import { LlamaModel, ropeCosSin, ropeInvFreq } from '../src/model/llama.js';
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../src/util/paths.js';
import { msg, CodecLLMError } from '../src/messages.js';

const cfg = tinyConfig();

test('parseModeSpec: default, overrides, codec and chunk options', () => {
  const s = parseModeSpec('int8,lm_head=fp16,layers.0-0=fused:codec=bitcomp:chunk=32768');
  assert.equal(s.default, 'int8');
  assert.deepEqual(s.overrides, [
    { selector: 'lm_head', mode: 'fp16' },
    { selector: 'layers.0-0', mode: 'fused' },
  ]);
  assert.equal(s.codec, 'bitcomp');
  assert.equal(s.chunkSize, 32768);
  const d = parseModeSpec('fp16');
  assert.equal(d.codec, 'ans');
  assert.equal(d.chunkSize, 65536);
});

test('parseModeSpec: bad specs are E_ARG with the exact message', () => {
  const cases: [string, string][] = [
    ['fp8', `unknown default mode 'fp8'`],
    ['int8,foo=fp16', `unknown selector 'foo' (q, k, v, o, gate, up, down, lm_head, attn, mlp, layers.A-B)`],
    ['int8,q=int4', `unknown mode 'int4'`],
    ['int8,q', `'q' is not selector=mode`],
    ['fused:codec=brotli', `unknown codec 'brotli' (ans, bitcomp, cascaded, deflate, gdeflate, lz4, snappy, zstd)`],
    ['fused:chunk=1000', `chunk must be a multiple of ${ENGINE_ALIGN} in [4096, 16777216]`],
    ['fused:level=3', `unknown option 'level=3' (codec=, chunk=)`],
  ];
  for (const [spec, detail] of cases)
    assert.throws(
      () => parseModeSpec(spec),
      (e: unknown) => e instanceof CodecLLMError && e.code === 'E_ARG' && e.message === msg.gpuModeSpec(spec, detail),
      spec,
    );
});

test('resolveModes: selectors in order, patch.mode wins, one compressed schedule per engine', () => {
  const plan = resolveModes(parseModeSpec('fp16,mlp=int8,layers.1-1=cached,down=fp16'), cfg, (p) =>
    p === 'model.layers.0.self_attn.q_proj' ? 'int8' : p === 'lm_head' ? 'not-a-mode' : undefined,
  );
  assert.equal(plan.modes.length, cfg.numLayers * 7 + 1);
  // layer 0: q patched int8; k v o fp16; gate up int8; down fp16 (later selector)
  assert.deepEqual(plan.modes.slice(0, 7), ['int8', 'fp16', 'fp16', 'fp16', 'int8', 'int8', 'fp16']);
  // layer 1: cached everywhere but down (the later 'down=fp16' wins)
  assert.deepEqual(plan.modes.slice(7, 14), ['cached', 'cached', 'cached', 'cached', 'cached', 'cached', 'fp16']);
  assert.equal(plan.modes[14], 'fp16'); // lm_head: an unknown patch.mode is ignored
  assert.equal(plan.schedule, 'cached');
  assert.throws(
    () => resolveModes(parseModeSpec('fused,lm_head=cached'), cfg),
    (e: unknown) => e instanceof CodecLLMError && e.code === 'E_ARG' && e.message === msg.gpuMixedSchedules('fused', 'cached'),
  );
});

test('accountBytes: fp16 weights = 2 bytes per linear parameter (from paramCount), shared head costs nothing', () => {
  const linearParams = paramCount(cfg) - cfg.vocabSize * cfg.hiddenSize - (2 * cfg.numLayers + 1) * cfg.hiddenSize;
  const plan = resolveModes(parseModeSpec('fp16'), cfg);
  const a = accountBytes(cfg, plan, { maxSeq: 100, kvDtype: 'f16' });
  assert.equal(a.weights_fp16, 2 * linearParams);
  assert.equal(a.embed, 2 * cfg.vocabSize * cfg.hiddenSize);
  assert.equal(a.kv_cache, 2 * cfg.numLayers * cfg.numKvHeads * 100 * cfg.headDim * 2);
  assert.equal(a.decode, 0);
  const shared = accountBytes(cfg, plan, { maxSeq: 100, kvDtype: 'f32', sharedHead: true });
  assert.equal(shared.weights_fp16, 2 * linearParams - 2 * cfg.vocabSize * cfg.hiddenSize);
  assert.equal(shared.kv_cache, 2 * a.kv_cache);
  assert.equal(shared.bytesPerToken, a.bytesPerToken); // the shared head is still read every token
});

test('accountBytes: gguf keeps the GGML blocks (q4_1 20 bytes, q8_0 34 per 32 weights); a q8_0 table shared by the head', () => {
  const plan = resolveModes(parseModeSpec('gguf'), cfg);
  const shapes = linearShapes(cfg);
  const types = shapes.map((_, i) => (i === shapes.length - 1 ? 'q8_0' : 'q4_1') as 'q4_1' | 'q8_0');
  const a = accountBytes(cfg, plan, { maxSeq: 8, kvDtype: 'f16', blockTypes: types });
  const want = shapes.reduce((s, [o, i], k) => s + ((o * i) / 32) * (k === shapes.length - 1 ? 34 : 20), 0);
  assert.equal(a.weights_gguf, want);
  assert.equal(a.bytesPerToken, want);
  assert.equal(a.scales, 0);
  const shared = accountBytes(cfg, plan, { maxSeq: 8, kvDtype: 'f16', blockTypes: types, sharedHead: true, embedBlocks: 'q8_0' });
  const table = ((cfg.vocabSize * cfg.hiddenSize) / 32) * 34;
  assert.equal(shared.embed, table);
  assert.equal(shared.weights_gguf, want - table); // the head reads the table: counted once, as embed
  assert.equal(shared.bytesPerToken, want);
  assert.throws(() => accountBytes(cfg, plan, { maxSeq: 8, kvDtype: 'f16' }), /blockTypes/);
  assert.equal(
    msg.gpuGgufUnavailable('model.layers.0.mlp.up_proj', 'f16'),
    'GPU engine: model.layers.0.mlp.up_proj is stored as f16 in the checkpoint; storage mode gguf needs q4_1 or q8_0 blocks (use fp16 or int8)',
  );
});

test('accountBytes: batched decode holds one KV cache per sequence slot, and nothing else more', () => {
  const plan = resolveModes(parseModeSpec('int8'), cfg);
  const one = accountBytes(cfg, plan, { maxSeq: 64, kvDtype: 'f16' });
  const eight = accountBytes(cfg, plan, { maxSeq: 64, kvDtype: 'f16', maxBatch: 8 });
  assert.equal(eight.kv_cache, 8 * one.kv_cache);
  assert.equal(eight.weightTotal, one.weightTotal);
  assert.equal(eight.bytesPerToken, one.bytesPerToken); // weights are read once per step, whatever the batch
  assert.equal(
    msg.gpuEngineBatch(9, 8),
    'GPU engine: 9 sequences in one batch, but the engine was created with maxBatch 8 (1 to 8)',
  );
});

test('accountBytes: int8 = 1 byte per weight + 4 per row; compressed decode areas by schedule', () => {
  const shapes = linearShapes(cfg);
  const rows = shapes.reduce((s, [o]) => s + o, 0);
  const n = shapes.reduce((s, [o, i]) => s + o * i, 0);
  const int8 = accountBytes(cfg, resolveModes(parseModeSpec('int8'), cfg), { maxSeq: 8, kvDtype: 'f16' });
  assert.equal(int8.weights_int8, n);
  assert.equal(int8.scales, 4 * rows);
  assert.equal(int8.bytesPerToken, n + 4 * rows);
  const packed = shapes.map(([o, i]) => Math.ceil((o * i) / 3));
  const align = (x: number) => Math.ceil(x / ENGINE_ALIGN) * ENGINE_ALIGN;
  const layerBytes = shapes.slice(0, 7).reduce((s, [o, i]) => s + align(o * i), 0);
  const headBytes = align(cfg.vocabSize * cfg.hiddenSize);
  for (const [mode, decode] of [
    ['decode-per-forward', Math.max(layerBytes, headBytes)],
    ['fused', 2 * Math.max(layerBytes, headBytes)],
    ['cached', cfg.numLayers * layerBytes + headBytes],
  ] as const) {
    const plan = resolveModes(parseModeSpec(mode), cfg);
    const a = accountBytes(cfg, plan, { maxSeq: 8, kvDtype: 'f16', compressedBytes: packed });
    assert.equal(a.weights_compressed, packed.reduce((s, x) => s + x, 0), mode);
    assert.equal(a.decode, decode, mode);
    assert.equal(a.weights_int8 + a.weights_fp16, 0, mode);
    assert.equal(a.weightTotal, a.weights_compressed + a.scales + a.embed + a.norms + (mode === 'cached' ? decode : 0), mode);
  }
  assert.throws(() => accountBytes(cfg, resolveModes(parseModeSpec('fused'), cfg), { maxSeq: 8, kvDtype: 'f16' }), /compressedBytes/);
});

test('accountBytes: int4 / nf4 patched linears held as 4-bit codes + group scales (quant4) replace their int8 bytes', () => {
  const shapes = linearShapes(cfg);
  const plan = resolveModes(parseModeSpec('int8'), cfg);
  const base = accountBytes(cfg, plan, { maxSeq: 8, kvDtype: 'f16' });
  const [o, i] = shapes[2]!;
  const codeBytes = (o * i) / 2;
  const scaleBytes = 4 * o * (i / 64) + o * (i / 64); // fp32 group scales + one zero point per group (int4 asym)
  const a = accountBytes(cfg, plan, { maxSeq: 8, kvDtype: 'f16', quant4: new Map([[2, { codeBytes, scaleBytes }]]) });
  assert.equal(a.weights_q4, codeBytes);
  assert.equal(a.weights_int8, base.weights_int8 - o * i);
  assert.equal(a.scales, base.scales - 4 * o + scaleBytes);
  assert.equal(a.bytesPerToken, base.bytesPerToken - o * i - 4 * o + codeBytes + scaleBytes);
  assert.equal(a.weightTotal, base.weightTotal - o * i - 4 * o + codeBytes + scaleBytes);
  assert.equal(base.weights_q4, 0);
});

test('ropeTables: the float32 freqs of LlamaModel (cos/sin of fround(p * inv_freq))', () => {
  const c = tinyConfig({ ropeTheta: 10000 });
  const { cos, sin } = ropeTables(c, 50);
  const inv = ropeInvFreq(c);
  const half = c.headDim / 2;
  assert.equal(cos.length, 50 * half);
  for (const [p, i] of [
    [0, 0],
    [1, 0],
    [49, half - 1],
    [17, 3],
  ] as const) {
    assert.equal(cos[p * half + i], Math.fround(Math.cos(Math.fround(p * inv[i]!))));
    assert.equal(sin[p * half + i], Math.fround(Math.sin(Math.fround(p * inv[i]!))));
  }
});

const gpu = cudaAvailable();
test('no GPU visible: the engine and kernel tests fail with E_CUDA / E_NATIVE naming what needed them', { skip: gpu ? 'a CUDA device is visible' : false }, () => {
  const built = nativeInfo().built;
  assert.throws(
    () => CudaEngine.synthetic(cfg, 1),
    (e: unknown) =>
      e instanceof CodecLLMError && (built ? e.code === 'E_CUDA' && e.message === msg.cudaUnavailable('the CUDA engine') : e.code === 'E_NATIVE'),
  );
  assert.throws(() => kernelTest('gemv'), (e: unknown) => e instanceof CodecLLMError && (e.code === 'E_CUDA' || e.code === 'E_NATIVE'));
});

test(
  'GPU: tiny synthetic engine in every mode; compressed modes give the int8 logits bit for bit; ledger = accounting',
  { skip: gpu ? false : 'no CUDA device visible (runs on the GPU host: scripts/gpu/engine-on-device.sh)' },
  () => {
    const c = tinyConfig({ hiddenSize: 64, intermediateSize: 128 });
    let int8: Float32Array | null = null;
    for (const mode of ['int8', 'decode-per-forward', 'cached', 'fused']) {
      const e = CudaEngine.synthetic(c, 3, { modes: mode, maxSeq: 32 });
      try {
        e.reset();
        const r = e.forward([1, 2, 3, 4], { logits: true });
        if (mode === 'int8') int8 = r.logits!;
        else assert.deepEqual(r.logits, int8, mode);
        const g = e.generate(4);
        assert.equal(g.tokens.length, 4);
        const led = e.ledger().categories;
        const acc = e.expectedBytes();
        assert.equal(led.weights_compressed ?? 0, acc.weights_compressed, mode);
        assert.equal(led.kv_cache, acc.kv_cache, mode);
      } finally {
        e.dispose();
      }
    }
    for (const [name, p] of [
      ['gemv', { K: 64, N: 40, segs: 3, N2: 8, N3: 8, bias: 1 }],
      ['attention', { T: 2, H: 4, Hkv: 2, D: 16, P: 3, Smax: 16 }],
    ] as const) {
      const r = kernelTest(name, p);
      assert.ok(r.pass, `${name}: ${r.first.join('; ')}`);
    }
  },
);

test('cudaArchConfig: Gemma 3 features cross to engineCreate (local layers, their own rope tables); plain Llama sends none', async () => {
  const dir = path.join(packageRoot(), 'data', 'reference', 'zoo', 'gemma3');
  const g = configFromHF(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')), 'gemma3/config.json');
  const a = cudaArchConfig(g, 64);
  assert.equal(a.hiddenAct, 'gelu_tanh');
  assert.equal(a.sandwichNorms, true);
  assert.equal(a.qkNorm, true);
  assert.equal(a.embedScale, Math.fround(Math.sqrt(32)));
  assert.equal(a.attnScale, 1 / Math.sqrt(16)); // query_pre_attn_scalar 16
  assert.deepEqual(Array.from(a.slidingLayers as Uint8Array), [1, 1, 0]); // layer_types: sliding, sliding, full
  assert.equal(a.slidingWindow, 6);
  // local layers: base 10000 (the global one is 1e6): tables differ from the global ones, and equal the reference rule
  const local = ropeCosSin(ropeInvFreq({ ...g, ropeTheta: 10000, ropeScaling: null }), 64);
  assert.deepEqual(a.ropeCosLocal, local.cos);
  assert.deepEqual(a.ropeSinLocal, local.sin);
  assert.notDeepEqual(a.ropeCosLocal, ropeTables(g, 64).cos);
  assert.deepEqual(cudaArchConfig(cfg, 64), {});
  // the ledger's norms (every norm fromModel sets: input, post, pre/post-FFN, q/k per layer, final) = the accounting
  const m = await LlamaModel.load(dir);
  let floats = m.norm.size;
  for (const b of m.blocks) for (const t of [b.inputNorm, b.postNorm, b.preFfnNorm, b.postFfnNorm, b.qNorm, b.kNorm]) floats += t ? t.size : 0;
  const acc = accountBytes(g, resolveModes(parseModeSpec('fp16'), g), { maxSeq: 64, kvDtype: 'f16', sharedHead: true });
  assert.equal(acc.norms, 4 * floats);
  m.dispose();
});
