import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { LadingError } from '../../../src/errors/errors.js';
import { parseReference, type Reference } from '../../../src/reference/reference.js';
import type { HttpRequest, HttpResponse, Transport } from '../../../src/registry/http/types.js';
import { Registry } from '../../../src/registry/registry.js';

const DA = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const MANIFEST = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: DA, size: 2 }, layers: [] });

/** All five fields, `undefined` where absent. */
const fields = (r: Reference) => ({ registry: r.registry, host: r.host, repository: r.repository, tag: r.tag, digest: r.digest });

/** A bottom transport that answers from a function and records every request: no network. */
type Answer = { status: number; headers?: Record<string, string>; body?: string };
function scripted(answer: (req: HttpRequest) => Answer) {
  const seen: HttpRequest[] = [];
  const transport: Transport = {
    async do(req) {
      seen.push(req);
      const a = answer(req);
      const res: HttpResponse = { status: a.status, headers: a.headers ?? {}, body: Readable.from([Buffer.from(a.body ?? '')]), url: req.url };
      return res;
    },
  };
  return { transport, seen };
}

/** Fetches the reference's manifest through a Registry built from the parsed reference, answering a Bearer challenge. */
async function fetchThroughRegistry(input: string, options: { plainHttp?: boolean } = {}) {
  const ref = parseReference(input);
  const credentialKeys: string[] = [];
  const { transport, seen } = scripted((req): Answer => {
    if (req.url.startsWith('https://auth.example/')) return { status: 200, body: JSON.stringify({ token: 'tok' }) };
    if (!req.headers?.authorization) {
      return { status: 401, headers: { 'www-authenticate': `Bearer realm="https://auth.example/token",service="${ref.host}"` } };
    }
    return { status: 200, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: MANIFEST };
  });
  const registry = new Registry(ref.registry, ref.host, {
    ...options,
    transport,
    retry: { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1 },
    credentials: async (key) => {
      credentialKeys.push(key);
      return undefined;
    },
  });
  await registry.repository(ref.repository).fetchManifest(ref.digest ?? ref.tag!);
  return { ref, registry, urls: seen.map((r) => `${r.method} ${r.url}`), credentialKeys };
}

describe('B12: Docker Hub official images get the library/ namespace', () => {
  const hub = { registry: 'docker.io', host: 'registry-1.docker.io' };
  it.each([
    ['alpine:latest', { ...hub, repository: 'library/alpine', tag: 'latest', digest: undefined }],
    ['docker.io/alpine', { ...hub, repository: 'library/alpine', tag: 'latest', digest: undefined }],
    ['index.docker.io/alpine:3.20', { ...hub, repository: 'library/alpine', tag: '3.20', digest: undefined }],
    ['registry-1.docker.io/alpine', { ...hub, repository: 'library/alpine', tag: 'latest', digest: undefined }],
    ['team/app', { ...hub, repository: 'team/app', tag: 'latest', digest: undefined }],
    ['registry.example/alpine', { registry: 'registry.example', host: 'registry.example', repository: 'alpine', tag: 'latest', digest: undefined }],
  ])('%s', (input, expected) => {
    expect(fields(parseReference(input))).toEqual(expected);
  });

  it.each([
    ['alpine:latest', 'https://registry-1.docker.io/v2/library/alpine/manifests/latest', 'repository:library/alpine:pull'],
    ['docker.io/alpine', 'https://registry-1.docker.io/v2/library/alpine/manifests/latest', 'repository:library/alpine:pull'],
    ['index.docker.io/alpine:3.20', 'https://registry-1.docker.io/v2/library/alpine/manifests/3.20', 'repository:library/alpine:pull'],
    ['registry-1.docker.io/alpine', 'https://registry-1.docker.io/v2/library/alpine/manifests/latest', 'repository:library/alpine:pull'],
    ['team/app', 'https://registry-1.docker.io/v2/team/app/manifests/latest', 'repository:team/app:pull'],
    ['registry.example/alpine', 'https://registry.example/v2/alpine/manifests/latest', 'repository:alpine:pull'],
  ])('%s: requests and token scope use the full names', async (input, manifestUrl, scope) => {
    const { urls, ref } = await fetchThroughRegistry(input);
    const token = new URL(urls[1].slice(4));
    expect(urls).toEqual([`GET ${manifestUrl}`, `GET ${token.toString()}`, `GET ${manifestUrl}`]);
    expect(`${token.origin}${token.pathname}`).toBe('https://auth.example/token');
    expect(token.searchParams.getAll('scope')).toEqual([scope]);
    expect(token.searchParams.getAll('service')).toEqual([ref.host]);
  });
});

describe('B14: registry host detection', () => {
  const hub = { registry: 'docker.io', host: 'registry-1.docker.io' };
  it.each([
    ['homeassistant/home-assistant', { ...hub, repository: 'homeassistant/home-assistant', tag: 'latest', digest: undefined }],
    ['harbor-core/library/alpine:3.11', { ...hub, repository: 'harbor-core/library/alpine', tag: '3.11', digest: undefined }],
    ['localhost/team/app', { registry: 'localhost', host: 'localhost', repository: 'team/app', tag: 'latest', digest: undefined }],
    ['registry.example:5000/app', { registry: 'registry.example:5000', host: 'registry.example:5000', repository: 'app', tag: 'latest', digest: undefined }],
    ['[2001:db8::1]:5000/team/app:1.0', { registry: '[2001:db8::1]:5000', host: '[2001:db8::1]:5000', repository: 'team/app', tag: '1.0', digest: undefined }],
    ['[2001:db8::1]/team/app', { registry: '[2001:db8::1]', host: '[2001:db8::1]', repository: 'team/app', tag: 'latest', digest: undefined }],
    ['REGISTRY.EXAMPLE/team/app', { registry: 'registry.example', host: 'registry.example', repository: 'team/app', tag: 'latest', digest: undefined }],
    [`registry.example/team/app@${DA}`, { registry: 'registry.example', host: 'registry.example', repository: 'team/app', tag: undefined, digest: DA }],
    [`registry.example/team/app:1.0@${DA}`, { registry: 'registry.example', host: 'registry.example', repository: 'team/app', tag: '1.0', digest: DA }],
  ])('%s', (input, expected) => {
    expect(fields(parseReference(input))).toEqual(expected);
  });

  it.each([
    ['2001:db8::1/team/app', 'invalid reference "2001:db8::1/team/app": invalid registry "2001:db8::1": an IPv6 address must be in brackets, with the port outside: [2001:db8::1]:5000'],
    ['ghcr.io/OwnerName/app:1', 'invalid reference "ghcr.io/OwnerName/app:1": repository name must be lowercase ("OwnerName/app")'],
  ])('rejects %s', (input, message) => {
    let err: unknown;
    try {
      parseReference(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LadingError);
    expect((err as LadingError).kind).toBe('usage');
    expect((err as LadingError).message).toBe(message);
  });

  it('[2001:db8::1]:5000: the URL keeps the brackets and the port; credentials are looked up under [2001:db8::1]:5000', async () => {
    const { urls, credentialKeys } = await fetchThroughRegistry('[2001:db8::1]:5000/team/app:1.0');
    expect(urls[0]).toBe('GET https://[2001:db8::1]:5000/v2/team/app/manifests/1.0');
    expect(urls[2]).toBe('GET https://[2001:db8::1]:5000/v2/team/app/manifests/1.0');
    expect(credentialKeys).toEqual(['[2001:db8::1]:5000']);
  });

  it('localhost: http on port 80 by default and with --plain-http; https when plain http is turned off', async () => {
    expect((await fetchThroughRegistry('localhost/team/app')).urls[0]).toBe('GET http://localhost/v2/team/app/manifests/latest');
    expect((await fetchThroughRegistry('localhost/team/app', { plainHttp: true })).urls[0]).toBe('GET http://localhost/v2/team/app/manifests/latest');
    expect((await fetchThroughRegistry('localhost/team/app', { plainHttp: false })).urls[0]).toBe('GET https://localhost/v2/team/app/manifests/latest');
    expect(new Registry('localhost', 'localhost', { transport: scripted(() => ({ status: 200 })).transport }).url('/v2/')).toBe('http://localhost/v2/');
  });

  it('other hosts default to https', async () => {
    expect((await fetchThroughRegistry('registry.example:5000/app:1')).urls[0]).toBe('GET https://registry.example:5000/v2/app/manifests/1');
    expect((await fetchThroughRegistry('[2001:db8::1]/team/app:1')).urls[0]).toBe('GET https://[2001:db8::1]/v2/team/app/manifests/1');
  });
});
