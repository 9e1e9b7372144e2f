/**
 * `copy`, `copy --all-tags` and `blob copy` against real registries (Distribution 2.8) and OCI layouts:
 *
 * - the Docker-format busybox (seeded by skopeo) and the multi-platform busybox OCI index copied
 *   registry→registry, registry→layout, layout→registry and layout→layout with every digest unchanged,
 *   `DST,TAG2,TAG3`, `--platform` picking one child;
 * - one registry, two repositories: every blob mounted (`POST …?mount=` → 201 in the access log, no
 *   blob PUT); a second identical copy reports Exists and writes nothing (access log);
 * - per-side credentials (htpasswd source, token destination) and errors naming the side that failed;
 *   a mount the registry refuses (the destination user may not read the source repository: 401) falls
 *   back to an upload (CASES B26);
 * - `-r` with the ORAS e2e data (SBOM and signature chain, an index with referrers on its children):
 *   discover on the destination shows the same graph;
 * - a source that disappears mid-copy (a scripted fake source): an error naming the source, the exit
 *   code of its kind, and no tag at the destination.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type http from 'node:http';
import { join } from 'node:path';
import { lading, type CliResult } from '../helpers/cli.js';
import { BUSYBOX_OCI, BUSYBOX_OCI_DIR, BUSYBOX_V2S2, DIGEST_CONFIG_ARM64, DIGEST_CONFIG_LATEST, DIGEST_LAYER0, DIGEST_LAYER1, FIXTURES_DIR, pushV2s2WithSkopeo } from '../helpers/fixtures.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { skopeoCopy } from '../helpers/skopeo.js';
import { tmpDir } from '../helpers/tmp.js';
import { FakeRegistry } from '../unit/registry/fake-registry.js';

const FP = '--from-plain-http';
const TP = '--to-plain-http';
const ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');
const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const E2E = join(FIXTURES_DIR, 'oras-e2e');
/** ORAS e2e artifacts (see oras-e2e.test.ts): foobar ← sbom ← signature; multi (index) with referrers on itself and a child. */
const E = {
  foobar: 'sha256:fd6ed2f36b5465244d5dc86cb4e7df0ab8a9d24adc57825099f522fe009a22bb',
  sbomFile: 'sha256:e2c6633a79985906f1ed55c592718c73c41e809fb9818de232a635904a74d48d',
  signatureFile: 'sha256:0cb8c4da7e9ff2e7eefca33141091b9239218e3125a35e17e8bcd05fa3a5e714',
  multi: 'sha256:e2bfc9cc6a84ec2d7365b5a28c6bc5806b7fa581c9ad7883be955a64e3cc034f',
  linuxAmd64: 'sha256:9d84a5716c66a1d1b9c13f8ed157ba7d1edfe7f9b8766728b8a1f25c0d9c14c1',
  referrerIndex: 'sha256:7679bc22c33b87aa345c6950a993db98a6df7a6cc77a35c388908a3a50be6bad',
  referrerOfIndex: 'sha256:d37baf66300b9006b0f4c7102075d56b970fbf910be5c6bca07fdbb000dfa383',
  referrerOfAmd64: 'sha256:c5e00045954a70e3fd28307dd543d4cc158946117943700b8f520f72ddca031f',
};

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`lading ${r.args.join(' ')}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** A manifest as the registry serves it (an independent client: fetch), plain-HTTP registries without auth. */
async function manifestAt(reg: RunningRegistry, repo: string, ref: string): Promise<{ status: number; digest?: string; bytes: Buffer }> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { headers: { accept: ACCEPT } });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, digest: res.status === 200 ? sha256(bytes) : undefined, bytes };
}
async function blobStatus(reg: RunningRegistry, repo: string, digest: string): Promise<number> {
  return (await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' })).status;
}

/** Requests in a registry's access log (after `from` characters): method, path+query, status. */
function accessLog(reg: RunningRegistry, from = 0): { method: string; url: string; status: number }[] {
  const out: { method: string; url: string; status: number }[] = [];
  for (const m of reg.readLog().slice(from).matchAll(/"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3})/g)) out.push({ method: m[1], url: m[2], status: Number(m[3]) });
  return out;
}

/** Reads an OCI layout: the digest a tag names, and whether a blob is there with the right bytes. */
function layoutTag(dir: string, tag: string): string | undefined {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  return index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)?.digest;
}
function layoutHasBlob(dir: string, digest: string): boolean {
  const file = join(dir, 'blobs', 'sha256', digest.slice(7));
  return existsSync(file) && sha256(readFileSync(file)) === digest;
}

/** Every node of the busybox images, by digest. */
const V2S2_NODES = [BUSYBOX_V2S2.manifest.digest, DIGEST_CONFIG_LATEST, DIGEST_LAYER0, DIGEST_LAYER1];
const MULTI_NODES = [BUSYBOX_OCI.multi.digest, BUSYBOX_OCI.latest.manifest.digest, BUSYBOX_OCI.arm64Variant.manifest.digest, DIGEST_CONFIG_LATEST, DIGEST_CONFIG_ARM64, DIGEST_LAYER0, DIGEST_LAYER1];

let A: RunningRegistry; // plain, access log: the source, and one-registry mounts
let B: RunningRegistry; // plain, access log: the destination
let T: RunningRegistry; // token auth: users reader (everything) and tester (nothing under locked/)
let Z: RunningRegistry; // htpasswd, the ORAS e2e storage (hello/oras-test)
let work: string;
const TESTER_PASSWORD = 'tester-secret';

beforeAll(async () => {
  [A, B, T, Z] = await Promise.all([
    startRegistry({ accessLog: true }),
    startRegistry({ accessLog: true }),
    startRegistry({
      mode: 'token',
      accessLog: true,
      username: 'reader',
      tokenServer: {
        users: { tester: TESTER_PASSWORD },
        grant: (subject, type, name, requested) => (type !== 'repository' || !subject ? [] : subject === 'tester' && name.startsWith('locked/') ? [] : requested),
      },
    }),
    startRegistry({ mode: 'htpasswd', storage: join(E2E, 'storage', 'zot-on-distribution'), htpasswdFile: join(E2E, 'zot', 'passwd_bcrypt'), username: 'hello', password: 'oras-test' }),
  ]);
  work = tmpDir('lading-copy-');
  await Promise.all([
    pushV2s2WithSkopeo(A, 'busybox', 'v2s2'),
    skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:multi`, `docker://${A.host}/busybox:multi`, { dest: A, all: true }),
    pushV2s2WithSkopeo(T, 'locked/src', 'v1'),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([A?.stop(), B?.stop(), T?.stop(), Z?.stop()]);
});

describe('copy: registries and layouts, digests unchanged', () => {
  it('registry → registry: the Docker image under DST,TAG2,TAG3 and the OCI index, every node there', async () => {
    const r = ok(await lading(['copy', FP, TP, '--format', 'json', `${A.host}/busybox:v2s2`, `${B.host}/copied/busybox:v2s2,second,third`]));
    expect(JSON.parse(r.stdout)).toEqual({
      reference: `${B.host}/copied/busybox@${BUSYBOX_V2S2.manifest.digest}`,
      mediaType: BUSYBOX_V2S2.manifest.mediaType,
      digest: BUSYBOX_V2S2.manifest.digest,
      size: BUSYBOX_V2S2.manifest.size,
      tags: ['v2s2', 'second', 'third'],
      source: `${A.host}/busybox@${BUSYBOX_V2S2.manifest.digest}`,
    });
    for (const tag of ['v2s2', 'second', 'third']) expect((await manifestAt(B, 'copied/busybox', tag)).digest).toBe(BUSYBOX_V2S2.manifest.digest);
    for (const d of V2S2_NODES.slice(1)) expect(await blobStatus(B, 'copied/busybox', d)).toBe(200);
    expect(r.stderr).toMatch(new RegExp(`Copied +${DIGEST_LAYER0} application/vnd.docker.image.rootfs.diff.tar.gzip 1.03 MiB`));

    const mark = B.readLog().length;
    const r2 = ok(await lading(['cp', FP, TP, `${A.host}/busybox:multi`, `${B.host}/copied/multi`]));
    // Both images share the layers: each blob is uploaded once (the two configs, the two layers), though both children go at once.
    const puts = accessLog(B, mark).filter((l) => l.method === 'PUT' && l.url.includes('/blobs/uploads/'));
    expect(puts.map((l) => new URL(l.url, 'http://x').searchParams.get('digest')).sort()).toEqual([DIGEST_CONFIG_ARM64, DIGEST_CONFIG_LATEST, DIGEST_LAYER0, DIGEST_LAYER1].sort());
    expect(r2.stderr.match(new RegExp(`^Copied +${DIGEST_LAYER0}`, 'gm'))).toHaveLength(1);
    const multi = await manifestAt(B, 'copied/multi', 'multi'); // no tag given: the source's
    expect(multi.digest).toBe(BUSYBOX_OCI.multi.digest);
    for (const d of MULTI_NODES.slice(1, 3)) expect((await manifestAt(B, 'copied/multi', d)).digest).toBe(d);
    for (const d of MULTI_NODES.slice(3)) expect(await blobStatus(B, 'copied/multi', d)).toBe(200);
  });

  it('registry → layout → registry, and layout → layout', async () => {
    const l1 = join(work, 'layout-1');
    const l2 = join(work, 'layout-2');
    ok(await lading(['copy', FP, '--to-oci-layout', `${A.host}/busybox:multi`, `${l1}:multi`]));
    ok(await lading(['copy', FP, '--to-oci-layout', `${A.host}/busybox:v2s2`, `${l1}:v2s2,docker`]));
    expect(layoutTag(l1, 'multi')).toBe(BUSYBOX_OCI.multi.digest);
    expect(layoutTag(l1, 'v2s2')).toBe(BUSYBOX_V2S2.manifest.digest);
    expect(layoutTag(l1, 'docker')).toBe(BUSYBOX_V2S2.manifest.digest);
    for (const d of new Set([...MULTI_NODES, ...V2S2_NODES])) expect(layoutHasBlob(l1, d)).toBe(true);

    // layout → layout, then layout → registry (from the copy and from the read-only fixture itself)
    ok(await lading(['copy', '--from-oci-layout', '--to-oci-layout', `${l1}:multi`, `${l2}:multi`]));
    ok(await lading(['copy', '--from-oci-layout', '--to-oci-layout', `${l1}:v2s2`, l2]));
    expect(layoutTag(l2, 'multi')).toBe(BUSYBOX_OCI.multi.digest);
    expect(layoutTag(l2, 'v2s2')).toBe(BUSYBOX_V2S2.manifest.digest);
    for (const d of new Set([...MULTI_NODES, ...V2S2_NODES])) expect(layoutHasBlob(l2, d)).toBe(true);

    ok(await lading(['copy', '--from-oci-layout', TP, `${l2}:v2s2`, `${B.host}/from-layout/busybox:v2s2`]));
    ok(await lading(['copy', '--from-oci-layout', TP, `${BUSYBOX_OCI_DIR}:multi`, `${B.host}/from-layout/busybox:multi`]));
    expect((await manifestAt(B, 'from-layout/busybox', 'v2s2')).digest).toBe(BUSYBOX_V2S2.manifest.digest);
    expect((await manifestAt(B, 'from-layout/busybox', 'multi')).digest).toBe(BUSYBOX_OCI.multi.digest);
    for (const d of MULTI_NODES.slice(3)) expect(await blobStatus(B, 'from-layout/busybox', d)).toBe(200);
    // --all-tags between layouts: every tag of the fixture
    const l3 = join(work, 'layout-all');
    const all = JSON.parse(ok(await lading(['copy', '--all-tags', '--from-oci-layout', '--to-oci-layout', '--format', 'json', BUSYBOX_OCI_DIR, l3])).stdout);
    expect(all.copied.map((t: { tag: string; digest: string }) => `${t.tag} ${t.digest}`)).toEqual([
      `arm64-variant ${BUSYBOX_OCI.arm64Variant.manifest.digest}`,
      `latest ${BUSYBOX_OCI.latest.manifest.digest}`,
      `multi ${BUSYBOX_OCI.multi.digest}`,
    ]);
    expect(layoutTag(l3, 'arm64-variant')).toBe(BUSYBOX_OCI.arm64Variant.manifest.digest);
    expect(layoutTag(l3, 'multi')).toBe(BUSYBOX_OCI.multi.digest);
    // skopeo, another client, reads what was written to the registry
    await skopeoCopy(`docker://${B.host}/from-layout/busybox:multi`, `oci:${join(work, 'skopeo-check')}:multi`, { src: B, all: true });
    expect(layoutTag(join(work, 'skopeo-check'), 'multi')).toBe(BUSYBOX_OCI.multi.digest);
  });

  it('--platform linux/arm64 copies that one child of the index, and nothing of the other', async () => {
    const r = ok(await lading(['copy', FP, TP, '--platform', 'linux/arm64', '--format', 'json', `${A.host}/busybox:multi`, `${B.host}/arm/busybox:arm64`]));
    expect(JSON.parse(r.stdout)).toMatchObject({ digest: BUSYBOX_OCI.arm64Variant.manifest.digest, size: BUSYBOX_OCI.arm64Variant.manifest.size });
    expect((await manifestAt(B, 'arm/busybox', 'arm64')).digest).toBe(BUSYBOX_OCI.arm64Variant.manifest.digest);
    expect(await blobStatus(B, 'arm/busybox', DIGEST_CONFIG_ARM64)).toBe(200);
    expect(await blobStatus(B, 'arm/busybox', DIGEST_CONFIG_LATEST)).toBe(404);
    expect((await manifestAt(B, 'arm/busybox', BUSYBOX_OCI.latest.manifest.digest)).status).toBe(404);
    expect((await manifestAt(B, 'arm/busybox', BUSYBOX_OCI.multi.digest)).status).toBe(404);
    const single = await lading(['copy', FP, TP, '--platform', 'linux/arm64', `${A.host}/busybox:v2s2`, `${B.host}/arm/busybox:v2s2`]);
    expect(single.code).toBe(4);
    expect(single.stderr).toContain(`source ${A.host}/busybox:v2s2: the image is linux/amd64, not linux/arm64`);
    expect((await manifestAt(B, 'arm/busybox', 'v2s2')).status).toBe(404);
    ok(await lading(['copy', FP, TP, '--platform', 'linux/amd64', `${A.host}/busybox:v2s2`, `${B.host}/arm/busybox:v2s2`]));
    const missing = await lading(['copy', FP, TP, '--platform', 'linux/s390x', `${A.host}/busybox:multi`, `${B.host}/arm/busybox:s390x`]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain(`source ${A.host}/busybox:multi: no manifest for platform linux/s390x`);
  });
  it('--max-manifest-size bounds the manifests read (CASES B22a), never the blobs', async () => {
    const small = await lading(['copy', FP, TP, '--max-manifest-size', '500', `${A.host}/busybox:v2s2`, `${B.host}/bounded/busybox:v2s2`]);
    expect(small.code).toBe(1);
    expect(small.stderr).toContain(`source ${A.host}/busybox:v2s2: manifest exceeds 500 bytes (got 587); use --max-manifest-size`);
    expect((await manifestAt(B, 'bounded/busybox', 'v2s2')).status).toBe(404);
    // 600 bytes: the 587-byte manifest fits, the 1 MiB layer is not a manifest
    ok(await lading(['copy', FP, TP, '--max-manifest-size', '600', `${A.host}/busybox:v2s2`, `${B.host}/bounded/busybox:v2s2`]));
    expect((await manifestAt(B, 'bounded/busybox', 'v2s2')).digest).toBe(BUSYBOX_V2S2.manifest.digest);
  });
});

describe('copy: mounts, counted I/O, --all-tags', () => {
  it('one registry, two repositories: every blob mounted (201), no blob uploaded', async () => {
    const mark = A.readLog().length;
    const r = ok(await lading(['copy', FP, TP, `${A.host}/busybox:multi`, `${A.host}/mounted/busybox:multi`]));
    const log = accessLog(A, mark);
    const mounts = log.filter((l) => l.method === 'POST' && l.url.includes('mount='));
    expect(mounts.map((l) => [l.status, new URL(l.url, 'http://x').searchParams.get('mount'), new URL(l.url, 'http://x').searchParams.get('from')]).sort()).toEqual(
      [DIGEST_CONFIG_ARM64, DIGEST_CONFIG_LATEST, DIGEST_LAYER0, DIGEST_LAYER1].sort().map((d) => [201, d, 'busybox']).sort(),
    );
    expect(log.filter((l) => l.url.includes('/blobs/uploads/') && l.method !== 'POST')).toEqual([]);
    expect(log.filter((l) => l.method === 'POST' && !l.url.includes('mount='))).toEqual([]);
    expect(r.stderr.match(/^Mounted /gm)).toHaveLength(4);
    expect((await manifestAt(A, 'mounted/busybox', 'multi')).digest).toBe(BUSYBOX_OCI.multi.digest);
    expect(await blobStatus(A, 'mounted/busybox', DIGEST_LAYER0)).toBe(200);
  });

  it('a second identical copy reports Exists and writes nothing', async () => {
    ok(await lading(['copy', FP, TP, `${A.host}/busybox:multi`, `${B.host}/twice/busybox:multi`]));
    const markA = A.readLog().length;
    const markB = B.readLog().length;
    const again = ok(await lading(['copy', FP, TP, `${A.host}/busybox:multi`, `${B.host}/twice/busybox:multi`]));
    expect(again.stderr).toMatch(new RegExp(`^Exists +${BUSYBOX_OCI.multi.digest} `, 'm'));
    expect(again.stderr).not.toMatch(/^(Copied|Mounted) +sha256/m);
    const wrote = accessLog(B, markB).filter((l) => !['GET', 'HEAD'].includes(l.method));
    expect(wrote).toEqual([]);
    // Reads: the source's tag and root, the destination's root and tag; no blob is read or written.
    expect(accessLog(A, markA).filter((l) => l.url.includes('/blobs/'))).toEqual([]);
    expect(accessLog(B, markB).map((l) => `${l.method} ${l.url}`)).toEqual([
      `HEAD /v2/twice/busybox/manifests/${BUSYBOX_OCI.multi.digest}`,
      'HEAD /v2/twice/busybox/manifests/multi',
    ]);
  });

  it('--all-tags: every tag, filtered; Exists for tags already there; referrers tags left to -r', async () => {
    // A referrer in the source repository gives it a referrers tag-schema tag (sha256-<hex>).
    const sbom = join(work, 'sbom.json');
    await import('node:fs').then((fs) => fs.writeFileSync(sbom, '{"sbom":true}'));
    ok(await lading(['attach', '--plain-http', '--artifact-type', 'application/vnd.test.sbom', '--disable-path-validation', `${A.host}/busybox:v2s2`, sbom]));
    const schemaTag = BUSYBOX_V2S2.manifest.digest.replace(':', '-');

    const first = ok(await lading(['copy', FP, TP, '--all-tags', '--exclude', '^multi$', '--format', 'json', `${A.host}/busybox`, `${B.host}/mirror/busybox`]));
    const j1 = JSON.parse(first.stdout);
    expect(j1.copied).toEqual([{ tag: 'v2s2', mediaType: BUSYBOX_V2S2.manifest.mediaType, digest: BUSYBOX_V2S2.manifest.digest, size: BUSYBOX_V2S2.manifest.size, reference: `${B.host}/mirror/busybox@${BUSYBOX_V2S2.manifest.digest}` }]);
    expect(j1.skipped).toEqual([
      { tag: 'multi', reason: 'excluded' },
      { tag: schemaTag, reason: 'referrers-tag' },
    ]);
    expect(first.stderr).toContain('Skipped tag multi (excluded)');
    expect((await manifestAt(B, 'mirror/busybox', 'multi')).status).toBe(404);
    expect((await manifestAt(B, 'mirror/busybox', schemaTag)).status).toBe(404);

    // Again, all tags, with -r: v2s2 is there (Exists), multi is copied, the referrer and its index are recreated.
    const second = ok(await lading(['copy', FP, TP, '--all-tags', '-r', '--format', 'json', `${A.host}/busybox`, `${B.host}/mirror/busybox`]));
    const j2 = JSON.parse(second.stdout);
    expect(j2.copied.map((t: { tag: string; digest: string }) => [t.tag, t.digest])).toEqual([['multi', BUSYBOX_OCI.multi.digest]]);
    expect(j2.skipped).toEqual([
      { tag: schemaTag, reason: 'referrers-tag' },
      { tag: 'v2s2', reason: 'exists', digest: BUSYBOX_V2S2.manifest.digest },
    ]);
    expect(second.stderr).toContain(`Exists  tag v2s2 ${BUSYBOX_V2S2.manifest.digest}`);
    expect((await manifestAt(B, 'mirror/busybox', 'multi')).digest).toBe(BUSYBOX_OCI.multi.digest);
    const discovered = JSON.parse(ok(await lading(['discover', '--plain-http', '--format', 'json', `${B.host}/mirror/busybox:v2s2`])).stdout);
    expect(discovered.referrers.map((x: { artifactType: string }) => x.artifactType)).toEqual(['application/vnd.test.sbom']);
    expect((await manifestAt(B, 'mirror/busybox', schemaTag)).digest).toBe((await manifestAt(A, 'busybox', schemaTag)).digest);

    const include = JSON.parse(ok(await lading(['copy', FP, TP, '--all-tags', '--include', '^v', '--format', 'json', `${A.host}/busybox`, `${B.host}/mirror/busybox`])).stdout);
    expect(include.copied).toEqual([]);
    expect(include.skipped.map((s: { tag: string; reason: string }) => `${s.tag} ${s.reason}`)).toEqual(['multi not-included', `${schemaTag} referrers-tag`, 'v2s2 exists']);

    const bad = await lading(['copy', FP, TP, '--all-tags', '--include', '([a-', `${A.host}/busybox`, `${B.host}/mirror/busybox`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid --include regular expression "([a-"');
    expect((await lading(['copy', FP, TP, '--exclude', 'x', `${A.host}/busybox:v2s2`, `${B.host}/mirror/busybox:v2s2`])).code).toBe(2);
    expect((await lading(['copy', FP, TP, '--all-tags', `${A.host}/busybox:v2s2`, `${B.host}/mirror/busybox`])).code).toBe(2);
  });
});

describe('blob copy', () => {
  it('between registries streamed, within one registry mounted, then Exists; verified; a missing blob names the source', async () => {
    const across = JSON.parse(ok(await lading(['blob', 'copy', FP, TP, '--format', 'json', `${A.host}/busybox@${DIGEST_LAYER0}`, `${B.host}/blobs/one`])).stdout);
    expect(across).toEqual({ reference: `${B.host}/blobs/one@${DIGEST_LAYER0}`, digest: DIGEST_LAYER0, size: 1084069, mounted: false, exists: false });
    const got = Buffer.from(await (await fetch(`${B.url}/v2/blobs/one/blobs/${DIGEST_LAYER0}`)).arrayBuffer());
    expect(sha256(got)).toBe(DIGEST_LAYER0);

    const mark = A.readLog().length;
    const within = JSON.parse(ok(await lading(['blob', 'cp', FP, TP, '--format', 'json', `${A.host}/busybox@${DIGEST_LAYER1}`, `${A.host}/blobs/two`])).stdout);
    expect(within).toEqual({ reference: `${A.host}/blobs/two@${DIGEST_LAYER1}`, digest: DIGEST_LAYER1, size: 326, mounted: true, exists: false });
    const log = accessLog(A, mark);
    expect(log.filter((l) => l.method === 'POST').map((l) => l.status)).toEqual([201]);
    expect(log.filter((l) => l.method === 'PUT' || l.method === 'PATCH')).toEqual([]);

    const again = JSON.parse(ok(await lading(['blob', 'copy', FP, TP, '--format', 'json', `${A.host}/busybox@${DIGEST_LAYER1}`, `${A.host}/blobs/two`])).stdout);
    expect(again).toMatchObject({ mounted: false, exists: true });

    const fromLayout = ok(await lading(['blob', 'copy', '--from-oci-layout', TP, `${BUSYBOX_OCI_DIR}@${DIGEST_CONFIG_ARM64}`, `${B.host}/blobs/three`]));
    expect(fromLayout.stdout).toBe(`Digest: ${DIGEST_CONFIG_ARM64}\n`);
    expect(await blobStatus(B, 'blobs/three', DIGEST_CONFIG_ARM64)).toBe(200);

    const missing = await lading(['blob', 'copy', FP, TP, `${A.host}/busybox@${sha256('nothing')}`, `${B.host}/blobs/one`]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain(`source ${A.host}/busybox@${sha256('nothing')}: blob ${sha256('nothing')} not found`);
    expect((await lading(['blob', 'copy', FP, TP, `${A.host}/busybox:v2s2`, `${B.host}/blobs/one`])).code).toBe(2);
  });
});

describe('copy: credentials per side, refused mounts', () => {
  const zFrom = ['--from-plain-http', '--from-username', 'hello', '--from-password-stdin'];
  const tTo = ['--to-plain-http', '--to-username', 'tester', '--to-password', TESTER_PASSWORD];

  it('an htpasswd source and a token destination, each with its own credentials; a bad one is named by side', async () => {
    const r = ok(await lading(['copy', ...zFrom, ...tTo, `${Z.host}/command/artifacts:foobar`, `${T.host}/mirror/artifacts:foobar`], { stdin: 'oras-test\n' }));
    expect(r.stdout).toBe(`Digest: ${E.foobar}\n`);
    const resolved = ok(await lading(['resolve', '--plain-http', '-u', 'tester', '--password-stdin', `${T.host}/mirror/artifacts:foobar`], { stdin: TESTER_PASSWORD }));
    expect(resolved.stdout.trim()).toBe(E.foobar);

    const badSource = await lading(['copy', ...zFrom, ...tTo, `${Z.host}/command/artifacts:foobar`, `${T.host}/mirror/artifacts:x`], { stdin: 'wrong\n' });
    expect(badSource.code).toBe(3);
    expect(badSource.stderr).toMatch(new RegExp(`source ${Z.host}/command/artifacts:foobar: .*401`));
    const badDest = await lading(['copy', ...zFrom, '--to-plain-http', '--to-username', 'tester', '--to-password', 'wrong', `${Z.host}/command/artifacts:foobar`, `${T.host}/mirror/artifacts:y`], { stdin: 'oras-test\n' });
    expect(badDest.code).toBe(3);
    expect(badDest.stderr).toMatch(new RegExp(`destination ${T.host}/mirror/artifacts: `));
    const twoStdin = await lading(['copy', ...zFrom, '--to-password-stdin', '--to-username', 'tester', `${Z.host}/command/artifacts:foobar`, `${T.host}/mirror/artifacts:z`], { stdin: 'oras-test\n' });
    expect(twoStdin.code).toBe(2);
  });

  it('B26 on the real registry: the destination user may not read the source repository, so the mount is refused and the blobs uploaded', async () => {
    const mark = T.readLog().length;
    const r = ok(
      await lading(['copy', '--from-plain-http', '--from-username', 'reader', '--from-password-stdin', ...tTo, `${T.host}/locked/src:v1`, `${T.host}/team/app:v1`], { stdin: `${T.password}\n` }),
    );
    expect(r.stdout).toBe(`Digest: ${BUSYBOX_V2S2.manifest.digest}\n`);
    expect(r.stderr.match(/^mount from locked\/src refused; uploading$/gm)).toHaveLength(3);
    const log = accessLog(T, mark);
    const mounts = log.filter((l) => l.url.includes('mount='));
    expect(mounts.length).toBeGreaterThanOrEqual(3);
    expect(mounts.every((l) => l.status === 401)).toBe(true);
    expect(log.filter((l) => l.method === 'PUT' && l.url.startsWith('/v2/team/app/blobs/uploads/')).map((l) => l.status)).toEqual([201, 201, 201]);
    const resolved = ok(await lading(['resolve', '--plain-http', '-u', 'tester', '--password-stdin', `${T.host}/team/app:v1`], { stdin: TESTER_PASSWORD }));
    expect(resolved.stdout.trim()).toBe(BUSYBOX_V2S2.manifest.digest);
  });
});

describe('copy -r: referrers with the ORAS e2e data', () => {
  const zFrom = ['--from-plain-http', '--from-username', 'hello', '--from-password-stdin'];
  /** discover's tree, without the registry names: digests, artifact types and nesting. */
  const shape = (j: { digest: string; artifactType?: string; referrers?: unknown[] }): unknown => ({
    digest: j.digest,
    artifactType: j.artifactType,
    referrers: ((j.referrers ?? []) as (typeof j)[]).map(shape).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
  });
  const discover = async (args: string[], stdin?: string) => shape(JSON.parse(ok(await lading(['discover', '--format', 'json', ...args], { stdin })).stdout));

  it('an artifact with its SBOM and the SBOM\'s signature: discover on the destination shows the same graph', async () => {
    const r = ok(await lading(['copy', '-r', ...zFrom, TP, `${Z.host}/command/artifacts:foobar`, `${B.host}/e2e/artifacts:foobar`], { stdin: 'oras-test\n' }));
    expect(r.stderr).toContain(`Copied referrer ${E.sbomFile} (test/sbom.file)`);
    expect(r.stderr).toContain(`Copied referrer ${E.signatureFile} (test/signature.file)`);
    const there = await discover(['--plain-http', '-u', 'hello', '--password-stdin', `${Z.host}/command/artifacts:foobar`], 'oras-test\n');
    const here = await discover(['--plain-http', `${B.host}/e2e/artifacts:foobar`]);
    expect(here).toEqual(there);
    expect(JSON.stringify(here)).toContain(E.signatureFile);
    expect((await manifestAt(B, 'e2e/artifacts', 'foobar')).digest).toBe(E.foobar);
  });

  it('an index with referrers on itself and on a child; without -r, none', async () => {
    ok(await lading(['copy', '-r', ...zFrom, TP, `${Z.host}/command/artifacts:multi`, `${B.host}/e2e/multi:multi`], { stdin: 'oras-test\n' }));
    const zArgs = ['--plain-http', '-u', 'hello', '--password-stdin'];
    expect(await discover(['--plain-http', `${B.host}/e2e/multi:multi`])).toEqual(await discover([...zArgs, `${Z.host}/command/artifacts:multi`], 'oras-test\n'));
    const child = await discover(['--plain-http', '--platform', 'linux/amd64', `${B.host}/e2e/multi:multi`]);
    expect(child).toEqual(await discover([...zArgs, '--platform', 'linux/amd64', `${Z.host}/command/artifacts:multi`], 'oras-test\n'));
    expect(JSON.stringify(child)).toContain(E.referrerOfAmd64);

    ok(await lading(['copy', ...zFrom, TP, `${Z.host}/command/artifacts:multi`, `${B.host}/e2e/plain:multi`], { stdin: 'oras-test\n' }));
    expect((await discover(['--plain-http', `${B.host}/e2e/plain:multi`])) as { referrers: unknown[] }).toMatchObject({ digest: E.multi, referrers: [] });
  });
});

describe('a source that disappears mid-copy', () => {
  const LAYER = Buffer.alloc(64 * 1024, 'y');
  const CONFIG = Buffer.from('{}');
  const OCI = 'application/vnd.oci.image.manifest.v1+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI,
      artifactType: 'application/vnd.example',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(CONFIG), size: 2 },
      layers: [{ mediaType: 'application/vnd.example.layer.v1', digest: sha256(LAYER), size: LAYER.length }],
    }),
  );
  const MD = sha256(manifest);

  /** A fake source that serves the tag, the manifest and the config, then fails the layer as `layer` says (`then`: replies to the resumed GETs). */
  async function source(layer: Partial<Parameters<FakeRegistry['expect']>[0]>, then: Partial<Parameters<FakeRegistry['expect']>[0]>[] = []): Promise<FakeRegistry> {
    const headers = { 'content-type': OCI, 'docker-content-digest': MD, 'content-length': String(manifest.length) };
    return FakeRegistry.start([
      { method: 'HEAD', url: '/v2/src/art/manifests/v1', headers },
      { method: 'GET', url: `/v2/src/art/manifests/${MD}`, headers: { 'content-type': OCI }, body: manifest },
      { method: 'GET', url: `/v2/src/art/blobs/${sha256(CONFIG)}`, body: CONFIG },
      { method: 'GET', url: `/v2/src/art/blobs/${sha256(LAYER)}`, ...layer },
      ...then.map((step) => ({ method: 'GET', url: `/v2/src/art/blobs/${sha256(LAYER)}`, ...step })),
    ]);
  }

  it.each([
    ['the layer is gone (404)', 4, { status: 404, body: { errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] } }, 'gone', []],
    [
      // The download resumes with Range (issue 6); this source refuses the resumed request.
      'the connection drops halfway through the layer and the resume is refused (416)',
      1,
      {
        handle: (res: http.ServerResponse) => {
          res.writeHead(200, { 'content-length': String(LAYER.length) });
          res.write(LAYER.subarray(0, LAYER.length / 2), () => setTimeout(() => res.socket?.destroy(), 20));
        },
      },
      'cut',
      [{ status: 416, headers: { 'content-range': `bytes */${LAYER.length}` }, body: '' }],
    ],
  ] as const)('%s: exit %i, the error names the source, nothing tagged at the destination', async (_what, code, layer, repo, then) => {
    const f = await source(layer, [...then]);
    try {
      const r = await lading(['copy', FP, TP, '--concurrency', '1', `${f.host}/src/art:v1`, `${B.host}/${repo}/art:v1`]);
      expect(r.code).toBe(code);
      expect(r.stderr).toMatch(new RegExp(`^Error: source ${f.host}/src/art:v1: .*(not found|other side closed|terminated|416 Range Not Satisfiable)`, 'm'));
      expect(r.stderr).not.toContain('destination');
      f.assertDone();
    } finally {
      await f.close();
    }
    expect((await manifestAt(B, `${repo}/art`, 'v1')).status).toBe(404);
    expect((await manifestAt(B, `${repo}/art`, MD)).status).toBe(404);
    expect(await blobStatus(B, `${repo}/art`, sha256(CONFIG))).toBe(200); // what came before the failure stays (untagged)
  });
});
