import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { chart, display, displayHandle, inKernel, KERNEL_HOOK, table, VEGALITE_MIME } from '../src/viz/index.js';
import type { DisplayContent } from '../src/viz/index.js';

/** A stand-in for tslab's jupyter module, as kernel-ext/preload.cjs publishes it. */
function fakeKernel(): { sent: { content: DisplayContent; update: boolean }[] } {
  const sent: { content: DisplayContent; update: boolean }[] = [];
  (globalThis as Record<symbol, unknown>)[KERNEL_HOOK] = {
    jupyter: { lastWriteDisplayData: (content: DisplayContent, update: boolean) => sent.push({ content: JSON.parse(JSON.stringify(content)), update }) },
  };
  return { sent };
}

afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[KERNEL_HOOK];
});

function captureStdout(fn: () => void | Promise<void>): Promise<string> {
  const orig = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  return Promise.resolve()
    .then(fn)
    .finally(() => {
      process.stdout.write = orig;
    })
    .then(() => out);
}

test('outside a kernel: display prints text/plain', async () => {
  assert.equal(inKernel(), false);
  const out = await captureStdout(async () => {
    display(table([{ a: 1 }]));
    await display(chart({ data: { values: [{ a: 1 }] }, mark: 'point', encoding: { x: { field: 'a', type: 'quantitative' } } } as never));
  });
  assert.equal(out, 'a\n-\n1\n[chart (point, 1 rows)]\n');
});

test('in a kernel: one display_data carries the whole bundle, the spec as an object', async () => {
  const k = fakeKernel();
  assert.equal(inKernel(), true);
  const out = await captureStdout(() => display(chart({ data: { values: [{ a: 1 }] }, mark: 'point', encoding: { x: { field: 'a', type: 'quantitative' } } } as never)));
  assert.equal(out, '');
  assert.equal(k.sent.length, 1);
  const { content, update } = k.sent[0]!;
  assert.equal(update, false);
  assert.deepEqual(Object.keys(content.data).sort(), [VEGALITE_MIME, 'image/svg+xml', 'text/plain'].sort());
  assert.equal(typeof content.data[VEGALITE_MIME], 'object');
  assert.match(content.data['image/svg+xml'] as string, /^<svg/);
  assert.deepEqual(content.metadata, {});
  assert.deepEqual(content.transient, {});
});

test('displayHandle: first send is display_data, later ones update the same display_id', () => {
  const k = fakeKernel();
  const h = displayHandle();
  h.update({ 'text/plain': 'one' });
  h.update({ 'text/plain': 'two' });
  assert.deepEqual(k.sent.map((s) => [s.update, s.content.transient.display_id, s.content.data['text/plain']]), [
    [false, h.id, 'one'],
    [true, h.id, 'two'],
  ]);
  assert.match(h.id, /^[0-9a-f]{16}$/);
});
