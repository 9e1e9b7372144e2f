import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { EXIT_CODES } from '../../../src/errors/errors.js';
import { RedirectTransport } from '../../../src/registry/http/redirect.js';
import { UndiciTransport } from '../../../src/registry/http/undici-transport.js';
import { ACCEPT, readAll, rejection, useFakes } from './harness.js';

const { fake, client } = useFakes();

const BLOB = Buffer.from('hello blob\n');
const BLOB_DIGEST = `sha256:${createHash('sha256').update(BLOB).digest('hex')}`;
const MANIFEST = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: BLOB_DIGEST, size: BLOB.length }, layers: [] }));
const MANIFEST_DIGEST = `sha256:${createHash('sha256').update(MANIFEST).digest('hex')}`;
const manifestReply = { status: 200, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': MANIFEST_DIGEST }, body: MANIFEST };
/** A presigned storage query with odd but valid encodings that must survive byte for byte. */
const PRESIGNED = '/blobs/abc?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20260101%2fus-east-1%2Fs3&X-Amz-Signature=ab+cd%3D&empty=&tilde=~%7e';

describe('B15: redirects', () => {
  it('a cross-host redirect goes to the Location exactly as given, without Authorization or cookies; the body is verified', async () => {
    const storage = await fake([{ method: 'GET', url: PRESIGNED, status: 200, headers: { 'content-type': 'application/octet-stream' }, body: BLOB }]);
    const reg = await fake([
      { method: 'GET', path: `/v2/team/app/blobs/${BLOB_DIGEST}`, status: 401, headers: (o) => ({ 'www-authenticate': `Bearer realm="${o}/token",service="registry.example"` }) },
      { method: 'GET', path: '/token', status: 200, body: { token: 'jwt-1' } },
      { method: 'GET', url: `/v2/team/app/blobs/${BLOB_DIGEST}`, status: 307, headers: { location: `${storage.origin}${PRESIGNED}` } },
    ]);
    const { repo } = client(reg);
    const blob = await repo.fetchBlob(BLOB_DIGEST);
    expect(await readAll(blob.stream)).toEqual(BLOB);
    reg.assertDone();
    storage.assertDone();
    expect(reg.seen[2].headers.authorization).toBe('Bearer jwt-1');
    const s = storage.seen[0];
    expect(s.url).toBe(PRESIGNED);
    expect(s.headers.authorization).toBeUndefined();
    expect(s.headers.cookie).toBeUndefined();
    expect(s.headers['user-agent']).toBe('lading/0.1');
  });

  it('other headers (Accept, Range, User-Agent) are kept; Authorization and Cookie only on the same origin', async () => {
    const storage = await fake([{ method: 'GET', url: PRESIGNED, status: 206, body: 'hello' }]);
    const reg = await fake([
      { method: 'GET', url: '/v2/team/app/blobs/x', status: 302, headers: { location: '/v2/team/app/blobs/y' } },
      { method: 'GET', url: '/v2/team/app/blobs/y', status: 307, headers: (o) => ({ location: `${storage.origin}${PRESIGNED}` }) },
    ]);
    const t = new RedirectTransport(new UndiciTransport());
    const headers = { accept: 'application/octet-stream', range: 'bytes=0-4', authorization: 'Bearer jwt-1', cookie: 'session=1' };
    const res = await t.do({ method: 'GET', url: `${reg.origin}/v2/team/app/blobs/x`, headers });
    expect(res.status).toBe(206);
    expect(res.url).toBe(`${storage.origin}${PRESIGNED}`);
    expect((await readAll(res.body)).toString()).toBe('hello');
    reg.assertDone();
    storage.assertDone();
    const same = reg.seen[1].headers;
    expect([same.accept, same.range, same.authorization, same.cookie]).toEqual(['application/octet-stream', 'bytes=0-4', 'Bearer jwt-1', 'session=1']);
    const cross = storage.seen[0].headers;
    expect([cross.accept, cross.range, cross.authorization, cross.cookie, cross['user-agent']]).toEqual(['application/octet-stream', 'bytes=0-4', undefined, undefined, 'lading/0.1']);
  });

  it('follows 10 redirects, refuses the 11th', async () => {
    const hops = (n: number) => Array.from({ length: n }, (_, i) => ({ method: 'GET', url: `/r${i}`, status: 302, headers: { location: `/r${i + 1}` } }));
    const ok = await fake([...hops(10), { method: 'GET', url: '/r10', status: 200, body: 'end' }]);
    const t = new RedirectTransport(new UndiciTransport());
    const res = await t.do({ method: 'GET', url: `${ok.origin}/r0` });
    expect(res.status).toBe(200);
    expect((await readAll(res.body)).toString()).toBe('end');
    ok.assertDone();

    const loop = await fake(hops(11));
    const err = await rejection(t.do({ method: 'GET', url: `${loop.origin}/r0` }));
    expect(err.message).toBe(`GET ${loop.origin}/r0: more than 10 redirects`);
    loop.assertDone();
    expect(loop.seen).toHaveLength(11);
  });

  it('the digest is checked on the final body after a redirect', async () => {
    const storage = await fake([{ method: 'GET', url: PRESIGNED, status: 200, body: 'tampered\n' }]);
    const reg = await fake([{ method: 'GET', path: `/v2/team/app/blobs/${BLOB_DIGEST}`, status: 307, headers: { location: `${storage.origin}${PRESIGNED}` } }]);
    const { repo } = client(reg);
    const blob = await repo.fetchBlob(BLOB_DIGEST);
    const err = await rejection(readAll(blob.stream));
    expect(err.kind).toBe('digest-mismatch');
    const got = `sha256:${createHash('sha256').update('tampered\n').digest('hex')}`;
    expect(err.message).toBe(`blob ${BLOB_DIGEST}: digest mismatch: expected ${BLOB_DIGEST}, got ${got}`);

    // With the size known from the descriptor, a short body fails on size.
    const storage2 = await fake([{ method: 'GET', url: PRESIGNED, status: 200, body: 'tampered\n' }]);
    const reg2 = await fake([{ method: 'GET', path: `/v2/team/app/blobs/${BLOB_DIGEST}`, status: 307, headers: { location: `${storage2.origin}${PRESIGNED}` } }]);
    const blob2 = await client(reg2).repo.fetchBlob(BLOB_DIGEST, BLOB.length);
    const err2 = await rejection(readAll(blob2.stream));
    expect(err2.kind).toBe('digest-mismatch');
    expect(err2.message).toBe(`blob ${BLOB_DIGEST}: size mismatch: expected 11 bytes, got 9`);
  });

  it('a one-shot stream body is not re-sent to a redirect target', async () => {
    const reg = await fake([{ method: 'PATCH', url: '/upload/1', status: 307, headers: { location: '/upload/2' } }]);
    const t = new RedirectTransport(new UndiciTransport());
    const res = await t.do({ method: 'PATCH', url: `${reg.origin}/upload/1`, body: Readable.from([Buffer.from('chunk')]) });
    expect(res.status).toBe(307);
    await readAll(res.body);
    reg.assertDone();
    expect(reg.seen.map((s) => s.body)).toEqual(['chunk']);
  });
});

describe('B17: 429 and retries', () => {
  const tooMany = (headers: Record<string, string>) => ({
    method: 'GET',
    url: '/v2/team/app/manifests/1.0',
    status: 429,
    headers: { 'content-type': 'text/plain', ...headers },
    body: 'Too Many Requests (HAP429).\n',
  });
  const ok = { method: 'GET', url: '/v2/team/app/manifests/1.0', ...manifestReply };

  it('Retry-After in delta-seconds: waits that long, logs one line, retries the same request', async () => {
    const reg = await fake([tooMany({ 'retry-after': '60' }), ok]);
    const { repo, sleeps, logs } = client(reg);
    const got = await repo.fetchManifest('1.0');
    expect(got.descriptor.digest).toBe(MANIFEST_DIGEST);
    reg.assertDone();
    expect(sleeps).toEqual([60_000]);
    expect(logs).toEqual([`GET ${reg.origin}/v2/team/app/manifests/1.0: 429; retrying in 60.0s (attempt 2 of 4)`]);
    expect(reg.seen.map((s) => s.headers.accept)).toEqual([ACCEPT, ACCEPT]);
  });

  it('Retry-After as an HTTP-date', async () => {
    const when = new Date(Math.ceil(Date.now() / 1000) * 1000 + 30_000).toUTCString();
    const reg = await fake([tooMany({ 'retry-after': when }), ok]);
    const { repo, sleeps, logs } = client(reg);
    await repo.fetchManifest('1.0');
    reg.assertDone();
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThan(28_000);
    expect(sleeps[0]).toBeLessThanOrEqual(31_000);
    expect(logs).toHaveLength(1);
  });

  it('a Retry-After beyond the cap fails at once with a rate-limit error (exit code 6) carrying the plain-text body', async () => {
    const reg = await fake([tooMany({ 'retry-after': '61' })]);
    const { repo, sleeps, logs } = client(reg, { retry: { maxRetries: 3, baseDelayMs: 1, maxDelayMs: 60_000 } });
    const err = await rejection(repo.fetchManifest('1.0'));
    reg.assertDone();
    expect(sleeps).toEqual([]);
    // No wait, and one line saying why not.
    expect(logs).toEqual([`GET ${reg.origin}/v2/team/app/manifests/1.0: 429; the registry asks to wait 61 s, more than the 60 s lading waits: not retrying`]);
    expect(err.kind).toBe('rate-limited');
    expect(err.exitCode).toBe(6);
    expect(err.message).toBe(`cannot fetch manifest ${reg.host}/team/app:1.0: GET ${reg.origin}/v2/team/app/manifests/1.0: 429 Too Many Requests: Too Many Requests (HAP429).`);
    expect(new Set([EXIT_CODES['rate-limited'], EXIT_CODES.unauthorized, EXIT_CODES['not-found']]).size).toBe(3);
  });

  it('gives up after maxRetries, one log line per wait', async () => {
    const reg = await fake([1, 2, 3, 4].map(() => tooMany({ 'retry-after': '2' })));
    const { repo, sleeps, logs } = client(reg);
    const err = await rejection(repo.fetchManifest('1.0'));
    reg.assertDone();
    expect(err.kind).toBe('rate-limited');
    expect(sleeps).toEqual([2000, 2000, 2000]);
    expect(logs).toEqual([2, 3, 4].map((n) => `GET ${reg.origin}/v2/team/app/manifests/1.0: 429; retrying in 2.0s (attempt ${n} of 4)`));
  });

  it('no Retry-After (JSON TOOMANYREQUESTS body): exponential backoff with jitter', async () => {
    const json = { method: 'GET', url: '/v2/team/app/manifests/1.0', status: 429, body: { errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] } };
    const reg = await fake([json, json, json, ok]);
    const { repo, sleeps, logs } = client(reg, { retry: { maxRetries: 3, baseDelayMs: 1000, maxDelayMs: 60_000 } });
    await repo.fetchManifest('1.0');
    reg.assertDone();
    expect(sleeps).toHaveLength(3);
    [1000, 2000, 4000].forEach((exp, i) => {
      expect(sleeps[i]).toBeGreaterThanOrEqual(exp / 2);
      expect(sleeps[i]).toBeLessThanOrEqual(exp);
    });
    expect(logs).toHaveLength(3);
  });

  it('the rate-limit kind does not depend on the body: JSON without TOOMANYREQUESTS, empty body', async () => {
    const reg = await fake([
      { method: 'GET', url: '/v2/team/app/manifests/1.0', status: 429, body: { errors: [{ code: 'DENIED', message: 'quota' }] } },
      { method: 'GET', url: '/v2/team/app/manifests/1.0', status: 429 },
    ]);
    const { repo } = client(reg, { retry: { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1 } });
    expect((await rejection(repo.fetchManifest('1.0'))).kind).toBe('rate-limited');
    expect((await rejection(repo.fetchManifest('1.0'))).kind).toBe('rate-limited');
    reg.assertDone();
  });

  it('500 then 200: retried once and succeeds', async () => {
    const reg = await fake([{ method: 'GET', url: '/v2/team/app/manifests/1.0', status: 500, body: 'oops' }, ok]);
    const { repo, sleeps, logs } = client(reg);
    expect((await repo.fetchManifest('1.0')).bytes).toEqual(MANIFEST);
    reg.assertDone();
    expect(sleeps).toEqual([1]);
    expect(logs).toEqual([`GET ${reg.origin}/v2/team/app/manifests/1.0: 500; retrying in 0.0s (attempt 2 of 4)`]);
  });
});

describe('Warning headers', () => {
  it('each `299 - "text"` is shown once per text', async () => {
    const warn = (w: string | string[]) => ({ method: 'GET', url: '/v2/team/app/manifests/1.0', ...manifestReply, headers: { ...manifestReply.headers, warning: w } });
    const reg = await fake([
      warn('299 - "this registry is read-only from May"'),
      warn('299 - "this registry is read-only from May"'),
      warn(['299 - "this registry is read-only from May"', '299 - "quota \\"team\\" at 90%"']),
      warn('299 - "first", 299 - "second, with a comma"'),
    ]);
    const { repo, logs } = client(reg);
    for (let i = 0; i < 4; i++) await repo.fetchManifest('1.0');
    reg.assertDone();
    expect(logs).toEqual([
      `Warning from ${reg.host}: this registry is read-only from May`,
      `Warning from ${reg.host}: quota "team" at 90%`,
      `Warning from ${reg.host}: first`,
      `Warning from ${reg.host}: second, with a comma`,
    ]);
  });
});
