/** Reading OCI image layouts made by other tools: skopeo/umoci (busybox-oci) and ORAS/zot (oras-e2e/zot/command). */
import { describe, expect, it } from '@jest/globals';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OciLayoutStore } from '../../../src/content/oci-layout/store.js';
import { BUSYBOX_OCI, BUSYBOX_OCI_DIR, FIXTURES_DIR, ociBlobPath } from '../../helpers/fixtures.js';
import { makeWritable, tmpDir } from '../../helpers/tmp.js';
import { expectKind, OCI_INDEX, OCI_MANIFEST, readAll, sha256 } from './helpers.js';

const ZOT = join(FIXTURES_DIR, 'oras-e2e/zot/command');
const d = (hex: string) => `sha256:${hex}`;

describe('busybox-oci (skopeo/umoci layout)', () => {
  it('lists its tags, sorted', async () => {
    const s = await OciLayoutStore.open(BUSYBOX_OCI_DIR, { readOnly: true });
    expect(await s.tags()).toEqual(['arm64-variant', 'latest', 'multi']);
  });

  it('resolves tags to the known descriptors, and digests to the same', async () => {
    const s = await OciLayoutStore.open(BUSYBOX_OCI_DIR, { readOnly: true });
    expect(await s.resolve('latest')).toEqual(BUSYBOX_OCI.latest.manifest);
    expect(await s.resolve('arm64-variant')).toEqual(BUSYBOX_OCI.arm64Variant.manifest);
    expect(await s.resolve('multi')).toEqual(BUSYBOX_OCI.multi);
    expect(await s.resolve(BUSYBOX_OCI.multi.digest)).toEqual(BUSYBOX_OCI.multi);
  });

  it('resolves a blob digest that is not listed as octet-stream with its size', async () => {
    const s = await OciLayoutStore.open(BUSYBOX_OCI_DIR, { readOnly: true });
    expect(await s.resolve(BUSYBOX_OCI.latest.config.digest)).toEqual({ mediaType: 'application/octet-stream', digest: BUSYBOX_OCI.latest.config.digest, size: 872 });
  });

  it('fails clearly for unknown tags and digests, and for malformed digests', async () => {
    const s = await OciLayoutStore.open(BUSYBOX_OCI_DIR, { readOnly: true });
    await expectKind(s.resolve('nope'), 'not-found', /nope: not found in OCI layout/);
    await expectKind(s.resolve(sha256('nothing')), 'not-found');
    await expectKind(s.resolve('sha256:abc'), 'usage', /invalid digest/);
    await expectKind(s.fetch({ ...BUSYBOX_OCI.latest.config, digest: sha256('nothing') }), 'not-found');
    await expectKind(s.fetch({ ...BUSYBOX_OCI.latest.config, digest: 'sha256:../../../etc/passwd' }), 'usage');
  });

  it('fetches manifest, config and layers as verified streams with the exact bytes', async () => {
    const s = await OciLayoutStore.open(BUSYBOX_OCI_DIR, { readOnly: true });
    for (const desc of [BUSYBOX_OCI.latest.manifest, BUSYBOX_OCI.latest.config, ...BUSYBOX_OCI.latest.layers, BUSYBOX_OCI.multi]) {
      const bytes = await readAll(await s.fetch(desc));
      expect(bytes.length).toBe(desc.size);
      expect(sha256(bytes)).toBe(desc.digest);
      expect(bytes.equals(readFileSync(ociBlobPath(desc.digest)))).toBe(true);
      expect(await s.exists(desc)).toBe(true);
    }
    expect(await s.exists({ ...BUSYBOX_OCI.latest.config, digest: sha256('nothing') })).toBe(false);
  });

  it('reads the multi index and resolves its children', async () => {
    const s = await OciLayoutStore.open(BUSYBOX_OCI_DIR, { readOnly: true });
    const index = JSON.parse((await readAll(await s.fetch(await s.resolve('multi')))).toString('utf8'));
    expect(index.manifests.map((m: { digest: string; platform: unknown }) => [m.digest, m.platform])).toEqual([
      [BUSYBOX_OCI.latest.manifest.digest, { architecture: 'amd64', os: 'linux' }],
      [BUSYBOX_OCI.arm64Variant.manifest.digest, { architecture: 'arm64', os: 'linux', variant: 'v8' }],
    ]);
    for (const child of index.manifests) expect(await s.resolve(child.digest)).toEqual({ mediaType: OCI_MANIFEST, digest: child.digest, size: child.size });
  });

  it('works out the media type of a manifest that index.json does not list (no mediaType field in it)', async () => {
    const dir = tmpDir('lading-layout-');
    cpSync(BUSYBOX_OCI_DIR, dir, { recursive: true });
    makeWritable(dir);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    index.manifests = index.manifests.filter((m: { digest: string }) => m.digest === BUSYBOX_OCI.multi.digest);
    writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
    const s = await OciLayoutStore.open(dir, { readOnly: true });
    expect(await s.tags()).toEqual(['multi']);
    expect(await s.resolve(BUSYBOX_OCI.latest.manifest.digest)).toEqual(BUSYBOX_OCI.latest.manifest);
  });

  it('fails a fetch whose size or content does not match', async () => {
    const s = await OciLayoutStore.open(BUSYBOX_OCI_DIR, { readOnly: true });
    await expectKind(s.fetch({ ...BUSYBOX_OCI.latest.config, size: 871 }), 'digest-mismatch', /872 bytes, descriptor says 871/);

    const dir = tmpDir('lading-layout-');
    cpSync(BUSYBOX_OCI_DIR, dir, { recursive: true });
    makeWritable(dir);
    const config = join(dir, 'blobs/sha256', BUSYBOX_OCI.latest.config.digest.slice(7));
    const bytes = readFileSync(config);
    bytes[10] ^= 1; // same size, different content
    writeFileSync(config, bytes);
    const c = await OciLayoutStore.open(dir, { readOnly: true });
    await expectKind(readAll(await c.fetch(BUSYBOX_OCI.latest.config)), 'digest-mismatch', /digest mismatch/);
  });

  it('has no referrers, and refuses writes when opened read-only', async () => {
    const s = await OciLayoutStore.open(BUSYBOX_OCI_DIR, { readOnly: true });
    expect(await s.referrers(BUSYBOX_OCI.latest.manifest)).toEqual([]);
    const bytes = Buffer.from('x');
    await expectKind(s.push({ mediaType: 'application/octet-stream', digest: sha256(bytes), size: 1 }, bytes), 'unsupported', /read-only/);
    await expectKind(s.tag(BUSYBOX_OCI.latest.manifest, 'again'), 'unsupported');
    await expectKind(s.delete(BUSYBOX_OCI.latest.manifest), 'unsupported');
  });
});

describe('oras-e2e zot layouts (written by ORAS)', () => {
  it('images: tags, an index, and entries with artifactType and annotations', async () => {
    const s = await OciLayoutStore.open(join(ZOT, 'images'), { readOnly: true });
    expect(await s.tags()).toEqual(['empty_index', 'foobar', 'linux-amd64', 'linux-arm64', 'linux-armv7', 'multi', 'nonjson-config']);
    expect(await s.resolve('multi')).toEqual({ mediaType: OCI_INDEX, digest: d('e2bfc9cc6a84ec2d7365b5a28c6bc5806b7fa581c9ad7883be955a64e3cc034f'), size: 706 });
    expect(await s.resolve('nonjson-config')).toEqual({
      mediaType: OCI_MANIFEST,
      digest: d('9d16f5505246424aed7116cb21216704ba8c919997d0f1f37e154c11d509e1d2'),
      size: 529,
      annotations: { 'org.opencontainers.image.created': '2024-08-22T08:22:13Z' },
      artifactType: 'application/vnd.unknown.config.v1+json',
    });
    const empty = await s.resolve('empty_index');
    expect(JSON.parse((await readAll(await s.fetch(empty))).toString())).toEqual({ mediaType: OCI_INDEX, schemaVersion: 2, manifests: [] });
  });

  it('blobs: an index.json with "manifests": null reads as empty', async () => {
    const s = await OciLayoutStore.open(join(ZOT, 'blobs'), { readOnly: true });
    expect(await s.tags()).toEqual([]);
    await expectKind(s.resolve('latest'), 'not-found');
    const foo = { mediaType: 'application/octet-stream', digest: sha256('foo'), size: 3 };
    expect((await readAll(await s.fetch(foo))).toString()).toBe('foo');
  });

  it('artifacts: referrers of a manifest, as the referrers API lists them', async () => {
    const s = await OciLayoutStore.open(join(ZOT, 'artifacts'), { readOnly: true });
    expect(await s.tags()).toEqual(['blob', 'config', 'empty', 'foobar', 'multi', 'unnamed', 'v1.3.8']);
    const foobar = await s.resolve('foobar');
    expect(await s.referrers(foobar)).toEqual([
      {
        mediaType: OCI_MANIFEST,
        digest: d('e2c6633a79985906f1ed55c592718c73c41e809fb9818de232a635904a74d48d'),
        size: 660,
        artifactType: 'test/sbom.file',
        annotations: { 'org.opencontainers.image.created': '2023-01-18T08:37:42Z' },
      },
    ]);
    // a chain: the sbom has a signature
    const sig = await s.referrers({ mediaType: OCI_MANIFEST, digest: d('e2c6633a79985906f1ed55c592718c73c41e809fb9818de232a635904a74d48d'), size: 660 });
    expect(sig.map((r) => [r.digest.slice(7, 19), r.artifactType])).toEqual([['0cb8c4da7e9f', 'test/signature.file']]);
    // artifactType from the manifest field (not the empty config)
    const sbom = await s.referrers({ mediaType: OCI_MANIFEST, digest: d('6aa11331ce0c766d6333b60dac98d584d98eea45fa93bbfc9b5bdb915ce3a43f'), size: 584 });
    expect(sbom.map((r) => [r.digest.slice(7, 19), r.artifactType])).toEqual([['359bac7f6a26', 'sbom/file']]);
  });

  it('artifacts: referrers of an index (an index and a manifest), filtered by artifact type', async () => {
    const s = await OciLayoutStore.open(join(ZOT, 'artifacts'), { readOnly: true });
    const multi = await s.resolve('multi');
    const all = await s.referrers(multi);
    expect(all).toEqual([
      { mediaType: OCI_INDEX, digest: d('7679bc22c33b87aa345c6950a993db98a6df7a6cc77a35c388908a3a50be6bad'), size: 867 },
      {
        mediaType: OCI_MANIFEST,
        digest: d('d37baf66300b9006b0f4c7102075d56b970fbf910be5c6bca07fdbb000dfa383'),
        size: 473,
        artifactType: 'referrer/index',
        annotations: { 'org.opencontainers.image.created': '2023-02-15T07:56:51Z', subject: 'index' },
      },
    ]);
    expect((await s.referrers(multi, 'referrer/index')).map((r) => r.digest)).toEqual([all[1].digest]);
    expect(await s.referrers(multi, 'no/such-type')).toEqual([]);
    // the platform manifest linux/amd64 has its own referrer
    const amd64 = { mediaType: OCI_MANIFEST, digest: d('9d84a5716c66a1d1b9c13f8ed157ba7d1edfe7f9b8766728b8a1f25c0d9c14c1'), size: 458 };
    expect((await s.referrers(amd64)).map((r) => [r.digest.slice(7, 19), r.artifactType])).toEqual([['c5e00045954a', 'referrer/image']]);
  });
});
