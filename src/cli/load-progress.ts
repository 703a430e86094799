/**
 * The one place where checkpoint loads and shape writes report progress (tensors, bytes, ETA) on a terminal: one
 * status line on stderr, only when stderr is a TTY and CODECLLM_PROGRESS is not 0 (the rule of src/cli/progress.ts),
 * so JSON on stdout stays clean. When the shared terminal + notebook progress API lands, only this file changes.
 */

/** What a streaming load or write reports after each tensor. */
export interface TensorProgress {
  tensors: number;
  totalTensors: number;
  bytes: number;
  totalBytes: number;
}

const GiB = 2 ** 30;

/**
 * A progress reporter: `update` after each tensor (redraws at most 5 times a second), `stop` clears the line.
 * @example
 * const p = tensorProgress('loading'); const e = await loadCpuEngine(dir, { onProgress: p.update }); p.stop();
 */
export function tensorProgress(label: string): { update: (p: TensorProgress) => void; stop: () => void } {
  if (!process.stderr.isTTY || process.env.CODECLLM_PROGRESS === '0') return { update() {}, stop() {} };
  const t0 = performance.now();
  let last = 0;
  let shown = false;
  return {
    update(p) {
      const now = performance.now();
      if (now - last < 200 && p.tensors < p.totalTensors) return;
      last = now;
      const s = (now - t0) / 1000;
      const eta = p.bytes > 0 ? (s * (p.totalBytes - p.bytes)) / p.bytes : NaN;
      const line = `${label} ${p.tensors}/${p.totalTensors} tensors, ${(p.bytes / GiB).toFixed(2)}/${(p.totalBytes / GiB).toFixed(2)} GiB, ${s.toFixed(0)} s, ETA ${Number.isFinite(eta) ? eta.toFixed(0) + ' s' : '?'}`;
      process.stderr.write(`\r${line}\x1b[K`);
      shown = true;
    },
    stop() {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}
