/**
 * verifiedFileStream: a layout blob (or any file of known digest and size) read in 1 MiB pieces, hashed as it is
 * read, judged at the end, and closed whatever happens.
 */
import { describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { READ_SIZE, verifiedFileStream } from '../../../src/content/file-stream.js';
import { isVerified } from '../../../src/oci/digest.js';
import { tmpDir } from '../../helpers/tmp.js';
import { readAll } from '../oci-layout/helpers.js';

const DATA = randomBytes(2 * READ_SIZE + 12345);
const D = `sha256:${createHash('sha256').update(DATA).digest('hex')}`;

async function fileOf(bytes: Buffer) {
  const path = join(tmpDir('lading-file-stream-'), 'blob');
  writeFileSync(path, bytes);
  return { path, handle: await open(path, 'r') };
}

describe('verifiedFileStream', () => {
  it('hands on the file in pieces of at most 1 MiB, the whole of it, and closes the file; marked verified', async () => {
    const { handle } = await fileOf(DATA);
    const stream = verifiedFileStream(handle, D, DATA.length, `blob ${D}`);
    expect(isVerified(stream, D, DATA.length)).toBe(true);
    const sizes: number[] = [];
    stream.on('data', (b: Buffer) => sizes.push(b.length));
    const all = await readAll(stream);
    expect(all.equals(DATA)).toBe(true);
    expect(sizes).toEqual([READ_SIZE, READ_SIZE, 12345]);
    expect(handle.fd).toBe(-1);
  });

  it('a file whose bytes are not the digest fails at the end as a digest mismatch (exit 5), and is closed', async () => {
    const other = Buffer.from(DATA);
    other[READ_SIZE + 7] ^= 0xff;
    const { handle } = await fileOf(other);
    const err = await readAll(verifiedFileStream(handle, D, DATA.length, `blob ${D} in OCI layout x`)).then(
      () => undefined,
      (e: unknown) => e as { kind: string; exitCode: number; message: string },
    );
    expect(err).toMatchObject({ kind: 'digest-mismatch', exitCode: 5 });
    expect(err!.message).toMatch(new RegExp(`^blob ${D} in OCI layout x: digest mismatch: expected ${D}, got sha256:`));
    expect(handle.fd).toBe(-1);
  });

  it('a file that ends before its size (truncated after it was opened) fails as a size mismatch, not a hang', async () => {
    const { path, handle } = await fileOf(DATA);
    truncateSync(path, READ_SIZE + 10);
    const err = await readAll(verifiedFileStream(handle, D, DATA.length, `blob ${D}`)).then(
      () => undefined,
      (e: unknown) => e as { kind: string; message: string },
    );
    expect(err).toMatchObject({ kind: 'digest-mismatch', message: `blob ${D}: size mismatch: expected ${DATA.length} bytes, the file ends after ${READ_SIZE + 10}` });
    expect(handle.fd).toBe(-1);
  });

  it('a file longer than its size: exactly `size` bytes are handed on (what the descriptor names), nothing after', async () => {
    const { handle } = await fileOf(Buffer.concat([DATA, Buffer.from('trailing')]));
    const all = await readAll(verifiedFileStream(handle, D, DATA.length, 'blob'));
    expect(all.equals(DATA)).toBe(true);
    expect(handle.fd).toBe(-1);
  });

  it('destroyed by its reader after the first piece: the file is closed', async () => {
    const { handle } = await fileOf(DATA);
    const stream = verifiedFileStream(handle, D, DATA.length, 'blob');
    await new Promise<void>((resolve) => {
      stream.once('data', () => stream.destroy());
      stream.once('close', () => resolve());
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(handle.fd).toBe(-1);
  });
});
