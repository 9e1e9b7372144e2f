/**
 * The ORAS 0.15 walkthrough, end to end, with lading against two real Distribution registries:
 * fetch a Docker image's manifest and blobs from one ("Docker Hub"), push them to another, rewrite the
 * manifest to OCI, push it, read it back, check it with skopeo, run its busybox binary, tag and list.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { lading } from '../helpers/cli.js';
import { BUSYBOX_V2S2, BUSYBOX_V2S2_DIR, pushV2s2WithSkopeo } from '../helpers/fixtures.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { skopeoCopyToDir } from '../helpers/skopeo.js';
import { tmpDir } from '../helpers/tmp.js';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('ORAS walkthrough with lading', () => {
  let hub: RunningRegistry;
  let dest: RunningRegistry;
  let work: string;
  beforeAll(async () => {
    [hub, dest] = await Promise.all([startRegistry(), startRegistry()]);
    await pushV2s2WithSkopeo(hub, 'library/hello-world', 'latest');
    work = tmpDir('lading-walkthrough-');
  });
  afterAll(async () => {
    await Promise.all([hub?.stop(), dest?.stop()]);
  });

  it('moves a Docker image to another registry as OCI, readable and runnable by other tools', async () => {
    const P = ['--plain-http'];
    // 1. The manifest, byte for byte as stored.
    const m = await lading(['manifest', 'fetch', ...P, `${hub.host}/library/hello-world@${BUSYBOX_V2S2.manifest.digest}`]);
    expect(m.stderr).toBe('');
    expect(m.code).toBe(0);
    expect(m.stdoutBytes.equals(readFileSync(join(BUSYBOX_V2S2_DIR, 'manifest.json')))).toBe(true);
    const manifest = JSON.parse(m.stdout);

    // 2. Config and layers to files, verified.
    const blobs = [manifest.config, ...manifest.layers] as Array<{ digest: string; size: number }>;
    for (const b of blobs) {
      const r = await lading(['blob', 'fetch', ...P, `${hub.host}/library/hello-world@${b.digest}`, '--output', join(work, b.digest.slice(7))]);
      expect(r.code).toBe(0);
      const bytes = readFileSync(join(work, b.digest.slice(7)));
      expect(bytes.length).toBe(b.size);
      expect(sha256(bytes)).toBe(b.digest);
    }

    // 3. Push blobs: with a digest in the reference (tag ignored), and without one.
    const [config, ...layers] = blobs;
    const withDigest = await lading(['blob', 'push', ...P, `${dest.host}/oras-repo/hello-world:latest@${config.digest}`, join(work, config.digest.slice(7))]);
    expect(withDigest.code).toBe(0);
    expect(withDigest.stdout.trim()).toBe(`Digest: ${config.digest}`);
    for (const l of layers) {
      const r = await lading(['blob', 'push', ...P, `${dest.host}/oras-repo/hello-world`, join(work, l.digest.slice(7))]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(`Digest: ${l.digest}`);
      expect(r.stderr).toContain('Pushed');
    }
    // Pushing again reports Exists and uploads nothing.
    const again = await lading(['blob', 'push', ...P, `${dest.host}/oras-repo/hello-world`, join(work, layers[0].digest.slice(7))]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('Exists');

    // 4. Rewrite the media types Docker → OCI and push the manifest.
    const oci = JSON.parse(JSON.stringify(manifest));
    oci.mediaType = 'application/vnd.oci.image.manifest.v1+json';
    oci.config.mediaType = 'application/vnd.oci.image.config.v1+json';
    for (const l of oci.layers) l.mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip';
    const manifestFile = join(work, 'hello-manifest.json');
    writeFileSync(manifestFile, JSON.stringify(oci, null, 2));
    const pushed = await lading(['manifest', 'push', ...P, `${dest.host}/oras-repo/hello-world:latest`, manifestFile]);
    expect(pushed.code).toBe(0);
    const expectedDigest = sha256(readFileSync(manifestFile));
    expect(pushed.stdout.trim()).toBe(`Digest: ${expectedDigest}`);

    // 5. Read it back: OCI types, same digest; skopeo copies it; the binary runs.
    const back = await lading(['manifest', 'fetch', ...P, '--format', 'json', `${dest.host}/oras-repo/hello-world:latest`]);
    expect(back.code).toBe(0);
    const json = JSON.parse(back.stdout);
    expect(json.digest).toBe(expectedDigest);
    expect(json.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(json.content.config.mediaType).toBe('application/vnd.oci.image.config.v1+json');
    const skopeoDir = join(work, 'skopeo');
    await skopeoCopyToDir(dest, 'oras-repo/hello-world:latest', skopeoDir);
    expect(sha256(readFileSync(join(skopeoDir, 'manifest.json')))).toBe(expectedDigest);
    const rootfs = join(work, 'rootfs');
    mkdirSync(rootfs);
    execFileSync('tar', ['-xzf', join(skopeoDir, layers[0].digest.slice(7)), '-C', rootfs]);
    expect(readdirSync(join(rootfs, 'bin'))).toContain('busybox');
    const out = execFileSync(join(rootfs, 'bin', 'busybox'), ['echo', 'hello from lading'], { encoding: 'utf8' });
    expect(out.trim()).toBe('hello from lading');

    // 6. Several tags at once, then the sorted list.
    const tagged = await lading(['tag', ...P, `${dest.host}/oras-repo/hello-world:latest`, 'v1.0.0', 'v2.0.0']);
    expect(tagged.code).toBe(0);
    const tags = await lading(['repo', 'tags', ...P, `${dest.host}/oras-repo/hello-world`]);
    expect(tags.code).toBe(0);
    expect(tags.stdout).toBe('latest\nv1.0.0\nv2.0.0\n');
    const alias = await lading(['repo', 'show-tags', ...P, '--format', 'json', `${dest.host}/oras-repo/hello-world`]);
    expect(JSON.parse(alias.stdout)).toEqual({ repository: `${dest.host}/oras-repo/hello-world`, tags: ['latest', 'v1.0.0', 'v2.0.0'] });
    for (const t of ['v1.0.0', 'v2.0.0']) {
      const r = await lading(['resolve', ...P, `${dest.host}/oras-repo/hello-world:${t}`]);
      expect(r.stdout.trim()).toBe(expectedDigest);
    }
  });
});
