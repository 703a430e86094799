/**
 * README.md's Library section runs as written: its first ```ts block is extracted, its `from 'codecllm'` pointed at
 * this checkout's src/index.ts (the only change), and executed in a child process on the default model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MODEL_FILE } from '../src/model/checkpoint.js';
import { dataDir } from '../src/util/paths.js';

const REPO = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const model = path.join(dataDir(), 'models', DEFAULT_MODEL_FILE);
const present = fs.existsSync(model);
if (!present && process.env.CI === 'true') throw new Error(`${model} is missing: CI must fetch the default model (bash scripts/fetch-default-model.sh)`);
const skip = present ? false : `default model not found at ${model} (bash scripts/fetch-default-model.sh)`;

/** The first ```ts block after the '## Library' heading of a README. */
export function librarySnippet(readme: string): string {
  const at = readme.indexOf('\n## Library\n');
  assert.ok(at >= 0, "README has no '## Library' section");
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, "README's Library section has no ```ts block");
  return m[1]!;
}

test('librarySnippet finds the block of the Library section only', () => {
  const md = "# x\n```ts\nnot this\n```\n## Library\ntext\n```ts\nimport { load } from 'codecllm';\n```\n```ts\nnor this\n```\n";
  assert.equal(librarySnippet(md), "import { load } from 'codecllm';\n");
  assert.throws(() => librarySnippet('# nothing here\n'), /no '## Library' section/);
});

test('README Library snippet: load -> patch -> compare -> chart runs as written', { skip, timeout: 600_000 }, () => {
  const code = librarySnippet(fs.readFileSync(path.join(REPO, 'README.md'), 'utf8'));
  for (const verb of ['load(', 'patch(', 'compareToBaseline(', 'barChart(']) assert.ok(code.includes(verb), `snippet lacks ${verb}`);
  const imports = code.match(/from 'codecllm'/g) ?? [];
  assert.equal(imports.length, 1, 'one import from codecllm');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-readme-'));
  const file = path.join(dir, 'library.mts') // .mts: an ES module (top-level await) wherever it lies;
  fs.writeFileSync(file, code.replace("from 'codecllm'", `from ${JSON.stringify(path.join(REPO, 'src', 'index.ts'))}`));
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: REPO, encoding: 'utf8', timeout: 540_000 });
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 0, `snippet failed:\n${r.stderr}`);
  // the table shows both schemes with a verdict, the chart printed its text form, generate printed text
  assert.match(r.stdout, /int8:per-channel/);
  assert.match(r.stdout, /int4:group=64/);
  assert.match(r.stdout, /PERFECT|MINOR|MAJOR/);
  assert.ok(r.stdout.trim().split('\n').length >= 4, r.stdout);
});
