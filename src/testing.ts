/**
 * codecllm/testing: fixtures for tests and examples — a tiny Llama config, seeded synthetic weights, and writers
 * that put them on disk as a Hugging Face folder or a GGUF file.
 *
 * @example
 * import { tinyConfig, syntheticWeights, writeGGUFModel } from 'codecllm/testing';
 * const cfg = tinyConfig(); writeGGUFModel('/tmp/tiny.gguf', cfg, syntheticWeights(cfg, 1));
 */
export { tinyConfig, tinyGemma3Config, syntheticWeights, hfConfigJson, writeHFModel, writeGGUFModel } from './model/synthetic.js';
