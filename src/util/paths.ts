/** Locations inside the installed package (works from src/ under tsx and from dist/src/ after tsc). */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

/**
 * The package root: the nearest folder above this module with codecllm's package.json.
 * @example
 * path.join(packageRoot(), 'data', 'texts', 'eval.txt')
 */
export function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'codecllm') return (root = dir);
      } catch {
        /* keep walking */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('codecllm: package root not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/**
 * data/ folder of the package, or CODECLLM_DATA when set.
 * @example
 * path.join(dataDir(), 'models')
 */
export function dataDir(): string {
  return process.env.CODECLLM_DATA ?? path.join(packageRoot(), 'data');
}
