/**
 * `load()`: the one way a notebook or script opens a model — a .gguf file, a Hugging Face folder, a .cllm container
 * or 'default'. It opens the checkpoint explicitly (`openAnyCheckpoint`, src/container/compress-model.ts) and hands
 * it to the tfjs reference model; nothing depends on which modules happen to be imported.
 *
 * @example
 * import { load } from 'codecllm';
 * const model = await load('default');          // or 'smol.cllm', a .gguf, a Hugging Face folder
 * model.config.numLayers;                       // 30
 */
import { LlamaModel, type LoadOptions } from './model/llama.js';
import type { Checkpoint } from './model/checkpoint.js';
import { openAnyCheckpoint } from './container/compress-model.js';

/**
 * Load a model from a path (any checkpoint format, 'default' included) or an open Checkpoint.
 * @example
 * const m = await load('smol.cllm', { onProgress: (done, total) => console.log(done, total) });
 */
export async function load(source: string | Checkpoint, opts: LoadOptions = {}): Promise<LlamaModel> {
  return LlamaModel.load(typeof source === 'string' ? openAnyCheckpoint(source) : source, opts);
}
