// Engine dimensions are checked in one place (native/src/common/engine_dims.h): the CPU engine and the GPU engine
// share the bounds (the GPU adds only its 16-byte row rules), so a config one engine rejects for a bound the other
// rejects too, with the same message. Needs the addon built: `bash scripts/build-native.sh`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isNativeError, requireNative } from '../src/native/addon.js';

type Create = (cfg: Record<string, unknown>) => number;
const base = { hidden: 64, intermediate: 128, layers: 1, heads: 4, kvHeads: 2, headDim: 16, vocab: 32, rmsEps: 1e-5 };

function rejects(create: Create, cfg: Record<string, unknown>, re: RegExp): void {
  assert.throws(() => create(cfg), (e: unknown) => isNativeError(e) && e.code === 'E_ARG' && re.test(e.message), JSON.stringify(cfg));
}

describe('engine dimensions (common/engine_dims.h)', () => {
  const n = requireNative('test') as unknown as { cpuEngineCreate: Create; engineCreate?: Create; cpuEngineDispose(id: number): boolean };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ hidden: 0 }, /hidden 0 outside \[1, 65536\]/],
    [{ vocab: 1 << 23 }, /vocab 8388608 outside \[1, 4194304\]/],
    [{ heads: 3, kvHeads: 2 }, /heads must be a multiple of kvHeads/],
    [{ headDim: 15 }, /headDim must be even/],
    [{ layers: 1.5 }, /layers must be an integer/],
  ];
  for (const [over, re] of cases) {
    it(`CPU engine rejects ${JSON.stringify(over)}`, () => rejects(n.cpuEngineCreate, { ...base, ...over }, re));
    it(`GPU engine rejects ${JSON.stringify(over)} the same way (CUDA builds)`, (t) => {
      if (!n.engineCreate) return t.skip('built without CUDA');
      rejects(n.engineCreate, { ...base, ...over, maxSeq: 8, maxPrefill: 8 }, re);
    });
  }
  it('the CPU engine accepts a hidden size the GPU kernels cannot (no 16-byte row rule on CPU)', () => {
    const id = n.cpuEngineCreate({ ...base, hidden: 8, invFreq: new Float32Array(8) });
    assert.equal(n.cpuEngineDispose(id), true);
  });
});
