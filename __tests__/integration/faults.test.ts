/**
 * Resilience under injected faults (issue 6, "Tests"): a real Distribution registry behind the fault proxy
 * (`__tests__/helpers/fault-proxy.ts`), the CLI run in-process against the proxy. Under each fault, `push`, `pull`
 * and `cp` either complete with the right digests or fail with a clear message and exit code, never leaving a
 * partial file or a tag behind; a run with one transient fault moves at most ~2× the artifact's bytes.
 *
 * Waits are real but short: Retry-After of 1 s, and LADING_HTTP_TIMEOUT=1 against stalls of a few seconds.
 * Faults survived only by resuming a cut download (Range) or by chunked uploads are in the 'depends on …' blocks
 * at the end.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lading, type CliResult } from '../helpers/cli.js';
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from '../helpers/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { tmpDir } from '../helpers/tmp.js';

const P = '--plain-http';
const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const ENV = { PATH: process.env.PATH, DOCKER_CONFIG: '/nonexistent-lading-test-docker-config' };
/** LADING_HTTP_TIMEOUT=1 against stalls of STALL_MS: undici's coarse timers fire a 1 s timeout within ~2 s. */
const SHORT_TIMEOUT = { ...ENV, LADING_HTTP_TIMEOUT: '1' };
const STALL_MS = 3500;

const DATA = randomBytes(2 * 1024 * 1024);
const NOTES = Buffer.from('release notes\n');
/** Bytes of the artifact's files (the manifest and the 2-byte config add under 1 KiB). */
const SIZE = DATA.length + NOTES.length;

let reg: RunningRegistry;
let reg2: RunningRegistry;
let proxy: FaultProxy;
let work: string;
let srcDir: string;
/** The artifact pushed directly to reg (base/art:v1) and reg2 (mirror/art:v1). */
let baseDigest: string;

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`lading ${r.args.join(' ')}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}
function digestLine(r: CliResult): string {
  const m = /Digest: (sha256:[0-9a-f]{64})/.exec(r.stdout);
  if (!m) throw new Error(`no digest in ${r.stdout}`);
  return m[1];
}
/** The stderr lines announcing a wait before a retry. */
function waits(r: CliResult): string[] {
  return r.stderr.split('\n').filter((l) => /retrying in/.test(l));
}
function expectPlain(r: CliResult): void {
  expect(r.stderr).not.toMatch(/\x1b|\r/);
}
let seq = 0;
const fresh = (what: string) => `${what}${++seq}`;

async function push(target: string, env: NodeJS.ProcessEnv = ENV, extra: string[] = []): Promise<CliResult> {
  const before = process.cwd();
  process.chdir(srcDir);
  try {
    return await lading(['push', P, ...extra, target, 'data.bin', 'notes.txt'], { env });
  } finally {
    process.chdir(before);
  }
}
/** The digest a tag has on the registry itself (not through the proxy), or undefined when the tag does not exist. */
async function tagOnRegistry(r: RunningRegistry, repoTag: string): Promise<string | undefined> {
  const res = await lading(['resolve', P, `${r.host}/${repoTag}`], { env: ENV });
  if (res.code === 4) return undefined;
  ok(res);
  return res.stdout.trim();
}
/** Pulls directly from the registry and checks the files are the artifact's. */
async function expectArtifactOn(r: RunningRegistry, repoTag: string): Promise<void> {
  const out = tmpDir('lading-faults-check-');
  ok(await lading(['pull', P, `${r.host}/${repoTag}`, '-o', out], { env: ENV }));
  expect(sha256(readFileSync(join(out, 'data.bin')))).toBe(sha256(DATA));
  expect(readFileSync(join(out, 'notes.txt'))).toEqual(NOTES);
}
function expectPulled(out: string): void {
  expect(readdirSync(out).sort()).toEqual(['data.bin', 'notes.txt']);
  expect(sha256(readFileSync(join(out, 'data.bin')))).toBe(sha256(DATA));
}
const blobRequests = (r: ProxiedRequest) => /\/blobs\//.test(r.url);
/**
 * An HTTP date `ms` ahead, in whole seconds: 2000 gives a date 1-2 s ahead when sent, so the wait lading logs is
 * the date's, not the ~0.2 s backoff (unless it took over half a second to read it).
 */
const future = (ms: number) => new Date(Date.now() + ms).toUTCString();
/** The seconds the first wait line announces. */
const dateWait = (r: CliResult) => Number(/retrying in (\d+\.\d)s/.exec(waits(r)[0])![1]);

beforeAll(async () => {
  [reg, reg2] = await Promise.all([startRegistry(), startRegistry()]);
  proxy = await startFaultProxy(reg.url);
  work = tmpDir('lading-faults-');
  srcDir = join(work, 'src');
  mkdirSync(srcDir);
  writeFileSync(join(srcDir, 'data.bin'), DATA);
  writeFileSync(join(srcDir, 'notes.txt'), NOTES);
  baseDigest = digestLine(ok(await push(`${reg.host}/base/art:v1`)));
  ok(await lading(['cp', '--from-plain-http', '--to-plain-http', `${reg.host}/base/art:v1`, `${reg2.host}/mirror/art:v1`], { env: ENV }));
});
afterAll(async () => {
  await proxy?.close();
  await Promise.all([reg?.stop(), reg2?.stop()]);
});
beforeEach(() => {
  proxy.clear();
  proxy.reset();
});

describe('fault proxy', () => {
  it('forwards the Host header, so Distribution gives upload Locations on the proxy; keeps client connections alive', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const post = () =>
      new Promise<{ location?: string; reused: boolean }>((resolve, reject) => {
        const req = http.request(`${proxy.url}/v2/probe/blobs/uploads/`, { method: 'POST', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ location: res.headers.location, reused: req.reusedSocket }));
        });
        req.on('error', reject);
        req.end();
      });
    const first = await post();
    const second = await post();
    agent.destroy();
    expect(first.location).toMatch(new RegExp(`^${proxy.url}/v2/probe/blobs/uploads/`));
    expect(second.reused).toBe(true);
    expect(proxy.requests.map((r) => [r.method, r.status])).toEqual([['POST', 202], ['POST', 202]]);
  });

  it('applies the first matching rule with times left, and records every request', async () => {
    proxy.add({ method: 'GET', path: /^\/v2\/$/, times: 2, fault: { kind: 'status', status: 503, body: 'busy' } });
    proxy.add({ path: /^\/v2\//, fault: { kind: 'status', status: 418 } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${proxy.url}/v2/`)).status);
    expect(statuses).toEqual([503, 503, 418, 200]);
    expect(proxy.requests.map((r) => r.fault)).toEqual(['status', 'status', 'status', undefined]);
    expect(proxy.bytesOut()).toBe(4 + 4 + 0 + 2); // 'busy' twice, an empty 418, then the registry's '{}'
  });

  it('answers 413 for bodies over max-body, by Content-Length or counted when chunked; smaller bodies pass', async () => {
    proxy.add({ method: 'PUT', times: Infinity, fault: { kind: 'max-body', bytes: 1000 } });
    const put = (body: Buffer, chunked: boolean) =>
      new Promise<number | undefined>((resolve, reject) => {
        const req = http.request(`${proxy.url}/v2/probe/manifests/x`, { method: 'PUT', headers: chunked ? {} : { 'content-length': String(body.length) } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on('error', reject);
        if (chunked) {
          req.write(body.subarray(0, 10));
          req.end(body.subarray(10));
        } else req.end(body);
      });
    const small = Buffer.alloc(1000, 'a');
    const big = Buffer.alloc(1001, 'a');
    // 400: the registry saw the (invalid) manifest; 413: the proxy refused it
    expect([await put(small, false), await put(big, false), await put(small, true), await put(big, true)]).toEqual([400, 413, 400, 413]);
    expect(proxy.requests.map((r) => [r.bytesIn, r.fault])).toEqual([[1000, undefined], [1001, 'max-body'], [1000, undefined], [1001, 'max-body']]);
  });
});

describe('push through faults', () => {
  it('waits out a 429 with Retry-After in seconds on a blob upload, one plain line per wait', async () => {
    proxy.add({ method: 'POST', path: /\/blobs\/uploads\/$/, fault: { kind: 'status', status: 429, headers: { 'retry-after': '1' } } });
    const r = ok(await push(`${proxy.host}/push/retry-after:v1`));
    expect(waits(r)).toHaveLength(1);
    expect(waits(r)[0]).toMatch(/429; retrying in 1\.0s/);
    expectPlain(r);
    expect(await tagOnRegistry(reg, 'push/retry-after:v1')).toBe(digestLine(r));
    await expectArtifactOn(reg, 'push/retry-after:v1');
    expect(proxy.bytesIn()).toBeLessThanOrEqual(2.2 * SIZE);
  });

  it('waits out a 503 with Retry-After as an HTTP date on the manifest PUT', async () => {
    proxy.add({ method: 'PUT', path: /\/manifests\//, fault: { kind: 'status', status: 503, headers: { 'retry-after': future(2000) } } });
    const r = ok(await push(`${proxy.host}/push/date:v1`));
    expect(waits(r)).toHaveLength(1);
    expect(waits(r)[0]).toMatch(/PUT .*\/manifests\/v1: 503; retrying in \d+\.\ds/);
    expect(dateWait(r)).toBeGreaterThanOrEqual(0.5);
    expect(await tagOnRegistry(reg, 'push/date:v1')).toBe(digestLine(r));
    expect(proxy.requests.filter((q) => q.method === 'PUT' && /manifests/.test(q.url)).map((q) => q.status)).toEqual([503, 201]);
  });

  it('fails with exit 6 on a 429 whose Retry-After is beyond the cap, and tags nothing', async () => {
    proxy.add({ method: 'PUT', path: /\/manifests\//, fault: { kind: 'status', status: 429, headers: { 'retry-after': '3600' } } });
    const r = await push(`${proxy.host}/push/capped:v1`);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/429/);
    expect(waits(r)).toEqual([]);
    expect(await tagOnRegistry(reg, 'push/capped:v1')).toBeUndefined();
  });

  it('retries a manifest PUT whose response stalls beyond LADING_HTTP_TIMEOUT', async () => {
    proxy.add({ method: 'PUT', path: /\/manifests\//, fault: { kind: 'stall-response', afterBytes: 0, ms: STALL_MS, beforeHeaders: true } });
    const r = ok(await push(`${proxy.host}/push/stall:v1`, SHORT_TIMEOUT));
    expect(waits(r)).toHaveLength(1);
    expect(waits(r)[0]).toMatch(/no response headers in time \(LADING_HTTP_TIMEOUT\)/);
    expect(await tagOnRegistry(reg, 'push/stall:v1')).toBe(digestLine(r));
  });

  it('completes when a response stalls for less than the timeout', async () => {
    proxy.add({ method: 'POST', path: /\/blobs\/uploads\/$/, times: Infinity, fault: { kind: 'stall-response', afterBytes: 0, ms: 1500, beforeHeaders: true } });
    const r = ok(await push(`${proxy.host}/push/short-stall:v1`, { ...ENV, LADING_HTTP_TIMEOUT: '20' }));
    expect(waits(r)).toEqual([]);
    expect(await tagOnRegistry(reg, 'push/short-stall:v1')).toBe(digestLine(r));
  });

  it('reports a 413 on the manifest PUT clearly and tags nothing', async () => {
    proxy.add({ method: 'PUT', path: /\/manifests\//, times: Infinity, fault: { kind: 'max-body', bytes: 64 } });
    const r = await push(`${proxy.host}/push/too-large:v1`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/PUT .*\/manifests\/v1.*413/);
    expect(proxy.requests.filter((q) => q.fault === 'max-body')).toHaveLength(1);
    expect(await tagOnRegistry(reg, 'push/too-large:v1')).toBeUndefined();
  });

  it('fails clearly when every blob upload is cut mid-body, and tags nothing', async () => {
    proxy.add({ method: 'PUT', path: /\/blobs\/uploads\//, times: Infinity, fault: { kind: 'cut-request', afterBytes: 64 * 1024 } });
    proxy.add({ method: 'PATCH', path: /\/blobs\/uploads\//, times: Infinity, fault: { kind: 'cut-request', afterBytes: 64 * 1024 } });
    const r = await push(`${proxy.host}/push/cut:v1`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Error: .*blobs\/uploads/);
    expect(r.stderr).not.toMatch(/^\s+at /m); // a message, not a stack trace
    expect(proxy.requests.some((q) => /manifests/.test(q.url) && q.method === 'PUT')).toBe(false);
    expect(await tagOnRegistry(reg, 'push/cut:v1')).toBeUndefined();
  });
});

describe('pull through faults', () => {
  it('waits out a 429 with Retry-After in seconds on a blob GET', async () => {
    proxy.add({ method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'status', status: 429, headers: { 'retry-after': '1' } } });
    const out = join(work, fresh('pull-429-'));
    const r = ok(await lading(['pull', P, `${proxy.host}/base/art:v1`, '-o', out], { env: ENV }));
    expect(waits(r)).toHaveLength(1);
    expect(waits(r)[0]).toMatch(/GET .*\/blobs\/sha256:[0-9a-f]{64}: 429; retrying in 1\.0s/);
    expectPlain(r);
    expect(digestLine(r)).toBe(baseDigest);
    expectPulled(out);
    expect(proxy.bytesOut()).toBeLessThanOrEqual(2.2 * SIZE);
  });

  it('waits out a 503 with Retry-After as an HTTP date on the manifest request', async () => {
    proxy.add({ path: /\/manifests\/v1$/, fault: { kind: 'status', status: 503, headers: { 'retry-after': future(2000) } } });
    const out = join(work, fresh('pull-503-'));
    const r = ok(await lading(['pull', P, `${proxy.host}/base/art:v1`, '-o', out], { env: ENV }));
    expect(waits(r)).toHaveLength(1);
    expect(waits(r)[0]).toMatch(/manifests\/v1: 503; retrying in/);
    expect(dateWait(r)).toBeGreaterThanOrEqual(0.5);
    expect(digestLine(r)).toBe(baseDigest);
    expectPulled(out);
  });

  it('fails with exit 6 on a 429 whose Retry-After is beyond the cap, writing no file', async () => {
    proxy.add({ method: 'GET', path: /\/blobs\/sha256:/, times: Infinity, fault: { kind: 'status', status: 429, headers: { 'retry-after': '600' } } });
    const out = join(work, fresh('pull-capped-'));
    const r = await lading(['pull', P, `${proxy.host}/base/art:v1`, '-o', out], { env: ENV });
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/429/);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });

  it('completes when a blob body stalls for less than the timeout', async () => {
    proxy.add({ method: 'GET', path: /\/blobs\/sha256:/, times: Infinity, fault: { kind: 'stall-response', afterBytes: 256 * 1024, ms: 300 } });
    const out = join(work, fresh('pull-short-stall-'));
    const r = ok(await lading(['pull', P, `${proxy.host}/base/art:v1`, '-o', out], { env: { ...ENV, LADING_HTTP_TIMEOUT: '20' } }));
    expect(waits(r)).toEqual([]);
    expect(proxy.requests.some((q) => q.fault === 'stall-response')).toBe(true);
    expectPulled(out);
  });

  it('retries a manifest request whose headers stall beyond LADING_HTTP_TIMEOUT', async () => {
    proxy.add({ path: /\/manifests\//, fault: { kind: 'stall-response', afterBytes: 0, ms: STALL_MS, beforeHeaders: true } });
    const out = join(work, fresh('pull-stall-'));
    const r = ok(await lading(['pull', P, `${proxy.host}/base/art:v1`, '-o', out], { env: SHORT_TIMEOUT }));
    expect(waits(r)).toHaveLength(1);
    expect(waits(r)[0]).toMatch(/no response headers in time \(LADING_HTTP_TIMEOUT\)/);
    expectPulled(out);
  });

  it('fails with exit 7 when every attempt at a blob stalls beyond LADING_HTTP_TIMEOUT, writing no file', async () => {
    proxy.add({ method: 'GET', path: /\/blobs\/sha256:/, times: Infinity, fault: { kind: 'stall-response', afterBytes: 0, ms: STALL_MS, beforeHeaders: true } });
    const out = join(work, fresh('pull-stall-all-'));
    const r = await lading(['pull', P, `${proxy.host}/base/art:v1`, '-o', out], { env: SHORT_TIMEOUT });
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/Error: GET .*\/blobs\/sha256:[0-9a-f]{64}: .*timeout/i);
    expect(waits(r).length).toBeGreaterThanOrEqual(3);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  }, 60_000);

  it('leaves no file and no temp file when every blob GET is cut', async () => {
    proxy.add({ method: 'GET', path: /\/blobs\/sha256:/, times: Infinity, fault: { kind: 'cut-response', afterBytes: 0 } });
    const out = join(work, fresh('pull-cut-all-'));
    const r = await lading(['pull', P, `${proxy.host}/base/art:v1`, '-o', out], { env: ENV });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Error: .*blobs\/sha256:/);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });

  it('retries a manifest whose body stalls beyond LADING_HTTP_TIMEOUT', async () => {
    proxy.add({ method: 'GET', path: /\/manifests\//, fault: { kind: 'stall-response', afterBytes: 10, ms: STALL_MS } });
    const out = join(work, fresh('pull-body-stall-'));
    const r = ok(await lading(['pull', P, `${proxy.host}/base/art:v1`, '-o', out], { env: SHORT_TIMEOUT }));
    expect(waits(r)).toHaveLength(1);
    expect(waits(r)[0]).toMatch(/GET .*\/manifests\/sha256:.*the response body stalled \(LADING_HTTP_TIMEOUT\)/);
    expect(digestLine(r)).toBe(baseDigest);
    expectPulled(out);
  });

  it('retries a manifest whose body is cut', async () => {
    proxy.add({ method: 'GET', path: /\/manifests\//, fault: { kind: 'cut-response', afterBytes: 100 } });
    const out = join(work, fresh('pull-manifest-cut-'));
    const r = ok(await lading(['pull', P, `${proxy.host}/base/art:v1`, '-o', out], { env: ENV }));
    expect(waits(r)).toHaveLength(1);
    expect(proxy.requests.filter((q) => q.fault === 'cut-response')).toHaveLength(1);
    expect(digestLine(r)).toBe(baseDigest);
    expectPulled(out);
  });

  it('leaves no partial file and no temp file when a download breaks mid-body and cannot go on', async () => {
    // Cut after 300 KB; the blob is then gone (404), so nothing can resume it.
    proxy.add({ method: 'GET', path: new RegExp(`/blobs/${sha256(DATA)}`), fault: { kind: 'cut-response', afterBytes: 300_000 } });
    proxy.add({
      method: 'GET',
      path: new RegExp(`/blobs/${sha256(DATA)}`),
      times: Infinity,
      fault: { kind: 'status', status: 404, headers: { 'content-type': 'application/json' }, body: '{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}' },
    });
    const out = join(work, fresh('pull-cut-then-gone-'));
    const r = await lading(['pull', P, `${proxy.host}/base/art:v1`, '-o', out], { env: ENV });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`Error: .*${sha256(DATA)}`));
    expect(proxy.requests.some((q) => q.fault === 'cut-response' && q.bytesOut === 300_000)).toBe(true);
    // notes.txt (a separate, complete blob) may have been written; data.bin and any temporary file must not.
    const left = existsSync(out) ? readdirSync(out) : [];
    expect(left.filter((f) => f !== 'notes.txt')).toEqual([]);
    if (left.includes('notes.txt')) expect(readFileSync(join(out, 'notes.txt'))).toEqual(NOTES);
  });

  it('never leaves a partial file when every blob GET is cut mid-body: it completes (resuming) or fails with no file', async () => {
    proxy.add({ method: 'GET', path: new RegExp(`/blobs/${sha256(DATA)}`), times: Infinity, fault: { kind: 'cut-response', afterBytes: 300_000 } });
    const out = join(work, fresh('pull-cut-mid-'));
    const r = await lading(['pull', P, `${proxy.host}/base/art:v1`, '-o', out], { env: ENV });
    if (r.code === 0) {
      expectPulled(out);
    } else {
      expect(r.stderr).toMatch(/Error: .*blobs\/sha256:/);
      expect((existsSync(out) ? readdirSync(out) : []).filter((f) => f !== 'notes.txt')).toEqual([]);
    }
  });
});

describe('copy through faults', () => {
  const cp = (from: string, to: string, env: NodeJS.ProcessEnv = ENV) => lading(['cp', '--from-plain-http', '--to-plain-http', from, to], { env });

  it('waits out a 429 with Retry-After in seconds on a source blob GET', async () => {
    proxy.add({ method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'status', status: 429, headers: { 'retry-after': '1' } } });
    const to = `${fresh('cp/src-429-')}:v1`;
    const r = ok(await cp(`${proxy.host}/base/art:v1`, `${reg2.host}/${to}`));
    expect(waits(r)).toHaveLength(1);
    expect(waits(r)[0]).toMatch(/GET .*\/blobs\/sha256:[0-9a-f]{64}: 429; retrying in 1\.0s/);
    expectPlain(r);
    expect(await tagOnRegistry(reg2, to)).toBe(baseDigest);
    await expectArtifactOn(reg2, to);
    expect(proxy.bytesOut(blobRequests)).toBeLessThanOrEqual(2.2 * SIZE);
  });

  it('waits out a 503 with Retry-After as an HTTP date on a destination upload', async () => {
    proxy.add({ method: 'POST', path: /\/blobs\/uploads\//, fault: { kind: 'status', status: 503, headers: { 'retry-after': future(2000) } } });
    const to = `${fresh('cp/dst-503-')}:v1`;
    const r = ok(await cp(`${reg2.host}/mirror/art:v1`, `${proxy.host}/${to}`));
    expect(waits(r)).toHaveLength(1);
    expect(waits(r)[0]).toMatch(/POST .*\/blobs\/uploads\/.*: 503; retrying in/);
    expect(dateWait(r)).toBeGreaterThanOrEqual(0.5);
    expect(await tagOnRegistry(reg, to)).toBe(baseDigest);
    await expectArtifactOn(reg, to);
    expect(proxy.bytesIn()).toBeLessThanOrEqual(2.2 * SIZE);
  });

  it('fails with exit 6 on a 429 beyond the cap at the destination, and tags nothing', async () => {
    proxy.add({ method: 'PUT', path: /\/manifests\//, fault: { kind: 'status', status: 429, headers: { 'retry-after': '3600' } } });
    const to = `${fresh('cp/capped-')}:v1`;
    const r = await cp(`${reg2.host}/mirror/art:v1`, `${proxy.host}/${to}`);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/429/);
    expect(await tagOnRegistry(reg, to)).toBeUndefined();
  });

  it('completes when source responses stall for less than the timeout', async () => {
    proxy.add({ method: 'GET', times: Infinity, fault: { kind: 'stall-response', afterBytes: 1, ms: 300 } });
    const to = `${fresh('cp/short-stall-')}:v1`;
    const r = ok(await cp(`${proxy.host}/base/art:v1`, `${reg2.host}/${to}`, { ...ENV, LADING_HTTP_TIMEOUT: '20' }));
    expect(waits(r)).toEqual([]);
    expect(await tagOnRegistry(reg2, to)).toBe(baseDigest);
  });

  it('retries a destination request whose response stalls beyond LADING_HTTP_TIMEOUT', async () => {
    proxy.add({ method: 'PUT', path: /\/manifests\//, fault: { kind: 'stall-response', afterBytes: 0, ms: STALL_MS, beforeHeaders: true } });
    const to = `${fresh('cp/stall-')}:v1`;
    const r = ok(await cp(`${reg2.host}/mirror/art:v1`, `${proxy.host}/${to}`, SHORT_TIMEOUT));
    expect(waits(r)).toHaveLength(1);
    expect(waits(r)[0]).toMatch(/no response headers in time \(LADING_HTTP_TIMEOUT\)/);
    expect(await tagOnRegistry(reg, to)).toBe(baseDigest);
  });

  it('reports a 413 on the destination manifest PUT clearly and tags nothing', async () => {
    proxy.add({ method: 'PUT', path: /\/manifests\//, times: Infinity, fault: { kind: 'max-body', bytes: 64 } });
    const to = `${fresh('cp/too-large-')}:v1`;
    const r = await cp(`${reg2.host}/mirror/art:v1`, `${proxy.host}/${to}`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/PUT .*\/manifests\/v1.*413/);
    expect(proxy.requests.filter((q) => q.fault === 'max-body')).toHaveLength(1);
    expect(await tagOnRegistry(reg, to)).toBeUndefined();
  });

  it('fails clearly when every destination blob upload is cut, and tags nothing', async () => {
    proxy.add({ method: 'PUT', path: /\/blobs\/uploads\//, times: Infinity, fault: { kind: 'cut-request', afterBytes: 64 * 1024 } });
    proxy.add({ method: 'PATCH', path: /\/blobs\/uploads\//, times: Infinity, fault: { kind: 'cut-request', afterBytes: 64 * 1024 } });
    const to = `${fresh('cp/cut-')}:v1`;
    const r = await cp(`${reg2.host}/mirror/art:v1`, `${proxy.host}/${to}`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Error: /);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(proxy.requests.some((q) => /manifests/.test(q.url) && q.method === 'PUT')).toBe(false);
    expect(await tagOnRegistry(reg, to)).toBeUndefined();
  });
});

describe('LADING_HTTP_TIMEOUT', () => {
  it.each(['0', '-1', 'soon', '1s', '90000'])('rejects %p as a usage error (exit 2)', async (value) => {
    const r = await lading(['resolve', P, `${proxy.host}/base/art:v1`], { env: { ...ENV, LADING_HTTP_TIMEOUT: value } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`invalid LADING_HTTP_TIMEOUT "${value}"`);
    expect(proxy.requests).toEqual([]);
  });
});

describe('depends on resume (helper A)', () => {
  it('a pull whose blob GET is cut once mid-body completes with at most 1.2× the bytes', async () => {
    proxy.add({ method: 'GET', path: new RegExp(`/blobs/${sha256(DATA)}`), fault: { kind: 'cut-response', afterBytes: DATA.length / 2 } });
    const out = join(work, fresh('pull-resume-'));
    const r = ok(await lading(['pull', P, `${proxy.host}/base/art:v1`, '-o', out], { env: ENV }));
    expect(digestLine(r)).toBe(baseDigest);
    expectPulled(out);
    expect(proxy.bytesOut(blobRequests)).toBeLessThanOrEqual(1.2 * SIZE);
  });

  it('a pull whose blob body stalls beyond LADING_HTTP_TIMEOUT resumes and completes', async () => {
    proxy.add({ method: 'GET', path: new RegExp(`/blobs/${sha256(DATA)}`), fault: { kind: 'stall-response', afterBytes: 512 * 1024, ms: STALL_MS } });
    const out = join(work, fresh('pull-body-stall-'));
    ok(await lading(['pull', P, `${proxy.host}/base/art:v1`, '-o', out], { env: SHORT_TIMEOUT }));
    expectPulled(out);
    expect(proxy.bytesOut(blobRequests)).toBeLessThanOrEqual(1.2 * SIZE);
  });

  it('a copy whose source blob GET is cut once completes with at most 1.2× the bytes', async () => {
    proxy.add({ method: 'GET', path: new RegExp(`/blobs/${sha256(DATA)}`), fault: { kind: 'cut-response', afterBytes: DATA.length / 2 } });
    const to = `${fresh('cp/resume-')}:v1`;
    ok(await lading(['cp', '--from-plain-http', '--to-plain-http', `${proxy.host}/base/art:v1`, `${reg2.host}/${to}`], { env: ENV }));
    expect(await tagOnRegistry(reg2, to)).toBe(baseDigest);
    expect(proxy.bytesOut(blobRequests)).toBeLessThanOrEqual(1.2 * SIZE);
  });
});

describe('depends on chunked uploads (helper B)', () => {
  it('a push through a proxy refusing bodies over 1 MiB falls back to chunks and completes', async () => {
    proxy.add({ path: /\/blobs\/uploads\//, times: Infinity, fault: { kind: 'max-body', bytes: 1024 * 1024 } });
    const r = ok(await push(`${proxy.host}/push/chunked-413:v1`));
    expect(await tagOnRegistry(reg, 'push/chunked-413:v1')).toBe(digestLine(r));
    await expectArtifactOn(reg, 'push/chunked-413:v1');
    expect(proxy.bytesIn()).toBeLessThanOrEqual(2.2 * SIZE);
  });

  it('a chunked push whose PATCH is cut once resumes from the registry offset with at most 1.2× the bytes', async () => {
    proxy.add({ method: 'PATCH', path: /\/blobs\/uploads\//, fault: { kind: 'cut-request', afterBytes: 256 * 1024, forwardPartial: true } });
    const r = ok(await push(`${proxy.host}/push/chunked-cut:v1`, ENV, ['--chunk-size', String(512 * 1024)]));
    expect(await tagOnRegistry(reg, 'push/chunked-cut:v1')).toBe(digestLine(r));
    await expectArtifactOn(reg, 'push/chunked-cut:v1');
    expect(proxy.bytesIn()).toBeLessThanOrEqual(1.2 * SIZE);
  });
});
