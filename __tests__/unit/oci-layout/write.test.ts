/** Writing OCI image layouts: the exact files, tags, deletes, verification on push, and how open treats folders. */
import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { OciLayoutStore } from '../../../src/content/oci-layout/store.js';
import { tmpDir } from '../../helpers/tmp.js';
import { descOf, expectKind, manifestDesc, OCI_INDEX, OCI_MANIFEST, readAll, REF_NAME, sha256 } from './helpers.js';

const EMPTY_INDEX = '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}';

function indexOf(dir: string): { manifests: Array<{ digest: string; annotations?: Record<string, string> }> } {
  return JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
}
function blobNames(dir: string): string[] {
  return existsSync(join(dir, 'blobs/sha256')) ? readdirSync(join(dir, 'blobs/sha256')).sort() : [];
}

describe('a new layout', () => {
  it('is created with exactly oci-layout, index.json and an empty blobs/ folder', async () => {
    const dir = join(tmpDir('lading-layout-'), 'deep', 'layout');
    const s = await OciLayoutStore.open(dir);
    expect(s.path).toBe(dir);
    expect(readdirSync(dir).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
    expect(readFileSync(join(dir, 'oci-layout'), 'utf8')).toBe('{"imageLayoutVersion":"1.0.0"}');
    expect(readFileSync(join(dir, 'index.json'), 'utf8')).toBe(EMPTY_INDEX);
    expect(readdirSync(join(dir, 'blobs'))).toEqual([]);
    expect(await s.tags()).toEqual([]);
  });

  it('gets blobs under blobs/sha256/<hex> and the tagged manifest in index.json, byte for byte', async () => {
    const dir = tmpDir('lading-layout-');
    const s = await OciLayoutStore.open(dir);
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const layer = randomBytes(3000);
    const configDesc = descOf(config, 'application/vnd.oci.image.config.v1+json');
    const layerDesc = descOf(layer, 'application/vnd.oci.image.layer.v1.tar+gzip');
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDesc, layers: [layerDesc] }));
    const manifestD = descOf(manifest, OCI_MANIFEST);
    await s.push(configDesc, config);
    await s.push(layerDesc, () => Readable.from([layer.subarray(0, 1000), layer.subarray(1000)]));
    // blobs are not manifests: index.json stays empty
    expect(readFileSync(join(dir, 'index.json'), 'utf8')).toBe(EMPTY_INDEX);
    await s.pushReference(manifestD, manifest, 'v1');

    expect(readdirSync(dir).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
    expect(readdirSync(join(dir, 'blobs'))).toEqual(['sha256']);
    expect(blobNames(dir)).toEqual([configDesc, layerDesc, manifestD].map((x) => x.digest.slice(7)).sort());
    for (const [desc, bytes] of [[configDesc, config], [layerDesc, layer], [manifestD, manifest]] as const) {
      expect(readFileSync(join(dir, 'blobs/sha256', desc.digest.slice(7))).equals(bytes)).toBe(true);
    }
    expect(readFileSync(join(dir, 'index.json'), 'utf8')).toBe(
      `{"schemaVersion":2,"mediaType":"${OCI_INDEX}","manifests":[{"mediaType":"${OCI_MANIFEST}","digest":"${manifestD.digest}","size":${manifest.length},"annotations":{"${REF_NAME}":"v1"}}]}`,
    );
    expect(await s.resolve('v1')).toEqual(manifestD);
    expect(await readAll(await s.fetch(layerDesc))).toEqual(layer);
  });

  it('lists a pushed manifest without a tag as an untagged entry (so referrers stay discoverable), once', async () => {
    const dir = tmpDir('lading-layout-');
    const s = await OciLayoutStore.open(dir);
    const subject = manifestDesc('subject');
    const ref = manifestDesc('sig', subject.desc, 'application/vnd.example.sig');
    await s.pushReference(subject.desc, subject.bytes, 'app');
    await s.push(ref.desc, ref.bytes);
    await s.push(ref.desc, ref.bytes); // again: no second entry
    expect(indexOf(dir).manifests).toEqual([
      { ...subject.desc, annotations: { [REF_NAME]: 'app' } },
      ref.desc,
    ]);
    expect(await s.tags()).toEqual(['app']);
    expect(await s.referrers(subject.desc)).toEqual([{ ...ref.desc, artifactType: 'application/vnd.example.sig', annotations: { note: 'sig' } }]);
    // a fresh store instance (another process) sees the same
    const again = await OciLayoutStore.open(dir, { readOnly: true });
    expect((await again.referrers(subject.desc)).map((r) => r.digest)).toEqual([ref.desc.digest]);
  });

  it('keeps a pushed descriptor\'s artifactType and annotations in index.json (without any stray ref.name)', async () => {
    const dir = tmpDir('lading-layout-');
    const s = await OciLayoutStore.open(dir);
    const m = manifestDesc('a', undefined, 'application/vnd.x');
    const desc = { ...m.desc, artifactType: 'application/vnd.x', annotations: { created: 'now', [REF_NAME]: 'ignored' }, data: m.bytes.toString('base64') };
    await s.push(desc, m.bytes);
    expect(readFileSync(join(dir, 'index.json'), 'utf8')).toBe(
      `{"schemaVersion":2,"mediaType":"${OCI_INDEX}","manifests":[{"mediaType":"${OCI_MANIFEST}","digest":"${m.desc.digest}","size":${m.desc.size},"annotations":{"created":"now"},"artifactType":"application/vnd.x"}]}`,
    );
    expect(await s.resolve(m.desc.digest)).toEqual({ ...m.desc, annotations: { created: 'now' }, artifactType: 'application/vnd.x' });
  });

  it('finds referrers that only a listed index names', async () => {
    const dir = tmpDir('lading-layout-');
    const s = await OciLayoutStore.open(dir);
    const subject = manifestDesc('subject');
    const ref = manifestDesc('ref', subject.desc, 'application/vnd.example');
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [ref.desc] }));
    await s.pushReference(subject.desc, subject.bytes, 'app');
    await s.push(ref.desc, ref.bytes);
    await s.pushReference(descOf(index, OCI_INDEX), index, 'bundle');
    // drop the referrer's own entry: only the index leads to it now
    const doc = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    doc.manifests = doc.manifests.filter((m: { digest: string }) => m.digest !== ref.desc.digest);
    writeFileSync(join(dir, 'index.json'), JSON.stringify(doc));
    expect((await s.referrers(subject.desc)).map((r) => r.digest)).toEqual([ref.desc.digest]);
  });
});

describe('tags', () => {
  it('moving a tag takes it off the old manifest, which stays listed untagged', async () => {
    const dir = tmpDir('lading-layout-');
    const s = await OciLayoutStore.open(dir);
    const a = manifestDesc('a');
    const b = manifestDesc('b');
    await s.pushReference(a.desc, a.bytes, 'v1');
    await s.push(b.desc, b.bytes);
    await s.tag(b.desc, 'v1');
    expect(indexOf(dir).manifests).toEqual([{ ...b.desc, annotations: { [REF_NAME]: 'v1' } }, a.desc]);
    expect(await s.resolve('v1')).toEqual(b.desc);
    expect(await s.resolve(a.desc.digest)).toEqual(a.desc);
    expect(await s.tags()).toEqual(['v1']);

    // a second tag on the same manifest is a second entry; tagging again changes nothing
    await s.tag(b.desc, 'stable');
    await s.tag(b.desc, 'stable');
    expect(indexOf(dir).manifests).toEqual([
      { ...b.desc, annotations: { [REF_NAME]: 'v1' } },
      a.desc,
      { ...b.desc, annotations: { [REF_NAME]: 'stable' } },
    ]);
    expect(await s.tags()).toEqual(['stable', 'v1']);
    // moving v1 back to a replaces a's untagged entry, and b keeps its other tag
    await s.tag(a.desc, 'v1');
    expect(indexOf(dir).manifests).toEqual([{ ...a.desc, annotations: { [REF_NAME]: 'v1' } }, { ...b.desc, annotations: { [REF_NAME]: 'stable' } }]);
  });

  it('refuses a tag for content the layout does not have, and an invalid tag', async () => {
    const s = await OciLayoutStore.open(tmpDir('lading-layout-'));
    const a = manifestDesc('a');
    await expectKind(s.tag(a.desc, 'v1'), 'not-found');
    await s.push(a.desc, a.bytes);
    await expectKind(s.tag(a.desc, 'bad:tag'), 'usage', /invalid tag/);
    await expectKind(s.tag(a.desc, '-x'), 'usage');
    await expectKind(s.pushReference(a.desc, a.bytes, ''), 'usage');
  });
});

describe('delete', () => {
  it('removes the blob and every index.json entry of it', async () => {
    const dir = tmpDir('lading-layout-');
    const s = await OciLayoutStore.open(dir);
    const a = manifestDesc('a');
    const b = manifestDesc('b');
    await s.pushReference(a.desc, a.bytes, 'v1');
    await s.tag(a.desc, 'v2');
    await s.pushReference(b.desc, b.bytes, 'other');
    await s.delete(a.desc);
    expect(blobNames(dir)).toEqual([b.desc.digest.slice(7)]);
    expect(indexOf(dir).manifests).toEqual([{ ...b.desc, annotations: { [REF_NAME]: 'other' } }]);
    expect(await s.tags()).toEqual(['other']);
    expect(await s.exists(a.desc)).toBe(false);
    await expectKind(s.resolve('v1'), 'not-found');
    await expectKind(s.delete(a.desc), 'not-found');
  });

  it('removes a plain blob', async () => {
    const dir = tmpDir('lading-layout-');
    const s = await OciLayoutStore.open(dir);
    const blob = Buffer.from('blob');
    await s.push(descOf(blob), blob);
    await s.delete(descOf(blob));
    expect(blobNames(dir)).toEqual([]);
    expect(readFileSync(join(dir, 'index.json'), 'utf8')).toBe(EMPTY_INDEX);
  });
});

describe('push verification', () => {
  const good = Buffer.from('good content');

  async function expectNothingLeft(dir: string, push: Promise<unknown>, message: RegExp): Promise<void> {
    const before = readFileSync(join(dir, 'index.json'), 'utf8');
    await expectKind(push, 'digest-mismatch', message);
    expect(blobNames(dir)).toEqual([]);
    expect(readFileSync(join(dir, 'index.json'), 'utf8')).toBe(before);
  }

  it('refuses content with another digest (same size): no blob, no temporary file, no index entry', async () => {
    const dir = tmpDir('lading-layout-');
    const s = await OciLayoutStore.open(dir);
    const bad = Buffer.from('evil content');
    await expectNothingLeft(dir, s.push({ ...descOf(good), mediaType: OCI_MANIFEST }, bad), /digest mismatch/);
    await expectNothingLeft(dir, s.push(descOf(good), () => Readable.from([bad])), /digest mismatch/);
    expect(await s.exists(descOf(good))).toBe(false);
  });

  it('refuses too much or too little content', async () => {
    const dir = tmpDir('lading-layout-');
    const s = await OciLayoutStore.open(dir);
    await expectNothingLeft(dir, s.push(descOf(good), Buffer.concat([good, Buffer.from('!')])), /more data than the expected/);
    await expectNothingLeft(dir, s.push(descOf(good), good.subarray(1)), /size mismatch/);
  });

  it('passes on a failing source stream and leaves nothing', async () => {
    const dir = tmpDir('lading-layout-');
    const s = await OciLayoutStore.open(dir);
    const failing = () =>
      new Readable({
        read() {
          this.push(good.subarray(0, 4));
          this.destroy(new Error('connection reset'));
        },
      });
    await expect(s.push(descOf(good), failing)).rejects.toThrow(/connection reset/);
    expect(blobNames(dir)).toEqual([]);
  });

  it('streams a large blob through verification', async () => {
    const dir = tmpDir('lading-layout-');
    const s = await OciLayoutStore.open(dir);
    const big = randomBytes(5 * 1024 * 1024 + 17);
    const desc = descOf(big);
    await s.push(desc, () => Readable.from((function* () { for (let i = 0; i < big.length; i += 65536) yield big.subarray(i, i + 65536); })()));
    expect(sha256(readFileSync(join(dir, 'blobs/sha256', desc.digest.slice(7))))).toBe(desc.digest);
  });
});

describe('open', () => {
  it('refuses a folder that has other things in it and no oci-layout', async () => {
    const dir = tmpDir('lading-layout-');
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    await expectKind(OciLayoutStore.open(dir), 'usage', /not an OCI image layout/);
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('reports a missing layout as not-found when it may not create one', async () => {
    const dir = join(tmpDir('lading-layout-'), 'missing');
    await expectKind(OciLayoutStore.open(dir, { readOnly: true }), 'not-found');
    await expectKind(OciLayoutStore.open(dir, { create: false }), 'not-found');
    expect(existsSync(dir)).toBe(false);
    const empty = tmpDir('lading-layout-');
    await expectKind(OciLayoutStore.open(empty, { readOnly: true }), 'not-found');
    expect(readdirSync(empty)).toEqual([]);
  });

  it('creates a layout in an existing empty folder, and reopens an existing layout as is', async () => {
    const dir = tmpDir('lading-layout-');
    const s = await OciLayoutStore.open(dir);
    const a = manifestDesc('a');
    await s.pushReference(a.desc, a.bytes, 'v1');
    const again = await OciLayoutStore.open(dir);
    expect(await again.resolve('v1')).toEqual(a.desc);
  });

  it('reads a layout with an oci-layout file but no index.json as empty, and creates index.json on the first write', async () => {
    const dir = tmpDir('lading-layout-');
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const s = await OciLayoutStore.open(dir);
    expect(await s.tags()).toEqual([]);
    const a = manifestDesc('a');
    await s.pushReference(a.desc, a.bytes, 'v1');
    expect(indexOf(dir).manifests).toEqual([{ ...a.desc, annotations: { [REF_NAME]: 'v1' } }]);
  });

  it('refuses an unknown layout version, a broken oci-layout file and a plain file', async () => {
    const dir = tmpDir('lading-layout-');
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
    await expectKind(OciLayoutStore.open(dir), 'unsupported', /imageLayoutVersion "2.0.0"/);
    writeFileSync(join(dir, 'oci-layout'), 'not json');
    await expectKind(OciLayoutStore.open(dir), 'usage');
    const file = join(tmpDir('lading-layout-'), 'file.txt');
    writeFileSync(file, 'just text');
    await expectKind(OciLayoutStore.open(file), 'usage', /not a tar archive/);
  });

  it('refuses to write a .tar archive, and reports a missing one as not-found', async () => {
    const tar = join(tmpDir('lading-layout-'), 'out.tar');
    await expectKind(OciLayoutStore.open(tar), 'unsupported', /tar archive is not supported/);
    await expectKind(OciLayoutStore.open(tar, { readOnly: true }), 'not-found');
    expect(existsSync(tar)).toBe(false);
  });

  it('refuses a broken index.json clearly', async () => {
    const dir = tmpDir('lading-layout-');
    const s = await OciLayoutStore.open(dir);
    writeFileSync(join(dir, 'index.json'), '{"manifests": 1');
    await expectKind(s.tags(), 'usage', /index\.json is not valid JSON/);
    writeFileSync(join(dir, 'index.json'), '{"manifests": {}}');
    await expectKind(s.tags(), 'usage', /"manifests" is not a list/);
  });
});
