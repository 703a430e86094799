#!/usr/bin/env node
'use strict';
/**
 * The CodecLLM Jupyter kernel. kernel.json runs: node <root>/kernel-ext/kernel.cjs --config-path {connection_file}
 *
 * Two threads. The protocol thread (protocol.cjs, a worker) owns the ZMQ sockets and the Jupyter messaging
 * (server.cjs): it answers kernel_info within a fraction of a second and publishes status and outputs at once,
 * whatever this thread is doing. This (main) thread compiles and runs cells: it loads the library (~3 s) and
 * TypeScript + tslab's compiler (~6 s) and compiles `import … from "codecllm"` once (~4 s) as soon as a frontend
 * asks for anything (or 1 s after the start); cells wait for that, the kernel saying Busy meanwhile. tslab 1.0.22 did
 * all of it before binding its sockets (~13 s of "Connecting"), and its single thread went silent during it.
 * Cells' stdout/stderr and displays are posted to the protocol thread, tagged with the execute request they belong
 * to (output written later by a cell's background work goes to the last cell, as in ipykernel).
 */
const path = require('node:path');
const util = require('node:util');
const { Worker } = require('node:worker_threads');
const preload = require('./preload.cjs');

const i = process.argv.indexOf('--config-path');
if (i < 0 || !process.argv[i + 1]) {
  process.stderr.write('usage: kernel.cjs --config-path <connection_file>\n');
  process.exit(2);
}
const t0 = performance.now();
const timing = [];
const mark = (what) => timing.push(`${what} ${((performance.now() - t0) / 1000).toFixed(2)} s`);

preload.setupRuntime();
const tslab = preload.tslabDir();
// The kernel's own diagnostics go to the real stderr (the Jupyter server's log); cells' output goes to the cell.
const realStderr = process.stderr.write.bind(process.stderr);
const log = (text) => realStderr(text);

const worker = new Worker(path.join(__dirname, 'protocol.cjs'), {
  workerData: { connectionFile: process.argv[i + 1], tslab, version: require(path.join(preload.packageRoot(), 'package.json')).version },
  stdout: false,
  stderr: false,
});
worker.on('error', (e) => (log(`codecllm kernel: protocol thread failed: ${e && e.stack}\n`), process.exit(1)));
worker.on('exit', (code) => process.exit(code));

/** The start: library, TypeScript, the compiler, a first compile. Resolves with the session. */
let session = null;
let starting = null;
function start() {
  starting ??= (async () => {
    const breathe = () => new Promise((r) => setTimeout(r, 20));
    await breathe(); // let the protocol thread's Busy leave first
    await preload.loadLibrary();
    mark('library');
    preload.setupTypes();
    mark('typescript');
    const { createSession } = require('./session.cjs');
    session = createSession(tslab);
    mark('compiler');
    if (preload.state.lib) session.warm('import * as codecllm from "codecllm";\ncodecllm;');
    mark('first compile');
    if (process.env.CODECLLM_KERNEL_TIMING === '1') log(`codecllm kernel start: ${timing.join(', ')}\n`);
    return session;
  })();
  starting.then(
    () => worker.postMessage({ type: 'ready' }),
    (e) => (log(`codecllm kernel: start failed: ${e && e.stack}\n`), worker.postMessage({ type: 'failed', error: String(e && e.message) })),
  );
  return starting;
}

/** True for a display-ready mime bundle ({ 'text/plain': string, … }). */
function isBundle(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof v['text/plain'] === 'string' && Object.keys(v).every((k) => k.includes('/'));
}

const hook = globalThis[Symbol.for('codecllm.kernel')];
const text = (chunk) => (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));

/** Route this thread's stdout/stderr and displays to cell `cell` (an execute request's msg_id). */
function outputsTo(cell) {
  const out = (kind, content) => worker.postMessage({ type: 'out', cell, kind, content });
  const stream = (name) => (chunk, enc, cb) => (out('stream', { name, text: text(chunk) }), typeof (cb ?? enc) === 'function' && (cb ?? enc)(), true);
  process.stdout.write = stream('stdout');
  process.stderr.write = stream('stderr');
  const display = (content, update) => out(update ? 'update_display_data' : 'display_data', JSON.parse(JSON.stringify(content)));
  hook.jupyter.lastWriteDisplayData = display;
  try {
    // tslab's public display API (import "tslab") writes through its own jupyter module
    require(path.join(tslab, 'dist', 'jupyter.js')).lastWriteDisplayData = display;
  } catch {
    /* not loadable: only tslab's own display helpers are affected */
  }
  globalThis[Symbol.for('codecllm.progress')]?.reset();
}

const methods = {
  async run(code, cell) {
    const s = await start();
    outputsTo(cell);
    const r = await s.run(code);
    if (!r.ok) return { ok: false, error: r.error };
    const result = !r.hasValue ? null : isBundle(r.value) ? JSON.parse(JSON.stringify(r.value)) : { 'text/plain': util.inspect(r.value, { depth: 3, breakLength: 100 }) };
    return { ok: true, result, warnings: r.warnings };
  },
  complete: async (code, pos) => (await start()).complete(code, pos),
  inspect: async (code, pos) => (await start()).inspect(code, pos),
  isComplete: async (code) => (await start()).isComplete(code),
};

worker.on('message', async (m) => {
  if (m.type === 'answered') start();
  else if (m.type === 'shutdown') {
    session?.close();
    process.exit(0);
  } else if (m.type === 'call') {
    try {
      worker.postMessage({ type: 'reply', id: m.id, value: await methods[m.method](...m.args) });
    } catch (e) {
      worker.postMessage({ type: 'reply', id: m.id, error: String((e && e.stack) || e) });
    }
  }
});

process.on('SIGINT', () => session?.interrupt());
// Errors of a cell's background work (a promise nobody awaited) are shown in the last cell; the kernel lives on.
process.on('uncaughtException', (e) => process.stderr.write(`Uncaught ${e && e.stack ? e.stack : e}\n`));
process.on('unhandledRejection', (e) => process.stderr.write(`Unhandled rejection: ${e && e.stack ? e.stack : e}\n`));
