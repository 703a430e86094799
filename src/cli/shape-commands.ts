/** `codecllm make-shape <name> --out <dir>`: write a named model shape as a sharded bf16 HF checkpoint. */
import type { Command } from 'commander';
import { makeShape } from '../model/make-shape.js';
import { SHAPES, shapeByName } from '../model/shapes.js';
import { output, intOpt, numOpt } from './common.js';
import { tensorProgress } from './load-progress.js';

export function registerShapeCommands(program: Command): void {
  program
    .command('make-shape <shape>')
    .description(`write a random-weight bf16 HF checkpoint of a named shape (${Object.keys(SHAPES).join(', ')})`)
    .requiredOption('--out <dir>', 'output folder')
    .option('--layers <n>', 'number of layers (default: the shape\'s own)')
    .option('--seed <s>', 'PRNG seed', '0')
    .option('--shard-gb <g>', 'largest shard in GB (1e9 bytes)', '5')
    .option('--json', 'JSON output')
    .action((name: string, o: Record<string, string | boolean | undefined>) => {
      const shape = shapeByName(name, { layers: o.layers === undefined ? undefined : intOpt('--layers', o.layers as string, 1) });
      const p = tensorProgress('writing');
      const t0 = performance.now();
      const r = (() => {
        try {
          return makeShape(shape, o.out as string, { seed: intOpt('--seed', o.seed as string), shardBytes: numOpt('--shard-gb', o.shardGb as string) * 1e9, onProgress: p.update });
        } finally {
          p.stop();
        }
      })();
      const res = { ...r, shape: name, layers: shape.layers, seconds: (performance.now() - t0) / 1000 };
      output(!!o.json, res, () => `${r.dir}: ${name} (${shape.layers} layers), ${(r.params / 1e9).toFixed(3)} B parameters, ${(r.weightBytes / 1e9).toFixed(2)} GB bf16 in ${r.shards.length} shard(s), ${res.seconds.toFixed(1)} s`);
    });
}
