/** What the real registry cannot show: a registry that serves wrong bytes, or fails once. Scripted fakes, exact expectations. */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { lading } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { FakeServer } from './auth/fake-server.js';

const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
let fake: FakeServer | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

describe('verification at the CLI', () => {
  it('blob fetch of bytes that do not match the digest exits 5 and leaves nothing at the output path', async () => {
    const digest = sha('the real content');
    fake = await FakeServer.start([
      { method: 'GET', path: `/v2/team/app/blobs/${digest}`, status: 200, body: 'tampered content', headers: { 'content-type': 'application/octet-stream' } },
      // The GET named no size (chunked): the size is asked with HEAD, so the body is bounded.
      { method: 'HEAD', path: `/v2/team/app/blobs/${digest}`, status: 200, headers: { 'content-length': '16' } },
    ]);
    const dir = tmpDir('lading-verify-');
    const out = join(dir, 'blob.bin');
    const r = await lading(['blob', 'fetch', '--plain-http', `${fake.origin.slice(7)}/team/app@${digest}`, '--output', out]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`digest mismatch: expected ${digest}, got ${sha('tampered content')}`);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
    fake.assertDone();
  });

  it('blob fetch to stdout of a short body exits 5 (never 0 for unverified bytes)', async () => {
    const content = 'twelve bytes';
    fake = await FakeServer.start([{ method: 'GET', path: `/v2/team/app/blobs/${sha(content)}`, status: 200, body: 'twelve', headers: { 'content-length': '6' } }]);
    const r = await lading(['blob', 'fetch', '--plain-http', `${fake.origin.slice(7)}/team/app@${sha(content)}`, '--output', '-']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/digest mismatch/);
  });

  it('manifest fetch by digest of other bytes exits 5', async () => {
    const body = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] });
    const wanted = sha('{"something":"else"}');
    fake = await FakeServer.start([{ method: 'GET', path: `/v2/team/app/manifests/${wanted}`, status: 200, body, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } }]);
    const r = await lading(['manifest', 'fetch', '--plain-http', `${fake.origin.slice(7)}/team/app@${wanted}`]);
    expect(r.code).toBe(5);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`content digest is ${sha(body)}`);
  });

  it('a registry that answers 500 then 200 is retried and the command succeeds', async () => {
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha('{}'), size: 2 }, layers: [] });
    fake = await FakeServer.start([
      { method: 'HEAD', path: '/v2/team/app/manifests/v1', status: 500, body: { errors: [{ code: 'UNKNOWN', message: 'boom' }] } },
      { method: 'HEAD', path: '/v2/team/app/manifests/v1', status: 200, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': sha(manifest), 'content-length': String(manifest.length) } },
    ]);
    const r = await lading(['resolve', '--plain-http', `${fake.origin.slice(7)}/team/app:v1`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${sha(manifest)}\n`);
    expect(r.stderr).toMatch(/HEAD .*manifests\/v1: 500; retrying in \d+\.\ds \(attempt 2 of 4\)/);
    fake.assertDone();
  });

  it('a blob body longer than its size (no Content-Length, HEAD says 4) stops with exit 5, nothing written', async () => {
    const digest = sha('abcd');
    fake = await FakeServer.start([
      { method: 'GET', path: `/v2/team/app/blobs/${digest}`, status: 200, body: 'abcd'.repeat(1000) },
      { method: 'HEAD', path: `/v2/team/app/blobs/${digest}`, status: 200, headers: { 'content-length': '4' } },
    ]);
    const dir = tmpDir('lading-endless-');
    const r = await lading(['blob', 'fetch', '--plain-http', `${fake.origin.slice(7)}/team/app@${digest}`, '--output', join(dir, 'out')]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('more data than the expected 4 bytes');
    expect(readdirSync(dir)).toEqual([]);
  });
});
