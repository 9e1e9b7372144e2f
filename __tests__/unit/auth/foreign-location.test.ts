/**
 * CASES B15/B23c: an upload Location on another host is followed as given, but the registry's credentials never
 * go there (found by a review: Basic credentials reached any host an upload Location named).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lading } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';
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
