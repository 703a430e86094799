/**
 * Jupyter messaging of the CodecLLM kernel as JupyterLab / nbclient / papermill rely on it (issue 15), over ZMQ:
 *   - kernel_info is answered fast (the slow start runs after it; tslab took ~13 s before its first answer);
 *   - "Run All": requests run one at a time, each between its own busy and idle, never idle while queued cells
 *     still run; execute_input carries increasing execution counts, the replies the same counts;
 *   - stop on error: requests queued behind a failed cell are answered "aborted";
 *   - Interrupt (SIGINT) of a busy loop and of a pending await: one-line error output, the kernel lives on;
 *   - a cell that imports then throws keeps its imports for the next cell;
 *   - Shift+Tab inside a call's parentheses (inspect) describes the function;
 *   - kernel_info is answered while the main thread is busy loading TypeScript (the protocol has its own thread);
 *   - outputs of a synchronous loop leave while it runs.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { buildShimPackage } from './kernel-helpers.js';
import { errorOf, resultText, runKernel, skipKernel as skip, type KernelRun } from './kernel-driver.js';

if (skip) console.log(`kernel-messaging: skipped: ${skip}`);

let run: KernelRun;
before(() => {
  if (skip) return;
  run = runKernel(buildShimPackage(), [
    { kernelInfoAfter: 4 }, // steps[0]
    /* 0 */ { batch: ['await new Promise((r) => setTimeout(r, 300));\n"first"', 'console.log("second")', '"third"'] },
    /* 1 */ { batch: ['throw new Error("stop here");', '"never runs"'] },
    /* 2 */ { code: 'while (true) {}', interruptAfter: 2 },
    /* 3 */ { code: 'await new Promise(() => {});', interruptAfter: 1 },
    /* 4 */ { code: '1 + 1' },
    /* 5 */ { code: 'import { badge, lineChart } from "codecllm";\nconst before = 1;\nthrow new Error("after the import");' },
    /* 6 */ { code: 'badge({ label: "kept" })["text/plain"] + before' },
    /* 7 */ { inspect: 'lineChart(' },
    /* 8 */ { inspect: 'const r = lineChart([{ a: 1 }], { x: "a", ' },
    /* 9 */ { inspect: 'badge', pos: 2 },
    /* 10 */ { code: 'import { progress } from "codecllm";\nconst q = progress("sync", 3, { intervalMs: 0 });\nfor (let i = 0; i < 3; i++) {\n  const t = Date.now();\n  while (Date.now() - t < 400) {}\n  q.tick();\n}\nq.done();' },
  ]);
});
const step = (i: number) => run.steps[i + 1]!; // steps[0] is the kernel_info during the start

test('kernel_info is answered within a few seconds of the start (the slow start runs after it)', { skip }, () => {
  // jupyter_client's start_new_kernel returns once kernel_info is answered; tslab 1.0.22 needed ~13 s here.
  assert.ok(run.startS < 6, `kernel_info after ${run.startS.toFixed(1)} s`);
});

test('kernel_info is answered at once while the library and TypeScript load (protocol on its own thread)', { skip }, () => {
  const s = run.steps[0]!;
  assert.equal(s.replies[0]!.content.status, 'ok');
  console.log(`kernel-messaging: kernel_info during the start: ${s.seconds!.toFixed(3)} s`);
  assert.ok(s.seconds! < 1, `kernel_info took ${s.seconds!.toFixed(2)} s during the start`);
});

test('Run All: one request at a time, busy/idle paired per request, increasing execution counts', { skip }, () => {
  const s = step(0);
  const statuses = s.iopub.filter((m) => m.type === 'status' && s.ids.includes(m.parent)).map((m) => `${m.content.execution_state}:${s.ids.indexOf(m.parent)}`);
  assert.deepEqual(statuses, ['busy:0', 'idle:0', 'busy:1', 'idle:1', 'busy:2', 'idle:2']);
  const inputs = s.iopub.filter((m) => m.type === 'execute_input');
  assert.deepEqual(inputs.map((m) => s.ids.indexOf(m.parent)), [0, 1, 2]);
  const counts = inputs.map((m) => m.content.execution_count as number);
  assert.ok(counts[0]! >= 1 && counts[1] === counts[0]! + 1 && counts[2] === counts[0]! + 2, JSON.stringify(counts));
  assert.deepEqual(s.replies.map((r) => r.content.execution_count), counts);
  assert.deepEqual(s.replies.map((r) => r.content.status), ['ok', 'ok', 'ok']);
  assert.equal(resultText(s, 0), "'first'");
  assert.equal(resultText(s, 2), "'third'");
  // every output of a request comes between its busy and its idle
  for (let i = 0; i < 3; i++) {
    const idx = s.iopub.map((m, j) => (m.parent === s.ids[i] ? j : -1)).filter((j) => j >= 0);
    assert.equal(s.iopub[idx[0]!]!.content.execution_state, 'busy');
    assert.equal(s.iopub[idx.at(-1)!]!.content.execution_state, 'idle');
  }
});

test('stop on error: a request queued behind a failed cell is aborted, not run', { skip }, () => {
  const s = step(1);
  assert.deepEqual(s.replies.map((r) => r.content.status), ['error', 'aborted']);
  assert.equal(errorOf(s, 0)!.evalue, 'stop here');
  assert.equal(s.iopub.filter((m) => m.type === 'execute_input' && m.parent === s.ids[1]).length, 0);
  assert.equal(resultText(s, 1), undefined);
});

test('Interrupt stops a busy loop and a pending await with a one-line error; the kernel lives on', { skip }, () => {
  for (const i of [2, 3]) {
    const e = errorOf(step(i))!;
    assert.equal(e.ename, 'Interrupted', JSON.stringify(e));
    assert.equal(e.traceback!.length, 1);
    assert.ok(!e.traceback![0]!.includes('\n'));
  }
  assert.equal(resultText(step(4)), '2');
});

test('a cell that imports and then throws keeps its imports (and what it declared) for the next cell', { skip }, () => {
  assert.equal(errorOf(step(5))!.evalue, 'after the import');
  assert.equal(step(6).replies[0]!.content.status, 'ok', JSON.stringify(errorOf(step(6))));
  assert.equal(resultText(step(6)), "'kept1'");
});

test('inspect (Shift+Tab) inside a call\'s parentheses describes the callee; on a name as before', { skip }, () => {
  for (const i of [7, 8]) {
    const r = step(i).replies[0]!.content;
    assert.equal(r.found, true, `step ${i}: ${JSON.stringify(r)}`);
    assert.match(r.data!['text/plain']!, /lineChart\(data: DataInput, options: XYOptions\)/);
  }
  const r = step(9).replies[0]!.content;
  assert.equal(r.found, true);
  assert.match(r.data!['text/plain']!, /badge\(entry: BadgeInput\)/);
});

test('a synchronous loop\'s progress updates are published while it runs, not all at its end', { skip }, () => {
  const s = step(10);
  const ups = s.iopub.filter((m) => m.parent === s.ids[0] && (m.type === 'display_data' || m.type === 'update_display_data'));
  assert.ok(ups.length >= 4, JSON.stringify(ups.map((m) => m.type)));
  const times = ups.map((m) => m.recv * 1000);
  // the loop takes 1.2 s: the first update (0/3) must arrive about that long before the last (3/3)
  assert.ok(times.at(-1)! - times[0]! >= 800, `updates arrived within ${(times.at(-1)! - times[0]!).toFixed(0)} ms`);
});
