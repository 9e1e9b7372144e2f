import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from '@jest/globals';
import { parseInputs, toCliArgs } from '../../../src/action/inputs.js';
import { inActionTerms } from '../../../src/action/main.js';
import { fileContent, isSeekable, MIN_CHUNK_SIZE, parseChunkSize, seekable, UploadPolicy } from '../../../src/registry/upload.js';
import type { BlobSource } from '../../../src/registry/repository.js';
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

/** The same 200 KiB as each kind of upload source. */
const SOURCES: [string, () => BlobSource][] = [
  ['bytes', () => DATA],
  ['a file (seekable)', () => fileContent(FILE)],
  ['a factory from byte 0 (not seekable)', () => () => Readable.from([DATA.subarray(0, 70 * KiB), DATA.subarray(70 * KiB)])],
];

const post = (location: string, extra: Record<string, string> = {}): Step => ({ method: 'POST', url: UPLOADS, status: 202, headers: { location, range: '0-0', ...extra } });
const patch = (url: string, next: string, end: number, status = 202): Step => ({ method: 'PATCH', url, status, headers: { location: next, range: `0-${end}` } });
const put = (url: string, digest = D): Step => ({ method: 'PUT', url: `${url}&digest=${encodeURIComponent(digest)}`, status: 201, headers: { 'docker-content-digest': digest } });

/** What each PATCH carried: Content-Range, Content-Length, Content-Type, and whether the bytes are the blob's at that range. */
function patches(reg: { seen: { method: string; headers: Record<string, unknown>; digest: string; size: number }[] }, data = DATA) {
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

  it('a session that is gone (404 BLOB_UPLOAD_INVALID) starts again from byte 0 in a new session, with one log line', async () => {
    const invalid = { status: 404, body: { errors: [{ code: 'BLOB_UPLOAD_INVALID', message: 'blob upload invalid' }] } };
    const reg = await fake([
      post(`${UPLOADS}u?_state=0`),
      patch(`${UPLOADS}u?_state=0`, `${UPLOADS}u?_state=1`, 131071),
      { method: 'PATCH', url: `${UPLOADS}u?_state=1`, ...invalid },
      { method: 'GET', url: `${UPLOADS}u?_state=1`, ...invalid },
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
    ]);
    const err = await rejection(client(reg, { chunkSize: 128 * KiB, retry: NO_RETRY }).repo.pushBlob({ digest: D, size: DATA.length }, Readable.from([DATA])));
    reg.assertDone();
    expect(err.message).toMatch(/stopped at byte 131072 of 204800 \(404 BLOB_UPLOAD_INVALID\); the upload session is lost \(GET on the session: 404 BLOB_UPLOAD_INVALID\) and the content was a stream that cannot be read again$/);
  });

  it('chunks that keep failing without progress give up after three resumes', async () => {
    const fail: Step = { method: 'PATCH', url: `${UPLOADS}u?_state=0`, handle: (res) => res.socket?.destroy() };
    const at0: Step = { method: 'GET', url: `${UPLOADS}u?_state=0`, status: 204, headers: { location: `${UPLOADS}u?_state=0`, range: '0-0' } };
    const reg = await fake([post(`${UPLOADS}u?_state=0`), fail, at0, fail, at0, fail, at0, fail, at0]);
    const err = await rejection(client(reg, { chunkSize: 128 * KiB, retry: NO_RETRY }).repo.pushBlob({ digest: D, size: DATA.length }, DATA));
    reg.assertDone();
    expect(err.kind).toBe('network');
    expect(err.message).toMatch(new RegExp(`^cannot upload blob ${D} to ${reg.host}/team/app: stopped at byte 0 of ${DATA.length} \\(.+\\); 3 resumes brought no progress$`));
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
    const reg = await fake([post(`${UPLOADS}s?_state=0`), patch(`${UPLOADS}s?_state=0`, `${UPLOADS}s?_state=1`, 131071)]);
    const err = await rejection(client(reg, { chunkSize: 128 * KiB }).repo.pushBlobStream(Readable.from([DATA.subarray(0, 128 * KiB), DATA.subarray(128 * KiB)]), DATA.length - 1));
    reg.assertDone();
    expect(err.kind).toBe('digest-mismatch');
    expect(err.message).toBe(`blob size mismatch: --size says ${DATA.length - 1} bytes, read more than ${DATA.length - 1}`);
  });
});

describe('stdin sent in one streamed PATCH', () => {
  it('a 413 cannot be answered by sending the stream again: a clear failure naming the chunk size, learned for the host', async () => {
    const reg = await fake([post(`${UPLOADS}s?_state=0`), { method: 'PATCH', url: `${UPLOADS}s?_state=0`, status: 413, body: 'Request Entity Too Large' }]);
    const { repo, registry } = client(reg);
    const err = await rejection(repo.pushBlobStream(Readable.from([DATA])));
    reg.assertDone();
    expect(err.message).toMatch(/413.*\(the registry refuses bodies this large; retry with --chunk-size set to 128KiB or less\)$/);
    expect(registry.uploads.chunkFor(undefined)).toBe(128 * KiB);
    expect(inActionTerms(err.message)).toMatch(/retry with the chunk-size input set to 128KiB or less\)$/);
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
