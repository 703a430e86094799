import assert from 'node:assert/strict';
import { test } from 'node:test';

import { isCodecError } from '../src/messages.js';
import { linearPaths } from '../src/model/names.js';
import { tinyConfig } from '../src/model/synthetic.js';
import { resolveSelection, selectionSummary } from '../src/model/select.js';

const mods = linearPaths(tinyConfig({ numLayers: 22 })); // TinyLlama's count: 22 x 7 + lm_head = 155
const paths = (sel: string) => resolveSelection(mods, sel).map((m) => m.path);
const fails = (sel: string, text: string) =>
  assert.throws(() => resolveSelection(mods, sel), (e: unknown) => isCodecError(e, 'E_PATCH') && (e as Error).message === text, sel);

test('selection resolves full module paths in module order', () => {
  assert.equal(mods.length, 155);
  assert.equal(paths('all').length, 155);
  assert.deepEqual(paths('first:1'), ['model.layers.0.self_attn.q_proj']);
  assert.deepEqual(paths('first:8'), [
    'model.layers.0.self_attn.q_proj',
    'model.layers.0.self_attn.k_proj',
    'model.layers.0.self_attn.v_proj',
    'model.layers.0.self_attn.o_proj',
    'model.layers.0.mlp.gate_proj',
    'model.layers.0.mlp.up_proj',
    'model.layers.0.mlp.down_proj',
    'model.layers.1.self_attn.q_proj',
  ]);
  assert.equal(paths('first:155').at(-1), 'lm_head');
  assert.deepEqual(paths('blocks:3').length, 7);
  assert.ok(paths('blocks:3-4').every((p) => /^model\.layers\.[34]\./.test(p)));
  assert.equal(paths('blocks:0-21').length, 154);
  assert.equal(paths('type:q').length, 22);
  assert.deepEqual(paths('type:lm_head'), ['lm_head']);
  assert.equal(paths('type:gate,up,down').length, 66);
  assert.deepEqual(paths('re:layers\\.1[0-1]\\.mlp\\.down'), ['model.layers.10.mlp.down_proj', 'model.layers.11.mlp.down_proj']);
  assert.deepEqual(paths('model.layers.5.self_attn.v_proj'), ['model.layers.5.self_attn.v_proj']);
  assert.deepEqual(paths('lm_head'), ['lm_head']);
  // union keeps module order and drops duplicates
  assert.deepEqual(paths('lm_head+first:1+model.layers.0.self_attn.q_proj'), ['model.layers.0.self_attn.q_proj', 'lm_head']);
});

test('the seed bug is impossible: a short module name is an error, not layer 0', () => {
  fails(
    'q_proj',
    "invalid selection 'q_proj': a short module name matching 22 modules (first model.layers.0.self_attn.q_proj); select by full path, type: or re: (a short name silently resolves to one layer)",
  );
  fails(
    'mlp.down_proj',
    "invalid selection 'mlp.down_proj': a short module name matching 22 modules (first model.layers.0.mlp.down_proj); select by full path, type: or re: (a short name silently resolves to one layer)",
  );
});

test('bad selections: exact E_PATCH messages', () => {
  fails('', "invalid selection '': empty (expected all, first:N, blocks:a-b, type:q,k,v,o,gate,up,down,lm_head, re:REGEX or a full module path)");
  fails('first:0', "invalid selection 'first:0': first:N needs an integer 1 <= N <= 155 (linear layers in the model)");
  fails('first:156', "invalid selection 'first:156': first:N needs an integer 1 <= N <= 155 (linear layers in the model)");
  fails('first:x', "invalid selection 'first:x': first:N needs an integer 1 <= N <= 155 (linear layers in the model)");
  fails('blocks:5-3', "invalid selection 'blocks:5-3': blocks:a-b needs integers 0 <= a <= b < 22");
  fails('blocks:22', "invalid selection 'blocks:22': blocks:a-b needs integers 0 <= a <= b < 22");
  fails('type:q,attn', "invalid selection 'type:q,attn': unknown type 'attn' (expected q, k, v, o, gate, up, down, lm_head)");
  fails('re:(', "invalid selection 're:(': bad regular expression (Invalid regular expression: /(/: Unterminated group)");
  fails('re:^nothing$', "selection 're:^nothing$' matches no linear layer");
  fails('model.layers.99.self_attn.q_proj', "invalid selection 'model.layers.99.self_attn.q_proj': expected all, first:N, blocks:a-b, type:q,k,v,o,gate,up,down,lm_head, re:REGEX or a full module path");
});

test('& intersects (binding tighter than +); the summary says what was chosen; an empty intersection is an error', () => {
  // the default model's shape: 30 blocks
  const smol = linearPaths(tinyConfig({ numLayers: 30 }));
  const s = selectionSummary(smol, 'blocks:10-19&type:gate,up,down');
  assert.equal(s.count, 30);
  assert.deepEqual(s.byKind, { gate: 10, up: 10, down: 10 });
  assert.equal(s.paths[0], 'model.layers.10.mlp.gate_proj');
  assert.equal(s.paths.at(-1), 'model.layers.19.mlp.down_proj');
  assert.ok(s.paths.every((p) => /^model\.layers\.1[0-9]\.mlp\.(gate|up|down)_proj$/.test(p)));
  // union of intersections, module order, no duplicates
  assert.deepEqual(paths('blocks:0&type:q+type:lm_head+blocks:0-1&type:q'), ['model.layers.0.self_attn.q_proj', 'model.layers.1.self_attn.q_proj', 'lm_head']);
  // three-way intersection
  assert.deepEqual(paths('blocks:2-5&type:k,v&re:layers\\.4\\.'), ['model.layers.4.self_attn.k_proj', 'model.layers.4.self_attn.v_proj']);
  // disjoint: lm_head is in no block
  fails('blocks:0-3&type:lm_head', "selection 'blocks:0-3&type:lm_head' matches no linear layer");
  // each operand is still validated
  assert.throws(() => resolveSelection(mods, 'blocks:0&q_proj'), (e: unknown) => isCodecError(e, 'E_PATCH'));
});
