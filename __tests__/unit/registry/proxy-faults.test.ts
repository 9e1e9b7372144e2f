/**
 * Proxies that misbehave (break-test of issue 6): a proxy that closes every CONNECT, one that accepts CONNECT and
 * never answers, one that does not speak HTTP. Each fails within the retry count and LADING_HTTP_TIMEOUT, with a
 * message naming the proxy (never its credentials) and exit 7: undici alone reconnects for ever to a proxy that
 * closes the tunnel request (thousands of CONNECTs a second, no error).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import net, { type AddressInfo } from 'node:net';
import { createDispatcher } from '../../../src/registry/http/undici-transport.js';
import { lading } from '../../helpers/cli.js';
import { FakeRegistry } from './fake-registry.js';

const ENV = { DOCKER_CONFIG: '/nonexistent-lading-test-docker-config' };

type Mode = 'close' | 'hang' | 'garbage' | '407';

/** A TCP server playing a proxy: counts the connections (each carries one CONNECT) and misbehaves as told. */
async function badProxy(mode: Mode): Promise<{ url: string; port: number; connects: () => number; close: () => Promise<void> }> {
  let connects = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('data', () => {
      connects++;
      if (mode === 'close') socket.destroy();
      else if (mode === 'garbage') socket.end('SSH-2.0-OpenSSH_9.2\r\n\r\n');
      else if (mode === '407') socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n\r\n');
      // 'hang': read the CONNECT and never answer
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connects: () => connects,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('a proxy that misbehaves fails the request, naming the proxy', () => {
  let proxy: Awaited<ReturnType<typeof badProxy>> | undefined;
  let reg: FakeRegistry | undefined;
  afterEach(async () => {
    await proxy?.close();
    await reg?.close();
    proxy = undefined;
    reg = undefined;
  });

  it('closing every CONNECT: a few attempts (the retry count), then exit 7; credentials in the proxy URL never shown', async () => {
    proxy = await badProxy('close');
    reg = await FakeRegistry.start([]);
    const started = Date.now();
    const r = await lading(['resolve', '--plain-http', '--debug', `${reg.host}/a/b:c`], {
      env: { ...ENV, HTTP_PROXY: `http://alice:pr0xy-s3cret@127.0.0.1:${proxy.port}`, LADING_HTTP_TIMEOUT: '5' },
    });
    expect(r.code).toBe(7);
    expect(r.stderr).toContain(`the proxy http://127.0.0.1:${proxy.port}/ (HTTPS_PROXY/HTTP_PROXY) closed the connection before opening a tunnel`);
    expect(r.stderr).toContain('check the proxy, or exempt the host with NO_PROXY');
    expect(r.stderr).not.toContain('pr0xy-s3cret');
    expect(r.stderr).not.toContain('alice');
    // One CONNECT per attempt: 1 + 3 retries (undici alone sent tens of thousands and never failed).
    expect(proxy.connects()).toBe(4);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(reg.seen).toEqual([]);
  }, 30_000);

  it('accepting CONNECT and never answering: each attempt ends after LADING_HTTP_TIMEOUT, then exit 7', async () => {
    proxy = await badProxy('hang');
    reg = await FakeRegistry.start([]);
    const started = Date.now();
    const r = await lading(['resolve', '--plain-http', `${reg.host}/a/b:c`], { env: { ...ENV, HTTP_PROXY: proxy.url, LADING_HTTP_TIMEOUT: '1' } });
    expect(r.code).toBe(7);
    expect(r.stderr).toContain(`the proxy http://127.0.0.1:${proxy.port}/ (HTTPS_PROXY/HTTP_PROXY) did not answer CONNECT in time (LADING_HTTP_TIMEOUT)`);
    expect(proxy.connects()).toBe(4);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 40_000);

  it('answering something that is not HTTP: named as the proxy, exit 7', async () => {
    proxy = await badProxy('garbage');
    reg = await FakeRegistry.start([]);
    const r = await lading(['resolve', '--plain-http', `${reg.host}/a/b:c`], { env: { ...ENV, http_proxy: proxy.url, LADING_HTTP_TIMEOUT: '5' } });
    expect(r.code).toBe(7);
    expect(r.stderr).toContain(`the proxy http://127.0.0.1:${proxy.port}/ (HTTPS_PROXY/HTTP_PROXY) did not answer in HTTP`);
  }, 30_000);

  it('answering CONNECT with 407: named, with the credentials advice, not retried (exit 7)', async () => {
    proxy = await badProxy('407');
    reg = await FakeRegistry.start([]);
    const r = await lading(['resolve', '--plain-http', `${reg.host}/a/b:c`], { env: { ...ENV, HTTP_PROXY: proxy.url } });
    expect(r.code).toBe(7);
    expect(r.stderr).toContain(
      `the proxy http://127.0.0.1:${proxy.port}/ (HTTPS_PROXY/HTTP_PROXY) refused to open a tunnel to ${reg.host} (407): it wants credentials (http://user:password@host:port in the variable)`,
    );
    expect(proxy.connects()).toBe(1);
  });

  it('a proxy host name that does not resolve is named as the proxy', async () => {
    reg = await FakeRegistry.start([]);
    const r = await lading(['resolve', '--plain-http', `${reg.host}/a/b:c`], { env: { ...ENV, HTTP_PROXY: 'http://proxy.invalid:3128', LADING_HTTP_TIMEOUT: '5' } });
    expect(r.code).toBe(7);
    expect(r.stderr).toContain('the proxy http://proxy.invalid:3128/ (HTTPS_PROXY/HTTP_PROXY): host not found');
    expect(reg.seen).toEqual([]);
  }, 30_000);
});

describe('proxy variables', () => {
  it.each([
    ['http://u:p@proxy.example:3128/path?x=1', 'a proxy URL has no path, query or fragment'],
    ['http://proxy.example:3128/#frag', 'a proxy URL has no path, query or fragment'],
    ['http://u:%zz@proxy.example:3128', 'bad percent-encoding in its user name or password'],
    ['socks5://proxy.example:1080', 'socks5: proxies are http:// or https:// (no SOCKS)'],
  ])('HTTP_PROXY=%s is a usage error (%s), never echoing the password', (value, why) => {
    let error: (Error & { kind?: string }) | undefined;
    try {
      createDispatcher({}, { HTTP_PROXY: value });
    } catch (e) {
      error = e as Error & { kind?: string };
    }
    expect(error?.kind).toBe('usage');
    expect(error?.message).toContain('invalid HTTP_PROXY (or http_proxy)');
    expect(error?.message).toContain(why);
    expect(error?.message).not.toContain('%zz');
  });

  it('an empty lower-case variable does not hide a set upper-case one (no_proxy= with NO_PROXY=*)', async () => {
    const proxy = await badProxy('close');
    const reg = await FakeRegistry.start([{ method: 'HEAD', path: '/v2/a/b/manifests/c', status: 404 }]);
    try {
      const r = await lading(['resolve', '--plain-http', `${reg.host}/a/b:c`], { env: { ...ENV, HTTP_PROXY: proxy.url, no_proxy: '', NO_PROXY: '*' } });
      expect(r.code).toBe(4);
      expect(proxy.connects()).toBe(0);
      const viaProxy = await lading(['resolve', '--plain-http', `${reg.host}/a/b:c`], { env: { ...ENV, http_proxy: '', HTTP_PROXY: proxy.url, LADING_HTTP_TIMEOUT: '5' } });
      expect(viaProxy.code).toBe(7);
      expect(proxy.connects()).toBeGreaterThan(0);
    } finally {
      await proxy.close();
      await reg.close();
    }
  }, 30_000);
});
