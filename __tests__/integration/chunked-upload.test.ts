/**
 * Chunked uploads against the real registry (Distribution 2.8), directly and behind the fault proxy: PATCH chunks
 * with Content-Range, read back by skopeo; a proxy refusing large bodies (413); a PATCH cut on its way (resumed from
 * the offset the registry reports, or a new session when Distribution invalidated the old one); chunks that are
 * always cut (a clear failure, no tag); and a token that expires mid-upload, renewed without losing the session.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { lading, type CliResult } from '../helpers/cli.js';
import { startFaultProxy, type FaultProxy, type FaultRule, type ProxiedRequest } from '../helpers/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { skopeoCopyToDir } from '../helpers/skopeo.js';
import { removeDir, tmpDir } from '../helpers/tmp.js';

const P = '--plain-http';
const MiB = 1024 * 1024;
const ENV = { PATH: process.env.PATH, DOCKER_CONFIG: '/nonexistent-lading-test-docker-config' };
const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** 5 MiB and a bit: six 1 MiB chunks, the last one short. */
const DATA = randomBytes(5 * MiB + 123);
const DIGEST = sha256(DATA);

let reg: RunningRegistry;
let work: string;
let file: string;
const proxies: FaultProxy[] = [];

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`lading ${r.args.join(' ')}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}
async function proxyTo(registry: RunningRegistry, rules: FaultRule[] = []): Promise<FaultProxy> {
  const p = await startFaultProxy(registry.url, rules);
  proxies.push(p);
  return p;
}
/** The blob as the registry itself serves it (not through a proxy), checked against DATA. */
async function expectBlobOn(registry: RunningRegistry, repo: string): Promise<void> {
  const out = join(work, `fetched-${randomBytes(4).toString('hex')}`);
  const args = ['blob', 'fetch', P, `${registry.host}/${repo}@${DIGEST}`, '-o', out];
  if (registry.username) args.push('-u', registry.username, '-p', registry.password!);
  ok(await lading(args, { env: ENV }));
  expect(sha256(readFileSync(out))).toBe(DIGEST);
}
const isPatch = (r: ProxiedRequest) => r.method === 'PATCH';
const isPost = (r: ProxiedRequest) => r.method === 'POST' && /\/blobs\/uploads\/$/.test(r.url);
/** The upload session (uuid) a request under /blobs/uploads/<uuid> belongs to. */
const sessionOf = (r: ProxiedRequest) => /\/blobs\/uploads\/([^?]+)/.exec(r.url)?.[1];

beforeAll(async () => {
  reg = await startRegistry({ accessLog: true });
  work = tmpDir('lading-chunked-');
  file = join(work, 'data.bin');
  writeFileSync(file, DATA);
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await reg?.stop();
  removeDir(work);
});

describe('chunked push to Distribution 2.8', () => {
  it('push --chunk-size 1MiB: six PATCHes in one session, read back byte for byte by skopeo', async () => {
    const src = join(work, 'art');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'data.bin'), DATA);
    writeFileSync(join(src, 'config.json'), '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const before = process.cwd();
    process.chdir(src);
    try {
      ok(await lading(['push', P, '--chunk-size', '1MiB', '--config', 'config.json:application/vnd.oci.image.config.v1+json', `${reg.host}/chunked/skopeo:v1`, 'data.bin:application/vnd.oci.image.layer.v1.tar'], { env: ENV }));
    } finally {
      process.chdir(before);
    }
    const log = reg.readLog().split('\n').filter((l) => l.includes('/v2/chunked/skopeo/blobs/uploads/'));
    const patches = log.filter((l) => /"PATCH /.test(l));
    // The data blob in 6 chunks of at most 1 MiB, the config in one; every PATCH answered 202.
    expect(patches).toHaveLength(7);
    expect(patches.every((l) => /" 202 /.test(l))).toBe(true);
    const out = join(work, 'skopeo-dir');
    await skopeoCopyToDir(reg, 'chunked/skopeo:v1', out);
    expect(readdirSync(out)).toContain(DIGEST.slice(7));
    expect(sha256(readFileSync(join(out, DIGEST.slice(7))))).toBe(DIGEST);
  });

  it('a proxy that refuses bodies over 1 MiB (413): the push goes on in chunks, halved until they pass', async () => {
    const proxy = await proxyTo(reg, [{ path: /\/blobs\/uploads\//, times: Infinity, fault: { kind: 'max-body', bytes: MiB } }]);
    const r = ok(await lading(['blob', 'push', P, `${proxy.host}/chunked/toolarge`, file], { env: ENV }));
    expect(r.stderr).toContain(`${proxy.host}/chunked/toolarge: a body of ${5 * MiB + 123} bytes was refused (413 Request Entity Too Large); uploading ${DIGEST} in chunks of 4 MiB`);
    expect(r.stderr).toContain('a chunk of 4 MiB was refused (413 Request Entity Too Large); trying chunks of 2 MiB');
    expect(r.stderr).toContain('a chunk of 2 MiB was refused (413 Request Entity Too Large); trying chunks of 1 MiB');
    const uploads = proxy.requests.filter((q) => /\/blobs\/uploads\//.test(q.url));
    expect(uploads.map((q) => `${q.method} ${q.status}`)).toEqual([
      'POST 202', 'PUT 413', 'PATCH 413', 'PATCH 413', 'PATCH 202', 'PATCH 202', 'PATCH 202', 'PATCH 202', 'PATCH 202', 'PATCH 202', 'PUT 201',
    ]);
    await expectBlobOn(reg, 'chunked/toolarge');
  });
});

describe('a proxy that answers 413 and closes the connection without reading the body (as nginx does)', () => {
  it('eight pushes in a row all land, whether lading sees the 413 or only the broken connection', async () => {
    // Whether the client reads the 413 or first fails writing into the closed socket is a race; five runs make
    // both paths likely (with the connection-failure fallback disabled, about one run in three failed). Either way
    // the blob must end up on the registry, in chunks that pass the limit.
    const proxy = await proxyTo(reg, [{ path: /\/blobs\/uploads\//, times: Infinity, fault: { kind: 'max-body', bytes: MiB, close: true } }]);
    for (let i = 0; i < 8; i++) {
      const r = await lading(['blob', 'push', P, `${proxy.host}/chunked/nginx${i}`, file], { env: ENV });
      if (r.code !== 0) throw new Error(`run ${i}: exit ${r.code}\n${r.stderr}`);
      expect(r.stdout).toContain(DIGEST);
      await expectBlobOn(reg, `chunked/nginx${i}`);
    }
    const patches = proxy.requests.filter((q) => q.method === 'PATCH' && q.status === 202);
    expect(patches.length).toBeGreaterThanOrEqual(8 * 6);
    expect(patches.every((q) => q.bytesIn <= MiB)).toBe(true);
  });
});

describe('an interrupted chunked upload', () => {
  it('a PATCH cut before it reached the registry: GET on the session, resume from the offset it reports, in halved chunks', async () => {
    // The third chunk is cut after 300 KB and never forwarded: the session stays intact at 2 MiB. (A stall of 0 ms
    // lets the first two PATCHes through: rules apply in order, each as many times as it says.)
    const proxy = await proxyTo(reg, [
      { method: 'PATCH', path: /\/blobs\/uploads\//, times: 2, fault: { kind: 'stall-response', afterBytes: 0, ms: 0 } },
      { method: 'PATCH', path: /\/blobs\/uploads\//, fault: { kind: 'cut-request', afterBytes: 300_000 } },
    ]);
    const r = ok(await lading(['blob', 'push', P, '--chunk-size', '1MiB', `${proxy.host}/chunked/cut`, file], { env: ENV }));
    // Nothing of the cut chunk arrived: it may be a body limit enforced by closing the connection, so the chunks are
    // halved (as after a 413): the remaining 3 MiB and 123 bytes in 512 KiB chunks.
    expect(r.stderr).toMatch(new RegExp(`upload of blob ${DIGEST} interrupted at byte ${2 * MiB} \\(.+\\); the registry has ${2 * MiB} bytes, resuming from there in chunks of 512 KiB`));
    const uploads = proxy.requests.filter((q) => /\/blobs\/uploads\//.test(q.url));
    expect(uploads.filter(isPost)).toHaveLength(1);
    expect(uploads.map((q) => `${q.method} ${q.status ?? 'cut'}`)).toEqual(['POST 202', 'PATCH 202', 'PATCH 202', 'PATCH cut', 'GET 204', ...Array(7).fill('PATCH 202'), 'PUT 201']);
    expect(new Set(uploads.map(sessionOf).filter(Boolean)).size).toBe(1);
    expect(proxy.bytesIn()).toBeLessThanOrEqual(1.5 * DATA.length);
    await expectBlobOn(reg, 'chunked/cut');
  });

  it('a PATCH cut after part of it reached Distribution: the session is invalid (404 BLOB_UPLOAD_INVALID), deleted, one new session', async () => {
    const proxy = await proxyTo(reg, [{ method: 'PATCH', path: /\/blobs\/uploads\//, fault: { kind: 'cut-request', afterBytes: 300_000, forwardPartial: true } }]);
    const r = ok(await lading(['blob', 'push', P, '--chunk-size', '1MiB', `${proxy.host}/chunked/partial`, file], { env: ENV }));
    const lines = r.stderr.split('\n').filter((l) => /upload session .* lost/.test(l));
    expect(lines).toEqual([expect.stringMatching(/upload session of blob sha256:\w+ lost \(.+; then GET on the session: 404 BLOB_UPLOAD_INVALID\); starting the upload again$/)]);
    const uploads = proxy.requests.filter((q) => /\/blobs\/uploads\//.test(q.url));
    // The invalid session is deleted, best effort (Distribution answers 404 for it too).
    expect(uploads.map((q) => `${q.method} ${q.status ?? 'cut'}`)).toEqual(['POST 202', 'PATCH cut', 'GET 404', 'DELETE 404', 'POST 202', ...Array(6).fill('PATCH 202'), 'PUT 201']);
    // What was lost is the part of one chunk that reached the dead session.
    expect(proxy.bytesIn()).toBeLessThanOrEqual(DATA.length + 300_000);
    await expectBlobOn(reg, 'chunked/partial');
  });

  it('chunks that are always cut: halved down to 64 KiB, then a clear failure naming the blob and the offset, no tag, sessions deleted', async () => {
    const proxy = await proxyTo(reg, [{ method: 'PATCH', path: /\/blobs\/uploads\//, times: Infinity, fault: { kind: 'cut-request', afterBytes: 100_000 } }]);
    const before = process.cwd();
    process.chdir(work);
    let r: CliResult;
    try {
      r = await lading(['push', P, '--chunk-size', '1MiB', `${proxy.host}/chunked/doomed:v1`, 'data.bin'], { env: ENV });
    } finally {
      process.chdir(before);
    }
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/cannot upload blob sha256:[0-9a-f]{64} to 127\.0\.0\.1:\d+\/chunked\/doomed: stopped at byte 0 of \d+ \(.+\); 3 resumes brought no progress/);
    // The data blob: 1 MiB, 512, 256, 128 and 64 KiB, then three more resumes without progress (8 PATCHes); the
    // 2-byte config (also chunked with --chunk-size): 4 PATCHes.
    expect(proxy.requests.filter(isPatch).length).toBeLessThanOrEqual(12);
    expect(proxy.requests.filter((q) => q.method === 'DELETE' && /\/blobs\/uploads\//.test(q.url)).map((q) => q.status)).toEqual([204, 204]);
    expect(proxy.requests.some((q) => q.method === 'PUT' && /\/manifests\//.test(q.url))).toBe(false);
    const tag = await lading(['resolve', P, `${reg.host}/chunked/doomed:v1`], { env: ENV });
    expect(tag.code).toBe(4);
  });
});

describe('a token that expires mid-upload', () => {
  let treg: RunningRegistry;
  beforeAll(async () => {
    treg = await startRegistry({ mode: 'token', accessLog: true });
  });
  afterAll(async () => {
    await treg?.stop();
  });
  const push = (host: string, repo: string, chunk: string) =>
    lading(['blob', 'push', P, '-u', treg.username!, '--password-stdin', '--chunk-size', chunk, `${host}/${repo}`, file], { env: ENV, stdin: treg.password! });
  /** Each PATCH reply held back 250 ms: 11 chunks of 512 KiB take about 3 s, 21 of 256 KiB over 5 s. */
  const slow: FaultRule = { method: 'PATCH', path: /\/blobs\/uploads\//, times: Infinity, fault: { kind: 'stall-response', afterBytes: 0, ms: 250 } };

  it('tokens living 2 s: renewed as they run out, one session throughout', async () => {
    const proxy = await proxyTo(treg, [slow]);
    const tokens = treg.tokenServer!;
    const before = tokens.requests.length;
    tokens.setTokenLifetime(2);
    try {
      ok(await push(proxy.host, 'chunked/renew', '512KiB'));
    } finally {
      tokens.setTokenLifetime(300);
    }
    expect(tokens.requests.slice(before).filter((q) => q.status === 200).length).toBeGreaterThan(1);
    const uploads = proxy.requests.filter((q) => /\/blobs\/uploads\//.test(q.url) && q.status !== 401);
    expect(uploads.filter(isPost)).toHaveLength(1);
    expect(uploads.filter(isPatch)).toHaveLength(11);
    expect(new Set(uploads.map(sessionOf).filter(Boolean)).size).toBe(1);
    await expectBlobOn(treg, 'chunked/renew');
  }, 60_000);

  it('a token the registry refuses mid-upload (401 invalid_token): renewed, the same chunk sent again to the same Location', async () => {
    const proxy = await proxyTo(treg, [slow]);
    const tokens = treg.tokenServer!;
    const before = tokens.requests.length;
    // Distribution accepts a token up to 60 s past its exp (leeway): born 58 s expired, each token works for about
    // 2 s, while lading, given no usable expires_in, would keep it for a minute. The registry's 401 has to renew it.
    tokens.setTokenLifetime(-58);
    try {
      ok(await push(proxy.host, 'chunked/refused', '256KiB'));
    } finally {
      tokens.setTokenLifetime(300);
    }
    const patches = proxy.requests.filter(isPatch);
    const refused = patches.findIndex((q) => q.status === 401);
    expect(refused).toBeGreaterThan(0);
    expect(patches[refused + 1]).toMatchObject({ url: patches[refused].url, status: 202 });
    expect(tokens.requests.slice(before).filter((q) => q.status === 200).length).toBeGreaterThan(1);
    const uploads = proxy.requests.filter((q) => /\/blobs\/uploads\//.test(q.url));
    expect(uploads.filter(isPost).filter((q) => q.status === 202)).toHaveLength(1);
    expect(new Set(uploads.map(sessionOf).filter(Boolean)).size).toBe(1);
    await expectBlobOn(treg, 'chunked/refused');
  }, 60_000);
});

/**
 * A proxy that forwards everything to `registry` and, for the first request `drop` selects, lets the registry answer
 * and then closes the client's connection without relaying the reply (a reply lost on its way back).
 */
async function replyDropper(registry: RunningRegistry, drop: (req: http.IncomingMessage) => boolean): Promise<{ host: string; seen: string[]; close: () => Promise<void> }> {
  const seen: string[] = [];
  let dropped = false;
  const server = http.createServer((req, res) => {
    const target = new URL(registry.url);
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
      const lose = !dropped && drop(req);
      seen.push(`${req.method} ${lose ? 'lost' : upRes.statusCode}`);
      if (lose) {
        dropped = true;
        upRes.resume();
        upRes.on('end', () => req.socket.destroy());
        return;
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => req.socket.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

describe('the single PUT of a blob, interrupted (Distribution takes one PUT per session)', () => {
  const SMALL = randomBytes(300_000);
  const SMALL_DIGEST = sha256(SMALL);
  const uploadsAndBlobs = (p: FaultProxy) => p.requests.filter((q) => /\/blobs\//.test(q.url)).map((q) => `${q.method} ${q.status ?? 'cut'}`);

  it('a small blob whose PUT is cut after part of it arrived: HEAD, a new session, the PUT again (never to the dead session)', async () => {
    const small = join(work, 'small.bin');
    writeFileSync(small, SMALL);
    const proxy = await proxyTo(reg, [{ method: 'PUT', path: /\/blobs\/uploads\//, fault: { kind: 'cut-request', afterBytes: 100_000, forwardPartial: true } }]);
    const r = ok(await lading(['blob', 'push', P, `${proxy.host}/chunked/monocut`, small], { env: ENV }));
    expect(r.stdout).toContain(SMALL_DIGEST);
    expect(r.stderr).toMatch(new RegExp(`sending ${SMALL_DIGEST} \\(300000 bytes\\) in one request failed \\(.+\\); sending it again in a new upload session`));
    const seq = uploadsAndBlobs(proxy);
    expect(seq.filter((l) => !l.startsWith('DELETE'))).toEqual(['HEAD 404', 'POST 202', 'PUT cut', 'HEAD 404', 'POST 202', 'PUT 201']);
    expect(seq.filter((l) => l.startsWith('DELETE'))).toHaveLength(1);
  });

  it('a blob over 1 MiB whose PUT is cut after part of it arrived: goes again in chunks, in a new session', async () => {
    const proxy = await proxyTo(reg, [{ method: 'PUT', path: /\/blobs\/uploads\//, fault: { kind: 'cut-request', afterBytes: 100_000, forwardPartial: true } }]);
    const r = ok(await lading(['blob', 'push', P, `${proxy.host}/chunked/monobig`, file], { env: ENV }));
    expect(r.stderr).toMatch(/in one request failed \(.+\); uploading it in chunks of 4 MiB/);
    const seq = uploadsAndBlobs(proxy);
    expect(seq.slice(0, 4)).toEqual(['HEAD 404', 'POST 202', 'PUT cut', 'HEAD 404']);
    expect(seq.filter((l) => l.startsWith('PUT'))).toEqual(['PUT cut', 'PUT 201']);
    await expectBlobOn(reg, 'chunked/monobig');
  });

  it.each([
    ['in one request', [] as string[]],
    ['in chunks (the closing PUT)', ['--chunk-size', '1MiB']],
  ])('the reply to the PUT that stored the blob is lost (%s): HEAD finds it, exit 0, no second PUT', async (_name, extra) => {
    const proxy = await replyDropper(reg, (q) => q.method === 'PUT' && /\/blobs\/uploads\//.test(q.url ?? ''));
    try {
      const r = ok(await lading(['blob', 'push', P, ...extra, `${proxy.host}/chunked/lostreply${extra.length}`, file, '-d'], { env: ENV }));
      expect(r.stdout).toContain(DIGEST);
      expect(r.stderr).toMatch(new RegExp(`the PUT of ${DIGEST} failed \\(.+\\), but the registry has the blob \\(${DATA.length} bytes\\): uploaded`));
      expect(proxy.seen.filter((l) => l.startsWith('PUT'))).toEqual(['PUT lost']);
      expect(proxy.seen).toContain('HEAD 200');
    } finally {
      await proxy.close();
    }
    await expectBlobOn(reg, `chunked/lostreply${extra.length}`);
  });
});
