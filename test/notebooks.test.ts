/**
 * The project's notebooks end to end: `runReport` executes every notebook in notebooks/ (EXPECTED below) with the real
 * CodecLLM kernel and the compiled library (dist/, `npm run build`), on the default model (`make setup`), and then
 * headless Debian chromium (playwright-core) opens every page and checks that
 *   - the report wrote one page per notebook plus index.html, with no failed cell (runReport throws on any),
 *   - no cell wrote to stderr (a warning or an error printed by a cell that did not throw),
 *   - every notebook shows computed findings (a text/markdown display output) next to its charts,
 *   - every chart drew marks: statically (the inline SVG, JavaScript off) and interactively (vega re-render),
 *   - no page fetches anything from the network.
 * Screenshots of every page go to reports/screenshots/<notebook>.png.
 *
 * Slow (about 6–7 minutes on a 2-core machine: the notebooks run real models). Needs python3 with nbclient and
 * nbconvert (scripts/setup-report.sh), /usr/bin/chromium, dist/ and data/models/. Skipped with a printed reason when
 * one is missing and CI is not set; under CI=true it must run.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { defaultNotebooks, runReport, type ReportResult } from '../src/report/report.js';
import { pythonWithNbclient, REPO } from './kernel-helpers.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const NOTEBOOKS = defaultNotebooks(path.join(REPO, 'notebooks'));
const EXPECTED = ['00-smoke', '01-quantization-roundtrip', '02-progressive-compression', '03-all-vs-partial', '04-debug-matrix-and-faults',
  '05-codec-shootout', '06-gpu-speed-vram', '07-real-model-sizes', '08-gemma-vs-smollm2', '09-compressed-weights'];
const MODEL = path.join(process.env.CODECLLM_DATA ?? path.join(REPO, 'data'), 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');
// notebook 08 compares the two default families
const GEMMA = path.join(process.env.CODECLLM_DATA ?? path.join(REPO, 'data'), 'models', 'gemma-3-270m-q4_k_m.gguf');
const py = pythonWithNbclient();
const missing = [
  !existsSync(CHROMIUM) ? `${CHROMIUM} not found (apt-get install -y chromium)` : '',
  'missing' in py ? py.missing : '',
  !existsSync(path.join(REPO, 'dist', 'src', 'index.js')) ? 'dist/ not built (npm run build)' : '',
  !existsSync(MODEL) ? `${MODEL} not found (make setup)` : '',
  !existsSync(GEMMA) ? `${GEMMA} not found (make setup)` : '',
].filter(Boolean).join('; ');
const skip = missing && !process.env.CI ? `skipped: ${missing}` : false;
if (skip) console.log(`notebooks: ${skip}`);

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

let report: ReportResult;
let browser: Browser;
const external: string[] = [];

before(async () => {
  if (skip) return;
  const out = mkdtempSync(path.join(tmpdir(), 'codecllm-notebooks-'));
  const t0 = performance.now();
  report = await runReport(NOTEBOOKS, out, { timeoutS: 600, log: (l) => console.log(l) });
  console.log(`notebooks: ${report.pages.length} notebooks executed in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
});

after(async () => {
  await browser?.close();
});

test('notebooks/ holds the expected notebooks, in order', () => {
  assert.deepEqual(NOTEBOOKS.map((n) => path.basename(n, '.ipynb')), EXPECTED);
});

test('one page per notebook and an index; no cell wrote to stderr; findings shown', { skip }, () => {
  assert.deepEqual(report.pages.map((p) => path.basename(p.html, '.html')), EXPECTED);
  assert.ok(existsSync(report.index));
  for (const p of report.pages) {
    assert.ok(statSync(p.html).size > 10_000, `${p.html} is suspiciously small`);
    const nb = JSON.parse(readFileSync(p.ipynb, 'utf8')) as { cells: { cell_type: string; outputs?: { output_type: string; name?: string; text?: string | string[]; data?: Record<string, unknown> }[] }[] };
    const outputs = nb.cells.flatMap((c) => c.outputs ?? []);
    const stderr = outputs.filter((o) => o.output_type === 'stream' && o.name === 'stderr').map((o) => [o.text].flat().join(''));
    assert.deepEqual(stderr, [], `${p.notebook}: cells wrote to stderr`);
    assert.equal(outputs.filter((o) => o.output_type === 'error').length, 0, `${p.notebook}: error outputs`);
    if (!p.notebook.endsWith('00-smoke.ipynb')) {
      const markdown = outputs.filter((o) => o.data && typeof o.data['text/markdown'] !== 'undefined');
      assert.ok(markdown.length >= 1, `${p.notebook}: no computed findings (text/markdown display) in the outputs`);
    }
    assert.ok(p.charts >= 1, `${p.notebook}: no charts`);
  }
});

/** Drawn data marks of every chart on the page (vega's role-mark groups), in order; 0 for a chart without a drawn SVG. */
function markCounts(page: import('playwright-core').Page): Promise<number[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('.codecllm-chart')].map((el) => {
      const svg = el.querySelector('svg');
      if (!svg || svg.getBoundingClientRect().width === 0) return 0;
      // only marks that occupy space count: a mark with NaN geometry (e.g. a bar on a log scale from 0) draws nothing
      return [...svg.querySelectorAll('g.role-mark path, g.role-mark rect, g.role-mark line, g.role-mark circle')].filter((m) => {
        const r = m.getBoundingClientRect();
        return r.width > 0 || r.height > 0;
      }).length;
    }),
  );
}

test('every chart of every page draws marks, statically and with vega; nothing is fetched', { skip }, async () => {
  const shots = path.join(REPO, 'reports', 'screenshots');
  mkdirSync(shots, { recursive: true });
  for (const javaScriptEnabled of [false, true]) {
    const ctx = await browser.newContext({ javaScriptEnabled, viewport: { width: 1000, height: 800 } });
    await ctx.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:') || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
      external.push(url);
      return route.abort();
    });
    for (const p of report.pages) {
      const page = await ctx.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(pathToFileURL(p.html).href);
      if (javaScriptEnabled) {
        await page.waitForFunction(
          (n) => document.querySelectorAll('.codecllm-chart[data-rendered="vega"], .codecllm-chart[data-render-error]').length === n,
          p.charts,
          { timeout: 30000 },
        );
        const renderErrors = await page.$$eval('.codecllm-chart[data-render-error]', (els) => els.map((e) => e.getAttribute('data-render-error')));
        assert.deepEqual(renderErrors, [], `${p.notebook}: vega could not re-render`);
        assert.deepEqual(errors, [], `${p.notebook}: page errors`);
      }
      const marks = await markCounts(page);
      assert.equal(marks.length, p.charts, `${p.notebook}: chart count`);
      assert.ok(marks.every((n) => n > 0), `${p.notebook} (${javaScriptEnabled ? 'vega' : 'static SVG'}): charts without marks: ${JSON.stringify(marks)}`);
      if (javaScriptEnabled) {
        const png = path.join(shots, `${path.basename(p.html, '.html')}.png`);
        await page.screenshot({ path: png, fullPage: true });
        assert.ok(statSync(png).size > 10_000);
      }
      await page.close();
    }
    await ctx.close();
  }
  assert.deepEqual(external, [], 'pages must not fetch anything at view time');
});
