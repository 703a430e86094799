/**
 * Temp files of atomic writes, and the checks on an output path.
 *
 * A temp file lives beside its target as `.<prefix>.<pid>.<rand>.codecllm-tmp` (or `-data-tmp` for a scratch file);
 * the prefix is the target's name cut so the whole temp name fits the file system's name limit (255 bytes), so any
 * target name up to that limit can be written. Every live temp is registered: SIGINT, SIGTERM and SIGHUP remove them
 * before the process exits (128 + signal number), and the next write into a folder removes temps there whose pid is
 * no longer running (a SIGKILL or a power cut leaves them).
 *
 * @example
 * const tmp = tempPathFor('out/model.cllm', 'tmp');   // 'out/.model.cllm.4242.k3j2h1.codecllm-tmp'
 * registerTemp(tmp); ... ; unregisterTemp(tmp);
 */
import fs from 'node:fs';
import path from 'node:path';
import { err, msg } from '../messages.js';
import { fileKind, ioError } from './files.js';

/** Longest file name (bytes) on the file systems we write to (ext4, xfs, btrfs, tmpfs, apfs: 255). */
export const NAME_MAX = 255;

const TEMP_RE = /^\..*\.([0-9]+)\.[a-z0-9]+\.codecllm-(?:data-)?tmp$/;
/** Temp names of earlier versions (`.<name>.<pid>.<rand>.tmp`, `.data.tmp`): removed too when their pid is dead. */
const LEGACY_TEMP_RE = /^\..+\.([0-9]+)\.[a-z0-9]{4,}(?:\.data)?\.tmp$/;

/** The first `max` bytes of `s` in UTF-8, never splitting a character. */
function utf8Prefix(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  let out = '';
  let n = 0;
  for (const ch of s) {
    const b = Buffer.byteLength(ch);
    if (n + b > max) break;
    out += ch;
    n += b;
  }
  return out;
}

/**
 * A fresh temp path beside `file` whose name fits NAME_MAX whatever the length of the target's name.
 * @example
 * tempPathFor('/data/x.cllm', 'data-tmp') // '/data/.x.cllm.4242.8f3k2j.codecllm-data-tmp'
 */
export function tempPathFor(file: string, kind: 'tmp' | 'data-tmp' = 'tmp'): string {
  const dir = path.dirname(path.resolve(file));
  const suffix = `.${process.pid}.${Math.random().toString(36).slice(2, 10) || '0'}.codecllm-${kind}`;
  const prefix = utf8Prefix(path.basename(file), NAME_MAX - 1 - Buffer.byteLength(suffix));
  return path.join(dir, `.${prefix}${suffix}`);
}

const live = new Set<string>();

const SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
type Sig = keyof typeof SIGNALS;

/**
 * Remove every registered temp now (signal handlers and exit). Never throws.
 * @example
 * removeLiveTemps();
 */
export function removeLiveTemps(): void {
  for (const t of live) {
    try {
      fs.rmSync(t, { force: true });
    } catch {
      /* best effort: the next write into the folder removes it */
    }
  }
  live.clear();
}

const handlers = new Map<Sig, () => void>();

/** While a temp is live: on a signal remove the temps; exit with 128 + n unless someone else also listens. */
function installHandlers(): void {
  if (handlers.size) return;
  for (const [sig, no] of Object.entries(SIGNALS) as [Sig, number][]) {
    const h = () => {
      removeLiveTemps();
      uninstallHandlers();
      if (process.listenerCount(sig) === 0) {
        process.stderr.write(`codecllm: interrupted by ${sig}: temporary files removed, no output written [E_IO]\n`);
        process.exit(128 + no);
      }
    };
    handlers.set(sig, h);
    process.on(sig, h);
  }
  process.on('exit', removeLiveTemps);
}

function uninstallHandlers(): void {
  for (const [sig, h] of handlers) process.removeListener(sig, h);
  handlers.clear();
  process.removeListener('exit', removeLiveTemps);
}

/**
 * Register a temp file for removal on SIGINT/SIGTERM/SIGHUP (handlers are installed only while a temp is live).
 * @example
 * registerTemp(tmp); try { ... } finally { unregisterTemp(tmp); }
 */
export function registerTemp(p: string): void {
  installHandlers();
  live.add(p);
}

/**
 * Forget a temp file (it was renamed into place or removed); the handlers go with the last one.
 * @example
 * fs.renameSync(tmp, file); unregisterTemp(tmp);
 */
export function unregisterTemp(p: string): void {
  live.delete(p);
  if (live.size === 0) uninstallHandlers();
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Remove temp files in `dir` left by codecllm processes that are no longer running. Returns the names removed.
 * @example
 * removeStaleTemps('out'); // ['.model.cllm.31337.x1y2z3.codecllm-data-tmp']
 */
export function removeStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = TEMP_RE.exec(n) ?? LEGACY_TEMP_RE.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pidAlive(pid)) continue;
    try {
      const p = path.join(dir, n);
      if (!fs.lstatSync(p).isFile()) continue;
      fs.rmSync(p, { force: true });
      removed.push(n);
    } catch {
      /* raced with another cleaner */
    }
  }
  return removed;
}

/**
 * Check an output file path before any work: the folder exists, is a folder and is writable; the target, if it
 * exists, is a regular file (never a device such as /dev/null, a FIFO or a folder); the name fits NAME_MAX.
 * Returns the existing target's stat (for keeping its mode and owner) or null.
 * @example
 * checkOutFile('out/model.cllm'); // null when absent
 */
export function checkOutFile(file: string, what = '--out'): fs.Stats | null {
  if (file === '') throw err('E_ARG', msg.badArg(what, 'empty path'));
  if (Buffer.byteLength(path.basename(file)) > NAME_MAX) throw err('E_IO', msg.ioFailed(file, `file name longer than ${NAME_MAX} bytes`));
  checkOutParent(file);
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(file, e);
  }
  if (st && !st.isFile()) throw err('E_IO', msg.outNotFile(file, fileKind(st)));
  return st;
}

/**
 * Check an output folder: absent (its parent then must be a writable folder) or a writable folder.
 * @example
 * checkOutDir('out/smol-hf');
 */
export function checkOutDir(dir: string, what = '--out'): void {
  if (dir === '') throw err('E_ARG', msg.badArg(what, 'empty path'));
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(dir, e);
  }
  if (st === null) {
    checkOutParent(dir);
    return;
  }
  if (!st.isDirectory()) throw err('E_IO', msg.outNotDir(dir, fileKind(st)));
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (e) {
    throw ioError(dir, e);
  }
}

function checkOutParent(file: string): void {
  const dir = path.dirname(path.resolve(file));
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw err('E_IO', msg.outNoFolder(file, dir));
    throw ioError(dir, e);
  }
  if (!st.isDirectory()) throw err('E_IO', msg.outNoFolder(file, dir));
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (e) {
    throw ioError(dir, e);
  }
}

/**
 * Give a freshly written temp file the mode and owner of the file it replaces (best effort for the owner: only
 * root may give a file away).
 * @example
 * keepModeAndOwner(fd, fs.statSync('old.cllm'));
 */
export function keepModeAndOwner(fd: number, old: fs.Stats | null, defaultMode: number): void {
  try {
    fs.fchmodSync(fd, old ? old.mode & 0o7777 : defaultMode & ~process.umask());
  } catch {
    /* file systems without modes */
  }
  if (old && typeof process.getuid === 'function' && (old.uid !== process.getuid() || old.gid !== (process.getgid?.() ?? old.gid))) {
    try {
      fs.fchownSync(fd, old.uid, old.gid);
    } catch {
      /* not permitted: the file keeps our ownership */
    }
  }
}
