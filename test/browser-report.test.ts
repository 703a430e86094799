/**
 * The report in a real browser: runs `runReport` on notebooks/00-smoke.ipynb, opens index.html and each page in
 * headless Debian chromium (playwright-core, fresh profile, every non-file request blocked and recorded), and
 * asserts that every chart drew marks — both the interactive vega re-render and, with JavaScript off, the
 * static inline SVG — and that the page fetched nothing from the network. Saves screenshots to
 * reports/screenshots/ (and docs/img/report-smoke.png when absent or CODECLLM_UPDATE_DOCS_IMG=1).
 *
 * Needs: /usr/bin/chromium (apt-get install chromium) and Python nbclient/nbconvert (scripts/setup-report.sh).
 * Skipped with a printed reason when they are absent and CI is not set; under CI=true it must run.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type BrowserContext, chromium } from 'playwright-core';
import { runReport, type ReportResult } from '../src/report/report.js';
import { buildShimPackage, pythonWithNbclient, REPO } from './kernel-helpers.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const py = pythonWithNbclient();
const missing = [!existsSync(CHROMIUM) ? `${CHROMIUM} not found (apt-get install -y chromium)` : '', 'missing' in py ? py.missing : '']
  .filter(Boolean)
  .join('; ');
const skip = missing && !process.env.CI ? `skipped: ${missing}` : false;
if (skip) console.log(`browser-report: ${skip}`);

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

let report: ReportResult;
let ctx: BrowserContext;
let ctxNoJs: BrowserContext;
const external: string[] = [];

async function launch(javaScriptEnabled: boolean): Promise<BrowserContext> {
  const profile = mkdtempSync(path.join(tmpdir(), 'codecllm-chromium-'));
  const c = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: ARGS, javaScriptEnabled, viewport: { width: 1000, height: 800 },
  });
  await c.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:') || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    external.push(url);
    return route.abort();
  });
  return c;
}

/** Data marks (vega's role-mark groups) of every chart on the page, in order. */
function markCounts(): Promise<number[]> {
  return ctxPage.evaluate(() =>
    [...document.querySelectorAll('.codecllm-chart')].map((el) => {
      const svg = el.querySelector('svg');
      if (!svg || svg.getBoundingClientRect().width === 0) return 0;
      return svg.querySelectorAll('g.role-mark path, g.role-mark rect, g.role-mark line, g.role-mark circle').length;
    }),
  );
}
let ctxPage: import('playwright-core').Page;

before(async () => {
  if (skip) return;
  const out = mkdtempSync(path.join(tmpdir(), 'codecllm-report-'));
  const t0 = performance.now();
  report = await runReport([path.join(REPO, 'notebooks', '00-smoke.ipynb')], out, { packageRoot: buildShimPackage(), log: () => {} });
  console.log(`browser-report: report built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  ctx = await launch(true);
  ctxNoJs = await launch(false);
});

after(async () => {
  await ctx?.close();
  await ctxNoJs?.close();
});

test('index.html lists every page', { skip }, async () => {
  ctxPage = await ctx.newPage();
  await ctxPage.goto(pathToFileURL(report.index).href);
  const links = await ctxPage.$$eval('ol.pages a', (as) => as.map((a) => a.getAttribute('href')));
  assert.deepEqual(links, report.pages.map((p) => path.basename(p.html)));
  assert.equal(await ctxPage.$$eval('.failed', (e) => e.length), 0);
});

test('every chart draws marks, interactively (vega) and statically (no JS); nothing is fetched', { skip }, async () => {
  const shots = path.join(REPO, 'reports', 'screenshots');
  mkdirSync(shots, { recursive: true });
  for (const page of report.pages) {
    assert.ok(page.charts >= 3, `${page.notebook}: expected the smoke charts, got ${page.charts}`);
    // interactive: vega re-renders each chart in place
    ctxPage = await ctx.newPage();
    const errors: string[] = [];
    ctxPage.on('pageerror', (e) => errors.push(String(e)));
    await ctxPage.goto(pathToFileURL(page.html).href);
    await ctxPage.waitForFunction((n) => document.querySelectorAll('.codecllm-chart[data-rendered="vega"]').length === n, page.charts, { timeout: 20000 });
    const live = await markCounts();
    assert.equal(live.length, page.charts);
    assert.ok(live.every((n) => n > 0), `${page.notebook}: interactive charts without marks: ${JSON.stringify(live)}`);
    assert.deepEqual(errors, []);
    assert.equal(await ctxPage.$$eval('table.codecllm-table', (e) => e.length), 1);
    assert.equal(await ctxPage.$$eval('.codecllm-tensor', (e) => e.length), 1);
    const png = path.join(shots, `${path.basename(page.html, '.html')}.png`);
    await ctxPage.screenshot({ path: png, fullPage: true });
    assert.ok(statSync(png).size > 10_000);
    if (path.basename(page.html) === '00-smoke.html') {
      const doc = path.join(REPO, 'docs', 'img', 'report-smoke.png');
      if (!existsSync(doc) || process.env.CODECLLM_UPDATE_DOCS_IMG === '1') {
        mkdirSync(path.dirname(doc), { recursive: true });
        await ctxPage.screenshot({ path: doc, fullPage: true, clip: await clipCharts() });
      }
    }
    // static: the inline SVG alone (what GitHub-like viewers and JS-less readers get)
    ctxPage = await ctxNoJs.newPage();
    await ctxPage.goto(pathToFileURL(page.html).href);
    const stat = await markCounts();
    assert.equal(stat.length, page.charts);
    assert.ok(stat.every((n) => n > 0), `${page.notebook}: static charts without marks: ${JSON.stringify(stat)}`);
  }
  assert.deepEqual(external, [], 'pages must not fetch anything at view time');
});

/** Page region from the first chart to the end of the table (README image: a line chart, a bar chart, a table). */
async function clipCharts() {
  await ctxPage.evaluate(() => window.scrollTo(0, 0));
  const first = await ctxPage.locator('.codecllm-chart').first().boundingBox();
  const tbl = await ctxPage.locator('table.codecllm-table').first().boundingBox();
  assert.ok(first && tbl);
  const y = Math.max(0, first.y - 10);
  return { x: 60, y, width: 720, height: Math.min(1100, tbl.y + tbl.height + 10 - y) };
}
