import { describe, expect, it } from '@jest/globals';
import { asImageManifest, asIndex, detectManifestMediaType, parsePlatform, selectPlatform } from '../../../src/oci/manifest.js';
import { MANIFEST_ACCEPT, MediaType } from '../../../src/oci/mediatypes.js';

const DA = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const DB = 'sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210';
const image = { schemaVersion: 2, config: { mediaType: MediaType.ociConfig, digest: DA, size: 2 }, layers: [] };
const index = {
  schemaVersion: 2,
  manifests: [
    { mediaType: MediaType.ociManifest, digest: DB, size: 10, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { mediaType: MediaType.ociManifest, digest: DA, size: 10, platform: { os: 'linux', architecture: 'amd64' } },
  ],
};
const thrown = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e as { kind?: string; message?: string };
  }
  throw new Error('expected a throw');
};

describe('B19: manifest types', () => {
  it('Accept lists all four current types, OCI first', () => {
    expect(MANIFEST_ACCEPT.slice(0, 4)).toEqual([MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerManifestList]);
  });

  it.each([
    [{ schemaVersion: 1, fsLayers: [] }, undefined],
    [{ schemaVersion: 1 }, 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
    [image, 'application/vnd.docker.distribution.manifest.v1+json'],
    [{ schemaVersion: 1, mediaType: 'application/vnd.docker.distribution.manifest.v1+json' }, 'application/json'],
  ])('schema 1 is refused clearly (%j, %s)', (body, ct) => {
    expect(thrown(() => detectManifestMediaType(body, ct))).toMatchObject({ kind: 'unsupported', message: expect.stringContaining('schema 1') });
  });

  it('an index is never read as an image manifest; a platform is picked from it (default linux/amd64)', () => {
    expect(thrown(() => asImageManifest(index))).toMatchObject({ kind: 'usage', message: 'reference is an index; choose --platform (e.g. linux/amd64)' });
    expect(thrown(() => asImageManifest({ ...image, mediaType: MediaType.dockerManifestList }))).toMatchObject({ message: 'reference is an index; choose --platform (e.g. linux/amd64)' });
    expect(selectPlatform(asIndex(index), parsePlatform('linux/amd64')).digest).toBe(DA);
    expect(selectPlatform(asIndex(index), parsePlatform('linux/arm64/v8')).digest).toBe(DB);
    expect(thrown(() => selectPlatform(asIndex(index), parsePlatform('linux/s390x')))).toMatchObject({
      kind: 'not-found',
      message: 'no manifest for platform linux/s390x in the index (available: linux/arm64/v8, linux/amd64)',
    });
    expect(asImageManifest(image).config.digest).toBe(DA);
  });
});

describe('B20: media type when mediaType is missing', () => {
  it.each([
    ['body mediaType wins', { ...image, mediaType: MediaType.dockerManifest }, MediaType.ociManifest, MediaType.dockerManifest],
    ['(c) from a specific Content-Type', image, `${MediaType.dockerManifest}; charset=utf-8`, MediaType.dockerManifest],
    ['(d) application/json + manifests', index, 'application/json', MediaType.ociIndex],
    ['(d) application/json + config/layers', image, 'application/json', MediaType.ociManifest],
    ['(d) no Content-Type + manifests', index, undefined, MediaType.ociIndex],
    ['an artifact type from Content-Type', { schemaVersion: 2, blobs: [] }, 'application/vnd.example.thing+json', 'application/vnd.example.thing+json'],
  ])('%s', (_name, body, ct, expected) => {
    expect(detectManifestMediaType(body as Record<string, unknown>, ct)).toBe(expected);
  });

  it('nothing to go on is an error', () => {
    expect(thrown(() => detectManifestMediaType({ schemaVersion: 2 }, 'application/json'))).toMatchObject({ kind: 'usage' });
  });
});
