/**
 * The default model (SmolLM2-135M-Instruct, Q4_1 GGUF) through .cllm files on disk:
 *   int8:per-channel + zstd: codes and scales read back bit-exactly, every checksum verified, logits equal to the
 *                            source quantized the same way;
 *   none + zstd:             the source's q4_1 / q8_0 / f32 bytes read back bit-exactly; identical logits.
 * Skips with a message when the model is absent, except under CI=true, where it must run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { load } from '../src/load.js';
import { DEFAULT_MODEL_FILE, openCheckpoint, type Checkpoint } from '../src/model/checkpoint.js';
import { compressModel, verifyCllm } from '../src/container/compress-model.js';
import { openCllm, quantToBytes } from '../src/container/cllm.js';
import { quantizeFast } from '../src/quant/native.js';
import { dequantize } from '../src/quant/quantize.js';
import { dataDir } from '../src/util/paths.js';
import type { TensorSource } from '../src/formats/tensor.js';

const model = path.join(dataDir(), 'models', DEFAULT_MODEL_FILE);
const present = fs.existsSync(model);
if (!present && process.env.CI === 'true') throw new Error(`${model} is missing: CI must fetch the default model (bash scripts/fetch-default-model.sh)`);
const skip = present ? false : `default model not found at ${model} (bash scripts/fetch-default-model.sh)`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-cllm-default-'));
const ids = [1, 9690, 198, 19556, 905, 30, 2, 28];

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

let base: Float32Array = new Float32Array(0);

async function logits(src: string | Checkpoint): Promise<Float32Array> {
  const m = await load(src);
  try {
    const { logits } = m.forward(ids, undefined, { lastOnly: true });
    const v = logits.dataSync() as Float32Array;
    logits.dispose();
    return v;
  } finally {
    m.dispose();
  }
}

/** The source with every 2-D weight replaced by dequantize(quantizeFast(w, spec)). */
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
      return shape.length === 2 ? dequantize(quantizeFast(w.readF32(n), shape, spec)) : w.readF32(n);
    },
    close: () => w.close(),
  };
  return { file: ck.file, format: ck.format, config: ck.config, tokenizer: ck.tokenizer, metadata: ck.metadata, weights, close: () => ck.close() };
}

test('default model, int8:per-channel + zstd: codes and scales bit-exact from the file, all checksums verify', { skip, timeout: 120_000 }, () => {
  const out = path.join(tmp, 'int8.cllm');
  const r = compressModel(model, out, { quant: 'int8:per-channel', codec: 'zstd' });
  assert.equal(r.tensors, 272);
  const v = verifyCllm(out);
  assert.equal(v.ok, true, v.error ?? '');
  assert.ok(v.ratioVsFp16 > 2, `ratio vs fp16 ${v.ratioVsFp16}`);
  const src = openCheckpoint(model);
  const f = openCllm(out);
  try {
    for (const t of src.weights.list()) {
      const want = t.shape.length === 2 ? quantToBytes(quantizeFast(src.weights.readF32(t.name), t.shape, 'int8:per-channel')) : src.weights.readRaw(t.name);
      assert.ok(same(f.readStored(t.name), want), `${t.name} differs`);
    }
  } finally {
    f.close();
    src.close();
  }
  fs.rmSync(out);
});

test('default model, none + zstd: the source bytes bit-exact from the file', { skip, timeout: 120_000 }, () => {
  const out = path.join(tmp, 'none.cllm');
  const r = compressModel(model, out, { quant: 'none', codec: 'zstd' });
  assert.deepEqual(new Set(r.perTensor.map((t) => t.storage)), new Set(['q4_1', 'q8_0', 'f32']));
  const src = openCheckpoint(model);
  const f = openCllm(out);
  try {
    for (const t of src.weights.list()) assert.ok(same(f.readStored(t.name), src.weights.readRaw(t.name)), `${t.name} differs`);
  } finally {
    f.close();
    src.close();
  }
});

test('default model: the .cllm (none) gives logits identical to the GGUF', { skip, timeout: 120_000 }, async () => {
  const none = path.join(tmp, 'none.cllm');
  if (!fs.existsSync(none)) compressModel(model, none, { quant: 'none', codec: 'zstd' });
  base = await logits(model);
  assert.deepEqual(await logits(none), base);
});

test('default model: the .cllm (int8:per-channel) gives the logits of the GGUF quantized the same way', { skip, timeout: 120_000 }, async () => {
  const int8 = path.join(tmp, 'int8-logits.cllm');
  compressModel(model, int8, { quant: 'int8:per-channel', codec: 'lz4' });
  const got = await logits(int8);
  assert.deepEqual(got, await logits(quantizedView(openCheckpoint(model), 'int8:per-channel')));
  if (base.length) assert.ok(got.some((v, i) => v !== base[i]), 'quantization changed the logits');
});
