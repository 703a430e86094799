import assert from 'node:assert/strict';
import { test } from 'node:test';

import { isCodecError } from '../src/messages.js';
import { linearPaths } from '../src/model/names.js';
import { tinyConfig } from '../src/model/synthetic.js';
import { diagnose, diagnoseFault } from '../src/lab/diagnose.js';
import { FAULTS, type FaultName, dequantizeScaleAxis, dequantizeUint8AsInt8, fp16UnderflowFault, staleBufferFault, transposedFault, wrongLayerSource } from '../src/lab/faults.js';
import { type PatchInfo, type PatchableLinear, type PatchableModel, patch, unpatch } from '../src/lab/patch.js';
import { dequantize, quantize } from '../src/quant/quantize.js';
import { parseModeSpec, resolveModes } from '../src/engine/modes.js';
import { makeWeights } from './quant-helpers.js';

/** An in-memory model with the LlamaModel linear API: 4 blocks of hidden 64, intermediate 128, vocab 256. */
class FakeModel implements PatchableModel {
  readonly mods: PatchableLinear[];
  readonly orig = new Map<string, Float32Array>();
  readonly cur = new Map<string, Float32Array>();
  constructor(seed = 1) {
    const c = tinyConfig({ numLayers: 4 });
    const shapes: Record<string, [number, number]> = {
      q: [64, 64], k: [32, 64], v: [32, 64], o: [64, 64], gate: [128, 64], up: [128, 64], down: [64, 128], lm_head: [256, 64],
    };
    this.mods = linearPaths(c).map((m, i) => {
      const [out, inp] = shapes[m.kind]!;
      const w = makeWeights('heavy', out, inp, seed * 1000 + i);
      this.orig.set(m.path, w);
      this.cur.set(m.path, w.slice());
      return { ...m, outFeatures: out, inFeatures: inp, patch: null as PatchInfo | null };
    });
  }
  linears() {
    return this.mods;
  }
  originalWeight(p: string) {
    return this.orig.get(p)!.slice();
  }
  getWeight(p: string) {
    return this.cur.get(p)!.slice();
  }
  setWeight(p: string, w: Float32Array, info: PatchInfo | null) {
    const m = this.mods.find((x) => x.path === p)!;
    assert.equal(w.length, m.outFeatures * m.inFeatures);
    this.cur.set(p, w.slice());
    m.patch = info;
  }
  memory() {
    let total = 0;
    for (const w of this.cur.values()) total += w.length * 4;
    return { total, byKind: {} };
  }
}

test('patch installs each module its own dequantized weight, verified; unpatch restores', () => {
  const m = new FakeModel();
  const r = patch(m, { select: 'all', quant: 'int8:per-channel:scale=fp16' });
  assert.equal(r.modules.length, 29);
  assert.deepEqual(r.failed, []);
  assert.equal(r.quant, 'int8:per-channel:scale=fp16');
  for (const pm of r.modules) {
    assert.equal(pm.source, pm.path);
    assert.ok(pm.verify?.ok);
    const want = dequantize(quantize(m.orig.get(pm.path)!, pm.shape, 'int8:per-channel:scale=fp16'));
    assert.deepEqual(m.getWeight(pm.path), want, pm.path);
    assert.ok(pm.error.sqnrDb > 30, `${pm.path} sqnr ${pm.error.sqnrDb}`);
  }
  assert.ok(r.ratio > 1.9 && r.ratio < 2, `ratio ${r.ratio}`);
  assert.equal(r.memoryBefore, r.memoryAfter); // dequantized float32 replaces float32 one for one
  assert.equal(diagnose(m).firstBadLayer, null);
  assert.equal(unpatch(m).length, 29);
  for (const pm of r.modules) assert.deepEqual(m.getWeight(pm.path), m.orig.get(pm.path));
  // attachQuantized: the module's PatchInfo carries its QuantizedTensor (engines take the codes from there)
  patch(m, { select: 'model.layers.0.mlp.up_proj', quant: 'int8:per-channel', attachQuantized: true });
  const info = m.mods.find((x) => x.path === 'model.layers.0.mlp.up_proj')!.patch!;
  assert.deepEqual(dequantize(info.quantized as ReturnType<typeof quantize>), m.getWeight('model.layers.0.mlp.up_proj'));
  unpatch(m);
  // partial selections only touch their modules
  const r2 = patch(m, { select: 'first:5', quant: 'int4:group=32' });
  assert.equal(r2.modules.length, 5);
  assert.equal(m.mods.filter((x) => x.patch !== null).length, 5);
  assert.throws(() => patch(m, { select: 'q_proj', quant: 'int8' }), (e: unknown) => isCodecError(e, 'E_PATCH'));
});

test('patch.mode reaches the GPU engine: a per-layer storage mode overrides the mode spec; unknown modes are refused', () => {
  const m = new FakeModel();
  const cfg = tinyConfig({ numLayers: 4 });
  patch(m, { select: 'blocks:1-2', quant: 'int8:per-channel', mode: 'int8' });
  patch(m, { select: 'lm_head', quant: 'int8:per-channel', mode: 'fp16' });
  const modeOf = (p: string) => m.mods.find((x) => x.path === p)!.patch?.mode;
  // what CudaEngine.fromModel does with the model's patch.mode
  const plan = resolveModes(parseModeSpec('cached'), cfg, (p) => {
    const v = modeOf(p);
    return typeof v === 'string' ? v : undefined;
  });
  const paths = linearPaths(cfg).map((x) => x.path);
  const want = paths.map((p) => (p === 'lm_head' ? 'fp16' : /layers\.[12]\./.test(p) ? 'int8' : 'cached'));
  assert.deepEqual(plan.modes, want);
  // the default stays the reference's dequantized weights, which no engine mode overrides
  patch(m, { select: 'blocks:0', quant: 'int8:per-channel' });
  assert.equal(modeOf('model.layers.0.mlp.up_proj'), 'dequantized');
  assert.throws(
    () => patch(m, { select: 'blocks:3', quant: 'int8:per-channel', mode: 'int9' as never }),
    (e: unknown) => isCodecError(e) && e.code === 'E_ARG' && e.message.includes("'int9' (expected dequantized, fp16, int8,"),
  );
  assert.equal(modeOf('model.layers.3.mlp.up_proj'), undefined, 'a refused mode patches nothing');
});

test('verification: a fault makes patch() throw E_PATCH naming the module (verify: throw)', () => {
  const m = new FakeModel();
  assert.throws(
    () => patch(m, { select: 'all', quant: 'int8:per-channel', fault: 'transposed', verify: 'throw' }),
    (e: unknown) =>
      isCodecError(e, 'E_PATCH') &&
      /^patch verification failed for model\.layers\.2\.self_attn\.q_proj \(int8:per-channel\): \d+ of 4096 weights differ from this module's original by more than the scheme's error bound; first at \[\d+, \d+\]: original .*, installed .*, bound .*$/.test(
        (e as Error).message,
      ),
  );
  // the seed's bug: with wrong-layer every module of layers 1..3 fails; report mode lists them
  const m2 = new FakeModel();
  const r = patch(m2, { select: 'all', quant: 'int8:per-channel', fault: 'wrong-layer' });
  assert.equal(r.failed.length, 3 * 7); // lm_head has a unique short name: it is found correctly
  assert.equal(r.failed[0], 'model.layers.1.self_attn.q_proj');
  assert.equal(r.faultTarget, 'model.layers.1.self_attn.q_proj');
});

test('fault injectors as pure functions', () => {
  const w = makeWeights('normal', 4, 6, 3);
  const q = quantize(w, [4, 6], 'int8:per-channel');
  // transposed
  assert.deepEqual(Array.from(transposedFault(Float32Array.from([1, 2, 3, 4, 5, 6]), 2, 3)), [1, 4, 2, 5, 3, 6]);
  // uint8-as-int8: negative codes gain 256 steps
  const u = dequantizeUint8AsInt8(q);
  const d = dequantize(q);
  for (let i = 0; i < 24; i++) {
    const s = Math.abs(d[i]!) > 0 ? d[i]! / q.codes[i]! : 0;
    if (q.codes[i]! < 0) assert.ok(Math.abs(u[i]! - (q.codes[i]! + 256) * s) < 1e-6);
    else assert.equal(u[i], d[i]);
  }
  // scale-axis: per-channel scales of rows used per column (c mod rows)
  const sa = dequantizeScaleAxis(q);
  assert.notDeepEqual(sa, d);
  // stale buffer: the previous content, zero past its end
  assert.deepEqual(Array.from(staleBufferFault(Float32Array.from([1, 2]), 4)), [1, 2, 0, 0]);
  // fp16 underflow zeroes groups whose scaled scale falls below 2^-14
  const z = fp16UnderflowFault(w, [4, 6], q.spec);
  assert.ok(z.every((v) => v === 0));
  const big = Float32Array.from(w, (v) => v * 100);
  assert.ok(fp16UnderflowFault(big, [4, 6], q.spec).some((v) => v !== 0));
  assert.equal(wrongLayerSource('model.layers.3.mlp.up_proj', ['model.layers.0.mlp.up_proj', 'model.layers.3.mlp.up_proj']), 'model.layers.0.mlp.up_proj');
});

test('diagnose: every injected fault is found at its module and named', () => {
  const expectFirst: Record<FaultName, string> = {
    'scale-axis': 'model.layers.2.self_attn.q_proj',
    'scale-fp16-underflow': 'model.layers.2.self_attn.q_proj',
    'uint8-as-int8': 'model.layers.2.self_attn.q_proj',
    transposed: 'model.layers.2.self_attn.q_proj',
    'stale-buffer': 'model.layers.2.self_attn.q_proj', // its predecessor is model.layers.1.mlp.down_proj
    'wrong-layer': 'model.layers.1.self_attn.q_proj',
  };
  for (const fault of FAULTS) {
    const m = new FakeModel(7);
    const d = diagnoseFault(m, fault);
    assert.equal(d.firstBadLayer, expectFirst[fault], `${fault}: ${JSON.stringify(d)}`);
    assert.equal(d.injected, expectFirst[fault]);
    assert.equal(d.cause, fault, `${fault}: classified as ${d.cause} (${d.evidence})`);
  }
  // a fault on another target and scheme
  const m = new FakeModel(9);
  const d = diagnoseFault(m, 'transposed', { quant: 'int4:group=32', faultTarget: 'model.layers.3.mlp.gate_proj' });
  assert.equal(d.firstBadLayer, 'model.layers.3.mlp.gate_proj');
  assert.equal(d.cause, 'transposed');
  // an unpatched module that was changed by hand is found too
  const m2 = new FakeModel(10);
  const w = m2.getWeight('model.layers.1.mlp.up_proj');
  w[5]! += 1e-3;
  m2.cur.set('model.layers.1.mlp.up_proj', w);
  assert.equal(diagnose(m2).firstBadLayer, 'model.layers.1.mlp.up_proj');
});
