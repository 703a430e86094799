/**
 * The tfjs backend of the CPU reference: 'wasm' (default, SIMD; ~20x the plain 'cpu' backend on this machine) or
 * 'cpu' (pure JS fallback). Choose with `initBackend('cpu')` or the environment switch CODECLLM_BACKEND=cpu.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import { err, msg } from '../messages.js';

export type BackendName = 'wasm' | 'cpu';
let ready: Promise<BackendName> | null = null;
let current: BackendName | null = null;

/**
 * Initialise (once) and return the active backend.
 * @example
 * await initBackend();          // wasm unless CODECLLM_BACKEND=cpu
 */
export function initBackend(name?: BackendName): Promise<BackendName> {
  const want = name ?? ((process.env.CODECLLM_BACKEND as BackendName | undefined) || 'wasm');
  if (want !== 'wasm' && want !== 'cpu') return Promise.reject(err('E_ARG', msg.badArg('backend', `'${want}' (expected wasm or cpu)`)));
  if (current === want && ready) return ready;
  ready = (async () => {
    if (want === 'wasm') {
      const req = createRequire(import.meta.url);
      const dir = path.dirname(req.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
      setWasmPaths(path.join(dir, 'dist') + path.sep);
    }
    const ok = await tf.setBackend(want);
    if (!ok) throw err('E_MODEL', `tfjs backend '${want}' failed to initialise`);
    await tf.ready();
    current = want;
    return want;
  })();
  return ready;
}

export { tf };
