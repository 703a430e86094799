/**
 * The public surface stays small and truthful: the root export holds the notebook verbs (about 40 values), fixtures
 * and internals live elsewhere, every subpath in package.json "exports" has its source module, and every name the
 * notebooks take from 'codecllm' (directly or from a root namespace) exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as root from '../src/index.js';

const REPO = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

test('the root export is the notebook verbs, about 40 values, without fixtures or internals', () => {
  const names = Object.keys(root);
  assert.ok(names.length <= 42, `root exports ${names.length} values: ${names.join(', ')}`);
  for (const verb of ['load', 'patch', 'unpatch', 'quantize', 'dequantize', 'perplexity', 'runBaseline', 'compareToBaseline', 'generate', 'compressModel', 'verifyCllm', 'display', 'table', 'chart'])
    assert.ok(names.includes(verb), `root lacks ${verb}`);
  for (const internal of ['tinyConfig', 'syntheticWeights', 'err', 'msg', 'rne', 'KERNEL_HOOK', 'registerCheckpointOpener'])
    assert.ok(!names.includes(internal), `root exports internal ${internal}`);
});

test('every package.json subpath export has its source module, and the root namespaces are those modules', async () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { exports: Record<string, { import: string; types: string }> };
  const subpaths = Object.keys(pkg.exports).filter((k) => k !== '.');
  assert.ok(subpaths.length >= 10, subpaths.join(', '));
  for (const k of subpaths) {
    const { import: js, types } = pkg.exports[k]!;
    assert.equal(types, js.replace(/\.js$/, '.d.ts'), k);
    const src = path.join(REPO, js.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'));
    assert.ok(fs.existsSync(src), `${k}: ${src} missing`);
    const mod = (await import(src)) as Record<string, unknown>;
    assert.ok(Object.keys(mod).length > 0, `${k} exports nothing`);
    const ns = k === './eval' ? 'evaluation' : k.slice(2);
    if (ns in root) assert.deepEqual(Object.keys((root as Record<string, object>)[ns]!).sort(), Object.keys(mod).sort(), `root.${ns} != ${k}`);
  }
  // fixtures are reachable, just not from the root
  assert.equal(typeof ((await import(path.join(REPO, 'src/testing.ts'))) as Record<string, unknown>).tinyConfig, 'function');
});

test("every name a notebook takes from 'codecllm' exists", () => {
  const dir = path.join(REPO, 'notebooks');
  const r = root as Record<string, unknown>;
  let checked = 0;
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.ipynb'))) {
    const nb = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { cells: { cell_type: string; source: string[] | string }[] };
    const code = nb.cells.filter((c) => c.cell_type === 'code').map((c) => (Array.isArray(c.source) ? c.source.join('') : c.source)).join('\n');
    for (const m of code.matchAll(/import\s*\{([^}]*)\}\s*from\s*["']codecllm["']/g))
      for (const raw of m[1]!.split(',')) {
        const name = raw.trim().split(/\s+as\s+/)[0]!;
        if (!name) continue;
        assert.ok(name in r, `${f}: 'codecllm' has no export ${name}`);
        checked++;
      }
    // const { a, b } = ns;  where ns is a root namespace
    for (const m of code.matchAll(/const\s*\{([^}]*)\}\s*=\s*(\w+)\s*;/g)) {
      const ns = r[m[2]!];
      if (typeof ns !== 'object' || ns === null) continue;
      for (const raw of m[1]!.split(',')) {
        const name = raw.trim().split(':')[0]!.trim();
        if (name) assert.ok(name in ns, `${f}: codecllm.${m[2]} has no export ${name}`), checked++;
      }
    }
    for (const m of code.matchAll(/require\(["']codecllm["']\)((?:\.\w+)+)/g)) {
      let v: unknown = r;
      for (const p of m[1]!.slice(1).split('.').slice(0, -1)) v = (v as Record<string, unknown>)[p];
      const last = m[1]!.split('.').at(-1)!;
      assert.ok(v && typeof v === 'object' && last in v, `${f}: require("codecllm")${m[1]} does not exist`);
      checked++;
    }
  }
  assert.ok(checked > 50, `only ${checked} names checked`);
});
