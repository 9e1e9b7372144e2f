/**
 * Rate-limit headers (issue 6): parsed in every form registries send, shown in --debug, and reported in the
 * Action's log and job summary. Docker Hub's real headers are scripted on a fake (no registry here sends them).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { Readable } from 'node:stream';
import { describeRateLimit, rateLimitOf } from '../../../src/registry/http/rate-limit.js';
import type { HttpResponse } from '../../../src/registry/http/types.js';
import { runAction } from '../../helpers/action.js';
import { lading } from '../../helpers/cli.js';
import { FakeRegistry } from './fake-registry.js';

const res = (headers: Record<string, string>): HttpResponse => ({ status: 200, headers, body: Readable.from([]), url: 'http://x/' });

describe('rateLimitOf', () => {
  it.each([
    ['Docker Hub', { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '76;w=21600' }, { remaining: 76, limit: 100, windowSeconds: 21600 }],
    ['Docker Hub, remaining only', { 'ratelimit-remaining': '0;w=21600' }, { remaining: 0, windowSeconds: 21600 }],
    ['IETF draft 7', { ratelimit: 'limit=100, remaining=50, reset=5', 'ratelimit-policy': '100;w=60' }, { remaining: 50, limit: 100, windowSeconds: 60 }],
    ['IETF draft 8+', { ratelimit: '"default";r=50;t=30', 'ratelimit-policy': '"default";q=100;w=60' }, { remaining: 50, limit: 100, windowSeconds: 60 }],
    ['GitHub style', { 'x-ratelimit-remaining': '4999', 'x-ratelimit-limit': '5000' }, { remaining: 4999, limit: 5000 }],
  ])('%s', (_name, headers, want) => {
    expect(rateLimitOf(res(headers))).toEqual(want);
  });

  it('nothing when no header speaks of it, or the value is not a number', () => {
    expect(rateLimitOf(res({ 'content-type': 'application/json' }))).toBeUndefined();
    expect(rateLimitOf(res({ 'ratelimit-remaining': 'lots' }))).toBeUndefined();
    expect(rateLimitOf(res({ ratelimit: 'reset=5' }))).toBeUndefined();
  });

  it('reads as a sentence', () => {
    expect(describeRateLimit({ remaining: 76, limit: 100, windowSeconds: 21600 })).toBe('76 of 100 left (window 21600 s)');
    expect(describeRateLimit({ remaining: 3 })).toBe('3 left');
  });
});

describe('reported', () => {
  const DIGEST = `sha256:${'a'.repeat(64)}`;
  const hubHeaders = {
    'docker-content-digest': DIGEST,
    'content-type': 'application/vnd.oci.image.manifest.v1+json',
    'content-length': '321',
    'ratelimit-limit': '100;w=21600',
    'ratelimit-remaining': '76;w=21600',
    'docker-ratelimit-source': '203.0.113.9',
  };
  let reg: FakeRegistry | undefined;
  afterEach(async () => {
    await reg?.close();
    reg = undefined;
  });

  it('in the --debug trace on stderr, and nowhere without --debug', async () => {
    reg = await FakeRegistry.start([
      { method: 'HEAD', path: '/v2/library/app/manifests/v1', headers: hubHeaders },
      { method: 'HEAD', path: '/v2/library/app/manifests/v1', headers: hubHeaders },
    ]);
    const env = { DOCKER_CONFIG: '/nonexistent-lading-test-docker-config' };
    const debug = await lading(['resolve', '--plain-http', '--debug', `${reg.host}/library/app:v1`], { env });
    expect(debug.code).toBe(0);
    expect(debug.stderr).toMatch(/\[debug\] HEAD http:\/\/127\.0\.0\.1:\d+\/v2\/library\/app\/manifests\/v1 -> 200 .*ratelimit-limit: 100;w=21600; ratelimit-remaining: 76;w=21600/);
    const quiet = await lading(['resolve', '--plain-http', `${reg.host}/library/app:v1`], { env });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toContain('ratelimit');
    reg.assertDone();
  });

  it('every attempt is in the --debug trace: the 429 and its headers before the retry that succeeds', async () => {
    reg = await FakeRegistry.start([
      { method: 'HEAD', path: '/v2/library/app/manifests/v1', status: 429, headers: { 'retry-after': '0', 'ratelimit-remaining': '0;w=21600' } },
      { method: 'HEAD', path: '/v2/library/app/manifests/v1', headers: hubHeaders },
    ]);
    const env = { DOCKER_CONFIG: '/nonexistent-lading-test-docker-config' };
    const r = await lading(['resolve', '--plain-http', '--debug', `${reg.host}/library/app:v1`], { env });
    expect(r.code).toBe(0);
    const trace = r.stderr.split('\n').filter((l) => l.startsWith('[debug] HEAD'));
    expect(trace).toEqual([
      expect.stringMatching(/-> 429 \(\d+ ms\) \[.*ratelimit-remaining: 0;w=21600; retry-after: 0\]$/),
      expect.stringMatching(/-> 200 \(\d+ ms\) \[.*ratelimit-remaining: 76;w=21600\]$/),
    ]);
    reg.assertDone();
  });

  it("in the Action's log and job summary, as the registry last said it", async () => {
    reg = await FakeRegistry.start([{ method: 'HEAD', path: '/v2/library/app/manifests/v1', headers: hubHeaders }]);
    const r = await runAction({ command: 'resolve', reference: `${reg.host}/library/app:v1`, 'plain-http': 'true' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Rate limit at ${reg.host}: 76 of 100 left (window 21600 s)`);
    expect(r.summary).toContain(`rate limit (${reg.host})`);
    expect(r.summary).toContain('76 of 100 left (window 21600 s)');
    reg.assertDone();
  });

  it('no rate-limit row when the registry sends no such header', async () => {
    const { 'ratelimit-limit': _l, 'ratelimit-remaining': _r, ...plain } = hubHeaders;
    reg = await FakeRegistry.start([{ method: 'HEAD', path: '/v2/library/app/manifests/v1', headers: plain }]);
    const r = await runAction({ command: 'resolve', reference: `${reg.host}/library/app:v1`, 'plain-http': 'true' });
    expect(r.code).toBe(0);
    expect(r.summary).toContain(DIGEST);
    expect(r.summary).not.toContain('rate limit');
    expect(r.stdout).not.toContain('Rate limit');
  });
});
