/** Progress bars for long CLI work: on stderr, and only when stderr is a TTY (so JSON on stdout stays clean). */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total?: number): void;
  stop(): void;
}

/** A progress bar labelled `label`; a no-op when stderr is not a TTY or CODECLLM_PROGRESS=0. */
export function progressBar(label: string, total: number): Progress {
  if (!process.stderr.isTTY || process.env.CODECLLM_PROGRESS === '0') return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} | {duration_formatted}`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update(done, t) {
      if (t !== undefined && t !== bar.getTotal()) bar.setTotal(t);
      bar.update(done);
    },
    stop() {
      bar.stop();
    },
  };
}
