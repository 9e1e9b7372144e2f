/**
 * Upload Locations a registry should not send (break-test of issue 6): a fragment is dropped, not sent with the
 * digest inside it; a Location in another scheme (javascript:, data:, file:, ftp:) is refused as the registry's
 * fault (exit 1), without retries and without a request to it.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lading } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';
import { FakeRegistry } from './fake-registry.js';

const ENV = { DOCKER_CONFIG: '/nonexistent-lading-test-docker-config' };
const DIGEST = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'; // "hello"
const ENCODED = encodeURIComponent(DIGEST);

describe('upload Locations', () => {
  let reg: FakeRegistry | undefined;
  afterEach(async () => {
    await reg?.close();
    reg = undefined;
  });

  function file(): string {
    const f = join(tmpDir('lading-location-'), 'blob.bin');
    writeFileSync(f, 'hello');
    return f;
  }

  it('a fragment is dropped: the PUT carries ?_state and the digest in its query, and nothing shows the fragment', async () => {
    reg = await FakeRegistry.start([
      { method: 'HEAD', path: `/v2/team/app/blobs/${DIGEST}`, status: 404 },
      { method: 'POST', path: '/v2/team/app/blobs/uploads/', status: 202, headers: { location: '/v2/team/app/blobs/uploads/u1?_state=abc#SECRETFRAG' } },
      { method: 'PUT', url: `/v2/team/app/blobs/uploads/u1?_state=abc&digest=${ENCODED}`, status: 201, headers: { 'docker-content-digest': DIGEST } },
    ]);
    const r = await lading(['blob', 'push', '--plain-http', '--debug', `${reg.host}/team/app@${DIGEST}`, file()], { env: ENV });
    expect(r.stderr).not.toContain('SECRETFRAG');
    expect(r.code).toBe(0);
    reg.assertDone();
  });

  it.each(['javascript:alert(1)', 'data:,x', 'file:///etc/passwd', 'ftp://files.example/u1'])('Location %s: refused, exit 1, no retry', async (location) => {
    reg = await FakeRegistry.start([
      { method: 'HEAD', path: `/v2/team/app/blobs/${DIGEST}`, status: 404 },
      { method: 'POST', path: '/v2/team/app/blobs/uploads/', status: 202, headers: { location } },
    ]);
    const r = await lading(['blob', 'push', '--plain-http', `${reg.host}/team/app@${DIGEST}`, file()], { env: ENV });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the registry answered 202 with a Location that is not an http(s) URL (${location.split(':')[0]}:)`);
    reg.assertDone();
  });
});
