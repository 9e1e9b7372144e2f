/**
 * The copy engine on in-memory stores: `concurrency` bounds the requests in flight across a whole
 * index (not per level), blobs shared by several images are copied once, a destination that has a
 * manifest is not walked below it, and the tags go on the root last.
 */
import { describe, expect, it } from '@jest/globals';
import type { Content } from '../../../src/content/interfaces.js';
import { MemoryStore } from '../../../src/content/memory.js';
import type { Descriptor } from '../../../src/oci/descriptor.js';
import { digestOf } from '../../../src/oci/digest.js';
import { copyReference } from '../../../src/ops/copy.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';

async function put(store: MemoryStore, mediaType: string, bytes: Buffer | string): Promise<Descriptor> {
  const b = Buffer.from(bytes);
  const desc = { mediaType, digest: digestOf(b), size: b.length };
  await store.push(desc, b);
  return desc;
}

/** An index of `n` images; each has its own config and layer, and all share one layer. */
async function source(n: number): Promise<{ src: MemoryStore; root: Descriptor; shared: Descriptor }> {
  const src = new MemoryStore();
  const shared = await put(src, 'application/vnd.oci.image.layer.v1.tar', 'shared layer');
  const manifests: Descriptor[] = [];
  for (let i = 0; i < n; i++) {
    const config = await put(src, 'application/vnd.oci.image.config.v1+json', JSON.stringify({ architecture: `arch${i}`, os: 'linux' }));
    const layer = await put(src, 'application/vnd.oci.image.layer.v1.tar', `layer ${i}`);
    const m = await put(src, OCI, JSON.stringify({ schemaVersion: 2, mediaType: OCI, config, layers: [layer, shared] }));
    manifests.push({ ...m, platform: { os: 'linux', architecture: `arch${i}` } });
  }
  const root = await put(src, INDEX, JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests }));
  await src.tag(root, 'v1');
  return { src, root, shared };
}

/** A MemoryStore that counts pushes per digest and the most pushes in flight at once (each takes a few ms). */
class CountingStore extends MemoryStore {
  active = 0;
  max = 0;
  readonly pushes = new Map<string, number>();
  override async push(desc: Descriptor, content: Content): Promise<void> {
    this.pushes.set(desc.digest, (this.pushes.get(desc.digest) ?? 0) + 1);
    this.active++;
    this.max = Math.max(this.max, this.active);
    try {
      await new Promise((r) => setTimeout(r, 5));
      await super.push(desc, content);
    } finally {
      this.active--;
    }
  }
}

describe('copy engine', () => {
  it.each([1, 2, 5])('concurrency %i bounds the pushes in flight across the whole index; a shared blob is copied once', async (concurrency) => {
    const { src, root, shared } = await source(6);
    const dst = new CountingStore();
    const result = await copyReference(src, 'v1', dst, ['v1'], { concurrency });
    expect(result).toEqual({ root: { mediaType: INDEX, digest: root.digest, size: root.size }, status: 'copied' });
    expect(dst.max).toBeLessThanOrEqual(concurrency);
    if (concurrency > 1) expect(dst.max).toBeGreaterThan(1);
    expect(dst.pushes.get(shared.digest)).toBe(1);
    expect([...dst.pushes.values()].every((n) => n === 1)).toBe(true);
    expect(dst.pushes.size).toBe(1 + 6 * 3 + 1); // shared layer, 6 × (config, layer, manifest), the index
    expect((await dst.resolve('v1')).digest).toBe(root.digest);
  });

  it('a destination that has a child manifest is not walked below it; the root is tagged last', async () => {
    const { src, root } = await source(2);
    const dst = new CountingStore();
    const events: string[] = [];
    // First copy one child alone (by digest, no tag), then the whole index.
    const index = JSON.parse((await src.fetch(root)).read().toString()) as { manifests: Descriptor[] };
    await copyReference(src, index.manifests[0].digest, dst, [], {});
    expect(await dst.tags()).toEqual([]);
    dst.pushes.clear();
    const order: string[] = [];
    const tag = dst.tag.bind(dst);
    dst.tag = async (d, t) => {
      order.push(`tag ${t}`);
      return tag(d, t);
    };
    const push = dst.push.bind(dst);
    dst.push = async (d, c) => {
      order.push(`push ${d.mediaType}`);
      return push(d, c);
    };
    await copyReference(src, 'v1', dst, ['v1', 'latest'], { concurrency: 3, onBlob: (e) => e.status !== 'Copying' && events.push(`${e.status} ${e.descriptor.digest}`) });
    expect(events).toContain(`Exists ${index.manifests[0].digest}`);
    expect(dst.pushes.size).toBe(1 + 3 + 0); // the index, then the second image's config, layer, manifest (the shared layer exists)
    expect(order.slice(-3)).toEqual([`push ${INDEX}`, 'tag v1', 'tag latest']);
    expect(await dst.tags()).toEqual(['latest', 'v1']);
  });
});
