'use strict';
/**
 * Preload for the CodecLLM Jupyter kernel (tslab 1.0.22). Makes `import … from "codecllm"` in a cell resolve to
 * this package, for types and completion (tslab's TypeScript compiler) and at run time (Node's require):
 *
 * - Run time: tslab compiles cells to CommonJS, so `import … from "codecllm"` becomes require("codecllm"). The
 *   entry (<root>/<package.json main>, ESM) is imported once at kernel start and require("codecllm") returns that
 *   namespace, from any folder, without a node_modules link.
 * - Types: tslab's compiler uses TypeScript's Node10 resolution from the notebook's folder through `ts.sys`. We
 *   forward <cwd>/node_modules/codecllm/… to <root>/… in ts.sys (the same trick tslab uses for `tslab` itself),
 *   so the compiler finds <root>/package.json "types" (dist/src/index.d.ts).
 * - Display: publishes `{ jupyter: { lastWriteDisplayData } }` under Symbol.for('codecllm.kernel') so
 *   src/viz/display.ts can send multi-mime display_data through the running kernel (kernel.cjs sets the writer
 *   per cell).
 *
 * kernel.cjs calls setup() (run time, cheap) first and setupTypes() (loads TypeScript, ~1 s) just before it
 * creates the compiler; both are idempotent.
 */
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { pathToFileURL } = require('node:url');

const NAME = 'codecllm';

/** The package root the kernel serves: $CODECLLM_PACKAGE_ROOT or the folder above kernel-ext/. */
function packageRoot() {
  return path.resolve(process.env.CODECLLM_PACKAGE_ROOT || path.join(__dirname, '..'));
}

/** Folder of the tslab package this kernel runs (resolved from this file, not from the notebook). */
function tslabDir() {
  return path.dirname(require.resolve('tslab/package.json', { paths: [path.join(__dirname, '..')] }));
}

function readPkg(root) {
  return JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
}

let done = false;
/** The loaded library namespace, or the error that prevented loading it (shown in the cell that imports it). */
const state = { entry: '', lib: null, error: null };

function kernelError(message) {
  const e = new Error(message);
  e.name = 'CodecLLMError';
  e.code = 'E_KERNEL';
  return e;
}

/** Import the library's ESM entry (once). Never throws: a failure is reported when a cell imports `codecllm`. */
async function loadLibrary() {
  setupRuntime();
  if (state.lib || state.error) return;
  if (!fs.existsSync(state.entry)) {
    state.error = kernelError(`codecllm kernel: ${state.entry} not found: run 'npm run build' first`);
    return;
  }
  try {
    state.lib = await import(pathToFileURL(state.entry).href);
  } catch (e) {
    state.error = e;
  }
}

function setup() {
  if (done) return;
  done = true;
  setupRuntime();
  setupTypes();
}

let runtimeDone = false;
function setupRuntime() {
  if (runtimeDone) return;
  runtimeDone = true;
  const root = packageRoot();
  const pkg = readPkg(root);
  state.entry = path.join(root, pkg.main || 'index.js');

  // --- run time. The library is ESM and its graph has a top-level await (vega-canvas probes for `canvas`), so
  // require() cannot load it: loadLibrary() imports it once before the kernel starts and `require('codecllm')`
  // (what tslab compiles an import to) returns that namespace. `codecllm/x` maps to <root>/x.
  const origLoad = Module._load;
  Module._load = function (request, parent, isMain) {
    if (request === NAME) {
      if (state.lib) return state.lib;
      throw state.error || kernelError(`codecllm kernel: the library was not loaded (call loadLibrary() before starting the kernel)`);
    }
    return origLoad.apply(this, arguments);
  };
  const origResolve = Module._resolveFilename;
  Module._resolveFilename = function (request, parent, isMain, options) {
    if (request === NAME) return origResolve.call(this, state.entry, parent, isMain, options);
    if (request.startsWith(NAME + '/')) return origResolve.call(this, path.join(root, request.slice(NAME.length + 1)), parent, isMain, options);
    return origResolve.call(this, request, parent, isMain, options);
  };

  // --- display hook: src/viz/display.ts calls jupyter.lastWriteDisplayData(content, update); kernel.cjs sets it per
  // cell (tslab's own jupyter.js is not loaded here: it pulls in TypeScript, which would slow the kernel start).
  globalThis[Symbol.for('codecllm.kernel')] = { jupyter: { lastWriteDisplayData: null }, root };
}

let typesDone = false;
function setupTypes() {
  if (typesDone) return;
  typesDone = true;
  const root = packageRoot();
  // --- types: forward <cwd>/node_modules/codecllm/** to <root>/** in tslab's TypeScript sys.
  const tsDir = path.dirname(require.resolve('@tslab/typescript-for-tslab/package.json', { paths: [tslabDir()] }));
  const ts = require(tsDir);
  const sys = ts.sys;
  const cwd = process.cwd();
  const virt = path.join(cwd, 'node_modules', NAME);
  const fwd = (p) => {
    if (typeof p !== 'string') return p;
    const rel = path.relative(virt, p);
    if (rel.startsWith('..') || path.isAbsolute(rel)) return p;
    return rel === '' ? root : path.join(root, rel);
  };
  for (const fn of ['fileExists', 'readFile', 'directoryExists', 'getDirectories', 'readDirectory', 'realpath', 'getModifiedTime', 'getFileSize']) {
    const orig = sys[fn];
    if (typeof orig !== 'function') continue;
    sys[fn] = function (p, ...rest) {
      return orig.call(this, fwd(p), ...rest);
    };
  }
}

module.exports = { setup, setupRuntime, setupTypes, loadLibrary, packageRoot, tslabDir, state };

