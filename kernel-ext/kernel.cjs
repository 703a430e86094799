#!/usr/bin/env node
'use strict';
/**
 * The CodecLLM Jupyter kernel. kernel.json runs: node <root>/kernel-ext/kernel.cjs --config-path {connection_file}
 *
 * Start order (the point is a short "Connecting" in JupyterLab): runtime hooks (cheap) → bind the ZMQ sockets and
 * answer kernel_info (server.cjs) → then, once the first request was answered or after 1 s, the slow part in the
 * background: import the library (~3 s), TypeScript + tslab's compiler (~6 s), a first compile of
 * `import … from "codecllm"` (~4 s, so the first cell does not pay it). Requests that need it wait (status busy).
 * tslab 1.0.22 did all of this before binding its sockets, hence ~13 s of "Connecting".
 */
const fs = require('node:fs');
const path = require('node:path');
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
const zmq = require(require.resolve('zeromq', { paths: [tslab] }));
const { KernelServer } = require('./server.cjs');
const conn = JSON.parse(fs.readFileSync(process.argv[i + 1], 'utf8'));

// The kernel's own diagnostics go to the real stderr (the Jupyter server's log); cells' output goes to the cell.
const realStderr = process.stderr.write.bind(process.stderr);
const log = (text) => realStderr(text);

let firstAnswered;
const answered = new Promise((r) => (firstAnswered = r));
let session = null;
const ready = answered.then(async () => {
  // The start blocks the event loop for seconds: say Busy first (and let it and the kernel_info reply leave),
  // else JupyterLab shows Idle while the first cells wait.
  server.startingWork(ready);
  // Each step blocks the event loop (TypeScript is synchronous); between steps requests that came meanwhile
  // (a frontend's kernel_info) are answered.
  const breathe = () => new Promise((r) => setTimeout(r, 20));
  await breathe();
  await preload.loadLibrary();
  mark('library');
  await breathe();
  preload.setupTypes();
  mark('typescript');
  await breathe();
  const { createSession } = require('./session.cjs');
  session = createSession(tslab);
  mark('compiler');
  await breathe();
  if (preload.state.lib) session.warm('import * as codecllm from "codecllm";\ncodecllm;');
  mark('first compile');
  if (process.env.CODECLLM_KERNEL_TIMING === '1') log(`codecllm kernel start: ${timing.join(', ')}\n`);
  return session;
});
ready.catch((e) => log(`codecllm kernel: start failed: ${e && e.stack}\n`));

const hook = globalThis[Symbol.for('codecllm.kernel')];
const server = new KernelServer(conn, zmq, {
  ready,
  log,
  answered: () => firstAnswered(),
  version: require(path.join(preload.packageRoot(), 'package.json')).version,
  languageVersion: '',
  onCell({ stream, display }) {
    // Output written later by a cell's background work goes to the last cell, as in ipykernel.
    process.stdout.write = (chunk, enc, cb) => (stream('stdout', typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')), typeof cb === 'function' && cb(), true);
    process.stderr.write = (chunk, enc, cb) => (stream('stderr', typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')), typeof cb === 'function' && cb(), true);
    hook.jupyter.lastWriteDisplayData = display;
    try {
      // tslab's public display API (import "tslab") writes through its own jupyter module
      require(path.join(tslab, 'dist', 'jupyter.js')).lastWriteDisplayData = display;
    } catch {
      /* not loadable: only tslab's own display helpers are affected */
    }
    globalThis[Symbol.for('codecllm.progress')]?.reset();
  },
  interrupt: () => session?.interrupt(),
  shutdown: () => {
    server.close();
    session?.close();
    process.exit(0);
  },
});
process.on('SIGINT', () => session?.interrupt());
// Errors of a cell's background work (a promise nobody awaited) are shown in the last cell, the kernel lives on.
process.on('uncaughtException', (e) => process.stderr.write(`Uncaught ${e && e.stack ? e.stack : e}\n`));
process.on('unhandledRejection', (e) => process.stderr.write(`Unhandled rejection: ${e && e.stack ? e.stack : e}\n`));

server.start().then(() => {
  mark('sockets');
  setTimeout(firstAnswered, 1000);
});
