/**
 * OCI layouts shared with skopeo (an independent implementation of the image-layout spec):
 * what OciLayoutStore writes, skopeo reads; what skopeo writes (folder or oci-archive), the store reads.
 */
import { describe, expect, it } from '@jest/globals';
import { createReadStream, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OciLayoutStore } from '../../src/content/oci-layout/store.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import { run } from '../helpers/exec.js';
import { BUSYBOX_OCI, BUSYBOX_OCI_DIR, BUSYBOX_V2S2, BUSYBOX_V2S2_DIR, ociBlobPath } from '../helpers/fixtures.js';
import { skopeoCopy } from '../helpers/skopeo.js';
import { tmpDir } from '../helpers/tmp.js';
import { readAll, sha256 } from '../unit/oci-layout/helpers.js';

const SKOPEO = process.env.LADING_TEST_SKOPEO_BIN ?? 'skopeo';

async function skopeoInspectRawLayout(layout: string, tag: string): Promise<Buffer> {
  return (await run(SKOPEO, ['--insecure-policy', 'inspect', '--raw', `oci:${layout}:${tag}`])).stdoutBytes;
}

/** Copies one busybox-oci image (config, layers, manifest) into `store` through push, the manifest tagged. */
async function pushImage(store: OciLayoutStore, image: { manifest: Descriptor; config: Descriptor; layers: readonly Descriptor[] }, tag?: string): Promise<void> {
  for (const d of [image.config, ...image.layers]) await store.push(d, () => createReadStream(ociBlobPath(d.digest)));
  const bytes = readFileSync(ociBlobPath(image.manifest.digest));
  if (tag) await store.pushReference(image.manifest, bytes, tag);
  else await store.push(image.manifest, bytes);
}

describe('a layout written by OciLayoutStore', () => {
  it('is read by skopeo: inspect --raw gives the exact manifest, and copy to dir: works', async () => {
    const layout = join(tmpDir('lading-interop-'), 'layout');
    const store = await OciLayoutStore.open(layout);
    await pushImage(store, BUSYBOX_OCI.latest, 'latest');
    await pushImage(store, BUSYBOX_OCI.arm64Variant);
    await store.pushReference(BUSYBOX_OCI.multi, readFileSync(ociBlobPath(BUSYBOX_OCI.multi.digest)), 'multi');

    expect((await skopeoInspectRawLayout(layout, 'latest')).equals(readFileSync(ociBlobPath(BUSYBOX_OCI.latest.manifest.digest)))).toBe(true);
    expect((await skopeoInspectRawLayout(layout, 'multi')).equals(readFileSync(ociBlobPath(BUSYBOX_OCI.multi.digest)))).toBe(true);

    const out = tmpDir('lading-interop-dir-');
    await skopeoCopy(`oci:${layout}:latest`, `dir:${out}`);
    expect(sha256(readFileSync(join(out, 'manifest.json')))).toBe(BUSYBOX_OCI.latest.manifest.digest);
    for (const d of [BUSYBOX_OCI.latest.config, ...BUSYBOX_OCI.latest.layers]) {
      expect(sha256(readFileSync(join(out, d.digest.slice(7))))).toBe(d.digest);
    }

    // skopeo adds a tag to the same layout; both tools' entries are there afterwards
    await skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:arm64-variant`, `oci:${layout}:from-skopeo`);
    expect(await store.tags()).toEqual(['from-skopeo', 'latest', 'multi']);
    expect(await store.resolve('from-skopeo')).toMatchObject(BUSYBOX_OCI.arm64Variant.manifest);
  });
});

describe('a layout written by skopeo', () => {
  it('is read by OciLayoutStore (skopeo copy dir: … oci:PATH:TAG)', async () => {
    const layout = join(tmpDir('lading-interop-'), 'layout');
    await skopeoCopy(`dir:${BUSYBOX_V2S2_DIR}`, `oci:${layout}:v2s2`);
    const store = await OciLayoutStore.open(layout, { readOnly: true });
    expect(await store.tags()).toEqual(['v2s2']);
    const desc = await store.resolve('v2s2');
    expect(desc).toEqual(BUSYBOX_V2S2.manifest);
    const manifest = await readAll(await store.fetch(desc));
    // (skopeo 1.9 cannot inspect the Docker-typed entry it wrote itself, so compare with its source)
    expect(manifest.equals(readFileSync(join(BUSYBOX_V2S2_DIR, 'manifest.json')))).toBe(true);
    for (const d of [BUSYBOX_V2S2.config, ...BUSYBOX_V2S2.layers]) expect(sha256(await readAll(await store.fetch(d)))).toBe(d.digest);
  });

  it('is read by OciLayoutStore (skopeo copy oci: … oci:PATH:TAG), the same manifest skopeo inspects', async () => {
    const layout = join(tmpDir('lading-interop-'), 'layout');
    await skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:latest`, `oci:${layout}:latest`);
    const store = await OciLayoutStore.open(layout, { readOnly: true });
    const desc = await store.resolve('latest');
    expect(desc).toEqual(BUSYBOX_OCI.latest.manifest);
    expect((await readAll(await store.fetch(desc))).equals(await skopeoInspectRawLayout(layout, 'latest'))).toBe(true);
  });

  it('is read by OciLayoutStore from an oci-archive: tar, which close() cleans up', async () => {
    const dir = tmpDir('lading-interop-');
    const archive = join(dir, 'busybox.tar');
    await skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:multi`, `oci-archive:${archive}:multi`, { all: true });
    const extractTo = tmpDir('lading-interop-x-');
    const store = await OciLayoutStore.open(archive, { tempDir: extractTo });
    expect(await store.tags()).toEqual(['multi']);
    expect(await store.resolve('multi')).toEqual(BUSYBOX_OCI.multi);
    const index = JSON.parse((await readAll(await store.fetch(BUSYBOX_OCI.multi))).toString());
    for (const child of index.manifests as Descriptor[]) {
      const m = JSON.parse((await readAll(await store.fetch(child))).toString());
      for (const d of [m.config, ...m.layers] as Descriptor[]) expect(sha256(await readAll(await store.fetch(d)))).toBe(d.digest);
    }
    await store.close();
    expect(readdirSync(extractTo)).toEqual([]);
  });
});
