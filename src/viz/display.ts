/**
 * Showing mime bundles: inside a tslab kernel (ours from kernel-ext/, or plain tslab) as Jupyter `display_data`
 * with every mime type of the bundle in one message; elsewhere as text/plain on stdout.
 *
 * tslab's public `display.raw(type, content)` sends one mime type per message, so it cannot send a bundle (the
 * frontend would show the JSON and the SVG twice). Its kernel keeps the current cell's message writer in
 * `tslab/dist/jupyter.js` (`lastWriteDisplayData(content, update)`), which takes a full `display_data` content;
 * kernel-ext/preload.cjs publishes that module under `Symbol.for('codecllm.kernel')`.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { MimeBundle } from './mime.js';

/** `display_data` content as the Jupyter messaging spec defines it. */
export interface DisplayContent {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  transient: { display_id?: string };
}

type WriteDisplayData = (content: DisplayContent, update: boolean) => void;

/** Key under which kernel-ext/preload.cjs publishes `{ jupyter }` (tslab's jupyter module of the running kernel). */
export const KERNEL_HOOK = Symbol.for('codecllm.kernel');

interface KernelHook {
  jupyter: { lastWriteDisplayData: WriteDisplayData | null };
}

let plainTslab: KernelHook['jupyter'] | null | undefined;

/** The current cell's display writer, or null outside a kernel. Looked up per call: tslab replaces it per cell. */
function writer(): WriteDisplayData | null {
  const hook = (globalThis as Record<symbol, unknown>)[KERNEL_HOOK] as KernelHook | undefined;
  if (hook?.jupyter) return hook.jupyter.lastWriteDisplayData ?? null;
  if ((globalThis as Record<string, unknown>).__tslab__ === undefined) return null;
  // Plain tslab kernel (not ours): its jupyter module, resolved the way tslab resolves itself.
  if (plainTslab === undefined) {
    try {
      plainTslab = createRequire(import.meta.url)('tslab/dist/jupyter.js') as KernelHook['jupyter'];
    } catch {
      plainTslab = null;
    }
  }
  return plainTslab?.lastWriteDisplayData ?? null;
}

/**
 * True when running inside a Jupyter kernel (tslab) that can show rich output.
 *
 * @example
 * if (!inKernel()) console.log('plain text only');
 */
export function inKernel(): boolean {
  return writer() !== null;
}

function isBundle(x: unknown): x is MimeBundle {
  return typeof x === 'object' && x !== null && typeof (x as MimeBundle)['text/plain'] === 'string';
}

/** Normalize a bundle for the wire: objects stay objects (JSON mime types), strings stay strings. */
function toData(bundle: MimeBundle): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(bundle)) if (v !== undefined) data[k] = v;
  return data;
}

function show(b: unknown): void {
  const mb: MimeBundle = isBundle(b) ? b : { 'text/plain': typeof b === 'string' ? b : (JSON.stringify(b) ?? String(b)) };
  const w = writer();
  if (w) w({ data: toData(mb), metadata: {}, transient: {} }, false);
  else process.stdout.write(mb['text/plain'] + '\n');
}

/**
 * Show a mime bundle: rich in a kernel, text/plain elsewhere. Given a promise (e.g. from `chart`), returns a
 * promise to await. Anything that is not a bundle is shown as text.
 *
 * @example
 * display(table(t));
 * await display(lineChart(rows, { x: 'step', y: 'loss' }));
 */
export function display(bundle: MimeBundle): void;
export function display(bundle: Promise<MimeBundle>): Promise<void>;
export function display(bundle: unknown): void | Promise<void>;
export function display(bundle: unknown): void | Promise<void> {
  if (bundle instanceof Promise) return bundle.then(show);
  show(bundle);
}

/**
 * A display that can be replaced in place (Jupyter `update_display_data`); outside a kernel each `update`
 * prints text/plain.
 *
 * @example
 * const d = displayHandle(); d.update(table(rows)); … d.update(table(moreRows));
 */
export function displayHandle(): { readonly id: string; update(bundle: MimeBundle): void } {
  const id = randomBytes(8).toString('hex');
  let shown = false;
  return {
    id,
    update(bundle: MimeBundle) {
      const w = writer();
      if (!w) {
        process.stdout.write(bundle['text/plain'] + '\n');
        return;
      }
      w({ data: toData(bundle), metadata: {}, transient: { display_id: id } }, shown);
      shown = true;
    },
  };
}
