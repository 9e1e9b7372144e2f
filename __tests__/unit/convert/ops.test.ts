/**
 * src/ops/convert.ts against in-memory stores: blobs copied unchanged, converted manifests pushed children first,
 * the root under the destination's tag; index conversion, --platform, dry runs, same-store conversion, errors
 * found before anything is written.
 */
import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryStore } from '../../../src/content/memory.js';
import { LadingError } from '../../../src/errors/errors.js';
import type { Descriptor } from '../../../src/oci/descriptor.js';
import { convert, flattenConversion } from '../../../src/ops/convert.js';
import { BUSYBOX_OCI, BUSYBOX_V2S2, BUSYBOX_V2S2_DIR, DIGEST_CONFIG_ARM64, DIGEST_CONFIG_LATEST, DIGEST_LAYER0, DIGEST_LAYER1, ociBlobPath } from '../../helpers/fixtures.js';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

const blob = (digest: string) => readFileSync(ociBlobPath(digest));
const v2s2 = readFileSync(join(BUSYBOX_V2S2_DIR, 'manifest.json'));
const ociLatest = blob(BUSYBOX_OCI.latest.manifest.digest);
const ociMulti = blob(BUSYBOX_OCI.multi.digest);
const ociArm = blob(BUSYBOX_OCI.arm64Variant.manifest.digest);

/** The Docker form of the arm64 image, written by hand in Docker's key order. */
const dockerArm = Buffer.from(
  `{"schemaVersion":2,"mediaType":"${DOCKER_MANIFEST}","config":{"mediaType":"${DOCKER_CONFIG}","size":1060,"digest":"${DIGEST_CONFIG_ARM64}"},` +
    `"layers":[{"mediaType":"${DOCKER_LAYER}","size":1084069,"digest":"${DIGEST_LAYER0}"},{"mediaType":"${DOCKER_LAYER}","size":326,"digest":"${DIGEST_LAYER1}"}]}`,
);
const dockerList = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: DOCKER_LIST,
    manifests: [
      { mediaType: DOCKER_MANIFEST, size: v2s2.length, digest: sha(v2s2), platform: { architecture: 'amd64', os: 'linux' } },
      { mediaType: DOCKER_MANIFEST, size: dockerArm.length, digest: sha(dockerArm), platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
    ],
  }),
);
/** busybox docker → OCI, written by hand: the OCI fixture's keys with a mediaType field and no annotations. */
function ociOf(configDigest: string, configSize: number): Buffer {
  return Buffer.from(
    `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":{"mediaType":"${OCI_CONFIG}","digest":"${configDigest}","size":${configSize}},` +
      `"layers":[{"mediaType":"${OCI_LAYER}","digest":"${DIGEST_LAYER0}","size":1084069},{"mediaType":"${OCI_LAYER}","digest":"${DIGEST_LAYER1}","size":326}]}`,
  );
}
const ociAmdExpected = ociOf(DIGEST_CONFIG_LATEST, 872);
const ociArmExpected = ociOf(DIGEST_CONFIG_ARM64, 1060);

const d = (mediaType: string, bytes: Buffer): Descriptor => ({ mediaType, digest: sha(bytes), size: bytes.length });
const BLOBS = [DIGEST_CONFIG_LATEST, DIGEST_CONFIG_ARM64, DIGEST_LAYER0, DIGEST_LAYER1];

async function source(): Promise<MemoryStore> {
  const s = new MemoryStore();
  for (const digest of BLOBS) {
    const bytes = blob(digest);
    await s.push({ mediaType: 'application/octet-stream', digest, size: bytes.length }, bytes);
  }
  for (const [mt, bytes, tag] of [
    [DOCKER_MANIFEST, v2s2, 'docker'],
    [DOCKER_MANIFEST, dockerArm, 'docker-arm'],
    [DOCKER_LIST, dockerList, 'list'],
    [OCI_MANIFEST, ociLatest, 'oci'],
    [OCI_MANIFEST, ociArm, 'oci-arm'],
    [OCI_INDEX, ociMulti, 'multi'],
  ] as const) {
    await s.push(d(mt, bytes), bytes);
    await s.tag(d(mt, bytes), tag);
  }
  return s;
}

async function bytesOf(store: MemoryStore, desc: Descriptor): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await store.fetch(desc)) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

async function rejection(p: Promise<unknown>): Promise<LadingError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(LadingError);
    return err as LadingError;
  }
  throw new Error('expected a rejection');
}

async function expectEmpty(store: MemoryStore): Promise<void> {
  expect(await store.tags()).toEqual([]);
  for (const digest of BLOBS) expect(await store.exists({ mediaType: 'x', digest, size: 0 })).toBe(false);
}

describe('one image', () => {
  it('Docker → OCI: blobs copied unchanged, the converted manifest pushed under the tag', async () => {
    const src = await source();
    const dst = new MemoryStore();
    const root = await convert(src, 'docker', dst, ['v1'], { to: 'oci' });
    expect(root.descriptor).toEqual(d(OCI_MANIFEST, ociAmdExpected));
    expect(root.source).toEqual(BUSYBOX_V2S2.manifest);
    expect(root.bytes.equals(ociAmdExpected)).toBe(true);
    expect(await dst.resolve('v1')).toEqual(d(OCI_MANIFEST, ociAmdExpected));
    expect((await bytesOf(dst, root.descriptor)).equals(ociAmdExpected)).toBe(true);
    for (const digest of [DIGEST_CONFIG_LATEST, DIGEST_LAYER0, DIGEST_LAYER1]) {
      expect((await bytesOf(dst, { mediaType: 'x', digest, size: 0 })).equals(blob(digest))).toBe(true);
    }
    expect(await dst.exists({ mediaType: 'x', digest: DIGEST_CONFIG_ARM64, size: 0 })).toBe(false);
    expect(await dst.exists({ mediaType: 'x', digest: BUSYBOX_V2S2.manifest.digest, size: 0 })).toBe(false);
  });

  it('OCI → Docker gives the Docker fixture itself (3e537ab4…), with a note for the dropped annotation', async () => {
    const root = await convert(await source(), 'oci', new MemoryStore(), ['d'], { to: 'docker' });
    expect(root.descriptor).toEqual(BUSYBOX_V2S2.manifest);
    expect(root.bytes.equals(v2s2)).toBe(true);
    expect(root.notes).toEqual(['dropped annotations (org.opencontainers.image.created) of the manifest: the target format has no place for them']);
  });

  it('same store, new tag: the source tag keeps the original manifest', async () => {
    const src = await source();
    const root = await convert(src, 'docker', src, ['docker-as-oci'], { to: 'oci' });
    expect(await src.resolve('docker')).toEqual(BUSYBOX_V2S2.manifest);
    expect(await src.resolve('docker-as-oci')).toEqual(root.descriptor);
    expect(root.descriptor.digest).toBe(sha(ociAmdExpected));
  });

  it('no tag: pushed by digest only', async () => {
    const dst = new MemoryStore();
    const root = await convert(await source(), 'docker', dst, [], { to: 'oci' });
    expect(await dst.tags()).toEqual([]);
    expect(await dst.resolve(root.descriptor.digest)).toEqual(root.descriptor);
  });

  it('already in the target format: copied byte for byte, digest unchanged', async () => {
    const dst = new MemoryStore();
    const root = await convert(await source(), 'oci', dst, ['same'], { to: 'oci' });
    expect(root.changed).toBe(false);
    expect(root.descriptor).toEqual(BUSYBOX_OCI.latest.manifest);
    expect((await bytesOf(dst, await dst.resolve('same'))).equals(ociLatest)).toBe(true);
  });

  it('dry run: the conversion is worked out, nothing is written', async () => {
    const dst = new MemoryStore();
    const root = await convert(await source(), 'docker', dst, ['v1'], { to: 'oci', dryRun: true });
    expect(root.bytes.equals(ociAmdExpected)).toBe(true);
    await expectEmpty(dst);
    expect(await dst.exists(root.descriptor)).toBe(false);
  });

  it('--platform on a single image checks its config', async () => {
    const root = await convert(await source(), 'docker', undefined, [], { to: 'oci', dryRun: true, platform: { os: 'linux', architecture: 'amd64' } });
    expect(root.descriptor.digest).toBe(sha(ociAmdExpected));
    const e = await rejection(convert(await source(), 'docker', new MemoryStore(), [], { to: 'oci', platform: { os: 'linux', architecture: 'arm64' } }));
    expect(e.kind).toBe('not-found');
    expect(e.message).toBe('the image is linux/amd64, not linux/arm64');
  });
});

describe('indexes', () => {
  it('Docker manifest list → OCI index: each child converted and pushed, the index rewritten with their descriptors', async () => {
    const dst = new MemoryStore();
    const root = await convert(await source(), 'list', dst, ['multi-oci'], { to: 'oci' });
    const expected = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { ...d(OCI_MANIFEST, ociAmdExpected), platform: { architecture: 'amd64', os: 'linux' } },
          { ...d(OCI_MANIFEST, ociArmExpected), platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
        ],
      }),
    );
    expect(root.bytes.toString()).toBe(expected.toString());
    expect(root.descriptor).toEqual(d(OCI_INDEX, expected));
    expect(await dst.resolve('multi-oci')).toEqual(d(OCI_INDEX, expected));
    expect((await bytesOf(dst, d(OCI_MANIFEST, ociAmdExpected))).equals(ociAmdExpected)).toBe(true);
    expect((await bytesOf(dst, d(OCI_MANIFEST, ociArmExpected))).equals(ociArmExpected)).toBe(true);
    for (const digest of BLOBS) expect(await dst.exists({ mediaType: 'x', digest, size: 0 })).toBe(true);
    expect(flattenConversion(root).map((n) => [n.source.digest, n.platform?.architecture])).toEqual([
      [sha(dockerList), undefined],
      [sha(v2s2), 'amd64'],
      [sha(dockerArm), 'arm64'],
    ]);
  });

  it('OCI index (multi) → Docker manifest list: children become the Docker manifests, the created annotation is dropped', async () => {
    const dst = new MemoryStore();
    const root = await convert(await source(), 'multi', dst, ['list'], { to: 'docker' });
    const m = JSON.parse(root.bytes.toString());
    expect(m).toEqual({
      schemaVersion: 2,
      mediaType: DOCKER_LIST,
      manifests: [
        { mediaType: DOCKER_MANIFEST, size: v2s2.length, digest: sha(v2s2), platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: DOCKER_MANIFEST, size: dockerArm.length, digest: sha(dockerArm), platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      ],
    });
    // the same bytes as the hand-written list
    expect(root.bytes.equals(dockerList)).toBe(true);
    expect((await bytesOf(dst, d(DOCKER_MANIFEST, dockerArm))).equals(dockerArm)).toBe(true);
  });

  it('--platform converts one child of an index; the other is not copied', async () => {
    const dst = new MemoryStore();
    const root = await convert(await source(), 'list', dst, ['arm'], { to: 'oci', platform: { os: 'linux', architecture: 'arm64' } });
    expect(root.bytes.equals(ociArmExpected)).toBe(true);
    expect(await dst.resolve('arm')).toEqual(d(OCI_MANIFEST, ociArmExpected));
    expect(await dst.exists({ mediaType: 'x', digest: DIGEST_CONFIG_LATEST, size: 0 })).toBe(false);
    const e = await rejection(convert(await source(), 'list', dst, [], { to: 'oci', platform: { os: 'windows', architecture: 'amd64' } }));
    expect(e.kind).toBe('not-found');
  });

  it('dry run of an index: the index and its children, nothing written', async () => {
    const dst = new MemoryStore();
    const root = await convert(await source(), 'list', dst, ['x'], { to: 'oci', dryRun: true });
    expect(flattenConversion(root).map((n) => n.descriptor.digest)).toEqual([root.descriptor.digest, sha(ociAmdExpected), sha(ociArmExpected)]);
    await expectEmpty(dst);
  });

  it('a child that cannot be converted fails the whole conversion, named, before anything is written', async () => {
    const src = await source();
    const zstd = Buffer.from(ociArm.toString().replace(/tar\+gzip/g, 'tar+zstd'));
    await src.push(d(OCI_MANIFEST, zstd), zstd);
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [JSON.parse(ociMulti.toString()).manifests[0], { ...d(OCI_MANIFEST, zstd), platform: { architecture: 'arm64', os: 'linux' } }] }),
    );
    await src.push(d(OCI_INDEX, index), index);
    await src.tag(d(OCI_INDEX, index), 'zstd');
    const dst = new MemoryStore();
    const e = await rejection(convert(src, 'zstd', dst, ['z'], { to: 'docker' }));
    expect(e.kind).toBe('unsupported');
    expect(e.message).toMatch(new RegExp(`^child manifests\\[1\\] \\(linux/arm64\\) ${sha(zstd)}: unsupported: layer media type application/vnd.oci.image.layer.v1.tar\\+zstd has no Docker schema 2 equivalent`));
    await expectEmpty(dst);
  });
});

describe('schema 1 and missing content', () => {
  const schema1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'team/app', tag: '1.0', architecture: 'amd64', fsLayers: [], history: [] }));

  it('a schema 1 manifest (by its media type, or by its body) fails clearly and writes nothing', async () => {
    for (const mt of ['application/vnd.docker.distribution.manifest.v1+prettyjws', DOCKER_MANIFEST]) {
      const src = await source();
      await src.push(d(mt, schema1), schema1);
      await src.tag(d(mt, schema1), 'old');
      const dst = new MemoryStore();
      const e = await rejection(convert(src, 'old', dst, ['new'], { to: 'oci' }));
      expect(e.kind).toBe('unsupported');
      expect(e.message).toMatch(/^schema 1 cannot be converted/);
      await expectEmpty(dst);
    }
  });

  it('a blob missing from the source: an error, and the destination tag is never written', async () => {
    const src = await source();
    await src.delete({ mediaType: 'x', digest: DIGEST_LAYER1, size: 0 });
    const dst = new MemoryStore();
    const e = await rejection(convert(src, 'docker', dst, ['v1'], { to: 'oci' }));
    expect(e.kind).toBe('not-found');
    expect(e.message).toContain(DIGEST_LAYER1);
    expect(await dst.tags()).toEqual([]);
  });
});
