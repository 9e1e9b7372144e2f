/**
 * `lading manifest index create|update` against a real Distribution registry seeded by skopeo with the busybox
 * OCI images (amd64 `latest` and `arm64-variant`); what lading pushes is read back by skopeo and by lading's
 * `manifest fetch --platform`. Until src/cli/main.ts registers the commands, `runCli` runs them the way main.ts
 * does (parseArgs, Context, command.run, errors to exit codes); once registered it goes through main.ts itself.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lading, type CliResult } from '../helpers/cli.js';
import { BUSYBOX_OCI, BUSYBOX_OCI_DIR, BUSYBOX_V2S2, ociBlobPath, pushV2s2WithSkopeo } from '../helpers/fixtures.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { skopeoCopy, skopeoInspectRaw } from '../helpers/skopeo.js';
import { tmpDir } from '../helpers/tmp.js';

/** Runs `argv` (starting `manifest index create|update`) as main.ts would. */
async function runCli(argv: string[]): Promise<CliResult> {
  return lading(argv);
}

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const P = '--plain-http';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const LATEST = BUSYBOX_OCI.latest.manifest;
const ARM64 = BUSYBOX_OCI.arm64Variant.manifest;
const MULTI = BUSYBOX_OCI.multi;
const arm64Bytes = readFileSync(ociBlobPath(ARM64.digest));
const multiBytes = readFileSync(ociBlobPath(MULTI.digest));
const AMD64_ENTRY = { mediaType: OCI_MANIFEST, digest: LATEST.digest, size: LATEST.size, platform: { architecture: 'amd64', os: 'linux' } };
const ARM64_ENTRY = { mediaType: OCI_MANIFEST, digest: ARM64.digest, size: ARM64.size, platform: { architecture: 'arm64', os: 'linux' } };
/** The index of amd64 then arm64 as ORAS encodes it: compact JSON, Go key order. */
const BOTH = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [AMD64_ENTRY, ARM64_ENTRY] }));

let reg: RunningRegistry;
let H: string;

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`lading ${r.args.join(' ')}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}
const digestOut = (r: CliResult) => /^Digest: (sha256:[0-9a-f]{64})\n$/.exec(r.stdout)?.[1];

beforeAll(async () => {
  reg = await startRegistry();
  H = reg.host;
  await skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:latest`, `docker://${H}/busybox:amd64`, { dest: reg });
  await skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:arm64-variant`, `docker://${H}/busybox:arm64-variant`, { dest: reg });
});
afterAll(async () => {
  await reg?.stop();
});

describe('manifest index create', () => {
  it('from the amd64 and arm64-variant images: exact digests and platforms from each config; skopeo reads it', async () => {
    const r = ok(await runCli(['manifest', 'index', 'create', P, `${H}/busybox:multi`, 'amd64', 'arm64-variant']));
    expect(digestOut(r)).toBe(sha256(BOTH));
    expect(r.stderr).toContain(`Pushed    [registry] ${H}/busybox:multi\n`);
    const raw = await skopeoInspectRaw(reg, 'busybox:multi');
    expect(raw.equals(BOTH)).toBe(true);
    // The fixture's own index of the same two images differs in two places, both from how it was made, not
    // from what the images say: its arm64 entry says variant "v8", which the arm64-variant config does not
    // declare (lading, as ORAS, takes the platform from the config only), and it carries an
    // org.opencontainers.image.created annotation. Without those two, it is byte for byte what lading pushed.
    const fixture = JSON.parse(multiBytes.toString());
    expect(fixture.manifests[1].platform.variant).toBe('v8');
    delete fixture.manifests[1].platform.variant;
    delete fixture.annotations;
    expect(Buffer.from(JSON.stringify(fixture)).equals(raw)).toBe(true);
  });

  it('with the fixture annotation, the index differs from the fixture multi index only by that variant', async () => {
    const r = ok(await runCli(['manifest', 'index', 'create', P, '-a', 'org.opencontainers.image.created=2024-01-01T00:00:00Z', `${H}/busybox:annotated`, 'amd64', ARM64.digest]));
    const raw = await skopeoInspectRaw(reg, 'busybox:annotated');
    expect(sha256(raw)).toBe(digestOut(r));
    expect(raw.equals(Buffer.from(multiBytes.toString().replace(',"variant":"v8"', '')))).toBe(true);
  });

  it('manifest fetch --platform linux/arm64 on the new index returns the arm64 manifest', async () => {
    ok(await runCli(['manifest', 'index', 'create', P, `${H}/busybox:for-fetch`, 'amd64', 'arm64-variant']));
    const r = await lading(['manifest', 'fetch', P, '--platform', 'linux/arm64', `${H}/busybox:for-fetch`]);
    expect(r.code).toBe(0);
    expect(r.stdoutBytes.equals(arm64Bytes)).toBe(true);
  });

  it('--format json; sources by digest and full reference; several tags', async () => {
    const r = ok(await runCli(['manifest', 'index', 'create', P, '--format', 'json', `${H}/busybox:j1,j2`, LATEST.digest, `${H}/busybox:arm64-variant`]));
    expect(JSON.parse(r.stdout)).toEqual({ reference: `${H}/busybox@${sha256(BOTH)}`, mediaType: OCI_INDEX, digest: sha256(BOTH), size: BOTH.length, manifests: [AMD64_ENTRY, ARM64_ENTRY], tags: ['j1', 'j2'] });
    expect(sha256(await skopeoInspectRaw(reg, 'busybox:j2'))).toBe(sha256(BOTH));
  });

  it('the order given is kept, and a manifest named twice is listed once', async () => {
    const r = ok(await runCli(['manifest', 'index', 'create', P, '--output', '-', `${H}/busybox`, 'arm64-variant', 'amd64', ARM64.digest, 'amd64']));
    expect(JSON.parse(r.stdout).manifests).toEqual([ARM64_ENTRY, AMD64_ENTRY]);
    expect(r.stderr).toContain(`Skipped   ${ARM64.digest} ${ARM64.digest} (already in the index)`);
  });

  it('no tag: pushed by digest, no tag created', async () => {
    const before = ok(await lading(['repo', 'tags', P, `${H}/busybox`])).stdout;
    const r = ok(await runCli(['manifest', 'index', 'create', P, `${H}/busybox`, 'arm64-variant']));
    const digest = digestOut(r)!;
    expect(r.stderr).toContain(`Pushed    [registry] ${H}/busybox@${digest}\n`);
    expect(sha256(await skopeoInspectRaw(reg, `busybox@${digest}`))).toBe(digest);
    expect(ok(await lading(['repo', 'tags', P, `${H}/busybox`])).stdout).toBe(before);
  });

  it('an index as a source becomes a nested entry without platform; a Docker image gets the platform of its config', async () => {
    ok(await runCli(['manifest', 'index', 'create', P, `${H}/busybox:inner`, 'amd64', 'arm64-variant']));
    await pushV2s2WithSkopeo(reg, 'busybox', 'docker');
    const r = ok(await runCli(['manifest', 'index', 'create', P, '--format', 'json', `${H}/busybox:outer`, 'inner', 'docker']));
    expect(JSON.parse(r.stdout).manifests).toEqual([
      { mediaType: OCI_INDEX, digest: sha256(BOTH), size: BOTH.length },
      { mediaType: DOCKER_MANIFEST, digest: BUSYBOX_V2S2.manifest.digest, size: BUSYBOX_V2S2.manifest.size, platform: { architecture: 'amd64', os: 'linux' } },
    ]);
    expect(sha256(await skopeoInspectRaw(reg, 'busybox:outer'))).toBe(JSON.parse(r.stdout).digest);
  });

  it('--output FILE writes the index and pushes nothing', async () => {
    const out = join(tmpDir('lading-index-'), 'index.json');
    const r = ok(await runCli(['manifest', 'index', 'create', P, '--output', out, `${H}/busybox:not-pushed`, 'amd64', 'arm64-variant']));
    expect(readFileSync(out).equals(BOTH)).toBe(true);
    expect(digestOut(r)).toBe(sha256(BOTH));
    expect((await lading(['manifest', 'fetch', P, `${H}/busybox:not-pushed`])).code).toBe(4);
  });

  it('errors: unknown source 4, bad annotation 2, a source in another repository 2; nothing is tagged', async () => {
    const unknown = await runCli(['manifest', 'index', 'create', P, `${H}/busybox:bad`, 'amd64', 'no-such-tag']);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain('no-such-tag');
    expect((await runCli(['manifest', 'index', 'create', P, '-a', '=x', `${H}/busybox:bad`, 'amd64'])).code).toBe(2);
    expect((await runCli(['manifest', 'index', 'create', P, `${H}/busybox:bad`, `${H}/other:amd64`])).code).toBe(2);
    expect((await lading(['manifest', 'fetch', P, `${H}/busybox:bad`])).code).toBe(4);
  });
});

describe('manifest index update', () => {
  it('--remove, --add and --merge move the tag; the digests are those of the same index built directly', async () => {
    ok(await runCli(['manifest', 'index', 'create', P, `${H}/busybox:upd`, 'amd64', 'arm64-variant']));
    const removed = ok(await runCli(['manifest', 'index', 'update', P, `${H}/busybox:upd`, '--remove', ARM64.digest]));
    const amdOnly = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [AMD64_ENTRY] }));
    expect(digestOut(removed)).toBe(sha256(amdOnly));
    expect((await skopeoInspectRaw(reg, 'busybox:upd')).equals(amdOnly)).toBe(true);

    const added = ok(await runCli(['manifest', 'index', 'update', P, `${H}/busybox:upd`, '--add', 'arm64-variant']));
    expect(digestOut(added)).toBe(sha256(BOTH));
    expect((await skopeoInspectRaw(reg, 'busybox:upd')).equals(BOTH)).toBe(true);

    ok(await runCli(['manifest', 'index', 'create', P, `${H}/busybox:arm-only`, 'arm64-variant']));
    ok(await runCli(['manifest', 'index', 'update', P, `${H}/busybox:upd`, '--remove', ARM64.digest]));
    const merged = ok(await runCli(['manifest', 'index', 'update', P, `${H}/busybox:upd`, '--merge', 'arm-only']));
    expect(digestOut(merged)).toBe(sha256(BOTH));
    const arm = await lading(['manifest', 'fetch', P, '--platform', 'linux/arm64', `${H}/busybox:upd`]);
    expect(arm.stdoutBytes.equals(arm64Bytes)).toBe(true);
  });

  it('an index named by digest: the new index is pushed by digest (printed), the old one untouched', async () => {
    ok(await runCli(['manifest', 'index', 'create', P, `${H}/busybox:by-digest`, 'amd64', 'arm64-variant']));
    const r = ok(await runCli(['manifest', 'index', 'update', P, '--format', 'json', `${H}/busybox@${sha256(BOTH)}`, '--remove', LATEST.digest, '-a', 'note=arm only']));
    const json = JSON.parse(r.stdout);
    const expected = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [ARM64_ENTRY], annotations: { note: 'arm only' } }));
    expect(json).toMatchObject({ reference: `${H}/busybox@${sha256(expected)}`, digest: sha256(expected), size: expected.length, tags: [] });
    expect((await skopeoInspectRaw(reg, `busybox@${sha256(expected)}`)).equals(expected)).toBe(true);
    expect((await skopeoInspectRaw(reg, 'busybox:by-digest')).equals(BOTH)).toBe(true);
  });

  it('--output writes the updated index without pushing it', async () => {
    ok(await runCli(['manifest', 'index', 'create', P, `${H}/busybox:kept`, 'amd64', 'arm64-variant']));
    const out = join(tmpDir('lading-index-'), 'updated.json');
    ok(await runCli(['manifest', 'index', 'update', P, '--output', out, `${H}/busybox:kept`, '--remove', LATEST.digest]));
    expect(JSON.parse(readFileSync(out, 'utf8')).manifests).toEqual([ARM64_ENTRY]);
    expect((await skopeoInspectRaw(reg, 'busybox:kept')).equals(BOTH)).toBe(true);
  });

  it('errors: not an index 2, a digest not in the index 4, an unknown manifest to add 4; the tag does not move', async () => {
    ok(await runCli(['manifest', 'index', 'create', P, `${H}/busybox:stays`, 'amd64', 'arm64-variant']));
    const notIndex = await runCli(['manifest', 'index', 'update', P, `${H}/busybox:amd64`, '--add', 'arm64-variant']);
    expect(notIndex.code).toBe(2);
    expect(notIndex.stderr).toContain('not an index');
    expect((await runCli(['manifest', 'index', 'update', P, `${H}/busybox:stays`, '--remove', sha256('absent')])).code).toBe(4);
    expect((await runCli(['manifest', 'index', 'update', P, `${H}/busybox:stays`, '--add', 'no-such-tag'])).code).toBe(4);
    expect((await skopeoInspectRaw(reg, 'busybox:stays')).equals(BOTH)).toBe(true);
    expect(sha256(await skopeoInspectRaw(reg, 'busybox:amd64'))).toBe(LATEST.digest);
  });
});
