/**
 * The one progress API of codecllm, for library code, notebooks and the CLI alike:
 *
 *   const p = progress.start('load SmolLM2', 272, 'tensors');   // → { tick(n), update(done), done() }
 *   for (const t of tensors) { read(t); p.tick(); }
 *   p.done();
 *
 * Where it shows is decided here, never by the caller:
 *   - inside a Jupyter kernel (ours or plain tslab): one live display (HTML <progress> + text), updated in place
 *     (`update_display_data`), at most one update per `intervalMs` (the first and the last always);
 *   - on a terminal (stderr is a TTY): a cli-progress bar on stderr, cleared when done (stdout stays clean);
 *   - elsewhere (pipes, CI logs, tests) or with CODECLLM_PROGRESS=0: nothing.
 * Nesting: while a task is running, tasks started inside it (perplexity inside a sweep, a load inside a report)
 * count but show nothing, so a notebook cell gets one bar, not a stack of them. The kernel resets the nesting
 * at the start of every cell (a cell that threw cannot silence the next one's bars).
 */
import cliProgress from 'cli-progress';
import { displayHandle, inKernel } from './display.js';
import { escapeHtml, formatBytes, formatMs, type MimeBundle } from './mime.js';

/** A running progress task. Every method is cheap; call `tick` as often as you like. */
export interface ProgressTask {
  /** Advance by `n` units (default 1), with an optional short note (e.g. the current layer). */
  tick(n?: number, note?: string): void;
  /** Set the number of finished units. */
  update(done: number, note?: string): void;
  /** Change the total (when it becomes known late). */
  setTotal(total: number): void;
  /** Mark finished (shows the total time). Idempotent; always call it (try/finally). */
  done(note?: string): void;
}

/** Former name of `ProgressTask` (notebooks use `progress(label, total)`). */
export type Progress = ProgressTask;

/** Options of `progress(label, total, options)`. */
export interface ProgressOptions {
  /** Unit of the counts: shown after them; 'B' or 'bytes' formats counts as KiB/MiB/GiB. Default: none. */
  unit?: string;
  /** Minimum milliseconds between two kernel updates (the first and the last are always shown). Default 250. */
  intervalMs?: number;
  /** Stream for the terminal bar. Default process.stderr. The bar is off when it is not a TTY. */
  stream?: NodeJS.WriteStream;
}

/** Nesting state, shared through globalThis so that every copy of this module (dist/, tsx) and the kernel agree. */
interface ProgressState {
  depth: number;
  reset(): void;
}
const STATE_KEY = Symbol.for('codecllm.progress');
function state(): ProgressState {
  const g = globalThis as Record<symbol, ProgressState | undefined>;
  if (!g[STATE_KEY]) {
    const s: ProgressState = { depth: 0, reset: () => void (s.depth = 0) };
    g[STATE_KEY] = s;
  }
  return g[STATE_KEY]!;
}

const isBytes = (unit: string) => unit === 'B' || unit === 'bytes';

/** "3/8 tensors", "1.2 GiB/2.5 GiB". */
function counts(done: number, total: number, unit: string): string {
  if (isBytes(unit)) return `${formatBytes(done)}/${formatBytes(total)}`;
  return `${done}/${total}${unit ? ` ${unit}` : ''}`;
}

/**
 * The bundle a progress display shows: an HTML `<progress>` bar and one text line.
 *
 * @example
 * progressBundle('load', 3, 8, 1200)['text/plain'] // 'load: 3/8 (38%) 1.2 s'
 */
export function progressBundle(label: string, done: number, total: number, elapsedMs: number, note = '', unit = ''): MimeBundle {
  const pct = total > 0 ? Math.min(100, (100 * done) / total) : 100;
  const eta = done > 0 && done < total ? ` eta ${formatMs((elapsedMs * (total - done)) / done)}` : '';
  const tail = `${counts(done, total, unit)} (${pct.toFixed(0)}%) ${formatMs(elapsedMs)}${eta}${note ? ` ${note}` : ''}`;
  const html =
    `<div class="codecllm-progress" style="font:13px monospace">${escapeHtml(label)} ` +
    `<progress value="${done}" max="${total}" style="width:240px;vertical-align:middle"></progress> ${escapeHtml(tail)}</div>`;
  return { 'text/html': html, 'text/plain': `${label}: ${tail}` };
}

function silentTask(finish: () => void): ProgressTask {
  let finished = false;
  return {
    tick() {},
    update() {},
    setTotal() {},
    done() {
      if (!finished) (finished = true), finish();
    },
  };
}

function kernelTask(label: string, total: number, unit: string, interval: number, finish: () => void): ProgressTask {
  const t0 = performance.now();
  const handle = displayHandle();
  let cur = 0;
  let finished = false;
  let last = -Infinity;
  const show = (note?: string, force = false) => {
    const now = performance.now();
    if (!force && now - last < interval) return;
    last = now;
    handle.update(progressBundle(label, cur, total, now - t0, note, unit));
  };
  show(undefined, true);
  return {
    update(done, note) {
      cur = done;
      show(note, done >= total);
    },
    tick(n = 1, note) {
      this.update(cur + n, note);
    },
    setTotal(t) {
      total = t;
    },
    done(note) {
      if (finished) return;
      finished = true;
      finish();
      show(note, true);
    },
  };
}

function terminalTask(label: string, total: number, unit: string, stream: NodeJS.WriteStream, finish: () => void): ProgressTask {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} [{bar}] {value}/{total}${unit && !isBytes(unit) ? ` ${unit}` : ''} {percentage}% {duration_formatted} {note}`,
      hideCursor: false,
      clearOnComplete: stream === process.stderr,
      ...(isBytes(unit) ? { formatValue: (v: number, _o: unknown, type: string) => (type === 'value' || type === 'total' ? formatBytes(v) : String(v)) } : {}),
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { note: '' });
  let cur = 0;
  let finished = false;
  return {
    update(done, note) {
      cur = done;
      bar.update(done, { note: note ?? '' });
    },
    tick(n = 1, note) {
      this.update(cur + n, note);
    },
    setTotal(t) {
      bar.setTotal(t);
    },
    done(note) {
      if (finished) return;
      finished = true;
      finish();
      bar.update(cur, { note: note ?? '' });
      bar.stop();
    },
  };
}

function startTask(label: string, total: number, options: ProgressOptions = {}): ProgressTask {
  const st = state();
  const unit = options.unit ?? '';
  if (process.env.CODECLLM_PROGRESS === '0') return silentTask(() => {});
  st.depth++;
  const finish = () => void (st.depth = Math.max(0, st.depth - 1));
  // Nested inside a running task (perplexity inside a sweep): counts for the nesting, shows nothing.
  if (st.depth > 1) return silentTask(finish);
  if (inKernel()) return kernelTask(label, total, unit, options.intervalMs ?? 250, finish);
  const stream = options.stream ?? process.stderr;
  if (stream.isTTY) return terminalTask(label, total, unit, stream, finish);
  return silentTask(finish);
}

/**
 * Start a progress task: a live bar in a notebook, a bar on stderr on a terminal, nothing elsewhere.
 * `progress(label, total, options)` and `progress.start(label, total, unit)` are the same thing.
 *
 * @example
 * const p = progress.start('quantize layers', layers.length, 'layers');
 * try { for (const l of layers) { quantize(l); p.tick(); } } finally { p.done(); }
 */
export const progress: {
  (label: string, total: number, options?: ProgressOptions): ProgressTask;
  /** Start a task of `total` units (e.g. 'tensors', 'tokens', 'B'). */
  start(label: string, total: number, unit?: string): ProgressTask;
  /** Forget running tasks (the kernel calls this when a cell starts). */
  reset(): void;
} = Object.assign((label: string, total: number, options?: ProgressOptions) => startTask(label, total, options), {
  start: (label: string, total: number, unit?: string) => startTask(label, total, { unit }),
  reset: () => state().reset(),
});
