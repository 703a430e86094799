/**
 * Child process of test/engine-checkpoint-load.test.ts: measures the RSS of a streaming native-engine load in a
 * fresh process (the peak is reset through /proc/self/clear_refs just before the load, so VmHWM after it is the load's
 * own peak). Usage: node --expose-gc --import tsx test/checkpoint-load-child.ts <dir> load|interrupt [patch-quant]
 * Prints one JSON line.
 */
import fs from 'node:fs';
import { loadCpuEngine } from '../src/engine/cpu-checkpoint.js';
import { cpuEngineAddon } from '../src/engine/cpu-native.js';
import { openCheckpoint } from '../src/model/checkpoint.js';

function status(key: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return Number(m![1]) * 1024;
}

const [dir, mode, quant] = process.argv.slice(2) as [string, string, string | undefined];
cpuEngineAddon(); // load the addon (and its thread pool) before the baseline
const patch = quant ? { select: 'all', quant } : null;
if (mode === 'load') {
  // headers and tokenizer first (the tokenizer's JS objects are not weights), then the weights' load is measured
  const ck = openCheckpoint(dir);
  (globalThis as { gc?: () => void }).gc?.();
  fs.writeFileSync('/proc/self/clear_refs', '5'); // reset VmHWM to the current RSS
  const before = status('VmRSS');
  const e = loadCpuEngine(ck, { patch });
  const peak = status('VmHWM');
  const out = { before, peak, after: status('VmRSS'), weightBytes: e.info().weightBytes, predicted: e.predicted.native.weight_bytes, bytesRead: e.load.bytesRead };
  e.dispose();
  ck.close();
  console.log(JSON.stringify(out));
} else {
  // interrupted loads (an exception from the progress callback at 90%, like an abort) must free what they took:
  // RSS after the 1st and after the 5th (malloc keeps some freed memory, but a leak would grow with every load)
  const ck = openCheckpoint(dir);
  let errors = 0;
  let weightBytes = 0;
  let first = 0;
  for (let i = 0; i < 5; i++) {
    try {
      loadCpuEngine(ck, {
        patch,
        onProgress: (p) => {
          weightBytes = p.totalBytes;
          if (p.bytes > 0.9 * p.totalBytes) throw new Error('interrupted');
        },
      });
    } catch (e) {
      if ((e as Error).message === 'interrupted') errors++;
    }
    (globalThis as { gc?: () => void }).gc?.();
    if (i === 0) first = status('VmRSS');
  }
  console.log(JSON.stringify({ first, after: status('VmRSS'), errors, weightBytes }));
}
