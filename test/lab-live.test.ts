/**
 * The notebook experience, live (issue 15): JupyterLab (pip, pinned in scripts/setup-report.sh) on 127.0.0.1 with a
 * random free port and a token, our kernel installed for it, Debian's chromium through playwright-core opening
 * test/fixtures/live.ipynb and running all cells. Asserts what a user sees:
 *   - the kernel picker names "CodecLLM (TypeScript)";
 *   - the kernel status is Busy from "Run All" until the last cell is done, and never Idle while a cell still
 *     waits or runs ([*]) for longer than a frame (tslab said Idle while queued cells ran);
 *   - every vega-lite chart is rendered by JupyterLab's vega-embed (not the SVG fallback), the table is there,
 *     the progress bar reaches 100%;
 *   - the failing cell shows an error output with our one-line message, and the saved notebook has an `error`
 *     output (ename/evalue) and an execution_count on every code cell.
 * Screenshots: reports/screenshots/lab-*.png (git-ignored, CI artifacts); docs/img/lab-*.png when absent or with
 * CODECLLM_UPDATE_DOCS_IMG=1. Uses the viz-only shim package (test/kernel-helpers.ts), so dist/ is not needed.
 *
 * Needs python3 with jupyterlab and /usr/bin/chromium (bash scripts/setup-report.sh). Skipped with a printed reason
 * when missing and CI is not set; under CI=true it must run.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { installKernel, KERNEL_DISPLAY_NAME } from '../src/jupyter/install.js';
import { msg } from '../src/messages.js';
import { buildShimPackage, REPO } from './kernel-helpers.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const PYTHON = process.env.PYTHON ?? 'python3';
const lab = spawnSync(PYTHON, ['-c', 'import jupyterlab, jupyter_server; print(jupyterlab.__version__)'], { encoding: 'utf8' });
const missing = [
  !existsSync(CHROMIUM) ? `${CHROMIUM} not found (apt-get install -y chromium)` : '',
  lab.status !== 0 ? `${PYTHON} lacks jupyterlab (bash scripts/setup-report.sh)` : '',
].filter(Boolean).join('; ');
const skip = missing && !process.env.CI ? `skipped: ${missing}` : false;
if (skip) console.log(`lab-live: ${skip}`);

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SHOTS = path.join(REPO, 'reports', 'screenshots');
const DEBUG = process.env.CODECLLM_LAB_DEBUG === '1';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

let server: ChildProcess | undefined;
let serverLog = '';
let browser: Browser | undefined;
let page: Page;
let root: string;
let base: string;
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

before(async () => {
  if (skip) return;
  const tmp = mkdtempSync(path.join(tmpdir(), 'codecllm-lab-'));
  root = path.join(tmp, 'root');
  mkdirSync(root);
  copyFileSync(path.join(REPO, 'test', 'fixtures', 'live.ipynb'), path.join(root, 'live.ipynb'));
  installKernel({ prefix: path.join(tmp, 'prefix'), packageRoot: buildShimPackage() });
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const env = {
    ...process.env,
    JUPYTER_PATH: path.join(tmp, 'prefix', 'share', 'jupyter'),
    JUPYTER_CONFIG_DIR: path.join(tmp, 'config'),
    JUPYTER_DATA_DIR: path.join(tmp, 'data'),
    JUPYTER_RUNTIME_DIR: path.join(tmp, 'runtime'),
    JUPYTERLAB_SETTINGS_DIR: path.join(tmp, 'settings'),
    JUPYTERLAB_WORKSPACES_DIR: path.join(tmp, 'workspaces'),
  };
  server = spawn(
    PYTHON,
    ['-m', 'jupyterlab', '--no-browser', `--ServerApp.ip=127.0.0.1`, `--ServerApp.port=${port}`, '--ServerApp.port_retries=0',
      `--IdentityProvider.token=${token}`, `--ServerApp.root_dir=${root}`, '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate', '--LabApp.extension_manager=readonly',
      '--ServerApp.terminals_enabled=False', ...(process.getuid?.() === 0 ? ['--allow-root'] : [])],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  server.stdout!.on('data', (d) => (serverLog += d));
  server.stderr!.on('data', (d) => (serverLog = (serverLog + d).slice(-50_000)));
  base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`${base}/api/status?token=${token}`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (i > 300 || server.exitCode !== null) throw new Error(`jupyterlab did not start:\n${serverLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log(`lab-live: JupyterLab ${lab.stdout.trim()} up at ${elapsed()}`);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  await ctx.route('**/*', (route) => (route.request().url().startsWith(base) || route.request().url().startsWith('data:') ? route.continue() : route.abort()));
  page = await ctx.newPage();
  await page.goto(`${base}/lab/tree/live.ipynb?token=${token}`);
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => {
      const timer = setTimeout(() => (server!.kill('SIGKILL'), r(null)), 10_000);
      server!.once('exit', () => (clearTimeout(timer), r(null)));
    });
  }
  if (DEBUG) console.log(serverLog.slice(-5000));
});

/** One observation of what the user sees: the status bar's kernel status and how many cells show [*]. */
interface Seen { t: number; status: string; running: number }

let log: Seen[] = [];
let runStart = 0;
let connectS = 0;

test('the notebook opens with our kernel: picker names it, status reaches Idle', { skip }, async () => {
  const t = performance.now();
  // the kernel's status as the status bar shows it, from the page opening to Idle (for the log: where time goes)
  const seen: string[] = [];
  for (let last = ''; ; ) {
    const bar = await page.evaluate(() => document.querySelector('#jp-main-statusbar')?.textContent ?? '');
    const st = bar.includes(KERNEL_DISPLAY_NAME) ? (/\| (\w+?)(?=[A-Z]|\d|$)/.exec(bar)?.[1] ?? '?') : 'no kernel yet';
    if (st !== last) seen.push(`${st} at ${((performance.now() - t) / 1000).toFixed(1)} s`), (last = st);
    if (st === 'Idle') break;
    assert.ok(performance.now() - t < 120_000, `no Idle kernel after 120 s: ${seen.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  connectS = (performance.now() - t) / 1000;
  console.log(`lab-live: after the page opened: ${seen.join(', ')} (${elapsed()})`);
  assert.equal((await page.locator('[data-jp-item-name="kernelName"]').innerText()).trim(), KERNEL_DISPLAY_NAME);
  const no = page.locator('.jp-toast-button', { hasText: 'No' });
  if (await no.count()) await no.first().click(); // JupyterLab's "get notified about news?" toast
});

test('Run All: Busy until the last cell is done, never Idle while cells wait; every cell numbered', { skip }, async () => {
  // a string, not a function: tsx would wrap named inner functions in a helper the page does not have
  await page.evaluate(`(() => {
    window.__seen = [];
    const look = () => {
      const bar = document.querySelector('#jp-main-statusbar')?.textContent ?? '';
      const status = /\\| (Idle|Busy|Connecting|Starting|Restarting|Initializing|Reconnecting|Disconnected|Unknown|Dead|Terminating)/.exec(bar)?.[1] ?? '?';
      const running = [...document.querySelectorAll('.jp-Notebook .jp-InputArea-prompt')].filter((p) => p.textContent?.includes('*')).length;
      const last = window.__seen.at(-1);
      if (!last || last.status !== status || last.running !== running) window.__seen.push({ t: performance.now(), status, running });
    };
    new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    look();
  })()`);
  runStart = await page.evaluate(() => performance.now());
  await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Run$/ }).click();
  await page.locator('.lm-Menu-itemLabel', { hasText: /^Run All Cells$/ }).click();
  const codeCells = await page.locator('.jp-Notebook .jp-CodeCell').count();
  await page.waitForFunction(
    (n) => {
      const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')].map((p) => p.textContent ?? '');
      return prompts.length === n && prompts.every((p) => /\[\d+\]/.test(p)) && /\| Idle/.test(document.querySelector('#jp-main-statusbar')?.textContent ?? '');
    },
    codeCells,
    { timeout: 120_000 },
  );
  log = await page.evaluate(() => (window as unknown as { __seen: Seen[] }).__seen);
  console.log(`lab-live: all cells ran at ${elapsed()}; status seen: ${log.map((s) => `${s.status}/${s.running}`).join(' ')}`);
  const prompts = await page.locator('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt').allInnerTexts();
  assert.deepEqual(prompts.map((p) => p.replace(/\s/g, '')), prompts.map((_, i) => `[${i + 1}]:`));
  const during = log.filter((s) => s.t >= runStart);
  assert.ok(during.some((s) => s.status === 'Busy'), 'the status showed Busy');
  assert.deepEqual({ status: during.at(-1)!.status, running: during.at(-1)!.running }, { status: 'Idle', running: 0 });
  // Idle while cells still show [*]: at most a frame between one cell's idle and the next one's busy. Before the
  // first Busy the requests are still on their way (Lab marks every cell [*] at the click; the kernel can only say
  // busy once the first execute_request reaches it): that delivery delay is bounded separately (measured 0.59 s on a
  // quiet 2-core machine, 2026-12-02).
  const firstBusy = during.findIndex((s) => s.status === 'Busy');
  for (let i = 0; i < during.length - 1; i++) {
    const s = during[i]!;
    if (s.status === 'Idle' && s.running > 0) {
      const ms = during[i + 1]!.t - s.t;
      const bound = i < firstBusy ? 3000 : 250;
      assert.ok(ms < bound, `status Idle for ${ms.toFixed(0)} ms while ${s.running} cells waited${i < firstBusy ? ' (before the first request reached the kernel)' : ''}: ${JSON.stringify(during)}`);
    }
  }
});

test('outputs: vega-embed charts (not the SVG fallback), the table, progress at 100%, the error as one line', { skip }, async () => {
  if (DEBUG) console.log(await page.evaluate(() => [...document.querySelectorAll('.jp-OutputArea-output')].map((e) => `${e.getAttribute('data-mime-type')} ${e.className}`).join('\n')));
  const vega = page.locator('.jp-OutputArea-output.jp-RenderedVegaLite');
  assert.equal(await vega.count(), 2);
  for (let i = 0; i < 2; i++) {
    const el = vega.nth(i);
    await el.locator('.vega-embed canvas, .vega-embed svg').first().waitFor({ timeout: 30_000 });
    const box = await el.locator('.vega-embed canvas, .vega-embed svg').first().boundingBox();
    assert.ok(box && box.width > 200 && box.height > 100, `chart ${i}: ${JSON.stringify(box)}`);
    assert.equal(await el.locator('.vega-embed details, .vega-embed .vega-actions').count() > 0, true, `chart ${i}: no vega-embed actions menu`);
  }
  assert.equal(await page.locator('.jp-OutputArea-output.jp-RenderedSVG, .jp-OutputArea-output[data-mime-type="image/svg+xml"]').count(), 0, 'no chart fell back to its SVG');
  const rows = await page.locator('table.codecllm-table tbody tr').count();
  assert.equal(rows, 6);
  const bar = page.locator('.codecllm-progress').last();
  assert.deepEqual(await bar.locator('progress').evaluate((p: HTMLProgressElement) => [p.value, p.max]), [20, 20]);
  assert.match(await bar.innerText(), /steps\s+20\/20 steps \(100%\)/);
  const err = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
  assert.equal(await err.count(), 1, 'one error output, nothing else on stderr');
  const text = (await err.innerText()).trim();
  assert.equal(text.split('\n')[0], `CodecLLMError: ${msg.vizNotTensor('string')} [E_ARG]`);
  assert.match(text, /at cell line 1: tensorSummary\("not a tensor" as any\);/);
  assert.ok(text.split('\n').length <= 3, text);

  mkdirSync(SHOTS, { recursive: true });
  const shot = async (name: string, target: import('playwright-core').Locator) => {
    await target.scrollIntoViewIfNeeded();
    await page.waitForTimeout(300);
    const file = path.join(SHOTS, `lab-${name}.png`);
    await page.screenshot({ path: file });
    const doc = path.join(REPO, 'docs', 'img', `lab-${name}.png`);
    if (!existsSync(doc) || process.env.CODECLLM_UPDATE_DOCS_IMG === '1') copyFileSync(file, doc);
  };
  await shot('charts', vega.first());
  await shot('error', err);
});

test('the saved notebook: an error output with ename/evalue, an execution_count on every code cell', { skip }, async () => {
  await page.locator('.lm-MenuBar-itemLabel', { hasText: /^File$/ }).click();
  await page.locator('.lm-Menu-itemLabel', { hasText: /^Save Notebook$/ }).click();
  type Nb = { cells: { cell_type: string; execution_count?: number | null; outputs?: { output_type: string; ename?: string; evalue?: string }[] }[] };
  let nb: Nb | undefined;
  for (let i = 0; i < 100; i++) {
    try {
      nb = JSON.parse(readFileSync(path.join(root, 'live.ipynb'), 'utf8')) as Nb;
      if (nb.cells.some((c) => c.execution_count)) break;
    } catch {
      /* being written */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const code = nb!.cells.filter((c) => c.cell_type === 'code');
  assert.deepEqual(code.map((c) => c.execution_count), code.map((_, i) => i + 1));
  const errors = code.flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === 'error');
  assert.deepEqual(errors.map((o) => [o.ename, o.evalue]), [['CodecLLMError', `${msg.vizNotTensor('string')} [E_ARG]`]]);
  assert.ok(performance.now() - t0 < 180_000, `the live test took ${elapsed()}`);
  console.log(`lab-live: done at ${elapsed()}`);
});
