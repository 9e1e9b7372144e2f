/**
 * HTTP_PROXY / NO_PROXY (CASES B18): requests go through a forward proxy unless NO_PROXY names the host,
 * for the registry and for the token realm alike. The proxy here is a small CONNECT proxy (undici tunnels
 * every proxied request) that relays to the real registry, or to a fake registry for a host that does not exist.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { lading } from '../helpers/cli.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';

describe('proxies', () => {
  let reg: RunningRegistry;
  let proxy: http.Server;
  let fake: http.Server;
  let proxyUrl: string;
  const seen: string[] = [];
  beforeAll(async () => {
    reg = await startRegistry();
    // "public.example": a registry whose token service is on a NO_PROXY host.
    fake = http.createServer((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="http://auth.corp.example/token",service="public.example"', 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    proxy = http.createServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      seen.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = net.connect(host === 'public.example' ? (fake.address() as AddressInfo).port : Number(port), '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const server of [proxy, fake]) {
      server?.closeAllConnections();
      await new Promise<void>((r) => server?.close(() => r()));
    }
    await reg?.stop();
  });

  const env = (extra: Record<string, string>) => ({ PATH: process.env.PATH, DOCKER_CONFIG: '/nonexistent-lading-test-docker-config', ...extra });

  it('sends registry requests through HTTP_PROXY (either case)', async () => {
    seen.length = 0;
    const r = await lading(['repo', 'ls', '--plain-http', reg.host], { env: env({ http_proxy: proxyUrl }) });
    expect(r.code).toBe(0);
    expect(seen).toEqual([reg.host]);
  });

  it('connects directly to hosts NO_PROXY names', async () => {
    seen.length = 0;
    const r = await lading(['repo', 'ls', '--plain-http', reg.host], { env: env({ HTTP_PROXY: proxyUrl, NO_PROXY: 'registry.internal,127.0.0.1' }) });
    expect(r.code).toBe(0);
    expect(seen).toEqual([]);
  });

  it('B18: NO_PROXY suffixes, ports and the token realm', async () => {
    const vars = env({ HTTP_PROXY: proxyUrl, NO_PROXY: 'registry.internal,.corp.example' });
    seen.length = 0;
    // Not proxied: the direct connection fails on the name (these hosts do not exist), and the proxy sees nothing.
    for (const host of ['registry.internal', 'registry.internal:5000', 'a.corp.example']) {
      const r = await lading(['repo', 'ls', '--plain-http', host], { env: vars });
      expect(r.code).toBe(7);
    }
    expect(seen).toEqual([]);
    // Proxied: public.example goes through the proxy; its token realm on auth.corp.example does not.
    const r = await lading(['repo', 'tags', '--plain-http', 'public.example/team/app'], { env: vars });
    expect(r.code).toBe(7);
    expect(r.stderr).toContain('auth.corp.example');
    expect(seen).toEqual(['public.example:80']);
  });

  it('uses no proxy when none is set', async () => {
    seen.length = 0;
    expect((await lading(['repo', 'ls', '--plain-http', reg.host], { env: env({}) })).code).toBe(0);
    expect(seen).toEqual([]);
  });
});
