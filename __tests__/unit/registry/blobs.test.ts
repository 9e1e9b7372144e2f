import { createHash } from 'node:crypto';
import type http from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import type { HttpRequest, Transport } from '../../../src/registry/http/types.js';
import { Registry } from '../../../src/registry/registry.js';
import { readAll, rejection, useFakes } from './harness.js';

const { fake, client } = useFakes();

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const DATA = Buffer.from('0123456789abcdef'.repeat(64)); // 1 KiB
const D = sha(DATA);
const ENC = `sha256%3A${D.slice(7)}`;
const UPLOADS = '/v2/team/app/blobs/uploads/';

/** 50 MiB of deterministic bytes, generated chunk by chunk (never held whole). */
const BIG = 50 * 1024 * 1024;
const CHUNK = 1024 * 1024;
const chunkAt = (i: number) => Buffer.alloc(CHUNK, i % 251);
const bigStream = () => Readable.from((function* () { for (let i = 0; i < BIG / CHUNK; i++) yield chunkAt(i); })());
const BIG_DIGEST = (() => {
  const h = createHash('sha256');
  for (let i = 0; i < BIG / CHUNK; i++) h.update(chunkAt(i));
  return `sha256:${h.digest('hex')}`;
})();

describe('B22: blobs are never capped by the manifest limit', () => {
  it('a 50 MiB blob streams through fetchBlob with a 1 KiB manifest limit, verified', async () => {
    const serve = (res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG), 'docker-content-digest': BIG_DIGEST });
      const src = bigStream();
      src.pipe(res);
    };
    const reg = await fake([{ method: 'GET', url: `/v2/team/app/blobs/${BIG_DIGEST}`, handle: serve }]);
    const { repo } = client(reg, { maxManifestSize: 1024 });
    const blob = await repo.fetchBlob(BIG_DIGEST);
    expect(blob.descriptor).toEqual({ mediaType: 'application/octet-stream', digest: BIG_DIGEST, size: BIG });
    const h = createHash('sha256');
    let size = 0;
    for await (const c of blob.stream) {
      h.update(c as Buffer);
      size += (c as Buffer).length;
    }
    expect(size).toBe(BIG);
    expect(`sha256:${h.digest('hex')}`).toBe(BIG_DIGEST);
    reg.assertDone();
  }, 30_000);

  it('a 50 MiB blob is pushed from a stream factory in one PUT', async () => {
    const reg = await fake([
      { method: 'POST', url: UPLOADS, status: 202, headers: { location: `${UPLOADS}big?_state=s1` } },
      { method: 'PUT', url: `${UPLOADS}big?_state=s1&digest=sha256%3A${BIG_DIGEST.slice(7)}`, status: 201, headers: { 'docker-content-digest': BIG_DIGEST } },
    ]);
    const { repo } = client(reg, { maxManifestSize: 1024 });
    const desc = await repo.pushBlob({ digest: BIG_DIGEST, size: BIG }, bigStream);
    reg.assertDone();
    expect(desc).toEqual({ mediaType: 'application/octet-stream', digest: BIG_DIGEST, size: BIG });
    expect(reg.seen[1].size).toBe(BIG);
    expect(reg.seen[1].digest).toBe(BIG_DIGEST);
    expect(reg.seen[1].headers['content-length']).toBe(String(BIG));
  }, 30_000);
});

describe('blob content is verified', () => {
  it('bytes that do not match the digest make the stream fail with digest-mismatch', async () => {
    const reg = await fake([{ method: 'GET', url: `/v2/team/app/blobs/${D}`, status: 200, body: Buffer.from(DATA).fill(0x41, 0, 1) }]);
    const blob = await client(reg).repo.fetchBlob(D);
    const err = await rejection(readAll(blob.stream));
    reg.assertDone();
    expect(err.kind).toBe('digest-mismatch');
    expect(err.message).toBe(`blob ${D}: digest mismatch: expected ${D}, got ${sha(Buffer.from(DATA).fill(0x41, 0, 1))}`);
  });

  it('trailing data beyond the expected size fails', async () => {
    const reg = await fake([{ method: 'GET', url: `/v2/team/app/blobs/${D}`, status: 200, body: Buffer.concat([DATA, Buffer.from('x')]) }]);
    const blob = await client(reg).repo.fetchBlob(D, DATA.length);
    const err = await rejection(readAll(blob.stream));
    expect(err.kind).toBe('digest-mismatch');
    expect(err.message).toBe(`blob ${D}: more data than the expected ${DATA.length} bytes`);
  });
});

describe('B23: the closing PUT goes to the Location as given, plus digest', () => {
  it.each([
    ['(a) relative with an opaque query', `${UPLOADS}u1?_state=AbC%2Bd%2fe%3D%3D&x=a+b~`, `${UPLOADS}u1?_state=AbC%2Bd%2fe%3D%3D&x=a+b~&digest=${ENC}`],
    ['(b) absolute on the same host', (o: string) => `${o}${UPLOADS}u2?_state=abc`, `${UPLOADS}u2?_state=abc&digest=${ENC}`],
    ['(d) relative without a leading slash', 'u4?_state=xyz', `${UPLOADS}u4?_state=xyz&digest=${ENC}`],
    ['a Location ending in ?', `${UPLOADS}u5?`, `${UPLOADS}u5?digest=${ENC}`],
    ['a Location ending in &', `${UPLOADS}u6?_state=1&`, `${UPLOADS}u6?_state=1&digest=${ENC}`],
    ['no query', `${UPLOADS}u7`, `${UPLOADS}u7?digest=${ENC}`],
  ])('%s', async (_name, location, putUrl) => {
    const reg = await fake([
      { method: 'POST', url: UPLOADS, status: 202, headers: (o) => ({ location: typeof location === 'function' ? location(o) : location, range: '0-0' }) },
      { method: 'PUT', url: putUrl, status: 201, headers: { location: `/v2/team/app/blobs/${D}`, 'docker-content-digest': D } },
    ]);
    const desc = await client(reg).repo.pushBlob({ digest: D, size: DATA.length }, DATA);
    reg.assertDone();
    expect(desc).toEqual({ mediaType: 'application/octet-stream', digest: D, size: DATA.length });
    expect(reg.seen[0].headers['content-length']).toBe('0');
    const put = reg.seen[1];
    expect(put.url).not.toContain('?&');
    expect([put.headers['content-type'], put.headers['content-length'], put.digest]).toEqual(['application/octet-stream', String(DATA.length), D]);
  });

  it('(c) another host as given plus ?digest=, without the registry Authorization', async () => {
    const upload = await fake([{ method: 'PUT', url: `${UPLOADS}u3?digest=${ENC}`, status: 201, headers: { 'docker-content-digest': D } }]);
    const reg = await fake([
      { method: 'POST', url: UPLOADS, status: 401, headers: (o) => ({ 'www-authenticate': `Bearer realm="${o}/token",service="registry.example",scope="repository:team/app:pull,push"` }) },
      { method: 'GET', path: '/token', status: 200, body: { token: 'jwt-push' } },
      { method: 'POST', url: UPLOADS, status: 202, headers: { location: `${upload.origin}${UPLOADS}u3` } },
    ]);
    await client(reg).repo.pushBlob({ digest: D, size: DATA.length }, DATA);
    reg.assertDone();
    upload.assertDone();
    expect(reg.seen[2].headers.authorization).toBe('Bearer jwt-push');
    expect(upload.seen[0].headers.authorization).toBeUndefined();
    expect(upload.seen[0].digest).toBe(D);
  });

  it('a streamed upload (stdin): PATCH to the first Location, PUT to the latest one, with an empty body', async () => {
    const reg = await fake([
      { method: 'POST', url: UPLOADS, status: 202, headers: { location: `${UPLOADS}s?_state=one` } },
      { method: 'PATCH', url: `${UPLOADS}s?_state=one`, status: 202, headers: { location: `${UPLOADS}s?_state=two`, range: `0-${DATA.length - 1}` } },
      { method: 'PUT', url: `${UPLOADS}s?_state=two&digest=${ENC}`, status: 201, headers: { 'docker-content-digest': D } },
    ]);
    const desc = await client(reg).repo.pushBlobStream(Readable.from([DATA.subarray(0, 100), DATA.subarray(100)]));
    reg.assertDone();
    expect(desc).toEqual({ mediaType: 'application/octet-stream', digest: D, size: DATA.length });
    const [, patch, put] = reg.seen;
    expect([patch.headers['content-type'], patch.size, patch.digest]).toEqual(['application/octet-stream', DATA.length, D]);
    expect([put.headers['content-length'], put.size]).toEqual(['0', 0]);
  });

  it('the closing PUT of a streamed upload declares Content-Length 0 (whatever transport is below)', async () => {
    const seen: { method: string; url: string; headers?: Record<string, string>; bodyLength?: number }[] = [];
    const transport: Transport = {
      async do(req: HttpRequest) {
        let bodyLength: number | undefined;
        if (req.body && typeof req.body === 'object' && 'pipe' in req.body) bodyLength = (await readAll(req.body)).length;
        else if (Buffer.isBuffer(req.body)) bodyLength = req.body.length;
        seen.push({ method: req.method, url: req.url, headers: req.headers, bodyLength });
        const headers: Record<string, string> = req.method === 'PUT' ? {} : { location: `${UPLOADS}s?_state=${seen.length}` };
        return { status: req.method === 'PUT' ? 201 : 202, headers, body: Readable.from([]), url: req.url };
      },
    };
    const repo = new Registry('registry.example', 'registry.example', { transport }).repository('team/app');
    await repo.pushBlobStream(Readable.from([DATA]));
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      `POST https://registry.example${UPLOADS}`,
      `PATCH https://registry.example${UPLOADS}s?_state=1`,
      `PUT https://registry.example${UPLOADS}s?_state=2&digest=${ENC}`,
    ]);
    expect([seen[2].headers?.['content-length'], seen[2].bodyLength]).toEqual(['0', 0]);
  });

  it('a streamed upload with a known size sends Content-Length on the PATCH', async () => {
    const reg = await fake([
      { method: 'POST', url: UPLOADS, status: 202, headers: { location: `${UPLOADS}s?_state=one` } },
      { method: 'PATCH', url: `${UPLOADS}s?_state=one`, status: 202, headers: { location: `${UPLOADS}s?_state=two` } },
      { method: 'PUT', url: `${UPLOADS}s?_state=two&digest=${ENC}`, status: 201 },
    ]);
    await client(reg).repo.pushBlobStream(Readable.from([DATA]), DATA.length);
    reg.assertDone();
    expect(reg.seen[1].headers['content-length']).toBe(String(DATA.length));
    expect(reg.seen[2].headers['content-length']).toBe('0');
  });
});

describe('B24: upload status codes', () => {
  it('(c) PATCH answered 204 with a new Location is success; the PUT uses that Location', async () => {
    const reg = await fake([
      { method: 'POST', url: UPLOADS, status: 202, headers: { location: `${UPLOADS}s?_state=one` } },
      { method: 'PATCH', url: `${UPLOADS}s?_state=one`, status: 204, headers: { location: `/v2/team/app/blobs/uploads/s2?_state=two`, range: `0-${DATA.length - 1}` } },
      { method: 'PUT', url: `${UPLOADS}s2?_state=two&digest=${ENC}`, status: 201, headers: { 'docker-content-digest': D } },
    ]);
    const desc = await client(reg).repo.pushBlobStream(Readable.from([DATA]));
    reg.assertDone();
    expect(desc.digest).toBe(D);
  });

  it('(d) PUT answered 204: success once HEAD on the blob says 200', async () => {
    const reg = await fake([
      { method: 'POST', url: UPLOADS, status: 202, headers: { location: `${UPLOADS}u` } },
      { method: 'PUT', url: `${UPLOADS}u?digest=${ENC}`, status: 204 },
      { method: 'HEAD', url: `/v2/team/app/blobs/${D}`, status: 200, headers: { 'content-length': String(DATA.length) } },
    ]);
    const desc = await client(reg).repo.pushBlob({ digest: D, size: DATA.length }, DATA);
    reg.assertDone();
    expect(desc).toEqual({ mediaType: 'application/octet-stream', digest: D, size: DATA.length });
  });

  it('(d) PUT answered 204 but HEAD says 404: the push fails', async () => {
    const reg = await fake([
      { method: 'POST', url: UPLOADS, status: 202, headers: { location: `${UPLOADS}u` } },
      { method: 'PUT', url: `${UPLOADS}u?digest=${ENC}`, status: 204 },
      { method: 'HEAD', url: `/v2/team/app/blobs/${D}`, status: 404 },
    ]);
    const err = await rejection(client(reg).repo.pushBlob({ digest: D, size: DATA.length }, DATA));
    reg.assertDone();
    expect(err.kind).toBe('registry');
    expect(err.message).toBe(`${reg.host}/team/app: upload of ${D} answered 204 but the blob is not there`);
  });

  it('a digest header on the PUT reply that is not ours fails', async () => {
    const reg = await fake([
      { method: 'POST', url: UPLOADS, status: 202, headers: { location: `${UPLOADS}u` } },
      { method: 'PUT', url: `${UPLOADS}u?digest=${ENC}`, status: 201, headers: { 'docker-content-digest': sha('other') } },
    ]);
    const err = await rejection(client(reg).repo.pushBlob({ digest: D, size: DATA.length }, DATA));
    expect(err.kind).toBe('digest-mismatch');
  });
});
