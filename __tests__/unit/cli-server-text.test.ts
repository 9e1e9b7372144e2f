/**
 * What a hostile or careless registry sends back reaches stderr only scrubbed of every secret in play and with
 * its control characters escaped (src/errors/secrets.ts, src/errors/printable.ts). Scripted fakes, whole CLI.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { lading } from '../helpers/cli.js';
import { FakeServer } from './auth/fake-server.js';

const ENV = { DOCKER_CONFIG: '/nonexistent-lading-test-docker-config' };
const UNAUTHORIZED = { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] };
const MANIFEST = '/v2/team/app/manifests/v1';

let fake: FakeServer | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

/** A 401 asking for a token from the fake's own /token. */
const challenge = { method: 'GET', path: MANIFEST, status: 401, headers: (o: string) => ({ 'www-authenticate': `Bearer realm="${o}/token",service="reg",scope="repository:team/app:pull"` }), body: UNAUTHORIZED };

describe('secrets a server echoes back', () => {
  it('a registry error quoting the bearer token lading got from the token server shows ***', async () => {
    fake = await FakeServer.start([
      challenge,
      { method: 'GET', path: '/token', status: 200, body: { token: 'TOKSECRET123', expires_in: 300 } },
      { method: 'GET', path: MANIFEST, status: 400, body: { errors: [{ code: 'DENIED', message: 'your header was Bearer TOKSECRET123' }] } },
    ]);
    const r = await lading(['manifest', 'fetch', '--plain-http', `${fake.origin.slice(7)}/team/app:v1`, '-u', 'bob', '-p', 'x'], { env: ENV });
    fake.assertDone();
    expect(fake.seen[2]!.headers.authorization).toBe('Bearer TOKSECRET123');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('400 Bad Request: DENIED: your header was Bearer ***');
    expect(r.stderr).not.toContain('TOKSECRET123');
  });

  it('an identity token with / + = that a token server echoes form-encoded is scrubbed (token from stdin)', async () => {
    const token = 'IDTOK/SECRET+1=';
    const echoed = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, service: 'reg', client_id: 'lading' }).toString();
    expect(echoed).toContain('refresh_token=IDTOK%2FSECRET%2B1%3D');
    fake = await FakeServer.start([
      challenge,
      { method: 'POST', path: '/token', status: 400, body: { error: 'invalid_grant', error_description: `cannot use body ${echoed}; raw ${token}; lower IDTOK%2fSECRET%2b1%3d` } },
    ]);
    const r = await lading(['manifest', 'fetch', '--plain-http', `${fake.origin.slice(7)}/team/app:v1`, '--identity-token-stdin'], { env: ENV, stdin: `${token}\n` });
    fake.assertDone();
    expect(new URLSearchParams(fake.seen[1]!.body).get('refresh_token')).toBe(token);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('cannot use body grant_type=refresh_token&refresh_token=***&service=reg');
    expect(r.stderr).not.toContain('IDTOK');
  });

  it('the --debug trace never shows a token the registry echoes in a header', async () => {
    fake = await FakeServer.start([
      challenge,
      { method: 'GET', path: '/token', status: 200, body: { access_token: 'ACCESS-TOKEN-9', expires_in: 300 } },
      { method: 'GET', path: MANIFEST, status: 404, headers: { 'content-type': 'text/plain; token=ACCESS-TOKEN-9' }, body: 'no such manifest for ACCESS-TOKEN-9' },
    ]);
    const r = await lading(['manifest', 'fetch', '--debug', '--plain-http', `${fake.origin.slice(7)}/team/app:v1`, '-u', 'bob', '-p', 'pw-1234'], { env: ENV });
    fake.assertDone();
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/\[debug\] GET .*manifests\/v1 -> 404 .*content-type: text\/plain; token=\*\*\*/);
    expect(r.stderr).not.toContain('ACCESS-TOKEN-9');
  });
});

describe('control characters in server text', () => {
  it('an error message with ESC, CR, LF is one escaped line: no fake status line, no workflow command', async () => {
    const message = '\u001b[31mdenied\r\nFAKE: Pushed ok\n::error::pwned\u009b2J';
    fake = await FakeServer.start([{ method: 'GET', path: MANIFEST, status: 400, body: { errors: [{ code: 'DENIED', message }] } }]);
    const r = await lading(['manifest', 'fetch', '--plain-http', `${fake.origin.slice(7)}/team/app:v1`], { env: ENV });
    fake.assertDone();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('DENIED: \\x1b[31mdenied\\r\\nFAKE: Pushed ok\\n::error::pwned\\u009b2J');
    expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(r.stderr.split('\n').filter((l) => /^(FAKE|::)/.test(l))).toEqual([]);
  });

  it('a plain-text error body is escaped too', async () => {
    fake = await FakeServer.start([{ method: 'GET', path: MANIFEST, status: 400, body: 'oops\r\n::warning::injected' }]);
    const r = await lading(['manifest', 'fetch', '--plain-http', `${fake.origin.slice(7)}/team/app:v1`], { env: ENV });
    fake.assertDone();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('400 Bad Request: oops\\r\\n::warning::injected');
    expect(r.stderr.split('\n').filter((l) => l.startsWith('::'))).toEqual([]);
  });

  it('the final error line escapes ESC and other controls even in lading\'s own messages (defence in depth)', async () => {
    const r = await lading(['manifest', 'fetch', 'localhost:5000/team/app:\u001b[2Kv1\r'], { env: ENV });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('\\x1b[2K');
    expect(r.stderr).not.toMatch(/[\u001b\r]/);
  });
});

describe('--debug trace of challenges', () => {
  it('a Basic realm is free text, shown as it is (printable), not as "<invalid url>"', async () => {
    fake = await FakeServer.start([{ method: 'GET', path: MANIFEST, status: 401, headers: { 'www-authenticate': 'Basic realm="Registry Realm"' }, body: UNAUTHORIZED }]);
    const r = await lading(['manifest', 'fetch', '--debug', '--plain-http', `${fake.origin.slice(7)}/team/app:v1`], { env: ENV });
    fake.assertDone();
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('www-authenticate: Basic realm="Registry Realm"');
    expect(r.stderr).not.toContain('<invalid url>');
  });
});
