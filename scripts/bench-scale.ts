/**
 * Scale benchmark of the streaming native-engine load (issue 11; BENCHMARKS.md, not a test): for one checkpoint and
 * one patch spec, in this process:
 *   1. the time to read the checkpoint's files (cold: each file's page cache dropped first with
 *      posix_fadvise(DONTNEED) through `dd iflag=nocache count=0`, this file only; warm: read right after);
 *   2. the native load (loadCpuEngine) cold and warm: seconds, and the RSS growth during it (VmHWM after minus VmRSS
 *      before, the peak reset through /proc/self/clear_refs) and the process's VmHWM, beside the resident weight bytes;
 *   3. greedy decode tok/s of generateNative (prompt of 16 tokens, --tokens new tokens).
 * Load average is printed beside every timing (the machine is shared).
 *
 *   node --expose-gc --import tsx scripts/bench-scale.ts <dir> [--quant int8:per-channel] [--tokens 16] [--no-cold] [--no-warm]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadCpuEngine } from '../src/engine/cpu-checkpoint.js';
import { generateNative } from '../src/engine/cpu-native.js';
import { openCheckpoint } from '../src/model/checkpoint.js';

const args = process.argv.slice(2);
const dir = args[0]!;
const opt = (k: string, d?: string) => (args.includes(k) ? args[args.indexOf(k) + 1]! : d);
const quant = opt('--quant');
const tokens = Number(opt('--tokens', '16'));
const cold = !args.includes('--no-cold');
const warm = !args.includes('--no-warm'); // a checkpoint larger than the page cache has no warm case
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const status = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
const gc = () => (globalThis as { gc?: () => void }).gc?.();

const files = fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).map((f) => path.join(dir, f));
const fileBytes = files.reduce((s, f) => s + fs.statSync(f).size, 0);
const dropCache = () => files.forEach((f) => spawnSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' }));
const readAll = () => {
  const t0 = performance.now();
  const buf = Buffer.allocUnsafe(64 << 20);
  for (const f of files) {
    const fd = fs.openSync(f, 'r');
    while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
    fs.closeSync(fd);
  }
  return (performance.now() - t0) / 1000;
};

const out: Record<string, unknown> = { dir, quant: quant ?? null, file_bytes: fileBytes, date: new Date().toISOString(), cpus: os.cpus().length, mem_available_start: os.freemem() };
const patch = quant ? { select: 'all', quant } : null;
const ck = openCheckpoint(dir); // headers + tokenizer (not weights)
function measureLoad(label: string) {
  gc();
  fs.writeFileSync('/proc/self/clear_refs', '5');
  const before = status('VmRSS');
  const la = load();
  const e = loadCpuEngine(ck, { patch });
  const r = { seconds: e.load.seconds, rss_growth: status('VmHWM') - before, process_peak_rss: status('VmHWM'), resident: e.info().weightBytes, loadavg: la };
  console.error(`${label}: load ${r.seconds.toFixed(1)} s, RSS growth ${(r.rss_growth / 1e9).toFixed(2)} GB (${(r.rss_growth / r.resident).toFixed(2)}x resident ${(r.resident / 1e9).toFixed(2)} GB), load avg ${la}`);
  return { e, r };
}
let engine: ReturnType<typeof loadCpuEngine> | null = null;
if (cold) {
  dropCache();
  const la = load();
  out.read_cold_s = readAll();
  out.read_cold_loadavg = la;
  console.error(`read cold ${(out.read_cold_s as number).toFixed(1)} s (${(fileBytes / 1e9 / (out.read_cold_s as number)).toFixed(2)} GB/s), load avg ${la}`);
  dropCache();
  const { e, r } = measureLoad('load cold');
  out.load_cold = r;
  if (warm) e.dispose();
  else engine = e;
}
if (warm) {
  const la = load();
  out.read_warm_s = readAll();
  out.read_warm_loadavg = la;
  console.error(`read warm ${(out.read_warm_s as number).toFixed(1)} s (${(fileBytes / 1e9 / (out.read_warm_s as number)).toFixed(2)} GB/s), load avg ${la}`);
  const { e, r } = measureLoad('load warm');
  out.load_warm = r;
  engine = e;
}
const e = engine!;
out.formats = e.info().linearFormats;
const prompt = Array.from({ length: 16 }, (_, i) => (i * 7919 + 17) % ck.config.vocabSize);
const la = load();
const g = await generateNative(e, prompt, { maxTokens: tokens, stopIds: [] });
const dec = g.decodeMs.reduce((a, b) => a + b, 0) / g.decodeMs.length;
out.decode = { tokens: g.decodeMs.length, ms_per_token: dec, tok_per_s: 1000 / dec, prefill_16_ms: g.prefillMs, loadavg: la, threads: e.info().threads };
console.error(`decode ${(1000 / dec).toFixed(2)} tok/s (${dec.toFixed(0)} ms/token, ${g.decodeMs.length} tokens), prefill 16 tokens ${g.prefillMs.toFixed(0)} ms, load avg ${la}`);
e.dispose();
ck.close();
console.log(JSON.stringify(out));
