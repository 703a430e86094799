import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Command } from 'commander';
import { installKernel, jupyterUserDataDir, registerKernelCommand } from '../src/jupyter/install.js';
import { CodecLLMError, msg } from '../src/messages.js';
import { pythonWithNbclient, REPO } from './kernel-helpers.js';

const tmp = (p: string) => mkdtempSync(path.join(tmpdir(), p));

test('installKernel --prefix writes the kernelspec Jupyter expects', () => {
  const prefix = tmp('codecllm-kp-');
  const r = installKernel({ prefix });
  assert.equal(r.dir, path.join(prefix, 'share', 'jupyter', 'kernels', 'codecllm'));
  const spec = JSON.parse(readFileSync(path.join(r.dir, 'kernel.json'), 'utf8'));
  const version = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version;
  assert.deepEqual(spec, {
    argv: [process.execPath, path.join(REPO, 'kernel-ext', 'kernel.cjs'), '--config-path', '{connection_file}'],
    display_name: 'CodecLLM (TypeScript)',
    language: 'typescript',
    interrupt_mode: 'signal',
    metadata: { codecllm: { version, packageRoot: REPO } },
  });
});

test('installKernel with another package root passes it to the kernel in env', () => {
  const prefix = tmp('codecllm-kp-');
  const r = installKernel({ prefix, packageRoot: REPO + path.sep + '.', name: 'x' });
  assert.equal(r.spec.env, undefined, 'same root: no env');
  const other = tmp('codecllm-root-');
  spawnSync('sh', ['-c', `echo '{"name":"codecllm","version":"9.9.9"}' > ${other}/package.json`]);
  const r2 = installKernel({ prefix, packageRoot: other, name: 'y' });
  assert.deepEqual(r2.spec.env, { CODECLLM_PACKAGE_ROOT: other });
  assert.equal(r2.spec.metadata.codecllm.version, '9.9.9');
});

test('user folder follows jupyter_core: JUPYTER_DATA_DIR, XDG_DATA_HOME, ~/.local/share/jupyter, macOS', () => {
  assert.equal(jupyterUserDataDir({ JUPYTER_DATA_DIR: '/j' }, 'linux'), '/j');
  assert.equal(jupyterUserDataDir({ HOME: '/h', XDG_DATA_HOME: '/x' }, 'linux'), '/x/jupyter');
  assert.equal(jupyterUserDataDir({ HOME: '/h' }, 'linux'), '/h/.local/share/jupyter');
  assert.equal(jupyterUserDataDir({ HOME: '/h' }, 'darwin'), '/h/Library/Jupyter');
});

test('registerKernelCommand: `kernel install --prefix P` installs and prints where; --user and --prefix exclude each other', async () => {
  const prefix = tmp('codecllm-kp-');
  const program = new Command().exitOverride();
  registerKernelCommand(program);
  const orig = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'codecllm', 'kernel', 'install', '--prefix', prefix]);
  } finally {
    process.stdout.write = orig;
  }
  const dir = path.join(prefix, 'share', 'jupyter', 'kernels', 'codecllm');
  assert.equal(out, msg.kernelInstalled(dir) + '\n');
  assert.equal(out, `Installed kernelspec 'codecllm' (CodecLLM (TypeScript)) in ${dir}\n`);
  assert.throws(() => installKernel({ user: true, prefix }), (e: unknown) => e instanceof CodecLLMError && e.message === 'invalid kernel install: --user and --prefix are exclusive');
});

const py = pythonWithNbclient();
test('jupyter_client finds the installed kernelspec by name', { skip: 'missing' in py && !process.env.CI ? py.missing : false }, () => {
  const prefix = tmp('codecllm-kp-');
  installKernel({ prefix });
  const r = spawnSync(
    'python' in py ? py.python : 'python3',
    ['-c', 'from jupyter_client.kernelspec import KernelSpecManager as K; s=K().get_kernel_spec("codecllm"); print(s.display_name); print(s.language); print(s.resource_dir)'],
    { encoding: 'utf8', env: { ...process.env, JUPYTER_PATH: path.join(prefix, 'share', 'jupyter') } },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `CodecLLM (TypeScript)\ntypescript\n${path.join(prefix, 'share', 'jupyter', 'kernels', 'codecllm')}\n`);
});
