/**
 * Progress bars for CLI commands: the library's one progress API (src/viz/progress.ts), which draws on stderr only
 * when it is a TTY (JSON on stdout stays clean) and is off with CODECLLM_PROGRESS=0. Library calls (load,
 * perplexity, baseline/compare, sweeps) report by themselves; this wrapper is for loops the CLI runs itself.
 */
import { progress } from '../viz/progress.js';

export interface Progress {
  update(done: number, total?: number): void;
  stop(): void;
}

/**
 * A progress bar labelled `label` (see `progress.start`).
 *
 * @example
 * const bar = progressBar('patching', n); for (…) bar.update(++i); bar.stop();
 */
export function progressBar(label: string, total: number): Progress {
  const task = progress.start(label, total);
  let t = total;
  return {
    update(done, newTotal) {
      if (newTotal !== undefined && newTotal !== t) task.setTotal((t = newTotal));
      task.update(done);
    },
    stop() {
      task.done();
    },
  };
}
