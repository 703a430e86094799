/**
 * The one progress API (src/viz/progress.ts): where it shows (kernel display / terminal bar / nothing), nesting
 * (one bar per cell, inner tasks silent), units, CODECLLM_PROGRESS=0, and the library calls that report by
 * themselves (LlamaModel.load, perplexity, baseline/compare, sweeps) without any wiring by the caller.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, test } from 'node:test';
import { KERNEL_HOOK, progress, progressBundle } from '../src/viz/index.js';
import type { DisplayContent } from '../src/viz/index.js';
import { byteLevelVocabMetadata, syntheticWeights, tinyConfig, writeGGUFModel } from '../src/model/synthetic.js';
import { LlamaModel } from '../src/model/llama.js';
import { perplexity } from '../src/eval/perplexity.js';
import { progressiveSweep } from '../src/lab/sweep.js';

type Sent = { content: DisplayContent; update: boolean };
/** A stand-in for tslab's jupyter module, as kernel-ext/preload.cjs publishes it. */
function fakeKernel(): Sent[] {
  const sent: Sent[] = [];
  (globalThis as Record<symbol, unknown>)[KERNEL_HOOK] = {
    jupyter: { lastWriteDisplayData: (content: DisplayContent, update: boolean) => sent.push({ content: JSON.parse(JSON.stringify(content)), update }) },
  };
  return sent;
}
const text = (s: Sent) => s.content.data['text/plain'] as string;
/** Text of the last update of each display, in order of first appearance. */
function finalTexts(sent: Sent[]): string[] {
  const last = new Map<string, string>();
  for (const s of sent) last.set(s.content.transient.display_id!, text(s));
  return [...last.values()];
}

afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[KERNEL_HOOK];
  progress.reset();
  delete process.env.CODECLLM_PROGRESS;
});

function sink(tty: boolean): { stream: NodeJS.WriteStream; out: () => string } {
  let written = '';
  const w = new Writable({ write: (c, _e, cb) => ((written += String(c)), cb()) }) as unknown as NodeJS.WriteStream;
  if (tty) Object.assign(w, { isTTY: true, columns: 100, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  return { stream: w, out: () => written };
}

test('in a kernel: coarse updates of one display, first and last always shown', () => {
  const k = fakeKernel();
  const p = progress('layers', 1000, { intervalMs: 60_000 });
  for (let i = 0; i < 1000; i++) p.tick();
  p.done();
  // first (0/1000), the update that reaches the total (forced), done (forced): nothing in between at this interval
  assert.equal(k.length, 3);
  assert.equal(new Set(k.map((s) => s.content.transient.display_id)).size, 1);
  assert.deepEqual(k.map((s) => s.update), [false, true, true]);
  assert.match(text(k[0]!), /^layers: 0\/1000 \(0%\) /);
  assert.match(text(k[2]!), /^layers: 1000\/1000 \(100%\) /);
  assert.ok((k[2]!.content.data['text/html'] as string).includes('<progress value="1000" max="1000"'));
});

test('progress.start(label, total, unit): units in the text, bytes as KiB/MiB', () => {
  const k = fakeKernel();
  const p = progress.start('read', 3 * 1024 * 1024, 'B');
  p.update(1024 * 1024);
  p.done();
  assert.match(text(k.at(-1)!), /^read: 1 MiB\/3 MiB \(33%\) /);
  const q = progress.start('load', 4, 'tensors');
  q.tick(4);
  q.done();
  assert.match(text(k.at(-1)!), /^load: 4\/4 tensors \(100%\) /);
  assert.equal(progressBundle('x', 1, 4, 1000)['text/plain'], 'x: 1/4 (25%) 1 s eta 3 s');
});

test('nested tasks count but show nothing; reset() forgets an unfinished task', () => {
  const k = fakeKernel();
  const outer = progress.start('sweep', 2, 'runs');
  const inner = progress.start('perplexity', 10, 'tokens');
  inner.tick(10);
  inner.done();
  outer.tick(2);
  outer.done();
  assert.deepEqual(finalTexts(k).map((t) => t.split(':')[0]), ['sweep']);
  // a task left open (a cell that threw) would silence every later task until reset
  progress.start('left open', 5);
  const silenced = progress.start('next', 1);
  silenced.done();
  progress.reset();
  const shown = progress.start('after reset', 1);
  shown.tick();
  shown.done();
  assert.deepEqual(finalTexts(k).map((t) => t.split(':')[0]), ['sweep', 'left open', 'after reset']);
});

test('outside a kernel: silent when the stream is not a TTY, a bar when it is; CODECLLM_PROGRESS=0 silences both', () => {
  const pipe = sink(false);
  const p = progress('x', 3, { stream: pipe.stream });
  p.tick();
  p.done();
  assert.equal(pipe.out(), '');
  const tty = sink(true);
  const q = progress('quant', 2, { stream: tty.stream, unit: 'layers' });
  q.tick();
  q.tick();
  q.done();
  assert.ok(tty.out().includes('quant ['), tty.out());
  assert.ok(tty.out().includes('2/2 layers 100%'), tty.out());
  process.env.CODECLLM_PROGRESS = '0';
  const off = sink(true);
  const r = progress('off', 2, { stream: off.stream });
  r.tick(2);
  r.done();
  assert.equal(off.out(), '');
  const k = fakeKernel();
  progress.start('off in kernel', 1).done();
  assert.equal(k.length, 0);
});

test('load, perplexity and a sweep report progress by themselves: one bar each, reaching 100%', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'codecllm-progress-'));
  const file = path.join(dir, 'tiny.gguf');
  const cfg = tinyConfig();
  writeGGUFModel(file, cfg, syntheticWeights(cfg, 5), 'f32', byteLevelVocabMetadata());
  const k = fakeKernel();
  const m = await LlamaModel.load(file, { backend: 'cpu' });
  assert.match(finalTexts(k).at(-1)!, /^load tiny\.gguf: (\d+)\/\1 tensors \(100%\)/);
  k.length = 0;
  const tokens = Array.from({ length: 24 }, (_, i) => (i * 7) % cfg.vocabSize);
  await perplexity(m, tokens, { window: 16 });
  assert.equal(finalTexts(k).length, 1);
  assert.match(finalTexts(k)[0]!, /^perplexity: 23\/23 tokens \(100%\)/);
  k.length = 0;
  progressiveSweep(m, { layers: [1, 'all'], quant: 'int8', tokens: tokens.slice(0, 8), greedyTokens: 2 });
  const texts = finalTexts(k);
  assert.equal(texts.length, 1, `nested baseline/compare bars must stay silent: ${JSON.stringify(texts)}`);
  assert.match(texts[0]!, /^progressive sweep: 3\/3 runs \(100%\)/);
});
