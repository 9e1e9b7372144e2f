import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { LadingError } from '../../errors/errors.js';
import { forgetAtExit, removeAtExit } from './cleanup.js';

export interface LockOptions {
  /** A lock file older than this is left over from a crashed writer and is broken (default 30 s). */
  staleMs?: number;
  /** Give up waiting after this long (default 2 × staleMs). */
  waitMs?: number;
  /** Bounds of the random sleep between attempts (default 2–25 ms). */
  minSleepMs?: number;
  maxSleepMs?: number;
}

export const DEFAULT_STALE_MS = 30_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` while holding an exclusive lock file at `lockPath`, shared by every process on the
 * machine (and on file systems with atomic O_EXCL create). The file is created with `wx`; waiters
 * retry with short random sleeps. A lock older than `staleMs` (its holder died) is renamed away
 * and removed. The lock is released even when `fn` fails, and removed at process exit.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const token = await acquire(lockPath, options);
  try {
    return await fn();
  } finally {
    await release(lockPath, token);
  }
}

async function acquire(lockPath: string, options: LockOptions): Promise<string> {
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  const waitMs = options.waitMs ?? 2 * staleMs;
  const minSleep = options.minSleepMs ?? 2;
  const maxSleep = options.maxSleepMs ?? 25;
  const token = `${process.pid}@${hostname()} ${randomBytes(8).toString('hex')} ${new Date().toISOString()}\n`;
  const start = Date.now();
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx', 0o644);
      try {
        await handle.writeFile(token);
      } finally {
        await handle.close();
      }
      removeAtExit(lockPath);
      return token;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new LadingError('internal', `cannot create lock file ${lockPath}: ${(err as Error).message}`, { cause: err });
      }
    }
    let age: number | undefined;
    try {
      age = Date.now() - (await stat(lockPath)).mtimeMs;
    } catch {
      continue; // released meanwhile: try again at once
    }
    if (age > staleMs) {
      // Rename first so that only one waiter removes this stale lock, never a fresh one made since.
      const aside = `${lockPath}.stale.${randomBytes(4).toString('hex')}`;
      try {
        await rename(lockPath, aside);
        await rm(aside, { force: true });
      } catch {
        // another waiter broke it first
      }
      continue;
    }
    if (Date.now() - start > waitMs) {
      throw new LadingError('internal', `timed out after ${waitMs} ms waiting for the lock ${lockPath}; if no other process is writing to this layout, remove that file`);
    }
    await sleep(minSleep + Math.random() * (maxSleep - minSleep));
  }
}

async function release(lockPath: string, token: string): Promise<void> {
  forgetAtExit(lockPath);
  try {
    // Only remove our own lock: if it was broken as stale, another writer may hold the file now.
    if ((await readFile(lockPath, 'utf8')) === token) await rm(lockPath, { force: true });
  } catch {
    // already gone
  }
}
