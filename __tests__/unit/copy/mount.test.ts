/**
 * CASES B26 with a scripted fake: a copy between two repositories of one registry mounts each blob
 * (`POST …/uploads/?mount=&from=`); when the registry answers 202 the upload goes on in that session
 * (no second POST), and when it refuses (401 after a token refresh, 403, 404) one line
 * "mount from X refused; uploading" is logged and the blob is uploaded normally. The copy succeeds
 * every time, with the blob's bytes and digest unchanged.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { copyBlob, copyReference } from '../../../src/ops/copy.js';
import { RegistryTarget } from '../../../src/registry/target.js';
import type { FakeRegistry, Step } from '../registry/fake-registry.js';
import { useFakes } from '../registry/harness.js';

const { fake, client } = useFakes();

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const enc = (d: string) => `sha256%3A${d.slice(7)}`;
const BLOB = Buffer.from('a layer that lives in other/src\n');
const D = sha(BLOB);
const DESC = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: D, size: BLOB.length };
const UPLOADS = '/v2/team/app/blobs/uploads/';
const MOUNT = `${UPLOADS}?mount=${enc(D)}&from=other%2Fsrc`;

/** Source and destination on one fake registry, as two clients (each side has its own, as in the CLI). */
function sides(f: FakeRegistry) {
  const s = client(f);
  const d = client(f);
  const logs: string[] = [];
  return {
    src: new RegistryTarget(s.registry.repository('other/src')),
    dst: new RegistryTarget(d.registry.repository('team/app', { forPush: true })),
    logs,
    log: (l: string) => logs.push(l),
  };
}

const headMissing: Step = { method: 'HEAD', url: `/v2/team/app/blobs/${D}`, status: 404 };
const sourceGet: Step = { method: 'GET', url: `/v2/other/src/blobs/${D}`, headers: { 'content-length': String(BLOB.length) }, body: BLOB };
/** The normal upload after a refusal: a plain POST (no mount), the source streamed into one PUT. */
const plainUpload: Step[] = [
  { method: 'POST', url: UPLOADS, status: 202, headers: { location: `${UPLOADS}u2?_state=plain` } },
  sourceGet,
  { method: 'PUT', url: `${UPLOADS}u2?_state=plain&digest=${enc(D)}`, status: 201, headers: { 'docker-content-digest': D } },
];

/** The PUT that carried the blob: its bytes are the source's. */
function expectUploaded(f: FakeRegistry): void {
  const put = f.seen.filter((s) => s.method === 'PUT');
  expect(put).toHaveLength(1);
  expect(put[0].digest).toBe(D);
  expect(put[0].size).toBe(BLOB.length);
}

describe('B26: cross-repository mount', () => {
  it('201: mounted, nothing uploaded, the source never read', async () => {
    const f = await fake([headMissing, { method: 'POST', url: MOUNT, status: 201, headers: { location: `/v2/team/app/blobs/${D}`, 'docker-content-digest': D } }]);
    const { src, dst, logs, log } = sides(f);
    expect(await copyBlob(src, dst, DESC, { log })).toBe('mounted');
    f.assertDone();
    expect(logs).toEqual([]);
  });

  it('201 naming another digest is not taken as mounted', async () => {
    const f = await fake([headMissing, { method: 'POST', url: MOUNT, status: 201, headers: { 'docker-content-digest': sha('other') } }]);
    const { src, dst } = sides(f);
    await expect(copyBlob(src, dst, DESC)).rejects.toMatchObject({ kind: 'digest-mismatch' });
  });

  it('(a) 202: the upload uses the Location of that session, with no second POST', async () => {
    const f = await fake([
      headMissing,
      { method: 'POST', url: MOUNT, status: 202, headers: { location: `${UPLOADS}u1?_state=from-mount` } },
      sourceGet,
      { method: 'PUT', url: `${UPLOADS}u1?_state=from-mount&digest=${enc(D)}`, status: 201, headers: { 'docker-content-digest': D } },
    ]);
    const { src, dst, logs, log } = sides(f);
    expect(await copyBlob(src, dst, DESC, { log })).toBe('copied');
    f.assertDone();
    expect(f.requests.filter((r) => r.startsWith('POST'))).toEqual([`POST ${MOUNT}`]);
    expectUploaded(f);
    expect(logs).toEqual([]);
  });

  it('(b) 401 after one token refresh: one log line, then a plain POST and upload', async () => {
    const challenge = (origin: string) => ({ 'www-authenticate': `Bearer realm="${origin}/token",service="fake"` });
    const token = (t: string): Step => ({ method: 'GET', path: '/token', body: { token: t } });
    const f = await fake([
      headMissing,
      { method: 'POST', url: MOUNT, status: 401, headers: challenge },
      token('t1'),
      { method: 'POST', url: MOUNT, status: 401, headers: challenge, body: { errors: [{ code: 'DENIED', message: 'no pull access to other/src' }] } },
      // The upload's own scopes (team/app only) need their own token.
      token('t2'),
      ...plainUpload,
    ]);
    const { src, dst, logs, log } = sides(f);
    expect(await copyBlob(src, dst, DESC, { log })).toBe('copied');
    f.assertDone();
    expect(logs).toEqual(['mount from other/src refused; uploading']);
    // The token asked for the mount covered both repositories; the retried mount carried it.
    expect(new URL(f.seen[2].url, 'http://x').searchParams.getAll('scope').sort()).toEqual(['repository:other/src:pull', 'repository:team/app:pull,push']);
    expect(f.seen[3].headers.authorization).toBe('Bearer t1');
    expectUploaded(f);
  });

  it.each([403, 404])('(b, c) %i: one log line, then a plain POST and upload', async (status) => {
    const code = status === 403 ? 'DENIED' : 'BLOB_UNKNOWN';
    const f = await fake([headMissing, { method: 'POST', url: MOUNT, status, body: { errors: [{ code, message: 'refused' }] } }, ...plainUpload]);
    const { src, dst, logs, log } = sides(f);
    expect(await copyBlob(src, dst, DESC, { log })).toBe('copied');
    f.assertDone();
    expect(logs).toEqual(['mount from other/src refused; uploading']);
    expectUploaded(f);
  });

  it('a whole copy whose mount is refused still succeeds, and the tag is written last', async () => {
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
        layers: [DESC],
      }),
    );
    const MD = sha(manifest);
    const OCI = 'application/vnd.oci.image.manifest.v1+json';
    const manifestHeaders = { 'content-type': OCI, 'docker-content-digest': MD, 'content-length': String(manifest.length) };
    const f = await fake([
      { method: 'HEAD', url: '/v2/other/src/manifests/v1', headers: manifestHeaders },
      { method: 'HEAD', url: `/v2/team/app/manifests/${MD}`, status: 404 },
      { method: 'GET', url: `/v2/other/src/manifests/${MD}`, headers: { 'content-type': OCI, 'docker-content-digest': MD }, body: manifest },
      // config: mounted
      { method: 'HEAD', url: `/v2/team/app/blobs/${sha(config)}`, status: 404 },
      { method: 'POST', url: `${UPLOADS}?mount=${enc(sha(config))}&from=other%2Fsrc`, status: 201, headers: { 'docker-content-digest': sha(config) } },
      // layer: refused, uploaded
      headMissing,
      { method: 'POST', url: MOUNT, status: 403, body: { errors: [{ code: 'DENIED' }] } },
      ...plainUpload,
      { method: 'PUT', url: '/v2/team/app/manifests/v1', status: 201, headers: { 'docker-content-digest': MD } },
    ]);
    const { src, dst, logs, log } = sides(f);
    const events: string[] = [];
    const result = await copyReference(src, 'v1', dst, ['v1'], { concurrency: 1, log, onBlob: (e) => e.status !== 'Copying' && events.push(`${e.status} ${e.descriptor.digest}`) });
    f.assertDone();
    expect(result).toEqual({ root: { mediaType: OCI, digest: MD, size: manifest.length }, status: 'copied' });
    expect(events).toEqual([`Mounted ${sha(config)}`, `Copied ${D}`, `Copied ${MD}`]);
    expect(logs).toEqual(['mount from other/src refused; uploading']);
    expect(f.seen.at(-1)?.digest).toBe(MD);
  });
});
