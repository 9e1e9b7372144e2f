/**
 * One suite of Target behaviours, run against every store. To add a store, add one line to STORES:
 * a name and a factory for a fresh, empty instance. Optional capabilities (tags, delete) are
 * checked with the interface type guards, as the operations that use them do.
 */
import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { isDeleter, isTagLister, type Target } from '../../../src/content/interfaces.js';
import { MemoryStore } from '../../../src/content/memory.js';
import { OciLayoutStore } from '../../../src/content/oci-layout/store.js';
import type { Descriptor } from '../../../src/oci/descriptor.js';
import { tmpDir } from '../../helpers/tmp.js';
import { descOf, expectKind, manifestDesc, readAll } from '../oci-layout/helpers.js';

const STORES: Array<[name: string, make: () => Promise<Target>]> = [
  ['MemoryStore', async () => new MemoryStore()],
  ['OciLayoutStore', async () => OciLayoutStore.open(join(tmpDir('lading-conformance-'), 'layout'))],
];

const blob = Buffer.from('some layer bytes');
const blobDesc = descOf(blob, 'application/vnd.oci.image.layer.v1.tar');
const a = manifestDesc('manifest a');
const b = manifestDesc('manifest b');
const unknown = manifestDesc('never pushed');

async function fetchBytes(s: Target, d: Descriptor): Promise<Buffer> {
  return readAll(await s.fetch(d));
}

describe.each(STORES)('%s conforms', (_name, make) => {
  describe('push, exists, fetch', () => {
    it('stores a blob given as bytes and fetches the same bytes', async () => {
      const s = await make();
      expect(await s.exists(blobDesc)).toBe(false);
      await s.push(blobDesc, blob);
      expect(await s.exists(blobDesc)).toBe(true);
      expect(await fetchBytes(s, blobDesc)).toEqual(blob);
    });

    it('stores content given as a stream factory, in several chunks', async () => {
      const s = await make();
      await s.push(blobDesc, () => Readable.from([blob.subarray(0, 5), blob.subarray(5)]));
      expect(await fetchBytes(s, blobDesc)).toEqual(blob);
    });

    it('accepts the same content twice', async () => {
      const s = await make();
      await s.push(a.desc, a.bytes);
      await s.push(a.desc, a.bytes);
      expect(await fetchBytes(s, a.desc)).toEqual(a.bytes);
    });

    it('fails a fetch of unknown content with not-found', async () => {
      const s = await make();
      expect(await s.exists(unknown.desc)).toBe(false);
      await expectKind(fetchBytes(s, unknown.desc), 'not-found');
    });

    it('refuses content that does not match the digest, and keeps nothing', async () => {
      const s = await make();
      const wrong = Buffer.from(blob);
      wrong[0] ^= 1;
      await expectKind(s.push(blobDesc, wrong), 'digest-mismatch');
      await expectKind(s.push(blobDesc, () => Readable.from([wrong])), 'digest-mismatch');
      expect(await s.exists(blobDesc)).toBe(false);
    });

    it('refuses content that does not match the size, and keeps nothing', async () => {
      const s = await make();
      await expectKind(s.push(blobDesc, blob.subarray(1)), 'digest-mismatch');
      await expectKind(s.push(blobDesc, Buffer.concat([blob, Buffer.from('x')])), 'digest-mismatch');
      expect(await s.exists(blobDesc)).toBe(false);
    });
  });

  describe('resolve and tag', () => {
    it('resolves a pushed manifest by digest', async () => {
      const s = await make();
      await s.push(a.desc, a.bytes);
      expect(await s.resolve(a.desc.digest)).toEqual(a.desc);
    });

    it('resolves a tag to the manifest it was given', async () => {
      const s = await make();
      await s.push(a.desc, a.bytes);
      await s.tag(a.desc, 'v1');
      expect(await s.resolve('v1')).toEqual(a.desc);
    });

    it('moves a tag', async () => {
      const s = await make();
      await s.push(a.desc, a.bytes);
      await s.push(b.desc, b.bytes);
      await s.tag(a.desc, 'v1');
      await s.tag(b.desc, 'v1');
      expect(await s.resolve('v1')).toEqual(b.desc);
      expect(await s.resolve(a.desc.digest)).toEqual(a.desc);
      if (isTagLister(s)) expect(await s.tags()).toEqual(['v1']);
    });

    it('fails to resolve unknown tags and digests with not-found', async () => {
      const s = await make();
      await expectKind(s.resolve('v1'), 'not-found');
      await expectKind(s.resolve(unknown.desc.digest), 'not-found');
    });

    it('refuses to tag content it does not have', async () => {
      const s = await make();
      await expectKind(s.tag(unknown.desc, 'v1'), 'not-found');
      await expectKind(s.resolve('v1'), 'not-found');
    });
  });

  describe('tags (TagLister)', () => {
    it('lists no tags when empty, and pushing alone tags nothing', async () => {
      const s = await make();
      if (!isTagLister(s)) return;
      expect(await s.tags()).toEqual([]);
      await s.push(a.desc, a.bytes);
      expect(await s.tags()).toEqual([]);
    });

    it('lists every tag once, sorted, including several tags of one manifest', async () => {
      const s = await make();
      if (!isTagLister(s)) return;
      await s.push(a.desc, a.bytes);
      await s.push(b.desc, b.bytes);
      for (const [d, t] of [[b.desc, 'zeta'], [a.desc, 'alpha'], [a.desc, 'Beta'], [b.desc, '1.0'], [a.desc, 'alpha']] as const) await s.tag(d, t);
      expect(await s.tags()).toEqual(['1.0', 'Beta', 'alpha', 'zeta']);
      expect(await s.resolve('Beta')).toEqual(a.desc);
      expect(await s.resolve('1.0')).toEqual(b.desc);
    });
  });

  describe('delete (Deleter)', () => {
    it('removes content and its tags, and leaves other content alone', async () => {
      const s = await make();
      if (!isDeleter(s)) return;
      await s.push(a.desc, a.bytes);
      await s.push(b.desc, b.bytes);
      await s.tag(a.desc, 'v1');
      await s.tag(a.desc, 'v2');
      await s.tag(b.desc, 'other');
      await s.delete(a.desc);
      expect(await s.exists(a.desc)).toBe(false);
      await expectKind(fetchBytes(s, a.desc), 'not-found');
      await expectKind(s.resolve('v1'), 'not-found');
      await expectKind(s.resolve(a.desc.digest), 'not-found');
      if (isTagLister(s)) expect(await s.tags()).toEqual(['other']);
      expect(await s.resolve('other')).toEqual(b.desc);
      expect(await fetchBytes(s, b.desc)).toEqual(b.bytes);
    });

    it('removes a blob', async () => {
      const s = await make();
      if (!isDeleter(s)) return;
      await s.push(blobDesc, blob);
      await s.delete(blobDesc);
      expect(await s.exists(blobDesc)).toBe(false);
    });

    it('fails to delete unknown content with not-found', async () => {
      const s = await make();
      if (!isDeleter(s)) return;
      await expectKind(s.delete(unknown.desc), 'not-found');
    });
  });
});
