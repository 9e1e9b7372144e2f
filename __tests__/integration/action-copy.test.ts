/** The bundled Action's copy: per-side credentials, outputs, and no password in any output. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runAction } from '../helpers/action.js';
import { BUSYBOX_V2S2, pushV2s2WithSkopeo } from '../helpers/fixtures.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';

describe('Action: copy', () => {
  let src: RunningRegistry;
  let dst: RunningRegistry;
  beforeAll(async () => {
    [src, dst] = await Promise.all([startRegistry({ mode: 'htpasswd' }), startRegistry({ mode: 'htpasswd' })]);
    await pushV2s2WithSkopeo(src, 'hello', 'v1');
  });
  afterAll(async () => {
    await Promise.all([src?.stop(), dst?.stop()]);
  });

  it('copies between registries with their own credentials, digest unchanged, secrets never shown', async () => {
    const r = await runAction({
      command: 'copy',
      source: `${src.host}/hello:v1`,
      destination: `${dst.host}/mirror/hello:v1`,
      tags: 'stable',
      'plain-http': 'true',
      'source-username': src.username!,
      'source-password': src.password!,
      'destination-username': dst.username!,
      'destination-password': dst.password!,
    });
    expect(r.stdout).not.toContain('::error::');
    expect(r.code).toBe(0);
    expect(r.outputs.digest).toBe(BUSYBOX_V2S2.manifest.digest);
    expect(r.outputs.reference).toBe(`${dst.host}/mirror/hello@${BUSYBOX_V2S2.manifest.digest}`);
    expect(JSON.parse(r.outputs.json).tags).toEqual(['v1', 'stable']);
    for (const secret of [src.password!, dst.password!]) {
      const lines = r.stdout.split('\n').filter((l) => l.includes(secret));
      expect(lines).toEqual([`::add-mask::${secret}`]);
      expect(r.stderr + r.summary + Object.values(r.outputs).join('\n')).not.toContain(secret);
    }
    expect(r.stdout).not.toMatch(/Using --(from-|to-)?password/);
    const check = await runAction({ command: 'resolve', reference: `${dst.host}/mirror/hello:stable`, username: dst.username!, password: dst.password!, 'plain-http': 'true' });
    expect(check.outputs.digest).toBe(BUSYBOX_V2S2.manifest.digest);
  });

  it('names the side that failed', async () => {
    const r = await runAction({ command: 'copy', source: `${src.host}/hello:v1`, destination: `${dst.host}/mirror/hello:v2`, 'plain-http': 'true', 'source-username': src.username!, 'source-password': src.password!, 'destination-username': dst.username!, 'destination-password': 'wrong-password-x' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/::error::destination 127\.0\.0\.1:\d+\/mirror\/hello: .*401/);
  });

  it('converts a Docker image to OCI and outputs the new digest', async () => {
    const r = await runAction({ command: 'convert', to: 'oci', source: `${src.host}/hello:v1`, destination: `${src.host}/hello:v1-oci`, username: src.username!, password: src.password!, 'plain-http': 'true' });
    expect(r.stdout).not.toContain('::error::');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.outputs.json);
    expect(json.source).toEqual({ digest: BUSYBOX_V2S2.manifest.digest, mediaType: BUSYBOX_V2S2.manifest.mediaType });
    expect(json.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(r.outputs.digest).toBe(json.digest);
    expect(r.outputs.digest).not.toBe(BUSYBOX_V2S2.manifest.digest);
    const check = await runAction({ command: 'manifest-fetch', reference: `${src.host}/hello:v1-oci`, username: src.username!, password: src.password!, 'plain-http': 'true' });
    expect(JSON.parse(check.outputs.json).content.config.mediaType).toBe('application/vnd.oci.image.config.v1+json');
  });

  it('creates an image index and copies a single blob', async () => {
    const creds = { username: src.username!, password: src.password!, 'plain-http': 'true' };
    const idx = await runAction({ command: 'manifest-index-create', reference: `${src.host}/hello:index`, manifests: 'v1', ...creds });
    expect(idx.stdout).not.toContain('::error::');
    expect(idx.outputs['media-type']).toBe('application/vnd.oci.image.index.v1+json');
    expect(JSON.parse(idx.outputs.json).manifests.map((m: { digest: string; platform: unknown }) => [m.digest, m.platform])).toEqual([[BUSYBOX_V2S2.manifest.digest, { architecture: 'amd64', os: 'linux' }]]);
    const blob = await runAction({
      command: 'blob-copy',
      source: `${src.host}/hello@${BUSYBOX_V2S2.config.digest}`,
      destination: `${dst.host}/blobs-only`,
      'plain-http': 'true',
      'source-username': src.username!,
      'source-password': src.password!,
      'destination-username': dst.username!,
      'destination-password': dst.password!,
    });
    expect(blob.stdout).not.toContain('::error::');
    expect(blob.outputs.digest).toBe(BUSYBOX_V2S2.config.digest);
    expect(JSON.parse(blob.outputs.json)).toMatchObject({ digest: BUSYBOX_V2S2.config.digest, size: BUSYBOX_V2S2.config.size });
  });
});
