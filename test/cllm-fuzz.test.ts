/**
 * Short seeded fuzz run of the .cllm container (scripts/fuzz-cllm.ts runs >= 1M inputs for the benchmark): corrupted
 * inputs are always rejected with a one-line CodecLLMError naming the file, hostile inputs (consistent checksums)
 * either decode cleanly or fail the same way; no other exception, no hang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzCllm, reportCllmFuzz } from '../scripts/fuzz-cllm.js';

const N = Number(process.env.CODECLLM_FUZZ_N ?? 4000);

test(`fuzz .cllm: ${N} mutated inputs, corruption always detected, only CodecLLMErrors`, () => {
  const s = fuzzCllm(N, 20240607);
  const rep = reportCllmFuzz(s, 60);
  assert.equal(s.failures.length, 0, rep);
  assert.equal(s.inputs, N);
  const classes = [...s.classes.keys()];
  // the run reaches the deep checks, not only the checksums
  for (const want of [/^corrupt E_CHECKSUM .*chunk # of #: checksum mismatch/, /^corrupt E_CHECKSUM .*manifest checksum/, /^corrupt E_CHECKSUM .*header checksum/, /^hostile E_CONTAINER .*lies outside the data region/, /^hostile E_CONTAINER .*chunk table must have/, /^hostile ok$/])
    assert.ok(classes.some((c) => want.test(c)), `no input reached ${want}\n${rep}`);
  assert.ok(s.maxMs < 2000, `slowest input took ${s.maxMs} ms`);
});
