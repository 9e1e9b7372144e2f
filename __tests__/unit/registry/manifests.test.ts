import { createHash } from 'node:crypto';
import type http from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { asImageManifest, parseManifestJson } from '../../../src/oci/manifest.js';
import { ACCEPT, DA, DB, rejection, useFakes } from './harness.js';

const { fake, client } = useFakes();

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: DA, size: 2 };
/** An image manifest without a top-level mediaType (Helm style). */
const BARE = Buffer.from(JSON.stringify({ schemaVersion: 2, config, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: DB, size: 5 }] }));
const BARE_INDEX = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, digest: DA, size: 10, platform: { os: 'linux', architecture: 'amd64' } }] }));
const INDEX = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: DA, size: 10, platform: { os: 'linux', architecture: 'amd64' } }] }));

describe('B19: Accept header and the type returned', () => {
  it('GET and HEAD send all four manifest types (and the artifact type)', async () => {
    const reg = await fake([
      { method: 'GET', url: '/v2/team/app/manifests/1.0', status: 200, headers: { 'content-type': OCI_MANIFEST }, body: BARE },
      { method: 'HEAD', url: '/v2/team/app/manifests/1.0', status: 200, headers: { 'content-type': OCI_MANIFEST, 'docker-content-digest': sha(BARE), 'content-length': String(BARE.length) } },
    ]);
    const { repo } = client(reg);
    await repo.fetchManifest('1.0');
    expect(await repo.resolve('1.0')).toEqual({ mediaType: OCI_MANIFEST, digest: sha(BARE), size: BARE.length });
    reg.assertDone();
    for (const s of reg.seen) {
      expect(s.headers.accept).toBe(ACCEPT);
      const listed = s.headers.accept!.split(',').map((t) => t.trim());
      for (const t of [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, 'application/vnd.docker.distribution.manifest.list.v2+json']) expect(listed).toContain(t);
    }
  });

  it.each([
    ['application/vnd.docker.distribution.manifest.v1+prettyjws', { schemaVersion: 1, name: 'team/app', tag: '1.0', fsLayers: [], signatures: [] }],
    ['application/vnd.docker.distribution.manifest.v1+json', { schemaVersion: 1, name: 'team/app', tag: '1.0', fsLayers: [] }],
    ['application/json', { schemaVersion: 1, name: 'team/app', tag: '1.0', fsLayers: [] }],
  ])('a schema 1 reply (%s) is a clear "schema 1 not supported" error', async (contentType, body) => {
    const reg = await fake([{ method: 'GET', url: '/v2/team/app/manifests/1.0', status: 200, headers: { 'content-type': contentType }, body: JSON.stringify(body) }]);
    const err = await rejection(client(reg).repo.fetchManifest('1.0'));
    reg.assertDone();
    expect(err.kind).toBe('unsupported');
    expect(err.message).toBe('Docker schema 1 manifests are not supported (schema 1 cannot be read or converted; re-push the image with a current client)');
  });

  it('a 404 caused by a narrow Accept carries the registry message', async () => {
    const reg = await fake([
      { method: 'GET', url: '/v2/team/app/manifests/1.0', status: 404, body: { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'OCI index found, but accept header does not support OCI indexes' }] } },
    ]);
    const err = await rejection(client(reg).repo.fetchManifest('1.0', [DOCKER_MANIFEST]));
    reg.assertDone();
    expect(reg.seen[0].headers.accept).toBe(DOCKER_MANIFEST);
    expect(err.kind).toBe('not-found');
    expect(err.message).toBe(`${reg.host}/team/app:1.0: not found (OCI index found, but accept header does not support OCI indexes)`);
  });

  it('an index returned for a digest is reported as an index, and never read as an image manifest', async () => {
    const reg = await fake([{ method: 'GET', url: `/v2/team/app/manifests/${sha(INDEX)}`, status: 200, headers: { 'content-type': OCI_INDEX }, body: INDEX }]);
    const got = await client(reg).repo.fetchManifest(sha(INDEX));
    reg.assertDone();
    expect(got.descriptor).toEqual({ mediaType: OCI_INDEX, digest: sha(INDEX), size: INDEX.length });
    for (const body of [INDEX, BARE_INDEX]) {
      let err: unknown;
      try {
        asImageManifest(parseManifestJson(body));
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ kind: 'usage', message: 'reference is an index; choose --platform (e.g. linux/amd64)' });
    }
  });
});

describe('B20: optional digest header and mediaType', () => {
  it('(a) HEAD without Docker-Content-Digest falls back to GET and hashes the exact bytes', async () => {
    const reg = await fake([
      { method: 'HEAD', url: '/v2/team/app/manifests/1.0', status: 200, headers: { 'content-type': OCI_MANIFEST, 'content-length': String(BARE.length) } },
      { method: 'GET', url: '/v2/team/app/manifests/1.0', status: 200, headers: { 'content-type': OCI_MANIFEST }, body: BARE },
    ]);
    const desc = await client(reg).repo.resolve('1.0');
    reg.assertDone();
    expect(desc).toEqual({ mediaType: OCI_MANIFEST, digest: sha(BARE), size: BARE.length });
  });

  it('(b) PUT answered 201 without a digest header: the digest is that of the bytes sent; Content-Type is the media type', async () => {
    const reg = await fake([{ method: 'PUT', url: '/v2/team/app/manifests/1.0', status: 201, headers: (o) => ({ location: `/v2/team/app/manifests/${sha(BARE)}` }) }]);
    const desc = await client(reg).repo.pushManifest('1.0', BARE, OCI_MANIFEST);
    reg.assertDone();
    expect(desc).toEqual({ mediaType: OCI_MANIFEST, digest: sha(BARE), size: BARE.length });
    const s = reg.seen[0];
    expect(s.headers['content-type']).toBe(OCI_MANIFEST);
    expect(s.headers['content-length']).toBe(String(BARE.length));
    expect(s.digest).toBe(sha(BARE));
  });

  it.each([
    ['(c) type from Content-Type (OCI)', OCI_MANIFEST, BARE, OCI_MANIFEST],
    ['(c) type from Content-Type (Docker)', `${DOCKER_MANIFEST}; charset=utf-8`, BARE, DOCKER_MANIFEST],
    ['(d) application/json + manifests → index', 'application/json', BARE_INDEX, OCI_INDEX],
    ['(d) application/json + config/layers → image manifest', 'application/json', BARE, OCI_MANIFEST],
    ['(d) no Content-Type + manifests → index', undefined, BARE_INDEX, OCI_INDEX],
  ])('%s', async (_name, contentType, body, expected) => {
    const reg = await fake([{ method: 'GET', url: '/v2/team/app/manifests/1.0', status: 200, headers: contentType ? { 'content-type': contentType } : {}, body }]);
    const got = await client(reg).repo.fetchManifest('1.0');
    reg.assertDone();
    expect(got.descriptor).toEqual({ mediaType: expected, digest: sha(body), size: body.length });
    expect(got.bytes).toEqual(body);
  });
});

describe('B22: the manifest size limit', () => {
  const LIMIT = 4 * 1024 * 1024;
  /** A valid index padded with an annotation to exactly `size` bytes. */
  const bigIndex = (size: number) => {
    const head = `{"schemaVersion":2,"mediaType":"${OCI_INDEX}","manifests":[],"annotations":{"pad":"`;
    const tail = '"}}';
    return Buffer.from(head + 'x'.repeat(size - head.length - tail.length) + tail);
  };

  it('(a) 4 MiB + 1 with Content-Length: the exact error; the body is not buffered', async () => {
    const body = bigIndex(LIMIT + 1);
    const reg = await fake([{ method: 'GET', url: '/v2/team/app/manifests/1.0', status: 200, headers: { 'content-type': OCI_INDEX }, body }]);
    const err = await rejection(client(reg).repo.fetchManifest('1.0'));
    reg.assertDone();
    expect(err.kind).toBe('too-large');
    expect(err.exitCode).not.toBe(0);
    expect(err.message).toBe('manifest exceeds 4194304 bytes (got 4194305); use --max-manifest-size');
  });

  it('(a) with the limit raised the same manifest is read, byte for byte', async () => {
    const body = bigIndex(LIMIT + 1);
    const reg = await fake([{ method: 'GET', url: '/v2/team/app/manifests/1.0', status: 200, headers: { 'content-type': OCI_INDEX }, body }]);
    const got = await client(reg, { maxManifestSize: 8 * 1024 * 1024 }).repo.fetchManifest('1.0');
    reg.assertDone();
    expect(got.bytes.equals(body)).toBe(true);
    expect(got.descriptor).toEqual({ mediaType: OCI_INDEX, digest: sha(body), size: LIMIT + 1 });
  });

  it('(a) exactly 4 MiB is accepted', async () => {
    const body = bigIndex(LIMIT);
    const reg = await fake([{ method: 'GET', url: '/v2/team/app/manifests/1.0', status: 200, headers: { 'content-type': OCI_INDEX, 'transfer-encoding': 'chunked' }, body }]);
    expect((await client(reg).repo.fetchManifest('1.0')).descriptor.size).toBe(LIMIT);
  });

  it('(c) no Content-Length and an endless body: reading stops past the cap with the same error', async () => {
    let written = 0;
    let closed = false;
    const endless = (res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': OCI_INDEX }); // no Content-Length: chunked
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (!closed && written < 1024 ** 3) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      res.on('close', () => {
        closed = true;
      });
      res.write('{"schemaVersion":2,"manifests":[],"x":"');
      pump();
    };
    const reg = await fake([{ method: 'GET', url: '/v2/team/app/manifests/1.0', handle: endless }]);
    const err = await rejection(client(reg).repo.fetchManifest('1.0'));
    expect(err.kind).toBe('too-large');
    expect(err.message).toBe('manifest exceeds 4194304 bytes (got more than 4194304); use --max-manifest-size');
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(true);
    expect(written).toBeLessThan(LIMIT + 16 * 1024 * 1024); // what was read plus socket buffers
    reg.assertDone();
  }, 20_000);

  it('a declared Content-Length over the cap is refused without waiting for the body', async () => {
    const stalled = (res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': OCI_INDEX, 'content-length': String(64 * LIMIT) });
      res.write('{'); // and nothing more, ever
    };
    const reg = await fake([{ method: 'GET', url: '/v2/team/app/manifests/1.0', handle: stalled }]);
    const err = await rejection(client(reg).repo.fetchManifest('1.0'));
    expect(err.message).toBe(`manifest exceeds 4194304 bytes (got ${64 * LIMIT}); use --max-manifest-size`);
    reg.assertDone();
  }, 5_000);
});
