/**
 * Hashing for speed without losing a check: a download is hashed once on its way into a layout (not twice),
 * and files are written in 1 MiB pieces (issue 6).
 */
import { describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WRITE_SIZE, writeFileAtomic } from '../../../src/content/atomic-file.js';
import { MemoryStore } from '../../../src/content/memory.js';
import { OciLayoutStore } from '../../../src/content/oci-layout/store.js';
import type { Descriptor } from '../../../src/oci/descriptor.js';
import { isVerified, markVerified, VerifyingStream } from '../../../src/oci/digest.js';
import { copyGraph } from '../../../src/ops/copy.js';
import { tmpDir } from '../../helpers/tmp.js';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Feeds `data` in uneven pieces (so batches never line up with chunks). */
function pieces(data: Buffer, sizes = [1, 70_000, 333_333, 1 << 20, 5]): Readable {
  return Readable.from(
    (function* () {
      let at = 0;
      for (let i = 0; at < data.length; i++) {
        const n = sizes[i % sizes.length];
        yield data.subarray(at, at + n);
        at += n;
      }
    })(),
  );
}

async function drain(stream: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of stream) out.push(c as Buffer);
  return Buffer.concat(out);
}

describe('writeFileAtomic', () => {
  it('writes every byte of an async iterable in order, across many small pieces', async () => {
    const data = randomBytes(3 * WRITE_SIZE + 12345);
    const file = join(tmpDir('lading-gather-'), 'out.bin');
    await writeFileAtomic(file, pieces(data, [65536, 16384, 1000, 2 * WRITE_SIZE]));
    expect(readFileSync(file).equals(data)).toBe(true);
  });

  it('a source failing after some writes leaves no file, no temporary file, and its clean-up runs', async () => {
    const dir = tmpDir('lading-gather-');
    let cleaned = false;
    const source = (async function* () {
      try {
        yield randomBytes(WRITE_SIZE + 1);
        yield randomBytes(10);
        throw new Error('source broke');
      } finally {
        cleaned = true;
      }
    })();
    await expect(writeFileAtomic(join(dir, 'out.bin'), source)).rejects.toThrow('source broke');
    expect(readdirSync(dir)).toEqual([]);
    expect(cleaned).toBe(true);
  });

  it('a failure before the first byte (the target is a folder) stops the source without starting it', async () => {
    const dir = tmpDir('lading-gather-');
    let started = false;
    const source = (async function* () {
      started = true;
      yield Buffer.from('x');
    })();
    await expect(writeFileAtomic(dir, source)).rejects.toMatchObject({ kind: 'usage' });
    expect(started).toBe(false);
  });
});

describe('one verification per copy', () => {
  it('a VerifyingStream is marked for exactly its digest and size', () => {
    const d = sha256(Buffer.from('x'));
    const v = new VerifyingStream(d, 1);
    expect(isVerified(v, d, 1)).toBe(true);
    expect(isVerified(v, d, 2)).toBe(false);
    expect(isVerified(new VerifyingStream(undefined, undefined), d, 1)).toBe(false);
    expect(isVerified(new PassThrough(), d, 1)).toBe(false);
  });

  it('a layout trusts a stream marked for the same digest and size instead of hashing it again', async () => {
    // The store's contract is "verified content"; a marked stream says it already fails on any other bytes.
    // Proven here with a stream that lies: its bytes are written as they come, so the layout did not hash them.
    const dir = tmpDir('lading-hash-once-');
    const store = await OciLayoutStore.open(dir);
    const claimed = Buffer.from('the bytes the digest is of');
    const actual = Buffer.from('other bytes, same length!!');
    expect(actual.length).toBe(claimed.length);
    const desc: Descriptor = { mediaType: 'application/octet-stream', digest: sha256(claimed), size: claimed.length };
    await store.push(desc, () => markVerified(Readable.from([actual]), desc.digest, desc.size));
    expect(await drain(await new MemoryStoreReader(dir).read(desc))).toEqual(actual);
    // Unmarked, the same bytes are refused.
    const dir2 = tmpDir('lading-hash-once-');
    const store2 = await OciLayoutStore.open(dir2);
    await expect(store2.push(desc, () => Readable.from([actual]))).rejects.toMatchObject({ kind: 'digest-mismatch' });
  });

  it('copy verifies a source that does not verify its own streams, once, before the layout stores it', async () => {
    // A MemoryStore source whose stored bytes were swapped behind its back: its fetch() checks nothing.
    const good = Buffer.from('{"good":true}');
    const config = Buffer.from('{}');
    const src = new MemoryStore();
    const cfg: Descriptor = { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(config), size: config.length };
    const layer: Descriptor = { mediaType: 'application/octet-stream', digest: sha256(good), size: good.length };
    await src.push(cfg, config);
    await src.push(layer, good);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: cfg, layers: [layer] }));
    const root: Descriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length };
    await src.push(root, manifest);
    const original = src.fetch.bind(src);
    src.fetch = async (d: Descriptor) => (d.digest === layer.digest ? Readable.from([Buffer.from('{"evil":true}')]) : original(d));
    const dir = tmpDir('lading-hash-once-');
    const dst = await OciLayoutStore.open(dir);
    await expect(copyGraph(src, dst, root)).rejects.toMatchObject({ kind: 'digest-mismatch' });
    expect(readdirSync(join(dir, 'blobs', 'sha256')).filter((n) => n.includes(layer.digest.slice(7)))).toEqual([]);
  });
});

/** Reads a layout blob file as stored (no verification), to see what the store wrote. */
class MemoryStoreReader {
  constructor(private readonly dir: string) {}
  async read(desc: Descriptor): Promise<Readable> {
    const { createReadStream } = await import('node:fs');
    return createReadStream(join(this.dir, 'blobs', 'sha256', desc.digest.slice(7)));
  }
}
