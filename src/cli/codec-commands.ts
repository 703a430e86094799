/**
 * `codecllm compress | verify | decompress | roundtrip`: the .cllm container from the command line.
 * Human output by default, JSON with --json; every report shows the achieved ratio beside the order-0 entropy bound.
 *
 * @example
 * codecllm compress default --quant int8:per-channel --codec zstd --out smol.cllm
 * codecllm verify smol.cllm --json
 * codecllm decompress smol.cllm --out smol-hf
 * codecllm roundtrip default --quant none --codec lz4 --json --tensors
 */
import type { Command } from 'commander';
import { err, msg } from '../messages.js';
import { compressModel, decompressToHF, roundtripModel, verifyCllm, type CompressModelOptions, type CompressReport, type RoundtripReport, type TensorReport } from '../container/compress-model.js';
import { CLLM_CODECS, type CllmCodec } from '../container/cllm.js';
import { TRANSFORMS, type Transform } from '../codec/transforms.js';
import { CPU_CODEC_LEVELS } from '../codec/cpu.js';
import { output, intOpt } from './common.js';
import { progressBar } from './progress.js';

type Opts = Record<string, string | boolean | undefined>;

function compressOptions(o: Opts, label: string): { opts: CompressModelOptions; stop: () => void } {
  const codec = o.codec as string;
  if (!(CLLM_CODECS as readonly string[]).includes(codec)) throw err('E_ARG', msg.unknownCodec(codec, CLLM_CODECS));
  if (o.level !== undefined && CPU_CODEC_LEVELS[codec as CllmCodec] === null) throw err('E_ARG', msg.badArg('--level', `codec ${codec} has no levels`));
  const transform = (o.transform as string | undefined) ?? 'auto';
  if (transform !== 'auto' && !(TRANSFORMS as readonly string[]).includes(transform))
    throw err('E_ARG', msg.transformMisuse(transform, `is not a transform (known: auto, ${TRANSFORMS.join(', ')})`));
  const bar = progressBar(label, 1);
  return {
    opts: {
      quant: o.quant as string,
      codec: codec as CllmCodec,
      level: o.level !== undefined ? Number.parseInt(String(o.level), 10) : undefined,
      chunkSize: o.chunkSize !== undefined ? intOpt('--chunk-size', o.chunkSize as string, 1) : undefined,
      transform: transform as Transform | 'auto',
      onProgress: (d, t) => bar.update(d, t),
    },
    stop: () => bar.stop(),
  };
}

function levelOpt(o: Opts): void {
  if (o.level !== undefined && !/^-?[0-9]+$/.test(String(o.level))) throw err('E_ARG', msg.badArg('--level', `'${String(o.level)}' is not an integer`));
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
const x = (r: number) => `${r.toFixed(3)}x`;

/**
 * Human summary lines of a compression report.
 * @example
 * console.log(formatCompressReport(roundtripModel('default', { quant: 'none', codec: 'zstd' }), false));
 */
export function formatCompressReport(r: CompressReport, withTensors: boolean): string {
  const lines = [
    `${r.model} -> ${r.out ?? '(memory)'}: ${r.tensors} tensors, ${(r.params / 1e6).toFixed(1)} M params, quant ${r.quant}, codec ${r.codec}${r.level === null ? '' : ` level ${r.level}`}, chunks ${r.chunk_size} B`,
    `stored ${mb(r.raw_bytes)} -> compressed ${mb(r.compressed_bytes)} (file ${mb(r.file_bytes)})`,
    `ratio ${x(r.ratio)}   order-0 entropy bound ${x(r.entropy_bound_ratio)} (${mb(r.entropy_bound_bytes)})   ratio vs fp16 ${x(r.ratio_vs_fp16)}`,
    `compress ${r.compress_s.toFixed(2)} s (${r.compress_MBps.toFixed(1)} MB/s, including quantization)`,
    'planes / sections:',
    ...r.planes.map((p) => `  ${p.name.padEnd(42)} ${mb(p.bytes).padStart(12)}  H = ${p.bits.toFixed(3)} bits/byte  bound ${mb(p.boundBytes)}`),
  ];
  if (withTensors) lines.push('tensors:', ...r.per_tensor.map(tensorLine));
  return lines.join('\n');
}

function tensorLine(t: TensorReport): string {
  return `  ${t.name.padEnd(44)} ${t.storage.padEnd(18)} ${t.transform.padEnd(14)} ${mb(t.raw_bytes).padStart(11)} -> ${mb(t.compressed_bytes).padStart(11)}  ratio ${x(t.ratio)}  bound ${x(t.entropy_bound_ratio)}  H ${t.entropy_bits.toFixed(2)}`;
}

/**
 * Register the codec commands on the program.
 * @example
 * registerCodecCommands(new Command()); // adds compress, verify, decompress, roundtrip
 */
export function registerCodecCommands(program: Command): void {
  program
    .command('compress <model>')
    .description('compress a checkpoint into a .cllm container (quantize or keep, transform, chunk, codec, checksums)')
    .requiredOption('--quant <spec>', "quant spec (e.g. int8:per-channel), 'none' (keep source storage) or a cast dtype f32|f16|bf16")
    .requiredOption('--codec <codec>', `lossless codec: ${CLLM_CODECS.join(', ')}`)
    .requiredOption('--out <file>', 'output .cllm (written atomically)')
    .option('--level <n>', 'codec level (default: the codec default)')
    .option('--chunk-size <bytes>', 'bytes per chunk', '65536')
    .option('--transform <t>', `auto | ${TRANSFORMS.join(' | ')}`, 'auto')
    .option('--tensors', 'per-tensor table')
    .option('--json', 'JSON output')
    .action((model: string, o: Opts) => {
      levelOpt(o);
      const { opts, stop } = compressOptions(o, 'compressing');
      let r: CompressReport;
      try {
        r = compressModel(model, o.out as string, opts);
      } finally {
        stop();
      }
      const { per_tensor: _pt, ...rest } = r;
      output(!!o.json, o.tensors ? r : rest, () => formatCompressReport(r, !!o.tensors));
    });

  program
    .command('verify <file>')
    .description('check every checksum of a .cllm and decode every tensor (exit 1 when anything is wrong)')
    .option('--json', 'JSON output')
    .action((file: string, o: Opts) => {
      const bar = progressBar('verifying', 1);
      const r = verifyCllm(file, (d, t) => bar.update(d, t));
      bar.stop();
      output(!!o.json, r, () =>
        r.ok
          ? `${file}: ok: ${r.tensors} tensors, ${r.chunks} chunks, ${mb(r.raw_bytes)} stored in ${mb(r.file_bytes)}; ratio ${x(r.ratio)} (order-0 entropy bound ${x(r.entropy_bound_ratio)}), vs fp16 ${x(r.ratio_vs_fp16)}; decoded at ${r.decompress_MBps.toFixed(1)} MB/s`
          : `${r.error} [${r.error_code}]`,
      );
      if (!r.ok) process.exitCode = 1;
    });

  program
    .command('decompress <file>')
    .description('unpack a .cllm (or any checkpoint) to a Hugging Face folder: config.json, model.safetensors, tokenizer.json')
    .requiredOption('--out <dir>', 'output folder')
    .option('--dtype <dt>', 'f32 | f16', 'f32')
    .option('--json', 'JSON output')
    .action((file: string, o: Opts) => {
      const r = decompressToHF(file, o.out as string, o.dtype as 'f32' | 'f16');
      output(!!o.json, r, () => `wrote ${r.tensors} tensors (${mb(r.bytes)}, ${o.dtype as string}) to ${r.dir}`);
    });

  program
    .command('roundtrip <model>')
    .description('compress in memory, decode through the .cllm reader and compare every stored byte')
    .requiredOption('--quant <spec>', "quant spec, 'none' or f32|f16|bf16")
    .requiredOption('--codec <codec>', `lossless codec: ${CLLM_CODECS.join(', ')}`)
    .option('--level <n>', 'codec level')
    .option('--chunk-size <bytes>', 'bytes per chunk', '65536')
    .option('--transform <t>', `auto | ${TRANSFORMS.join(' | ')}`, 'auto')
    .option('--tensors', 'per-tensor table')
    .option('--json', 'JSON output')
    .action((model: string, o: Opts) => {
      levelOpt(o);
      const { opts, stop } = compressOptions(o, 'round trip');
      let r: RoundtripReport;
      try {
        r = roundtripModel(model, opts);
      } finally {
        stop();
      }
      const { per_tensor: _pt, ...rest } = r;
      output(!!o.json, o.tensors ? r : rest, () =>
        [
          `bit_exact ${r.bit_exact}${r.mismatches.length ? ` (mismatches: ${r.mismatches.map((m) => `${m.name} at byte ${m.first_byte}`).join(', ')})` : ''}`,
          formatCompressReport(r, !!o.tensors),
          `decompress ${r.decompress_s.toFixed(2)} s (${r.decompress_MBps.toFixed(1)} MB/s, all checksums)`,
        ].join('\n'),
      );
      if (!r.bit_exact) process.exitCode = 1;
    });
}
