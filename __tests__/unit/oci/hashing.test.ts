/**
 * Hashing for speed without losing a check: large streams are hashed on the hashing thread, a download is
 * hashed once on its way into a layout (not twice), and files are written in 1 MiB pieces (issue 6).
 */
import { describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { coalesce, WRITE_SIZE } from '../../../src/content/atomic-file.js';
import { MemoryStore } from '../../../src/content/memory.js';
import { OciLayoutStore } from '../../../src/content/oci-layout/store.js';
import type { Descriptor } from '../../../src/oci/descriptor.js';
import { isVerified, markVerified, VerifyingStream } from '../../../src/oci/digest.js';
import { OFF_THREAD_MIN_SIZE, ThreadHash } from '../../../src/oci/hash-thread.js';
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

describe('the hashing thread', () => {
  const big = randomBytes(OFF_THREAD_MIN_SIZE + 3 * 1024 * 1024 + 17);

  it('gives the digest node:crypto gives, across uneven chunks and partial batches', async () => {
    const h = ThreadHash.create('sha256');
    expect(h).toBeDefined();
    for await (const c of pieces(big)) await h!.update(c as Buffer);
    expect(`sha256:${await h!.digest()}`).toBe(sha256(big));
  });

  it('keeps several hashes apart, and a dropped one does not disturb the others', async () => {
    const a = randomBytes(3 * 1024 * 1024 + 1);
    const b = randomBytes(2 * 1024 * 1024 + 7);
    const ha = ThreadHash.create('sha512')!;
    const hb = ThreadHash.create('sha256')!;
    const dropped = ThreadHash.create('sha256')!;
    await dropped.update(randomBytes(1024 * 1024));
    dropped.abort();
    await Promise.all([ha.update(a), hb.update(b)]);
    expect(await ha.digest()).toBe(createHash('sha512').update(a).digest('hex'));
    expect(`sha256:${await hb.digest()}`).toBe(sha256(b));
  });

  it('a large VerifyingStream passes its bytes through unchanged and checks them on the thread', async () => {
    const v = new VerifyingStream(sha256(big), big.length, 'big blob');
    expect(v.offThread).toBe(true);
    expect(new VerifyingStream(sha256(big), OFF_THREAD_MIN_SIZE - 1).offThread).toBe(false);
    const [out] = await Promise.all([drain(v), pipeline(pieces(big), v)]);
    expect(out.equals(big)).toBe(true);
    expect(v.actualDigest).toBe(sha256(big));
  });

  it('a large stream with one byte changed fails as a digest mismatch', async () => {
    const bad = Buffer.from(big);
    bad[OFF_THREAD_MIN_SIZE + 5] ^= 1;
    const v = new VerifyingStream(sha256(big), big.length, 'big blob');
    const done = pipeline(pieces(bad), v, new PassThrough().resume());
    await expect(done).rejects.toMatchObject({ kind: 'digest-mismatch', message: expect.stringContaining(`expected ${sha256(big)}`) });
  });

  it('a large stream destroyed half-way leaves the thread usable', async () => {
    const v = new VerifyingStream(sha256(big), big.length, 'big blob');
    v.write(big.subarray(0, 5 * 1024 * 1024));
    v.destroy();
    const again = new VerifyingStream(sha256(big), big.length, 'big blob');
    await pipeline(pieces(big), again, new PassThrough().resume());
    expect(again.actualDigest).toBe(sha256(big));
  });
});

describe('writes in large pieces', () => {
  it('coalesce() joins small chunks into writes of at least 1 MiB and keeps every byte in order', async () => {
    const data = randomBytes(3 * WRITE_SIZE + 12345);
    const sizes: number[] = [];
    const out: Buffer[] = [];
    await pipeline(pieces(data, [65536, 16384, 1000]), coalesce(), async (source: AsyncIterable<Buffer>) => {
      for await (const c of source) {
        sizes.push(c.length);
        out.push(c);
      }
    });
    expect(Buffer.concat(out).equals(data)).toBe(true);
    expect(sizes.slice(0, -1).every((n) => n >= WRITE_SIZE)).toBe(true);
    expect(sizes.length).toBeLessThanOrEqual(4);
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
