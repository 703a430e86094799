/** camelCase in TypeScript, snake_case in the CLI's --json: the one mapping (src/cli/json.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cliJson, snakeKey } from '../src/cli/json.js';

test('snakeKey: camelCase to snake_case; units keep their case; other keys pass unchanged', () => {
  const cases: [string, string][] = [
    ['klMean', 'kl_mean'], ['top1Agreement', 'top1_agreement'], ['ratioVsFp16', 'ratio_vs_fp16'], ['pplCI95', 'ppl_ci95'],
    ['compressMBps', 'compress_MBps'], ['decodeMs', 'decode_ms'], ['firstBadLayer', 'first_bad_layer'], ['timeS', 'time_s'],
    ['ppl', 'ppl'], ['kl_mean', 'kl_mean'], ['q4_1', 'q4_1'], ['model.layers.0.mlp.up_proj', 'model.layers.0.mlp.up_proj'], ['Name', 'Name'],
  ];
  assert.deepEqual(cases.map(([k]) => snakeKey(k)), cases.map(([, v]) => v));
});

test('cliJson maps keys of nested plain objects and arrays, and leaves values, typed arrays and class instances alone', () => {
  const ids = new Int32Array([1, 2]);
  const when = new Date(0);
  assert.deepEqual(cliJson({ perTensor: [{ rawBytes: 4, dtypes: { q4_1: 2 } }], firstDivergence: null, ids, when, text: 'camelCase' }), {
    per_tensor: [{ raw_bytes: 4, dtypes: { q4_1: 2 } }], first_divergence: null, ids, when, text: 'camelCase',
  });
});
