/**
 * nvCOMP benchmark on the GPU host (not a test; see scripts/gpu/run-on-device.sh): for each dataset (the default
 * model's bf16 weights and int8 codes from scripts/gpu/make-samples.ts, tiled to --mib; synthetic bf16 / int8) and
 * each codec variant: compression ratio, compress and decompress throughput (GB/s of uncompressed bytes, mean of
 * CUDA-event-timed batched launches after a warm-up), and decompression throughput as a fraction of the
 * device-to-device copy bandwidth measured in the same run (cudaMemcpyAsync D2D, bytes copied per second).
 * Every timed result is verified bit-exact first (round trip before benchmark).
 * Writes markdown + JSON to $OUT (or --out-dir). Usage: node .gpubuild/bench-nvcomp.mjs [--mib 256] [--iters 10]
 */
import fs from 'node:fs';
import path from 'node:path';
import { copyBandwidth, DeviceBuffer, deviceInfo, trimScratch, vramLedger } from '../../src/native/device.js';
import { nvcompCompress, nvcompDecompress, nvcompInfo, type NvcompCodec, type NvcompOptions } from '../../src/codec/nvcomp.js';
import { datasets, parseArgs, table, type Dataset } from './common.js';

const args = parseArgs(process.argv.slice(2));
const bytes = Math.round(Number(args.mib ?? 256) * 2 ** 20);
const iters = Number(args.iters ?? 10);
const sampleDir = args.samples ?? path.join(process.cwd(), '.gpubuild', 'samples');
const outDir = args['out-dir'] ?? process.env.OUT ?? '.';
const chunkSizes = (args.chunks ?? '65536').split(',').map(Number);

function variants(kind: Dataset['kind']): { codec: NvcompCodec; label: string; opts: NvcompOptions }[] {
  const v: { codec: NvcompCodec; label: string; opts: NvcompOptions }[] = [
    { codec: 'lz4', label: 'lz4', opts: {} },
    { codec: 'snappy', label: 'snappy', opts: {} },
    { codec: 'zstd', label: 'zstd', opts: {} },
    { codec: 'deflate', label: 'deflate', opts: {} },
    { codec: 'gdeflate', label: 'gdeflate', opts: {} },
    { codec: 'gdeflate', label: 'gdeflate/alg0 (entropy only)', opts: { algorithm: 0 } },
    { codec: 'ans', label: 'ans', opts: {} },
    { codec: 'bitcomp', label: 'bitcomp', opts: {} },
    { codec: 'cascaded', label: 'cascaded', opts: {} },
  ];
  if (kind === 'bf16') {
    v.push({ codec: 'ans', label: 'ans/float16', opts: { dataType: 'float16' } });
    v.push({ codec: 'bitcomp', label: 'bitcomp/ushort', opts: { dataType: 'ushort' } });
  } else {
    v.push({ codec: 'bitcomp', label: 'bitcomp/char', opts: { dataType: 'char' } });
  }
  return v;
}

process.on('uncaughtException', (e) => {
  console.error(`bench-nvcomp: ${(e as { code?: string }).code ?? 'error'}: ${e.message}`);
  process.exit(2);
});
const dev = deviceInfo();
const nv = nvcompInfo();
const bw = copyBandwidth(bytes, 20);
console.log(`bench-nvcomp: ${dev.name}, nvCOMP ${nv.version}, ${bytes / 2 ** 20} MiB per dataset, ${iters} timed launches; ` +
  `D2D copy ${bw.gbps.toFixed(0)} GB/s (${bw.gbpsReadWrite.toFixed(0)} GB/s read+write)`);

interface Row {
  dataset: string;
  codec: string;
  chunkSize: number;
  ratio: number;
  compressGBs: number;
  decompressGBs: number;
  fractionOfCopy: number;
  ok: boolean;
  error?: string;
}
const rows: Row[] = [];
for (const ds of datasets(sampleDir, bytes)) {
  const src = DeviceBuffer.fromHost(ds.data, `bench:${ds.name}`);
  for (const chunkSize of chunkSizes)
    for (const v of variants(ds.kind)) {
      const opts = { ...v.opts, chunkSize, tensor: ds.name };
      try {
        // round trip first (also the warm-up), then the timed runs
        const z0 = nvcompCompress(v.codec, src, opts);
        const out = nvcompDecompress(z0);
        const mism = out.buffer.countMismatches(src);
        if (mism !== 0) throw new Error(`round trip has ${mism} wrong bytes`);
        z0.buffer.dispose();
        const z = nvcompCompress(v.codec, src, { ...opts, iterations: iters });
        const d = nvcompDecompress(z, { dst: out.buffer, iterations: iters });
        const mism2 = out.buffer.countMismatches(src);
        if (mism2 !== 0) throw new Error(`timed round trip has ${mism2} wrong bytes`);
        out.buffer.dispose();
        z.buffer.dispose();
        const decompressGBs = bytes / (d.ms * 1e-3) / 1e9;
        rows.push({
          dataset: ds.name,
          codec: v.label,
          chunkSize: z.chunkSize,
          ratio: z.ratio,
          compressGBs: bytes / (z.ms * 1e-3) / 1e9,
          decompressGBs,
          fractionOfCopy: decompressGBs / bw.gbps,
          ok: true,
        });
      } catch (e) {
        rows.push({ dataset: ds.name, codec: v.label, chunkSize, ratio: 0, compressGBs: 0, decompressGBs: 0, fractionOfCopy: 0, ok: false, error: String(e) });
      }
      const r = rows[rows.length - 1]!;
      console.log(`  ${ds.name} ${v.label} ${chunkSize}: ${r.ok ? `ratio ${r.ratio.toFixed(3)} comp ${r.compressGBs.toFixed(1)} GB/s decomp ${r.decompressGBs.toFixed(1)} GB/s (${(100 * r.fractionOfCopy).toFixed(1)}% of copy)` : r.error}`);
    }
  src.dispose();
  trimScratch();
}

const md = [
  `### nvCOMP on ${dev.name} (${new Date().toISOString().slice(0, 10)})`,
  '',
  `Driver ${dev.driverVersion}, CUDA runtime ${dev.runtimeVersion}, nvCOMP ${nv.version} (built with cudart ${nv.cudartVersion}). ` +
    `${bytes / 2 ** 20} MiB per dataset, mean of ${iters} CUDA-event-timed batched launches after a verified warm-up round trip. ` +
    `Device-to-device copy: ${bw.gbps.toFixed(0)} GB/s copied (${bw.gbpsReadWrite.toFixed(0)} GB/s counting read + write); ` +
    `"of copy" = decompress GB/s / copy GB/s. GB/s are of uncompressed bytes. Command: \`bash scripts/gpu/run-on-device.sh\`.`,
  '',
  table(
    ['dataset', 'codec', 'chunk', 'ratio', 'compress GB/s', 'decompress GB/s', 'of copy'],
    rows.map((r) =>
      r.ok
        ? [r.dataset, r.codec, r.chunkSize, r.ratio.toFixed(3), r.compressGBs.toFixed(1), r.decompressGBs.toFixed(1), `${(100 * r.fractionOfCopy).toFixed(1)}%`]
        : [r.dataset, r.codec, r.chunkSize, 'FAIL', '', '', r.error!.slice(0, 80)],
    ),
  ),
].join('\n');
console.log('\n' + md);
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'bench-nvcomp.md'), md + '\n');
fs.writeFileSync(
  path.join(outDir, 'bench-nvcomp.json'),
  JSON.stringify({ date: new Date().toISOString(), device: dev, nvcomp: nv, copy: bw, bytes, iterations: iters, rows, ledger: vramLedger() }, null, 2),
);
process.exitCode = rows.some((r) => !r.ok) ? 1 : 0;
