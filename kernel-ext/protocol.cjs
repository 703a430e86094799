'use strict';
/**
 * The kernel's protocol thread (a worker_thread started by kernel.cjs): owns the ZMQ sockets and runs server.cjs,
 * so kernel_info, status, heartbeats and outputs never wait for the main thread — which compiles and runs cells
 * and is blocked for seconds at a time (TypeScript at start, a synchronous cell later).
 *
 * Messages main → here:  { type: 'ready' } | { type: 'failed', error } | { type: 'reply', id, value, error }
 *                         | { type: 'out', cell, kind, content }   (an output of the cell run by execute msg_id `cell`)
 * Messages here → main:  { type: 'answered' } (a frontend asked: start the slow part) | { type: 'shutdown' }
 *                         | { type: 'call', id, method: 'run' | 'complete' | 'inspect' | 'isComplete', args }
 */
const fs = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const { KernelServer } = require('./server.cjs');

const zmq = require(require.resolve('zeromq', { paths: [workerData.tslab] }));
const conn = JSON.parse(fs.readFileSync(workerData.connectionFile, 'utf8'));
const log = (text) => fs.writeSync(2, text); // straight to fd 2: the main thread's stderr belongs to the cells

let readyResolve;
let readyReject;
const ready = new Promise((res, rej) => ((readyResolve = res), (readyReject = rej)));
ready.catch(() => {});

let nextId = 0;
const pending = new Map();
const call = (method, ...args) =>
  new Promise((resolve, reject) => {
    const id = ++nextId;
    pending.set(id, { resolve, reject });
    parentPort.postMessage({ type: 'call', id, method, args });
  });
/** The session as the server sees it: every method an asynchronous call into the main thread. */
const session = {
  run: (code, cell) => call('run', code, cell),
  complete: (code, pos) => call('complete', code, pos),
  inspect: (code, pos) => call('inspect', code, pos),
  isComplete: (code) => call('isComplete', code),
};

let answeredOnce = false;
const server = new KernelServer(conn, zmq, {
  ready,
  log,
  version: workerData.version,
  languageVersion: '',
  answered() {
    if (answeredOnce) return;
    answeredOnce = true;
    // the start blocks the main thread for seconds: the kernel says Busy until it is over
    server.startingWork(ready);
    parentPort.postMessage({ type: 'answered' });
  },
  // Kernel → Interrupt over the control channel: the same SIGINT the signal mode sends (main thread handles it)
  interrupt: () => process.kill(process.pid, 'SIGINT'),
  shutdown: () => {
    server.close();
    parentPort.postMessage({ type: 'shutdown' });
  },
});

parentPort.on('message', (m) => {
  if (m.type === 'out') server.output(m.cell, m.kind, m.content);
  else if (m.type === 'reply') {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error) p?.reject(new Error(m.error));
    else p?.resolve(m.value);
  } else if (m.type === 'ready') readyResolve(session);
  else if (m.type === 'failed') readyReject(new Error(m.error));
});

server.start().then(
  () => setTimeout(() => server.hooks.answered(), 1000), // no frontend asked within 1 s: start anyway
  (e) => (log(`codecllm kernel: cannot bind the sockets: ${e && e.stack}\n`), process.exit(1)),
);
