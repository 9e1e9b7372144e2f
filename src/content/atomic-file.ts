import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { LadingError, toLadingError } from '../errors/errors.js';

/** Temporary files being written right now, so a signal handler can remove them (see removePartialFiles). */
const partial = new Set<string>();

/** Removes every temporary file still being written (synchronously: for signal handlers). */
export function removePartialFiles(): void {
  for (const p of partial) rmSync(p, { force: true });
  partial.clear();
}

/**
 * On Ctrl-C (SIGINT), `kill` (SIGTERM) or a closed terminal or SSH session (SIGHUP): remove half-written files, then
 * exit as a shell expects (128 + the signal's number). The CLI and the Action (cancelled jobs get SIGINT) both call it.
 */
export function removePartialFilesOnSignals(): void {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.once(signal, () => {
      removePartialFiles();
      process.exit(code);
    });
  }
}

/** Bytes per write(2): network bodies arrive in 16–64 KiB pieces, and one write per piece costs several times the disk's own time. */
export const WRITE_SIZE = 1 << 20;

/**
 * Writes a stream to an open file in writes of at least WRITE_SIZE bytes, gathered with writev(2) (no copy into
 * a bigger buffer). Writing 512 MiB in 64 KiB pieces took 1.5–2 s here against 0.2–0.5 s in 1 MiB pieces.
 */
async function writeGathered(handle: FileHandle, stream: AsyncIterable<Buffer | Uint8Array>): Promise<void> {
  let parts: Buffer[] = [];
  let length = 0;
  const flush = async () => {
    let { bytesWritten } = await handle.writev(parts);
    // A short write (rare for regular files): write the rest until it is all out.
    while (bytesWritten < length) {
      const rest = Buffer.concat(parts, length).subarray(bytesWritten);
      bytesWritten += (await handle.write(rest)).bytesWritten;
    }
    parts = [];
    length = 0;
  };
  for await (const chunk of stream) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    parts.push(b);
    length += b.length;
    if (length >= WRITE_SIZE) await flush();
  }
  if (length > 0) await flush();
}

/**
 * Writes a stream (or any async iterable of bytes: one stream layer less) to `path` through a temporary name in
 * the same folder and renames it only once the stream ended cleanly (verification errors surface as stream errors). On any failure the
 * temporary file is removed: nothing half-written is ever left under the final name.
 */
export async function writeFileAtomic(path: string, stream: Readable | AsyncIterable<Buffer>, mode?: number): Promise<void> {
  if (path === '') throw new LadingError('usage', 'the output path is empty');
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw new LadingError('usage', `cannot write "${path}": it is a folder`);
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.partial`);
  try {
    await mkdir(dirname(path), { recursive: true });
    partial.add(tmp);
    // Opened before the first byte moves, so a stream failing at once cannot race the file's creation past the clean-up.
    const handle = await open(tmp, 'wx', mode ?? 0o644);
    try {
      await writeGathered(handle, stream);
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    if ('destroy' in stream && typeof stream.destroy === 'function') stream.destroy();
    else await (stream as AsyncGenerator<Buffer>).return?.(undefined)?.catch(() => undefined);
    await rm(tmp, { force: true });
    // Name the file the user asked for, never the temporary one.
    const e = err as NodeJS.ErrnoException;
    if (e.path === tmp || e.path === dirname(path)) {
      throw toLadingError(Object.assign(new Error(e.message), { code: e.code, syscall: 'write', path }));
    }
    throw err;
  } finally {
    partial.delete(tmp);
  }
}
