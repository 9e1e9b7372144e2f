import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import type { Dispatcher } from 'undici';
import { AuthTransport, type Credential } from '../../../src/registry/auth/client.js';
import { LadingError } from '../../../src/errors/errors.js';
import { createDispatcher, UndiciTransport } from '../../../src/registry/http/undici-transport.js';
import type { HttpResponse } from '../../../src/registry/http/types.js';
import { FakeServer, type Seen, type Step } from './fake-server.js';

const DA = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const USER = { username: 'user', password: 'pass' };
const BASIC_USER = `Basic ${Buffer.from('user:pass').toString('base64')}`;
const UNAUTHORIZED = { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] };

let dispatcher: Dispatcher;
let base: UndiciTransport;
const servers: FakeServer[] = [];

beforeAll(() => {
  dispatcher = createDispatcher();
  base = new UndiciTransport(dispatcher);
});
afterAll(async () => {
  await dispatcher.close();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function fake(steps: Step[] = []): Promise<FakeServer> {
  const f = await FakeServer.start(steps);
  servers.push(f);
  return f;
}

/** An AuthTransport over the real undici transport, counting credential look-ups and collecting log lines. */
function client(cred: Credential | undefined, extra: { now?: () => number } = {}) {
  const calls: string[] = [];
  const logs: string[] = [];
  const t = new AuthTransport(base, {
    registry: 'registry.example',
    credentials: async (r) => {
      calls.push(r);
      return cred;
    },
    log: (l) => logs.push(l),
    ...extra,
  });
  return { t, calls, logs };
}

const text = async (res: HttpResponse): Promise<string> => {
  let s = '';
  for await (const c of res.body) s += (c as Buffer).toString('utf8');
  return s;
};
const bearer = (params: string): Record<string, string> => ({ 'www-authenticate': `Bearer ${params}` });
const auths = (f: FakeServer): (string | undefined)[] => f.seen.map((s) => s.headers.authorization);
const scopesOf = (s: Seen): string[] => s.query.getAll('scope');

describe('AuthTransport: Bearer challenge and token query', () => {
  test('B01: quoted scope with a comma reaches the token server whole', async () => {
    // The realm lives on the registry itself, as in the case.
    const reg = await fake([
      {
        method: 'GET',
        path: '/v2/team/app/manifests/1.0',
        status: 401,
        headers: (o) => bearer(`realm="${o}/oauth2/token",service="registry.example",scope="repository:team/app:pull,push"`),
        body: UNAUTHORIZED,
      },
      { method: 'GET', path: '/oauth2/token', status: 200, body: { token: 'tok-1' } },
      { method: 'GET', path: '/v2/team/app/manifests/1.0', status: 200, body: 'manifest' },
    ]);
    const { t } = client(undefined);
    const res = await t.do({ method: 'GET', url: `${reg.origin}/v2/team/app/manifests/1.0`, scopes: ['repository:team/app:pull'] });
    expect(res.status).toBe(200);
    expect(await text(res)).toBe('manifest');
    reg.assertDone();
    const tok = reg.seen[1]!;
    expect(Object.fromEntries(tok.query)).toEqual({ service: 'registry.example', scope: 'repository:team/app:pull,push' });
    expect(scopesOf(tok)).toEqual(['repository:team/app:pull,push']);
    expect(tok.url.split('?')[1]!.split('&').sort()).toEqual(['scope=repository%3Ateam%2Fapp%3Apull%2Cpush', 'service=registry.example']);
    expect(auths(reg)).toEqual([undefined, undefined, 'Bearer tok-1']);
  });

  test.each([
    ['B02b', 'Bearer', (o: string) => `realm="${o}/api/v1/token",service=registry.example,scope=""`, '/api/v1/token'],
    ['B02c', 'Bearer', (o: string) => `realm="${o}/token", service="registry.example"`, '/token'],
    ['B02c lower-case scheme', 'bearer', (o: string) => `realm="${o}/token", service="registry.example"`, '/token'],
    ['B02c upper-case scheme', 'BEARER', (o: string) => `realm="${o}/token",service="registry.example"`, '/token'],
  ])('%s: client uses its own scope, no empty scope parameter', async (_name, scheme, header, tokenPath) => {
    const authSrv = await fake([{ method: 'GET', path: tokenPath, status: 200, body: { token: 'tok-b' } }]);
    const reg = await fake([
      { method: 'GET', path: '/v2/team/app/tags/list', status: 401, headers: { 'www-authenticate': `${scheme} ${header(authSrv.origin)}` } },
      { method: 'GET', path: '/v2/team/app/tags/list', status: 200, body: { tags: [] } },
    ]);
    const { t } = client(USER);
    const res = await t.do({ method: 'GET', url: `${reg.origin}/v2/team/app/tags/list`, scopes: ['repository:team/app:pull'] });
    expect(res.status).toBe(200);
    await text(res);
    reg.assertDone();
    authSrv.assertDone();
    const tok = authSrv.seen[0]!;
    expect(tok.query.getAll('service')).toEqual(['registry.example']);
    expect(scopesOf(tok)).toEqual(['repository:team/app:pull']);
    expect(tok.url).not.toMatch(/scope=(&|$)/);
    // The realm is on another host: it gets the Basic credentials of the token flow and nothing else.
    expect(tok.headers.authorization).toBe(BASIC_USER);
    expect(auths(reg)).toEqual([undefined, 'Bearer tok-b']);
  });

  test('B04a: opaque challenge scope "aws" does not throw; own scope kept', async () => {
    const authSrv = await fake([{ method: 'GET', path: '/token/', status: 200, body: { token: 'tok-aws' } }]);
    const reg = await fake();
    reg.expect(
      {
        method: 'GET',
        path: '/v2/team/app/manifests/1.0',
        status: 401,
        headers: bearer(`realm="${authSrv.origin}/token/",service="public.registry.example",scope="aws"`),
      },
      { method: 'GET', path: '/v2/team/app/manifests/1.0', status: 200, body: 'm' },
    );
    const { t } = client(undefined);
    const res = await t.do({ method: 'GET', url: `${reg.origin}/v2/team/app/manifests/1.0`, scopes: ['repository:team/app:pull'] });
    expect(res.status).toBe(200);
    await text(res);
    reg.assertDone();
    authSrv.assertDone();
    const got = scopesOf(authSrv.seen[0]!).sort();
    // Either accepted form of the case: own scope plus "aws" verbatim, or own scope only.
    expect([JSON.stringify(['aws', 'repository:team/app:pull']), JSON.stringify(['repository:team/app:pull'])]).toContain(JSON.stringify(got));
    expect(authSrv.seen[0]!.query.get('service')).toBe('public.registry.example');
    expect(authSrv.seen[0]!.headers.authorization).toBeUndefined();
  });

  test('B04b: ping placeholder scope is not re-wrapped nor reused; read-only pull asks for pull only', async () => {
    const authSrv = await fake([
      { method: 'GET', path: '/token', status: 200, body: { token: 'tok-ping' } },
      { method: 'GET', path: '/token', status: 200, body: { token: 'tok-pull' } },
    ]);
    const challenge = bearer(`realm="${authSrv.origin}/token",service="ghcr.io",scope="repository:user/image:pull"`);
    const reg = await fake([
      { method: 'GET', path: '/v2/', status: 401, headers: challenge },
      { method: 'GET', path: '/v2/', status: 200, body: {} },
      { method: 'GET', path: '/v2/team/app/manifests/1.0', status: 200, body: 'm' },
    ]);
    const { t } = client(undefined);
    const ping = await t.do({ method: 'GET', url: `${reg.origin}/v2/` });
    expect(ping.status).toBe(200);
    await text(ping);
    const res = await t.do({ method: 'GET', url: `${reg.origin}/v2/team/app/manifests/1.0`, scopes: ['repository:team/app:pull'] });
    expect(res.status).toBe(200);
    await text(res);
    reg.assertDone();
    authSrv.assertDone();
    expect(authSrv.seen.map(scopesOf)).toEqual([['repository:user/image:pull'], ['repository:team/app:pull']]);
    expect(Object.fromEntries(authSrv.seen[1]!.query)).toEqual({ scope: 'repository:team/app:pull', service: 'ghcr.io' });
    expect(authSrv.seen.map((s) => s.url).join(' ')).not.toMatch(/repository%3Arepository|push/);
    expect(auths(reg)).toEqual([undefined, 'Bearer tok-ping', 'Bearer tok-pull']);
  });
});

describe('AuthTransport: Basic', () => {
  test.each(['Basic realm=/', 'BASIC realm=/'])('B02a: %s → same request retried with Basic, then sent up front', async (h) => {
    const reg = await fake([
      { method: 'GET', path: '/v2/team/app/manifests/1.0', status: 401, headers: { 'www-authenticate': h }, body: UNAUTHORIZED },
      { method: 'GET', path: '/v2/team/app/manifests/1.0', status: 200, body: 'm1' },
      { method: 'GET', path: '/v2/team/app/blobs/' + DA, status: 200, body: 'b' },
    ]);
    const { t, calls } = client(USER);
    const r1 = await t.do({ method: 'GET', url: `${reg.origin}/v2/team/app/manifests/1.0`, scopes: ['repository:team/app:pull'] });
    expect([r1.status, await text(r1)]).toEqual([200, 'm1']);
    const r2 = await t.do({ method: 'GET', url: `${reg.origin}/v2/team/app/blobs/${DA}`, scopes: ['repository:team/app:pull'] });
    expect([r2.status, await text(r2)]).toEqual([200, 'b']);
    reg.assertDone();
    expect(auths(reg)).toEqual([undefined, BASIC_USER, BASIC_USER]);
    expect(BASIC_USER).toBe('Basic dXNlcjpwYXNz');
    expect(calls).toEqual(['registry.example']);
  });

  test('Basic without credentials: the 401 is returned as is, body intact', async () => {
    const reg = await fake([{ method: 'GET', path: '/v2/team/app/manifests/1.0', status: 401, headers: { 'www-authenticate': 'Basic realm="r"' }, body: UNAUTHORIZED }]);
    const { t } = client(undefined);
    const res = await t.do({ method: 'GET', url: `${reg.origin}/v2/team/app/manifests/1.0` });
    expect(res.status).toBe(401);
    expect(JSON.parse(await text(res))).toEqual(UNAUTHORIZED);
    reg.assertDone();
  });

  test('wrong Basic password: one retry, then the 401; no retry when the same credentials were sent up front', async () => {
    const h = { 'www-authenticate': 'Basic realm="test-basic"' };
    const reg = await fake([
      { method: 'GET', path: '/v2/a/tags/list', status: 401, headers: h },
      { method: 'GET', path: '/v2/a/tags/list', status: 401, headers: h, body: UNAUTHORIZED },
      { method: 'GET', path: '/v2/a/tags/list', status: 401, headers: h, body: UNAUTHORIZED },
    ]);
    const { t } = client(USER);
    const r1 = await t.do({ method: 'GET', url: `${reg.origin}/v2/a/tags/list` });
    expect(r1.status).toBe(401);
    expect(JSON.parse(await text(r1))).toEqual(UNAUTHORIZED);
    const r2 = await t.do({ method: 'GET', url: `${reg.origin}/v2/a/tags/list` });
    expect(r2.status).toBe(401);
    await text(r2);
    reg.assertDone();
    expect(auths(reg)).toEqual([undefined, BASIC_USER, BASIC_USER]);
  });
});

describe('AuthTransport: push scopes (B06) and insufficient_scope', () => {
  test('B06: write verb declares pull,push up front; HEAD and uploads share one token', async () => {
    const authSrv = await fake([{ method: 'GET', path: '/token', status: 200, body: { token: 'tok-pp', expires_in: 300 } }]);
    const ch = bearer(`realm="${authSrv.origin}/token",service="registry.example",scope="repository:team/new-repo:pull"`);
    const reg = await fake([
      { method: 'HEAD', path: `/v2/team/new-repo/blobs/${DA}`, status: 401, headers: ch },
      { method: 'HEAD', path: `/v2/team/new-repo/blobs/${DA}`, status: 404 },
      { method: 'POST', path: '/v2/team/new-repo/blobs/uploads/', status: 202, headers: { location: '/v2/team/new-repo/blobs/uploads/u1?_state=s' } },
      { method: 'PUT', path: '/v2/team/new-repo/blobs/uploads/u1', status: 201 },
    ]);
    const { t, calls } = client(USER);
    const scopes = ['repository:team/new-repo:pull,push'];
    const head = await t.do({ method: 'HEAD', url: `${reg.origin}/v2/team/new-repo/blobs/${DA}`, scopes });
    expect(head.status).toBe(404);
    await text(head);
    const post = await t.do({ method: 'POST', url: `${reg.origin}/v2/team/new-repo/blobs/uploads/`, scopes });
    expect(post.status).toBe(202);
    await text(post);
    const put = await t.do({
      method: 'PUT',
      url: `${reg.origin}/v2/team/new-repo/blobs/uploads/u1?_state=s&digest=${encodeURIComponent(DA)}`,
      body: Buffer.from('hello'),
      scopes,
    });
    expect(put.status).toBe(201);
    await text(put);
    reg.assertDone();
    authSrv.assertDone();
    expect(authSrv.seen.map(scopesOf)).toEqual([['repository:team/new-repo:pull,push']]);
    expect(auths(reg)).toEqual([undefined, 'Bearer tok-pp', 'Bearer tok-pp', 'Bearer tok-pp']);
    expect(reg.seen[3]!.body).toBe('hello');
    expect(calls).toEqual(['registry.example']);
  });

  test('retry refused with insufficient_scope: one refresh with the union of scopes, body re-sent', async () => {
    const authSrv = await fake([
      { method: 'GET', path: '/token', status: 200, body: { token: 'tok-pull' } },
      { method: 'GET', path: '/token', status: 200, body: { token: 'tok-push' } },
    ]);
    const o = authSrv.origin;
    const reg = await fake([
      { method: 'PUT', path: '/v2/team/app/manifests/v1', status: 401, headers: bearer(`realm="${o}/token",service="s",scope="repository:team/app:pull"`) },
      {
        method: 'PUT',
        path: '/v2/team/app/manifests/v1',
        status: 401,
        headers: bearer(`realm="${o}/token",service="s",scope="repository:team/app:push",error="insufficient_scope"`),
      },
      { method: 'PUT', path: '/v2/team/app/manifests/v1', status: 201 },
    ]);
    const { t } = client(undefined);
    const res = await t.do({ method: 'PUT', url: `${reg.origin}/v2/team/app/manifests/v1`, body: '{"m":1}', scopes: ['repository:team/app:pull'] });
    expect(res.status).toBe(201);
    await text(res);
    reg.assertDone();
    authSrv.assertDone();
    expect(authSrv.seen.map(scopesOf)).toEqual([['repository:team/app:pull'], ['repository:team/app:pull,push']]);
    expect(auths(reg)).toEqual([undefined, 'Bearer tok-pull', 'Bearer tok-push']);
    expect(reg.seen.map((s) => s.body)).toEqual(['{"m":1}', '{"m":1}', '{"m":1}']);
  });

  test('refresh happens once: a second insufficient_scope, or any other 401 on the retry, is returned', async () => {
    const authSrv = await fake([
      { method: 'GET', path: '/token', status: 200, body: { token: 't1' } },
      { method: 'GET', path: '/token', status: 200, body: { token: 't2' } },
      { method: 'GET', path: '/token', status: 200, body: { token: 't3' } },
    ]);
    const insufficient = bearer(`realm="${authSrv.origin}/token",service="s",scope="repository:a:push",error="insufficient_scope"`);
    const invalid = bearer(`realm="${authSrv.origin}/token",service="s",error="invalid_token"`);
    const reg = await fake([
      { method: 'GET', path: '/v2/a/tags/list', status: 401, headers: insufficient },
      { method: 'GET', path: '/v2/a/tags/list', status: 401, headers: insufficient },
      { method: 'GET', path: '/v2/a/tags/list', status: 401, headers: insufficient, body: UNAUTHORIZED },
      // second call: pre-authorised with the cached t2; refused as invalid → fresh t3; refused again → returned.
      { method: 'GET', path: '/v2/b/tags/list', status: 401, headers: invalid },
      { method: 'GET', path: '/v2/b/tags/list', status: 401, headers: invalid, body: UNAUTHORIZED },
    ]);
    const { t } = client(undefined);
    const r1 = await t.do({ method: 'GET', url: `${reg.origin}/v2/a/tags/list`, scopes: ['repository:a:pull'] });
    expect(r1.status).toBe(401);
    expect(JSON.parse(await text(r1))).toEqual(UNAUTHORIZED);
    const r2 = await t.do({ method: 'GET', url: `${reg.origin}/v2/b/tags/list`, scopes: ['repository:a:pull,push'] });
    expect(r2.status).toBe(401);
    expect(JSON.parse(await text(r2))).toEqual(UNAUTHORIZED);
    reg.assertDone();
    authSrv.assertDone();
    expect(authSrv.seen.map(scopesOf)).toEqual([['repository:a:pull,push'], ['repository:a:pull,push'], ['repository:a:pull,push']]);
    expect(auths(reg)).toEqual([undefined, 'Bearer t1', 'Bearer t2', 'Bearer t2', 'Bearer t3']);
  });
});

describe('AuthTransport: token lifetime (B07)', () => {
  const T0 = Date.parse('2024-05-01T12:00:00Z');

  test('no expires_in: 60 s assumed, renewed at 90% (54 s), each scope exactly once in every renewal', async () => {
    const authSrv = await fake([
      { method: 'GET', path: '/token', status: 200, body: { token: 't1' } },
      { method: 'GET', path: '/token', status: 200, body: { token: 't2' } },
      { method: 'GET', path: '/token', status: 200, body: { token: 't3' } },
    ]);
    const url = (n: number) => `/v2/team/app/blobs/uploads/u${n}`;
    const reg = await fake([
      { method: 'PATCH', path: url(0), status: 401, headers: bearer(`realm="${authSrv.origin}/token",service="registry.example",scope="repository:team/app:pull,push"`) },
      ...[0, 1, 2, 3, 4].map((n) => ({ method: 'PATCH', path: url(n), status: 202 })),
    ]);
    let clock = T0;
    const { t } = client(undefined, { now: () => clock });
    const scopes = ['repository:team/app:pull,push'];
    const patch = async (n: number) => {
      const r = await t.do({ method: 'PATCH', url: `${reg.origin}${url(n)}`, body: Buffer.from('x'), scopes });
      expect(r.status).toBe(202);
      await text(r);
    };
    await patch(0); // t = 0: challenge, t1
    clock = T0 + 53_999;
    await patch(1); // t1 still fresh
    clock = T0 + 54_001;
    await patch(2); // renewal: t2, valid until 54_001 + 54_000
    clock = T0 + 108_000;
    await patch(3); // t2 still fresh
    clock = T0 + 108_002;
    await patch(4); // renewal: t3
    reg.assertDone();
    authSrv.assertDone();
    expect(auths(reg)).toEqual([undefined, 'Bearer t1', 'Bearer t1', 'Bearer t2', 'Bearer t2', 'Bearer t3']);
    for (const s of authSrv.seen) {
      expect(scopesOf(s)).toEqual(['repository:team/app:pull,push']);
      expect(s.query.getAll('service')).toEqual(['registry.example']);
      expect(s.url.match(/scope=/g)).toHaveLength(1);
    }
  });

  test('issued_at is honoured: lifetime counted from it', async () => {
    const authSrv = await fake([
      { method: 'GET', path: '/token', status: 200, body: { access_token: 't1', expires_in: 100, issued_at: new Date(T0 - 60_000).toISOString() } },
      { method: 'GET', path: '/token', status: 200, body: { token: 't2', expires_in: 100, issued_at: new Date(T0 + 3_600_000).toISOString() } },
      { method: 'GET', path: '/token', status: 200, body: { token: 't3' } },
    ]);
    const reg = await fake([
      { method: 'GET', path: '/v2/a/tags/list', status: 401, headers: bearer(`realm="${authSrv.origin}/token",scope="repository:a:pull"`) },
      ...Array.from({ length: 5 }, () => ({ method: 'GET', path: '/v2/a/tags/list', status: 200, body: {} })),
    ]);
    let clock = T0;
    const { t } = client(undefined, { now: () => clock });
    const get = async () => {
      const r = await t.do({ method: 'GET', url: `${reg.origin}/v2/a/tags/list`, scopes: ['repository:a:pull'] });
      expect(r.status).toBe(200);
      await text(r);
    };
    await get(); // t1, issued 60 s ago, lifetime 100 s → renew at T0 + 30 s
    clock = T0 + 29_999;
    await get();
    clock = T0 + 30_001;
    await get(); // t2: issued_at in the future is not trusted → renew at now + 90 s
    clock = T0 + 30_001 + 89_999;
    await get();
    clock = T0 + 30_001 + 90_001;
    await get(); // t3
    reg.assertDone();
    authSrv.assertDone();
    expect(auths(reg)).toEqual([undefined, 'Bearer t1', 'Bearer t1', 'Bearer t2', 'Bearer t2', 'Bearer t3']);
    expect(authSrv.seen.map((s) => s.query.has('service'))).toEqual([false, false, false]); // service omitted when absent
  });

  test('PUT refused after the token expired server-side: new token, same upload Location, same body', async () => {
    const authSrv = await fake([
      { method: 'GET', path: '/token', status: 200, body: { token: 't1', expires_in: 3600 } },
      { method: 'GET', path: '/token', status: 200, body: { token: 't2', expires_in: 3600 } },
    ]);
    const ch = bearer(`realm="${authSrv.origin}/token",service="registry.example",scope="repository:team/app:pull,push"`);
    const put = '/v2/team/app/blobs/uploads/u1';
    const reg = await fake([
      { method: 'PATCH', path: put, status: 401, headers: ch },
      { method: 'PATCH', path: put, status: 202 },
      { method: 'PUT', path: put, status: 401, headers: bearer(`realm="${authSrv.origin}/token",service="registry.example",error="invalid_token"`) },
      { method: 'PUT', path: put, status: 201 },
    ]);
    const { t } = client(undefined);
    const scopes = ['repository:team/app:pull,push'];
    const r1 = await t.do({ method: 'PATCH', url: `${reg.origin}${put}?_state=a`, body: () => Readable.from([Buffer.from('chunk')]), scopes });
    expect(r1.status).toBe(202);
    await text(r1);
    const r2 = await t.do({ method: 'PUT', url: `${reg.origin}${put}?_state=b&digest=${encodeURIComponent(DA)}`, body: 'tail', scopes });
    expect(r2.status).toBe(201);
    await text(r2);
    reg.assertDone();
    authSrv.assertDone();
    expect(auths(reg)).toEqual([undefined, 'Bearer t1', 'Bearer t1', 'Bearer t2']);
    expect(reg.seen.map((s) => [s.method, s.url, s.body])).toEqual([
      ['PATCH', `${put}?_state=a`, 'chunk'],
      ['PATCH', `${put}?_state=a`, 'chunk'],
      ['PUT', `${put}?_state=b&digest=${encodeURIComponent(DA)}`, 'tail'],
      ['PUT', `${put}?_state=b&digest=${encodeURIComponent(DA)}`, 'tail'],
    ]);
    expect(authSrv.seen.map(scopesOf)).toEqual([scopes, scopes]);
  });
});

describe('AuthTransport: credentials and token forms (B10)', () => {
  const refresh = 'refresh-Secr3t-value';

  test.each([
    ['identityToken', { identityToken: refresh }],
    ['helper "<token>" username', { username: '<token>', password: refresh }],
  ])('B10 %s: OAuth2 refresh-token POST with exact fields, never Basic', async (_n, cred) => {
    // As in the case, the token endpoint is on the registry host itself.
    const reg = await fake([
      {
        method: 'GET',
        path: '/v2/team/app/manifests/1.0',
        status: 401,
        headers: (o) => bearer(`realm="${o}/oauth2/token",service="registry.example",scope="repository:team/app:pull"`),
      },
      { method: 'POST', path: '/oauth2/token', status: 200, body: { access_token: 'acc-1', refresh_token: 'ignored' } },
      { method: 'GET', path: '/v2/team/app/manifests/1.0', status: 200, body: 'm' },
    ]);
    const { t, logs } = client(cred);
    const res = await t.do({ method: 'GET', url: `${reg.origin}/v2/team/app/manifests/1.0`, scopes: ['repository:team/app:pull'] });
    expect(res.status).toBe(200);
    await text(res);
    reg.assertDone();
    const post = reg.seen[1]!;
    expect(post.method).toBe('POST');
    expect(post.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(post.headers.authorization).toBeUndefined();
    expect(post.body).toBe(
      `grant_type=refresh_token&refresh_token=${refresh}&service=registry.example&client_id=lading&scope=repository%3Ateam%2Fapp%3Apull`,
    );
    expect([...new URLSearchParams(post.body)]).toEqual([
      ['grant_type', 'refresh_token'],
      ['refresh_token', refresh],
      ['service', 'registry.example'],
      ['client_id', 'lading'],
      ['scope', 'repository:team/app:pull'],
    ]);
    expect(auths(reg)).toEqual([undefined, undefined, 'Bearer acc-1']);
    expect(logs.join('\n')).not.toContain(refresh);
  });

  test('B10: several scopes go space-joined in one scope field; custom client id', async () => {
    const authSrv = await fake([{ method: 'POST', path: '/oauth2/token', status: 200, body: { access_token: 'acc' } }]);
    const reg = await fake([
      { method: 'GET', path: '/v2/team/app/manifests/1.0', status: 401, headers: bearer(`realm="${authSrv.origin}/oauth2/token",service="registry.example"`) },
      { method: 'GET', path: '/v2/team/app/manifests/1.0', status: 200 },
    ]);
    const t = new AuthTransport(base, { registry: 'registry.example', credentials: async () => ({ identityToken: 'r' }), clientId: 'my-ci' });
    const res = await t.do({
      method: 'GET',
      url: `${reg.origin}/v2/team/app/manifests/1.0`,
      scopes: ['repository:team/base:pull', 'repository:team/app:pull,push'],
    });
    expect(res.status).toBe(200);
    await text(res);
    reg.assertDone();
    authSrv.assertDone();
    expect([...new URLSearchParams(authSrv.seen[0]!.body)]).toEqual([
      ['grant_type', 'refresh_token'],
      ['refresh_token', 'r'],
      ['service', 'registry.example'],
      ['client_id', 'my-ci'],
      ['scope', 'repository:team/app:pull,push repository:team/base:pull'],
    ]);
  });

  test.each([
    ['token only', { token: 'only-token' }, 'only-token'],
    ['access_token only', { access_token: 'only-access' }, 'only-access'],
    ['both', { token: 'tk', access_token: 'ac' }, 'tk'],
  ])('GET token flow accepts %s', async (_n, reply, want) => {
    const authSrv = await fake([{ method: 'GET', path: '/token', status: 200, body: reply }]);
    const reg = await fake([
      { method: 'GET', path: '/v2/a/tags/list', status: 401, headers: bearer(`realm="${authSrv.origin}/token",service="s",scope="repository:a:pull"`) },
      { method: 'GET', path: '/v2/a/tags/list', status: 200 },
    ]);
    const { t } = client(USER);
    const res = await t.do({ method: 'GET', url: `${reg.origin}/v2/a/tags/list` });
    expect(res.status).toBe(200);
    await text(res);
    reg.assertDone();
    authSrv.assertDone();
    expect(auths(reg)).toEqual([undefined, `Bearer ${want}`]);
    expect(authSrv.seen[0]!.headers.authorization).toBe(BASIC_USER);
  });

  test('registryToken is used as the bearer directly, no token server', async () => {
    const authSrv = await fake();
    const reg = await fake([
      { method: 'GET', path: '/v2/a/tags/list', status: 401, headers: bearer(`realm="${authSrv.origin}/token",service="s"`) },
      { method: 'GET', path: '/v2/a/tags/list', status: 200 },
      { method: 'GET', path: '/v2/b/tags/list', status: 200 },
    ]);
    const { t } = client({ registryToken: 'rt-123' });
    for (const p of ['/v2/a/tags/list', '/v2/b/tags/list']) {
      const r = await t.do({ method: 'GET', url: `${reg.origin}${p}`, scopes: ['repository:a:pull'] });
      expect(r.status).toBe(200);
      await text(r);
    }
    reg.assertDone();
    authSrv.assertDone();
    expect(authSrv.seen).toHaveLength(0);
    expect(auths(reg)).toEqual([undefined, 'Bearer rt-123', 'Bearer rt-123']);
  });

  test('token server 401 → unauthorized error with status and message, never the password', async () => {
    const password = 's3cret-pass';
    const authSrv = await fake([
      { method: 'GET', path: '/token', status: 401, body: { details: `invalid username/password: alice:${password}` } },
    ]);
    const reg = await fake([
      { method: 'GET', path: '/v2/a/manifests/1', status: 401, headers: bearer(`realm="${authSrv.origin}/token",service="s",scope="repository:a:pull"`), body: UNAUTHORIZED },
    ]);
    const { t, logs } = client({ username: 'alice', password });
    const err = await t.do({ method: 'GET', url: `${reg.origin}/v2/a/manifests/1`, scopes: ['repository:a:pull'] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LadingError);
    const e = err as LadingError;
    expect(e.kind).toBe('unauthorized');
    expect(e.message).toContain('401');
    expect(e.message).toContain('invalid username/password');
    expect(e.message).toContain(`${authSrv.origin}/token`);
    const basic = Buffer.from(`alice:${password}`).toString('base64');
    for (const secret of [password, basic]) {
      expect(e.message).not.toContain(secret);
      expect(logs.join('\n')).not.toContain(secret);
    }
    reg.assertDone();
    authSrv.assertDone();
    expect(authSrv.seen[0]!.headers.authorization).toBe(`Basic ${basic}`);
  });

  test('credentials are looked up lazily, once per transport', async () => {
    const authSrv = await fake([{ method: 'GET', path: '/token', status: 200, body: { token: 'tk', expires_in: 300 } }]);
    const reg = await fake([
      { method: 'GET', path: '/v2/', status: 200 },
      { method: 'GET', path: '/v2/a/tags/list', status: 401, headers: bearer(`realm="${authSrv.origin}/token",scope="repository:a:pull"`) },
      { method: 'GET', path: '/v2/a/tags/list', status: 200 },
      { method: 'GET', path: '/v2/a/tags/list', status: 200 },
    ]);
    const { t, calls } = client(USER);
    const r0 = await t.do({ method: 'GET', url: `${reg.origin}/v2/` });
    await text(r0);
    expect(calls).toEqual([]); // anonymous success: never asked
    for (let i = 0; i < 2; i++) {
      const r = await t.do({ method: 'GET', url: `${reg.origin}/v2/a/tags/list`, scopes: ['repository:a:pull'] });
      expect(r.status).toBe(200);
      await text(r);
    }
    reg.assertDone();
    authSrv.assertDone();
    expect(calls).toEqual(['registry.example']);
  });
});

describe('AuthTransport: one-shot bodies', () => {
  test('a bare stream body is not re-sent: 401 returned, challenge learnt, next request pre-authorised', async () => {
    const authSrv = await fake([{ method: 'GET', path: '/token', status: 200, body: { token: 'tk' } }]);
    const put = `/v2/team/app/blobs/uploads/u1`;
    const reg = await fake([
      { method: 'PUT', path: put, status: 401, headers: bearer(`realm="${authSrv.origin}/token",service="s",scope="repository:team/app:pull,push"`), body: UNAUTHORIZED },
      { method: 'PUT', path: put, status: 201 },
    ]);
    const { t } = client(undefined);
    const scopes = ['repository:team/app:pull,push'];
    const r1 = await t.do({ method: 'PUT', url: `${reg.origin}${put}`, body: Readable.from([Buffer.from('hello')]), scopes });
    expect(r1.status).toBe(401);
    expect(JSON.parse(await text(r1))).toEqual(UNAUTHORIZED);
    expect(authSrv.seen).toHaveLength(0);
    expect(reg.seen).toHaveLength(1);
    const r2 = await t.do({ method: 'PUT', url: `${reg.origin}${put}`, body: Readable.from([Buffer.from('hello')]), scopes });
    expect(r2.status).toBe(201);
    await text(r2);
    reg.assertDone();
    authSrv.assertDone();
    expect(reg.seen.map((s) => [s.body, s.headers.authorization])).toEqual([
      ['hello', undefined],
      ['hello', 'Bearer tk'],
    ]);
    expect(authSrv.seen.map(scopesOf)).toEqual([scopes]);
  });
});
