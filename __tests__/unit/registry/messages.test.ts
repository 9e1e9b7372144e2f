/**
 * What a user reads when the network or its settings fail: each message names the cause (a proxy, a timeout, a
 * closed connection, a wait longer than lading makes) and the exit code is the README's (issue 6 review).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDispatcher, proxyError } from '../../../src/registry/http/undici-transport.js';
import { redactUrl, RetryTransport } from '../../../src/registry/http/retry.js';
import type { HttpRequest, Transport } from '../../../src/registry/http/types.js';
import { lading } from '../../helpers/cli.js';
import { FakeRegistry } from './fake-registry.js';

const ENV = { DOCKER_CONFIG: '/nonexistent-lading-test-docker-config' };

/** A transport that fails every request with a connection-level error of `code`. */
function failing(code: string, extra: Record<string, unknown> = {}): Transport {
  return {
    async do() {
      throw Object.assign(new Error(`socket error ${code}`), { code, ...extra });
    },
  };
}

async function failureOf(transport: Transport, req: HttpRequest) {
  const retry = new RetryTransport(transport, { policy: { maxRetries: 1, baseDelayMs: 1, maxDelayMs: 10 }, sleep: async () => undefined });
  return retry.do(req).then(
    () => undefined,
    (e: Error & { kind?: string }) => e,
  );
}

describe('connection failures, in words', () => {
  const put: HttpRequest = { method: 'PUT', url: 'http://registry.example/v2/a/blobs/uploads/u?_state=x', body: Buffer.alloc(10) };

  it('EPIPE while sending a body is the registry or a proxy closing the connection (network, exit 7), with the --chunk-size hint', async () => {
    const e = await failureOf(failing('EPIPE', { syscall: 'write' }), put);
    expect(e).toMatchObject({ kind: 'network' });
    expect(e!.message).toBe(
      'PUT http://registry.example/v2/a/blobs/uploads/u?_state=x: the connection was closed while the request body was being sent (a registry or proxy that refuses large bodies may close the connection: try --chunk-size)',
    );
  });

  it('a chunk (PATCH) closed mid-body gets no --chunk-size hint: lading is already sending chunks', async () => {
    const e = await failureOf(failing('EPIPE', { syscall: 'write' }), { method: 'PATCH', url: 'http://registry.example/v2/a/blobs/uploads/u', body: Buffer.alloc(10) });
    expect(e!.message).toBe('PATCH http://registry.example/v2/a/blobs/uploads/u: the connection was closed while the request body was being sent');
  });

  it('timeouts name LADING_HTTP_TIMEOUT instead of undici text', async () => {
    const headers = await failureOf(failing('UND_ERR_HEADERS_TIMEOUT'), { method: 'GET', url: 'http://registry.example/v2/' });
    expect(headers!.message).toBe('GET http://registry.example/v2/: no response headers in time (LADING_HTTP_TIMEOUT)');
    const body = await failureOf(failing('UND_ERR_BODY_TIMEOUT'), { method: 'GET', url: 'http://registry.example/v2/' });
    expect(body!.message).toBe('GET http://registry.example/v2/: the response body stalled (LADING_HTTP_TIMEOUT)');
  });

  it('a reset on plain HTTP gets no client-certificate advice; on HTTPS it does', async () => {
    const plain = await failureOf(failing('ECONNRESET'), { method: 'GET', url: 'http://registry.example/v2/' });
    expect(plain!.message).not.toContain('--cert-file');
    const tls = await failureOf(failing('ECONNRESET'), { method: 'GET', url: 'https://registry.example/v2/' });
    expect(tls!.message).toContain('--cert-file and --key-file');
  });

  it('a refused connection names the proxy only when it was the proxy (not a registry name resolved to an address)', async () => {
    const proxied = proxyError(Object.assign(new Error('connect ECONNREFUSED 10.0.0.9:3128'), { code: 'ECONNREFUSED', address: '10.0.0.9', port: 3128 }), 'http://10.0.0.9:3128/');
    const viaProxy = await failureOf({ do: async () => Promise.reject(proxied) }, { method: 'GET', url: 'http://registry.example:5000/v2/' });
    expect(viaProxy!.message).toBe('GET http://registry.example:5000/v2/: the proxy http://10.0.0.9:3128/ (HTTPS_PROXY/HTTP_PROXY) refused the connection; check the proxy, or exempt the host with NO_PROXY');
    expect(viaProxy!.kind).toBe('network');
    // registry.example resolved to 10.0.0.9: its own address, no proxy involved.
    const resolved = await failureOf(failing('ECONNREFUSED', { address: '10.0.0.9', port: 5000 }), { method: 'GET', url: 'http://registry.example:5000/v2/' });
    expect(resolved!.message).toContain('nothing is listening there');
    expect(resolved!.message).not.toContain('proxy');
    const direct = await failureOf(failing('ECONNREFUSED', { address: '127.0.0.1', port: 5000 }), { method: 'GET', url: 'http://localhost:5000/v2/' });
    expect(direct!.message).toContain('nothing is listening there');
  });

  it('retry lines say what happened in words', async () => {
    const lines: string[] = [];
    const retry = new RetryTransport(failing('UND_ERR_BODY_TIMEOUT'), { policy: { maxRetries: 1, baseDelayMs: 1, maxDelayMs: 10 }, sleep: async () => undefined, log: (l) => lines.push(l) });
    await retry.do({ method: 'GET', url: 'http://registry.example/v2/' }).catch(() => undefined);
    expect(lines).toEqual([expect.stringMatching(/^GET http:\/\/registry\.example\/v2\/: the response body stalled \(LADING_HTTP_TIMEOUT\); retrying in /)]);
  });
});

describe('URLs in messages', () => {
  it("shorten an upload's long opaque state and still hide signatures", () => {
    const state = 'A'.repeat(300);
    expect(redactUrl(`http://r.example/v2/a/blobs/uploads/u?_state=${state}&X-Amz-Signature=abc`)).toBe(
      'http://r.example/v2/a/blobs/uploads/u?_state=AAAAAAAAAAAA...&X-Amz-Signature=REDACTED',
    );
    expect(redactUrl('http://r.example/v2/a/blobs/uploads/u?_state=short')).toBe('http://r.example/v2/a/blobs/uploads/u?_state=short');
    // A CDN's signed URL (Docker Hub's Cloudflare blobs use verify=): every value that is not the API's own is hidden.
    expect(redactUrl('https://cdn.example/data?verify=1708012345-SECRETHMAC%3D&expires=1&hdnts=exp~acl~hmac')).toBe(
      'https://cdn.example/data?verify=REDACTED&expires=REDACTED&hdnts=REDACTED',
    );
    expect(redactUrl('https://u:p@r.example/v2/a/tags/list?n=10&last=v1&digest=sha256%3Aab')).toBe('https://r.example/v2/a/tags/list?n=10&last=v1&digest=sha256%3Aab');
  });
});

describe('proxy settings', () => {
  it.each(['127.0.0.1:3128', 'not a url', 'ftp://proxy.example'])('HTTP_PROXY=%s is a usage error naming the variable', (value) => {
    expect(() => createDispatcher({}, { HTTP_PROXY: value })).toThrow(expect.objectContaining({ kind: 'usage', message: expect.stringContaining('invalid HTTP_PROXY') }));
  });

  it('the CLI exits 2 on a proxy URL without a scheme, before any request', async () => {
    const r = await lading(['resolve', '--plain-http', '127.0.0.1:9/a/b:c'], { env: { ...ENV, https_proxy: 'proxy.example:3128' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid HTTPS_PROXY (or https_proxy)');
  });

  it('a proxy that is not there is named as the proxy (exit 7)', async () => {
    // A port that was just free: nothing listens there.
    const server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const reg = await FakeRegistry.start([]);
    try {
      const r = await lading(['resolve', '--plain-http', `${reg.host}/a/b:c`], { env: { ...ENV, HTTP_PROXY: `http://127.0.0.1:${port}` } });
      expect(r.code).toBe(7);
      expect(r.stderr).toContain(`the proxy http://127.0.0.1:${port}/ (HTTPS_PROXY/HTTP_PROXY) refused the connection; check the proxy, or exempt the host with NO_PROXY`);
      expect(r.stderr).toContain(`HEAD http://${reg.host}/v2/a/b/manifests/c: the proxy http://127.0.0.1:${port}/ (HTTPS_PROXY/HTTP_PROXY) refused the connection; retrying in`);
      expect(reg.seen).toEqual([]);
    } finally {
      await reg.close();
    }
  });
});

describe('waits lading will not make', () => {
  let reg: FakeRegistry | undefined;
  afterEach(async () => {
    await reg?.close();
    reg = undefined;
  });

  it('a 429 asking for more than 60 s says so, and fails at once with exit 6', async () => {
    reg = await FakeRegistry.start([
      { method: 'HEAD', path: '/v2/a/b/manifests/c', status: 429, headers: { 'retry-after': '120', 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1767225600' } },
    ]);
    const r = await lading(['resolve', '--plain-http', '--debug', `${reg.host}/a/b:c`], { env: ENV });
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(`HEAD http://${reg.host}/v2/a/b/manifests/c: 429; the registry asks to wait 120 s, more than the 60 s lading waits: not retrying`);
    expect(r.stderr).toMatch(/\[debug\] HEAD .* -> 429 .*x-ratelimit-limit: 60; x-ratelimit-remaining: 0; x-ratelimit-reset: 1767225600; retry-after: 120/);
    reg.assertDone();
  });
});

describe('flags', () => {
  it('copy --chunk-size points at --to-chunk-size', async () => {
    const r = await lading(['cp', '--chunk-size', '1MiB', 'a/b:c', 'd/e:f'], { env: ENV });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown flag: --chunk-size (did you mean --to-chunk-size?)');
  });
});

describe('manifests addressed by a sha512 digest', () => {
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: `sha256:${'4'.repeat(64)}`, size: 2 }, layers: [] }));
  const sha512 = `sha512:${createHash('sha512').update(body).digest('hex')}`;
  const headers = { 'content-type': 'application/vnd.oci.image.manifest.v1+json' };
  let reg: FakeRegistry | undefined;
  afterEach(async () => {
    await reg?.close();
    reg = undefined;
  });

  it('are fetched when the bytes hash to that sha512 digest', async () => {
    reg = await FakeRegistry.start([{ method: 'GET', path: `/v2/a/b/manifests/${sha512}`, headers, body }]);
    const r = await lading(['manifest', 'fetch', '--plain-http', `${reg.host}/a/b@${sha512}`], { env: ENV });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(body.toString());
  });

  it('are refused (exit 5) when they do not', async () => {
    const other = Buffer.concat([body, Buffer.from(' ')]);
    reg = await FakeRegistry.start([{ method: 'GET', path: `/v2/a/b/manifests/${sha512}`, headers, body: other }]);
    const r = await lading(['manifest', 'fetch', '--plain-http', `${reg.host}/a/b@${sha512}`], { env: ENV });
    expect(r.code).toBe(5);
    expect(r.stdout).toBe('');
  });
});
