/**
 * The folder tree tells the truth: no import cycle between top-level rooms of src/ (formats, codec, quant, model,
 * container, engine, lab, eval, …; a file directly under src/ is a room of its own). Type-only imports count: a
 * cycle of types is still a cycle a reader has to hold in their head.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const src = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The room of a file: its first folder under src/, or the file itself when it sits directly in src/. */
const room = (file: string): string => path.relative(src, file).split(path.sep)[0]!.replace(/\.ts$/, '');

/** Relative import specifiers of a source file (static, dynamic, `export … from`), comments stripped. */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const out: string[] = [];
  for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) out.push(m[1]!);
  return out;
}

/** room -> rooms it imports from, with one file:line witness per edge. */
function roomGraph(): Map<string, Map<string, string>> {
  const g = new Map<string, Map<string, string>>();
  for (const f of tsFiles(src)) {
    const from = room(f);
    const edges = g.get(from) ?? new Map<string, string>();
    g.set(from, edges);
    for (const spec of importsOf(fs.readFileSync(f, 'utf8'))) {
      const to = room(path.resolve(path.dirname(f), spec));
      if (to !== from && !edges.has(to)) edges.set(to, `${path.relative(src, f)} imports ${spec}`);
    }
  }
  return g;
}

/** Strongly connected components with more than one room (Tarjan). */
export function cycles(g: Map<string, Iterable<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return out;
}

test('importsOf finds static, type-only, re-export and dynamic imports, and skips comments', () => {
  const text = [
    "import { a } from '../formats/dtypes.js';",
    "import type { B } from './b.js';",
    "export * from '../quant/index.js';",
    "const m = await import('../model/llama.js');",
    "/** import { x } from '../codec/cpu.js'; */",
    "// import { y } from '../engine/cuda.js';",
    "import fs from 'node:fs';",
  ].join('\n');
  assert.deepEqual(importsOf(text), ['../formats/dtypes.js', './b.js', '../quant/index.js', '../model/llama.js']);
});

test('cycles() finds a two-room cycle and a three-room cycle, and nothing in a DAG', () => {
  assert.deepEqual(cycles(new Map([['a', ['b']], ['b', ['a']], ['c', ['a']]])), [['a', 'b']]);
  assert.deepEqual(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]])), [['a', 'b', 'c']]);
  assert.deepEqual(cycles(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]])), []);
});

test('no import cycle between top-level folders of src/', () => {
  const g = roomGraph();
  const found = cycles(new Map([...g].map(([k, v]) => [k, [...v.keys()]])));
  const explain = found.map((scc) =>
    scc.flatMap((a) => scc.filter((b) => g.get(a)?.has(b)).map((b) => `  ${a} -> ${b}: ${g.get(a)!.get(b)}`)).join('\n'),
  );
  assert.deepEqual(found, [], `import cycles between rooms:\n${explain.join('\n')}`);
  // the layers the issue named stay one-way
  for (const [low, high] of [['formats', 'codec'], ['formats', 'quant'], ['codec', 'model'], ['quant', 'lab'], ['model', 'container']])
    assert.ok(!g.get(low)?.has(high), `${low} must not import ${high}: ${g.get(low)?.get(high)}`);
});
