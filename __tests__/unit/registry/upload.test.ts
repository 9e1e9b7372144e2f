import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from '@jest/globals';
import { parseInputs, toCliArgs } from '../../../src/action/inputs.js';
import { inActionTerms } from '../../../src/action/main.js';
import { fileContent, isSeekable, MIN_CHUNK_SIZE, parseChunkSize, seekable, UploadPolicy } from '../../../src/registry/upload.js';
import type { BlobSource } from '../../../src/registry/repository.js';
import { Registry } from '../../../src/registry/registry.js';
import type { HttpRequest, HttpResponse, Transport } from '../../../src/registry/http/types.js';
import { lading } from '../../helpers/cli.js';
import { removeDir, tmpDir } from '../../helpers/tmp.js';
import type { Step } from './fake-registry.js';
import { rejection, useFakes } from './harness.js';

const { fake, client } = useFakes();

const KiB = 1024;
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
/** 200 KiB of bytes that differ at every offset mod 251, so a chunk from the wrong offset has another digest. */
const DATA = Buffer.from(Array.from({ length: 200 * KiB }, (_, i) => i % 251));
const D = sha(DATA);
const ENC = `sha256%3A${D.slice(7)}`;
const UPLOADS = '/v2/team/app/blobs/uploads/';
const NO_RETRY = { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1 };

const dir = tmpDir('lading-upload-test-');
afterAll(() => removeDir(dir));
const FILE = join(dir, 'data');
writeFileSync(FILE, DATA);
/** `n` bytes that differ at every offset mod 251. */
function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7) % 251;
  return b;
}
function writeTo(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** The same 200 KiB as each kind of upload source. */
const SOURCES: [string, () => BlobSource][] = [
  ['bytes', () => DATA],
  ['a file (seekable)', () => fileContent(FILE)],
  ['a factory from byte 0 (not seekable)', () => () => Readable.from([DATA.subarray(0, 70 * KiB), DATA.subarray(70 * KiB)])],
];

const post = (location: string, extra: Record<string, string> = {}): Step => ({ method: 'POST', url: UPLOADS, status: 202, headers: { location, range: '0-0', ...extra } });
const patch = (url: string, next: string, end: number, status = 202): Step => ({ method: 'PATCH', url, status, headers: { location: next, range: `0-${end}` } });
const put = (url: string, digest = D): Step => ({ method: 'PUT', url: `${url}&digest=${encodeURIComponent(digest)}`, status: 201, headers: { 'docker-content-digest': digest } });
/** The best-effort DELETE of an abandoned session (Distribution answers 204). */
const del = (url: string, status = 204): Step => ({ method: 'DELETE', url, status });
/** HEAD of a blob after a PUT that would have committed its upload failed: absent, or present at `size`. */
const head = (digest = D, size?: number): Step =>
  size === undefined ? { method: 'HEAD', url: `/v2/team/app/blobs/${digest}`, status: 404 } : { method: 'HEAD', url: `/v2/team/app/blobs/${digest}`, status: 200, headers: { 'content-length': String(size), 'docker-content-digest': digest } };

/** What each PATCH carried: Content-Range, Content-Length, Content-Type, and whether the bytes are the blob's at that range. */
function patches(reg: { seen: { method: string; headers: Record<string, unknown>; digest: string; size: number }[] }, data: Buffer<ArrayBufferLike> = DATA) {
  return reg.seen
    .filter((s) => s.method === 'PATCH')
    .map((s) => {
      const [start, end] = String(s.headers['content-range']).split('-').map(Number);
      return { range: s.headers['content-range'], length: s.headers['content-length'], type: s.headers['content-type'], bytesMatch: s.digest === sha(data.subarray(start, end + 1)) && s.size === end - start + 1 };
    });
}

describe('chunked upload: the exact request sequence', () => {
  it.each(SOURCES)('64 KiB chunks from %s: PATCH to each latest Location with Content-Range, 202 and 204 alike, then PUT ?digest= with no body', async (_name, source) => {
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`),
      patch(`${UPLOADS}u?_state=0`, `${UPLOADS}u?_state=1`, 65535),
      // B24(c): 204 is success too; an absolute Location is used as given.
      { method: 'PATCH', url: `${UPLOADS}u?_state=1`, status: 204, headers: (o) => ({ location: `${o}${UPLOADS}u?_state=2`, range: '0-131071' }) },
      patch(`${UPLOADS}u?_state=2`, `u?_state=3`, 196607),
      patch(`${UPLOADS}u?_state=3`, `${UPLOADS}u?_state=4`, DATA.length - 1),
      put(`${UPLOADS}u?_state=4`),
    ]);
    const { repo } = client(reg, { chunkSize: 64 * KiB });
    const desc = await repo.pushBlob({ digest: D, size: DATA.length }, source());
    reg.assertDone();
    expect(desc).toEqual({ mediaType: 'application/octet-stream', digest: D, size: DATA.length });
    const type = 'application/octet-stream';
    expect(patches(reg)).toEqual([
      { range: '0-65535', length: '65536', type, bytesMatch: true },
      { range: '65536-131071', length: '65536', type, bytesMatch: true },
      { range: '131072-196607', length: '65536', type, bytesMatch: true },
      { range: '196608-204799', length: '8192', type, bytesMatch: true },
    ]);
    const closing = reg.seen[reg.seen.length - 1];
    expect([closing.headers['content-length'], closing.size]).toEqual(['0', 0]);
  });

  it('OCI-Chunk-Min-Length from the POST reply raises the chunk size (max of configured and minimum)', async () => {
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`, { 'oci-chunk-min-length': String(120 * KiB) }),
      patch(`${UPLOADS}u?_state=0`, `${UPLOADS}u?_state=1`, 120 * KiB - 1),
      patch(`${UPLOADS}u?_state=1`, `${UPLOADS}u?_state=2`, DATA.length - 1),
      put(`${UPLOADS}u?_state=2`),
    ]);
    await client(reg, { chunkSize: 64 * KiB }).repo.pushBlob({ digest: D, size: DATA.length }, DATA);
    reg.assertDone();
    expect(patches(reg).map((p) => p.range)).toEqual([`0-${120 * KiB - 1}`, `${120 * KiB}-${DATA.length - 1}`]);
  });

  it('a blob above the threshold goes in 4 MiB chunks by default; one at the threshold in one PUT', async () => {
    const big = Buffer.alloc(4 * 1024 * KiB + 5, 7);
    const reg = await fake([
      post(`${UPLOADS}small`),
      { method: 'PUT', url: `${UPLOADS}small?digest=${ENC}`, status: 201, headers: { 'docker-content-digest': D } },
      post(`${UPLOADS}big?_state=0`),
      patch(`${UPLOADS}big?_state=0`, `${UPLOADS}big?_state=1`, 4 * 1024 * KiB - 1),
      patch(`${UPLOADS}big?_state=1`, `${UPLOADS}big?_state=2`, big.length - 1),
      put(`${UPLOADS}big?_state=2`, sha(big)),
    ]);
    const { repo } = client(reg, { chunkThreshold: DATA.length });
    await repo.pushBlob({ digest: D, size: DATA.length }, DATA);
    await repo.pushBlob({ digest: sha(big), size: big.length }, big);
    reg.assertDone();
    expect(reg.seen[1].size).toBe(DATA.length);
    expect(patches(reg, big)).toEqual([
      { range: `0-${4 * 1024 * KiB - 1}`, length: String(4 * 1024 * KiB), type: 'application/octet-stream', bytesMatch: true },
      { range: `${4 * 1024 * KiB}-${big.length - 1}`, length: '5', type: 'application/octet-stream', bytesMatch: true },
    ]);
  });

  it('a token refused mid-upload (401) is renewed and the same chunk is sent again to the same Location', async () => {
    const challenge = (o: string) => ({ 'www-authenticate': `Bearer realm="${o}/token",service="reg",scope="repository:team/app:pull,push"` });
    const reg = await fake([
      { method: 'POST', url: UPLOADS, status: 401, headers: challenge },
      { method: 'GET', path: '/token', status: 200, body: { token: 'one', expires_in: 300 } },
      post(`${UPLOADS}u?_state=0`),
      patch(`${UPLOADS}u?_state=0`, `${UPLOADS}u?_state=1`, 131071),
      { method: 'PATCH', url: `${UPLOADS}u?_state=1`, status: 401, headers: (o) => ({ ...challenge(o), 'content-type': 'application/json' }), body: { errors: [{ code: 'UNAUTHORIZED' }] } },
      { method: 'GET', path: '/token', status: 200, body: { token: 'two', expires_in: 300 } },
      patch(`${UPLOADS}u?_state=1`, `${UPLOADS}u?_state=2`, DATA.length - 1),
      put(`${UPLOADS}u?_state=2`),
    ]);
    await client(reg, { chunkSize: 128 * KiB, credentials: async () => ({ username: 'u', password: 'p' }) }).repo.pushBlob({ digest: D, size: DATA.length }, fileContent(FILE));
    reg.assertDone();
    const sent = reg.seen.filter((s) => s.method === 'PATCH');
    expect(sent.map((s) => s.headers.authorization)).toEqual(['Bearer one', 'Bearer one', 'Bearer two']);
    expect(patches(reg).map((p) => [p.range, p.bytesMatch])).toEqual([['0-131071', true], [`131072-${DATA.length - 1}`, true], [`131072-${DATA.length - 1}`, true]]);
  });
});

describe('413: refused bodies', () => {
  it('a 413 on the monolithic PUT switches the blob to chunks in the same session, and the host stays chunked', async () => {
    const other = Buffer.alloc(100 * KiB, 3);
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`),
      { method: 'PUT', url: `${UPLOADS}u?_state=0&digest=${ENC}`, status: 413, headers: { 'content-type': 'text/html' }, body: '<html>413 Request Entity Too Large</html>' },
      // 200 KiB refused: chunks of 128 KiB (the largest power of two below the body, at most 4 MiB).
      patch(`${UPLOADS}u?_state=0`, `${UPLOADS}u?_state=1`, 131071),
      patch(`${UPLOADS}u?_state=1`, `${UPLOADS}u?_state=2`, DATA.length - 1),
      put(`${UPLOADS}u?_state=2`),
      // The next blob to this host is chunked from the start: no monolithic attempt.
      post(`${UPLOADS}v?_state=0`),
      patch(`${UPLOADS}v?_state=0`, `${UPLOADS}v?_state=1`, other.length - 1),
      put(`${UPLOADS}v?_state=1`, sha(other)),
    ]);
    const { repo, registry, logs } = client(reg);
    await repo.pushBlob({ digest: D, size: DATA.length }, fileContent(FILE));
    await repo.pushBlob({ digest: sha(other), size: other.length }, other);
    reg.assertDone();
    expect(reg.seen[1].size).toBe(DATA.length);
    expect(patches(reg).map((p) => p.range)).toEqual(['0-131071', `131072-${DATA.length - 1}`, `0-${other.length - 1}`]);
    expect(registry.uploads.learned).toBe(128 * KiB);
    expect(logs).toEqual([`${reg.host}/team/app: a body of 200 KiB was refused (413 Request Entity Too Large); uploading ${D} in chunks of 128 KiB`]);
  });

  it('a 413 on a chunk halves the chunk size and sends that chunk again; the halved size is remembered', async () => {
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`),
      { method: 'PATCH', url: `${UPLOADS}u?_state=0`, status: 413, body: 'too large' },
      patch(`${UPLOADS}u?_state=0`, `${UPLOADS}u?_state=1`, 65535),
      patch(`${UPLOADS}u?_state=1`, `${UPLOADS}u?_state=2`, 131071),
      patch(`${UPLOADS}u?_state=2`, `${UPLOADS}u?_state=3`, 196607),
      patch(`${UPLOADS}u?_state=3`, `${UPLOADS}u?_state=4`, DATA.length - 1),
      put(`${UPLOADS}u?_state=4`),
    ]);
    const { repo, registry, logs } = client(reg, { chunkSize: 128 * KiB });
    await repo.pushBlob({ digest: D, size: DATA.length }, DATA);
    reg.assertDone();
    expect(patches(reg).map((p) => [p.range, p.bytesMatch])).toEqual([
      ['0-131071', true], ['0-65535', true], ['65536-131071', true], ['131072-196607', true], [`196608-${DATA.length - 1}`, true],
    ]);
    expect(registry.uploads.learned).toBe(64 * KiB);
    expect(logs).toEqual([`${reg.host}/team/app: a chunk of 128 KiB was refused (413 Request Entity Too Large); trying chunks of 64 KiB`]);
  });

  it('a 413 on a chunk of the smallest size fails clearly', async () => {
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`),
      { method: 'PATCH', url: `${UPLOADS}u?_state=0`, status: 413, body: 'too large' },
      del(`${UPLOADS}u?_state=0`),
    ]);
    const err = await rejection(client(reg, { chunkSize: MIN_CHUNK_SIZE }).repo.pushBlob({ digest: D, size: DATA.length }, DATA));
    reg.assertDone();
    expect(err.kind).toBe('too-large');
    expect(err.message).toBe(`cannot upload blob ${D} to ${reg.host}/team/app: the registry refused a chunk of 64 KiB (413 Request Entity Too Large), and chunks cannot be smaller than 64 KiB`);
  });
});

describe('resume: GET on the session says where to go on', () => {
  const broken: [string, Partial<Step>][] = [
    ['a 500', { status: 500, body: { errors: [{ code: 'UNKNOWN' }] } }],
    ['a dropped connection', { handle: (res) => res.socket?.destroy() }],
  ];
  for (const [failure, how] of broken) {
    it.each(SOURCES)(`after ${failure}, from %s: resumes at Range 0-N+1, inside the chunk`, async (_name, source) => {
      const reg = await fake([
        post(`${UPLOADS}u?_state=0`),
        patch(`${UPLOADS}u?_state=0`, `${UPLOADS}u?_state=1`, 131071),
        { method: 'PATCH', url: `${UPLOADS}u?_state=1`, ...how } as Step,
        { method: 'GET', url: `${UPLOADS}u?_state=1`, status: 204, headers: { location: `${UPLOADS}u?_state=r`, range: '0-150000' } },
        patch(`${UPLOADS}u?_state=r`, `${UPLOADS}u?_state=2`, DATA.length - 1),
        put(`${UPLOADS}u?_state=2`),
      ]);
      const { repo, logs } = client(reg, { chunkSize: 128 * KiB, retry: NO_RETRY });
      await repo.pushBlob({ digest: D, size: DATA.length }, source());
      reg.assertDone();
      expect(patches(reg).map((p) => [p.range, p.bytesMatch])).toEqual([
        ['0-131071', true],
        [`131072-${DATA.length - 1}`, true],
        [`150001-${DATA.length - 1}`, true],
      ]);
      expect(logs.filter((l) => !l.includes('retrying'))).toEqual([expect.stringMatching(new RegExp(`upload of blob ${D} interrupted at byte 131072 \\(.+\\); the registry has 150001 bytes, resuming from there$`))]);
    });
  }

  it('a session that is gone (404 BLOB_UPLOAD_INVALID) is deleted and starts again from byte 0 in a new session, with one log line', async () => {
    const invalid = { status: 404, body: { errors: [{ code: 'BLOB_UPLOAD_INVALID', message: 'blob upload invalid' }] } };
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`),
      patch(`${UPLOADS}u?_state=0`, `${UPLOADS}u?_state=1`, 131071),
      { method: 'PATCH', url: `${UPLOADS}u?_state=1`, ...invalid },
      { method: 'GET', url: `${UPLOADS}u?_state=1`, ...invalid },
      // The lost session is deleted (best effort: Distribution answers 404 for an invalid one) before a new one starts.
      del(`${UPLOADS}u?_state=1`, 404),
      post(`${UPLOADS}w?_state=0`),
      patch(`${UPLOADS}w?_state=0`, `${UPLOADS}w?_state=1`, 131071),
      patch(`${UPLOADS}w?_state=1`, `${UPLOADS}w?_state=2`, DATA.length - 1),
      put(`${UPLOADS}w?_state=2`),
    ]);
    const { repo, logs } = client(reg, { chunkSize: 128 * KiB, retry: NO_RETRY });
    await repo.pushBlob({ digest: D, size: DATA.length }, () => Readable.from([DATA]));
    reg.assertDone();
    expect(patches(reg).map((p) => [p.range, p.bytesMatch])).toEqual([
      ['0-131071', true], [`131072-${DATA.length - 1}`, true], ['0-131071', true], [`131072-${DATA.length - 1}`, true],
    ]);
    expect(logs).toEqual([
      `${reg.host}/team/app: upload session of blob ${D} lost (404 BLOB_UPLOAD_INVALID; then GET on the session: 404 BLOB_UPLOAD_INVALID); starting the upload again`,
    ]);
  });

  it('sessions lost again and again: gives up after two new sessions, naming the blob and the offset', async () => {
    const lost = (s: string): Step[] => [
      post(`${UPLOADS}${s}?_state=0`),
      { method: 'PATCH', url: `${UPLOADS}${s}?_state=0`, status: 404, body: { errors: [{ code: 'BLOB_UPLOAD_UNKNOWN' }] } },
      { method: 'GET', url: `${UPLOADS}${s}?_state=0`, status: 404, body: { errors: [{ code: 'BLOB_UPLOAD_UNKNOWN' }] } },
      del(`${UPLOADS}${s}?_state=0`, 404),
    ];
    const reg = await fake([...lost('a'), ...lost('b'), ...lost('c')]);
    const err = await rejection(client(reg, { chunkSize: 128 * KiB, retry: NO_RETRY }).repo.pushBlob({ digest: D, size: DATA.length }, DATA));
    reg.assertDone();
    expect(err.message).toBe(`cannot upload blob ${D} to ${reg.host}/team/app: stopped at byte 0 of ${DATA.length} (404 BLOB_UPLOAD_UNKNOWN); the upload session was lost 3 times (last: GET on the session: 404 BLOB_UPLOAD_UNKNOWN)`);
    expect(err.kind).toBe('not-found');
  });

  it('a one-shot stream cannot start a lost session again: a clear failure', async () => {
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`),
      patch(`${UPLOADS}u?_state=0`, `${UPLOADS}u?_state=1`, 131071),
      { method: 'PATCH', url: `${UPLOADS}u?_state=1`, status: 404, body: { errors: [{ code: 'BLOB_UPLOAD_INVALID' }] } },
      { method: 'GET', url: `${UPLOADS}u?_state=1`, status: 404, body: { errors: [{ code: 'BLOB_UPLOAD_INVALID' }] } },
      del(`${UPLOADS}u?_state=1`, 404),
    ]);
    const err = await rejection(client(reg, { chunkSize: 128 * KiB, retry: NO_RETRY }).repo.pushBlob({ digest: D, size: DATA.length }, Readable.from([DATA])));
    reg.assertDone();
    expect(err.message).toMatch(/stopped at byte 131072 of 204800 \(404 BLOB_UPLOAD_INVALID\); the upload session is lost \(GET on the session: 404 BLOB_UPLOAD_INVALID\) and the content was a stream that cannot be read again$/);
  });

  it('chunks that keep failing without progress are halved down to 64 KiB, then give up after three resumes, and delete the session', async () => {
    const fail: Step = { method: 'PATCH', url: `${UPLOADS}u?_state=0`, handle: (res) => res.socket?.destroy() };
    const at0: Step = { method: 'GET', url: `${UPLOADS}u?_state=0`, status: 204, headers: { location: `${UPLOADS}u?_state=0`, range: '0-0' } };
    const reg = await fake([post(`${UPLOADS}u?_state=0`), fail, at0, fail, at0, fail, at0, fail, at0, fail, at0, del(`${UPLOADS}u?_state=0`)]);
    const err = await rejection(client(reg, { chunkSize: 128 * KiB, retry: NO_RETRY }).repo.pushBlob({ digest: D, size: DATA.length }, DATA));
    reg.assertDone();
    expect(err.kind).toBe('network');
    expect(err.exitCode).toBe(7);
    expect(err.message).toMatch(new RegExp(`^cannot upload blob ${D} to ${reg.host}/team/app: stopped at byte 0 of ${DATA.length} \\(.+\\); 3 resumes brought no progress$`));
    expect(patches(reg).map((p) => p.range)).toEqual(['0-131071', '0-65535', '0-65535', '0-65535', '0-65535']);
  });
});

describe('stdin (digest not known in advance) in chunks', () => {
  it('--chunk-size: chunks hashed on the way, PUT with the digest of what was read; --size is checked', async () => {
    const reg = await fake([
      post(`${UPLOADS}s?_state=0`),
      patch(`${UPLOADS}s?_state=0`, `${UPLOADS}s?_state=1`, 131071),
      patch(`${UPLOADS}s?_state=1`, `${UPLOADS}s?_state=2`, DATA.length - 1),
      put(`${UPLOADS}s?_state=2`),
    ]);
    const desc = await client(reg, { chunkSize: 128 * KiB }).repo.pushBlobStream(Readable.from([DATA.subarray(0, 1000), DATA.subarray(1000)]), DATA.length);
    reg.assertDone();
    expect(desc).toEqual({ mediaType: 'application/octet-stream', digest: D, size: DATA.length });
    expect(patches(reg).map((p) => [p.range, p.bytesMatch])).toEqual([['0-131071', true], [`131072-${DATA.length - 1}`, true]]);
  });

  it('a stream longer than --size fails as a size mismatch before its last chunk is sent', async () => {
    const reg = await fake([post(`${UPLOADS}s?_state=0`), patch(`${UPLOADS}s?_state=0`, `${UPLOADS}s?_state=1`, 131071), del(`${UPLOADS}s?_state=1`)]);
    const err = await rejection(client(reg, { chunkSize: 128 * KiB }).repo.pushBlobStream(Readable.from([DATA.subarray(0, 128 * KiB), DATA.subarray(128 * KiB)]), DATA.length - 1));
    reg.assertDone();
    expect(err.kind).toBe('digest-mismatch');
    expect(err.message).toBe(`blob size mismatch: --size says ${DATA.length - 1} bytes, read more than ${DATA.length - 1}`);
  });
});

describe('stdin sent in one streamed PATCH', () => {
  it('a 413 cannot be answered by sending the stream again: a clear failure naming the chunk size, learned for the host; the session is deleted', async () => {
    const reg = await fake([post(`${UPLOADS}s?_state=0`), { method: 'PATCH', url: `${UPLOADS}s?_state=0`, status: 413, body: 'Request Entity Too Large' }, del(`${UPLOADS}s?_state=0`)]);
    const { repo, registry } = client(reg);
    const err = await rejection(repo.pushBlobStream(Readable.from([DATA])));
    reg.assertDone();
    // The size is unknown: how much of it was read before the refusal varies from run to run, so the advice does not
    // depend on it (chunks refused are halved until they pass).
    expect(err.message).toMatch(/413.*\(the registry refuses bodies this large; retry with --chunk-size set to 4MiB or less\)$/);
    expect(registry.uploads.chunkFor(undefined)).toBe(4 * 1024 * KiB);
    expect(inActionTerms(err.message)).toMatch(/retry with the chunk-size input set to 4MiB or less\)$/);
  });
});

describe('stdin sent in one streamed PATCH whose connection is closed', () => {
  it('fails as a network error (exit 7) that advises --chunk-size, like a 413 does; the session is deleted', async () => {
    const reg = await fake([
      post(`${UPLOADS}s?_state=0`),
      // A proxy enforcing a body limit by closing the connection, before any answer.
      { method: 'PATCH', url: `${UPLOADS}s?_state=0`, handle: (res) => res.socket?.destroy() },
      del(`${UPLOADS}s?_state=0`),
    ]);
    const err = await rejection(client(reg).repo.pushBlobStream(Readable.from([DATA])));
    reg.assertDone();
    expect(err.exitCode).toBe(7);
    expect(err.message).toMatch(/\(stdin sent in one request cannot be sent again; a registry or proxy that refuses large bodies may close the connection: retry with --chunk-size set to 4MiB or less\)$/);
    expect(inActionTerms(err.message)).toMatch(/retry with the chunk-size input set to 4MiB or less\)$/);
  });
});

describe('content and policy', () => {
  it('only seekable() content is seekable: a plain factory never is', () => {
    const plain = () => Readable.from([DATA]);
    expect(isSeekable(plain)).toBe(false);
    expect(isSeekable(DATA)).toBe(false);
    expect(isSeekable(Object.assign(() => Readable.from([]), { open: () => Readable.from([]) }))).toBe(false);
    expect(isSeekable(seekable(() => Readable.from([])))).toBe(true);
    expect(isSeekable(fileContent(FILE))).toBe(true);
  });

  it('a file opened at an offset gives the bytes from there', async () => {
    const chunks: Buffer[] = [];
    for await (const c of fileContent(FILE).openAt(150_001, 10)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks)).toEqual(DATA.subarray(150_001, 150_011));
  });

  it('the policy: monolithic by default, chunked above the threshold, forced, off, and what a 413 taught', () => {
    expect(new UploadPolicy().chunkFor(1024 * 1024 * KiB)).toBeUndefined();
    expect(new UploadPolicy().chunkFor(1024 * 1024 * KiB + 1)).toBe(4 * 1024 * KiB);
    expect(new UploadPolicy().chunkFor(undefined)).toBeUndefined();
    expect(new UploadPolicy(256 * KiB).chunkFor(10)).toBe(256 * KiB);
    expect(new UploadPolicy(256 * KiB).chunkFor(10, 1024 * KiB)).toBe(1024 * KiB);
    const off = new UploadPolicy(0);
    expect(off.chunkFor(10 * 1024 * 1024 * KiB)).toBeUndefined();
    expect(off.refusedWhole(5 * 1024 * KiB)).toBe(4 * 1024 * KiB);
    expect(off.chunkFor(10)).toBe(4 * 1024 * KiB);
    expect(off.refusedChunk(4 * 1024 * KiB)).toBe(2 * 1024 * KiB);
    expect(off.chunkFor(10)).toBe(2 * 1024 * KiB);
    expect(off.refusedChunk(MIN_CHUNK_SIZE)).toBeUndefined();
    expect(new UploadPolicy().refusedChunk(256 * KiB, 200 * KiB)).toBe(200 * KiB);
  });
});

describe('--chunk-size', () => {
  it.each([
    ['4MiB', 4 * 1024 * KiB], ['4M', 4 * 1024 * KiB], ['4mib', 4 * 1024 * KiB], ['512KiB', 512 * KiB], ['512k', 512 * KiB],
    ['1.5MiB', 1536 * KiB], ['1048576', 1024 * KiB], ['2MB', 2_000_000], ['100KB', 100_000], ['1GiB', 1024 * 1024 * KiB], [' 64 KiB ', 64 * KiB],
    ['off', 0], ['0', 0], ['auto', undefined],
  ])('%s → %s', (raw, bytes) => {
    expect(parseChunkSize(raw)).toBe(bytes);
  });

  it.each([
    ['4XB', 'invalid --chunk-size "4XB": expected a size such as 4MiB, 512KiB, 16M or 1048576 (bytes), or off'],
    ['-1', 'invalid --chunk-size "-1": expected a size such as 4MiB, 512KiB, 16M or 1048576 (bytes), or off'],
    ['MiB', 'invalid --chunk-size "MiB": expected a size such as 4MiB, 512KiB, 16M or 1048576 (bytes), or off'],
    ['1.5.2M', 'invalid --chunk-size "1.5.2M": expected a size such as 4MiB, 512KiB, 16M or 1048576 (bytes), or off'],
    ['1000', 'invalid --chunk-size "1000": a chunk must be from 64KiB to 1GiB (or off)'],
    ['2GiB', 'invalid --chunk-size "2GiB": a chunk must be from 64KiB to 1GiB (or off)'],
  ])('%s is refused', (raw, message) => {
    expect(() => parseChunkSize(raw)).toThrow(message);
  });

  it.each([
    [['blob', 'push', '--chunk-size', '4XB', '127.0.0.1:1/team/app', FILE], '--chunk-size "4XB"'],
    [['push', '--chunk-size', '1k', '127.0.0.1:1/team/app:v1', FILE], '--chunk-size "1k"'],
    [['attach', '--artifact-type', 'a/b', '--chunk-size=lots', '127.0.0.1:1/team/app:v1', FILE], '--chunk-size "lots"'],
    [['copy', '--to-chunk-size', '3 parsecs', '127.0.0.1:1/a:v1', '127.0.0.1:1/b:v1'], '--to-chunk-size "3 parsecs"'],
    [['blob', 'push', '--chunk-size', '', '127.0.0.1:1/team/app', FILE], '--chunk-size ""'],
    [['copy', '--to-chunk-size', ' ', '127.0.0.1:1/a:v1', '127.0.0.1:1/b:v1'], '--to-chunk-size ""'],
  ])('the CLI refuses a bad value before any request: %j', async (args, shown) => {
    const r = await lading(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`invalid ${shown}`);
  });

  it('copy takes the destination side only: --chunk-size and --from-chunk-size are unknown there', async () => {
    expect((await lading(['copy', '--chunk-size', '4MiB', '127.0.0.1:1/a:v1', '127.0.0.1:1/b:v1'])).stderr).toContain('unknown flag: --chunk-size');
    expect((await lading(['copy', '--from-chunk-size', '4MiB', '127.0.0.1:1/a:v1', '127.0.0.1:1/b:v1'])).stderr).toContain('unknown flag: --from-chunk-size');
  });
});

describe('Action input chunk-size', () => {
  const get = (values: Record<string, string>) => (name: string) => values[name] ?? '';
  it('becomes --chunk-size for push, attach and blob-push, and --to-chunk-size for copy and blob-copy', () => {
    expect(toCliArgs(parseInputs(get({ command: 'blob-push', reference: 'r.example/a', file: 'f', 'chunk-size': '8MiB' })))).toEqual(['blob', 'push', 'r.example/a', 'f', '--format', 'json', '--chunk-size', '8MiB']);
    expect(toCliArgs(parseInputs(get({ command: 'push', reference: 'r.example/a:1', files: 'f', 'chunk-size': 'off' })))).toContain('--chunk-size');
    expect(toCliArgs(parseInputs(get({ command: 'copy', source: 'a.example/x:1', destination: 'b.example/y:1', 'chunk-size': '1M' })))).toEqual(['copy', 'a.example/x:1', 'b.example/y:1', '--format', 'json', '--to-chunk-size', '1M']);
    expect(toCliArgs(parseInputs(get({ command: 'blob-copy', source: 'a.example/x@sha256:' + 'a'.repeat(64), destination: 'b.example/y', 'chunk-size': '1M' })))).toContain('--to-chunk-size');
    expect(toCliArgs(parseInputs(get({ command: 'push', reference: 'r.example/a:1', files: 'f' })))).not.toContain('--chunk-size');
  });

  it('a bad value or a command that uploads nothing fails before anything runs', () => {
    expect(() => parseInputs(get({ command: 'push', reference: 'r.example/a:1', files: 'f', 'chunk-size': 'huge' }))).toThrow('invalid input "chunk-size" "huge": expected a size such as 4MiB');
    expect(() => parseInputs(get({ command: 'pull', reference: 'r.example/a:1', 'chunk-size': '4MiB' }))).toThrow('input "chunk-size" does not apply to command "pull"');
  });
});

/**
 * An in-memory registry as the bottom transport (no HTTP), for what a socket cannot show deterministically: one
 * upload session at a time; `onPatch` may answer or fail a PATCH itself (its number, from 1, and the request).
 */
function memoryRegistry(onPatch?: (n: number, req: HttpRequest) => Promise<HttpResponse | undefined>) {
  const parts: Buffer[] = [];
  const requests: string[] = [];
  let patches = 0;
  const location = `${UPLOADS}u`;
  const stored = () => parts.reduce((n, p) => n + p.length, 0);
  const reply = (req: HttpRequest, status: number, headers: Record<string, string> = {}): HttpResponse => ({ status, headers, body: Readable.from([]), url: req.url });
  const bodyOf = (req: HttpRequest): Readable => (typeof req.body === 'function' ? req.body() : Buffer.isBuffer(req.body) ? Readable.from([req.body]) : (req.body as Readable));
  const transport: Transport = {
    async do(req) {
      requests.push(`${req.method} ${req.headers?.['content-range'] ?? ''}`.trim());
      if (req.method === 'POST') return reply(req, 202, { location, range: '0-0' });
      if (req.method === 'PATCH') {
        const answer = await onPatch?.(++patches, req);
        if (answer) return answer;
        for await (const c of bodyOf(req)) parts.push(Buffer.from(c as Buffer));
        // The reply references its request (and so the chunk), as undici's does.
        return Object.assign(reply(req, 202, { location, range: `0-${stored() - 1}` }), { request: req });
      }
      if (req.method === 'GET') return reply(req, 204, { location, range: `0-${Math.max(0, stored() - 1)}` });
      if (req.method === 'PUT') return reply(req, 201, { 'docker-content-digest': sha(Buffer.concat(parts)) });
      return reply(req, 204);
    },
  };
  const logs: string[] = [];
  const registry = (chunkSize: number) => new Registry('mem.example', 'mem.example', { transport, chunkSize, retry: NO_RETRY, log: (l) => logs.push(l), sleep: async () => {} });
  return { registry, requests, logs, stored: () => Buffer.concat(parts) };
}

describe('Range, progress and the number of resumes', () => {
  it('a PATCH at byte 0 answered 202 `Range: 0-0` took nothing (as GET reads `0-0`): no progress, the upload gives up', async () => {
    const zero = (): Step => ({ method: 'PATCH', url: `${UPLOADS}u?_state=0`, status: 202, headers: { location: `${UPLOADS}u?_state=0`, range: '0-0' } });
    const reg = await fake([post(`${UPLOADS}u?_state=0`), zero(), zero(), zero(), zero(), del(`${UPLOADS}u?_state=0`)]);
    const err = await rejection(client(reg, { chunkSize: 128 * KiB, retry: NO_RETRY }).repo.pushBlob({ digest: D, size: DATA.length }, DATA));
    reg.assertDone();
    expect(patches(reg).map((p) => p.range)).toEqual(['0-131071', '0-131071', '0-131071', '0-131071']);
    expect(err.message).toBe(`cannot upload blob ${D} to ${reg.host}/team/app: stopped at byte 0 of ${DATA.length} (202 with Range 0-0); the registry took none of the bytes sent`);
    expect(err.exitCode).toBe(7);
  });

  it('bytes a PATCH acknowledged and a later GET no longer reports are no progress when acknowledged again: no endless loop', async () => {
    const ack: Step = { method: 'PATCH', url: `${UPLOADS}u?_state=0`, status: 202, headers: { location: `${UPLOADS}u?_state=0`, range: '0-131071' } };
    const fail: Step = { method: 'PATCH', url: `${UPLOADS}u?_state=0`, status: 500, body: { errors: [{ code: 'UNKNOWN' }] } };
    const forgot: Step = { method: 'GET', url: `${UPLOADS}u?_state=0`, status: 204, headers: { location: `${UPLOADS}u?_state=0`, range: '0-0' } };
    const reg = await fake([post(`${UPLOADS}u?_state=0`), ack, fail, forgot, ack, fail, forgot, ack, del(`${UPLOADS}u?_state=0`)]);
    const err = await rejection(client(reg, { chunkSize: 128 * KiB, retry: NO_RETRY }).repo.pushBlob({ digest: D, size: DATA.length }, DATA));
    reg.assertDone();
    expect(err.message).toBe(`cannot upload blob ${D} to ${reg.host}/team/app: stopped at byte 0 of ${DATA.length} (202 with Range 0-131071); the registry acknowledged no byte beyond the 131072 it had acknowledged before`);
  });

  it('a GET that reports again bytes it had forgotten is no progress either', async () => {
    const ack: Step = { method: 'PATCH', url: `${UPLOADS}u?_state=0`, status: 202, headers: { location: `${UPLOADS}u?_state=0`, range: '0-131071' } };
    const fail: Step = { method: 'PATCH', url: `${UPLOADS}u?_state=0`, status: 500, body: { errors: [{ code: 'UNKNOWN' }] } };
    const at = (end: number): Step => ({ method: 'GET', url: `${UPLOADS}u?_state=0`, status: 204, headers: { location: `${UPLOADS}u?_state=0`, range: `0-${end}` } });
    const reg = await fake([post(`${UPLOADS}u?_state=0`), ack, fail, at(0), fail, at(131071), fail, at(0), fail, at(131071), del(`${UPLOADS}u?_state=0`)]);
    const err = await rejection(client(reg, { chunkSize: 128 * KiB, retry: NO_RETRY }).repo.pushBlob({ digest: D, size: DATA.length }, DATA));
    reg.assertDone();
    expect(err.message).toBe(`cannot upload blob ${D} to ${reg.host}/team/app: stopped at byte 0 of ${DATA.length} (500 UNKNOWN); 3 resumes brought no progress`);
  });

  it('however the registry answers, a blob meets at most its number of chunks plus 20 interruptions', async () => {
    // Every resume brings one byte more (progress, so the count of resumes without progress never ends it).
    const steps: Step[] = [post(`${UPLOADS}u?_state=0`)];
    const fail: Step = { method: 'PATCH', url: `${UPLOADS}u?_state=0`, status: 500, body: { errors: [{ code: 'UNKNOWN' }] } };
    for (let i = 1; i <= 22; i++) steps.push(fail, { method: 'GET', url: `${UPLOADS}u?_state=0`, status: 204, headers: { location: `${UPLOADS}u?_state=0`, range: `0-${i}` } });
    steps.push(fail, del(`${UPLOADS}u?_state=0`));
    const reg = await fake(steps);
    const err = await rejection(client(reg, { chunkSize: 128 * KiB, retry: NO_RETRY }).repo.pushBlob({ digest: D, size: DATA.length }, DATA));
    reg.assertDone();
    expect(err.message).toBe(`cannot upload blob ${D} to ${reg.host}/team/app: stopped at byte 23 of ${DATA.length} (500 UNKNOWN); interrupted 23 times, more than the 22 allowed for its size`);
    expect(err.kind).toBe('network');
  });

  it.each([
    [503, 'SERVICE UNAVAILABLE'],
    [416, 'BLOB_UPLOAD_INVALID'],
  ])('giving up after %i answers is a network failure (exit code 7)', async (status, code) => {
    const fail: Step = { method: 'PATCH', url: `${UPLOADS}u?_state=0`, status, body: { errors: [{ code }] } };
    const at0: Step = { method: 'GET', url: `${UPLOADS}u?_state=0`, status: 204, headers: { location: `${UPLOADS}u?_state=0`, range: '0-0' } };
    const reg = await fake([post(`${UPLOADS}u?_state=0`), fail, at0, fail, at0, fail, at0, fail, at0, del(`${UPLOADS}u?_state=0`)]);
    const err = await rejection(client(reg, { chunkSize: 128 * KiB, retry: NO_RETRY }).repo.pushBlob({ digest: D, size: DATA.length }, DATA));
    reg.assertDone();
    expect(err.message).toMatch(new RegExp(`stopped at byte 0 of ${DATA.length} \\(${status} ${code}\\); 3 resumes brought no progress$`));
    expect([err.kind, err.exitCode]).toEqual(['network', 7]);
    // Not a body limit: answers do not halve the chunk, only connection failures do.
    expect(new Set(patches(reg).map((p) => p.range))).toEqual(new Set(['0-131071']));
  });
});

describe('a chunk from a file whose request fails while its body is sent', () => {
  it('is resumed, not taken for a failure of the file (the request destroys the body with its own error)', async () => {
    // 2 MiB chunks of a file read 1 MiB at a time: the body is destroyed between two pieces.
    const big = pattern(5 * 1024 * KiB + 5);
    const mem = memoryRegistry(async (n, req) => {
      if (n !== 2) return undefined;
      // As undici does when the socket dies mid-body: the body stream is destroyed with the socket's error.
      const body = (req.body as () => Readable)();
      await body[Symbol.asyncIterator]().next();
      const closed = new Promise((r) => body.once('close', r));
      body.destroy(Object.assign(new Error('write ECONNRESET'), { code: 'ECONNRESET' }));
      await closed;
      throw Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    });
    const MiB = 1024 * KiB;
    const desc = await mem.registry(2 * MiB).repository('team/app').pushBlob({ digest: sha(big), size: big.length }, fileContent(writeTo('five', big)));
    expect(desc.digest).toBe(sha(big));
    expect(mem.stored().equals(big)).toBe(true);
    expect(mem.requests).toEqual([
      'POST', `PATCH 0-${2 * MiB - 1}`, `PATCH ${2 * MiB}-${4 * MiB - 1}`, 'GET',
      `PATCH ${2 * MiB}-${3 * MiB - 1}`, `PATCH ${3 * MiB}-${4 * MiB - 1}`, `PATCH ${4 * MiB}-${5 * MiB - 1}`, `PATCH ${5 * MiB}-${big.length - 1}`, 'PUT',
    ]);
    expect(mem.logs).toEqual([expect.stringMatching(new RegExp(`upload of blob sha256:\\w+ interrupted at byte ${2 * MiB} \\(.*other side closed.*\\); the registry has ${2 * MiB} bytes, resuming from there in chunks of 1 MiB$`))]);
  });
});

describe('memory: a chunk of a stream is held once', () => {
  /** A stream handing out 64 KiB pieces exactly when asked (no read-ahead); `before(i)` runs before piece i is made. */
  function pieces(count: number, before?: (i: number) => Promise<void>) {
    const made: Buffer[] = [];
    const refs: WeakRef<Buffer>[] = [];
    async function* gen() {
      // Outside the loop and cleared: a suspended generator keeps its variables.
      let b: Buffer | undefined;
      for (let i = 0; i < count; i++) {
        b = undefined;
        await before?.(i);
        b = Buffer.alloc(64 * KiB, i + 1);
        made.push(b);
        refs.push(new WeakRef(b));
        yield b;
      }
    }
    const stream = new (class extends Readable {
      override _read() {}
      override [Symbol.asyncIterator]() {
        return gen();
      }
    })();
    return { stream, made, refs };
  }

  it('the pieces read are sent as they are, never copied into one buffer', async () => {
    const src = pieces(5);
    const sent: Buffer[] = [];
    const mem = memoryRegistry(async (_n, req) => {
      expect(typeof req.body).toBe('function');
      const body = (req.body as () => Readable)();
      body.on('data', (c: Buffer) => sent.push(c));
      await new Promise((r) => body.on('end', r));
      return undefined;
    });
    // The hook read each body once; the fake stores what a second read gives.
    const desc = await mem.registry(128 * KiB).repository('team/app').pushBlobStream(src.stream);
    expect(desc.size).toBe(5 * 64 * KiB);
    expect(sent).toHaveLength(5);
    const own = new Set(src.made.map((b) => b.buffer));
    expect(sent.every((c) => own.has(c.buffer as ArrayBuffer))).toBe(true);
  });

  it('the chunk sent is let go before the next one is read', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    let src: ReturnType<typeof pieces> | undefined = undefined;
    let held: number | undefined;
    src = pieces(3, async (i) => {
      if (i !== 2) return;
      // The first chunk (pieces 0 and 1) went up; the reader now wants the second one.
      await new Promise((r) => setImmediate(r));
      src!.made.length = 0;
      gc();
      held = src!.refs.filter((r) => r.deref() !== undefined).length;
    });
    const mem = memoryRegistry();
    await mem.registry(128 * KiB).repository('team/app').pushBlobStream(src.stream);
    expect(mem.requests).toEqual(['POST', 'PATCH 0-131071', 'PATCH 131072-196607', 'PUT']);
    expect(held).toBe(0);
  });
});

describe('OCI-Chunk-Min-Length is capped', () => {
  it('a minimum above 1 GiB for a stream of unknown size fails clearly before reading it, and the session is deleted', async () => {
    const reg = await fake([post(`${UPLOADS}s?_state=0`, { 'oci-chunk-min-length': String(2 * 1024 * 1024 * KiB) }), del(`${UPLOADS}s?_state=0`)]);
    let read = false;
    const stream = Readable.from((async function* () {
      read = true;
      yield DATA;
    })());
    const err = await rejection(client(reg, { chunkSize: 64 * KiB }).repo.pushBlobStream(stream));
    reg.assertDone();
    expect(err.message).toBe(`cannot upload blob to ${reg.host}/team/app in chunks: the registry requires chunks of at least 2048 MiB (OCI-Chunk-Min-Length), above the 1 GiB that lading holds for a chunk; no --chunk-size can change the registry's minimum`);
    expect(err.kind).toBe('unsupported');
    expect(read).toBe(false);
  });

  it('a blob that fits in one chunk of at most 1 GiB goes in one chunk whatever the minimum', async () => {
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`, { 'oci-chunk-min-length': String(2 * 1024 * 1024 * KiB) }),
      patch(`${UPLOADS}u?_state=0`, `${UPLOADS}u?_state=1`, DATA.length - 1),
      put(`${UPLOADS}u?_state=1`),
    ]);
    await client(reg, { chunkSize: 64 * KiB }).repo.pushBlob({ digest: D, size: DATA.length }, DATA);
    reg.assertDone();
    expect(patches(reg).map((p) => [p.range, p.bytesMatch])).toEqual([[`0-${DATA.length - 1}`, true]]);
  });
});

describe('a body limit enforced by closing the connection', () => {
  const BIG = pattern(1536 * KiB);
  const BD = sha(BIG);
  const cut: Partial<Step> = { handle: (res) => res.socket?.destroy() };

  it('a monolithic PUT over 1 MiB that fails at the connection level goes again in chunks, in the same session when it is empty', async () => {
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`),
      { method: 'PUT', url: `${UPLOADS}u?_state=0&digest=${encodeURIComponent(BD)}`, ...cut } as Step,
      head(BD),
      { method: 'GET', url: `${UPLOADS}u?_state=0`, status: 204, headers: { location: `${UPLOADS}u?_state=g`, range: '0-0' } },
      patch(`${UPLOADS}u?_state=g`, `${UPLOADS}u?_state=1`, 1024 * KiB - 1),
      patch(`${UPLOADS}u?_state=1`, `${UPLOADS}u?_state=2`, BIG.length - 1),
      put(`${UPLOADS}u?_state=2`, BD),
    ]);
    const { repo, registry, logs } = client(reg, { retry: NO_RETRY });
    await repo.pushBlob({ digest: BD, size: BIG.length }, BIG);
    reg.assertDone();
    expect(patches(reg, BIG).map((p) => [p.range, p.bytesMatch])).toEqual([[`0-${1024 * KiB - 1}`, true], [`${1024 * KiB}-${BIG.length - 1}`, true]]);
    expect(logs.filter((l) => !l.includes('retrying'))).toEqual([expect.stringMatching(new RegExp(`^${reg.host}/team/app: sending ${BD} \\(1.5 MiB\\) in one request failed \\(.+\\); uploading it in chunks of 1 MiB$`))]);
    // One failed connection is not a lesson for the host: the next blob goes in one request again.
    expect(registry.uploads.learned).toBeUndefined();
  });

  it('… in a new session when the old one is unusable (the old one deleted)', async () => {
    const invalid = { status: 404, body: { errors: [{ code: 'BLOB_UPLOAD_INVALID' }] } };
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`),
      { method: 'PUT', url: `${UPLOADS}u?_state=0&digest=${encodeURIComponent(BD)}`, ...cut } as Step,
      head(BD),
      { method: 'GET', url: `${UPLOADS}u?_state=0`, ...invalid },
      del(`${UPLOADS}u?_state=0`, 404),
      post(`${UPLOADS}w?_state=0`),
      patch(`${UPLOADS}w?_state=0`, `${UPLOADS}w?_state=1`, 1024 * KiB - 1),
      patch(`${UPLOADS}w?_state=1`, `${UPLOADS}w?_state=2`, BIG.length - 1),
      put(`${UPLOADS}w?_state=2`, BD),
    ]);
    await client(reg, { retry: NO_RETRY }).repo.pushBlob({ digest: BD, size: BIG.length }, fileContent(writeTo('big', BIG)));
    reg.assertDone();
    expect(patches(reg, BIG).map((p) => p.bytesMatch)).toEqual([true, true]);
  });

  it('a blob of 1 MiB or less whose PUT fails at the connection level: never resent to the same session (the transport does not retry it); HEAD, then a new session, at most twice, then a network error (exit 7)', async () => {
    const attempt = (u: string): Step[] => [
      { method: 'PUT', url: `${UPLOADS}${u}?_state=0&digest=${ENC}`, ...cut } as Step,
      head(),
      del(`${UPLOADS}${u}?_state=0`),
    ];
    const reg = await fake([post(`${UPLOADS}a?_state=0`), ...attempt('a'), post(`${UPLOADS}b?_state=0`), ...attempt('b'), post(`${UPLOADS}c?_state=0`), ...attempt('c')]);
    // The transport's own retries are on (3): a session PUT is still never sent twice to one session.
    const { repo, logs } = client(reg);
    const err = await rejection(repo.pushBlob({ digest: D, size: DATA.length }, DATA));
    reg.assertDone();
    expect(err.kind).toBe('network');
    expect(err.exitCode).toBe(7);
    expect(err.message).toMatch(new RegExp(`^cannot upload blob ${D} to ${reg.host}/team/app: stopped at byte 0 of ${DATA.length} \\(.+\\); sending it in one request failed 3 times, each in a new upload session$`));
    expect(logs.filter((l) => !l.includes('retrying'))).toEqual([
      expect.stringMatching(new RegExp(`^${reg.host}/team/app: sending ${D} \\(200 KiB\\) in one request failed \\(.+\\); sending it again in a new upload session$`)),
      expect.stringMatching(/sending it again in a new upload session$/),
    ]);
    expect(logs.filter((l) => l.includes('retrying'))).toEqual([]);
  });

  it.each(SOURCES)('a small PUT from %s cut once: a new session and the PUT again, which lands', async (_name, source) => {
    const reg = await fake([
      post(`${UPLOADS}a?_state=0`),
      { method: 'PUT', url: `${UPLOADS}a?_state=0&digest=${ENC}`, ...cut } as Step,
      head(),
      del(`${UPLOADS}a?_state=0`, 404),
      post(`${UPLOADS}b?_state=0`),
      put(`${UPLOADS}b?_state=0`),
    ]);
    const desc = await client(reg).repo.pushBlob({ digest: D, size: DATA.length }, source());
    reg.assertDone();
    expect(desc).toEqual({ mediaType: 'application/octet-stream', digest: D, size: DATA.length });
    const puts = reg.seen.filter((q) => q.method === 'PUT');
    expect(puts[puts.length - 1]).toMatchObject({ digest: D, size: DATA.length });
  });

  it('a 503 on the monolithic PUT waits as a retry would, then HEAD and a new session (Distribution refuses a second PUT to the session)', async () => {
    const reg = await fake([
      post(`${UPLOADS}a?_state=0`),
      { method: 'PUT', url: `${UPLOADS}a?_state=0&digest=${ENC}`, status: 503, headers: { 'retry-after': '2' }, body: { errors: [{ code: 'UNAVAILABLE' }] } },
      head(),
      del(`${UPLOADS}a?_state=0`),
      post(`${UPLOADS}b?_state=0`),
      put(`${UPLOADS}b?_state=0`),
    ]);
    const { repo, sleeps } = client(reg);
    await repo.pushBlob({ digest: D, size: DATA.length }, DATA);
    reg.assertDone();
    expect(sleeps).toEqual([2000]);
  });

  it('a chunk cut with nothing reaching the registry is halved (not below 64 KiB) before a resume counts as a stall; the size is learned for the host', async () => {
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`),
      { method: 'PATCH', url: `${UPLOADS}u?_state=0`, ...cut } as Step,
      { method: 'GET', url: `${UPLOADS}u?_state=0`, status: 204, headers: { location: `${UPLOADS}u?_state=r`, range: '0-0' } },
      patch(`${UPLOADS}u?_state=r`, `${UPLOADS}u?_state=1`, 65535),
      patch(`${UPLOADS}u?_state=1`, `${UPLOADS}u?_state=2`, 131071),
      patch(`${UPLOADS}u?_state=2`, `${UPLOADS}u?_state=3`, 196607),
      patch(`${UPLOADS}u?_state=3`, `${UPLOADS}u?_state=4`, DATA.length - 1),
      put(`${UPLOADS}u?_state=4`),
    ]);
    const { repo, registry, logs } = client(reg, { chunkSize: 128 * KiB, retry: NO_RETRY });
    await repo.pushBlob({ digest: D, size: DATA.length }, DATA);
    reg.assertDone();
    expect(patches(reg).map((p) => [p.range, p.bytesMatch])).toEqual([
      ['0-131071', true], ['0-65535', true], ['65536-131071', true], ['131072-196607', true], [`196608-${DATA.length - 1}`, true],
    ]);
    expect(registry.uploads.learned).toBe(64 * KiB);
    expect(logs).toEqual([expect.stringMatching(/interrupted at byte 0 \(.+\); the registry has 0 bytes, resuming from there in chunks of 64 KiB$/)]);
  });
});

describe('stdin refused with 413: the advice', () => {
  it.each([
    ['of unknown size', undefined, '4MiB'],
    ['of declared size (--size)', DATA.length, '128KiB'],
  ])('for a stream %s is the same on every run', async (_name, size, advice) => {
    for (let run = 0; run < 2; run++) {
      const reg = await fake([
        post(`${UPLOADS}s?_state=0`),
        // Refused after part of the stream was read: more on one run, less on the other.
        { method: 'PATCH', url: `${UPLOADS}s?_state=0`, status: 413, body: 'Request Entity Too Large' },
        del(`${UPLOADS}s?_state=0`),
      ]);
      const parts = run === 0 ? [DATA] : [DATA.subarray(0, 70 * KiB), DATA.subarray(70 * KiB)];
      const err = await rejection(client(reg).repo.pushBlobStream(Readable.from(parts), size));
      reg.assertDone();
      expect(err.message).toMatch(new RegExp(`retry with --chunk-size set to ${advice} or less\\)$`));
    }
  });
});

describe('abandoned upload sessions are deleted, best effort', () => {
  it('a DELETE that fails never hides the error of the upload; --debug shows one line', async () => {
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`),
      { method: 'PATCH', url: `${UPLOADS}u?_state=0`, status: 413, body: 'too large' },
      { method: 'DELETE', url: `${UPLOADS}u?_state=0`, handle: (res) => res.socket?.destroy() },
    ]);
    const debug: string[] = [];
    const err = await rejection(client(reg, { chunkSize: MIN_CHUNK_SIZE, retry: NO_RETRY, debug: (l) => debug.push(l) }).repo.pushBlob({ digest: D, size: DATA.length }, DATA));
    reg.assertDone();
    expect(err.kind).toBe('too-large');
    expect(err.message).toMatch(/refused a chunk of 64 KiB \(413 Request Entity Too Large\)/);
    expect(debug.filter((l) => l.includes('abandoned upload session'))).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+\/team\/app: abandoned upload session not deleted \(.+\); ignored$/)]);
  });

  it('a session whose closing PUT failed is deleted at its latest Location; --debug names the answer', async () => {
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`),
      patch(`${UPLOADS}u?_state=0`, `${UPLOADS}u?_state=1`, DATA.length - 1),
      { method: 'PUT', url: `${UPLOADS}u?_state=1&digest=${ENC}`, status: 400, body: { errors: [{ code: 'DIGEST_INVALID' }] } },
      del(`${UPLOADS}u?_state=1`),
    ]);
    const debug: string[] = [];
    const err = await rejection(client(reg, { chunkSize: 256 * KiB, retry: NO_RETRY, debug: (l) => debug.push(l) }).repo.pushBlob({ digest: D, size: DATA.length }, DATA));
    reg.assertDone();
    expect(err.kind).toBe('digest-mismatch');
    expect(debug.filter((l) => l.includes('abandoned upload session'))).toEqual([`${reg.host}/team/app: abandoned upload session deleted (DELETE answered 204)`]);
  });

  it('a DELETE answered with an error is not called a deletion', async () => {
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`),
      { method: 'PATCH', url: `${UPLOADS}u?_state=0`, status: 413, body: 'too large' },
      { method: 'DELETE', url: `${UPLOADS}u?_state=0`, status: 405, body: { errors: [{ code: 'UNSUPPORTED' }] } },
    ]);
    const debug: string[] = [];
    const err = await rejection(client(reg, { chunkSize: MIN_CHUNK_SIZE, retry: NO_RETRY, debug: (l) => debug.push(l) }).repo.pushBlob({ digest: D, size: DATA.length }, DATA));
    reg.assertDone();
    expect(err.kind).toBe('too-large');
    expect(debug.filter((l) => l.includes('abandoned upload session'))).toEqual([`${reg.host}/team/app: abandoned upload session not deleted (DELETE answered 405); ignored`]);
  });

  it('a monolithic upload that succeeded is not deleted', async () => {
    const reg = await fake([post(`${UPLOADS}u?_state=0`), put(`${UPLOADS}u?_state=0`)]);
    await client(reg).repo.pushBlob({ digest: D, size: DATA.length }, DATA);
    reg.assertDone();
  });
});

describe('a lost reply to the PUT that commits an upload', () => {
  it('monolithic: the PUT stored the blob but its connection broke: HEAD finds it at its size: success, no second PUT, one --debug line', async () => {
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`),
      { method: 'PUT', url: `${UPLOADS}u?_state=0&digest=${ENC}`, handle: (res) => res.socket?.destroy() },
      head(D, DATA.length),
    ]);
    const debug: string[] = [];
    const { repo, logs } = client(reg, { debug: (l) => debug.push(l) });
    const desc = await repo.pushBlob({ digest: D, size: DATA.length }, DATA);
    reg.assertDone();
    expect(desc).toEqual({ mediaType: 'application/octet-stream', digest: D, size: DATA.length });
    expect(logs).toEqual([]);
    expect(debug.filter((l) => l.includes('but the registry has the blob'))).toEqual([
      expect.stringMatching(new RegExp(`^${reg.host}/team/app: the PUT of ${D} failed \\(.+\\), but the registry has the blob \\(${DATA.length} bytes\\): uploaded$`)),
    ]);
  });

  it('chunked: the closing PUT is cut after the registry committed; HEAD finds the blob: success', async () => {
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`),
      patch(`${UPLOADS}u?_state=0`, `${UPLOADS}u?_state=1`, DATA.length - 1),
      { method: 'PUT', url: `${UPLOADS}u?_state=1&digest=${ENC}`, handle: (res) => res.socket?.destroy() },
      head(D, DATA.length),
    ]);
    const desc = await client(reg, { chunkSize: 256 * KiB }).repo.pushBlob({ digest: D, size: DATA.length }, DATA);
    reg.assertDone();
    expect(desc.digest).toBe(D);
  });

  it('chunked: a closing PUT answered 404 BLOB_UPLOAD_UNKNOWN (an earlier reply lost) with the blob there: success', async () => {
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`),
      patch(`${UPLOADS}u?_state=0`, `${UPLOADS}u?_state=1`, DATA.length - 1),
      { method: 'PUT', url: `${UPLOADS}u?_state=1&digest=${ENC}`, status: 404, body: { errors: [{ code: 'BLOB_UPLOAD_UNKNOWN' }] } },
      head(D, DATA.length),
    ]);
    const desc = await client(reg, { chunkSize: 256 * KiB }).repo.pushBlob({ digest: D, size: DATA.length }, DATA);
    reg.assertDone();
    expect(desc.digest).toBe(D);
  });

  it('chunked: a closing PUT answered 404 with the blob absent (or of another size) fails as not found (exit 4); the session is deleted', async () => {
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`),
      patch(`${UPLOADS}u?_state=0`, `${UPLOADS}u?_state=1`, DATA.length - 1),
      { method: 'PUT', url: `${UPLOADS}u?_state=1&digest=${ENC}`, status: 404, body: { errors: [{ code: 'BLOB_UPLOAD_UNKNOWN' }] } },
      head(D, DATA.length - 1),
      del(`${UPLOADS}u?_state=1`, 404),
    ]);
    const err = await rejection(client(reg, { chunkSize: 256 * KiB }).repo.pushBlob({ digest: D, size: DATA.length }, DATA));
    reg.assertDone();
    expect(err.exitCode).toBe(4);
    expect(err.message).toMatch(/the PUT closing the upload found the session gone, and the registry does not have the blob$/);
  });

  it('stdin in one streamed PATCH: the closing PUT cut after the commit, HEAD finds the blob: success', async () => {
    const reg = await fake([
      post(`${UPLOADS}s?_state=0`),
      { method: 'PATCH', url: `${UPLOADS}s?_state=0`, status: 202, headers: { location: `${UPLOADS}s?_state=1`, range: `0-${DATA.length - 1}` } },
      { method: 'PUT', url: `${UPLOADS}s?_state=1&digest=${ENC}`, handle: (res) => res.socket?.destroy() },
      head(D, DATA.length),
    ]);
    const desc = await client(reg).repo.pushBlobStream(Readable.from([DATA]));
    reg.assertDone();
    expect(desc).toMatchObject({ digest: D, size: DATA.length });
  });
});

describe('stdin in chunks: the registry forgets bytes of a chunk already let go', () => {
  it('a network error (exit 7) saying the registry lost bytes lading cannot resend, not an internal error', async () => {
    const mem = memoryRegistry(async (n, req) => {
      // The third chunk's connection fails; GET then reports only the first chunk (64 KiB), before the chunk held.
      if (n === 3) throw Object.assign(new Error('socket closed'), { code: 'UND_ERR_SOCKET' });
      return undefined;
    });
    const registry = mem.registry(64 * KiB);
    const forget = registry.options.transport!;
    const transport: Transport = {
      async do(req) {
        if (req.method === 'GET') return { status: 204, headers: { location: `${UPLOADS}u`, range: `0-${64 * KiB - 1}` }, body: Readable.from([]), url: req.url };
        return forget.do(req);
      },
    };
    const reg2 = new Registry('mem.example', 'mem.example', { transport, chunkSize: 64 * KiB, retry: NO_RETRY, sleep: async () => {} });
    const err = await rejection(reg2.repository('team/app').pushBlobStream(Readable.from([DATA])));
    expect(err.kind).toBe('network');
    expect(err.exitCode).toBe(7);
    expect(err.message).toMatch(/the registry lost bytes it had taken \(it now has 65536\), and bytes before 131072 came from content that can be read only once \(a stream\): lading can no longer resend them$/);
  });
});
