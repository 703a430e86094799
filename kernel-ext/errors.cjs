'use strict';
/**
 * A failed cell as a Jupyter `error` output: { ename, evalue (one line), traceback (a few short lines) }.
 *
 *   CodecLLMError   evalue "<message> [E_CODE]" (as the CLI prints it), traceback: that line + the cell line
 *   other Error     evalue its first message line, traceback: that line, up to 2 library frames, the cell line
 *   interrupt       ename "Interrupted", one line
 *   type errors     ename "TypeScript", evalue "line:col - message" of the first one, every diagnostic listed
 *
 * The cell line comes from the stack: tslab runs a cell's compiled JS with vm (frames "evalmachine.<anonymous>:L:C");
 * compiled line L is matched back to the cell's TypeScript line by its tokens (type annotations and import rewrites
 * change lines, identifiers, strings and numbers do not).
 */
const util = require('node:util');

const TOKEN = /[A-Za-z_$][\w$]*|\d+(?:\.\d+)?|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g;
const NOISE = new Set(['exports', 'const', 'let', 'var', 'await', 'return', 'function', 'void', 'yield', 'new', 'require', 'default']);

function tokens(line) {
  return (line.match(TOKEN) || []).filter((t) => !NOISE.has(t));
}

/**
 * The cell line (1-based) whose tokens best match compiled line `outLine`, or 0 when nothing matches.
 * @example sourceLineOf('    throw new Error("a");', 'f();\nthrow new Error("a") as never;') // 2
 */
function sourceLineOf(outLine, source) {
  const want = tokens(outLine);
  if (want.length === 0) return 0;
  let best = 0;
  let bestScore = 0;
  source.split('\n').forEach((line, i) => {
    const have = tokens(line);
    const pool = new Map();
    for (const t of have) pool.set(t, (pool.get(t) || 0) + 1);
    let hits = 0;
    for (const t of want) {
      const n = pool.get(t) || 0;
      if (n > 0) (hits++, pool.set(t, n - 1));
    }
    // share of the compiled line's tokens found, ties broken by fewer extra tokens on the source line
    const score = hits / want.length - 1e-3 * Math.max(0, have.length - hits);
    if (hits > 0 && score > bestScore) (best = i + 1), (bestScore = score);
  });
  return best;
}

/** `{ line, text }` of the innermost frame in the cell, or null. `compiled` is the JS tslab ran (prefix on line 1). */
function cellFrame(stack, compiled, source) {
  const m = /evalmachine\.<anonymous>:(\d+):\d+/.exec(String(stack || ''));
  if (!m || !compiled) return null;
  const outLine = compiled.split('\n')[Number(m[1]) - 1];
  if (outLine === undefined) return null;
  const line = sourceLineOf(outLine, source);
  return line ? { line, text: source.split('\n')[line - 1].trim() } : null;
}

/** Up to `n` stack frames outside the cell, node internals and the kernel ("at f (file:line:col)"). */
function libraryFrames(stack, n) {
  const out = [];
  for (const l of String(stack || '').split('\n').slice(1)) {
    const s = l.trim();
    if (!s.startsWith('at ') || /evalmachine|node:internal|node:vm|[\\/]tslab[\\/]|[\\/]kernel-ext[\\/]/.test(s)) continue;
    out.push('    ' + s);
    if (out.length >= n) break;
  }
  return out;
}

const INTERRUPT_SYNC = 'Script execution was interrupted by SIGINT';
const INTERRUPT_ASYNC = 'Interrupted asynchronously';

/**
 * Error output content for a value a cell threw.
 * @param e what was thrown
 * @param cell { source: the cell's TypeScript, compiled: the JS that ran (may be '') }
 * @example errorContent(new Error('boom'), { source: 'throw new Error("boom")', compiled: '' }).evalue // 'boom'
 */
function errorContent(e, cell = { source: '', compiled: '' }) {
  if (e instanceof Error && (e.message === INTERRUPT_ASYNC || e.message.startsWith(INTERRUPT_SYNC) || e.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED')) {
    const evalue =
      e.message === INTERRUPT_ASYNC ? 'the cell stopped waiting (work it had started may still finish in the background)' : 'the cell was stopped';
    return { ename: 'Interrupted', evalue, traceback: [`Interrupted: ${evalue}`] };
  }
  if (!(e instanceof Error)) {
    const evalue = util.inspect(e, { depth: 1, breakLength: Infinity }).split('\n')[0];
    return { ename: 'Thrown', evalue, traceback: [`Thrown: ${evalue}`] };
  }
  const codecllm = e.name === 'CodecLLMError' && typeof e.code === 'string';
  const [first, ...more] = String(e.message).split('\n');
  const ename = e.name || 'Error';
  const evalue = codecllm ? `${first} [${e.code}]` : first;
  const frame = cellFrame(e.stack, cell.compiled, cell.source);
  const traceback = [
    `${ename}: ${evalue}`,
    ...more.slice(0, 5).map((l) => '  ' + l),
    ...(codecllm ? [] : libraryFrames(e.stack, 2)),
    ...(frame ? [`    at cell line ${frame.line}: ${frame.text}`] : []),
  ];
  return { ename, evalue, traceback };
}

/**
 * Error output content for TypeScript diagnostics ("line:col - message" strings).
 * @example diagnosticsContent(["1:7 - Type 'string' is not assignable to type 'number'."], 'const n: number = "s";').ename // 'TypeScript'
 */
function diagnosticsContent(lines, source) {
  const src = source.split('\n');
  const traceback = [];
  for (const l of lines) {
    traceback.push(l);
    const m = /^(\d+):\d+ - /.exec(l);
    if (m && src[Number(m[1]) - 1] !== undefined) traceback.push('    ' + src[Number(m[1]) - 1].trim());
  }
  return { ename: 'TypeScript', evalue: lines[0] || 'compile error', traceback: [`TypeScript: ${lines.length} error${lines.length > 1 ? 's' : ''}`, ...traceback] };
}

module.exports = { errorContent, diagnosticsContent, sourceLineOf, cellFrame };
