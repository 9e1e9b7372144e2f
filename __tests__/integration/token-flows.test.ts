/**
 * Token auth against the real registry beyond user/password: an OAuth2 refresh (identity) token given
 * on the command line or stored by login (CASES B10), and tokens that expire between requests (B07).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lading } from '../helpers/cli.js';
import { BUSYBOX_V2S2, pushV2s2WithSkopeo } from '../helpers/fixtures.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { tmpDir } from '../helpers/tmp.js';
import { Registry } from '../../src/registry/registry.js';

describe('token flows', () => {
  let reg: RunningRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ mode: 'token' });
    await pushV2s2WithSkopeo(reg, 'hello', 'v1');
  });
  afterAll(async () => reg?.stop());

  it('--identity-token exchanges a refresh token by OAuth2 POST, never as Basic', async () => {
    reg.tokenServer!.refreshTokens.set('refresh-abc-123', reg.username!);
    const before = reg.tokenServer!.requests.length;
    const r = await lading(['resolve', '--plain-http', '--identity-token', 'refresh-abc-123', `${reg.host}/hello:v1`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(BUSYBOX_V2S2.manifest.digest);
    const seen = reg.tokenServer!.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0].method).toBe('POST');
    expect(seen[0].authorization).toBeUndefined();
    expect(Object.fromEntries(seen[0].form!)).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'refresh-abc-123',
      service: reg.tokenServer!.service,
      client_id: 'lading',
      scope: 'repository:hello:pull',
    });
  });

  it('a rejected refresh token fails with exit 3 and does not print the token', async () => {
    const r = await lading(['resolve', '--plain-http', '--identity-token', 'not-a-valid-refresh', `${reg.host}/hello:v1`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^Error: token request POST http:\/\/127\.0\.0\.1:\d+\/token: 401/);
    expect(r.stderr + r.stdout).not.toContain('not-a-valid-refresh');
  });

  it('login stores an identity token as identitytoken, and later commands use it', async () => {
    reg.tokenServer!.refreshTokens.set('stored-refresh-9', reg.username!);
    const dir = tmpDir('lading-idtoken-');
    const env = { ...process.env, DOCKER_CONFIG: dir };
    const login = await lading(['login', '--plain-http', reg.host, '--identity-token-stdin'], { stdin: 'stored-refresh-9\n', env });
    expect(login.code).toBe(0);
    expect(login.stdout).toBe('Login Succeeded\n');
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual({ auths: { [reg.host]: { identitytoken: 'stored-refresh-9' } } });
    const before = reg.tokenServer!.requests.length;
    const tags = await lading(['repo', 'tags', '--plain-http', `${reg.host}/hello`], { env });
    expect(tags.stdout).toBe('v1\n');
    expect(reg.tokenServer!.requests.slice(before).map((q) => q.form?.get('grant_type'))).toEqual(['refresh_token']);
  });

  it('replaces a cached token that the registry refuses as expired, without failing the request', async () => {
    const registry = new Registry(reg.host, reg.host, { plainHttp: true, credentials: async () => ({ username: reg.username!, password: reg.password! }) });
    const repo = registry.repository('hello');
    // Tokens born expired: the registry answers invalid_token; the client caches what it was given.
    reg.tokenServer!.setTokenLifetime(-60);
    try {
      await expect(repo.resolve('v1')).rejects.toMatchObject({ kind: 'unauthorized' });
    } finally {
      reg.tokenServer!.setTokenLifetime(300);
    }
    const before = reg.tokenServer!.requests.length;
    // The cached (expired) token is refused once; a fresh one is fetched and the same request succeeds.
    await expect(repo.resolve('v1')).resolves.toMatchObject({ digest: BUSYBOX_V2S2.manifest.digest });
    expect(reg.tokenServer!.requests.slice(before).map((q) => q.status)).toEqual([200]);
  });
});
