import { randomBytes } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LadingError, toLadingError } from '../errors/errors.js';

/** Temporary files being written right now, so a signal handler can remove them (see removePartialFiles). */
const partial = new Set<string>();

/** Removes every temporary file still being written (synchronously: for SIGINT/SIGTERM handlers). */
export function removePartialFiles(): void {
  for (const p of partial) rmSync(p, { force: true });
  partial.clear();
}

/**
 * Writes a stream to `path` through a temporary name in the same folder and renames it only once
 * the stream ended cleanly (verification errors surface as stream errors). On any failure the
 * temporary file is removed: nothing half-written is ever left under the final name.
 */
export async function writeFileAtomic(path: string, stream: Readable, mode?: number): Promise<void> {
  if (path === '') throw new LadingError('usage', 'the output path is empty');
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw new LadingError('usage', `cannot write "${path}": it is a folder`);
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.partial`);
  try {
    await mkdir(dirname(path), { recursive: true });
    partial.add(tmp);
    await pipeline(stream, createWriteStream(tmp, { flags: 'wx', mode: mode ?? 0o644 }));
    await rename(tmp, path);
  } catch (err) {
    stream.destroy();
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
