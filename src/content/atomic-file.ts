import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm, mkdir } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Writes a stream to `path` through a temporary name in the same folder and renames it only once
 * the stream ended cleanly (verification errors surface as stream errors). On any failure the
 * temporary file is removed: nothing half-written is ever left under the final name.
 */
export async function writeFileAtomic(path: string, stream: Readable, mode?: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.partial`);
  try {
    await pipeline(stream, createWriteStream(tmp, { flags: 'wx', mode: mode ?? 0o644 }));
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
