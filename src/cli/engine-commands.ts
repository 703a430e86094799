/**
 * Engines on the command line: `generate --engine tfjs|native|cuda` and `codecllm bench <model> --device cpu|cuda`.
 * tfjs is the readable reference; native is the multi-threaded C++ CPU engine (same logits within 5e-4); cuda is the
 * GPU engine with per-linear storage modes (fp16, int8, decode-per-forward, cached, fused, gguf).
 */
import type { Command } from 'commander';
import type { LlamaModel } from '../model/llama.js';
import { generate, type GenerateOptions, type GenerateResult } from '../model/generate.js';
import { CudaEngine } from '../engine/cuda.js';
import { ENGINE_NAMES, type EngineName } from '../engine/engine.js';
import { defaultEngine, parseEngineName } from '../engine/open.js';
import { openEngine } from '../lab/open-engine.js';
import { STORAGE_MODES, parseModeSpec } from '../engine/modes.js';
import { copyBandwidth } from '../native/device.js';
import { CodecLLMError, err, msg } from '../messages.js';
import { checkThenLoad, output } from './common.js';
import { int, oneOf, text } from './args.js';
import { checkTfjsMemory, checkTokensFit } from './preflight.js';

export const ENGINES = ENGINE_NAMES;
export type { EngineName };

/**
 * Parse --engine: tfjs | native | cuda | auto (the fastest available). E_ARG otherwise.
 * @example
 * engineOpt('native') // 'native'
 */
export function engineOpt(v: string): EngineName | 'auto' {
  return parseEngineName(v, '--engine');
}

/**
 * The engine --engine names, resolved (auto: the fastest available), with the reason the CLI prints.
 * @example
 * resolveEngine('auto') // { engine: 'native', reason: 'auto: no GPU visible; the native CPU engine is built' }
 */
export function resolveEngine(v: string | undefined): { engine: EngineName; reason: string } {
  const e = engineOpt(v ?? 'auto');
  if (e !== 'auto') return { engine: e, reason: 'asked for' };
  const d = defaultEngine();
  return { engine: d.engine, reason: `auto: ${d.reason}` };
}

/** Add --engine (and --modes for cuda) to a command: every lab verb takes any engine. */
export function addEngineOption(cmd: Command): Command {
  return cmd
    .option('--engine <e>', 'tfjs (reference) | native (C++ CPU engine) | cuda (GPU engine) | auto (default: cuda with a GPU, else native)', oneOf('--engine', [...ENGINE_NAMES, 'auto'] as const), 'auto')
    .option('--modes <spec>', "GPU storage modes for --engine cuda, e.g. fp16, int8, fused, 'int8,lm_head=fp16'", text('--modes', (v) => void parseModeSpec(v)), 'fp16');
}

/**
 * Generation on the chosen engine through the one generation loop (src/model/generate.ts): stop ids, EOS, sampling
 * and onToken behave the same on all three.
 * @example
 * const r = await generateOn(model, 'native', 'The capital of France is', { maxTokens: 16 });
 */
export async function generateOn(m: LlamaModel, engine: EngineName | 'auto', prompt: string, o: GenerateOptions, modes = 'fp16'): Promise<GenerateResult> {
  const e = await openEngine(m, { engine, modes });
  try {
    return await generate(e, prompt, o);
  } finally {
    e.dispose();
  }
}

/** Decode/prefill timing of one generation on each CPU engine, through the one generation loop (ms per decode token: mean over n tokens). */
async function cpuBench(m: LlamaModel, prompt: number[], n: number) {
  const rows = [];
  for (const engine of ['tfjs', 'native'] as const) {
    const e = await openEngine(m, { engine });
    let r: GenerateResult;
    try {
      r = await generate(e, prompt, { maxTokens: n, stopIds: [] });
    } finally {
      e.dispose();
    }
    const dec = r.decodeMs.reduce((a, b) => a + b, 0) / Math.max(1, r.decodeMs.length);
    rows.push({ engine, prefill_tokens_per_s: (1000 * prompt.length) / r.prefillMs, decode_ms_per_token: dec, decode_tokens_per_s: 1000 / dec, ids: r.ids });
  }
  return rows;
}

interface CudaBenchRow {
  mode: string;
  decode_ms_per_token: number;
  graph: boolean;
  prefill_tokens_per_s: number;
  weight_bytes: number;
  weight_vs_fp16: number | null;
  bytes_per_token: number;
  floor_ms: number;
  x_floor: number;
  batch: number;
  batch_ms_per_step: number | null;
  batch_tokens_per_s: number | null;
  vram: Record<string, number>;
}

function cudaBench(m: LlamaModel, prompt: number[], n: number, modes: string[], batch: number) {
  const bw = copyBandwidth();
  const rows: (CudaBenchRow | { mode: string; error: string })[] = [];
  let fp16Bytes: number | null = null;
  for (const mode of modes) {
    let eng: CudaEngine;
    try {
      eng = CudaEngine.fromModel(m, { modes: mode, maxBatch: Math.max(1, batch) });
    } catch (e) {
      // gguf on a checkpoint without q4_1/q8_0 blocks: report the row, go on with the other modes
      if (mode === 'gguf' && e instanceof CodecLLMError && e.code === 'E_ARG') {
        rows.push({ mode, error: e.message });
        continue;
      }
      throw e;
    }
    try {
      eng.forward(prompt);
      eng.generate(4);
      const pre: number[] = [];
      for (let i = 0; i < 3; i++) {
        eng.reset();
        pre.push(eng.forward(prompt).ms);
      }
      pre.sort((a, b) => a - b);
      const g = eng.generate(n);
      // batched decode: `batch` copies of the prompt (rotated so the sequences differ), graph replay after a warm-up
      let b: { ms_per_step: number; tokens_per_s: number; graph: boolean } | null = null;
      if (batch > 1) {
        const prompts = Array.from({ length: batch }, (_, k) => prompt.map((_, i) => prompt[(i + k) % prompt.length]!));
        eng.generateBatch(prompts, 4);
        const r = eng.generateBatch(prompts, n);
        b = { ms_per_step: r.msPerStep, tokens_per_s: r.tokensPerSecond, graph: r.graph };
      }
      const led = eng.ledger();
      const acc = eng.expectedBytes();
      if (mode === 'fp16') fp16Bytes = led.weightBytes;
      const floorMs = acc.bytesPerToken / ((bw.gbpsReadWrite * 1e9) / 1000);
      rows.push({
        mode,
        decode_ms_per_token: g.msPerToken,
        graph: g.graph,
        prefill_tokens_per_s: prompt.length / (pre[1]! / 1000),
        weight_bytes: led.weightBytes,
        weight_vs_fp16: fp16Bytes ? led.weightBytes / fp16Bytes : null,
        bytes_per_token: acc.bytesPerToken,
        floor_ms: floorMs,
        x_floor: g.msPerToken / floorMs,
        batch,
        batch_ms_per_step: b?.ms_per_step ?? null,
        batch_tokens_per_s: b?.tokens_per_s ?? null,
        vram: led.categories,
      });
    } finally {
      eng.dispose();
    }
  }
  return { copy_bandwidth_gbs_read_write: bw.gbpsReadWrite, rows };
}

export function registerEngineCommands(program: Command): void {
  for (const name of ['generate', 'eval', 'sweep', 'diagnose']) {
    const c = program.commands.find((x) => x.name() === name);
    if (c) addEngineOption(c);
  }

  program
    .command('bench <model>')
    .description('decode ms/token, prefill tokens/s (and on cuda: weight VRAM and bandwidth floor per storage mode)')
    .option('--device <d>', 'cpu (tfjs vs native engine) | cuda (GPU engine, every storage mode)', oneOf('--device', ['cpu', 'cuda']), 'cpu')
    .option('--modes <list>', 'comma-separated storage modes for --device cuda', text('--modes', (v) => v.split(',').forEach((x) => parseModeSpec(x))), STORAGE_MODES.join(','))
    .option('--prompt-tokens <n>', 'prefill length (prompt + decode tokens <= the context length)', int('--prompt-tokens', 1), 128)
    .option('--tokens <n>', 'decode tokens', int('--tokens', 2), 64)
    .option('--batch <n>', 'also decode this many sequences at once on --device cuda (1 = batch 1 only)', int('--batch', 1, 4096), 8)
    .option('--json', 'JSON output')
    .action(async (model: string, o: { device: 'cpu' | 'cuda'; modes: string; promptTokens: number; tokens: number; batch: number; json?: boolean }) => {
      const device = o.device;
      const np = o.promptTokens;
      const n = o.tokens;
      const m = await checkThenLoad(model, (ck) => {
        checkTokensFit(ck, '--prompt-tokens + --tokens', np + n, ck.config.maxPositionEmbeddings);
        if (device === 'cpu') {
          checkTfjsMemory(ck, np, np, undefined);
          checkTfjsMemory(ck, 1, np + n, undefined);
        }
      });
      try {
        const prompt = Array.from({ length: np }, (_, i) => (i * 7919 + 17) % m.config.vocabSize);
        const date = new Date().toISOString();
        if (device === 'cpu') {
          const rows = await cpuBench(m, prompt, n);
          output(!!o.json, { model: m.checkpoint.file, device, date, prompt_tokens: np, decode_tokens: n, rows }, () =>
            rows.map((r) => `${r.engine.padEnd(7)} prefill ${r.prefill_tokens_per_s.toFixed(0)} tok/s, decode ${r.decode_tokens_per_s.toFixed(1)} tok/s (${r.decode_ms_per_token.toFixed(1)} ms/token)`).join('\n'),
          );
        } else {
          const r = cudaBench(m, prompt, n, o.modes.split(','), o.batch);
          output(!!o.json, { model: m.checkpoint.file, device, date, prompt_tokens: np, decode_tokens: n, ...r }, () =>
            [`copy bandwidth ${r.copy_bandwidth_gbs_read_write.toFixed(0)} GB/s (read+write)`, ...r.rows.map((x) => ('error' in x ? `${x.mode.padEnd(20)} ${x.error}` : `${x.mode.padEnd(20)} decode ${x.decode_ms_per_token.toFixed(3)} ms/token (${x.x_floor.toFixed(1)}x floor), prefill ${x.prefill_tokens_per_s.toFixed(0)} tok/s, weights ${(x.weight_bytes / 2 ** 20).toFixed(1)} MiB${x.batch_ms_per_step === null ? '' : `, batch ${x.batch} ${x.batch_ms_per_step.toFixed(3)} ms/step (${x.batch_tokens_per_s!.toFixed(0)} tok/s)`}`))].join('\n'),
          );
        }
      } finally {
        m.dispose();
      }
    });
}
