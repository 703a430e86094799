/**
 * `codecllm kernel install`: register the "CodecLLM (TypeScript)" Jupyter kernelspec.
 *
 * The kernelspec runs kernel-ext/kernel.cjs (our Jupyter messaging around tslab 1.0.22's compiler) with the node binary that ran the
 * installer, so Jupyter needs no node on its PATH. Where it goes follows Jupyter's own layout:
 *   --user      → $JUPYTER_DATA_DIR or ~/.local/share/jupyter (macOS: ~/Library/Jupyter) + /kernels/codecllm
 *   --prefix P  → P/share/jupyter/kernels/codecllm (e.g. a venv's sys.prefix)
 * No Python is needed to install; `jupyter kernelspec list` shows it afterwards.
 */
import { io } from '../util/io.js';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { err, msg } from '../messages.js';

/** Kernel name (folder under kernels/) and display name. */
export const KERNEL_NAME = 'codecllm';
export const KERNEL_DISPLAY_NAME = 'CodecLLM (TypeScript)';

/** Options of `installKernel`. */
export interface InstallKernelOptions {
  /** Install into the per-user Jupyter data folder (the default when no prefix is given). */
  user?: boolean;
  /** Install into PREFIX/share/jupyter/kernels. */
  prefix?: string;
  /** Package root the kernel serves (default: this package). Cells' `codecllm` resolves to its package.json main/types. */
  packageRoot?: string;
  /** Node binary the kernel runs with (default: the current one). */
  node?: string;
  /** Kernel folder name (default 'codecllm'); tests use their own. */
  name?: string;
}

/** What `installKernel` wrote. */
export interface InstalledKernel {
  /** The kernelspec folder (…/kernels/<name>). */
  dir: string;
  /** The kernel.json content. */
  spec: KernelSpec;
}

/** A Jupyter kernelspec (kernel.json). */
export interface KernelSpec {
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode: 'signal';
  env?: Record<string, string>;
  metadata: { codecllm: { version: string; packageRoot: string } };
}

/** Root of this package (the folder with package.json, above src/ or dist/src/). */
export function ownPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'codecllm') return dir;
      } catch {
        /* not ours: keep walking up */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw err('E_KERNEL', msg.kernelNoTslab(path.dirname(fileURLToPath(import.meta.url))));
    dir = up;
  }
}

/** Jupyter's per-user data folder, as jupyter_core.paths.jupyter_data_dir() computes it. */
export function jupyterUserDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.JUPYTER_DATA_DIR) return path.resolve(env.JUPYTER_DATA_DIR);
  const home = env.HOME || homedir();
  if (platform === 'darwin') return path.join(home, 'Library', 'Jupyter');
  if (platform === 'win32') return path.join(env.APPDATA || path.join(home, 'AppData', 'Roaming'), 'jupyter');
  return path.join(env.XDG_DATA_HOME || path.join(home, '.local', 'share'), 'jupyter');
}

/**
 * The kernel.json for a package root.
 *
 * @example
 * kernelSpec('/opt/codecllm').argv // ['/usr/bin/node', '/opt/codecllm/kernel-ext/kernel.cjs', '--config-path', '{connection_file}']
 */
export function kernelSpec(packageRoot: string, node = process.execPath): KernelSpec {
  const own = ownPackageRoot();
  const root = path.resolve(packageRoot);
  const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  const spec: KernelSpec = {
    argv: [node, path.join(own, 'kernel-ext', 'kernel.cjs'), '--config-path', '{connection_file}'],
    display_name: KERNEL_DISPLAY_NAME,
    language: 'typescript',
    interrupt_mode: 'signal',
    metadata: { codecllm: { version, packageRoot: root } },
  };
  if (root !== own) spec.env = { CODECLLM_PACKAGE_ROOT: root };
  return spec;
}

/**
 * Write the kernelspec; returns where. Overwrites an existing one of the same name.
 *
 * @example
 * installKernel({ user: true }); // ~/.local/share/jupyter/kernels/codecllm/kernel.json
 * installKernel({ prefix: process.env.VIRTUAL_ENV });
 */
export function installKernel(opts: InstallKernelOptions = {}): InstalledKernel {
  const own = ownPackageRoot();
  try {
    import.meta.resolve('tslab/package.json');
  } catch {
    throw err('E_KERNEL', msg.kernelNoTslab(own));
  }
  if (opts.user && opts.prefix) throw err('E_ARG', msg.badArg('kernel install', '--user and --prefix are exclusive'));
  const base = opts.prefix ? path.join(path.resolve(opts.prefix), 'share', 'jupyter') : jupyterUserDataDir();
  const dir = path.join(base, 'kernels', opts.name ?? KERNEL_NAME);
  const spec = kernelSpec(opts.packageRoot ?? own, opts.node);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'kernel.json'), JSON.stringify(spec, null, 2) + '\n');
  return { dir, spec };
}

/**
 * Add `kernel install [--user | --prefix P]` to a commander program.
 *
 * @example
 * registerKernelCommand(program); // codecllm kernel install --user
 */
export function registerKernelCommand(program: Command): Command {
  const kernel = program.command('kernel').description('Jupyter kernel (tslab + codecllm)');
  kernel
    .command('install')
    .description(`register the "${KERNEL_DISPLAY_NAME}" Jupyter kernelspec`)
    .option('--user', 'install into the per-user Jupyter data folder (default)')
    .option('--prefix <dir>', 'install into DIR/share/jupyter/kernels (e.g. a virtualenv)')
    .action((o: { user?: boolean; prefix?: string }) => {
      const { dir } = installKernel({ user: o.user, prefix: o.prefix });
      io.out(msg.kernelInstalled(dir) + '\n');
    });
  return kernel;
}
