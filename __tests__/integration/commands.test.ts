/**
 * Every lading command against real Distribution 2.8 registries (anonymous, plain HTTP): manifest fetch/push/delete/
 * fetch-config, blob fetch/push/delete, tag, repo tags, repo ls, resolve, version; a registry with relative upload
 * Locations; a registry with deletes disabled. Expected values are the fixtures' known digests and bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lading, type CliResult } from '../helpers/cli.js';
import { BUSYBOX_OCI, BUSYBOX_OCI_DIR, DIGEST_LAYER0, DIGEST_LAYER1, ociBlobPath } from '../helpers/fixtures.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { skopeoCopy, skopeoInspectRaw } from '../helpers/skopeo.js';
import { tmpDir } from '../helpers/tmp.js';

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const P = '--plain-http';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

const LATEST = BUSYBOX_OCI.latest.manifest;
const ARM64 = BUSYBOX_OCI.arm64Variant.manifest;
const MULTI = BUSYBOX_OCI.multi;
const latestBytes = readFileSync(ociBlobPath(LATEST.digest));
const arm64Bytes = readFileSync(ociBlobPath(ARM64.digest));
const multiBytes = readFileSync(ociBlobPath(MULTI.digest));
const layer0Bytes = readFileSync(ociBlobPath(DIGEST_LAYER0));
const layer1Bytes = readFileSync(ociBlobPath(DIGEST_LAYER1));
const configLatestBytes = readFileSync(ociBlobPath(BUSYBOX_OCI.latest.config.digest));
const configArm64Bytes = readFileSync(ociBlobPath(BUSYBOX_OCI.arm64Variant.config.digest));

/** A small artifact: empty-JSON config and a text layer, so manifests can be pushed to any repository. */
const EMPTY = Buffer.from('{}');
const EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
const HELLO = Buffer.from('hello from lading\n');
function artifactManifest(extra: Record<string, unknown> = {}, withMediaType = true): Buffer {
  const m: Record<string, unknown> = {
    schemaVersion: 2,
    ...(withMediaType ? { mediaType: OCI_MANIFEST } : {}),
    artifactType: 'application/vnd.lading.test',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: EMPTY_DIGEST, size: 2 },
    layers: [{ mediaType: 'text/plain', digest: sha256(HELLO), size: HELLO.length }],
    ...extra,
  };
  return Buffer.from(JSON.stringify(m, null, 2));
}

/** Stderr holds only plain status lines: no ANSI escapes, no carriage-return redraws (B34). */
function expectPlainStatus(stderr: string): void {
  expect(stderr).not.toMatch(/\x1b|\r/);
}

function expectOk(r: CliResult): void {
  if (r.code !== 0) throw new Error(`exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

let reg: RunningRegistry;
let work: string;
let H: string;

beforeAll(async () => {
  reg = await startRegistry();
  H = reg.host;
  work = tmpDir('lading-commands-');
  writeFileSync(join(work, 'empty.json'), EMPTY);
  writeFileSync(join(work, 'hello.txt'), HELLO);
  // The busybox OCI index with both platform manifests, by an independent client.
  await skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:multi`, `docker://${H}/busybox:multi`, { dest: reg, all: true });
  await skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:latest`, `docker://${H}/busybox:latest`, { dest: reg });
});
afterAll(async () => {
  await reg?.stop();
});

/** Puts the artifact's two blobs into `repo` with lading. */
async function seedArtifactBlobs(repo: string): Promise<void> {
  for (const f of ['empty.json', 'hello.txt']) expectOk(await lading(['blob', 'push', P, `${H}/${repo}`, join(work, f)]));
}

describe('manifest fetch', () => {
  it('prints the stored bytes of an index by tag, stderr empty', async () => {
    const r = await lading(['manifest', 'fetch', P, `${H}/busybox:multi`]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdoutBytes.equals(multiBytes)).toBe(true);
  });

  it('--output FILE writes the bytes and nothing to stdout', async () => {
    const out = join(work, 'fetched-latest.json');
    const r = await lading(['manifest', 'fetch', P, '--output', out, `${H}/busybox@${LATEST.digest}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`Fetched ${H}/busybox@${LATEST.digest} (${OCI_MANIFEST}) to ${out}\n`);
    expect(readFileSync(out).equals(latestBytes)).toBe(true);
  });

  it('--output - writes the bytes to stdout only', async () => {
    const r = await lading(['manifest', 'fetch', P, '-o', '-', `${H}/busybox:latest`]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdoutBytes.equals(latestBytes)).toBe(true);
  });

  it('--descriptor prints the descriptor as one JSON line', async () => {
    const r = await lading(['manifest', 'fetch', P, '--descriptor', `${H}/busybox:multi`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${JSON.stringify({ mediaType: OCI_INDEX, digest: MULTI.digest, size: MULTI.size })}\n`);
  });

  it('--pretty indents the JSON', async () => {
    const r = await lading(['manifest', 'fetch', P, '--pretty', `${H}/busybox:multi`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${JSON.stringify(JSON.parse(multiBytes.toString()), null, 2)}\n`);
  });

  it('--platform picks the matching manifest of the index', async () => {
    const arm = await lading(['manifest', 'fetch', P, '--platform', 'linux/arm64', `${H}/busybox:multi`]);
    expect(arm.code).toBe(0);
    expect(arm.stdoutBytes.equals(arm64Bytes)).toBe(true);
    const amd = await lading(['manifest', 'fetch', P, '--platform', 'linux/amd64', '--descriptor', `${H}/busybox:multi`]);
    expect(amd.stdout).toBe(`${JSON.stringify({ mediaType: OCI_MANIFEST, digest: LATEST.digest, size: LATEST.size })}\n`);
  });

  it('--platform with no match is not-found (4) and lists what the index has', async () => {
    const r = await lading(['manifest', 'fetch', P, '--platform', 'linux/s390x', `${H}/busybox:multi`]);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error: no manifest for platform linux/s390x in the index (available: linux/amd64, linux/arm64/v8)\n');
  });

  it('--media-type restricts the Accept header', async () => {
    const ok = await lading(['manifest', 'fetch', P, '--media-type', OCI_MANIFEST, `${H}/busybox:latest`]);
    expect(ok.code).toBe(0);
    expect(ok.stdoutBytes.equals(latestBytes)).toBe(true);
    // Distribution refuses to serve an OCI manifest to a Docker-only Accept.
    const refused = await lading(['manifest', 'fetch', P, '--media-type', DOCKER_MANIFEST, `${H}/busybox:latest`]);
    expect(refused.code).toBe(4);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(`${H}/busybox:latest: not found (OCI manifest found, but accept header does not support OCI manifests)`);
    const bad = await lading(['manifest', 'fetch', P, '--media-type', 'not a type', `${H}/busybox:latest`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid media type "not a type"');
  });

  it('--format json gives reference, descriptor and content', async () => {
    const r = await lading(['manifest', 'fetch', P, '--format', 'json', `${H}/busybox:multi`]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      reference: `${H}/busybox@${MULTI.digest}`,
      mediaType: OCI_INDEX,
      digest: MULTI.digest,
      size: MULTI.size,
      content: JSON.parse(multiBytes.toString()),
    });
    const bad = await lading(['manifest', 'fetch', P, '--format', 'yaml', `${H}/busybox:multi`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid --format "yaml": expected text or json');
  });

  it('an unknown tag is not-found (4)', async () => {
    const r = await lading(['manifest', 'fetch', P, `${H}/busybox:nope`]);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`Error: ${H}/busybox:nope: not found\n`);
  });
});

describe('manifest fetch-config', () => {
  it('prints the config blob of an image', async () => {
    const r = await lading(['manifest', 'fetch-config', P, `${H}/busybox:latest`]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdoutBytes.equals(configLatestBytes)).toBe(true);
  });

  it('follows --platform into an index; without it an index is a usage error', async () => {
    const arm = await lading(['manifest', 'fetch-config', P, '--platform', 'linux/arm64/v8', `${H}/busybox:multi`]);
    expect(arm.code).toBe(0);
    expect(arm.stdoutBytes.equals(configArm64Bytes)).toBe(true);
    const idx = await lading(['manifest', 'fetch-config', P, `${H}/busybox:multi`]);
    expect(idx.code).toBe(2);
    expect(idx.stderr).toContain(`${H}/busybox:multi@${MULTI.digest} is an index; choose a platform with --platform`);
  });

  it('--descriptor and --output FILE', async () => {
    const d = await lading(['manifest', 'fetch-config', P, '--descriptor', `${H}/busybox:latest`]);
    expect(d.stdout).toBe(`${JSON.stringify(BUSYBOX_OCI.latest.config)}\n`);
    const out = join(work, 'config.json');
    const f = await lading(['manifest', 'fetch-config', P, '-o', out, `${H}/busybox:latest`]);
    expect(f.code).toBe(0);
    expect(f.stdout).toBe('');
    expect(readFileSync(out).equals(configLatestBytes)).toBe(true);
  });
});

describe('blob fetch', () => {
  it('--output FILE writes the verified blob; status on stderr', async () => {
    const out = join(work, 'layer1.tgz');
    const r = await lading(['blob', 'fetch', P, `${H}/busybox@${DIGEST_LAYER1}`, '--output', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`Downloaded ${DIGEST_LAYER1} 326 B to ${out}\n`);
    expect(readFileSync(out).equals(layer1Bytes)).toBe(true);
  });

  it('--output - puts exactly the blob bytes on stdout, nothing else (B34)', async () => {
    const r = await lading(['blob', 'fetch', P, `${H}/busybox@${DIGEST_LAYER0}`, '-o', '-']);
    expect(r.code).toBe(0);
    expect(r.stdoutBytes.length).toBe(1084069);
    expect(sha256(r.stdoutBytes)).toBe(DIGEST_LAYER0);
    expect(r.stdoutBytes.equals(layer0Bytes)).toBe(true);
    expectPlainStatus(r.stderr);
    expect(r.stderr).toBe('');
    // --debug trace lines go to stderr too, never into the content.
    const dbg = await lading(['blob', 'fetch', P, '--debug', `${H}/busybox@${DIGEST_LAYER1}`, '-o', '-']);
    expect(dbg.code).toBe(0);
    expect(dbg.stdoutBytes.equals(layer1Bytes)).toBe(true);
    expect(dbg.stderr).toContain(`[debug] GET http://${H}/v2/busybox/blobs/${DIGEST_LAYER1} -> 200`);
    expectPlainStatus(dbg.stderr);
  });

  it('--format json: with a file, a JSON descriptor; with "-", refused (content and JSON would mix on stdout)', async () => {
    const out = join(work, 'layer1-json.tgz');
    const r = await lading(['blob', 'fetch', P, '--format', 'json', `${H}/busybox@${DIGEST_LAYER1}`, '-o', out]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ reference: `${H}/busybox@${DIGEST_LAYER1}`, mediaType: 'application/octet-stream', digest: DIGEST_LAYER1, size: 326, output: out });
    expect(readFileSync(out).equals(layer1Bytes)).toBe(true);
    const mixed = await lading(['blob', 'fetch', P, '--format', 'json', `${H}/busybox@${DIGEST_LAYER1}`, '-o', '-']);
    expect(mixed.code).toBe(2);
    expect(mixed.stdout).toBe('');
    expect(mixed.stderr).toContain('--output - cannot be used with --format json');
  });

  it('--descriptor HEADs the blob', async () => {
    const r = await lading(['blob', 'fetch', P, '--descriptor', `${H}/busybox@${DIGEST_LAYER1}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${JSON.stringify({ mediaType: 'application/octet-stream', digest: DIGEST_LAYER1, size: 326 })}\n`);
  });

  it('needs --output or --descriptor, and a digest', async () => {
    const r = await lading(['blob', 'fetch', P, `${H}/busybox@${DIGEST_LAYER1}`]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('blob fetch needs --output FILE (or "-" for stdout) or --descriptor');
    const t = await lading(['blob', 'fetch', P, `${H}/busybox:latest`, '-o', '-']);
    expect(t.code).toBe(2);
    expect(t.stderr).toContain('names no blob');
  });

  it('an unknown blob is not-found (4) and creates no output file', async () => {
    const missing = sha256('no such blob');
    const out = join(work, 'missing.bin');
    const r = await lading(['blob', 'fetch', P, `${H}/busybox@${missing}`, '-o', out]);
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(`Error: blob ${missing} not found in ${H}/busybox\n`);
    expect(existsSync(out)).toBe(false);
  });
});

describe('blob push', () => {
  it('pushes a file, then reports Exists', async () => {
    const r = await lading(['blob', 'push', P, `${H}/blobs`, join(work, 'hello.txt')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Digest: ${sha256(HELLO)}\n`);
    expect(r.stderr).toBe(`Pushed [registry] ${H}/blobs@${sha256(HELLO)}\n`);
    const again = await lading(['blob', 'push', P, `${H}/blobs`, join(work, 'hello.txt')]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`Digest: ${sha256(HELLO)}\n`);
    expect(again.stderr).toBe(`Exists [registry] ${H}/blobs@${sha256(HELLO)}\n`);
    const back = await lading(['blob', 'fetch', P, `${H}/blobs@${sha256(HELLO)}`, '-o', '-']);
    expect(back.stdoutBytes.equals(HELLO)).toBe(true);
  });

  it('pushes stdin with --size; --descriptor and --format json', async () => {
    const data = Buffer.from('from stdin, exactly 33 bytes long');
    const r = await lading(['blob', 'push', P, '--size', String(data.length), '--descriptor', `${H}/blobs`, '-'], { stdin: data });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${JSON.stringify({ mediaType: 'application/octet-stream', digest: sha256(data), size: data.length })}\n`);
    const back = await lading(['blob', 'fetch', P, `${H}/blobs@${sha256(data)}`, '-o', '-']);
    expect(back.stdoutBytes.equals(data)).toBe(true);
    const json = await lading(['blob', 'push', P, '--format', 'json', '--media-type', 'text/plain', `${H}/blobs`, join(work, 'hello.txt')]);
    expect(JSON.parse(json.stdout)).toEqual({ reference: `${H}/blobs@${sha256(HELLO)}`, mediaType: 'text/plain', digest: sha256(HELLO), size: HELLO.length, exists: true });
  });

  it('a wrong --size is a digest/size mismatch (5) and stores nothing', async () => {
    const data = Buffer.from('twenty bytes of data');
    const r = await lading(['blob', 'push', P, '--size', '25', `${H}/blobs`, '-'], { stdin: data });
    expect(r.code).toBe(5);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error: blob size mismatch: --size says 25 bytes, read 20\n');
    const small = await lading(['blob', 'push', P, '--size', '15', `${H}/blobs`, '-'], { stdin: data });
    expect(small.code).toBe(5);
    expect(small.stderr).toBe('Error: blob size mismatch: --size says 15 bytes, read more than 15\n');
    const head = await lading(['blob', 'fetch', P, '--descriptor', `${H}/blobs@${sha256(data)}`]);
    expect(head.code).toBe(4);
  });

  it('@digest that does not match the file is a mismatch (5), nothing uploaded', async () => {
    const wrong = sha256('something else');
    const r = await lading(['blob', 'push', P, `${H}/blobs2@${wrong}`, join(work, 'hello.txt')]);
    expect(r.code).toBe(5);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`Error: "${join(work, 'hello.txt')}" has digest ${sha256(HELLO)}, not ${wrong}\n`);
    const head = await lading(['blob', 'fetch', P, '--descriptor', `${H}/blobs2@${sha256(HELLO)}`]);
    expect(head.code).toBe(4);
    // from stdin the digest is known only after the upload: still a mismatch, and the blob is not stored under the wrong digest
    const s = await lading(['blob', 'push', P, `${H}/blobs2@${wrong}`, '-'], { stdin: HELLO });
    expect(s.code).toBe(5);
    expect((await lading(['blob', 'fetch', P, '--descriptor', `${H}/blobs2@${wrong}`])).code).toBe(4);
  });

  it('@digest matching the file pushes under that digest; --size is refused for files', async () => {
    const r = await lading(['blob', 'push', P, `${H}/blobs3@${sha256(HELLO)}`, join(work, 'hello.txt')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Digest: ${sha256(HELLO)}\n`);
    const f = await lading(['blob', 'push', P, '--size', '18', `${H}/blobs3`, join(work, 'hello.txt')]);
    expect(f.code).toBe(2);
    expect(f.stderr).toContain('--size is only for stdin');
    const missing = await lading(['blob', 'push', P, `${H}/blobs3`, join(work, 'no-such-file')]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('no such file');
  });
});

describe('blob delete', () => {
  it('refuses without a terminal and --force; deletes with --force; a missing blob with --force is fine', async () => {
    const data = Buffer.from('to be deleted');
    expectOk(await lading(['blob', 'push', P, `${H}/deleteme`, '-'], { stdin: data }));
    const ref = `${H}/deleteme@${sha256(data)}`;
    const refused = await lading(['blob', 'delete', P, ref]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--force');
    expect((await lading(['blob', 'fetch', P, '--descriptor', ref])).code).toBe(0);

    const del = await lading(['blob', 'delete', P, '--force', ref]);
    expect(del.code).toBe(0);
    expect(del.stdout).toBe(`Deleted ${ref}\n`);
    expect((await lading(['blob', 'fetch', P, '--descriptor', ref])).code).toBe(4);

    const again = await lading(['blob', 'delete', P, '-f', ref]);
    expect(again.code).toBe(0);
    expect(again.stderr).toBe(`Missing ${ref}\n`);
    const strict = await lading(['blob', 'delete', P, ref]);
    expect(strict.code).toBe(4);
  });
});

describe('manifest push', () => {
  beforeAll(async () => {
    await seedArtifactBlobs('art');
  });

  it('REF,TAG2 pushes under both tags', async () => {
    const bytes = artifactManifest();
    const file = join(work, 'artifact.json');
    writeFileSync(file, bytes);
    const r = await lading(['manifest', 'push', P, `${H}/art:v1,v2`, file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Digest: ${sha256(bytes)}\n`);
    expect(r.stderr).toBe(`Pushed [registry] ${H}/art@${sha256(bytes)} (tags: v1, v2)\n`);
    for (const t of ['v1', 'v2']) {
      const f = await lading(['manifest', 'fetch', P, `${H}/art:${t}`]);
      expect(f.stdoutBytes.equals(bytes)).toBe(true);
    }
    // an independent client reads the same bytes
    expect((await skopeoInspectRaw(reg, 'art:v2')).equals(bytes)).toBe(true);
    const tags = await lading(['repo', 'tags', P, `${H}/art`]);
    expect(tags.stdout).toBe('v1\nv2\n');
  });

  it('from stdin, by digest, with --format json', async () => {
    const bytes = artifactManifest({ annotations: { from: 'stdin' } });
    const r = await lading(['manifest', 'push', P, '--format', 'json', `${H}/art@${sha256(bytes)}`, '-'], { stdin: bytes });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ reference: `${H}/art@${sha256(bytes)}`, mediaType: OCI_MANIFEST, digest: sha256(bytes), size: bytes.length, tags: [] });
    const f = await lading(['manifest', 'fetch', P, `${H}/art@${sha256(bytes)}`]);
    expect(f.stdoutBytes.equals(bytes)).toBe(true);
  });

  it('a file without mediaType needs --media-type', async () => {
    const bytes = artifactManifest({}, false);
    const file = join(work, 'no-media-type.json');
    writeFileSync(file, bytes);
    const r = await lading(['manifest', 'push', P, `${H}/art:nomt`, file]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error: media type not found in file; pass --media-type\nRun "lading manifest push --help" for usage.\n');
    expect((await lading(['manifest', 'fetch', P, `${H}/art:nomt`])).code).toBe(4);

    const ok = await lading(['manifest', 'push', P, '--media-type', OCI_MANIFEST, `${H}/art:nomt`, file]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`Digest: ${sha256(bytes)}\n`);
    const d = await lading(['manifest', 'fetch', P, '--descriptor', `${H}/art:nomt`]);
    expect(d.stdout).toBe(`${JSON.stringify({ mediaType: OCI_MANIFEST, digest: sha256(bytes), size: bytes.length })}\n`);
  });

  it('--media-type contradicting the file is a usage error; a digest that does not match is a mismatch', async () => {
    const bytes = artifactManifest();
    const file = join(work, 'artifact.json');
    writeFileSync(file, bytes);
    const r = await lading(['manifest', 'push', P, '--media-type', DOCKER_MANIFEST, `${H}/art:x`, file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--media-type ${DOCKER_MANIFEST} contradicts the manifest's mediaType ${OCI_MANIFEST}`);
    const wrong = sha256('x');
    const m = await lading(['manifest', 'push', P, `${H}/art@${wrong}`, file]);
    expect(m.code).toBe(5);
    expect(m.stderr).toContain(`manifest content digest is ${sha256(bytes)}, not ${wrong}`);
  });

  it('a manifest whose blobs are missing is refused by the registry (1)', async () => {
    const bytes = artifactManifest({ layers: [{ mediaType: 'text/plain', digest: sha256('absent'), size: 6 }] });
    const r = await lading(['manifest', 'push', P, `${H}/art:broken`, '-'], { stdin: bytes });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('MANIFEST_BLOB_UNKNOWN');
  });
});

describe('manifest delete', () => {
  const bytes = artifactManifest({ annotations: { purpose: 'delete' } });
  beforeAll(async () => {
    await seedArtifactBlobs('del');
    expectOk(await lading(['manifest', 'push', P, `${H}/del:a,b`, '-'], { stdin: bytes }));
  });

  it('without a terminal and without --force: usage error naming --force, nothing deleted', async () => {
    const r = await lading(['manifest', 'delete', P, `${H}/del:a`]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('pass --force');
    expect((await lading(['resolve', P, `${H}/del:a`])).stdout).toBe(`${sha256(bytes)}\n`);
  });

  it('on a terminal, a "no" answer cancels', async () => {
    const r = await lading(['manifest', 'delete', P, `${H}/del:a`], { tty: true, stdin: 'n\n' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Are you sure you want to delete the manifest ${sha256(bytes)} and all tags associated with it? [y/N]`);
    expect(r.stderr).toContain('cancelled: nothing was deleted');
    expect((await lading(['resolve', P, `${H}/del:a`])).code).toBe(0);
  });

  it('--force deletes by digest, and every tag of it goes', async () => {
    const r = await lading(['manifest', 'delete', P, '--force', `${H}/del:a`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Deleted ${H}/del@${sha256(bytes)}\n`);
    expect(r.stderr).toBe(`Deleted [registry] ${H}/del:a\n`);
    for (const t of ['a', 'b']) expect((await lading(['manifest', 'fetch', P, `${H}/del:${t}`])).code).toBe(4);
  });

  it('a missing reference: 0 with --force, 4 without', async () => {
    const f = await lading(['manifest', 'delete', P, '--force', `${H}/del:a`]);
    expect(f.code).toBe(0);
    expect(f.stdout).toBe('');
    expect(f.stderr).toBe(`Missing ${H}/del:a\n`);
    const j = await lading(['manifest', 'delete', P, '--force', '--format', 'json', `${H}/del@${sha256(bytes)}`]);
    expect(JSON.parse(j.stdout)).toEqual({ reference: `${H}/del@${sha256(bytes)}`, deleted: false });
    const n = await lading(['manifest', 'delete', P, `${H}/del:a`]);
    expect(n.code).toBe(4);
    expect(n.stderr).toBe(`Error: ${H}/del:a: not found\n`);
  });
});

describe('tag, resolve, repo tags, repo ls', () => {
  beforeAll(async () => {
    await skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:latest`, `docker://${H}/team/app:latest`, { dest: reg });
    await skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:arm64-variant`, `docker://${H}/team/app:arm`, { dest: reg });
    await skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:latest`, `docker://${H}/team/sub/tool:1`, { dest: reg });
  });

  it('tag adds several tags at once', async () => {
    const r = await lading(['tag', P, `${H}/team/app:latest`, 'v1', 'v2', 'v3', `sha256-${LATEST.digest.slice(7)}`, `sha256-${LATEST.digest.slice(7)}.sig`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(['v1', 'v2', 'v3', `sha256-${LATEST.digest.slice(7)}`, `sha256-${LATEST.digest.slice(7)}.sig`].map((t) => `Tagged ${t}\n`).join(''));
    for (const t of ['v1', 'v2', 'v3']) {
      expect((await lading(['resolve', P, `${H}/team/app:${t}`])).stdout).toBe(`${LATEST.digest}\n`);
    }
    const j = await lading(['tag', P, '--format', 'json', `${H}/team/app@${ARM64.digest}`, 'arm-2']);
    expect(JSON.parse(j.stdout)).toEqual({ reference: `${H}/team/app@${ARM64.digest}`, mediaType: OCI_MANIFEST, digest: ARM64.digest, size: ARM64.size, tags: ['arm-2'] });
    const bad = await lading(['tag', P, `${H}/team/app:latest`, 'ok', '.bad']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid tag ".bad"');
    expect((await lading(['resolve', P, `${H}/team/app:ok`])).code).toBe(4);
  });

  it('repo tags: sorted, --last, --exclude-digest-tags, @digest', async () => {
    const sig = `sha256-${LATEST.digest.slice(7)}`;
    const all = await lading(['repo', 'tags', P, `${H}/team/app`]);
    expect(all).toMatchObject({ code: 0, stderr: '' });
    expect(all.stdout).toBe(['arm', 'arm-2', 'latest', sig, `${sig}.sig`, 'v1', 'v2', 'v3'].join('\n') + '\n');
    const last = await lading(['repo', 'tags', P, '--last', 'latest', `${H}/team/app`]);
    expect(last.stdout).toBe([sig, `${sig}.sig`, 'v1', 'v2', 'v3'].join('\n') + '\n');
    const ex = await lading(['repo', 'tags', P, '--exclude-digest-tags', `${H}/team/app`]);
    expect(ex.stdout).toBe('arm\narm-2\nlatest\nv1\nv2\nv3\n');
    const byDigest = await lading(['repo', 'tags', P, '--exclude-digest-tags', `${H}/team/app@${ARM64.digest}`]);
    expect(byDigest.stdout).toBe('arm\narm-2\n');
    const unknown = await lading(['repo', 'tags', P, `${H}/team/nothing`]);
    expect(unknown.code).toBe(4);
  });

  it('resolve prints the digest; -l the full reference', async () => {
    const r = await lading(['resolve', P, `${H}/team/app:arm`]);
    expect(r).toMatchObject({ code: 0, stdout: `${ARM64.digest}\n`, stderr: '' });
    const l = await lading(['resolve', P, '-l', `${H}/team/app:arm`]);
    expect(l.stdout).toBe(`${H}/team/app@${ARM64.digest}\n`);
    const p = await lading(['resolve', P, '--platform', 'linux/arm64', `${H}/busybox:multi`]);
    expect(p.stdout).toBe(`${ARM64.digest}\n`);
    const idx = await lading(['resolve', P, '--format', 'json', `${H}/busybox:multi`]);
    expect(JSON.parse(idx.stdout)).toEqual({ reference: `${H}/busybox@${MULTI.digest}`, mediaType: OCI_INDEX, digest: MULTI.digest, size: MULTI.size });
  });

  it('repo ls: every repository, or those under a namespace', async () => {
    const all = await lading(['repo', 'ls', P, H]);
    expect(all.code).toBe(0);
    const repos = all.stdout.trim().split('\n');
    expect(repos).toEqual([...repos].sort());
    expect(repos).toEqual(expect.arrayContaining(['busybox', 'team/app', 'team/sub/tool', 'blobs']));
    const ns = await lading(['repo', 'ls', P, `${H}/team`]);
    expect(ns.stdout).toBe('app\nsub/tool\n');
    const last = await lading(['repo', 'ls', P, '--last', 'app', `${H}/team`]);
    expect(last.stdout).toBe('sub/tool\n');
    const json = await lading(['repo', 'list', P, '--format', 'json', `${H}/team/sub/`]);
    expect(JSON.parse(json.stdout)).toEqual({ registry: H, namespace: 'team/sub', repositories: ['tool'] });
  });
});

describe('version and help', () => {
  it('version prints the version', async () => {
    const r = await lading(['version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`lading 0.1.0\nnode ${process.version} ${process.platform}/${process.arch}\n`);
    expect(r.stderr).toBe('');
    expect((await lading(['--version'])).stdout).toBe('lading 0.1.0\n');
    expect(JSON.parse((await lading(['version', '--format', 'json'])).stdout)).toEqual({ version: '0.1.0', node: process.version, platform: `${process.platform}/${process.arch}` });
  });

  it('help for a command and for a group exits 0', async () => {
    const h = await lading(['blob', 'push', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^Usage: lading blob push REPOSITORY\[@DIGEST\] FILE\|- \[flags\]/);
    const g = await lading(['manifest', '--help']);
    expect(g.code).toBe(0);
    expect(g.stdout).toContain('manifest fetch-config');
  });

  it('the top-level help names every environment variable the CLI reads', async () => {
    const h = await lading(['--help']);
    expect(h.code).toBe(0);
    const environment = h.stdout.slice(h.stdout.indexOf('Environment:'));
    // What the CLI's code reads (the Action's RUNNER_*/GITHUB_* variables and PATH are not the user's settings).
    for (const name of ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'LADING_HTTP_TIMEOUT', 'LADING_REGISTRY_CONFIG', 'DOCKER_CONFIG', 'SOURCE_DATE_EPOCH']) {
      expect(environment).toContain(name);
    }
    expect((await lading(['manifest', '--help'])).stdout).not.toContain('Environment:');
  });
});

describe('registry with relative upload Locations', () => {
  let rel: RunningRegistry;
  beforeAll(async () => {
    rel = await startRegistry({ relativeUrls: true });
  });
  afterAll(async () => {
    await rel?.stop();
  });

  it('blob push (file and stdin) and manifest push work', async () => {
    const R = rel.host;
    const a = await lading(['blob', 'push', P, `${R}/rel`, join(work, 'empty.json')]);
    expectOk(a);
    expect(a.stdout).toBe(`Digest: ${EMPTY_DIGEST}\n`);
    const b = await lading(['blob', 'push', P, '--size', String(HELLO.length), `${R}/rel`, '-'], { stdin: HELLO });
    expect(b.code).toBe(0);
    expect(b.stdout).toBe(`Digest: ${sha256(HELLO)}\n`);
    const big = await lading(['blob', 'push', P, `${R}/rel`, ociBlobPath(DIGEST_LAYER0)]);
    expect(big.stdout).toBe(`Digest: ${DIGEST_LAYER0}\n`);
    const bytes = artifactManifest();
    const m = await lading(['manifest', 'push', P, `${R}/rel:v1`, '-'], { stdin: bytes });
    expect(m.code).toBe(0);
    expect(m.stdout).toBe(`Digest: ${sha256(bytes)}\n`);
    expect((await skopeoInspectRaw(rel, 'rel:v1')).equals(bytes)).toBe(true);
    const back = await lading(['blob', 'fetch', P, `${R}/rel@${DIGEST_LAYER0}`, '-o', '-']);
    expect(sha256(back.stdoutBytes)).toBe(DIGEST_LAYER0);
  });
});

describe('registry with deletes disabled', () => {
  let ro: RunningRegistry;
  beforeAll(async () => {
    ro = await startRegistry({ deleteEnabled: false });
  });
  afterAll(async () => {
    await ro?.stop();
  });

  it('manifest delete and blob delete fail with a clear message, content stays', async () => {
    const R = ro.host;
    expectOk(await lading(['blob', 'push', P, `${R}/keep`, join(work, 'empty.json')]));
    expectOk(await lading(['blob', 'push', P, `${R}/keep`, join(work, 'hello.txt')]));
    const bytes = artifactManifest();
    expectOk(await lading(['manifest', 'push', P, `${R}/keep:v1`, '-'], { stdin: bytes }));
    const m = await lading(['manifest', 'delete', P, '--force', `${R}/keep:v1`]);
    expect(m.code).toBe(1);
    expect(m.stdout).toBe('');
    expect(m.stderr).toBe(`Error: ${R}/keep: the registry does not allow deleting manifests (405 UNSUPPORTED)\n`);
    const b = await lading(['blob', 'delete', P, '--force', `${R}/keep@${EMPTY_DIGEST}`]);
    expect(b.code).toBe(1);
    expect(b.stderr).toBe(`Error: ${R}/keep: the registry does not allow deleting blobs (405 UNSUPPORTED)\n`);
    expect((await lading(['resolve', P, `${R}/keep:v1`])).stdout).toBe(`${sha256(bytes)}\n`);
  });
});
