/**
 * The CodecLLM kernel for real: started by jupyter_client from an installed kernelspec, driven over ZMQ like
 * JupyterLab would. Checks `import … from "codecllm"` (types + run time), multi-mime display_data, completion,
 * progress, the last expression as execute_result, and that a throwing cell, a rejected promise, a library error
 * and a type error each give an `error` output with a one-line evalue while the kernel lives on.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { msg } from '../src/messages.js';
import { buildShimPackage } from './kernel-helpers.js';
import { errorOf, outputs, resultText, runKernel, skipKernel as skip, streamText, type KernelRun } from './kernel-driver.js';

if (skip) console.log(`kernel-exec: skipped: ${skip}`);

let run: KernelRun;
before(() => {
  if (skip) return;
  run = runKernel(buildShimPackage(), [
    { code: 'import { lineChart, display, table, progress } from "codecllm";\nconst rows = [{ x: 1, y: 2 }, { x: 2, y: 3 }];' },
    { code: 'await display(lineChart(rows, { x: "x", y: "y" }));\ndisplay(table(rows));' },
    { code: 'throw new Error("boom");' },
    { code: 'const n: number = "s";' },
    { code: 'await Promise.reject(new RangeError("later"));' },
    { code: '6 * 7' },
    { complete: 'lineCh' },
    { code: 'const p = progress("steps", 3, { intervalMs: 0 }); p.tick(); p.tick(); p.tick(); p.done();' },
    { code: 'lineChart(rows, { x: "x", y: "nope" }).catch((e) => console.log(e.code, e.message));\nawait new Promise((r) => setTimeout(r, 50));' },
    { code: 'import { tensorSummary } from "codecllm";\ntensorSummary("x" as any);' },
    { code: 'const ok = 1;\nawait lineChart(rows, { x: "x", y: "nope" });' },
    { code: 'table(rows)' },
    { code: 'console.error("careful");\nconsole.log("plain");' },
  ]);
});
const step = (i: number) => run.steps[i]!;
const status = (i: number) => step(i).replies[0]!.content.status;

test('cells import codecllm (types and run time) and display multi-mime bundles', { skip }, () => {
  assert.equal(status(0), 'ok', JSON.stringify(errorOf(step(0))));
  assert.equal(status(1), 'ok', JSON.stringify(errorOf(step(1))));
  const displays = outputs(step(1)).filter((o) => o.type === 'display_data');
  assert.equal(displays.length, 2);
  const chartData = displays[0]!.content.data!;
  assert.deepEqual(Object.keys(chartData).sort(), ['application/vnd.vegalite.v5+json', 'image/svg+xml', 'text/plain']);
  assert.equal(typeof chartData['application/vnd.vegalite.v5+json'], 'object');
  assert.equal((chartData['application/vnd.vegalite.v5+json'] as { $schema: string }).$schema, 'https://vega.github.io/schema/vega-lite/v5.json');
  assert.match(chartData['image/svg+xml'] as string, /^<svg[\s\S]*role-mark/);
  assert.deepEqual(Object.keys(displays[1]!.content.data!).sort(), ['text/html', 'text/plain']);
});

test('a throwing cell is an error output (ename, one-line evalue, traceback at the cell line); the kernel lives on', { skip }, () => {
  assert.equal(status(2), 'error');
  assert.deepEqual(errorOf(step(2)), { ename: 'Error', evalue: 'boom', traceback: ['Error: boom', '    at cell line 1: throw new Error("boom");'] });
  assert.equal(streamText(step(2), 'stderr'), '', 'errors are not printed on stderr');
  assert.equal(status(4), 'error');
  assert.equal(errorOf(step(4))!.ename, 'RangeError');
  assert.equal(errorOf(step(4))!.evalue, 'later');
  const reply = step(4).replies[0]!.content;
  assert.equal(reply.ename, 'RangeError', 'the execute_reply carries the error too');
  assert.equal(status(5), 'ok');
  assert.equal(resultText(step(5)), '42');
  assert.equal(streamText(step(5), 'stdout'), '');
});

test('a type error is an error output with line:column and the TypeScript message', { skip }, () => {
  assert.equal(status(3), 'error');
  const e = errorOf(step(3))!;
  assert.equal(e.ename, 'TypeScript');
  assert.equal(e.evalue, "1:7 - Type 'string' is not assignable to type 'number'.");
  assert.deepEqual(e.traceback, ['TypeScript: 1 error', "1:7 - Type 'string' is not assignable to type 'number'.", '    const n: number = "s";']);
});

test('completion knows the library exports', { skip }, () => {
  const r = step(6).replies[0]!.content;
  assert.equal(r.status, 'ok');
  assert.ok(r.matches!.includes('lineChart'), JSON.stringify(r.matches));
});

test('progress updates one display in place (update_display_data)', { skip }, () => {
  const outs = outputs(step(7)).filter((o) => o.type === 'display_data' || o.type === 'update_display_data');
  assert.equal(outs[0]!.type, 'display_data');
  assert.ok(outs.length >= 2);
  assert.ok(outs.slice(1).every((o) => o.type === 'update_display_data'));
  assert.equal(new Set(outs.map((o) => o.content.transient?.display_id)).size, 1);
  assert.match(outs.at(-1)!.content.data!['text/plain'] as string, /^steps: 3\/3 \(100%\)/);
});

test('library errors reach the cell with their code and message', { skip }, () => {
  assert.equal(streamText(step(8), 'stdout'), `E_ARG ${msg.vizNoField('nope', ['x', 'y'])}\n`);
});

test('a CodecLLMError thrown in a cell (sync or awaited) is one line: message [E_CODE], pointing at the cell line', { skip }, () => {
  assert.equal(status(9), 'error');
  assert.deepEqual(errorOf(step(9)), {
    ename: 'CodecLLMError',
    evalue: `${msg.vizNotTensor('string')} [E_ARG]`,
    traceback: [`CodecLLMError: ${msg.vizNotTensor('string')} [E_ARG]`, '    at cell line 2: tensorSummary("x" as any);'],
  });
  assert.equal(status(10), 'error');
  const e = errorOf(step(10))!;
  assert.equal(e.evalue, `${msg.vizNoField('nope', ['x', 'y'])} [E_ARG]`);
  assert.equal(e.traceback!.at(-1), '    at cell line 2: await lineChart(rows, { x: "x", y: "nope" });');
});

test('the last expression is an execute_result: a mime bundle shows rich, other values as text', { skip }, () => {
  const r = outputs(step(11)).find((o) => o.type === 'execute_result')!;
  assert.deepEqual(Object.keys(r.content.data!).sort(), ['text/html', 'text/plain']);
  assert.equal(r.content.execution_count, step(11).replies[0]!.content.execution_count);
  assert.equal(streamText(step(12), 'stderr'), 'careful\n');
  assert.equal(streamText(step(12), 'stdout'), 'plain\n');
});

test('an unbuilt package is a clear message in the cell, not a dead kernel', { skip }, () => {
  const root = mkdtempSync(path.join(tmpdir(), 'codecllm-unbuilt-'));
  writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'codecllm', version: '0.0.0', main: './dist/src/index.js' }));
  mkdirSync(path.join(root, 'dist'));
  const r = runKernel(root, [{ code: 'const m = require("codecllm");' }, { code: '1 + 1' }]);
  const entry = path.join(root, 'dist', 'src', 'index.js');
  assert.equal(r.steps[0]!.replies[0]!.content.status, 'error');
  const e = errorOf(r.steps[0]!)!;
  assert.equal(e.evalue, `${msg.kernelNotBuilt(entry)} [E_KERNEL]`);
  assert.equal(msg.kernelNotBuilt(entry), `codecllm kernel: ${entry} not found: run 'npm run build' first`);
  assert.equal(resultText(r.steps[1]!), '2');
});
