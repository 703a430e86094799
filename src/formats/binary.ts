/**
 * Checked binary input for the file parsers: a bounds-checked little-endian reader, checked offset arithmetic,
 * byte sources (a file read on demand, or a buffer in memory) and an atomic file writer.
 *
 * Written by hand because it is small and must raise our own one-line `CodecLLMError` (naming the file) on every
 * bad read; DataView alone throws an anonymous RangeError, and no well-kept library does both.
 *
 * Every read checks `pos + n <= total` first. When only a prefix of the file is in memory (`bytes.length < total`)
 * and a read passes the prefix but not the file, the reader throws the internal `NeedMoreBytes` signal: the caller
 * reads a longer prefix and parses again (see `parseWithGrowingPrefix`). It never reaches users.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CodecLLMError, err, msg, type ErrorCode } from '../messages.js';
import { ioError, openRegularFile } from '../util/files.js';
import { checkOutFile, keepModeAndOwner, registerTemp, removeStaleTemps, tempPathFor, unregisterTemp } from '../util/temp-files.js';

/** Who is parsing: the file named in errors and the error code raised. */
export interface ParseCtx {
  readonly file: string;
  readonly code: ErrorCode;
}

/** Internal signal: the in-memory prefix is too short, `need` bytes of the file are needed. Never user-visible. */
export class NeedMoreBytes extends Error {
  constructor(readonly need: number) {
    super(`need ${need} bytes`);
  }
}

const U64_MAX = (1n << 64n) - 1n;
const utf8 = new TextDecoder('utf-8', { fatal: false });

/** A safe integer sum, or an `overflow` error naming `what`. @example safeAdd(ctx, off, len, 'tensor end') */
export function safeAdd(ctx: ParseCtx, a: number, b: number, what: string): number {
  const r = a + b;
  if (!Number.isSafeInteger(r)) throw err(ctx.code, msg.overflow(ctx.file, what));
  return r;
}

/** A safe integer product, or an `overflow` error naming `what`. @example safeMul(ctx, rows, cols, 'element count') */
export function safeMul(ctx: ParseCtx, a: number, b: number, what: string): number {
  const r = a * b;
  if (!Number.isSafeInteger(r)) throw err(ctx.code, msg.overflow(ctx.file, what));
  return r;
}

/** u64 sum that must stay below 2^64 (the on-disk width), else `overflow`. @example addU64(ctx, 1n, 2n, 'x') // 3n */
export function addU64(ctx: ParseCtx, a: bigint, b: bigint, what: string): bigint {
  const r = a + b;
  if (r < 0n || r > U64_MAX) throw err(ctx.code, msg.overflow(ctx.file, what));
  return r;
}

/** u64 product that must stay below 2^64, else `overflow`. @example mulU64(ctx, 4n, 8n, 'bytes') // 32n */
export function mulU64(ctx: ParseCtx, a: bigint, b: bigint, what: string): bigint {
  const r = a * b;
  if (r < 0n || r > U64_MAX) throw err(ctx.code, msg.overflow(ctx.file, what));
  return r;
}

/** A bigint as a number when at most `limit` (default 2^53-1), else `tooLarge`. @example toSafe(ctx, 5n, 'count') // 5 */
export function toSafe(ctx: ParseCtx, v: bigint, what: string, limit: number = Number.MAX_SAFE_INTEGER): number {
  if (v < 0n || v > BigInt(limit)) throw err(ctx.code, msg.tooLarge(ctx.file, what, v, limit));
  return Number(v);
}

/** Round `n` up to a multiple of the power of two `a`, checked. @example alignUp(ctx, 33, 32, 'x') // 64 */
export function alignUp(ctx: ParseCtx, n: number, a: number, what: string): number {
  const r = n % a === 0 ? n : safeAdd(ctx, n, a - (n % a), what);
  return r;
}

/**
 * A bounds-checked little-endian cursor over `bytes`, which holds the first `bytes.length` of `total` bytes.
 *
 * @example
 * const r = new BinaryReader(bytes, { file: 'x.gguf', code: 'E_GGUF' });
 * const magic = r.u32('magic'); const n = r.u64('tensor count');
 */
export class BinaryReader {
  pos = 0;
  private readonly dv: DataView;
  readonly total: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly ctx: ParseCtx,
    total: number = bytes.length,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.total = total;
  }

  /** Bytes left before the end of the file. */
  get remaining(): number {
    return this.total - this.pos;
  }

  /** Check that `n` more bytes exist; returns the position to read at and advances. */
  private take(n: number, what: string): number {
    if (!Number.isSafeInteger(n) || n < 0 || n > this.total - this.pos) {
      throw err(this.ctx.code, msg.truncated(this.ctx.file, what, n, Math.max(0, this.total - this.pos)));
    }
    const p = this.pos;
    if (p + n > this.bytes.length) throw new NeedMoreBytes(p + n);
    this.pos = p + n;
    return p;
  }

  u8(what: string): number {
    return this.dv.getUint8(this.take(1, what));
  }
  i8(what: string): number {
    return this.dv.getInt8(this.take(1, what));
  }
  u16(what: string): number {
    return this.dv.getUint16(this.take(2, what), true);
  }
  i16(what: string): number {
    return this.dv.getInt16(this.take(2, what), true);
  }
  u32(what: string): number {
    return this.dv.getUint32(this.take(4, what), true);
  }
  i32(what: string): number {
    return this.dv.getInt32(this.take(4, what), true);
  }
  u64(what: string): bigint {
    return this.dv.getBigUint64(this.take(8, what), true);
  }
  i64(what: string): bigint {
    return this.dv.getBigInt64(this.take(8, what), true);
  }
  f32(what: string): number {
    return this.dv.getFloat32(this.take(4, what), true);
  }
  f64(what: string): number {
    return this.dv.getFloat64(this.take(8, what), true);
  }
  /** `n` raw bytes (a view, not a copy). */
  bytesN(n: number, what: string): Uint8Array {
    const p = this.take(n, what);
    return this.bytes.subarray(p, p + n);
  }
  /** UTF-8 text of `n` bytes (invalid sequences become U+FFFD). */
  text(n: number, what: string): string {
    return utf8.decode(this.bytesN(n, what));
  }
  /** A u64 length followed by that many UTF-8 bytes; the length must be <= maxLen (`tooLarge`) and fit in the file. */
  string(maxLen: number, what: string): string {
    const n = toSafe(this.ctx, this.u64(`${what} length`), `${what} length`, maxLen);
    return this.text(n, what);
  }
}

/** Random-access bytes of one file (or of a buffer standing in for one). */
export interface ByteSource {
  readonly file: string;
  readonly size: number;
  /** A fresh copy (byteOffset 0) of `len` bytes at `offset`; throws E_IO after close or on short reads. */
  read(offset: number, len: number): Uint8Array;
  close(): void;
}

/**
 * Open a regular file for positioned reads; E_IO `fileNotFound` / `notAFile` / `readFailed` on failure.
 *
 * @example
 * const src = openFileSource('model.gguf'); const head = src.read(0, 24); src.close();
 */
export function openFileSource(file: string): ByteSource {
  const fd = openRegularFile(file); // stat first, non-blocking open: a FIFO or device never blocks
  const st = fs.fstatSync(fd);
  let open = true;
  return {
    file,
    size: st.size,
    read(offset, len) {
      if (!open) throw err('E_IO', msg.closedSource(file));
      const out = new Uint8Array(len);
      let done = 0;
      while (done < len) {
        // at most 1 GiB per call: fs.readSync rejects lengths of 2 GiB and more
        const n = fs.readSync(fd, out, done, Math.min(len - done, 1 << 30), offset + done);
        if (n === 0) throw err('E_IO', msg.readFailed(file, `unexpected end of file at offset ${offset + done}`));
        done += n;
      }
      return out;
    },
    close() {
      if (open) fs.closeSync(fd);
      open = false;
    },
  };
}

/**
 * A ByteSource over bytes already in memory (used by the fuzzers and tests; no disk).
 *
 * @example
 * bufferSource(new Uint8Array([1, 2, 3]), 'mem.bin').read(1, 2); // Uint8Array [2, 3]
 */
export function bufferSource(bytes: Uint8Array, file: string): ByteSource {
  let open = true;
  return {
    file,
    size: bytes.length,
    read(offset, len) {
      if (!open) throw err('E_IO', msg.closedSource(file));
      if (offset < 0 || len < 0 || offset + len > bytes.length) {
        throw err('E_IO', msg.readFailed(file, `unexpected end of file at offset ${Math.min(offset + len, bytes.length)}`));
      }
      const out = new Uint8Array(len); // a real copy: Buffer#slice would return a view into a pooled buffer
      out.set(bytes.subarray(offset, offset + len));
      return out;
    },
    close() {
      open = false;
    },
  };
}

/**
 * Run `parse` on a growing prefix of `src` (starting at `first` bytes, doubling) until it no longer asks for more.
 * Lets a parser of a variable-length header read only about as much of a big file as the header needs.
 *
 * @example
 * const header = parseWithGrowingPrefix(src, 1 << 20, (prefix) => parseHeader(prefix, src.size, src.file));
 */
export function parseWithGrowingPrefix<T>(src: ByteSource, first: number, parse: (prefix: Uint8Array) => T): T {
  let n = Math.min(first, src.size);
  for (;;) {
    const prefix = src.read(0, n);
    try {
      return parse(prefix);
    } catch (e) {
      if (!(e instanceof NeedMoreBytes)) throw e;
      n = Math.min(src.size, Math.max(n * 2, e.need));
    }
  }
}

/**
 * Write `chunks` to `file` atomically: a temp file in the same folder, fsync, rename over the target, fsync the folder.
 * A crash leaves either the old file or the new one, never a torn one. The target must be a regular file or absent
 * (a device such as /dev/null is never replaced); an overwritten file keeps its mode and owner; the temp file is
 * removed on failure and on SIGINT/SIGTERM/SIGHUP, and stale temps of dead codecllm processes in the folder go first.
 * Failures are one-line E_IO errors naming the file (ENOSPC, EACCES, a missing folder, ...).
 *
 * @example
 * writeFileAtomic('out.bin', [header, body]);
 */
export function writeFileAtomic(file: string, chunks: Iterable<Uint8Array>, opts: { mode?: number } = {}): void {
  const old = checkOutFile(file, 'output');
  const dir = path.dirname(path.resolve(file));
  removeStaleTemps(dir);
  const tmp = tempPathFor(file, 'tmp');
  registerTemp(tmp); // before it exists: a signal between the open and the registration would leave it behind
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'wx', 0o600);
  } catch (e) {
    unregisterTemp(tmp);
    throw ioError(file, e);
  }
  try {
    keepModeAndOwner(fd, old, opts.mode ?? 0o666);
    for (const c of chunks) {
      let done = 0;
      while (done < c.length) done += fs.writeSync(fd, c, done, c.length - done);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
    unregisterTemp(tmp);
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      /* already closed */
    }
    fs.rmSync(tmp, { force: true });
    unregisterTemp(tmp);
    throw (e as NodeJS.ErrnoException)?.code && !(e instanceof CodecLLMError) ? ioError(file, e) : e;
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    /* some filesystems cannot fsync a directory; the rename itself is still atomic */
  }
}

/**
 * A growable little-endian byte writer (for the file writers and for building test inputs).
 *
 * @example
 * const w = new ByteWriter(); w.u32(0x46554747); w.string('hi'); const bytes = w.finish();
 */
export class ByteWriter {
  private buf = new Uint8Array(256);
  private dv = new DataView(this.buf.buffer);
  length = 0;

  private room(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.dv = new DataView(next.buffer);
    }
    const p = this.length;
    this.length += n;
    return p;
  }
  u8(v: number): this {
    const p = this.room(1);
    this.dv.setUint8(p, v);
    return this;
  }
  i8(v: number): this {
    const p = this.room(1);
    this.dv.setInt8(p, v);
    return this;
  }
  u16(v: number): this {
    const p = this.room(2);
    this.dv.setUint16(p, v, true);
    return this;
  }
  i16(v: number): this {
    const p = this.room(2);
    this.dv.setInt16(p, v, true);
    return this;
  }
  u32(v: number): this {
    const p = this.room(4);
    this.dv.setUint32(p, v, true);
    return this;
  }
  i32(v: number): this {
    const p = this.room(4);
    this.dv.setInt32(p, v, true);
    return this;
  }
  u64(v: bigint | number): this {
    const p = this.room(8);
    this.dv.setBigUint64(p, BigInt(v), true);
    return this;
  }
  i64(v: bigint | number): this {
    const p = this.room(8);
    this.dv.setBigInt64(p, BigInt(v), true);
    return this;
  }
  f32(v: number): this {
    const p = this.room(4);
    this.dv.setFloat32(p, v, true);
    return this;
  }
  f64(v: number): this {
    const p = this.room(8);
    this.dv.setFloat64(p, v, true);
    return this;
  }
  bytes(b: Uint8Array): this {
    const p = this.room(b.length); // room() may replace this.buf: take the offset first
    this.buf.set(b, p);
    return this;
  }
  /** u64 byte length + UTF-8 bytes (GGUF string). */
  string(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.u64(b.length).bytes(b);
  }
  /** Zero bytes up to a multiple of `a`. */
  pad(a: number): this {
    this.room((a - (this.length % a)) % a);
    return this;
  }
  /** The bytes written (a copy; byteOffset 0). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/**
 * A string from a file made safe to show in a one-line message: control, format and line/paragraph-separator
 * characters escaped as \uXXXX, cut to `max` characters (with '…'). Names that are already plain come back as is.
 *
 * @example
 * printable('a\nb'); // 'a\\u000ab'
 */
export function printable(s: string, max = 80): string {
  const t = s.length > max ? `${s.slice(0, max)}…` : s;
  return t.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
