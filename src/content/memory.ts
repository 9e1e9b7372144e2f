import { Readable } from 'node:stream';
import { LadingError } from '../errors/errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import { digestOf, isDigest } from '../oci/digest.js';
import type { Content, Deleter, TagLister, Target } from './interfaces.js';

/** Reads content fully (memory store and manifests only: never for blobs of unknown size). */
export async function contentBytes(content: Content): Promise<Buffer> {
  if (Buffer.isBuffer(content)) return content;
  const chunks: Buffer[] = [];
  for await (const c of content()) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

/** An in-memory Target: for tests, and as a staging area for small graphs. */
export class MemoryStore implements Target, TagLister, Deleter {
  private readonly blobs = new Map<string, { desc: Descriptor; bytes: Buffer }>();
  private readonly tagMap = new Map<string, Descriptor>();

  async fetch(desc: Descriptor): Promise<Readable> {
    const e = this.blobs.get(desc.digest);
    if (!e) throw new LadingError('not-found', `${desc.digest}: not found`);
    return Readable.from([e.bytes]);
  }
  async exists(desc: Descriptor): Promise<boolean> {
    return this.blobs.has(desc.digest);
  }
  async push(desc: Descriptor, content: Content): Promise<void> {
    const bytes = await contentBytes(content);
    if (bytes.length !== desc.size || digestOf(bytes, desc.digest.split(':')[0]) !== desc.digest) {
      throw new LadingError('digest-mismatch', `content does not match ${desc.digest} (${desc.size} bytes)`);
    }
    this.blobs.set(desc.digest, { desc: { mediaType: desc.mediaType, digest: desc.digest, size: desc.size }, bytes });
  }
  async resolve(reference: string): Promise<Descriptor> {
    const d = isDigest(reference) ? this.blobs.get(reference)?.desc : this.tagMap.get(reference);
    if (!d) throw new LadingError('not-found', `${reference}: not found`);
    return d;
  }
  async tag(desc: Descriptor, reference: string): Promise<void> {
    if (!this.blobs.has(desc.digest)) throw new LadingError('not-found', `${desc.digest}: not found`);
    this.tagMap.set(reference, { mediaType: desc.mediaType, digest: desc.digest, size: desc.size });
  }
  async tags(): Promise<string[]> {
    return [...this.tagMap.keys()].sort();
  }
  async delete(desc: Descriptor): Promise<void> {
    if (!this.blobs.delete(desc.digest)) throw new LadingError('not-found', `${desc.digest}: not found`);
    for (const [t, d] of this.tagMap) if (d.digest === desc.digest) this.tagMap.delete(t);
  }
}
