/**
 * Downloads resume with Range after a dropped connection (issue 6): the scripted fake cuts blob bodies
 * mid-way (writes part of the body, then destroys the socket) and answers the follow-up Range requests.
 */
import { createHash } from 'node:crypto';
import type http from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { Agent } from 'undici';
import { Readable } from 'node:stream';
import { resumableBody } from '../../../src/registry/resume.js';
import type { HttpResponse } from '../../../src/registry/http/types.js';
import { readAll, rejection, useFakes } from './harness.js';

const { fake, client } = useFakes();

const SIZE = 256 * 1024;
const DATA = Buffer.from(Array.from({ length: SIZE }, (_, i) => (i * 7 + (i >> 9)) & 0xff));
const D = `sha256:${createHash('sha256').update(DATA).digest('hex')}`;
const BLOB = `/v2/team/app/blobs/${D}`;
const ETAG = `"${D}"`;

/** Body bytes the fakes wrote, all requests together. */
let served = 0;

/** A 200 with the whole blob's headers that writes bytes [0, cut) and then drops the connection. */
function cutAt(cut: number, headers: Record<string, string> = { etag: ETAG }) {
  return (res: http.ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(SIZE), ...headers });
    drop(res, DATA.subarray(0, cut));
  };
}

/** A 206 for `bytes=from-` that writes [from, cut) and drops the connection, or the whole rest when `cut` is undefined. */
function partial(from: number, cut?: number, range = `bytes ${from}-${SIZE - 1}/${SIZE}`, body = DATA) {
  return (res: http.ServerResponse, seen: { headers: http.IncomingHttpHeaders }) => {
    if (seen.headers.range !== `bytes=${from}-`) {
      res.writeHead(599, { 'content-type': 'text/plain' }).end(`expected Range bytes=${from}-, got ${seen.headers.range}`);
      return;
    }
    res.writeHead(206, { 'content-type': 'application/octet-stream', 'content-length': String(SIZE - from), 'content-range': range });
    if (cut === undefined) {
      served += SIZE - from;
      res.end(body.subarray(from));
    } else {
      drop(res, body.subarray(from, cut));
    }
  };
}

function drop(res: http.ServerResponse, bytes: Buffer): void {
  served += bytes.length;
  const destroy = () => setTimeout(() => res.socket?.destroy(), 20);
  if (bytes.length === 0) {
    res.flushHeaders();
    destroy();
  } else {
    res.write(bytes, destroy);
  }
}

const get = (handle: (res: http.ServerResponse, seen: { headers: http.IncomingHttpHeaders }) => void) => ({ method: 'GET', url: BLOB, handle });

describe('a blob download resumes with Range after a dropped connection', () => {
  it('a body cut once is resumed from the byte where it broke; the whole digest is verified', async () => {
    served = 0;
    const reg = await fake([get(cutAt(100_000)), get(partial(100_000))]);
    const { repo, logs, sleeps } = client(reg);
    const blob = await repo.fetchBlob(D);
    expect(blob.descriptor.size).toBe(SIZE);
    expect((await readAll(blob.stream)).equals(DATA)).toBe(true);
    reg.assertDone();
    expect(reg.seen[0].headers.range).toBeUndefined();
    expect(reg.seen[1].headers.range).toBe('bytes=100000-');
    expect(reg.seen[1].headers['if-range']).toBe(ETAG);
    expect(served).toBe(SIZE); // nothing was fetched twice
    expect(logs).toEqual([`GET ${reg.origin}${BLOB}: connection lost after 100000 of ${SIZE} bytes; resuming`]);
    expect(sleeps).toHaveLength(1);
  });

  it('several cuts, each after some progress, are all resumed with the first backoff delay', async () => {
    served = 0;
    const reg = await fake([get(cutAt(50_000)), get(partial(50_000, 120_000)), get(partial(120_000, 200_000)), get(partial(200_000))]);
    const { repo, logs, sleeps } = client(reg, { retry: { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 60_000 } });
    const blob = await repo.fetchBlob(D, SIZE);
    expect((await readAll(blob.stream)).equals(DATA)).toBe(true);
    reg.assertDone();
    expect(reg.seen.map((s) => s.headers.range)).toEqual([undefined, 'bytes=50000-', 'bytes=120000-', 'bytes=200000-']);
    expect(served).toBe(SIZE);
    expect(logs.map((l) => l.replace(/.*after (\d+) of.*/, '$1'))).toEqual(['50000', '120000', '200000']);
    // Progress resets the count: every wait is the first attempt's (50–100 ms with equal jitter).
    expect(sleeps).toHaveLength(3);
    for (const ms of sleeps) expect(ms >= 50 && ms <= 100).toBe(true);
  });

  it('a 200 reply to the Range request (Range ignored) is used from byte K on', async () => {
    const full = (res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) });
      res.end(DATA);
    };
    const reg = await fake([get(cutAt(70_000)), get(full)]);
    const blob = await client(reg).repo.fetchBlob(D);
    expect((await readAll(blob.stream)).equals(DATA)).toBe(true);
    reg.assertDone();
    expect(reg.seen[1].headers.range).toBe('bytes=70000-');
  });

  it('416 to the Range request fails clearly, naming the blob, the offset and the request', async () => {
    const reg = await fake([
      get(cutAt(70_000)),
      { method: 'GET', url: BLOB, status: 416, headers: { 'content-range': `bytes */${SIZE}` }, body: '' },
    ]);
    const blob = await client(reg).repo.fetchBlob(D);
    const err = await rejection(readAll(blob.stream));
    reg.assertDone();
    expect(err.kind).toBe('registry');
    expect(err.message).toBe(`blob ${D}: cannot resume after 70000 of ${SIZE} bytes: GET ${reg.origin}${BLOB}: 416 Range Not Satisfiable`);
  });

  it('a 206 with another Content-Range than asked for fails clearly', async () => {
    const reg = await fake([get(cutAt(70_000)), get(partial(70_000, undefined, `bytes 0-${SIZE - 1}/${SIZE}`))]);
    const blob = await client(reg).repo.fetchBlob(D);
    const err = await rejection(readAll(blob.stream));
    reg.assertDone();
    expect(err.kind).toBe('registry');
    expect(err.message).toBe(
      `blob ${D}: GET ${reg.origin}${BLOB} (Range: bytes=70000-): the registry answered 206 with Content-Range "bytes 0-${SIZE - 1}/${SIZE}", expected "bytes 70000-${SIZE - 1}/${SIZE}"`,
    );
  });

  it('resumed bytes that differ from the blob fail the whole digest (digest-mismatch, exit 5)', async () => {
    const wrong = Buffer.from(DATA);
    wrong[SIZE - 1] ^= 0xff;
    const reg = await fake([get(cutAt(70_000)), get(partial(70_000, undefined, undefined, wrong))]);
    const blob = await client(reg).repo.fetchBlob(D);
    const err = await rejection(readAll(blob.stream));
    reg.assertDone();
    expect(err.kind).toBe('digest-mismatch');
    expect(err.exitCode).toBe(5);
    expect(err.message).toBe(`blob ${D}: digest mismatch: expected ${D}, got sha256:${createHash('sha256').update(wrong).digest('hex')}`);
  });

  it('gives up after 5 resumes in a row without progress, with growing waits; the error names the blob and the request', async () => {
    const nothing = Array.from({ length: 5 }, () => get(partial(1000, 1000)));
    const reg = await fake([get(cutAt(1000)), ...nothing]);
    const { repo, logs, sleeps } = client(reg, { retry: { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 60_000 } });
    const blob = await repo.fetchBlob(D);
    const err = await rejection(readAll(blob.stream));
    reg.assertDone();
    expect(reg.seen).toHaveLength(6);
    expect(err.kind).toBe('network');
    expect(err.exitCode).toBe(7);
    expect(err.message).toBe(`blob ${D}: GET ${reg.origin}${BLOB}: connection lost after 1000 of ${SIZE} bytes, gave up after 5 resumes without progress (last error: other side closed)`);
    expect(logs).toHaveLength(5);
    // Equal-jitter exponential backoff from the policy: attempt n waits between 2^(n-1)·50 and 2^(n-1)·100 ms.
    expect(sleeps).toHaveLength(5);
    sleeps.forEach((ms, i) => expect(ms >= 50 * 2 ** i && ms <= 100 * 2 ** i).toBe(true));
  });

  it('progress resets the count: 4 empty resumes, progress, 4 empty resumes, then the rest', async () => {
    const empty = (from: number) => Array.from({ length: 4 }, () => get(partial(from, from)));
    const reg = await fake([get(cutAt(1000)), ...empty(1000), get(partial(1000, 2000)), ...empty(2000), get(partial(2000))]);
    const { repo, logs } = client(reg);
    const blob = await repo.fetchBlob(D);
    expect((await readAll(blob.stream)).equals(DATA)).toBe(true);
    reg.assertDone();
    expect(logs).toHaveLength(10);
  });

  it('no resume when the size is unknown (no Content-Length, no size given, HEAD without one)', async () => {
    const chunked = (res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      drop(res, DATA.subarray(0, 70_000));
    };
    const reg = await fake([get(chunked), { method: 'HEAD', url: BLOB, status: 404, body: '' }]);
    const { repo, logs } = client(reg);
    const blob = await repo.fetchBlob(D);
    expect(blob.descriptor.size).toBe(-1);
    const err = await rejection(readAll(blob.stream));
    reg.assertDone();
    expect(err.kind).toBe('network');
    expect(err.message).toBe(`GET ${reg.origin}${BLOB}: other side closed`);
    expect(logs).toEqual([]);
  });

  it('a stalled body (undici body timeout) is resumed too', async () => {
    const stall = (res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) });
      res.write(DATA.subarray(0, 30_000)); // …and nothing more
    };
    const reg = await fake([get(stall), get(partial(30_000))]);
    const dispatcher = new Agent({ bodyTimeout: 300 });
    try {
      const { repo, logs } = client(reg, { dispatcher });
      const blob = await repo.fetchBlob(D);
      expect((await readAll(blob.stream)).equals(DATA)).toBe(true);
      reg.assertDone();
      expect(logs).toEqual([`GET ${reg.origin}${BLOB}: connection lost after 30000 of ${SIZE} bytes; resuming`]);
    } finally {
      await reg.close();
      await dispatcher.close();
    }
  });

  it('B15: the resumed request is redirected again: Range kept, Authorization dropped at the storage host, signature redacted in the log', async () => {
    const PRESIGNED = '/blobs/abc?X-Amz-Signature=secret123&X-Amz-Expires=300';
    const storage = await fake([
      { method: 'GET', url: PRESIGNED, handle: cutAt(90_000) },
      { method: 'GET', url: PRESIGNED, handle: partial(90_000) },
    ]);
    const reg = await fake([
      { method: 'GET', url: BLOB, status: 401, headers: (o) => ({ 'www-authenticate': `Bearer realm="${o}/token",service="registry.example"` }) },
      { method: 'GET', path: '/token', status: 200, body: { token: 'jwt-1' } },
      { method: 'GET', url: BLOB, status: 307, headers: { location: `${storage.origin}${PRESIGNED}` } },
      { method: 'GET', url: BLOB, status: 307, headers: { location: `${storage.origin}${PRESIGNED}` } },
    ]);
    const { repo, logs } = client(reg);
    const blob = await repo.fetchBlob(D);
    expect((await readAll(blob.stream)).equals(DATA)).toBe(true);
    reg.assertDone();
    storage.assertDone();
    // The resumed request goes to the registry again (a presigned URL may have expired), with its token and Range …
    expect([reg.seen[3].headers.authorization, reg.seen[3].headers.range, reg.seen[3].headers['if-range']]).toEqual(['Bearer jwt-1', 'bytes=90000-', ETAG]);
    // … and the storage host gets the Range without the registry's Authorization.
    expect([storage.seen[1].headers.authorization, storage.seen[1].headers.range]).toEqual([undefined, 'bytes=90000-']);
    expect(logs).toEqual([`GET ${storage.origin}/blobs/abc?X-Amz-Signature=REDACTED&X-Amz-Expires=REDACTED: connection lost after 90000 of ${SIZE} bytes; resuming`]);
  });
});

describe('resumableBody: a bound on resumes in all', () => {
  /** A body that gives `bytes` and then fails like a dropped connection. */
  const trickle = (from: number, bytes: number) =>
    Readable.from(
      (async function* () {
        yield DATA.subarray(from, from + bytes);
        throw Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
      })(),
    );
  const reply = (status: number, body: Readable, headers: Record<string, string> = {}): HttpResponse => ({ status, headers, body, url: `http://r.example${BLOB}` });

  it('a server that gives a byte and drops the connection every time is given up after maxResumes, with progress or not', async () => {
    let offset = 1;
    const requests: string[] = [];
    const body = resumableBody(reply(200, trickle(0, 1), { 'content-length': String(SIZE) }), {
      what: `blob ${D}`,
      size: SIZE,
      maxResumes: 3,
      sleep: async () => undefined,
      request: async (headers) => {
        requests.push(headers.range);
        const res = reply(206, trickle(offset, 1), { 'content-range': `bytes ${offset}-${SIZE - 1}/${SIZE}` });
        offset += 1;
        return res;
      },
    });
    const err = await rejection(readAll(body));
    expect(requests).toEqual(['bytes=1-', 'bytes=2-', 'bytes=3-']);
    expect(err.kind).toBe('network');
    expect(err.message).toBe(`blob ${D}: GET http://r.example${BLOB}: connection lost after 4 of ${SIZE} bytes, gave up after 3 resumes in all (last error: other side closed)`);
  });
});

describe('a body that ends cleanly but short', () => {
  it('is resumed like a dropped connection when the size is known (chunked 200 that stops early, then a 206)', async () => {
    served = 0;
    const short = (res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked: no Content-Length to break
      served += 100_000;
      res.end(DATA.subarray(0, 100_000));
    };
    const reg = await fake([get(short), get(partial(100_000))]);
    const { repo, logs } = client(reg);
    const blob = await repo.fetchBlob(D, SIZE);
    expect((await readAll(blob.stream)).equals(DATA)).toBe(true);
    reg.assertDone();
    expect(served).toBe(SIZE);
    expect(logs).toEqual([`GET ${reg.origin}${BLOB}: connection lost after 100000 of ${SIZE} bytes; resuming`]);
  });

  it('a short 206 is resumed again from where it stopped', async () => {
    const short206 = (res: http.ServerResponse, seen: { headers: http.IncomingHttpHeaders }) => {
      expect(seen.headers.range).toBe('bytes=1000-');
      res.writeHead(206, { 'content-type': 'application/octet-stream', 'content-range': `bytes 1000-${SIZE - 1}/${SIZE}` });
      res.end(DATA.subarray(1000, 5000));
    };
    const reg = await fake([get(cutAt(1000)), get(short206), get(partial(5000))]);
    const { repo } = client(reg);
    const blob = await repo.fetchBlob(D);
    expect((await readAll(blob.stream)).equals(DATA)).toBe(true);
    reg.assertDone();
  });
});

describe('resumableBody as a stream', () => {
  const reply = (status: number, body: Readable, headers: Record<string, string> = {}): HttpResponse => ({ status, headers, body, url: `http://r.example${BLOB}` });
  const tick = () => new Promise<void>((r) => setTimeout(r, 20));
  /** `first` (a 200 for the whole blob) as a resumable body whose resumes get a 206 with the rest from the Range asked. */
  function resumedWith206(first: Readable): { body: Readable; requests: string[] } {
    const requests: string[] = [];
    const body = resumableBody(reply(200, first, { 'content-length': String(SIZE) }), {
      what: `blob ${D}`,
      size: SIZE,
      sleep: async () => undefined,
      request: async (headers) => {
        requests.push(headers.range);
        const from = Number(/^bytes=(\d+)-$/.exec(headers.range)![1]);
        return reply(206, Readable.from([DATA.subarray(from)]), { 'content-range': `bytes ${from}-${SIZE - 1}/${SIZE}` });
      },
    });
    return { body, requests };
  }

  it('reads nothing before its consumer asks: a body that fails at once raises no error nobody listens for', async () => {
    let pulled = false;
    const failing = new Readable({
      read() {
        pulled = true;
        this.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
      },
    });
    // Size unknown: nothing to resume, the failure is the stream's. Without a consumer for a while, nothing happens.
    const body = resumableBody(reply(200, failing), { what: `blob ${D}`, size: undefined, request: async () => { throw new Error('not asked'); } });
    await tick();
    expect(pulled).toBe(false);
    const err = await rejection(readAll(body));
    expect(err.kind).toBe('network');
    expect(err.message).toContain(`GET http://r.example${BLOB}: socket hang up`);
  });

  it('destroyed by its consumer while waiting to resume: the resumed reply is discarded, nothing more is read', async () => {
    let resumedBody: Readable | undefined;
    let release!: () => void;
    const slept = new Promise<void>((r) => (release = r));
    const first = Readable.from(
      (async function* () {
        yield DATA.subarray(0, 1000);
        throw Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
      })(),
    );
    const body = resumableBody(reply(200, first, { 'content-length': String(SIZE) }), {
      what: `blob ${D}`,
      size: SIZE,
      sleep: () => slept,
      request: async () => {
        resumedBody = Readable.from([DATA.subarray(1000)]);
        return reply(206, resumedBody, { 'content-range': `bytes 1000-${SIZE - 1}/${SIZE}` });
      },
    });
    body.on('data', () => body.destroy());
    await tick();
    expect(body.destroyed).toBe(true);
    release();
    await tick();
    // The wait ended after the consumer left: no new request at all.
    expect(resumedBody).toBeUndefined();
  });

  it.each([
    ['with an error', Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })],
    ['without an error', undefined],
  ])('a body that broke (%s) before its consumer first read is resumed from byte 0, not left waiting for ever', async (_how, error) => {
    // undici destroys a reply's body when the connection drops, whether anyone reads it yet or not (a download whose
    // output file was still being opened): its 'error' and 'close' came before anybody listened (new-user trial:
    // the process then exited 13 with nothing said and a .partial left behind).
    const first = new Readable({ read() {} });
    first.on('error', () => {});
    first.push(DATA.subarray(0, 1000));
    first.destroy(error);
    await tick();
    const { body, requests } = resumedWith206(first);
    expect((await readAll(body)).equals(DATA)).toBe(true);
    expect(requests).toEqual(['bytes=0-']);
  });

  it('a body destroyed without an error (premature close) is resumed like a dropped connection', async () => {
    let sent = false;
    const first = new Readable({
      read() {
        if (sent) return;
        sent = true;
        this.push(DATA.subarray(0, 4096));
        setImmediate(() => this.destroy());
      },
    });
    const { body, requests } = resumedWith206(first);
    expect((await readAll(body)).equals(DATA)).toBe(true);
    expect(requests).toEqual(['bytes=4096-']);
  });
});
