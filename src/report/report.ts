/**
 * `codecllm report [notebooks…] --out DIR`: execute notebooks headless with the CodecLLM kernel and write one
 * static HTML page per notebook plus an index.html.
 *
 * Execution and HTML export are Jupyter's own tools (nbclient, nbconvert; see scripts/setup-report.sh), driven by
 * src/report/execute.py. The kernelspec is installed into a private temporary prefix put first on JUPYTER_PATH,
 * so a report never depends on (or changes) the user's installed kernels. Pages fetch nothing at view time:
 * chart SVGs are inline, and vega + vega-lite are inlined from node_modules to make charts interactive.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { err, msg } from '../messages.js';
import { installKernel, ownPackageRoot } from '../jupyter/install.js';
import { escapeHtml } from '../viz/mime.js';

/** Options of `runReport`. */
export interface ReportOptions {
  /** Python with nbclient/nbconvert. Default $PYTHON or python3. */
  python?: string;
  /** Per-cell timeout in seconds. Default 600. */
  timeoutS?: number;
  /** Inline vega + vega-lite so charts are interactive (static SVG stays as the fallback). Default true. */
  interactive?: boolean;
  /** Package root the kernel serves as `codecllm` (default: this package; tests pass a stand-in). */
  packageRoot?: string;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

/** One executed notebook. */
export interface ReportPage {
  notebook: string;
  title: string;
  html: string;
  ipynb: string;
  seconds: number;
  charts: number;
}

/** What `runReport` wrote. */
export interface ReportResult {
  outDir: string;
  index: string;
  pages: ReportPage[];
}

interface ExecResult {
  notebook: string;
  name: string;
  ok: boolean;
  title: string;
  kind?: 'error' | 'timeout';
  cell?: number;
  detail?: string;
  seconds: number;
  html: string;
  charts: number;
}

/** Folder of an installed package (its exports may hide package.json, so walk up from its entry). */
function packageDir(name: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.resolve(name)));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === name) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw err('E_REPORT', msg.fileNotFound(`${name}/package.json`));
    dir = up;
  }
}

/** The notebooks/ folder's .ipynb files (sorted), for a report run without arguments. */
export function defaultNotebooks(dir = 'notebooks'): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ipynb') && !f.startsWith('.'))
    .sort()
    .map((f) => path.join(dir, f));
}

function checkPython(python: string): void {
  const r = spawnSync(python, ['-c', 'import nbclient, nbconvert, nbformat, jupyter_client'], { encoding: 'utf8' });
  if (r.error) throw err('E_REPORT', msg.reportNoPython(python, r.error.message));
  if (r.status !== 0) throw err('E_REPORT', msg.reportNoPython(python, (r.stderr.trim().split('\n').pop() ?? '').trim()));
}

function runExecute(python: string, args: string[], env: NodeJS.ProcessEnv, log: (l: string) => void, names: Map<string, string>): Promise<{ results: ExecResult[]; code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const results: ExecResult[] = [];
    let out = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      let i: number;
      while ((i = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, i).trim();
        out = out.slice(i + 1);
        if (!line) continue;
        const r = JSON.parse(line) as ExecResult;
        results.push(r);
        log(`report: ${names.get(r.notebook) ?? r.notebook}: ${r.ok ? 'ok' : 'FAILED'} in ${r.seconds.toFixed(1)} s (${r.charts} charts)`);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-20000);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ results, code: code ?? 1, stderr }));
  });
}

function indexHtml(pages: ReportPage[], failed: ExecResult | undefined): string {
  const rows = pages
    .map(
      (p) =>
        `<li><a href="${escapeHtml(path.basename(p.html))}">${escapeHtml(p.title)}</a> ` +
        `<small>${escapeHtml(path.basename(p.notebook))} · ${p.seconds.toFixed(1)} s · ${p.charts} chart(s)</small></li>`,
    )
    .join('\n');
  const fail = failed
    ? `<p class="failed">FAILED: ${escapeHtml(path.basename(failed.notebook))}, cell ${failed.cell ?? '?'}: ${escapeHtml(failed.detail ?? failed.kind ?? '')}</p>`
    : '';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>codecllm report</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:860px;margin:2em auto;padding:0 1em}small{color:#666}.failed{color:#b00}</style>
</head><body>
<h1>codecllm report</h1>
<p>Generated ${escapeHtml(new Date().toISOString())} with Node ${escapeHtml(process.version)} on ${escapeHtml(process.platform)}/${escapeHtml(process.arch)}.</p>
${fail}<ol class="pages">
${rows}
</ol>
</body></html>
`;
}

/**
 * Execute `notebooks` with the CodecLLM kernel and write `<name>.html` (+ the executed `<name>.ipynb`) per
 * notebook and `index.html` into `outDir`. Stops at the first failing cell with E_REPORT
 * "<notebook>: cell <n> failed: <error line>" (n counts all cells from 1).
 *
 * @example
 * const r = await runReport(['notebooks/00-smoke.ipynb'], 'reports');
 * console.log(r.index); // reports/index.html
 */
export async function runReport(notebooks: string[], outDir: string, opts: ReportOptions = {}): Promise<ReportResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const python = opts.python ?? process.env.PYTHON ?? 'python3';
  if (notebooks.length === 0) throw err('E_REPORT', msg.reportNoNotebooks());
  for (const nb of notebooks) {
    if (!existsSync(nb)) throw err('E_IO', msg.fileNotFound(nb));
    if (!statSync(nb).isFile()) throw err('E_IO', msg.notAFile(nb));
  }
  checkPython(python);
  const own = ownPackageRoot();
  const out = path.resolve(outDir);
  mkdirSync(out, { recursive: true });

  const prefix = mkdtempSync(path.join(tmpdir(), 'codecllm-kernel-'));
  try {
    installKernel({ prefix, packageRoot: opts.packageRoot });
    const jupyterPath = [path.join(prefix, 'share', 'jupyter'), process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter);
    const args = [path.join(own, 'src', 'report', 'execute.py'), '--kernel', 'codecllm', '--out', out, '--timeout', String(opts.timeoutS ?? 600)];
    if (opts.interactive ?? true) {
      args.push('--vega-js', path.join(packageDir('vega'), 'build', 'vega.min.js'));
      args.push('--vega-js', path.join(packageDir('vega-lite'), 'build', 'vega-lite.min.js'));
    }
    args.push(...notebooks.map((n) => path.resolve(n)));
    const byPath = new Map(notebooks.map((n) => [path.resolve(n), n]));
    const { results, code, stderr } = await runExecute(python, args, { ...process.env, JUPYTER_PATH: jupyterPath }, log, byPath);

    const pages: ReportPage[] = results.map((r) => ({
      notebook: byPath.get(r.notebook) ?? r.notebook,
      title: r.title,
      html: r.html,
      ipynb: path.join(out, `${r.name}.ipynb`),
      seconds: r.seconds,
      charts: r.charts,
    }));
    const failed = results.find((r) => !r.ok);
    const index = path.join(out, 'index.html');
    writeFileSync(index, indexHtml(pages, failed));
    if (failed) {
      const nb = byPath.get(failed.notebook) ?? failed.notebook;
      throw err(
        'E_REPORT',
        failed.kind === 'timeout'
          ? msg.reportCellTimeout(nb, failed.cell ?? 0, opts.timeoutS ?? 600)
          : msg.reportCellError(nb, failed.cell ?? 0, failed.detail ?? 'error'),
      );
    }
    if (code !== 0 || results.length !== notebooks.length) {
      throw err('E_REPORT', msg.reportCellError(notebooks[results.length] ?? notebooks[0]!, 0, stderr.trim().split('\n').pop() ?? `exit ${code}`));
    }
    log(msg.reportWrote(out, pages.length));
    return { outDir: out, index, pages };
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
}

/**
 * Add `report [notebooks...] --out DIR` to a commander program (no notebooks: every notebooks/*.ipynb).
 *
 * @example
 * registerReportCommand(program); // codecllm report notebooks/00-smoke.ipynb --out reports
 */
export function registerReportCommand(program: Command): Command {
  return program
    .command('report')
    .description('execute notebooks headless with the CodecLLM kernel and write HTML pages + index.html')
    .argument('[notebooks...]', 'notebooks to run (default: notebooks/*.ipynb)')
    .option('--out <dir>', 'output folder', 'reports')
    .option('--timeout <seconds>', 'per-cell timeout', '600')
    .option('--no-interactive', 'static SVG charts only (do not inline vega)')
    .action(async (nbs: string[], o: { out: string; timeout: string; interactive: boolean }) => {
      const timeoutS = Number(o.timeout);
      if (!Number.isInteger(timeoutS) || timeoutS <= 0) throw err('E_ARG', msg.badArg('--timeout', `${o.timeout} (expected a positive integer)`));
      await runReport(nbs.length ? nbs : defaultNotebooks(), o.out, { timeoutS, interactive: o.interactive });
    });
}
