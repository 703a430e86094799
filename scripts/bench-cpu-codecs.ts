/**
 * CPU codec throughput on this machine (not a test): ratio, compress and decompress MB/s of the native CPU codecs
 * on the default model's weight samples (scripts/gpu/make-samples.ts output, when present) and on synthetic bf16 /
 * int8 data, in 64 KiB chunks (the .cllm / nvCOMP chunking) — the CPU column beside the nvCOMP benchmark.
 * Single-threaded, mean of --reps passes after a verified round trip.
 * Usage: node --import tsx scripts/bench-cpu-codecs.ts [--mib 16] [--reps 3] [--samples .gpubuild/samples]
 */
import os from 'node:os';
import path from 'node:path';
import { cpuCodecVersions, cpuCompressChunks, cpuDecompressChunks, type CpuCodec } from '../src/codec/cpu.js';
import { datasets, parseArgs, table } from './gpu/common.js';

const args = parseArgs(process.argv.slice(2));
const bytes = Math.round(Number(args.mib ?? 16) * 2 ** 20);
const reps = Number(args.reps ?? 3);
const sampleDir = args.samples ?? path.join(process.cwd(), '.gpubuild', 'samples');
const chunk = 65536;
const codecs: { codec: CpuCodec; level?: number; label: string }[] = [
  { codec: 'lz4', label: 'lz4' },
  { codec: 'snappy', label: 'snappy' },
  { codec: 'zstd', level: 1, label: 'zstd -1' },
  { codec: 'zstd', level: 3, label: 'zstd -3' },
  { codec: 'zstd', level: 19, label: 'zstd -19' },
  { codec: 'deflate', level: 1, label: 'deflate -1' },
  { codec: 'deflate', level: 6, label: 'deflate -6' },
];

const rows: (string | number)[][] = [];
for (const ds of datasets(sampleDir, bytes)) {
  for (const c of codecs) {
    const opts = c.level === undefined ? {} : { level: c.level };
    const chunks = cpuCompressChunks(c.codec, ds.data, chunk, opts);
    const back = cpuDecompressChunks(c.codec, chunks, ds.data.length, chunk);
    if (!Buffer.from(back).equals(Buffer.from(ds.data))) throw new Error(`${c.label} round trip differs on ${ds.name}`);
    const z = chunks.reduce((n, x) => n + x.length, 0);
    let t0 = process.hrtime.bigint();
    for (let r = 0; r < reps; r++) cpuCompressChunks(c.codec, ds.data, chunk, opts);
    const comp = Number(process.hrtime.bigint() - t0) / 1e9 / reps;
    t0 = process.hrtime.bigint();
    for (let r = 0; r < reps; r++) cpuDecompressChunks(c.codec, chunks, ds.data.length, chunk);
    const dec = Number(process.hrtime.bigint() - t0) / 1e9 / reps;
    rows.push([ds.name, c.label, (ds.data.length / z).toFixed(3), (ds.data.length / comp / 1e6).toFixed(0), (ds.data.length / dec / 1e6).toFixed(0)]);
    console.error(`  ${rows[rows.length - 1]!.join('  ')}`);
  }
}
const v = cpuCodecVersions();
console.log(`### CPU codecs on ${os.cpus()[0]?.model ?? 'CPU'} (${os.cpus().length} cores, 1 thread used), ${new Date().toISOString().slice(0, 10)}\n`);
console.log(`zstd ${v.zstd}, lz4 ${v.lz4}, zlib ${v.zlib}; ${bytes / 2 ** 20} MiB per dataset in 64 KiB chunks, mean of ${reps} passes. ` +
  `Command: \`node --import tsx scripts/bench-cpu-codecs.ts --mib ${bytes / 2 ** 20} --reps ${reps}\`.\n`);
console.log(table(['dataset', 'codec', 'ratio', 'compress MB/s', 'decompress MB/s'], rows));
