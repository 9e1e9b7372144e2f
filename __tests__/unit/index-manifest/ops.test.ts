/**
 * src/ops/index-manifest.ts on an in-memory store: platforms read from image configs (and nowhere else), the
 * order of entries, manifests named twice, update's remove/add/merge, and the exact bytes of the index (ORAS's
 * Go key order: checked against the busybox fixture's `multi` index, byte for byte).
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { MemoryStore } from '../../../src/content/memory.js';
import { LadingError } from '../../../src/errors/errors.js';
import type { Descriptor } from '../../../src/oci/descriptor.js';
import { digestOf } from '../../../src/oci/digest.js';
import {
  appendEntries,
  buildIndex,
  createIndex,
  describeEntry,
  encodeIndex,
  platformFromConfig,
  removeEntries,
  targetSource,
  updateIndex,
  type IndexEvent,
} from '../../../src/ops/index-manifest.js';
import { BUSYBOX_OCI, ociBlobPath } from '../../helpers/fixtures.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const EMPTY_TYPE = 'application/vnd.oci.empty.v1+json';

/** Stores `bytes` in `store` as `mediaType`, optionally tagged; returns its descriptor. */
async function put(store: MemoryStore, mediaType: string, bytes: Buffer | string, tag?: string): Promise<Descriptor> {
  const b = Buffer.from(bytes);
  const desc = { mediaType, digest: digestOf(b), size: b.length };
  await store.push(desc, b);
  if (tag) await store.tag(desc, tag);
  return desc;
}

/** An image manifest whose config is `config` (stored unless `storeConfig` is false). */
async function image(store: MemoryStore, tag: string, config: Record<string, unknown> | string, options: { configType?: string; mediaType?: string; artifactType?: string; storeConfig?: boolean } = {}): Promise<Descriptor> {
  const configBytes = Buffer.from(typeof config === 'string' ? config : JSON.stringify(config));
  const configType = options.configType ?? OCI_CONFIG;
  const configDesc = { mediaType: configType, digest: digestOf(configBytes), size: configBytes.length };
  if (options.storeConfig !== false) await store.push(configDesc, configBytes);
  const mediaType = options.mediaType ?? OCI_MANIFEST;
  const manifest: Record<string, unknown> = { schemaVersion: 2, mediaType };
  if (options.artifactType) manifest.artifactType = options.artifactType;
  manifest.config = configDesc;
  manifest.layers = [];
  return put(store, mediaType, JSON.stringify(manifest), tag);
}

function plain(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

describe('platformFromConfig', () => {
  it('reads os and architecture, in the key order ORAS writes (architecture first)', () => {
    const p = platformFromConfig(Buffer.from('{"os":"linux","architecture":"amd64","config":{}}'));
    expect(JSON.stringify(p)).toBe('{"architecture":"amd64","os":"linux"}');
  });

  it('reads variant, os.version and os.features, ordered as Go encodes ocispec.Platform', () => {
    const p = platformFromConfig(Buffer.from(JSON.stringify({ variant: 'v7', 'os.features': ['win32k'], 'os.version': '10.0.17763.1040', os: 'windows', architecture: 'arm' })));
    expect(JSON.stringify(p)).toBe('{"architecture":"arm","os":"windows","os.version":"10.0.17763.1040","os.features":["win32k"],"variant":"v7"}');
  });

  it('is undefined for a config naming neither os nor architecture, and for a config that is not a JSON object', () => {
    expect(platformFromConfig(Buffer.from('{}'))).toBeUndefined();
    expect(platformFromConfig(Buffer.from('{"os":"","architecture":""}'))).toBeUndefined();
    expect(platformFromConfig(Buffer.from('not json'))).toBeUndefined();
    expect(platformFromConfig(Buffer.from('["linux"]'))).toBeUndefined();
  });

  it('keeps a lone os (architecture empty, as ORAS encodes it) and drops fields of the wrong type', () => {
    expect(JSON.stringify(platformFromConfig(Buffer.from('{"os":"linux"}')))).toBe('{"architecture":"","os":"linux"}');
    const p = platformFromConfig(Buffer.from(JSON.stringify({ os: 'linux', architecture: 'arm64', variant: 8, 'os.features': 'x' })));
    expect(JSON.stringify(p)).toBe('{"architecture":"arm64","os":"linux"}');
  });

  it('reads the fixture configs: amd64, and arm64 without a variant', () => {
    expect(platformFromConfig(readFileSync(ociBlobPath(BUSYBOX_OCI.latest.config.digest)))).toEqual({ architecture: 'amd64', os: 'linux' });
    expect(platformFromConfig(readFileSync(ociBlobPath(BUSYBOX_OCI.arm64Variant.config.digest)))).toEqual({ architecture: 'arm64', os: 'linux' });
  });
});

describe('describeEntry', () => {
  it('an OCI image: its plain descriptor with the platform of its config', async () => {
    const store = new MemoryStore();
    const m = await image(store, 'arm', { os: 'linux', architecture: 'arm', variant: 'v6' });
    const e = await describeEntry(targetSource(store), 'arm');
    expect(e.kind).toBe('image');
    expect(JSON.stringify(e.descriptor)).toBe(JSON.stringify({ ...plain(m), platform: { architecture: 'arm', os: 'linux', variant: 'v6' } }));
  });

  it('a Docker schema 2 image: the platform of its Docker config', async () => {
    const store = new MemoryStore();
    const m = await image(store, 'docker', { os: 'linux', architecture: 's390x' }, { mediaType: DOCKER_MANIFEST, configType: DOCKER_CONFIG });
    expect((await describeEntry(targetSource(store), m.digest)).descriptor).toEqual({ ...plain(m), platform: { architecture: 's390x', os: 'linux' } });
  });

  it('an artifact (config not an image config): no platform, the config is not even read; its artifactType is kept', async () => {
    const store = new MemoryStore();
    // The config claims a platform and is not stored: reading it would fail the test.
    const m = await image(store, 'sbom', { os: 'linux', architecture: 'amd64' }, { configType: EMPTY_TYPE, artifactType: 'application/spdx+json', storeConfig: false });
    const e = await describeEntry(targetSource(store), 'sbom');
    expect(e.kind).toBe('artifact');
    expect(JSON.stringify(e.descriptor)).toBe(JSON.stringify({ ...plain(m), artifactType: 'application/spdx+json' }));
  });

  it('an image config that names no platform: an entry without one', async () => {
    const store = new MemoryStore();
    const m = await image(store, 'bare', { config: {} });
    expect((await describeEntry(targetSource(store), 'bare')).descriptor).toEqual(plain(m));
  });

  it('an index: a nested entry without platform', async () => {
    const store = new MemoryStore();
    const m = await image(store, 'a', { os: 'linux', architecture: 'amd64' });
    const idx = await put(store, OCI_INDEX, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [plain(m)] }), 'idx');
    const e = await describeEntry(targetSource(store), 'idx');
    expect(e).toEqual({ source: 'idx', kind: 'index', descriptor: plain(idx) });
  });

  it('an unknown source is not found and names the source; a blob is not a manifest', async () => {
    const store = new MemoryStore();
    await expect(describeEntry(targetSource(store), 'nope')).rejects.toMatchObject({ kind: 'not-found', message: expect.stringContaining('nope') });
    const blob = await put(store, 'application/octet-stream', 'x');
    await expect(describeEntry(targetSource(store), blob.digest)).rejects.toMatchObject({ kind: 'not-found', message: expect.stringContaining('not a manifest') });
  });

  it('a config over the limit is refused before it is read', async () => {
    const store = new MemoryStore();
    await image(store, 'big', { os: 'linux', architecture: 'amd64', pad: 'x'.repeat(100) });
    await expect(describeEntry(targetSource(store), 'big', { maxConfigSize: 64 })).rejects.toMatchObject({ kind: 'too-large' });
  });
});

describe('createIndex', () => {
  async function threeImages() {
    const store = new MemoryStore();
    const amd = await image(store, 'amd64', { os: 'linux', architecture: 'amd64' });
    const arm = await image(store, 'arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' });
    const win = await image(store, 'win', { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.1' });
    return { store, amd, arm, win };
  }

  it('lists the manifests in the order given', async () => {
    const { store, amd, arm, win } = await threeImages();
    const a = await createIndex(targetSource(store), ['win', 'amd64', 'arm64']);
    expect(a.index.manifests.map((m) => m.digest)).toEqual([win.digest, amd.digest, arm.digest]);
    const b = await createIndex(targetSource(store), ['arm64', 'win', 'amd64']);
    expect(b.index.manifests.map((m) => m.digest)).toEqual([arm.digest, win.digest, amd.digest]);
    expect(b.descriptor.digest).not.toBe(a.descriptor.digest);
  });

  it('a manifest named twice (the same tag, or by tag and by digest) is listed once, where it first appears', async () => {
    const { store, amd, arm } = await threeImages();
    const events: IndexEvent[] = [];
    const built = await createIndex(targetSource(store), ['amd64', 'arm64', 'amd64', amd.digest, arm.digest], { onEvent: (e) => events.push(e) });
    expect(built.index.manifests.map((m) => m.digest)).toEqual([amd.digest, arm.digest]);
    expect(events.filter((e) => e.kind === 'skipped').map((e) => (e as { source: string }).source)).toEqual(['amd64', amd.digest, arm.digest]);
    expect(events.filter((e) => e.kind === 'added').map((e) => (e as { source: string }).source)).toEqual(['amd64', 'arm64']);
  });

  it('the index: OCI index type, annotations sorted by key, artifactType; digest and size of its bytes', async () => {
    const { store, amd } = await threeImages();
    const built = await createIndex(targetSource(store), ['amd64'], { annotations: { zz: '1', aa: '2' }, artifactType: 'application/vnd.example.multi' });
    const expected = `{"schemaVersion":2,"mediaType":"${OCI_INDEX}","artifactType":"application/vnd.example.multi","manifests":[{"mediaType":"${OCI_MANIFEST}","digest":"${amd.digest}","size":${amd.size},"platform":{"architecture":"amd64","os":"linux"}}],"annotations":{"aa":"2","zz":"1"}}`;
    expect(built.bytes.toString()).toBe(expected);
    expect(built.descriptor).toEqual({ mediaType: OCI_INDEX, digest: digestOf(expected), size: expected.length, artifactType: 'application/vnd.example.multi' });
  });

  it('no sources: an empty index (ORAS allows it); an invalid artifact type is a usage error', async () => {
    const store = new MemoryStore();
    expect((await createIndex(targetSource(store), [])).bytes.toString()).toBe(`{"schemaVersion":2,"mediaType":"${OCI_INDEX}","manifests":[]}`);
    await expect(createIndex(targetSource(store), [], { artifactType: 'not a type' })).rejects.toMatchObject({ kind: 'usage' });
  });

  it('reproduces the fixture multi index byte for byte from the same entries and annotation', () => {
    // The fixture's arm64 entry says variant v8, which its config does not: given here as an entry, not read.
    const multi = readFileSync(ociBlobPath(BUSYBOX_OCI.multi.digest));
    const parsed = JSON.parse(multi.toString()) as { manifests: Descriptor[]; annotations: Record<string, string> };
    const { bytes, descriptor } = encodeIndex(buildIndex(parsed.manifests, { annotations: parsed.annotations }));
    expect(bytes.equals(multi)).toBe(true);
    expect(descriptor).toEqual(BUSYBOX_OCI.multi);
  });
});

describe('entry lists', () => {
  const d = (n: number): Descriptor => ({ mediaType: OCI_MANIFEST, digest: digestOf(String(n)), size: n });

  it('appendEntries keeps order and skips digests already listed', () => {
    const r = appendEntries([d(1), d(2)], [d(3), d(1), d(3), d(4)]);
    expect(r.entries).toEqual([d(1), d(2), d(3), d(4)]);
    expect(r.skipped).toEqual([d(1), d(3)]);
  });

  it('removeEntries drops every entry of a digest; a digest not listed is not found; a non-digest is a usage error', () => {
    expect(removeEntries([d(1), d(2), d(1), d(3)], [d(1).digest])).toEqual([d(2), d(3)]);
    expect(() => removeEntries([d(1)], [d(2).digest])).toThrow(expect.objectContaining({ kind: 'not-found', message: expect.stringContaining(d(2).digest) }) as unknown as LadingError);
    expect(() => removeEntries([d(1)], ['latest'])).toThrow(expect.objectContaining({ kind: 'usage' }) as unknown as LadingError);
  });
});

describe('updateIndex', () => {
  async function setup() {
    const store = new MemoryStore();
    const amd = await image(store, 'amd64', { os: 'linux', architecture: 'amd64' });
    const arm = await image(store, 'arm64', { os: 'linux', architecture: 'arm64' });
    const ppc = await image(store, 'ppc', { os: 'linux', architecture: 'ppc64le' });
    const subject = await put(store, OCI_MANIFEST, JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: EMPTY_TYPE, digest: digestOf('{}'), size: 2 }, layers: [] }));
    // Keys out of Go order, an unknown entry field, a subject and annotations: what update keeps and how it re-encodes.
    const v1 = await put(
      store,
      OCI_INDEX,
      JSON.stringify({
        mediaType: OCI_INDEX,
        schemaVersion: 2,
        manifests: [
          { size: amd.size, digest: amd.digest, mediaType: OCI_MANIFEST, platform: { os: 'linux', architecture: 'amd64' }, extra: 'dropped' },
          { ...plain(arm), platform: { architecture: 'arm64', os: 'linux' }, annotations: { b: '1', a: '2' } },
        ],
        subject: plain(subject),
        annotations: { keep: 'yes', change: 'old' },
        artifactType: 'application/vnd.example.old',
      }),
      'v1',
    );
    const other = await put(store, OCI_INDEX, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [plain(amd), { ...plain(ppc), platform: { architecture: 'ppc64le', os: 'linux' } }] }), 'other');
    return { store, amd, arm, ppc, subject, v1, other };
  }

  it('removes, then adds, then merges (ORAS order), keeping media type, subject, annotations and artifact type', async () => {
    const { store, amd, arm, ppc, subject, v1, other } = await setup();
    const events: string[] = [];
    const built = await updateIndex(targetSource(store), 'v1', {
      remove: [arm.digest],
      add: ['arm64'],
      merge: ['other'],
      annotations: { change: 'new' },
      onEvent: (e) => events.push(e.kind),
    });
    expect(built.previous).toEqual(plain(v1));
    expect(built.bytes.toString()).toBe(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        artifactType: 'application/vnd.example.old',
        manifests: [
          { mediaType: OCI_MANIFEST, digest: amd.digest, size: amd.size, platform: { architecture: 'amd64', os: 'linux' } },
          { mediaType: OCI_MANIFEST, digest: arm.digest, size: arm.size, platform: { architecture: 'arm64', os: 'linux' } },
          { mediaType: OCI_MANIFEST, digest: ppc.digest, size: ppc.size, platform: { architecture: 'ppc64le', os: 'linux' } },
        ],
        subject: plain(subject),
        annotations: { change: 'new', keep: 'yes' },
      }),
    );
    expect(events).toEqual(['fetching', 'fetched', 'removed', 'fetching', 'fetched', 'added', 'fetching', 'fetched', 'merged']);
  });

  it('entries kept are re-encoded in Go key order, with their annotations sorted', async () => {
    const { store, arm } = await setup();
    const built = await updateIndex(targetSource(store), 'v1', { annotations: {} });
    const second = JSON.stringify(built.index.manifests[1]);
    expect(second).toBe(`{"mediaType":"${OCI_MANIFEST}","digest":"${arm.digest}","size":${arm.size},"annotations":{"a":"2","b":"1"},"platform":{"architecture":"arm64","os":"linux"}}`);
    expect(built.bytes.toString()).not.toContain('dropped');
  });

  it('adding a manifest already listed changes nothing; --artifact-type "" removes the artifact type', async () => {
    const { store, amd } = await setup();
    const events: IndexEvent[] = [];
    const built = await updateIndex(targetSource(store), 'v1', { add: ['amd64', amd.digest], artifactType: '', onEvent: (e) => events.push(e) });
    expect(built.index.manifests).toHaveLength(2);
    expect(built.index.artifactType).toBeUndefined();
    expect(built.bytes.toString()).not.toContain('artifactType');
    expect(events.filter((e) => e.kind === 'skipped')).toHaveLength(2);
  });

  it('a removed digest that is not listed is not found; a --remove that is no digest is a usage error', async () => {
    const { store, ppc } = await setup();
    await expect(updateIndex(targetSource(store), 'v1', { remove: [ppc.digest] })).rejects.toMatchObject({ kind: 'not-found', message: expect.stringContaining(ppc.digest) });
    await expect(updateIndex(targetSource(store), 'v1', { remove: ['ppc'] })).rejects.toMatchObject({ kind: 'usage' });
  });

  it('refuses to update or merge something that is not an index (usage)', async () => {
    const { store } = await setup();
    await expect(updateIndex(targetSource(store), 'amd64', { add: ['arm64'] })).rejects.toMatchObject({ kind: 'usage', message: expect.stringContaining('not an index') });
    await expect(updateIndex(targetSource(store), 'v1', { merge: ['ppc'] })).rejects.toMatchObject({ kind: 'usage', message: expect.stringContaining('not an index') });
  });
});
