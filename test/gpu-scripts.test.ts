// scripts/gpu/engine-on-device.sh `prepare` on a fresh clone (no .gpuengine/ yet, possibly a git worktree whose .git
// is a file): it must get as far as configuring the build. The test runs the real script in a throw-away git repo
// with a stub `npx` first on PATH that records its call and stops the stage (exit 3), so no build happens.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';

const SCRIPT = new URL('../scripts/gpu/engine-on-device.sh', import.meta.url).pathname;

function freshClone(worktree: boolean): { dir: string; bin: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'codecllm-gpu-script-'));
  const git = (cwd: string, ...args: string[]) => {
    const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
    assert.equal(r.status, 0, `git ${args.join(' ')}: ${r.stderr}`);
  };
  const main = join(root, 'repo');
  mkdirSync(join(main, 'scripts', 'gpu'), { recursive: true });
  copyFileSync(SCRIPT, join(main, 'scripts', 'gpu', 'engine-on-device.sh'));
  git(main, 'init', '-q');
  git(main, '-c', 'user.email=t@t', '-c', 'user.name=t', 'add', '.');
  git(main, '-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-qm', 'x');
  let dir = main;
  if (worktree) {
    dir = join(root, 'wt');
    git(main, 'worktree', 'add', '-q', dir);
  }
  const bin = join(root, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'npx'), `#!/bin/sh\necho "$@" >> "${join(root, 'npx.calls')}"\nexit 3\n`);
  chmodSync(join(bin, 'npx'), 0o755);
  return { dir, bin: root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

describe('scripts/gpu/engine-on-device.sh prepare', () => {
  for (const worktree of [false, true]) {
    it(`reaches the build configure step on a fresh ${worktree ? 'git worktree' : 'clone'} (no .gpuengine/)`, () => {
      const c = freshClone(worktree);
      try {
        assert.equal(existsSync(join(c.dir, '.gpuengine')), false);
        const r = spawnSync('bash', ['scripts/gpu/engine-on-device.sh', 'prepare'], {
          cwd: c.dir,
          encoding: 'utf8',
          env: { ...process.env, PATH: `${join(c.bin, 'bin')}:${process.env.PATH}` },
        });
        const calls = existsSync(join(c.bin, 'npx.calls')) ? readFileSync(join(c.bin, 'npx.calls'), 'utf8') : '';
        assert.match(calls, /cmake-js configure -d native --out \.gpuengine\/build/, `configure never ran; stderr: ${r.stderr}`);
        assert.equal(r.status, 3, 'the stub npx stops the stage');
        assert.ok(existsSync(join(c.dir, '.gpuengine', 'configure.log')), 'configure log written under .gpuengine/');
        const excl = spawnSync('git', ['rev-parse', '--git-path', 'info/exclude'], { cwd: c.dir, encoding: 'utf8' }).stdout.trim();
        assert.match(readFileSync(resolve(c.dir, excl), 'utf8'), /^\/\.gpuengine\/$/m, '.gpuengine/ is git-excluded');
      } finally {
        c.cleanup();
      }
    });
  }
});

describe('scripts/gpu/engine-on-device.sh stages', () => {
  it('refuses an unknown stage, and `check` without a part names the parts', () => {
    const out = mkdtempSync(join(tmpdir(), 'codecllm-gpu-out-'));
    after(() => rmSync(out, { recursive: true, force: true }));
    const run = (...args: string[]) => spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8', env: { ...process.env, OUT: out } });
    const bad = run('5');
    assert.equal(bad.status, 2);
    assert.match(bad.stdout, /unknown stage '5' \(prepare\|prepare-gemma\|1\|2\|3\|4\|check <part>\|bench\|zoo\|gemma-part N\|gemma N\)/);
    const noPart = run('check');
    assert.notEqual(noPart.status, 0);
    assert.match(noPart.stderr, /check kernels\|zoo\|logits\|patched\|prefill\|batch\|chunks/);
  });
});
