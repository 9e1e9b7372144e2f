import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { writeFileAtomic } from '../../content/atomic-file.js';
import { LadingError } from '../../errors/errors.js';
import { parseReference, type Reference } from '../../reference/reference.js';
import type { Context } from '../context.js';

export function ref(ctx: Context, input: string | undefined, what = 'reference'): Reference {
  if (!input) throw new LadingError('usage', `missing ${what}`);
  return parseReference(input);
}

/** Writes content to `--output FILE` (atomically) or to stdout for `-`. The stream verifies itself. */
export async function writeOutput(ctx: Context, output: string, stream: Readable): Promise<void> {
  if (output === '-') {
    await pipeline(stream, ctx.io.stdout, { end: false });
    return;
  }
  await writeFileAtomic(output, stream);
}

/** A file to read: size known, fresh stream per attempt (so uploads can be retried). */
export async function openFile(path: string): Promise<{ size: number; open: () => Readable }> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new LadingError('not-found', `cannot read "${path}": ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (!info.isFile()) throw new LadingError('usage', `"${path}" is not a regular file`);
  return { size: info.size, open: () => createReadStream(path, { highWaterMark: 1024 * 1024 }) };
}

export async function readAll(stream: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    const b = Buffer.from(c as Buffer);
    n += b.length;
    if (n > limit) throw new LadingError('too-large', `${what} exceeds ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Asks on a terminal, or demands --force when there is none (ORAS silently exits 0 there). */
export async function confirm(ctx: Context, what: string): Promise<void> {
  if (ctx.bool('force')) return;
  if (!ctx.io.stdinIsTTY) {
    throw new LadingError('usage', `refusing to delete ${what} without confirmation: pass --force (there is no terminal to ask on)`);
  }
  ctx.io.stderr.write(`Are you sure you want to delete ${what}? [y/N] `);
  const answer = await new Promise<string>((resolve) => {
    ctx.io.stdin.once('data', (d) => resolve(String(d)));
    ctx.io.stdin.once('end', () => resolve(''));
  });
  ctx.io.stdin.pause();
  if (!/^y(es)?$/i.test(answer.trim())) throw new LadingError('internal', 'cancelled: nothing was deleted');
}
