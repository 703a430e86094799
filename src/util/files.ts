/**
 * Input files: only regular files are opened as checkpoints or texts. A FIFO, a device, a socket or a folder is
 * refused by a stat before any open (an open of a FIFO blocks until a writer appears), and the open itself is
 * non-blocking so that a file swapped for a FIFO between the stat and the open cannot hang us either.
 *
 * Texts must be valid UTF-8 without NUL bytes (binary files and mis-encoded texts would otherwise be scored as
 * U+FFFD replacements), unless latin1 is asked for explicitly.
 *
 * @example
 * const text = readTextFile('data/texts/eval.txt');            // string, or E_IO / E_ARG one-line errors
 * const bytes = readRegularFile('model/config.json');          // Buffer
 */
import fs from 'node:fs';
import { err, msg } from '../messages.js';

/** Encodings accepted for text files (`--text-encoding`). */
export const TEXT_ENCODINGS = ['utf8', 'latin1'] as const;
export type TextEncoding = (typeof TEXT_ENCODINGS)[number];

/**
 * What kind of thing a stat describes, in words (for messages).
 * @example
 * fileKind(fs.statSync('/dev/null')) // 'character device'
 */
export function fileKind(st: fs.Stats): string {
  if (st.isFile()) return 'regular file';
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  if (st.isSocket()) return 'socket';
  return 'special file';
}

/**
 * A failed fs call as a one-line E_IO error naming the file (the errno code in parentheses).
 * @example
 * try { fs.openSync(f, 'wx'); } catch (e) { throw ioError(f, e); } // 'f: no space left on device (ENOSPC)'
 */
export function ioError(file: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return err('E_IO', msg.fileNotFound(file), e);
  if (code === 'ENOTDIR') return err('E_IO', msg.ioFailed(file, 'a component of the path is not a directory (ENOTDIR)'), e);
  if (code === 'EACCES' || code === 'EPERM') return err('E_IO', msg.ioFailed(file, `permission denied (${code})`), e);
  if (code === 'ENAMETOOLONG') return err('E_IO', msg.ioFailed(file, 'file name too long (ENAMETOOLONG)'), e);
  if (code === 'ENOSPC') return err('E_IO', msg.ioFailed(file, 'no space left on device (ENOSPC)'), e);
  if (code === 'EDQUOT') return err('E_IO', msg.ioFailed(file, 'disk quota exceeded (EDQUOT)'), e);
  if (code === 'EROFS') return err('E_IO', msg.ioFailed(file, 'read-only file system (EROFS)'), e);
  if (code === 'EISDIR') return err('E_IO', msg.notAFileKind(file, 'directory'), e);
  if (code === 'ELOOP') return err('E_IO', msg.ioFailed(file, 'too many symbolic links (ELOOP)'), e);
  return err('E_IO', msg.ioFailed(file, String(code ?? (e as Error)?.message ?? e)), e);
}

/**
 * Stat `file` (following links) and insist on a regular file. E_IO `fileNotFound` / `notAFileKind` otherwise.
 * @example
 * statRegularFile('model.gguf').size
 */
export function statRegularFile(file: string): fs.Stats {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw ioError(file, e);
  }
  if (!st.isFile()) throw err('E_IO', msg.notAFileKind(file, fileKind(st)));
  return st;
}

/**
 * Open a regular file for reading without ever blocking (stat first, then O_NONBLOCK, then fstat again).
 * @example
 * const fd = openRegularFile('model.gguf'); fs.closeSync(fd);
 */
export function openRegularFile(file: string): number {
  statRegularFile(file);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw ioError(file, e);
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw err('E_IO', msg.notAFileKind(file, fileKind(st)));
  }
  return fd;
}

/**
 * The bytes of a regular file (never blocks on a FIFO or device).
 * @example
 * JSON.parse(readRegularFile('m/config.json').toString('utf8'))
 */
export function readRegularFile(file: string): Buffer {
  const fd = openRegularFile(file);
  try {
    return fs.readFileSync(fd);
  } catch (e) {
    throw ioError(file, e);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Decode text bytes strictly: UTF-8 must be valid and free of NUL bytes (E_ARG naming the byte offset), latin1 maps
 * every byte. A UTF-8 byte-order mark is dropped.
 * @example
 * decodeText('a.txt', Buffer.from('héllo'), 'utf8') // 'héllo'
 */
export function decodeText(file: string, bytes: Uint8Array, encoding: TextEncoding = 'utf8'): string {
  if (encoding === 'latin1') return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw err('E_ARG', msg.textNotText(file, `NUL byte at offset ${nul} (a binary file?)`));
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw err('E_ARG', msg.textNotText(file, `invalid UTF-8 at byte offset ${firstInvalidUtf8(bytes)}`));
  }
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence (bytes.length when valid). */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let n = 0;
    let min = 0;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) (n = 1), (min = 0x80);
    else if (c >= 0xe0 && c <= 0xef) (n = 2), (min = 0x800);
    else if (c >= 0xf0 && c <= 0xf4) (n = 3), (min = 0x10000);
    else return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return b.length;
}

/**
 * A text file for evaluation: a regular file, decoded strictly (see {@link decodeText}).
 * @example
 * readTextFile('data/texts/eval.txt').length
 */
export function readTextFile(file: string, encoding: TextEncoding = 'utf8'): string {
  return decodeText(file, readRegularFile(file), encoding);
}
