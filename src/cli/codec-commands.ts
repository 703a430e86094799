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
import { compressModelAsync, decompressToHF, parseQuantChoice, roundtripModel, verifyCllm, type CompressModelOptions, type CompressReport, type RoundtripReport, type TensorReport } from '../container/compress-model.js';
import { CLLM_CODECS, CLLM_LIMITS, DEFAULT_CHUNK_SIZE, type CllmCodec } from '../container/cllm.js';
import { TRANSFORMS, type Transform } from '../codec/transforms.js';
import { CPU_CODEC_LEVELS } from '../codec/cpu.js';
import { ALLOW_OVERFLOW, type AllowOverflow } from '../codec/cast.js';
import { checkOutDir, checkOutFile } from '../util/temp-files.js';
import { output } from './common.js';
import { io } from '../util/io.js';
import { int, oneOf, text } from './args.js';
import { progressBar } from './progress.js';

interface CodecCliOptions {
  quant: string;
  codec: CllmCodec;
  out?: string;
  level?: number;
  chunkSize: number;
  transform: Transform | 'auto';
  allowOverflow?: AllowOverflow;
  tensors?: boolean;
  json?: boolean;
}

/** Options of compress / roundtrip, checked together before any work (the level against the codec's range). */
function compressOptions(o: CodecCliOptions, label: string): { opts: CompressModelOptions; stop: () => void } {
  const lv = CPU_CODEC_LEVELS[o.codec];
  if (o.level !== undefined && lv === null) throw err('E_ARG', msg.badArg('--level', `codec ${o.codec} has no levels`));
  if (o.level !== undefined && lv && (o.level < lv.min || o.level > lv.max)) throw err('E_ARG', msg.badArg('--level', `${o.level} is outside ${o.codec}'s range [${lv.min}, ${lv.max}]`));
  const bar = progressBar(label, 1);
  return {
    opts: { quant: o.quant, codec: o.codec, level: o.level, chunkSize: o.chunkSize, transform: o.transform, allowOverflow: o.allowOverflow, onProgress: (d, t) => bar.update(d, t) },
    stop: () => bar.stop(),
  };
}

/** The option table shared by compress and roundtrip. */
function codecOptions(c: Command): Command {
  return c
    .requiredOption('--quant <spec>', "quant spec (e.g. int8:per-channel), 'none' (keep source storage) or a cast dtype f32|f16|bf16", text('--quant', (v) => void parseQuantChoice(v)))
    .requiredOption('--codec <codec>', `lossless codec: ${CLLM_CODECS.join(', ')}`, codecArg)
    .option('--level <n>', 'codec level (default: the codec default)', int('--level', -7, 22))
    .option('--chunk-size <bytes>', `bytes per chunk, ${MIN_CHUNK} to ${CLLM_LIMITS.chunkSize}`, int('--chunk-size', MIN_CHUNK, CLLM_LIMITS.chunkSize), DEFAULT_CHUNK_SIZE)
    .option('--transform <t>', `auto | ${TRANSFORMS.join(' | ')}`, oneOf('--transform', ['auto', ...TRANSFORMS] as const), 'auto')
    .option('--allow-overflow <how>', `values a cast cannot hold: refused unless ${ALLOW_OVERFLOW.join(' | ')}`, oneOf('--allow-overflow', ALLOW_OVERFLOW))
    .option('--tensors', 'per-tensor table')
    .option('--json', 'JSON output');
}

/** --codec parser (the container's own message for an unknown codec). */
const codecArg = (v: string): CllmCodec => {
  if (!(CLLM_CODECS as readonly string[]).includes(v)) throw err('E_ARG', msg.unknownCodec(v, CLLM_CODECS));
  return v as CllmCodec;
};

/** Smallest --chunk-size (smaller chunks only grow the chunk table and the per-chunk overhead). */
export const MIN_CHUNK = 4096;

const mb = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
const x = (r: number) => `${r.toFixed(3)}x`;

/**
 * Human summary lines of a compression report.
 * @example
 * console.log(formatCompressReport(roundtripModel('default', { quant: 'none', codec: 'zstd' }), false));
 */
export function formatCompressReport(r: CompressReport, withTensors: boolean): string {
  const lines = [
    `${r.model} -> ${r.out ?? '(memory)'}: ${r.tensors} tensors, ${(r.params / 1e6).toFixed(1)} M params, quant ${r.quant}, codec ${r.codec}${r.level === null ? '' : ` level ${r.level}`}, chunks ${r.chunkSize} B`,
    `stored ${mb(r.rawBytes)} -> compressed ${mb(r.compressedBytes)} (file ${mb(r.fileBytes)})`,
    `ratio ${x(r.ratio)}   order-0 entropy bound ${x(r.entropyBoundRatio)} (${mb(r.entropyBoundBytes)})   ratio vs fp16 ${x(r.ratioVsFp16)}`,
    `compress ${r.compressS.toFixed(2)} s (${r.compressMBps.toFixed(1)} MB/s, including quantization)`,
    'planes / sections:',
    ...r.planes.map((p) => `  ${p.name.padEnd(42)} ${mb(p.bytes).padStart(12)}  H = ${p.bits.toFixed(3)} bits/byte  bound ${mb(p.boundBytes)}`),
  ];
  if (withTensors) lines.push('tensors:', ...r.perTensor.map(tensorLine));
  return lines.join('\n');
}

function tensorLine(t: TensorReport): string {
  return `  ${t.name.padEnd(44)} ${t.storage.padEnd(18)} ${t.transform.padEnd(14)} ${mb(t.rawBytes).padStart(11)} -> ${mb(t.compressedBytes).padStart(11)}  ratio ${x(t.ratio)}  bound ${x(t.entropyBoundRatio)}  H ${t.entropyBits.toFixed(2)}`;
}

/**
 * Register the codec commands on the program.
 * @example
 * registerCodecCommands(new Command()); // adds compress, verify, decompress, roundtrip
 */
export function registerCodecCommands(program: Command): void {
  codecOptions(
    program
      .command('compress <model>')
      .description('compress a checkpoint into a .cllm container (quantize or keep, transform, chunk, codec, checksums)')
      .requiredOption('--out <file>', 'output .cllm (written atomically; a regular file or absent)', text('--out')),
  ).action(async (model: string, o: CodecCliOptions) => {
    checkOutFile(o.out!); // before the model is opened: a device, a folder or a missing folder is refused now
    const { opts, stop } = compressOptions(o, 'compressing');
    let r: CompressReport;
    try {
      r = await compressModelAsync(model, o.out!, opts);
    } finally {
      stop();
    }
    const { perTensor: _pt, ...rest } = r;
    output(!!o.json, o.tensors ? r : rest, () => formatCompressReport(r, !!o.tensors));
  });

  program
    .command('verify <file>')
    .description('check every checksum of a .cllm and decode every tensor (exit 1 when anything is wrong)')
    .option('--json', 'JSON output')
    .action((file: string, o: { json?: boolean }) => {
      const bar = progressBar('verifying', 1);
      const r = verifyCllm(file, (d, t) => bar.update(d, t));
      bar.stop();
      if (r.ok || o.json)
        output(!!o.json, r, () => `${file}: ok: ${r.tensors} tensors, ${r.chunks} chunks, ${mb(r.rawBytes)} stored in ${mb(r.fileBytes)}; ratio ${x(r.ratio)} (order-0 entropy bound ${x(r.entropyBoundRatio)}), vs fp16 ${x(r.ratioVsFp16)}; decoded at ${r.decompressMBps.toFixed(1)} MB/s`);
      if (!r.ok) {
        // the contract: the problem as one line on stderr, exit 1 (with --json the report is on stdout as well)
        io.err(`codecllm: ${r.error} [${r.errorCode ?? 'E_INTERNAL'}]\n`);
        process.exitCode = 1;
      }
    });

  program
    .command('decompress <file>')
    .description('unpack a .cllm (or any checkpoint) to a Hugging Face folder: config.json, model.safetensors, tokenizer.json')
    .requiredOption('--out <dir>', 'output folder (absent or a folder)', text('--out'))
    .option('--dtype <dt>', 'f32 | f16', oneOf('--dtype', ['f32', 'f16'] as const), 'f32')
    .option('--allow-overflow <how>', `values f16 cannot hold: refused unless ${ALLOW_OVERFLOW.join(' | ')}`, oneOf('--allow-overflow', ALLOW_OVERFLOW))
    .option('--json', 'JSON output')
    .action((file: string, o: { out: string; dtype: 'f32' | 'f16'; allowOverflow?: AllowOverflow; json?: boolean }) => {
      checkOutDir(o.out);
      const r = decompressToHF(file, o.out, o.dtype, o.allowOverflow);
      output(!!o.json, r, () => `wrote ${r.tensors} tensors (${mb(r.bytes)}, ${o.dtype}) to ${r.dir}`);
    });

  codecOptions(program.command('roundtrip <model>').description('compress in memory, decode through the .cllm reader and compare every stored byte')).action(
    (model: string, o: CodecCliOptions) => {
      const { opts, stop } = compressOptions(o, 'round trip');
      let r: RoundtripReport;
      try {
        r = roundtripModel(model, opts);
      } finally {
        stop();
      }
      const { perTensor: _pt, ...rest } = r;
      output(!!o.json, o.tensors ? r : rest, () =>
        [
          `bitExact ${r.bitExact}${r.mismatches.length ? ` (mismatches: ${r.mismatches.map((m) => `${m.name} at byte ${m.firstByte}`).join(', ')})` : ''}`,
          formatCompressReport(r, !!o.tensors),
          `decompress ${r.decompressS.toFixed(2)} s (${r.decompressMBps.toFixed(1)} MB/s, all checksums)`,
        ].join('\n'),
      );
      if (!r.bitExact) {
        io.err(`codecllm: ${model}: round trip not bit-exact (${r.mismatches.length} tensor(s) differ) [E_CHECKSUM]\n`);
        process.exitCode = 1;
      }
    },
  );
}
