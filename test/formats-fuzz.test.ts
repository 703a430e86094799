/**
 * Short seeded fuzz run of both parsers (scripts/fuzz-parsers.ts runs >= 1M inputs for the benchmark):
 * every mutated input must either parse (and read in full) or fail with a one-line CodecLLMError, quickly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzParser, report } from '../scripts/fuzz-parsers.js';

const N = Number(process.env.CODECLLM_FUZZ_N ?? 20000);

for (const parser of ['safetensors', 'gguf'] as const) {
  test(`fuzz ${parser}: ${N} mutated inputs, only CodecLLMErrors, no hang`, () => {
    const s = fuzzParser(parser, N, 20240607);
    console.log(report(s, 6));
    assert.equal(s.inputs, N);
    assert.deepEqual(s.crashes.map((c) => c.error.split('\n')[0]), [], 'crashes');
    assert.ok(s.maxMs < 2000, `slowest input took ${s.maxMs.toFixed(1)} ms`);
    // the mutations reach deep: many distinct error classes, and some inputs still parse
    assert.ok(s.classes.size >= 25, `only ${s.classes.size} outcome classes`);
    assert.ok((s.classes.get('ok') ?? 0) > 0, 'no input parsed');
  });
}
