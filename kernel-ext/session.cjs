'use strict';
/**
 * One TypeScript session on top of tslab 1.0.22's compiler (converter.js) and runner (executor.js), with what we
 * change around them:
 *
 * - results, not prints: tslab's executor reports through a `console` we pass in (the last expression's value via
 *   log, a runtime error via error(e), type errors via error("%s%d:%d - %s", …)); we collect them so the kernel
 *   sends `execute_result` and `error` messages instead of stdout/stderr text;
 * - a failed cell keeps its declarations: tslab forgets the declarations (imports included) of a cell that threw,
 *   so the next cell failed with "Cannot find name 'LlamaModel'". We hold the declaration state ourselves (the
 *   converter is called with our `decl`, not tslab's) and keep a cell's declarations when it threw at run time
 *   (a name whose statement did not run is `undefined`, as in a Python cell that stopped half-way); a cell with
 *   type errors did not run and changes nothing;
 * - inspect inside a call: `perplexity(|` asks for the callee's quick info (tslab answers only on an identifier).
 */
const path = require('node:path');
const util = require('node:util');
const { errorContent, diagnosticsContent } = require('./errors.cjs');

/**
 * Position of the callee name of the innermost unclosed call at `pos` (`f(a, g(|` → start of `g`), or -1.
 * Strings, template literals and comments are skipped.
 * @example calleeAt('perplexity(m, ', 14) // 0
 */
function calleeAt(code, pos) {
  const open = [];
  for (let i = 0; i < pos && i < code.length; i++) {
    const c = code[i];
    if (c === '"' || c === "'" || c === '`') {
      for (i++; i < pos && code[i] !== c; i++) if (code[i] === '\\') i++;
    } else if (c === '/' && code[i + 1] === '/') {
      while (i < pos && code[i] !== '\n') i++;
    } else if (c === '/' && code[i + 1] === '*') {
      const end = code.indexOf('*/', i + 2);
      i = end < 0 ? pos : end + 1;
    } else if (c === '(') open.push(i);
    else if (c === ')') open.pop();
  }
  if (open.length === 0) return -1;
  let j = open[open.length - 1] - 1;
  while (j >= 0 && /\s/.test(code[j])) j--;
  let k = j;
  while (k >= 0 && /[\w$]/.test(code[k])) k--;
  return k < j ? k + 1 : -1;
}

/**
 * Create the session (slow: builds TypeScript's language service, ~5 s). `tslab` is tslab's package folder.
 * @example const s = createSession(tslabDir()); const r = await s.run('1 + 1'); // { ok: true, hasValue: true, value: 2 }
 */
function createSession(tslab) {
  const conv = require(path.join(tslab, 'dist', 'converter.js'));
  const { createExecutor } = require(path.join(tslab, 'dist', 'executor.js'));
  const { printQuickInfo } = require(path.join(tslab, 'dist', 'inspect.js'));

  let decl = '';
  let last = null;
  const wrap = (c) => ({
    convert: (_prev, src) => (last = c.convert(decl, src)),
    inspect: (_prev, src, pos) => c.inspect(decl, src, pos),
    complete: (_prev, src, pos) => c.complete(decl, src, pos),
    addModule: (...a) => c.addModule(...a),
    close: () => c.close(),
  });
  const node = wrap(conv.createConverter({ isJS: false, isBrowser: false }));
  let browser = null;
  const convs = {
    node,
    get browser() {
      return (browser ??= wrap(conv.createConverter({ isJS: false, isBrowser: true })));
    },
    close() {
      node.close();
      browser?.close();
    },
  };

  let got = null;
  const sink = {
    log: (v) => ((got.value = v), (got.hasValue = true)),
    error: (...args) => {
      if (args[0] === '%s%d:%d - %s') got.diagnostics.push(util.format(...args));
      else got.errors.push(args.length === 1 ? args[0] : new Error(util.format(...args)));
    },
  };
  const ex = createExecutor(process.cwd(), convs, sink);

  return {
    /**
     * Run a cell. → { ok: true, hasValue, value, warnings: string[] } | { ok: false, error: { ename, evalue, traceback } }
     */
    async run(src) {
      got = { hasValue: false, value: undefined, errors: [], diagnostics: [] };
      last = null;
      const ok = await ex.execute(src);
      const r = got;
      if (ok) {
        if (last && last.declOutput !== undefined) decl = last.declOutput || '';
        return { ok: true, hasValue: r.hasValue, value: r.value, warnings: r.diagnostics };
      }
      if (r.errors.length === 0) return { ok: false, error: diagnosticsContent(r.diagnostics, src) };
      if (last && last.declOutput !== undefined && last.diagnostics.length === 0) decl = last.declOutput || '';
      return { ok: false, error: errorContent(r.errors[0], { source: src, compiled: last?.output ?? '' }) };
    },
    /** Compile `src` once without running it or keeping anything (warms the compiler's caches). */
    warm(src) {
      node.convert(null, src);
    },
    /** Quick info at `pos` (or of the call around it) as text, or null. */
    inspect(code, pos) {
      let info = ex.inspect(code, pos);
      if (!info) {
        const p = calleeAt(code, pos);
        if (p >= 0) info = ex.inspect(code, p);
      }
      return info ? printQuickInfo(info) : null;
    },
    /** → { start, end, candidates } */
    complete: (code, pos) => ex.complete(code, pos),
    /** → { completed, indent } */
    isComplete: (code) => conv.isCompleteCode(code),
    interrupt: () => ex.interrupt(),
    close: () => ex.close(),
  };
}

module.exports = { createSession, calleeAt };
