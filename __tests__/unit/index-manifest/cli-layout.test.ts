/**
 * `lading manifest index create|update --oci-layout` on copies of the busybox OCI layout: no registry needed.
 * Until src/cli/main.ts registers the commands, `runCli` runs them the way main.ts does (parseArgs, Context,
 * command.run, errors to exit codes); once they are registered it goes through main.ts itself.
 */
import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lading, type CliResult } from '../../helpers/cli.js';
import { BUSYBOX_OCI, BUSYBOX_OCI_DIR } from '../../helpers/fixtures.js';
import { copyWritable, tmpDir } from '../../helpers/tmp.js';

/** Runs `argv` (starting `manifest index create|update`) as main.ts would. */
async function runCli(argv: string[]): Promise<CliResult> {
  return lading(argv);
}

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const LATEST = BUSYBOX_OCI.latest.manifest;
const ARM64 = BUSYBOX_OCI.arm64Variant.manifest;
const MULTI = BUSYBOX_OCI.multi;
const L = '--oci-layout';
const AMD64_ENTRY = { mediaType: OCI_MANIFEST, digest: LATEST.digest, size: LATEST.size, platform: { architecture: 'amd64', os: 'linux' } };
const ARM64_ENTRY = { mediaType: OCI_MANIFEST, digest: ARM64.digest, size: ARM64.size, platform: { architecture: 'arm64', os: 'linux' } };

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`lading ${r.args.join(' ')}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

function layout(): string {
  const dir = join(tmpDir('lading-index-layout-'), 'layout');
  copyWritable(BUSYBOX_OCI_DIR, dir);
  return dir;
}

function indexJson(dir: string): { manifests: Array<{ digest: string; annotations?: Record<string, string> }> } {
  return JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
}
const blob = (dir: string, digest: string) => readFileSync(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)));

describe('manifest index create --oci-layout', () => {
  it('builds the index from two tags, stores and tags it, prints its digest', async () => {
    const dir = layout();
    const r = ok(await runCli(['manifest', 'index', 'create', L, `${dir}:v1`, 'latest', 'arm64-variant']));
    const expected = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [AMD64_ENTRY, ARM64_ENTRY] }));
    expect(r.stdout).toBe(`Digest: ${sha256(expected)}\n`);
    expect(r.stderr).toContain(`Fetched   ${LATEST.digest} latest\n`);
    expect(r.stderr).toContain(`Pushed    [oci-layout] ${dir}:v1\n`);
    expect(blob(dir, sha256(expected)).equals(expected)).toBe(true);
    const tagged = indexJson(dir).manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'v1');
    expect(tagged?.digest).toBe(sha256(expected));
  });

  it('with the fixture annotation, differs from the fixture multi index only by the variant its config lacks', async () => {
    const dir = layout();
    const r = ok(await runCli(['manifest', 'index', 'create', L, '-a', 'org.opencontainers.image.created=2024-01-01T00:00:00Z', '--format', 'json', dir, 'latest', ARM64.digest]));
    const multi = JSON.parse(blob(dir, MULTI.digest).toString());
    delete multi.manifests[1].platform.variant; // "v8" in the fixture's index; the arm64-variant config names no variant
    const expected = Buffer.from(JSON.stringify(multi));
    const json = JSON.parse(r.stdout);
    expect(json).toEqual({ reference: `${dir}@${sha256(expected)}`, mediaType: OCI_INDEX, digest: sha256(expected), size: expected.length, manifests: [AMD64_ENTRY, ARM64_ENTRY], tags: [] });
    expect(blob(dir, json.digest).equals(expected)).toBe(true);
  });

  it('--output writes the index and pushes nothing (a read-only look at the layout)', async () => {
    const dir = layout();
    const before = readFileSync(join(dir, 'index.json'));
    const out = join(tmpDir('lading-index-out-'), 'index.json');
    const r = ok(await runCli(['manifest', 'index', 'create', L, '--output', out, `${dir}:v2`, 'arm64-variant', 'latest']));
    const written = readFileSync(out);
    expect(JSON.parse(written.toString()).manifests).toEqual([ARM64_ENTRY, AMD64_ENTRY]);
    expect(r.stdout).toBe(`Digest: ${sha256(written)}\n`);
    expect(readFileSync(join(dir, 'index.json')).equals(before)).toBe(true);
    expect(existsSync(join(dir, 'blobs', 'sha256', sha256(written).slice(7)))).toBe(false);
  });

  it('--output - --pretty: the indented index alone on stdout', async () => {
    const dir = layout();
    const r = ok(await runCli(['manifest', 'index', 'create', L, '--output', '-', '--pretty', dir, 'latest']));
    expect(r.stdout).toBe(`${JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [AMD64_ENTRY] }, null, 2)}\n`);
  });

  it('a source may be PATH:TAG of the same layout; another layout is refused', async () => {
    const dir = layout();
    const r = ok(await runCli(['manifest', 'index', 'create', L, '--output', '-', dir, `${dir}:latest`, `${dir}@${ARM64.digest}`]));
    expect(JSON.parse(r.stdout).manifests).toEqual([AMD64_ENTRY, ARM64_ENTRY]);
    const other = await runCli(['manifest', 'index', 'create', L, '--output', '-', dir, `${dir}-other:latest`]);
    expect(other.code).toBe(2);
  });

  it('errors: unknown source 4, bad annotation 2, a missing layout 4', async () => {
    const dir = layout();
    expect((await runCli(['manifest', 'index', 'create', L, `${dir}:x`, 'latest', 'no-such-tag'])).code).toBe(4);
    expect((await runCli(['manifest', 'index', 'create', L, '-a', 'novalue', `${dir}:x`, 'latest'])).code).toBe(2);
    expect((await runCli(['manifest', 'index', 'create', L, `${dir}-missing:x`, 'latest'])).code).toBe(4);
    expect(indexJson(dir).manifests.some((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'x')).toBe(false);
  });
});

describe('manifest index update --oci-layout', () => {
  it('--remove then --add then --merge, moving the tag each time', async () => {
    const dir = layout();
    const removed = ok(await runCli(['manifest', 'index', 'update', L, `${dir}:multi`, '--remove', ARM64.digest]));
    const afterRemove = JSON.parse(blob(dir, removed.stdout.trim().slice('Digest: '.length)).toString());
    // The fixture's entry kept as it was (key order and all), its annotation kept too.
    expect(afterRemove).toEqual({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [AMD64_ENTRY], annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' } });
    const added = ok(await runCli(['manifest', 'index', 'update', L, `${dir}:multi`, '--add', 'arm64-variant']));
    const digest = added.stdout.trim().slice('Digest: '.length);
    expect(JSON.parse(blob(dir, digest).toString()).manifests).toEqual([AMD64_ENTRY, ARM64_ENTRY]);
    const tagged = indexJson(dir).manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'multi');
    expect(tagged.map((m) => m.digest)).toEqual([digest]);
    // --merge: the entries of another index, after those kept; the same result as --add above.
    ok(await runCli(['manifest', 'index', 'create', L, `${dir}:arm-only`, 'arm64-variant']));
    const merged = ok(await runCli(['manifest', 'index', 'update', L, `${dir}:multi`, '--remove', ARM64.digest, '--merge', 'arm-only']));
    expect(merged.stderr).toMatch(/Merged {4}sha256:[0-9a-f]{64} arm-only \(1 new entry\)/);
    expect(merged.stdout).toBe(`Digest: ${digest}\n`);
  });

  it('by digest: the new index is stored untagged and its digest printed; nothing to change: exit 0, nothing stored', async () => {
    const dir = layout();
    const r = ok(await runCli(['manifest', 'index', 'update', L, `${dir}@${MULTI.digest}`, '--remove', LATEST.digest, '--format', 'json']));
    const json = JSON.parse(r.stdout);
    expect(json.manifests).toEqual([{ mediaType: OCI_MANIFEST, digest: ARM64.digest, size: ARM64.size, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } }]);
    expect(json.tags).toEqual([]);
    expect(indexJson(dir).manifests.some((m) => m.digest === json.digest)).toBe(true);
    const multiTag = indexJson(dir).manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'multi');
    expect(multiTag?.digest).toBe(MULTI.digest);
    const before = readFileSync(join(dir, 'index.json'));
    const nothing = ok(await runCli(['manifest', 'index', 'update', L, `${dir}:multi`]));
    expect(nothing.stderr).toContain('Nothing to update');
    expect(readFileSync(join(dir, 'index.json')).equals(before)).toBe(true);
  });

  it('errors: not an index 2, absent digest 4, --remove of a tag 2, no tag 2', async () => {
    const dir = layout();
    expect((await runCli(['manifest', 'index', 'update', L, `${dir}:latest`, '--add', 'arm64-variant'])).code).toBe(2);
    expect((await runCli(['manifest', 'index', 'update', L, `${dir}:multi`, '--remove', sha256('nothing')])).code).toBe(4);
    expect((await runCli(['manifest', 'index', 'update', L, `${dir}:multi`, '--remove', 'latest'])).code).toBe(2);
    expect((await runCli(['manifest', 'index', 'update', L, dir, '--add', 'latest'])).code).toBe(2);
    const multiTag = indexJson(dir).manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'multi');
    expect(multiTag?.digest).toBe(MULTI.digest);
  });
});

