/**
 * `--oci-layout` on the single-content commands (manifest fetch/fetch-config/push/delete, blob fetch/push/delete,
 * tag, resolve, repo tags): PATH[:TAG|@DIGEST] names an OCI image layout folder, or a layout tar archive for
 * reading. Run against copies of the busybox OCI layout fixture; expected values are its known digests and bytes.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lading, type CliResult } from '../helpers/cli.js';
import { run } from '../helpers/exec.js';
import { BUSYBOX_OCI, BUSYBOX_OCI_DIR, DIGEST_LAYER0, DIGEST_LAYER1, ociBlobPath } from '../helpers/fixtures.js';
import { copyWritable, tmpDir } from '../helpers/tmp.js';

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const L = '--oci-layout';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const REF_NAME = 'org.opencontainers.image.ref.name';

const LATEST = BUSYBOX_OCI.latest.manifest;
const ARM64 = BUSYBOX_OCI.arm64Variant.manifest;
const MULTI = BUSYBOX_OCI.multi;
const CONFIG_LATEST = BUSYBOX_OCI.latest.config;
const CONFIG_ARM64 = BUSYBOX_OCI.arm64Variant.config;
const bytesOf = (digest: string) => readFileSync(ociBlobPath(digest));
const latestBytes = bytesOf(LATEST.digest);
const arm64Bytes = bytesOf(ARM64.digest);
const multiBytes = bytesOf(MULTI.digest);
const layer1Bytes = bytesOf(DIGEST_LAYER1);
const FIXTURE_TAGS = 'arm64-variant\nlatest\nmulti\n';

/** A small artifact: empty-JSON config and a text layer. */
const EMPTY = Buffer.from('{}');
const HELLO = Buffer.from('hello from lading\n');
function artifactManifest(extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify(
      {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: 'application/vnd.lading.test',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(EMPTY), size: 2 },
        layers: [{ mediaType: 'text/plain', digest: sha256(HELLO), size: HELLO.length }],
        ...extra,
      },
      null,
      2,
    ),
  );
}

function expectOk(r: CliResult): void {
  if (r.code !== 0) throw new Error(`lading ${r.args.join(' ')}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

/** A writable copy of the busybox layout. */
function busyboxCopy(): string {
  const dir = join(tmpDir('lading-lcmd-'), 'busybox');
  copyWritable(BUSYBOX_OCI_DIR, dir);
  return dir;
}

function blobFile(layout: string, digest: string): string {
  return join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

function indexOf(layout: string): { manifests: Array<{ mediaType: string; digest: string; size: number; annotations?: Record<string, string> }> } {
  return JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
}

/** index.json as [tag or '', digest] pairs, in order. */
function entries(layout: string): Array<[string, string]> {
  return indexOf(layout).manifests.map((m) => [m.annotations?.[REF_NAME] ?? '', m.digest]);
}

let work: string;
/** A copy of the busybox layout the reading tests share (nothing writes to it). */
let layout: string;
beforeAll(() => {
  work = tmpDir('lading-lcmd-');
  layout = busyboxCopy();
});

describe('manifest fetch --oci-layout', () => {
  it('prints the manifest byte for byte, by tag and by digest', async () => {
    for (const ref of [`${layout}:latest`, `${layout}@${LATEST.digest}`]) {
      const r = await lading(['manifest', 'fetch', L, ref]);
      expectOk(r);
      expect(r.stdoutBytes.equals(latestBytes)).toBe(true);
      expect(r.stderr).toBe('');
    }
    const index = await lading(['manifest', 'fetch', L, `${layout}:multi`]);
    expect(index.stdoutBytes.equals(multiBytes)).toBe(true);
  });

  it('--descriptor, --format json, --output and --pretty', async () => {
    const d = await lading(['manifest', 'fetch', L, '--descriptor', `${layout}:latest`]);
    expect(d.stdout).toBe(`{"mediaType":"${OCI_MANIFEST}","digest":"${LATEST.digest}","size":577}\n`);

    const dj = await lading(['manifest', 'fetch', L, '--descriptor', '--format', 'json', `${layout}:multi`]);
    expect(JSON.parse(dj.stdout)).toEqual({ reference: `${layout}@${MULTI.digest}`, mediaType: OCI_INDEX, digest: MULTI.digest, size: 580 });

    const j = await lading(['manifest', 'fetch', L, '--format', 'json', `${layout}:latest`]);
    expectOk(j);
    expect(JSON.parse(j.stdout)).toEqual({
      reference: `${layout}@${LATEST.digest}`,
      mediaType: OCI_MANIFEST,
      digest: LATEST.digest,
      size: 577,
      content: JSON.parse(latestBytes.toString('utf8')),
    });

    const out = join(work, 'fetched.json');
    const o = await lading(['manifest', 'fetch', L, '-o', out, `${layout}:latest`]);
    expectOk(o);
    expect(o.stdout).toBe('');
    expect(o.stderr).toBe(`Fetched ${layout}@${LATEST.digest} (${OCI_MANIFEST}) to ${out}\n`);
    expect(readFileSync(out).equals(latestBytes)).toBe(true);

    const p = await lading(['manifest', 'fetch', L, '--pretty', `${layout}:latest`]);
    expect(p.stdout).toBe(`${JSON.stringify(JSON.parse(latestBytes.toString('utf8')), null, 2)}\n`);
  });

  it('--platform picks from the index; a single image of another platform is not found (4)', async () => {
    const arm = await lading(['manifest', 'fetch', L, '--platform', 'linux/arm64', `${layout}:multi`]);
    expectOk(arm);
    expect(arm.stdoutBytes.equals(arm64Bytes)).toBe(true);
    const amd = await lading(['manifest', 'fetch', L, '--platform', 'linux/amd64', '--descriptor', `${layout}:multi`]);
    expect(amd.stdout).toBe(`{"mediaType":"${OCI_MANIFEST}","digest":"${LATEST.digest}","size":577}\n`);
    const same = await lading(['manifest', 'fetch', L, '--platform', 'linux/amd64', `${layout}:latest`]);
    expect(same.stdoutBytes.equals(latestBytes)).toBe(true);

    const none = await lading(['manifest', 'fetch', L, '--platform', 'linux/s390x', `${layout}:multi`]);
    expect(none.code).toBe(4);
    expect(none.stderr).toBe('Error: no manifest for platform linux/s390x in the index (available: linux/amd64, linux/arm64/v8)\n');
    const single = await lading(['manifest', 'fetch', L, '--platform', 'linux/arm64', `${layout}:latest`]);
    expect(single.code).toBe(4);
    expect(single.stderr).toBe(`Error: ${layout}:latest is a single linux/amd64 image, not linux/arm64\n`);
  });

  it('--media-type without the manifest type is not found (4), as a registry answers', async () => {
    const r = await lading(['manifest', 'fetch', L, '--media-type', OCI_MANIFEST, `${layout}:multi`]);
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(`Error: ${layout}@${MULTI.digest} is ${OCI_INDEX}, which is not among the accepted media types (${OCI_MANIFEST})\n`);
    const ok = await lading(['manifest', 'fetch', L, '--media-type', OCI_INDEX, `${layout}:multi`]);
    expect(ok.stdoutBytes.equals(multiBytes)).toBe(true);
  });

  it('a blob digest is not a manifest (4); a manifest over --max-manifest-size is refused (1)', async () => {
    const blob = await lading(['manifest', 'fetch', L, `${layout}@${DIGEST_LAYER1}`]);
    expect(blob.code).toBe(4);
    expect(blob.stderr).toBe(`Error: ${layout}@${DIGEST_LAYER1}: not a manifest (a blob of 326 bytes)\n`);
    const big = await lading(['manifest', 'fetch', L, '--max-manifest-size', '100', `${layout}:latest`]);
    expect(big.code).toBe(1);
    expect(big.stderr).toBe('Error: manifest exceeds 100 bytes (got 577); use --max-manifest-size\n');
  });
});

describe('manifest fetch-config --oci-layout', () => {
  it('prints the config of an image, and of a platform of an index', async () => {
    const r = await lading(['manifest', 'fetch-config', L, `${layout}:latest`]);
    expectOk(r);
    expect(r.stdoutBytes.equals(bytesOf(CONFIG_LATEST.digest))).toBe(true);
    const arm = await lading(['manifest', 'fetch-config', L, '--platform', 'linux/arm64', `${layout}:multi`]);
    expect(arm.stdoutBytes.equals(bytesOf(CONFIG_ARM64.digest))).toBe(true);

    const d = await lading(['manifest', 'fetch-config', L, '--descriptor', `${layout}:latest`]);
    expect(d.stdout).toBe(`{"mediaType":"${OCI_CONFIG}","digest":"${CONFIG_LATEST.digest}","size":872}\n`);

    const out = join(work, 'config.json');
    const j = await lading(['manifest', 'fetch-config', L, '--format', 'json', '-o', out, `${layout}:arm64-variant`]);
    expectOk(j);
    expect(JSON.parse(j.stdout)).toEqual({
      reference: `${layout}@${CONFIG_ARM64.digest}`,
      manifest: `${layout}@${ARM64.digest}`,
      mediaType: OCI_CONFIG,
      digest: CONFIG_ARM64.digest,
      size: 1060,
      content: JSON.parse(bytesOf(CONFIG_ARM64.digest).toString('utf8')),
    });
    expect(readFileSync(out).equals(bytesOf(CONFIG_ARM64.digest))).toBe(true);
  });

  it('an index without --platform is a usage error (2)', async () => {
    const r = await lading(['manifest', 'fetch-config', L, `${layout}:multi`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`Error: ${layout}@${MULTI.digest} is an index; choose a platform with --platform (e.g. linux/amd64)\n`);
  });
});

describe('resolve and repo tags --oci-layout', () => {
  it('resolve prints the digest, -l the layout reference, --platform the child', async () => {
    expect((await lading(['resolve', L, `${layout}:latest`])).stdout).toBe(`${LATEST.digest}\n`);
    expect((await lading(['resolve', L, '-l', `${layout}:multi`])).stdout).toBe(`${layout}@${MULTI.digest}\n`);
    expect((await lading(['resolve', L, '--platform', 'linux/arm64', `${layout}:multi`])).stdout).toBe(`${ARM64.digest}\n`);
    const j = await lading(['resolve', L, '--format', 'json', `${layout}:arm64-variant`]);
    expect(JSON.parse(j.stdout)).toEqual({ reference: `${layout}@${ARM64.digest}`, mediaType: OCI_MANIFEST, digest: ARM64.digest, size: 578 });
    const byDigest = await lading(['resolve', L, `${layout}@${MULTI.digest}`]);
    expect(byDigest.stdout).toBe(`${MULTI.digest}\n`);
  });

  it('repo tags lists the sorted tags; --last, PATH@DIGEST and --format json', async () => {
    const r = await lading(['repo', 'tags', L, layout]);
    expectOk(r);
    expect(r.stdout).toBe(FIXTURE_TAGS);
    expect((await lading(['repo', 'show-tags', L, '--last', 'latest', layout])).stdout).toBe('multi\n');
    expect((await lading(['repo', 'tags', L, `${layout}@${ARM64.digest}`])).stdout).toBe('arm64-variant\n');
    const j = await lading(['repo', 'tags', L, '--format', 'json', layout]);
    expect(JSON.parse(j.stdout)).toEqual({ repository: layout, tags: ['arm64-variant', 'latest', 'multi'] });
  });
});

describe('blob fetch --oci-layout', () => {
  it('writes the blob to a file or stdout, verified', async () => {
    const out = join(work, 'layer1.tar.gz');
    const r = await lading(['blob', 'fetch', L, `${layout}@${DIGEST_LAYER1}`, '-o', out]);
    expectOk(r);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`Downloaded ${DIGEST_LAYER1} 326 B to ${out}\n`);
    expect(readFileSync(out).equals(layer1Bytes)).toBe(true);

    const s = await lading(['blob', 'get', L, `${layout}@${DIGEST_LAYER0}`, '--output', '-']);
    expectOk(s);
    expect(s.stdoutBytes.equals(bytesOf(DIGEST_LAYER0))).toBe(true);
    expect(s.stderr).toBe('');
  });

  it('--descriptor and --format json', async () => {
    const d = await lading(['blob', 'fetch', L, '--descriptor', `${layout}@${DIGEST_LAYER1}`]);
    expect(d.stdout).toBe(`{"mediaType":"application/octet-stream","digest":"${DIGEST_LAYER1}","size":326}\n`);
    const out = join(work, 'config-blob.json');
    const j = await lading(['blob', 'fetch', L, '--format', 'json', '-o', out, `${layout}@${CONFIG_LATEST.digest}`]);
    expect(JSON.parse(j.stdout)).toEqual({ reference: `${layout}@${CONFIG_LATEST.digest}`, mediaType: 'application/octet-stream', digest: CONFIG_LATEST.digest, size: 872, output: out });
  });

  it('a missing blob is not found (4); no digest, no --output, or -o - with json are usage errors (2)', async () => {
    const missing = sha256('not in the layout');
    const m = await lading(['blob', 'fetch', L, `${layout}@${missing}`, '-o', join(work, 'never')]);
    expect(m.code).toBe(4);
    expect(m.stderr).toBe(`Error: ${missing}: not found in OCI layout ${layout}\n`);
    expect(existsSync(join(work, 'never'))).toBe(false);

    const noDigest = await lading(['blob', 'fetch', L, `${layout}:latest`, '-o', '-']);
    expect(noDigest.code).toBe(2);
    expect(noDigest.stderr).toContain(`Error: "${layout}:latest" names no blob: use PATH@sha256:<digest>\n`);
    const noOutput = await lading(['blob', 'fetch', L, `${layout}@${DIGEST_LAYER1}`]);
    expect(noOutput.code).toBe(2);
    expect(noOutput.stderr).toContain('Error: blob fetch needs --output FILE (or "-" for stdout) or --descriptor\n');
    const json = await lading(['blob', 'fetch', L, '--format', 'json', '-o', '-', `${layout}@${DIGEST_LAYER1}`]);
    expect(json.code).toBe(2);
  });

  it('a corrupt blob fails its digest check (5) and leaves no output file', async () => {
    const corrupt = busyboxCopy();
    const bad = Buffer.from(layer1Bytes);
    bad[100] ^= 0xff;
    writeFileSync(blobFile(corrupt, DIGEST_LAYER1), bad);
    const out = join(work, 'corrupt-out');
    const r = await lading(['blob', 'fetch', L, `${corrupt}@${DIGEST_LAYER1}`, '-o', out]);
    expect(r.code).toBe(5);
    expect(existsSync(out)).toBe(false);
  });
});

describe('blob push --oci-layout', () => {
  it('creates the layout, stores the file, then reports Exists', async () => {
    const dir = join(tmpDir('lading-lcmd-'), 'new');
    const file = join(work, 'hello.txt');
    writeFileSync(file, HELLO);
    const r = await lading(['blob', 'push', L, dir, file]);
    expectOk(r);
    expect(r.stdout).toBe(`Digest: ${sha256(HELLO)}\n`);
    expect(r.stderr).toBe(`Pushed [oci-layout] ${dir}@${sha256(HELLO)}\n`);
    expect(readFileSync(blobFile(dir, sha256(HELLO))).equals(HELLO)).toBe(true);
    expect(readFileSync(join(dir, 'oci-layout'), 'utf8')).toBe('{"imageLayoutVersion":"1.0.0"}');
    expect(indexOf(dir).manifests).toEqual([]); // a blob is not listed in index.json

    const again = await lading(['blob', 'push', L, '--format', 'json', `${dir}@${sha256(HELLO)}`, file]);
    expectOk(again);
    expect(again.stderr).toBe(`Exists [oci-layout] ${dir}@${sha256(HELLO)}\n`);
    expect(JSON.parse(again.stdout)).toEqual({ reference: `${dir}@${sha256(HELLO)}`, mediaType: 'application/octet-stream', digest: sha256(HELLO), size: HELLO.length, exists: true });

    const d = await lading(['blob', 'push', L, '--descriptor', '--media-type', 'text/plain', dir, file]);
    expect(d.stdout).toBe(`{"mediaType":"text/plain","digest":"${sha256(HELLO)}","size":18}\n`);
    expect(readdirSync(join(dir, 'blobs', 'sha256'))).toEqual([sha256(HELLO).slice(7)]);
  });

  it('reads stdin (checked against --size and the digest given), leaving no temporary file', async () => {
    const spools = () => readdirSync(tmpdir()).filter((n) => n.startsWith('lading-stdin-'));
    const before = spools();
    const dir = join(tmpDir('lading-lcmd-'), 'stdin');
    const data = Buffer.from('from stdin\n');
    const r = await lading(['blob', 'push', L, '--size', String(data.length), dir, '-'], { stdin: data });
    expectOk(r);
    expect(r.stdout).toBe(`Digest: ${sha256(data)}\n`);
    expect(readFileSync(blobFile(dir, sha256(data))).equals(data)).toBe(true);

    const exists = await lading(['blob', 'push', L, '--format', 'json', `${dir}@${sha256(data)}`, '-'], { stdin: data });
    expect(JSON.parse(exists.stdout)).toEqual({ reference: `${dir}@${sha256(data)}`, mediaType: 'application/octet-stream', digest: sha256(data), size: 11, exists: true });

    const short = await lading(['blob', 'push', L, '--size', '5', dir, '-'], { stdin: Buffer.from('more than five') });
    expect(short.code).toBe(5);
    expect(short.stderr).toBe('Error: blob size mismatch: --size says 5 bytes, read more than 5\n');
    const long = await lading(['blob', 'push', L, '--size', '50', dir, '-'], { stdin: Buffer.from('short') });
    expect(long.code).toBe(5);
    expect(long.stderr).toBe('Error: blob size mismatch: --size says 50 bytes, read 5\n');
    const other = sha256('something else');
    const wrong = await lading(['blob', 'push', L, `${dir}@${other}`, '-'], { stdin: Buffer.from('this') });
    expect(wrong.code).toBe(5);
    expect(wrong.stderr).toBe(`Error: stdin has digest ${sha256('this')}, not ${other}\n`);
    expect(readdirSync(join(dir, 'blobs', 'sha256'))).toEqual([sha256(data).slice(7)]);
    expect(spools()).toEqual(before);
  });

  it('a file that does not match the digest given is a mismatch (5), before the layout is created', async () => {
    const dir = join(tmpDir('lading-lcmd-'), 'never');
    const file = join(work, 'hello2.txt');
    writeFileSync(file, HELLO);
    const other = sha256('x');
    const r = await lading(['blob', 'push', L, `${dir}@${other}`, file]);
    expect(r.code).toBe(5);
    expect(r.stderr).toBe(`Error: "${file}" has digest ${sha256(HELLO)}, not ${other}\n`);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('manifest push, tag, resolve and repo tags on a new layout', () => {
  let dir: string;
  const bytes = artifactManifest();
  const digest = sha256(bytes);
  beforeAll(async () => {
    dir = join(tmpDir('lading-lcmd-'), 'art');
    for (const [name, content] of [['empty.json', EMPTY], ['hello.txt', HELLO]] as const) {
      const file = join(work, name);
      writeFileSync(file, content);
      expectOk(await lading(['blob', 'push', L, dir, file]));
    }
  });

  it('pushes a manifest under tags, then tag adds more; resolve and repo tags see them', async () => {
    const file = join(work, 'artifact.json');
    writeFileSync(file, bytes);
    const r = await lading(['manifest', 'push', L, `${dir}:v1,v2`, file]);
    expectOk(r);
    expect(r.stdout).toBe(`Digest: ${digest}\n`);
    expect(r.stderr).toBe(`Pushed [oci-layout] ${dir}@${digest} (tags: v1, v2)\n`);
    expect(readFileSync(blobFile(dir, digest)).equals(bytes)).toBe(true);
    expect(entries(dir)).toEqual([
      ['v1', digest],
      ['v2', digest],
    ]);

    const t = await lading(['tag', L, `${dir}:v1`, 'v3', 'v4', 'v3']);
    expectOk(t);
    expect(t.stdout).toBe('Tagged v3\nTagged v4\n');
    expect(t.stderr).toBe(`Tagging [oci-layout] ${dir}@${digest}\n`);

    expect((await lading(['resolve', L, `${dir}:v4`])).stdout).toBe(`${digest}\n`);
    expect((await lading(['repo', 'tags', L, dir])).stdout).toBe('v1\nv2\nv3\nv4\n');
    const fetched = await lading(['manifest', 'fetch', L, `${dir}:v3`]);
    expect(fetched.stdoutBytes.equals(bytes)).toBe(true);
  });

  it('--format json for push and tag; a push without a tag goes by digest, listed untagged', async () => {
    const other = artifactManifest({ annotations: { n: '2' } });
    const j = await lading(['manifest', 'push', L, '--format', 'json', dir, '-'], { stdin: other });
    expectOk(j);
    expect(JSON.parse(j.stdout)).toEqual({ reference: `${dir}@${sha256(other)}`, mediaType: OCI_MANIFEST, digest: sha256(other), size: other.length, tags: [] });
    expect(entries(dir)).toContainEqual(['', sha256(other)]);
    expect((await lading(['repo', 'tags', L, dir])).stdout).toBe('v1\nv2\nv3\nv4\n');

    const byDigest = await lading(['manifest', 'push', L, `${dir}@${sha256(other)}`, '-'], { stdin: other });
    expectOk(byDigest);
    expect(entries(dir).filter(([, d]) => d === sha256(other))).toEqual([['', sha256(other)]]);

    const tj = await lading(['tag', L, '--format', 'json', `${dir}@${sha256(other)}`, 'other']);
    expect(JSON.parse(tj.stdout)).toEqual({ reference: `${dir}@${sha256(other)}`, mediaType: OCI_MANIFEST, digest: sha256(other), size: other.length, tags: ['other'] });
    expect(entries(dir).filter(([, d]) => d === sha256(other))).toEqual([['other', sha256(other)]]);
  });

  it('refuses a wrong digest (5), a missing blob (1), a missing media type and a bad extra tag (2)', async () => {
    const wrong = sha256('x');
    const m = await lading(['manifest', 'push', L, `${dir}@${wrong}`, '-'], { stdin: bytes });
    expect(m.code).toBe(5);
    expect(m.stderr).toBe(`Error: manifest content digest is ${digest}, not ${wrong}\n`);

    const absent = sha256('absent');
    const broken = artifactManifest({ layers: [{ mediaType: 'text/plain', digest: absent, size: 6 }] });
    const b = await lading(['manifest', 'push', L, `${dir}:broken`, '-'], { stdin: broken });
    expect(b.code).toBe(1);
    expect(b.stderr).toBe(`Error: cannot push the manifest: ${absent} (text/plain) is not in OCI layout ${dir}; push it first (lading blob push --oci-layout)\n`);
    expect(existsSync(blobFile(dir, sha256(broken)))).toBe(false);

    const noType = Buffer.from(JSON.stringify({ schemaVersion: 2, config: JSON.parse(bytes.toString()).config, layers: [] }));
    const t = await lading(['manifest', 'push', L, `${dir}:x`, '-'], { stdin: noType });
    expect(t.code).toBe(2);
    expect(t.stderr).toContain('Error: media type not found in file; pass --media-type\n');

    const badTag = await lading(['manifest', 'push', L, `${dir}:ok,-bad`, '-'], { stdin: bytes });
    expect(badTag.code).toBe(2);
    expect(badTag.stderr).toContain(`Error: invalid reference "${dir}:ok,-bad": invalid tag "-bad"\n`);
    expect((await lading(['repo', 'tags', L, dir])).stdout).toBe('other\nv1\nv2\nv3\nv4\n');
  });
});

describe('manifest delete and blob delete --oci-layout', () => {
  it('refuses without --force (2) and changes nothing', async () => {
    const dir = busyboxCopy();
    const before = readFileSync(join(dir, 'index.json'));
    const r = await lading(['manifest', 'delete', L, `${dir}:arm64-variant`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `Error: refusing to delete the manifest ${ARM64.digest} and all tags associated with it without confirmation: pass --force (there is no terminal to ask on)\nRun "lading manifest delete --help" for usage.\n`,
    );
    const b = await lading(['blob', 'delete', L, `${dir}@${DIGEST_LAYER1}`]);
    expect(b.code).toBe(2);
    expect(readFileSync(join(dir, 'index.json')).equals(before)).toBe(true);
    expect(existsSync(blobFile(dir, ARM64.digest))).toBe(true);
    expect(existsSync(blobFile(dir, DIGEST_LAYER1))).toBe(true);
  });

  it('manifest delete --force removes the manifest and its tag; again it reports Missing', async () => {
    const dir = busyboxCopy();
    const r = await lading(['manifest', 'delete', L, '--force', `${dir}:arm64-variant`]);
    expectOk(r);
    expect(r.stdout).toBe(`Deleted ${dir}@${ARM64.digest}\n`);
    expect(r.stderr).toBe(`Deleted [oci-layout] ${dir}:arm64-variant\n`);
    expect(existsSync(blobFile(dir, ARM64.digest))).toBe(false);
    expect(entries(dir)).toEqual([
      ['latest', LATEST.digest],
      ['multi', MULTI.digest],
    ]);

    const again = await lading(['manifest', 'rm', L, '-f', '--format', 'json', `${dir}:arm64-variant`]);
    expectOk(again);
    expect(again.stderr).toBe(`Missing ${dir}:arm64-variant\n`);
    expect(JSON.parse(again.stdout)).toEqual({ reference: `${dir}:arm64-variant`, deleted: false });
    const strict = await lading(['manifest', 'delete', L, `${dir}:arm64-variant`]);
    expect(strict.code).toBe(4);
    expect(strict.stderr).toBe(`Error: arm64-variant: not found in OCI layout ${dir}\n`);

    const j = await lading(['manifest', 'delete', L, '--force', '--format', 'json', `${dir}@${MULTI.digest}`]);
    expect(JSON.parse(j.stdout)).toEqual({ reference: `${dir}@${MULTI.digest}`, mediaType: OCI_INDEX, digest: MULTI.digest, size: 580, deleted: true });
    const d = await lading(['manifest', 'delete', L, '--force', '--descriptor', `${dir}:latest`]);
    expect(d.stdout).toBe(`{"mediaType":"${OCI_MANIFEST}","digest":"${LATEST.digest}","size":577}\n`);
    expect(entries(dir)).toEqual([]);
    expect((await lading(['repo', 'tags', L, dir])).stdout).toBe('');
  });

  it('manifest delete of a blob digest is not found (4): it deletes manifests only', async () => {
    const dir = busyboxCopy();
    const r = await lading(['manifest', 'delete', L, '--force', `${dir}@${DIGEST_LAYER1}`]);
    expect(r.code).toBe(0); // --force: a reference that is not a manifest is missing
    expect(r.stderr).toBe(`Missing ${dir}@${DIGEST_LAYER1}\n`);
    expect(existsSync(blobFile(dir, DIGEST_LAYER1))).toBe(true);
  });

  it('blob delete --force removes the blob; again it reports Missing, and without --force it is not found (4)', async () => {
    const dir = busyboxCopy();
    const r = await lading(['blob', 'delete', L, '--force', `${dir}@${DIGEST_LAYER1}`]);
    expectOk(r);
    expect(r.stdout).toBe(`Deleted ${dir}@${DIGEST_LAYER1}\n`);
    expect(r.stderr).toBe(`Deleted [oci-layout] ${dir}@${DIGEST_LAYER1}\n`);
    expect(existsSync(blobFile(dir, DIGEST_LAYER1))).toBe(false);

    const again = await lading(['blob', 'rm', L, '--force', '--format', 'json', `${dir}@${DIGEST_LAYER1}`]);
    expectOk(again);
    expect(again.stderr).toBe(`Missing ${dir}@${DIGEST_LAYER1}\n`);
    expect(JSON.parse(again.stdout)).toEqual({ reference: `${dir}@${DIGEST_LAYER1}`, digest: DIGEST_LAYER1, deleted: false });
    const strict = await lading(['blob', 'delete', L, `${dir}@${DIGEST_LAYER1}`]);
    expect(strict.code).toBe(4);
    expect(strict.stderr).toBe(`Error: blob ${DIGEST_LAYER1} not found in OCI layout ${dir}\n`);

    const j = await lading(['blob', 'delete', L, '--force', '--format', 'json', `${dir}@${CONFIG_LATEST.digest}`]);
    expect(JSON.parse(j.stdout)).toEqual({ reference: `${dir}@${CONFIG_LATEST.digest}`, digest: CONFIG_LATEST.digest, size: 872, deleted: true });
  });

  it('deleting from a layout that does not exist: not found (4), or Missing with --force; nothing is created', async () => {
    const dir = join(tmpDir('lading-lcmd-'), 'absent');
    const m = await lading(['manifest', 'delete', L, `${dir}:latest`]);
    expect(m.code).toBe(4);
    expect(m.stderr).toBe(`Error: OCI image layout ${dir} does not exist\n`);
    const f = await lading(['manifest', 'delete', L, '--force', `${dir}:latest`]);
    expectOk(f);
    expect(f.stderr).toBe(`Missing ${dir}:latest\n`);
    const b = await lading(['blob', 'delete', L, '--force', '--format', 'json', `${dir}@${DIGEST_LAYER1}`]);
    expect(JSON.parse(b.stdout)).toEqual({ reference: `${dir}@${DIGEST_LAYER1}`, digest: DIGEST_LAYER1, deleted: false });
    expect(existsSync(dir)).toBe(false);
  });
});

describe('tag --oci-layout', () => {
  it('adds several tags to the manifest a tag names, concurrently', async () => {
    const dir = busyboxCopy();
    const r = await lading(['tag', L, '--concurrency', '2', `${dir}:latest`, 'a', 'b', 'c', 'd']);
    expectOk(r);
    expect(r.stdout).toBe('Tagged a\nTagged b\nTagged c\nTagged d\n');
    expect(r.stderr).toBe(`Tagging [oci-layout] ${dir}@${LATEST.digest}\n`);
    expect((await lading(['repo', 'tags', L, dir])).stdout).toBe('a\narm64-variant\nb\nc\nd\nlatest\nmulti\n');
    expect((await lading(['repo', 'tags', L, `${dir}@${LATEST.digest}`])).stdout).toBe('a\nb\nc\nd\nlatest\n');
    expect(entries(dir).filter(([, d]) => d === LATEST.digest).map(([t]) => t).sort()).toEqual(['a', 'b', 'c', 'd', 'latest']);
  });

  it('moving a tag keeps the manifest it left, untagged', async () => {
    const dir = busyboxCopy();
    expectOk(await lading(['tag', L, `${dir}:arm64-variant`, 'latest']));
    expect((await lading(['resolve', L, `${dir}:latest`])).stdout).toBe(`${ARM64.digest}\n`);
    expect(entries(dir)).toContainEqual(['', LATEST.digest]);
    expect((await lading(['manifest', 'fetch', L, `${dir}@${LATEST.digest}`])).stdoutBytes.equals(latestBytes)).toBe(true);
  });

  it('an unknown tag is not found (4); an invalid new tag is a usage error (2) and changes nothing', async () => {
    const dir = busyboxCopy();
    const before = readFileSync(join(dir, 'index.json'));
    const r = await lading(['tag', L, `${dir}:nope`, 'x']);
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(`Error: nope: not found in OCI layout ${dir}\n`);
    const bad = await lading(['tag', L, `${dir}:latest`, 'ok', '.bad']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`Error: invalid tag ".bad"`);
    expect(readFileSync(join(dir, 'index.json')).equals(before)).toBe(true);
  });
});

describe('errors', () => {
  it('an unknown tag or digest is not found (4) for every reading command', async () => {
    const unknown = sha256('unknown');
    const cases: Array<[string[], string]> = [
      [['manifest', 'fetch', L, `${layout}:nope`], `Error: nope: not found in OCI layout ${layout}\n`],
      [['manifest', 'fetch-config', L, `${layout}:nope`], `Error: nope: not found in OCI layout ${layout}\n`],
      [['resolve', L, `${layout}:nope`], `Error: nope: not found in OCI layout ${layout}\n`],
      [['manifest', 'fetch', L, `${layout}@${unknown}`], `Error: ${unknown}: not found in OCI layout ${layout}\n`],
      [['blob', 'fetch', L, '--descriptor', `${layout}@${unknown}`], `Error: ${unknown}: not found in OCI layout ${layout}\n`],
    ];
    for (const [args, stderr] of cases) {
      const r = await lading(args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 4, stderr });
    }
  });

  it('a missing layout is not found (4) for reading commands, and is not created', async () => {
    const dir = join(tmpDir('lading-lcmd-'), 'missing');
    for (const args of [
      ['manifest', 'fetch', L, `${dir}:latest`],
      ['manifest', 'fetch-config', L, `${dir}:latest`],
      ['resolve', L, `${dir}:latest`],
      ['repo', 'tags', L, dir],
      ['blob', 'fetch', L, `${dir}@${DIGEST_LAYER1}`, '-o', '-'],
      ['tag', L, `${dir}:latest`, 'v1'],
    ]) {
      const r = await lading(args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 4, stderr: `Error: OCI image layout ${dir} does not exist\n` });
    }
    expect(existsSync(dir)).toBe(false);
  });

  it('a bad reference is a usage error (2)', async () => {
    const cases: Array<[string[], string]> = [
      [['manifest', 'fetch', L, `${layout}:-bad`], `invalid OCI layout reference "${layout}:-bad": invalid tag "-bad"`],
      [['manifest', 'fetch', L, `${layout}@sha256:abc`], `invalid OCI layout reference "${layout}@sha256:abc": invalid digest "sha256:abc"`],
      [['manifest', 'fetch', L, layout], `"${layout}" names no tag or digest: fetching a manifest needs PATH:TAG or PATH@DIGEST`],
      [['resolve', L, layout], `"${layout}" names no tag or digest: resolve needs PATH:TAG or PATH@DIGEST`],
      [['tag', L, layout, 'x'], `"${layout}" names no tag or digest: tag needs PATH:TAG or PATH@DIGEST`],
      [['manifest', 'delete', L, '--force', layout], `"${layout}" names no tag or digest: manifest delete needs PATH:TAG or PATH@DIGEST`],
      [['blob', 'delete', L, '--force', `${layout}:latest`], `"${layout}:latest" names no blob: use PATH@sha256:<digest>`],
      [['manifest', 'fetch', L, '--platform', 'linux', `${layout}:multi`], 'invalid platform "linux"'],
    ];
    for (const [args, message] of cases) {
      const r = await lading(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(`Error: ${message}`);
    }
    expect((await lading(['repo', 'tags', L, layout])).stdout).toBe(FIXTURE_TAGS);
  });

  it('a folder that is not a layout is refused (2)', async () => {
    const dir = tmpDir('lading-lcmd-');
    writeFileSync(join(dir, 'something'), 'x');
    const r = await lading(['manifest', 'push', L, `${dir}:v1`, '-'], { stdin: artifactManifest() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`Error: ${dir} is not an OCI image layout: it has no oci-layout file and is not empty\n`);
  });
});

describe('a layout tar archive (tar -cf x.tar -C layout .)', () => {
  let archive: string;
  beforeAll(async () => {
    archive = join(tmpDir('lading-ltar-'), 'busybox.tar');
    await run('tar', ['-cf', archive, '-C', BUSYBOX_OCI_DIR, '.']);
  });

  it('is read by the reading commands', async () => {
    const m = await lading(['manifest', 'fetch', L, `${archive}:latest`]);
    expectOk(m);
    expect(m.stdoutBytes.equals(latestBytes)).toBe(true);
    const j = await lading(['manifest', 'fetch', L, '--format', 'json', '--platform', 'linux/arm64', `${archive}:multi`]);
    expect(JSON.parse(j.stdout)).toMatchObject({ reference: `${archive}@${ARM64.digest}`, mediaType: OCI_MANIFEST, digest: ARM64.digest, size: 578 });
    const c = await lading(['manifest', 'fetch-config', L, `${archive}:latest`]);
    expect(c.stdoutBytes.equals(bytesOf(CONFIG_LATEST.digest))).toBe(true);
    expect((await lading(['resolve', L, '-l', `${archive}:multi`])).stdout).toBe(`${archive}@${MULTI.digest}\n`);
    expect((await lading(['repo', 'tags', L, archive])).stdout).toBe(FIXTURE_TAGS);
    const b = await lading(['blob', 'fetch', L, `${archive}@${DIGEST_LAYER1}`, '-o', '-']);
    expect(b.stdoutBytes.equals(layer1Bytes)).toBe(true);
  });

  it('is not written: every writing command says so (1), and the archive is unchanged', async () => {
    const before = readFileSync(archive);
    const file = join(work, 'tar-hello.txt');
    writeFileSync(file, HELLO);
    const message = `Error: ${archive} is an OCI layout tar archive, which lading reads but does not write; write to a folder, then archive it with tar -cf busybox.tar -C FOLDER .\n`;
    for (const [args, stdin] of [
      [['manifest', 'push', L, `${archive}:v1`, '-'], artifactManifest()],
      [['blob', 'push', L, archive, file], undefined],
      [['tag', L, `${archive}:latest`, 'v1'], undefined],
      [['manifest', 'delete', L, '--force', `${archive}:latest`], undefined],
      [['blob', 'delete', L, '--force', `${archive}@${DIGEST_LAYER1}`], undefined],
    ] as Array<[string[], Buffer | undefined]>) {
      const r = await lading(args, { stdin });
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 1, stderr: message });
    }
    expect(readFileSync(archive).equals(before)).toBe(true);
  });

  it('a .tar that does not exist: reading is not found (4), writing says to write a folder (1)', async () => {
    const absent = join(tmpDir('lading-ltar-'), 'absent.tar');
    const r = await lading(['manifest', 'fetch', L, `${absent}:latest`]);
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(`Error: OCI layout archive ${absent} does not exist\n`);
    const file = join(work, 'tar-hello2.txt');
    writeFileSync(file, HELLO);
    const w = await lading(['blob', 'push', L, absent, file]);
    expect(w.code).toBe(1);
    expect(w.stderr).toBe(
      `Error: ${absent}: writing an OCI layout tar archive is not supported; write to a folder, then archive it with tar -cf absent.tar -C FOLDER .\n`,
    );
    expect(existsSync(absent)).toBe(false);
  });
});
