/**
 * Downloads resume with Range after a dropped connection (issue 6), against the real registry (Distribution 2.8)
 * behind the fault proxy: `pull`, `blob fetch` and `cp` whose blob GET is cut mid-body complete with the right
 * bytes, move little more than the blob once (no restart from zero), and say so in one plain stderr line per resume;
 * a blob that is cut every time fails clearly and leaves nothing in the output folder.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_RETRY } from '../../src/registry/http/retry.js';
import { lading, type CliResult } from '../helpers/cli.js';
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from '../helpers/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { tmpDir } from '../helpers/tmp.js';

const P = '--plain-http';
const ENV = { PATH: process.env.PATH, DOCKER_CONFIG: '/nonexistent-lading-test-docker-config' };
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const SIZE = 4 * 1024 * 1024;
/** The blob the faults hit (a 4 MiB file, alone in its artifact), and one for the runs that must fail. */
const DATA = randomBytes(SIZE);
const DOOMED = randomBytes(SIZE);
const D = sha256(DATA);
const DOOMED_D = sha256(DOOMED);

let reg: RunningRegistry;
let reg2: RunningRegistry;
let proxy: FaultProxy;
let work: string;
let seq = 0;
const fresh = (what: string) => join(work, `${what}${++seq}`);

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`lading ${r.args.join(' ')}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}
/** The stderr lines announcing a resume of the blob `digest` in repository `repo`, through the proxy. */
function resumes(r: CliResult, repo: string, digest: string): string[] {
  const lines = r.stderr.split('\n').filter((l) => /resuming/.test(l));
  const re = new RegExp(`^GET http://${proxy.host}/v2/${repo}/blobs/${digest}: connection lost after \\d+ of ${SIZE} bytes; resuming$`);
  for (const line of lines) expect(line).toMatch(re);
  return lines;
}
const blobGets = (digest: string) => (q: ProxiedRequest) => q.method === 'GET' && q.url.endsWith(`/blobs/${digest}`);
const cut = (digest: string, afterBytes: number, times = 1) =>
  proxy.add({ method: 'GET', path: new RegExp(`/blobs/${digest}$`), times, fault: { kind: 'cut-response', afterBytes } });

async function pushFile(repoTag: string, name: string, data: Buffer): Promise<void> {
  const dir = fresh('src-');
  mkdirSync(dir);
  writeFileSync(join(dir, name), data);
  const before = process.cwd();
  process.chdir(dir);
  try {
    ok(await lading(['push', P, `${reg.host}/${repoTag}`, name], { env: ENV }));
  } finally {
    process.chdir(before);
  }
}

beforeAll(async () => {
  [reg, reg2] = await Promise.all([startRegistry(), startRegistry()]);
  proxy = await startFaultProxy(reg.url);
  work = tmpDir('lading-resume-');
  await pushFile('res/art:v1', 'big.bin', DATA);
  await pushFile('res/doomed:v1', 'doomed.bin', DOOMED);
});
afterAll(async () => {
  await proxy?.close();
  await Promise.all([reg?.stop(), reg2?.stop()]);
});
beforeEach(() => {
  proxy.clear();
  proxy.reset();
});

describe('a dropped blob download resumes with Range', () => {
  it('pull: the blob GET cut once mid-body completes, with at most 1.2× the blob size sent', async () => {
    cut(D, 1536 * 1024);
    const out = fresh('pull-once-');
    const r = ok(await lading(['pull', P, `${proxy.host}/res/art:v1`, '-o', out], { env: ENV }));
    expect(readdirSync(out)).toEqual(['big.bin']);
    expect(sha256(readFileSync(join(out, 'big.bin')))).toBe(D);
    expect(resumes(r, 'res/art', D)).toHaveLength(1);
    expect(proxy.requests.filter(blobGets(D)).map((q) => [q.status, q.fault])).toEqual([[200, 'cut-response'], [206, undefined]]);
    expect(proxy.bytesOut(blobGets(D))).toBeLessThanOrEqual(1.2 * SIZE);
  });

  it('pull: cut twice (the resumed reply is cut too), still one pass over the bytes', async () => {
    cut(D, 1024 * 1024, 2);
    const out = fresh('pull-twice-');
    const r = ok(await lading(['pull', P, `${proxy.host}/res/art:v1`, '-o', out], { env: ENV }));
    expect(sha256(readFileSync(join(out, 'big.bin')))).toBe(D);
    expect(resumes(r, 'res/art', D)).toHaveLength(2);
    expect(proxy.requests.filter(blobGets(D)).map((q) => q.status)).toEqual([200, 206, 206]);
    expect(proxy.bytesOut(blobGets(D))).toBeLessThanOrEqual(1.2 * SIZE);
  });

  it('blob fetch: cut once, the file is the blob', async () => {
    cut(D, 3 * 1024 * 1024);
    const file = join(fresh('fetch-'), 'blob.bin');
    const r = ok(await lading(['blob', 'fetch', P, `${proxy.host}/res/art@${D}`, '-o', file], { env: ENV }));
    expect(sha256(readFileSync(file))).toBe(D);
    expect(resumes(r, 'res/art', D)).toHaveLength(1);
    expect(proxy.bytesOut(blobGets(D))).toBeLessThanOrEqual(1.2 * SIZE);
  });

  it('blob fetch: a body that stalls beyond LADING_HTTP_TIMEOUT is resumed as well', async () => {
    proxy.add({ method: 'GET', path: new RegExp(`/blobs/${D}$`), fault: { kind: 'stall-response', afterBytes: 1024 * 1024, ms: 3500 } });
    const file = join(fresh('fetch-stall-'), 'blob.bin');
    const r = ok(await lading(['blob', 'fetch', P, `${proxy.host}/res/art@${D}`, '-o', file], { env: { ...ENV, LADING_HTTP_TIMEOUT: '1' } }));
    expect(sha256(readFileSync(file))).toBe(D);
    expect(resumes(r, 'res/art', D)).toHaveLength(1);
    expect(proxy.bytesOut(blobGets(D))).toBeLessThanOrEqual(1.2 * SIZE);
  }, 30_000);

  it('cp registry → registry: the source blob GET cut twice, the destination gets the artifact', async () => {
    cut(D, 1024 * 1024, 2);
    const r = ok(await lading(['cp', '--from-plain-http', '--to-plain-http', `${proxy.host}/res/art:v1`, `${reg2.host}/copied/art:v1`], { env: ENV }));
    expect(resumes(r, 'res/art', D)).toHaveLength(2);
    expect(proxy.bytesOut(blobGets(D))).toBeLessThanOrEqual(1.2 * SIZE);
    // What the destination holds, read directly from it.
    const out = fresh('pull-copied-');
    ok(await lading(['pull', P, `${reg2.host}/copied/art:v1`, '-o', out], { env: ENV }));
    expect(sha256(readFileSync(join(out, 'big.bin')))).toBe(D);
  });

  it('a blob cut every time: pull and blob fetch fail clearly (exit 7) and leave nothing in the output folder', async () => {
    // Each command's first GET gets 512 KiB, then every resumed reply is cut before its first byte.
    cut(DOOMED_D, 512 * 1024, 2);
    cut(DOOMED_D, 0, Infinity);
    const pullOut = fresh('pull-doomed-');
    const fetchDir = fresh('fetch-doomed-');
    mkdirSync(fetchDir);
    const [pulled, fetched] = await Promise.all([
      lading(['pull', P, `${proxy.host}/res/doomed:v1`, '-o', pullOut], { env: ENV }),
      lading(['blob', 'fetch', P, `${proxy.host}/res/doomed@${DOOMED_D}`, '-o', join(fetchDir, 'blob.bin')], { env: ENV }),
    ]);
    for (const r of [pulled, fetched]) {
      expect(r.code).toBe(7);
      expect(r.stderr).toMatch(
        new RegExp(
          `^Error: .*blob ${DOOMED_D}: GET http://${proxy.host}/v2/res/doomed/blobs/${DOOMED_D}: ` +
            `connection lost after \\d+ of ${SIZE} bytes, gave up after 5 resumes without progress \\(last error: .*other side closed.*\\)$`,
          'm',
        ),
      );
      expect(resumes(r, 'res/doomed', DOOMED_D)).toHaveLength(5);
    }
    expect(existsSync(pullOut) ? readdirSync(pullOut) : []).toEqual([]);
    expect(readdirSync(fetchDir)).toEqual([]);
    // Per command: the first GET, then 5 resumes, each tried by the transport as often as its retry policy allows
    // (the proxy's cut before the first body byte drops the reply's headers too, so the request itself fails).
    expect(proxy.requests.filter(blobGets(DOOMED_D))).toHaveLength(2 * (1 + 5 * (DEFAULT_RETRY.maxRetries + 1)));
    expect(proxy.bytesOut(blobGets(DOOMED_D))).toBeLessThanOrEqual(2 * 512 * 1024);
  }, 40_000);
});
