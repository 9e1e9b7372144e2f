/**
 * CASES B15/B23c: an upload Location on another host is followed as given, but the registry's credentials never
 * go there (found by a review: Basic credentials reached any host an upload Location named).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lading } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';
import { Registry } from '../../../src/registry/registry.js';
import { FakeRegistry } from '../registry/fake-registry.js';

const ENV = { DOCKER_CONFIG: '/nonexistent-lading-test-docker-config' };
const BASIC = { 'www-authenticate': 'Basic realm="test"' };
const AUTH = `Basic ${Buffer.from('alice:s3cr3tPW').toString('base64')}`;

describe('an upload Location on another host', () => {
  const fakes: FakeRegistry[] = [];
  afterEach(async () => {
    await Promise.all(fakes.splice(0).map((f) => f.close()));
  });

  it('gets no Authorization, even when it asks for Basic credentials; the upload fails as unauthorised (exit 3)', async () => {
    const foreign = await FakeRegistry.start([
      { method: 'PUT', path: '/upload/u1', status: 401, headers: BASIC, body: { errors: [{ code: 'UNAUTHORIZED' }] } },
      // The failed upload's session is deleted (best effort), without credentials either.
      { method: 'DELETE', path: '/upload/u1', status: 401, headers: BASIC, body: { errors: [{ code: 'UNAUTHORIZED' }] } },
    ]);
    fakes.push(foreign);
    const digest = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
    const reg = await FakeRegistry.start([
      { method: 'HEAD', path: `/v2/team/app/blobs/${digest}`, status: 401, headers: BASIC },
      { method: 'HEAD', path: `/v2/team/app/blobs/${digest}`, status: 404 },
      { method: 'POST', path: '/v2/team/app/blobs/uploads/', status: 202, headers: { location: `${foreign.origin}/upload/u1?_state=abc` } },
    ]);
    fakes.push(reg);
    const file = join(tmpDir('lading-foreign-'), 'blob.bin');
    writeFileSync(file, 'hello');
    const r = await lading(['blob', 'push', '--plain-http', '-u', 'alice', '-p', 's3cr3tPW', `${reg.host}/team/app@${digest}`, file], { env: ENV });
    expect(r.code).toBe(3);
    reg.assertDone();
    foreign.assertDone();
    // The registry got the credentials; the other host never did.
    expect(reg.seen.slice(1).map((s) => s.headers.authorization)).toEqual([AUTH, AUTH]);
    expect(foreign.seen.map((s) => s.headers.authorization)).toEqual([undefined, undefined]);
    expect(r.stderr).not.toContain('s3cr3tPW');
  });
});

describe('a redirect target (a CDN) that answers 401 or 403', () => {
  const fakes: FakeRegistry[] = [];
  afterEach(async () => {
    await Promise.all(fakes.splice(0).map((f) => f.close()));
  });
  const digest = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';

  async function registryRedirectingTo(cdn: FakeRegistry): Promise<FakeRegistry> {
    const reg = await FakeRegistry.start([
      { method: 'GET', path: `/v2/team/app/blobs/${digest}`, status: 401, headers: BASIC },
      { method: 'GET', path: `/v2/team/app/blobs/${digest}`, status: 307, headers: { location: `${cdn.origin}/data?verify=SIGNED` } },
    ]);
    fakes.push(reg);
    return reg;
  }

  it("a Bearer challenge naming its own realm gets neither the registry's credentials nor a token request", async () => {
    // The registry's scheme is already known (Basic, from a first request), so the CDN's 401 comes back to the
    // first attempt of the second request: the case where a challenge used to be followed wherever it came from.
    const evil = await FakeRegistry.start([]);
    const cdn = await FakeRegistry.start([{ method: 'GET', path: '/data', status: 401, headers: { 'www-authenticate': `Bearer realm="${evil.origin}/token",service="evil"` } }]);
    fakes.push(evil, cdn);
    const reg = await FakeRegistry.start([
      { method: 'HEAD', path: `/v2/team/app/blobs/${digest}`, status: 401, headers: BASIC },
      { method: 'HEAD', path: `/v2/team/app/blobs/${digest}`, headers: { 'content-length': '5' } },
      { method: 'GET', path: `/v2/team/app/blobs/${digest}`, status: 307, headers: { location: `${cdn.origin}/data?verify=SIGNED` } },
      { method: 'HEAD', path: `/v2/team/app/blobs/${digest}`, headers: { 'content-length': '5' } },
    ]);
    fakes.push(reg);
    const registry = new Registry('registry.example', reg.host, { plainHttp: true, credentials: async () => ({ username: 'alice', password: 's3cr3tPW' }), retry: { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1 } });
    const repo = registry.repository('team/app');
    expect(await repo.statBlob(digest)).toMatchObject({ size: 5 });
    const err = await repo.fetchBlob(digest, 5).then(() => undefined, (e: Error & { kind?: string }) => e);
    expect(err).toMatchObject({ kind: 'unauthorized' });
    expect(evil.seen).toEqual([]);
    expect(cdn.seen.map((s) => s.headers.authorization)).toEqual([undefined]);
    // The registry is still authorised as it was (Basic), not switched to the CDN's Bearer realm.
    expect(await repo.statBlob(digest)).toMatchObject({ size: 5 });
    expect(reg.seen.at(-1)!.headers.authorization).toBe(AUTH);
    reg.assertDone();
    cdn.assertDone();
  });

  it('an XML error page (S3-style, echoing the key and signature) is not shown', async () => {
    const xml = '<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code><AWSAccessKeyId>AKIASECRETKEYID</AWSAccessKeyId><SignatureProvided>deadbeefSECRETSIG</SignatureProvided></Error>';
    const cdn = await FakeRegistry.start([{ method: 'GET', path: '/data', status: 403, headers: { 'content-type': 'application/xml' }, body: xml }]);
    fakes.push(cdn);
    const reg = await registryRedirectingTo(cdn);
    const out = join(tmpDir('lading-foreign-'), 'blob.bin');
    const r = await lading(['blob', 'fetch', '--plain-http', '-u', 'alice', '-p', 's3cr3tPW', `${reg.host}/team/app@${digest}`, '-o', out], { env: ENV });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('(an XML or HTML error page, not shown)');
    expect(r.stderr).not.toContain('AKIASECRETKEYID');
    expect(r.stderr).not.toContain('SECRETSIG');
  });

  it("--debug hides the query values of a token realm, in the challenge and in the auth line", async () => {
    const reg = await FakeRegistry.start([]);
    fakes.push(reg);
    reg.expect(
      { method: 'HEAD', path: '/v2/team/app/manifests/v1', status: 401, headers: (o) => ({ 'www-authenticate': `Bearer realm="${o}/token?sig=REALMSECRET",service="svc"` }) },
      { method: 'GET', path: '/token', body: { token: 't1' } },
      {
        method: 'HEAD',
        path: '/v2/team/app/manifests/v1',
        headers: { 'docker-content-digest': digest, 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': '10' },
      },
    );
    const r = await lading(['resolve', '--plain-http', '--debug', `${reg.host}/team/app:v1`], { env: ENV });
    expect(r.code).toBe(0);
    reg.assertDone();
    expect(r.stderr).toContain('sig=REDACTED');
    expect(r.stderr).not.toContain('REALMSECRET');
  });
});
