/**
 * src/oci/convert.ts: the pure Docker schema 2 ↔ OCI mapping (CASES B33), checked against exact output bytes and
 * media types, the busybox fixtures (docker → oci → docker gives Docker's own bytes back), and indexes.
 */
import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LadingError } from '../../../src/errors/errors.js';
import { convertImageManifest, convertIndex, convertMediaType, sourceMediaType, type ConvertedManifest } from '../../../src/oci/convert.js';
import type { Descriptor } from '../../../src/oci/descriptor.js';
import { BUSYBOX_OCI, BUSYBOX_V2S2, BUSYBOX_V2S2_DIR, ociBlobPath } from '../../helpers/fixtures.js';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const DA = sha('config a');
const DB = sha('layer b');
const DC = sha('layer c');
const M1 = sha('child 1');
const M2 = sha('child 2');

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const DOCKER_FOREIGN = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const OCI_NONDIST = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';

const parse = (c: ConvertedManifest) => JSON.parse(c.bytes.toString('utf8')) as Record<string, any>;
function thrown(fn: () => unknown): LadingError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LadingError);
    return err as LadingError;
  }
  throw new Error('expected an error');
}

/** CASES B33 (a): a Docker manifest whose layers mix an OCI type and a Docker foreign layer. */
const B33A = {
  schemaVersion: 2,
  mediaType: DOCKER_MANIFEST,
  config: { mediaType: DOCKER_CONFIG, digest: DA, size: 1234 },
  layers: [
    { mediaType: OCI_LAYER, digest: DB, size: 100 },
    { mediaType: DOCKER_FOREIGN, digest: DA, size: 5, urls: ['https://storage.example/l'] },
  ],
};
/** CASES B33 (b): an OCI manifest whose layer carries the Docker layer type. */
const B33B = {
  schemaVersion: 2,
  mediaType: OCI_MANIFEST,
  config: { mediaType: OCI_CONFIG, digest: DA, size: 1234 },
  layers: [{ mediaType: DOCKER_LAYER, digest: DB, size: 100 }],
};

describe('B33 (a): Docker manifest with mixed layer types', () => {
  it('to OCI: exact bytes, OCI key order; the OCI layer passes through, the foreign layer becomes non-distributable with its urls', () => {
    const out = convertImageManifest(B33A, 'oci');
    expect(out.changed).toBe(true);
    expect(out.mediaType).toBe(OCI_MANIFEST);
    expect(out.bytes.toString()).toBe(
      `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":{"mediaType":"${OCI_CONFIG}","digest":"${DA}","size":1234},` +
        `"layers":[{"mediaType":"${OCI_LAYER}","digest":"${DB}","size":100},{"mediaType":"${OCI_NONDIST}","digest":"${DA}","size":5,"urls":["https://storage.example/l"]}]}`,
    );
    expect(out.notes).toEqual([]);
  });

  it('to Docker: the OCI layer type becomes the Docker one, Docker key order (mediaType, size, digest)', () => {
    const out = convertImageManifest(B33A, 'docker');
    expect(out.changed).toBe(true);
    expect(out.bytes.toString()).toBe(
      `{"schemaVersion":2,"mediaType":"${DOCKER_MANIFEST}","config":{"mediaType":"${DOCKER_CONFIG}","size":1234,"digest":"${DA}"},` +
        `"layers":[{"mediaType":"${DOCKER_LAYER}","size":100,"digest":"${DB}"},{"mediaType":"${DOCKER_FOREIGN}","size":5,"digest":"${DA}","urls":["https://storage.example/l"]}]}`,
    );
  });
});

describe('B33 (b): OCI manifest with a Docker layer type', () => {
  it('to OCI: the layer gets the OCI type (the manifest is rewritten although its own type was right)', () => {
    const out = convertImageManifest(B33B, 'oci');
    expect(out.changed).toBe(true);
    const m = parse(out);
    expect(m.mediaType).toBe(OCI_MANIFEST);
    expect(m.config).toEqual({ mediaType: OCI_CONFIG, digest: DA, size: 1234 });
    expect(m.layers).toEqual([{ mediaType: OCI_LAYER, digest: DB, size: 100 }]);
  });

  it('to Docker: Docker manifest, config and layer types', () => {
    const m = parse(convertImageManifest(B33B, 'docker'));
    expect([m.mediaType, m.config.mediaType, m.layers[0].mediaType]).toEqual([DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER]);
    expect([m.config.digest, m.config.size, m.layers[0].digest, m.layers[0].size]).toEqual([DA, 1234, DB, 100]);
  });
});

describe('B33 (c): schema 1', () => {
  it.each([
    ['a schemaVersion 1 body', { schemaVersion: 1, name: 'team/app', tag: '1.0', fsLayers: [] }, undefined],
    ['a signed schema 1 Content-Type', { schemaVersion: 1, name: 'team/app', tag: '1.0', fsLayers: [], signatures: [] }, 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
    ['a schema 1 mediaType field', { schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v1+json' }, undefined],
  ])('%s fails: "schema 1 cannot be converted"', (_what, body, hint) => {
    for (const to of ['oci', 'docker'] as const) {
      const e = thrown(() => convertImageManifest(body, to, { mediaType: hint }));
      expect(e.kind).toBe('unsupported');
      expect(e.message).toMatch(/^schema 1 cannot be converted/);
    }
  });
});

describe('media type table', () => {
  it.each([
    ['manifest', DOCKER_MANIFEST, OCI_MANIFEST],
    ['manifest', DOCKER_LIST, OCI_INDEX],
    ['config', DOCKER_CONFIG, OCI_CONFIG],
    ['layer', DOCKER_LAYER, OCI_LAYER],
    ['layer', DOCKER_FOREIGN, OCI_NONDIST],
    ['layer', 'application/vnd.docker.image.rootfs.diff.tar', 'application/vnd.oci.image.layer.v1.tar'],
    ['layer', 'application/vnd.docker.image.rootfs.foreign.diff.tar', 'application/vnd.oci.image.layer.nondistributable.v1.tar'],
  ] as const)('%s %s <-> %s', (role, docker, oci) => {
    expect(convertMediaType(role, docker, 'oci')).toBe(oci);
    expect(convertMediaType(role, oci, 'docker')).toBe(docker);
    // already right: unchanged
    expect(convertMediaType(role, oci, 'oci')).toBe(oci);
    expect(convertMediaType(role, docker, 'docker')).toBe(docker);
  });

  it('OCI and other types already valid in OCI pass through to OCI (zstd, artifact layers)', () => {
    expect(convertMediaType('layer', 'application/vnd.oci.image.layer.v1.tar+zstd', 'oci')).toBe('application/vnd.oci.image.layer.v1.tar+zstd');
    expect(convertMediaType('layer', 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', 'oci')).toBe('application/vnd.cncf.helm.chart.content.v1.tar+gzip');
  });

  it.each([
    ['layer', 'application/vnd.oci.image.layer.v1.tar+zstd', /zstd/],
    ['layer', 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', /zstd/],
    ['config', 'application/vnd.oci.empty.v1+json', /empty config/],
    ['config', 'application/vnd.cncf.helm.config.v1+json', /not a container image config/],
    ['layer', 'text/plain', /no Docker schema 2 equivalent/],
    ['layer', DOCKER_CONFIG, /no Docker schema 2 equivalent/],
  ] as const)('to Docker, %s %s is unsupported', (role, mt, why) => {
    const e = thrown(() => convertMediaType(role, mt, 'docker'));
    expect(e.kind).toBe('unsupported');
    expect(e.message).toContain(mt);
    expect(e.message).toMatch(why);
  });

  it('to OCI, a Docker type with no OCI counterpart is unsupported (a Docker plugin config)', () => {
    const e = thrown(() => convertMediaType('config', 'application/vnd.docker.plugin.v1+json', 'oci'));
    expect(e.kind).toBe('unsupported');
    expect(e.message).toBe('unsupported: config media type application/vnd.docker.plugin.v1+json has no OCI equivalent');
  });
});

describe('busybox fixtures', () => {
  const v2s2 = readFileSync(join(BUSYBOX_V2S2_DIR, 'manifest.json'));
  const ociLatest = readFileSync(ociBlobPath(BUSYBOX_OCI.latest.manifest.digest));

  it('the fixtures are what their digests say', () => {
    expect(sha(v2s2)).toBe(BUSYBOX_V2S2.manifest.digest);
    expect(sha(ociLatest)).toBe(BUSYBOX_OCI.latest.manifest.digest);
  });

  it('docker -> oci -> docker gives back the original bytes', () => {
    const oci = convertImageManifest(JSON.parse(v2s2.toString()), 'oci', { bytes: v2s2 });
    expect(oci.changed).toBe(true);
    const back = convertImageManifest(JSON.parse(oci.bytes.toString()), 'docker', { bytes: oci.bytes });
    expect(back.changed).toBe(true);
    expect(back.bytes.equals(v2s2)).toBe(true);
    expect(sha(back.bytes)).toBe(BUSYBOX_V2S2.manifest.digest);
  });

  it('docker -> oci equals the OCI fixture with a mediaType field and without its created annotation', () => {
    // The OCI fixture (umoci) has no top-level mediaType and an org.opencontainers.image.created annotation; the
    // Docker image has neither an annotation nor a place for one. Everything else is the same, key for key.
    const expected = JSON.parse(ociLatest.toString());
    delete expected.annotations;
    const withType = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, ...expected });
    const oci = convertImageManifest(JSON.parse(v2s2.toString()), 'oci');
    expect(oci.bytes.toString()).toBe(withType);
    expect(Object.keys(parse(oci))).toEqual(['schemaVersion', 'mediaType', 'config', 'layers']);
  });

  it('the OCI fixture -> docker is exactly the Docker fixture (3e537ab4…); the created annotation is dropped with a note', () => {
    const out = convertImageManifest(JSON.parse(ociLatest.toString()), 'docker', { bytes: ociLatest });
    expect(out.bytes.equals(v2s2)).toBe(true);
    expect(out.notes).toEqual(['dropped annotations (org.opencontainers.image.created) of the manifest: the target format has no place for them']);
  });

  it('already in the target format: the source bytes, unchanged (an OCI manifest without a mediaType stays without one)', () => {
    const same = convertImageManifest(JSON.parse(ociLatest.toString()), 'oci', { bytes: ociLatest });
    expect(same.changed).toBe(false);
    expect(same.bytes).toBe(ociLatest);
    expect(same.mediaType).toBe(OCI_MANIFEST);
    const dockerSame = convertImageManifest(JSON.parse(v2s2.toString()), 'docker', { bytes: v2s2 });
    expect(dockerSame.changed).toBe(false);
    expect(dockerSame.bytes).toBe(v2s2);
  });
});

describe('fields each format can and cannot hold', () => {
  const ociWithExtras = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: DA, size: 3, data: 'e30=' },
    layers: [{ mediaType: OCI_LAYER, digest: DB, size: 7, annotations: { z: '1', a: '2' } }],
    annotations: { 'org.example.b': 'x', 'org.example.a': 'y' },
  };

  it('to Docker: layer annotations kept (sorted), data dropped silently, manifest annotations dropped with a note', () => {
    const out = convertImageManifest(ociWithExtras, 'docker');
    expect(out.bytes.toString()).toBe(
      `{"schemaVersion":2,"mediaType":"${DOCKER_MANIFEST}","config":{"mediaType":"${DOCKER_CONFIG}","size":3,"digest":"${DA}"},"layers":[{"mediaType":"${DOCKER_LAYER}","size":7,"digest":"${DB}","annotations":{"a":"2","z":"1"}}]}`,
    );
    expect(out.notes).toEqual(['dropped annotations (org.example.a, org.example.b) of the manifest: the target format has no place for them']);
  });

  it('to OCI: annotations last, keys sorted', () => {
    const docker = { ...B33B, mediaType: DOCKER_MANIFEST, annotations: { b: '1', a: '2' }, config: { mediaType: DOCKER_CONFIG, size: 1234, digest: DA } };
    const out = convertImageManifest(docker, 'oci');
    expect(Object.keys(parse(out))).toEqual(['schemaVersion', 'mediaType', 'config', 'layers', 'annotations']);
    expect(out.bytes.toString()).toContain('"annotations":{"a":"2","b":"1"}}');
  });

  it.each([
    ['an artifactType', { artifactType: 'application/vnd.example.sbom' }, /artifactType application\/vnd\.example\.sbom/],
    ['a subject', { subject: { mediaType: OCI_MANIFEST, digest: DC, size: 10 } }, /subject/],
    ['the empty config', { config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: DA, size: 2 } }, /empty config/],
    ['a zstd layer', { layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: DB, size: 4 }] }, /zstd/],
  ])('to Docker, a manifest with %s is unsupported', (_what, extra, why) => {
    const e = thrown(() => convertImageManifest({ ...ociWithExtras, ...extra }, 'docker'));
    expect(e.kind).toBe('unsupported');
    expect(e.message).toMatch(why);
  });

  it('an OCI artifact manifest stays as it is for OCI and is unsupported for Docker', () => {
    const art = { schemaVersion: 2, mediaType: 'application/vnd.oci.artifact.manifest.v1+json', artifactType: 'x/y', blobs: [] };
    const bytes = Buffer.from(JSON.stringify(art));
    expect(convertImageManifest(art, 'oci', { bytes })).toEqual({ mediaType: art.mediaType, bytes, changed: false, notes: [] });
    expect(thrown(() => convertImageManifest(art, 'docker')).kind).toBe('unsupported');
  });

  it('a manifest without a mediaType field takes the type it was served with', () => {
    const { mediaType: _omit, ...bare } = B33A;
    expect(sourceMediaType(bare, DOCKER_MANIFEST)).toBe(DOCKER_MANIFEST);
    expect(parse(convertImageManifest(bare, 'oci', { mediaType: DOCKER_MANIFEST })).layers[1].mediaType).toBe(OCI_NONDIST);
  });

  it('a broken descriptor is a usage error naming it', () => {
    const e = thrown(() => convertImageManifest({ ...B33A, layers: [{ mediaType: DOCKER_LAYER, digest: DB }] }, 'oci'));
    expect(e.kind).toBe('usage');
    expect(e.message).toBe('manifest layers[0] has no valid size');
  });
});

describe('indexes', () => {
  const dockerList = {
    schemaVersion: 2,
    mediaType: DOCKER_LIST,
    manifests: [
      { mediaType: DOCKER_MANIFEST, size: 587, digest: M1, platform: { architecture: 'amd64', os: 'linux' } },
      { mediaType: DOCKER_MANIFEST, size: 600, digest: M2, platform: { architecture: 'arm64', os: 'linux', variant: 'v8', features: ['sse4'] } },
    ],
  };
  const newChildren = new Map<string, Descriptor>([
    [M1, { mediaType: OCI_MANIFEST, digest: DB, size: 577 }],
    [M2, { mediaType: OCI_MANIFEST, digest: DC, size: 590 }],
  ]);

  it('a Docker manifest list becomes an OCI index with the new child descriptors, platforms kept', () => {
    const out = convertIndex(dockerList, 'oci', (d) => newChildren.get(d.digest));
    expect(out.mediaType).toBe(OCI_INDEX);
    expect(out.changed).toBe(true);
    expect(out.bytes.toString()).toBe(
      `{"schemaVersion":2,"mediaType":"${OCI_INDEX}","manifests":[` +
        `{"mediaType":"${OCI_MANIFEST}","digest":"${DB}","size":577,"platform":{"architecture":"amd64","os":"linux"}},` +
        `{"mediaType":"${OCI_MANIFEST}","digest":"${DC}","size":590,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}`,
    );
    expect(out.notes).toEqual(['dropped "features" of the platform of manifests[1]: the target format has no place for it']);
  });

  it('an OCI index becomes a Docker manifest list with the Docker children, index annotations dropped with a note', () => {
    const oci = JSON.parse(convertIndex(dockerList, 'oci', (d) => newChildren.get(d.digest)).bytes.toString());
    const back = new Map<string, Descriptor>([
      [DB, { mediaType: DOCKER_MANIFEST, digest: M1, size: 587 }],
      [DC, { mediaType: DOCKER_MANIFEST, digest: M2, size: 600 }],
    ]);
    const docker = convertIndex({ ...oci, annotations: { 'org.opencontainers.image.created': 'now' } }, 'docker', (d) => back.get(d.digest));
    expect(docker.mediaType).toBe(DOCKER_LIST);
    expect(docker.bytes.toString()).toBe(
      `{"schemaVersion":2,"mediaType":"${DOCKER_LIST}","manifests":[` +
        `{"mediaType":"${DOCKER_MANIFEST}","size":587,"digest":"${M1}","platform":{"architecture":"amd64","os":"linux"}},` +
        `{"mediaType":"${DOCKER_MANIFEST}","size":600,"digest":"${M2}","platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}`,
    );
    expect(docker.notes).toEqual(['dropped annotations (org.opencontainers.image.created) of the index: the target format has no place for them']);
  });

  it('an index already in the target format, children unchanged: the source bytes', () => {
    const multi = readFileSync(ociBlobPath(BUSYBOX_OCI.multi.digest));
    const out = convertIndex(JSON.parse(multi.toString()), 'oci', () => undefined, { bytes: multi });
    expect(out).toEqual({ mediaType: OCI_INDEX, bytes: multi, changed: false, notes: [] });
  });

  it('an OCI index whose type is right but whose children changed is rewritten', () => {
    const idx = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: DOCKER_MANIFEST, digest: M1, size: 587, platform: { architecture: 'amd64', os: 'linux' } }] };
    const out = convertIndex(idx, 'oci', (d) => newChildren.get(d.digest));
    expect(out.changed).toBe(true);
    expect(parse(out).manifests[0]).toEqual({ mediaType: OCI_MANIFEST, digest: DB, size: 577, platform: { architecture: 'amd64', os: 'linux' } });
  });

  it('to Docker: an entry without a platform, a nested index, or an artifact index is unsupported', () => {
    const base = { schemaVersion: 2, mediaType: OCI_INDEX };
    const noPlatform = thrown(() => convertIndex({ ...base, manifests: [{ mediaType: DOCKER_MANIFEST, digest: M1, size: 5 }] }, 'docker', () => undefined));
    expect(noPlatform.kind).toBe('unsupported');
    expect(noPlatform.message).toMatch(/manifests\[0\].*has no platform/);
    const nested = thrown(() => convertIndex({ ...base, manifests: [{ mediaType: OCI_INDEX, digest: M1, size: 5, platform: { os: 'linux', architecture: 'amd64' } }] }, 'docker', () => undefined));
    expect(nested.message).toMatch(/manifests\[0\] \(linux\/amd64\) is application\/vnd\.oci\.image\.index\.v1\+json; a Docker manifest list holds only Docker image manifests/);
    const artifact = thrown(() => convertIndex({ ...base, artifactType: 'x/y', manifests: [] }, 'docker', () => undefined));
    expect(artifact.message).toMatch(/artifactType x\/y/);
  });

  it('schema 1 index bodies fail the same way', () => {
    expect(thrown(() => convertIndex({ schemaVersion: 1 }, 'oci', () => undefined)).message).toMatch(/^schema 1 cannot be converted/);
  });
});
