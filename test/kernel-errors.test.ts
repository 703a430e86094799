/**
 * Unit tests of the kernel's pure pieces (kernel-ext/errors.cjs, session.cjs, wire.cjs): mapping a compiled line
 * back to the cell line, the error output shapes, the callee of an open call (for inspect), and the wire format's
 * signature check.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);
const { sourceLineOf, errorContent, diagnosticsContent } = require('../kernel-ext/errors.cjs');
const { calleeAt } = require('../kernel-ext/session.cjs');
const wire = require('../kernel-ext/wire.cjs');

test('sourceLineOf: the compiled line is found in the TypeScript cell despite annotations and indentation', () => {
  const src = 'import { x } from "y";\nconst a: number = 1;\nfunction f(n: number): void {\n  throw new Error(`bad ${n}`);\n}\nf(a);';
  assert.equal(sourceLineOf('    throw new Error(`bad ${n}`);', src), 4);
  assert.equal(sourceLineOf('f(a);', src), 6);
  assert.equal(sourceLineOf('const a = 1;', src), 2);
  assert.equal(sourceLineOf('exports.zzz = void 0;', src), 0);
});

test('errorContent: CodecLLMError as "message [E_CODE]", plain errors with first line, interrupts as one line, non-errors', () => {
  const e = Object.assign(new Error('chart: no field'), { name: 'CodecLLMError', code: 'E_ARG' });
  e.stack = 'CodecLLMError: chart: no field\n    at err (/x/messages.js:1:1)\n    at evalmachine.<anonymous>:2:5';
  assert.deepEqual(errorContent(e, { source: 'const q = 1;\nlineChart(rows, o);', compiled: 'Object.defineProperty(exports);\n    lineChart(rows, o);' }), {
    ename: 'CodecLLMError',
    evalue: 'chart: no field [E_ARG]',
    traceback: ['CodecLLMError: chart: no field [E_ARG]', '    at cell line 2: lineChart(rows, o);'],
  });
  const t = new TypeError('a\nb');
  t.stack = 'TypeError: a\nb\n    at g (/lib/g.js:3:4)\n    at node:internal/x:1:1\n    at evalmachine.<anonymous>:1:1';
  assert.deepEqual(errorContent(t, { source: 'g();', compiled: 'g();' }), {
    ename: 'TypeError',
    evalue: 'a',
    traceback: ['TypeError: a', '  b', '    at g (/lib/g.js:3:4)', '    at cell line 1: g();'],
  });
  const i = errorContent(new Error('Script execution was interrupted by SIGINT'));
  assert.equal(i.ename, 'Interrupted');
  assert.equal(i.traceback.length, 1);
  assert.deepEqual(errorContent(42), { ename: 'Thrown', evalue: '42', traceback: ['Thrown: 42'] });
  assert.deepEqual(diagnosticsContent(['2:1 - Cannot find name \'y\'.'], 'const x = 1;\ny;').traceback, ['TypeScript: 1 error', "2:1 - Cannot find name 'y'.", '    y;']);
});

test('calleeAt: the innermost open call, skipping strings and comments', () => {
  assert.equal(calleeAt('perplexity(', 11), 0);
  assert.equal(calleeAt('m.perplexity(model, ', 20), 2);
  assert.equal(calleeAt('f(a, g(b), "(", ', 16), 0);
  assert.equal(calleeAt('f(a) /* ( */ + ', 15), -1);
  assert.equal(calleeAt('x = (1 + ', 9), -1);
  assert.equal(calleeAt('outer(inner(1, ', 15), 6);
});

test('wire: signed round trip; a wrong key is refused; no key means unsigned', () => {
  const sign = wire.signer('k', 'hmac-sha256');
  const frames = wire.encode(sign, 'status', null, { execution_state: 'idle' }, [Buffer.from('id')]);
  const m = wire.parse(frames.map((f: string | Buffer) => Buffer.from(f)), sign);
  assert.equal(m.header.msg_type, 'status');
  assert.deepEqual(m.content, { execution_state: 'idle' });
  assert.deepEqual(m.identities.map(String), ['id']);
  assert.throws(() => wire.parse(frames.map((f: string | Buffer) => Buffer.from(f)), wire.signer('other')), /bad signature/);
  const unsigned = wire.encode(wire.signer(''), 'status', null, {});
  assert.equal(String(unsigned[1]), '');
});
