/**
 * Checks the integration-test harness itself (registry modes, token server, skopeo seeding, fixtures) with plain
 * undici requests, never project code, so that a failure here points at the harness, not at lading.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, fetch, type Response } from 'undici';
import { BUSYBOX_OCI, BUSYBOX_V2S2, BUSYBOX_V2S2_DIR, ociBlobPath, pushV2s2WithSkopeo } from '../helpers/fixtures.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { skopeoManifestDigest } from '../helpers/skopeo.js';
import { createJwtSigner, decodeJwt, type RunningTokenServer } from '../helpers/token-server.js';

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const ORAS_E2E = fileURLToPath(new URL('../fixtures/oras-e2e', import.meta.url));

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

async function json(response: Response): Promise<unknown> {
  return JSON.parse(await response.text()) as unknown;
}

/** GET the token server's realm like a docker client: `?service=&scope=` with optional Basic auth. */
async function fetchToken(server: RunningTokenServer, scopes: string[], authorization?: string, dispatcher?: Agent): Promise<Response> {
  const url = new URL(server.realm);
  url.searchParams.set('service', server.service);
  for (const scope of scopes) url.searchParams.append('scope', scope);
  return fetch(url, { headers: authorization ? { authorization } : {}, dispatcher });
}

async function tokenFor(server: RunningTokenServer, scopes: string[], authorization?: string): Promise<string> {
  const response = await fetchToken(server, scopes, authorization);
  expect(response.status).toBe(200);
  const body = (await json(response)) as { token: string; access_token: string; expires_in: number; issued_at: string };
  expect(body.access_token).toBe(body.token);
  return body.token;
}

describe('fixtures', () => {
  it('hold the bytes of the known digests', () => {
    expect(sha256(readFileSync(join(BUSYBOX_V2S2_DIR, 'manifest.json')))).toBe(BUSYBOX_V2S2.manifest.digest);
    for (const descriptor of [BUSYBOX_V2S2.config, ...BUSYBOX_V2S2.layers]) {
      const bytes = readFileSync(join(BUSYBOX_V2S2_DIR, descriptor.digest.slice('sha256:'.length)));
      expect({ digest: sha256(bytes), size: bytes.length }).toEqual({ digest: descriptor.digest, size: descriptor.size });
    }
    for (const descriptor of [BUSYBOX_OCI.latest.manifest, BUSYBOX_OCI.arm64Variant.manifest, BUSYBOX_OCI.multi, BUSYBOX_OCI.arm64Variant.config]) {
      const bytes = readFileSync(ociBlobPath(descriptor.digest));
      expect({ digest: sha256(bytes), size: bytes.length }).toEqual({ digest: descriptor.digest, size: descriptor.size });
    }
  });
});

describe('plain registry', () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(() => registry?.stop());

  it('answers GET /v2/ with 200 on 127.0.0.1', async () => {
    expect(registry.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(registry.url).toBe(`http://${registry.host}`);
    const response = await fetch(`${registry.url}/v2/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    await response.text();
  });

  it('is seeded by skopeo with the expected Docker manifest digest', async () => {
    expect(await pushV2s2WithSkopeo(registry, 'seed/busybox', 'v1')).toBe(BUSYBOX_V2S2.manifest.digest);
    const response = await fetch(`${registry.url}/v2/seed/busybox/manifests/v1`, { method: 'HEAD', headers: { accept: DOCKER_MANIFEST } });
    expect(response.status).toBe(200);
    expect(response.headers.get('docker-content-digest')).toBe(BUSYBOX_V2S2.manifest.digest);
  });

  it('stop() ends the process and removes its files', async () => {
    const other = await startRegistry();
    await other.stop();
    await expect(fetch(`${other.url}/v2/`)).rejects.toThrow();
    expect(() => readFileSync(other.logFile)).toThrow();
  });
});

describe('registry options', () => {
  it('relativeUrls and deleteEnabled=false reach the config', async () => {
    const registry = await startRegistry({ relativeUrls: true, deleteEnabled: false });
    try {
      const upload = await fetch(`${registry.url}/v2/opts/repo/blobs/uploads/`, { method: 'POST' });
      expect(upload.status).toBe(202);
      expect(upload.headers.get('location')).toMatch(/^\/v2\/opts\/repo\/blobs\/uploads\//);
      const del = await fetch(`${registry.url}/v2/opts/repo/blobs/${BUSYBOX_V2S2.config.digest}`, { method: 'DELETE' });
      expect(del.status).toBe(405);
      await del.text();
    } finally {
      await registry.stop();
    }
  });

  it('serves a copy of a Distribution storage root with a given htpasswd file', async () => {
    const registry = await startRegistry({
      mode: 'htpasswd',
      storage: `${ORAS_E2E}/storage/zot-on-distribution`,
      htpasswdFile: `${ORAS_E2E}/zot/passwd_bcrypt`,
      username: 'hello',
      password: 'oras-test',
    });
    try {
      const response = await fetch(`${registry.url}/v2/_catalog`, { headers: { authorization: basic('hello', 'oras-test') } });
      expect(response.status).toBe(200);
      const body = (await json(response)) as { repositories: string[] };
      expect(body.repositories.length).toBeGreaterThan(0);
    } finally {
      await registry.stop();
    }
  });
});

describe('htpasswd registry', () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ mode: 'htpasswd' });
  });
  afterAll(() => registry?.stop());

  it('challenges with Basic realm="test-basic" and accepts the generated user', async () => {
    expect(registry.username).toBe('tester');
    expect(registry.password).toBeTruthy();
    const anonymous = await fetch(`${registry.url}/v2/`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Basic realm="test-basic"');
    await anonymous.text();
    const wrong = await fetch(`${registry.url}/v2/`, { headers: { authorization: basic('tester', 'wrong') } });
    expect(wrong.status).toBe(401);
    await wrong.text();
    const ok = await fetch(`${registry.url}/v2/`, { headers: { authorization: basic(registry.username!, registry.password!) } });
    expect(ok.status).toBe(200);
    await ok.text();
  });

  it('is seeded by skopeo with credentials', async () => {
    expect(await pushV2s2WithSkopeo(registry, 'busybox', 'v2s2')).toBe(BUSYBOX_V2S2.manifest.digest);
  });
});

describe('tls registry', () => {
  let registry: RunningRegistry;
  let trusting: Agent;
  beforeAll(async () => {
    registry = await startRegistry({ mode: 'tls' });
    trusting = new Agent({ connect: { ca: readFileSync(registry.caFile!, 'utf8') } });
  });
  afterAll(async () => {
    await trusting?.close();
    await registry?.stop();
  });

  it('is reachable over https with the generated CA', async () => {
    expect(registry.url).toBe(`https://${registry.host}`);
    const response = await fetch(`${registry.url}/v2/`, { dispatcher: trusting });
    expect(response.status).toBe(200);
    await response.text();
    const byName = await fetch(`https://localhost:${registry.host.split(':')[1]}/v2/`, { dispatcher: trusting });
    expect(byName.status).toBe(200);
    await byName.text();
  });

  it('is rejected without the CA', async () => {
    const untrusting = new Agent();
    try {
      await expect(fetch(`${registry.url}/v2/`, { dispatcher: untrusting })).rejects.toThrow();
    } finally {
      await untrusting.close();
    }
  });

  it('is seeded by skopeo verifying the CA', async () => {
    expect(await pushV2s2WithSkopeo(registry, 'busybox', 'tls')).toBe(BUSYBOX_V2S2.manifest.digest);
  });
});

describe('token registry (x5c)', () => {
  let registry: RunningRegistry;
  let server: RunningTokenServer;
  beforeAll(async () => {
    registry = await startRegistry({ mode: 'token' });
    server = registry.tokenServer!;
    await pushV2s2WithSkopeo(registry, 'team/app', 'v1');
  });
  afterAll(() => registry?.stop());

  it('challenges with Bearer realm and service', async () => {
    const response = await fetch(`${registry.url}/v2/`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(`Bearer realm="${server.realm}",service="oci-test-registry"`);
    await response.text();
    const tags = await fetch(`${registry.url}/v2/team/app/tags/list`);
    expect(tags.status).toBe(401);
    expect(tags.headers.get('www-authenticate')).toContain('scope="repository:team/app:pull"');
    await tags.text();
  });

  it('accepts a token for the user and lists the seeded tag', async () => {
    const token = await tokenFor(server, ['repository:team/app:pull'], basic(registry.username!, registry.password!));
    const { header, claims } = decodeJwt(token);
    expect(header).toMatchObject({ alg: 'RS256' });
    expect(header.x5c).toHaveLength(1);
    expect(claims).toMatchObject({
      iss: 'lading-test-issuer',
      sub: 'tester',
      aud: 'oci-test-registry',
      access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }],
    });
    const response = await fetch(`${registry.url}/v2/team/app/tags/list`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ name: 'team/app', tags: ['v1'] });

    const recorded = server.requests.find((r) => r.method === 'GET' && r.query.getAll('scope').includes('repository:team/app:pull'));
    expect(recorded?.authorization).toMatch(/^Basic /);
    expect(recorded?.query.get('service')).toBe('oci-test-registry');
  });

  it('gives anonymous callers a token with no access (insufficient_scope)', async () => {
    const token = await tokenFor(server, ['repository:team/app:pull']);
    expect(decodeJwt(token).claims.access).toEqual([]);
    const response = await fetch(`${registry.url}/v2/team/app/tags/list`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    await response.text();
  });

  it('answers a wrong password with 401 UNAUTHORIZED', async () => {
    const response = await fetchToken(server, ['repository:team/app:pull'], basic('tester', 'wrong'));
    expect(response.status).toBe(401);
    expect(await json(response)).toEqual({ errors: [{ code: 'UNAUTHORIZED', message: 'invalid credentials' }] });
  });

  it('rejects a token signed by another key (invalid_token)', async () => {
    const foreign = await createJwtSigner('foreign signer');
    const token = foreign.token({ subject: 'tester', access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }] });
    const response = await fetch(`${registry.url}/v2/team/app/tags/list`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
    await response.text();
  });

  it('supports the OAuth2 password and refresh_token grants', async () => {
    const password = await fetch(server.realm, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'password',
        service: server.service,
        client_id: 'lading-test',
        access_type: 'offline',
        scope: 'repository:team/app:pull registry:catalog:*',
        username: registry.username!,
        password: registry.password!,
      }),
    });
    expect(password.status).toBe(200);
    const first = (await json(password)) as { access_token: string; refresh_token?: string; expires_in: number; issued_at: string };
    expect(first.refresh_token).toBeTruthy();
    expect(server.refreshTokens.get(first.refresh_token!)).toBe('tester');
    expect(first.expires_in).toBe(300);

    const catalog = await fetch(`${registry.url}/v2/_catalog`, { headers: { authorization: `Bearer ${first.access_token}` } });
    expect(catalog.status).toBe(200);
    expect(await json(catalog)).toEqual({ repositories: ['team/app'] });

    const refresh = await fetch(server.realm, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', service: server.service, refresh_token: first.refresh_token!, scope: 'repository:team/app:pull' }),
    });
    expect(refresh.status).toBe(200);
    const second = (await json(refresh)) as { access_token: string };
    const tags = await fetch(`${registry.url}/v2/team/app/tags/list`, { headers: { authorization: `Bearer ${second.access_token}` } });
    expect(tags.status).toBe(200);
    await tags.text();
    expect(server.requests.filter((r) => r.method === 'POST').map((r) => r.form?.get('grant_type'))).toEqual(['password', 'refresh_token']);

    const unknown = await fetch(server.realm, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'nope' }) });
    expect(unknown.status).toBe(401);
    await unknown.text();
  });

  it('issues expired tokens when the lifetime is negative', async () => {
    server.setTokenLifetime(-3600);
    try {
      const token = server.issueToken('tester', [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
      const response = await fetch(`${registry.url}/v2/team/app/tags/list`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
      await response.text();
    } finally {
      server.setTokenLifetime(300);
    }
  });
});

describe('token registry (kid)', () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ mode: 'token', tokenServer: { signing: 'kid' } });
  });
  afterAll(() => registry?.stop());

  it('accepts kid-signed tokens and rejects a foreign kid', async () => {
    const server = registry.tokenServer!;
    const token = await tokenFor(server, ['registry:catalog:*'], basic(registry.username!, registry.password!));
    const { header } = decodeJwt(token);
    expect(header.kid).toBe(server.keyId);
    expect(header.kid).toMatch(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    expect(header.x5c).toBeUndefined();
    const response = await fetch(`${registry.url}/v2/_catalog`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ repositories: [] });

    const foreign = await createJwtSigner('foreign signer');
    const bad = foreign.token({ signing: 'kid', subject: 'tester', access: [{ type: 'registry', name: 'catalog', actions: ['*'] }] });
    const rejected = await fetch(`${registry.url}/v2/_catalog`, { headers: { authorization: `Bearer ${bad}` } });
    expect(rejected.status).toBe(401);
    expect(rejected.headers.get('www-authenticate')).toContain('error="invalid_token"');
    await rejected.text();
  });
});

describe('token registry over TLS', () => {
  it('serves registry and token server over https, seeded by skopeo', async () => {
    const registry = await startRegistry({ mode: 'token', tls: true });
    try {
      expect(registry.url).toMatch(/^https:/);
      expect(registry.tokenServer!.realm).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/token$/);
      expect(await pushV2s2WithSkopeo(registry, 'busybox', 'v1')).toBe(BUSYBOX_V2S2.manifest.digest);
      expect(await skopeoManifestDigest(registry, `busybox@${BUSYBOX_V2S2.manifest.digest}`)).toBe(BUSYBOX_V2S2.manifest.digest);
      expect(registry.tokenServer!.requests.some((r) => r.query.getAll('scope').some((s) => s.startsWith('repository:busybox:')))).toBe(true);
    } finally {
      await registry.stop();
    }
  });
});
