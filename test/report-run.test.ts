/**
 * `runReport` end to end with the real kernel: a failing cell stops the report with "<notebook>: cell <n> failed:
 * <error line>", a type error and a timeout likewise; a good run writes CDN-free pages, the executed notebooks
 * and an index, and re-running the smoke notebook gives the same numbers.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Command } from 'commander';
import { defaultNotebooks, registerReportCommand, runReport } from '../src/report/report.js';
import { CodecLLMError, msg } from '../src/messages.js';
import { buildShimPackage, pythonWithNbclient, REPO } from './kernel-helpers.js';

const py = pythonWithNbclient();
const skip = 'missing' in py && !process.env.CI ? py.missing : false;
if (skip) console.log(`report-run: skipped: ${skip}`);

const tmp = (p: string) => mkdtempSync(path.join(tmpdir(), p));
const quiet = { log: () => {} };

/** A notebook file with the given cells (strings starting with '#' are markdown). */
function notebook(cells: string[]): string {
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'codecllm', display_name: 'CodecLLM (TypeScript)', language: 'typescript' } },
    cells: cells.map((src, i) =>
      src.startsWith('#')
        ? { id: `c${i}`, cell_type: 'markdown', metadata: {}, source: src }
        : { id: `c${i}`, cell_type: 'code', metadata: {}, source: src, outputs: [], execution_count: null },
    ),
  };
  const file = path.join(tmp('codecllm-nb-'), 'case.ipynb');
  writeFileSync(file, JSON.stringify(nb));
  return file;
}

async function rejectsWith(p: Promise<unknown>, code: string, message: string) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CodecLLMError, String(e));
    assert.equal(e.message, message);
    assert.equal(e.code, code);
    return true;
  });
}

test('a throwing cell fails the report, naming notebook, cell and error', { skip }, async () => {
  const nb = notebook(['# t', 'import { table } from "codecllm";\nconst x = 1;', 'throw new Error("boom at " + x);', 'console.log("never")']);
  const out = tmp('codecllm-out-');
  await rejectsWith(runReport([nb], out, { packageRoot: buildShimPackage(), ...quiet }), 'E_REPORT', `${nb}: cell 3 failed: Error: boom at 1`);
  assert.equal(msg.reportCellError(nb, 3, 'Error: boom at 1'), `${nb}: cell 3 failed: Error: boom at 1`);
  // the partial page and the index still show what happened
  assert.ok(readFileSync(path.join(out, 'case.html'), 'utf8').includes('boom at 1'));
  assert.ok(readFileSync(path.join(out, 'index.html'), 'utf8').includes('FAILED: case.ipynb, cell 3: Error: boom at 1'));
});

test('a type error fails the report with the TypeScript diagnostic', { skip }, async () => {
  const nb = notebook(['const n: number = "s";']);
  await rejectsWith(
    runReport([nb], tmp('codecllm-out-'), { packageRoot: buildShimPackage(), ...quiet }),
    'E_REPORT',
    `${nb}: cell 1 failed: 1:7 - Type 'string' is not assignable to type 'number'.`,
  );
});

test('a cell past the timeout fails the report', { skip }, async () => {
  const nb = notebook(['const a = 1;', 'await new Promise((r) => setTimeout(r, 60_000));']);
  await rejectsWith(
    runReport([nb], tmp('codecllm-out-'), { packageRoot: buildShimPackage(), timeoutS: 3, ...quiet }),
    'E_REPORT',
    `${nb}: cell 2 timed out after 3 s`,
  );
});

test('bad inputs: missing notebook, no notebooks, Python without nbclient', async () => {
  await rejectsWith(runReport(['nope.ipynb'], tmp('o-')), 'E_IO', 'nope.ipynb: no such file or directory');
  await rejectsWith(runReport([], tmp('o-')), 'E_REPORT', 'report: no notebooks given and none found in notebooks/');
  const nb = notebook(['1']);
  await rejectsWith(
    runReport([nb], tmp('o-'), { python: 'codecllm-no-such-python' }),
    'E_REPORT',
    "report: codecllm-no-such-python cannot run nbclient/nbconvert (spawnSync codecllm-no-such-python ENOENT): run 'bash scripts/setup-report.sh'",
  );
  assert.deepEqual(defaultNotebooks(path.join(REPO, 'notebooks')).map((f) => path.basename(f)).slice(0, 1), ['00-smoke.ipynb']);
});

/** Outputs that must not change between runs (everything but timings). */
function numbers(ipynb: string): string {
  const nb = JSON.parse(readFileSync(ipynb, 'utf8')) as { cells: { outputs?: { data?: Record<string, unknown> }[] }[] };
  return JSON.stringify(
    nb.cells.flatMap((c) => (c.outputs ?? []).map((o) => o.data ?? {})).filter((d) => !('text/html' in d && String(d['text/html']).match(/codecllm-(badge|progress)/))),
  );
}

test('the smoke notebook: CDN-free pages, executed notebooks, index; same numbers when re-run', { skip }, async () => {
  const smoke = path.join(REPO, 'notebooks', '00-smoke.ipynb');
  const a = await runReport([smoke], tmp('codecllm-out-'), { packageRoot: buildShimPackage(), ...quiet });
  assert.equal(a.pages.length, 1);
  const page = a.pages[0]!;
  assert.equal(page.title, '00 · Smoke test: display helpers');
  assert.equal(page.charts, 3);
  const html = readFileSync(page.html, 'utf8');
  assert.equal(html.match(/(?:src|href)\s*=\s*["']?(?:https?:)?\/\//g), null, 'nothing fetched at view time');
  assert.equal((html.match(/class="codecllm-chart"/g) ?? []).length, 3);
  assert.ok(html.includes('<svg'), 'inline SVG');
  assert.ok(existsSync(page.ipynb));
  // execution counts come from the kernel's execute_input (1, 2, 3, … in order), not made up afterwards
  const cells = (JSON.parse(readFileSync(page.ipynb, 'utf8')) as { cells: { cell_type: string; execution_count?: number | null }[] }).cells;
  const counts = cells.filter((c) => c.cell_type === 'code').map((c) => c.execution_count);
  assert.deepEqual(counts, counts.map((_, i) => i + 1));
  const index = readFileSync(a.index, 'utf8');
  assert.ok(index.includes('<a href="00-smoke.html">00 · Smoke test: display helpers</a>'));
  const b = await runReport([smoke], tmp('codecllm-out-'), { packageRoot: buildShimPackage(), interactive: false, ...quiet });
  assert.equal(numbers(b.pages[0]!.ipynb), numbers(page.ipynb));
  assert.ok(!readFileSync(b.pages[0]!.html, 'utf8').includes('vegaLite'), '--no-interactive inlines no vega');
});

test('registerReportCommand adds `report [notebooks...] --out DIR`', () => {
  const program = new Command();
  registerReportCommand(program);
  const cmd = program.commands.find((c) => c.name() === 'report')!;
  assert.ok(cmd);
  assert.deepEqual(cmd.options.map((o) => o.long), ['--out', '--timeout', '--no-interactive']);
  assert.equal(cmd.registeredArguments[0]!.name(), 'notebooks');
  assert.equal(cmd.registeredArguments[0]!.variadic, true);
});
