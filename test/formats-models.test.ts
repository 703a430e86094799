/**
 * Every tensor of both named models (SmolLM2 Q4_1, Gemma 3 270M Q4_K_M: F32, Q4_1, Q8_0, Q5_0, Q4_K, Q6_K) dequantized
 * by our TypeScript must hash like gguf-py's numpy reference (`gguf.quants.dequantize`): bit-exact, tensor by tensor.
 * The reference hashes come from scripts/gen-model-dequant-hashes.py (stored in test/fixtures/formats/).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { openGGUF } from '../src/formats/gguf.js';
import { dataDir } from '../src/util/paths.js';

const ref = JSON.parse(fs.readFileSync(new URL('./fixtures/formats/model-dequant-sha256.json', import.meta.url), 'utf8'));

for (const [file, want] of Object.entries(ref.models) as [string, { sha256: string; tensors: Record<string, { type: string; n: number; sha256: string }> }][]) {
  test(`every tensor of ${file} dequantizes bit-exactly like gguf.quants`, (t) => {
    const p = path.join(dataDir(), 'models', file);
    if (!fs.existsSync(p)) {
      if (process.env.CI) assert.fail(`${p} missing under CI (make setup fetches it)`);
      t.skip(`${p} not present (run make setup)`);
      return;
    }
    const g = openGGUF(p);
    try {
      const names = g.list().map((x) => x.name).sort();
      assert.deepEqual(names, Object.keys(want.tensors).sort(), 'tensor names');
      const bad: string[] = [];
      const types = new Map<string, number>();
      for (const name of names) {
        const w = want.tensors[name]!;
        const f32 = g.readF32(name);
        assert.equal(f32.length, w.n, `${name}: element count`);
        const got = crypto.createHash('sha256').update(new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength)).digest('hex');
        if (got !== w.sha256) bad.push(`${name} (${w.type})`);
        types.set(w.type, (types.get(w.type) ?? 0) + 1);
      }
      t.diagnostic(`${names.length} tensors: ${[...types].map(([k, v]) => `${v} ${k}`).join(', ')}`);
      assert.deepEqual(bad.slice(0, 5), [], `${bad.length} tensors differ from gguf.quants; first ones`);
    } finally {
      g.close();
    }
  });
}
