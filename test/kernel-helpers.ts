/**
 * Test support for the kernel / report tests: a throw-away "codecllm" package root whose entry is the compiled
 * src/viz (tsc with declarations), so notebooks can `import … from "codecllm"` before the full library's dist/
 * exists. Its node_modules is a link to this repo's, so vega, arquero and tslab resolve as in the real package.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

let shim: string | undefined;

/** Build a package root serving src/viz as `codecllm`, cached in the temp folder by a hash of the sources. */
export function buildShimPackage(): string {
  if (shim) return shim;
  const h = createHash('sha256');
  for (const dir of ['src/viz', 'src']) {
    for (const f of readdirSync(path.join(REPO, dir)).sort()) {
      if (f.endsWith('.ts') && (dir === 'src/viz' || f === 'messages.ts')) h.update(f).update(readFileSync(path.join(REPO, dir, f)));
    }
  }
  const final = path.join(tmpdir(), `codecllm-shim-${h.digest('hex').slice(0, 16)}`);
  if (existsSync(path.join(final, 'package.json'))) return (shim = final);
  const dir = mkdtempSync(path.join(tmpdir(), 'codecllm-shim-build-'));
  const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(
    process.execPath,
    [tsc, path.join(REPO, 'src', 'viz', 'index.ts'), '--outDir', path.join(dir, 'dist'), '--rootDir', REPO, '--declaration',
      '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck',
      '--esModuleInterop', '--types', 'node'],
    { stdio: 'inherit' },
  );
  symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'codecllm', version: '0.0.0-test', type: 'module', main: './dist/src/viz/index.js', types: './dist/src/viz/index.d.ts' }),
  );
  try {
    renameSync(dir, final); // atomic: parallel test files race here, the first one wins
  } catch {
    rmSync(dir, { recursive: true, force: true });
  }
  return (shim = final);
}

/** Python with nbclient + nbconvert, or null (with the reason) when absent. */
export function pythonWithNbclient(): { python: string } | { missing: string } {
  const python = process.env.PYTHON ?? 'python3';
  const r = spawnSync(python, ['-c', 'import nbclient, nbconvert, nbformat, jupyter_client'], { encoding: 'utf8' });
  if (r.status === 0) return { python };
  return { missing: `${python} lacks nbclient/nbconvert (${(r.stderr || String(r.error)).trim().split('\n').pop()}): run bash scripts/setup-report.sh` };
}
