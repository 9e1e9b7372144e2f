/**
 * `push` and `pull` of files and folders against the real registry (Distribution 2.8, plain HTTP) and into OCI
 * layouts: round trips, ORAS's manifest shape, every push flag, reproducible pushes, pull options, and the bad
 * inputs of CASES B29 (titles and tar entries that climb out), B31 (modes) and B32 (`path:mediatype`).
 * Crafted artifacts are pushed with `blob push` + `manifest push`; a tampered blob is made by rewriting the
 * registry's own storage file (and a layout's blob file).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { lading, type CliResult } from '../helpers/cli.js';
import { run } from '../helpers/exec.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { skopeoCopy } from '../helpers/skopeo.js';
import { tmpDir } from '../helpers/tmp.js';
import { gz, rawTar, sha256, snapshot, withUmask } from '../unit/file/tar-helpers.js';

const P = '--plain-http';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256('{}'), size: 2, data: 'e30=' };
const TAR = 'application/vnd.oci.image.layer.v1.tar';
const TAR_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const TITLE = 'org.opencontainers.image.title';
const CONTENT_DIGEST = 'io.deis.oras.content.digest';
const UNPACK = 'io.deis.oras.content.unpack';
const CREATED = 'org.opencontainers.image.created';
const FILE_MODE = 'land.lading.file.mode';
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

/** The environment of every run: no docker config, and no SOURCE_DATE_EPOCH unless a test sets it. */
const ENV: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: '/nonexistent-lading-test-docker-config' };
delete ENV.SOURCE_DATE_EPOCH;

let reg: RunningRegistry;
let H: string;
let work: string;
let previousCwd: string;
let previousUmask: number;

beforeAll(async () => {
  previousCwd = process.cwd();
  previousUmask = process.umask(0o022);
  reg = await startRegistry();
  H = reg.host;
  work = tmpDir('lading-artifacts-');
  process.chdir(work);
});

afterAll(async () => {
  process.chdir(previousCwd);
  process.umask(previousUmask);
  await reg?.stop();
});

function cli(args: string[], env: NodeJS.ProcessEnv = ENV): Promise<CliResult> {
  return lading(args, { env });
}

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`lading ${r.args.join(' ')} exited ${r.code}\n${r.stderr}`);
  return r;
}

function digestOf(r: CliResult): string {
  const m = /^Digest: (sha256:[0-9a-f]{64})$/m.exec(r.stdout);
  if (!m) throw new Error(`no digest in: ${r.stdout}\n${r.stderr}`);
  return m[1];
}

/** Runs fn with `dir` as the working folder (push titles are relative to it). */
async function inDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const before = process.cwd();
  process.chdir(dir);
  try {
    return await fn();
  } finally {
    process.chdir(before);
  }
}

function fresh(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function manifestBytes(ref: string, layout = false): Promise<Buffer> {
  return ok(await cli(['manifest', 'fetch', ...(layout ? ['--oci-layout'] : [P]), ref])).stdoutBytes;
}

async function manifestOf(ref: string, layout = false): Promise<Record<string, any>> {
  return JSON.parse((await manifestBytes(ref, layout)).toString('utf8'));
}

async function blobBytes(repo: string, digest: string): Promise<Buffer> {
  return ok(await cli(['blob', 'fetch', P, `${H}/${repo}@${digest}`, '-o', '-'])).stdoutBytes;
}

/** Pushes bytes as a blob of `repo`; returns its digest. */
async function pushBlob(repo: string, bytes: Buffer | string): Promise<{ digest: string; size: number }> {
  const file = join(fresh('blobs'), `${sha256(bytes).slice(7, 19)}`);
  writeFileSync(file, bytes);
  ok(await cli(['blob', 'push', P, `${H}/${repo}`, file]));
  return { digest: sha256(bytes), size: Buffer.byteLength(bytes) };
}

/** Pushes a crafted manifest under `ref` (with the empty blob its config may name); returns its digest. */
async function pushManifest(ref: string, manifest: object): Promise<string> {
  await pushBlob(ref.slice(H.length + 1).split(/[:@]/)[0], '{}');
  const bytes = Buffer.from(JSON.stringify(manifest));
  const file = join(fresh('manifests'), sha256(bytes).slice(7, 19));
  writeFileSync(file, bytes);
  ok(await cli(['manifest', 'push', P, ref, file]));
  return sha256(bytes);
}

function artifact(layers: object[], extra: object = {}): object {
  return { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.crafted', config: EMPTY, layers, ...extra };
}

/** Every entry under dir, also hidden ones (temporary files would show). */
function entries(dir: string): string[] {
  return existsSync(dir) ? Object.keys(snapshot(dir)) : [];
}

function mode(path: string): number {
  return lstatSync(path).mode & 0o7777;
}

/** The tree of the round trip: files, an empty file, an executable, nested and empty folders, a symlink. */
function makeTree(root: string): void {
  mkdirSync(join(root, 'dir', 'sub', 'deeper'), { recursive: true });
  mkdirSync(join(root, 'dir', 'empty'), { recursive: true });
  mkdirSync(join(root, 'emptydir'), { recursive: true });
  writeFileSync(join(root, 'a.txt'), 'hello artifact\n');
  writeFileSync(join(root, 'empty.txt'), '');
  writeFileSync(join(root, 'run.sh'), '#!/bin/sh\necho run\n');
  chmodSync(join(root, 'run.sh'), 0o755);
  writeFileSync(join(root, 'dir', 'inner.txt'), 'inner\n');
  writeFileSync(join(root, 'dir', 'empty.txt'), '');
  writeFileSync(join(root, 'dir', 'tool.sh'), '#!/bin/sh\necho tool\n');
  chmodSync(join(root, 'dir', 'tool.sh'), 0o755);
  writeFileSync(join(root, 'dir', 'sub', 'deeper', 'data.bin'), Buffer.alloc(70_000, 7));
  symlinkSync('inner.txt', join(root, 'dir', 'link'));
  symlinkSync('sub/deeper/data.bin', join(root, 'dir', 'deep-link'));
}
const TREE_ARGS = ['a.txt', 'empty.txt', 'run.sh', 'dir', 'emptydir'];

describe('round trip', () => {
  it('push then pull gives the same tree, and the manifest has exactly ORAS’s shape', async () => {
    const src = fresh('rt-src');
    makeTree(src);
    const before = Date.now();
    const pushed = ok(await inDir(src, () => cli(['push', P, `${H}/art/rt:v1`, ...TREE_ARGS])));
    const digest = digestOf(pushed);
    expect(pushed.stderr).toContain(`Pushed [registry] ${H}/art/rt:v1`);
    expect(pushed.stderr).toContain('ArtifactType: application/vnd.unknown.artifact.v1');

    const bytes = await manifestBytes(`${H}/art/rt:v1`);
    expect(sha256(bytes)).toBe(digest);
    const m = JSON.parse(bytes.toString('utf8'));
    expect(Object.keys(m)).toEqual(['schemaVersion', 'mediaType', 'artifactType', 'config', 'layers', 'annotations']);
    expect(m.schemaVersion).toBe(2);
    expect(m.mediaType).toBe(OCI_MANIFEST);
    expect(m.artifactType).toBe('application/vnd.unknown.artifact.v1');
    expect(m.config).toEqual(EMPTY);
    expect(Object.keys(m.config)).toEqual(['mediaType', 'digest', 'size', 'data']);
    expect(Object.keys(m.annotations)).toEqual([CREATED]);
    expect(m.annotations[CREATED]).toMatch(RFC3339);
    expect(Math.abs(Date.parse(m.annotations[CREATED]) - before)).toBeLessThan(60_000);

    const file = (name: string, content: string | Buffer, extra: Record<string, string> = {}) => ({
      mediaType: TAR,
      digest: sha256(content),
      size: Buffer.byteLength(content),
      annotations: { ...extra, [TITLE]: name },
    });
    expect(m.layers.slice(0, 3)).toEqual([
      file('a.txt', 'hello artifact\n'),
      file('empty.txt', ''),
      file('run.sh', '#!/bin/sh\necho run\n', { [FILE_MODE]: '0755' }),
    ]);
    // Folders: tar+gzip, annotation keys sorted as Go writes a map (digest, unpack, title).
    for (const [layer, title] of [
      [m.layers[3], 'dir'],
      [m.layers[4], 'emptydir'],
    ] as const) {
      expect(layer.mediaType).toBe(TAR_GZIP);
      expect(Object.keys(layer)).toEqual(['mediaType', 'digest', 'size', 'annotations']);
      expect(Object.keys(layer.annotations)).toEqual([CONTENT_DIGEST, UNPACK, TITLE]);
      expect(layer.annotations[TITLE]).toBe(title);
      expect(layer.annotations[UNPACK]).toBe('true');
      const gzipped = await blobBytes('art/rt', layer.digest);
      expect(sha256(gzipped)).toBe(layer.digest);
      expect(gzipped.length).toBe(layer.size);
      expect(sha256(gunzipSync(gzipped))).toBe(layer.annotations[CONTENT_DIGEST]);
      // GNU tar reads it; every entry is under the title
      const tarFile = join(fresh('rt-tars'), title);
      writeFileSync(tarFile, gzipped);
      const names = (await run('tar', ['-tzf', tarFile])).stdout.trim().split('\n');
      expect(names.every((n) => n === `${title}/` || n.startsWith(`${title}/`))).toBe(true);
    }
    expect(ok(await cli(['blob', 'fetch', P, `${H}/art/rt@${EMPTY.digest}`, '-o', '-'])).stdout).toBe('{}');

    const out = join(work, 'rt-out');
    const pulled = ok(await cli(['pull', P, `${H}/art/rt:v1`, '-o', out]));
    expect(digestOf(pulled)).toBe(digest);
    expect(snapshot(out)).toEqual(snapshot(src));
    expect(mode(join(out, 'run.sh'))).toBe(0o755);
    expect(mode(join(out, 'dir', 'tool.sh'))).toBe(0o755);
    expect(mode(join(out, 'a.txt'))).toBe(0o644);
    expect(readFileSync(join(out, 'dir', 'sub', 'deeper', 'data.bin')).equals(Buffer.alloc(70_000, 7))).toBe(true);

    // --format json names what was written
    const json = JSON.parse(ok(await cli(['pull', P, '--format', 'json', `${H}/art/rt:v1`, '-o', join(work, 'rt-out2')])).stdout);
    expect(json).toMatchObject({ reference: `${H}/art/rt@${digest}`, mediaType: OCI_MANIFEST, digest, size: bytes.length });
    expect(json.files.map((f: { title: string }) => f.title).sort()).toEqual([...TREE_ARGS].sort());
  });

  it('folders and files that share a parent folder (a/b, a/c, a/d, a/x.txt) all arrive, pull after pull', async () => {
    const src = fresh('shared-src');
    for (const sub of ['b', 'c', 'd']) {
      mkdirSync(join(src, 'a', sub), { recursive: true });
      writeFileSync(join(src, 'a', sub, `${sub}.txt`), sub);
    }
    writeFileSync(join(src, 'a', 'x.txt'), 'x');
    ok(await inDir(src, () => cli(['push', P, `${H}/art/shared:v1`, 'a/b', 'a/c', 'a/d', 'a/x.txt'])));
    // concurrent unpacks once raced to move `a` into place (ENOTEMPTY); repeat to make a race visible
    for (let i = 0; i < 4; i++) {
      const out = join(work, `shared-out-${i}`);
      ok(await cli(['pull', P, `${H}/art/shared:v1`, '-o', out]));
      expect(snapshot(out)).toEqual(snapshot(src));
    }
  });

  it('--oci-layout: the same round trip through a layout, which skopeo reads (inspect --raw, copy to the registry)', async () => {
    const src = fresh('rt-layout-src');
    makeTree(src);
    const layout = join(work, 'rt-layout');
    const exported = join(work, 'rt-layout-manifest.json');
    const pushed = ok(await inDir(src, () => cli(['push', '--oci-layout', `${layout}:v1`, ...TREE_ARGS, '--export-manifest', exported])));
    const digest = digestOf(pushed);
    expect(pushed.stderr).toContain(`Pushed [oci-layout] ${layout}:v1`);
    const bytes = readFileSync(exported);
    expect(sha256(bytes)).toBe(digest);
    expect((await manifestBytes(`${layout}:v1`, true)).equals(bytes)).toBe(true);

    const raw = (await run('skopeo', ['--insecure-policy', 'inspect', '--raw', `oci:${layout}:v1`])).stdoutBytes;
    expect(raw.equals(bytes)).toBe(true);

    const out = join(work, 'rt-layout-out');
    expect(digestOf(ok(await cli(['pull', '--oci-layout', `${layout}:v1`, '-o', out])))).toBe(digest);
    expect(snapshot(out)).toEqual(snapshot(src));

    // skopeo copies every blob of the layout to the registry; lading pulls the same tree from there
    await skopeoCopy(`oci:${layout}:v1`, `docker://${H}/art/via-skopeo:v1`, { dest: reg });
    expect(sha256(await manifestBytes(`${H}/art/via-skopeo:v1`))).toBe(digest);
    const out2 = join(work, 'rt-skopeo-out');
    ok(await cli(['pull', P, `${H}/art/via-skopeo:v1`, '-o', out2]));
    expect(snapshot(out2)).toEqual(snapshot(src));
  });
});

describe('push flags', () => {
  let flagsDigest: string;
  let flagsDir: string;

  it('--artifact-type, --config FILE:TYPE, -a, --annotation-file, --export-manifest, REF,TAG…, FILE:MEDIATYPE, --concurrency', async () => {
    flagsDir = fresh('flags');
    writeFileSync(join(flagsDir, 'data.bin'), 'data bytes');
    writeFileSync(join(flagsDir, 'notes.md'), '# notes');
    writeFileSync(join(flagsDir, 'cfg.json'), '{"cfg":true}');
    writeFileSync(join(flagsDir, 'ann.json'), JSON.stringify({ $manifest: { m: 'from-file' }, $config: { c: 'config-note' }, 'data.bin': { f: 'file-note' } }));
    const exported = join(flagsDir, 'exported.json');
    const r = ok(
      await inDir(flagsDir, () =>
        cli([
          'push', P, `${H}/art/flags:v1,v2,v3`, 'data.bin:application/vnd.example.data', 'notes.md',
          '--artifact-type', 'application/vnd.example.art',
          '--config', 'cfg.json:application/vnd.example.config+json',
          '-a', 'zz=last', '--annotation', 'aa=first',
          '--annotation-file', 'ann.json',
          '--export-manifest', exported,
          '--concurrency', '1',
        ]),
      ),
    );
    flagsDigest = digestOf(r);
    const registryBytes = await manifestBytes(`${H}/art/flags:v1`);
    expect(readFileSync(exported).equals(registryBytes)).toBe(true);
    expect(sha256(registryBytes)).toBe(flagsDigest);
    for (const tag of ['v2', 'v3']) expect(sha256(await manifestBytes(`${H}/art/flags:${tag}`))).toBe(flagsDigest);
    expect(ok(await cli(['repo', 'tags', P, `${H}/art/flags`])).stdout.split('\n').filter(Boolean)).toEqual(['v1', 'v2', 'v3']);

    const m = JSON.parse(registryBytes.toString('utf8'));
    expect(m.artifactType).toBe('application/vnd.example.art');
    expect(m.config).toEqual({ mediaType: 'application/vnd.example.config+json', digest: sha256('{"cfg":true}'), size: 12, annotations: { c: 'config-note' } });
    expect(m.layers).toEqual([
      { mediaType: 'application/vnd.example.data', digest: sha256('data bytes'), size: 10, annotations: { f: 'file-note', [TITLE]: 'data.bin' } },
      { mediaType: TAR, digest: sha256('# notes'), size: 7, annotations: { [TITLE]: 'notes.md' } },
    ]);
    // manifest annotations: both sources, keys sorted (as ORAS's Go map encoding writes them)
    expect(Object.keys(m.annotations)).toEqual(['aa', 'm', CREATED, 'zz']);
    expect(m.annotations).toMatchObject({ aa: 'first', m: 'from-file', zz: 'last' });
    expect((await blobBytes('art/flags', m.config.digest)).toString()).toBe('{"cfg":true}');
    for (const name of ['data.bin', 'notes.md', '(config)']) expect(r.stderr).toMatch(new RegExp(`Uploaded +${name.replace(/[()]/g, '\\$&')} `));

    // the JSON result
    const json = JSON.parse(ok(await inDir(flagsDir, () => cli(['push', P, '--format', 'json', `${H}/art/flags:json`, 'notes.md']))).stdout);
    expect(json).toMatchObject({ mediaType: OCI_MANIFEST, artifactType: 'application/vnd.unknown.artifact.v1', tags: ['json'] });
    expect(json.reference).toBe(`${H}/art/flags@${json.digest}`);
    expect(json.files).toEqual([{ title: 'notes.md', mediaType: TAR, digest: sha256('# notes'), size: 7 }]);
  });

  it('reports blobs the registry has as Exists; without a tag, pushes by digest (no latest)', async () => {
    const r = ok(await inDir(flagsDir, () => cli(['push', P, `${H}/art/flags`, 'data.bin', 'notes.md'])));
    const digest = digestOf(r);
    expect(r.stderr).toMatch(/Exists +data\.bin +sha256:/);
    expect(r.stderr).toMatch(/Exists +notes\.md +sha256:/);
    expect(r.stderr).toMatch(/(Exists|Uploaded) +\(config\) +sha256:44136fa3/);
    expect(r.stderr).toContain(`Pushed [registry] ${H}/art/flags@${digest}`);
    expect(r.stderr).not.toContain(':latest');
    expect(ok(await cli(['repo', 'tags', P, `${H}/art/flags`])).stdout.split('\n').filter(Boolean)).toEqual(['json', 'v1', 'v2', 'v3']);
    expect(sha256(await manifestBytes(`${H}/art/flags@${digest}`))).toBe(digest);

    // REPO@DIGEST: the manifest built must be that digest (reproducible, so it can be)
    const repro = ok(await inDir(flagsDir, () => cli(['push', P, '--reproducible', `${H}/art/flags`, 'notes.md'])));
    const d = digestOf(repro);
    const again = ok(await inDir(flagsDir, () => cli(['push', P, '--reproducible', `${H}/art/flags@${d}`, 'notes.md'])));
    expect(digestOf(again)).toBe(d);
    const wrong = await inDir(flagsDir, () => cli(['push', P, '--reproducible', `${H}/art/flags@${sha256('other')}`, 'notes.md']));
    expect(wrong.code).toBe(5);
    expect(wrong.stderr).toContain(d);
  });

  it('--image-spec v1.0: the artifact type is the config type, no artifactType field', async () => {
    const typed = await inDir(flagsDir, () => cli(['push', P, '--image-spec', 'v1.0', '--artifact-type', 'application/vnd.example.old', `${H}/art/old:typed`, 'notes.md']));
    const m = await manifestOf(`${H}/art/old:typed`);
    expect(digestOf(ok(typed))).toBe(sha256(await manifestBytes(`${H}/art/old:typed`)));
    expect(Object.keys(m)).toEqual(['schemaVersion', 'mediaType', 'config', 'layers', 'annotations']);
    expect(m.config).toEqual({ mediaType: 'application/vnd.example.old', digest: EMPTY.digest, size: 2 });
    expect(typed.stderr).toContain('ArtifactType: (none)');

    ok(await inDir(flagsDir, () => cli(['push', P, '--image-spec', 'v1.0', `${H}/art/old:untyped`, 'notes.md'])));
    expect((await manifestOf(`${H}/art/old:untyped`)).config).toEqual({ mediaType: 'application/vnd.unknown.config.v1+json', digest: EMPTY.digest, size: 2 });
    // with --config and v1.0, the config keeps its own type
    ok(await inDir(flagsDir, () => cli(['push', P, '--image-spec', 'v1.0', '--config', 'cfg.json:application/vnd.example.config+json', `${H}/art/old:cfg`, 'notes.md'])));
    expect((await manifestOf(`${H}/art/old:cfg`)).config.mediaType).toBe('application/vnd.example.config+json');

    const bad = await cli(['push', P, '--image-spec', 'v2', `${H}/art/old:x`, 'notes.md']);
    expect(bad.code).toBe(2);
  });

  it('no files: the empty descriptor is the one layer, as ORAS packs an empty artifact (and pull skips it)', async () => {
    const r = ok(await cli(['push', P, '--artifact-type', 'test/empty.artifact', '-a', 'k=v', `${H}/art/empty:v1`]));
    const m = await manifestOf(`${H}/art/empty:v1`);
    expect(sha256(await manifestBytes(`${H}/art/empty:v1`))).toBe(digestOf(r));
    // the shape of ORAS's own `empty` artifact in the e2e data (7156dd40…), but for its annotations
    expect(m).toEqual({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'test/empty.artifact', config: EMPTY, layers: [EMPTY], annotations: { k: 'v', [CREATED]: expect.stringMatching(RFC3339) } });
    const out = join(work, 'empty-out');
    const pulled = ok(await cli(['pull', P, `${H}/art/empty:v1`, '-o', out]));
    expect(pulled.stderr).toContain(`Skipped    ${EMPTY.digest} (no title annotation)`);
    expect(entries(out)).toEqual([]);
  });

  it('refuses bad flag values with exit 2', async () => {
    for (const args of [
      ['--concurrency', '0'],
      ['--artifact-type', 'not-a-type'],
      ['-a', 'novalue'],
      ['-a', 'k=1', '-a', 'k=2'],
      ['--annotation-file', join(work, 'no-such.json')],
    ]) {
      const r = await inDir(flagsDir, () => cli(['push', P, ...args, `${H}/art/badflags:v1`, 'notes.md']));
      expect([r.args.join(' '), r.code]).toEqual([r.args.join(' '), 2]);
    }
    const dirConfig = await inDir(work, () => cli(['push', P, '--config', 'flags', `${H}/art/badflags:v1`, 'flags/notes.md']));
    expect(dirConfig.code).toBe(2);
    expect(dirConfig.stderr).toContain('must be a file');
  });
});

describe('reproducible pushes', () => {
  /** Two copies of one tree: different mtimes, the second made under umask 002 (group-writable modes). */
  function twoCopies(name: string, times: [number, number] = [1_600_000_000, 1_700_000_000]): [string, string] {
    const one = fresh(`${name}-1`);
    makeTree(one);
    const two = fresh(`${name}-2`);
    withUmaskSync(0o002, () => makeTree(two));
    chmodSync(join(two, 'run.sh'), 0o775);
    chmodSync(join(two, 'dir', 'tool.sh'), 0o775);
    for (const [root, seconds] of [
      [one, times[0]],
      [two, times[1]],
    ] as const) {
      for (const rel of ['a.txt', 'empty.txt', 'run.sh', 'dir', 'dir/inner.txt', 'dir/tool.sh', 'dir/sub', 'dir/sub/deeper/data.bin', 'emptydir']) {
        utimesSync(join(root, rel), seconds, seconds);
      }
    }
    return [one, two];
  }

  it('--reproducible twice over copies with other mtimes and umask gives one digest, without `created`', async () => {
    const [one, two] = twoCopies('repro');
    const d1 = digestOf(ok(await inDir(one, () => cli(['push', P, '--reproducible', `${H}/art/repro:one`, ...TREE_ARGS]))));
    const d2 = digestOf(ok(await inDir(two, () => cli(['push', P, '--reproducible', `${H}/art/repro:two`, ...TREE_ARGS]))));
    expect(d2).toBe(d1);
    const m = await manifestOf(`${H}/art/repro:one`);
    expect(m.annotations).toBeUndefined();
    // pulled back: modes normalised as git does, executables still executable
    const out = join(work, 'repro-out');
    ok(await cli(['pull', P, `${H}/art/repro:two`, '-o', out]));
    expect(mode(join(out, 'run.sh'))).toBe(0o755);
    expect(mode(join(out, 'dir', 'tool.sh'))).toBe(0o755);
    expect(mode(join(out, 'dir', 'inner.txt'))).toBe(0o644);
    expect(snapshot(out, { modes: false })).toEqual(snapshot(one, { modes: false }));
  });

  it('SOURCE_DATE_EPOCH gives one digest and `created` at that time; without either, `created` differs', async () => {
    // mtimes after the epoch are clamped to it (earlier ones are kept, so copies made before it may differ)
    const [one, two] = twoCopies('epoch', [1_710_000_000, 1_720_000_000]);
    const env = { ...ENV, SOURCE_DATE_EPOCH: '1704067200' };
    const d1 = digestOf(ok(await inDir(one, () => cli(['push', P, `${H}/art/epoch:one`, ...TREE_ARGS], env))));
    const d2 = digestOf(ok(await inDir(two, () => cli(['push', P, `${H}/art/epoch:two`, ...TREE_ARGS], env))));
    expect(d2).toBe(d1);
    const m = await manifestOf(`${H}/art/epoch:one`);
    expect(m.annotations).toEqual({ [CREATED]: '2024-01-01T00:00:00Z' });
    const bad = await inDir(one, () => cli(['push', P, `${H}/art/epoch:bad`, 'a.txt'], { ...ENV, SOURCE_DATE_EPOCH: 'yesterday' }));
    expect(bad.code).toBe(2);

    // Plain pushes: `created` is the wall clock (seconds), so two pushes a second apart differ.
    const p1 = digestOf(ok(await inDir(one, () => cli(['push', P, `${H}/art/epoch:plain1`, 'a.txt']))));
    await new Promise((resolve) => setTimeout(resolve, 1010 - (Date.now() % 1000)));
    const p2 = digestOf(ok(await inDir(one, () => cli(['push', P, `${H}/art/epoch:plain2`, 'a.txt']))));
    expect(p2).not.toBe(p1);
    const [c1, c2] = [(await manifestOf(`${H}/art/epoch:plain1`)).annotations[CREATED], (await manifestOf(`${H}/art/epoch:plain2`)).annotations[CREATED]];
    expect(c1).toMatch(RFC3339);
    expect(c2).not.toBe(c1);
  });
});

function withUmaskSync(mask: number, fn: () => void): void {
  const before = process.umask(mask);
  try {
    fn();
  } finally {
    process.umask(before);
  }
}

describe('pull', () => {
  it('skips untitled and empty-titled layers with a message', async () => {
    const a = await pushBlob('art/untitled', 'titled content');
    const b = await pushBlob('art/untitled', 'untitled content');
    const c = await pushBlob('art/untitled', 'empty title content');
    await pushManifest(`${H}/art/untitled:v1`, artifact([
      { mediaType: TAR, ...a, annotations: { [TITLE]: 'kept.txt' } },
      { mediaType: TAR, ...b },
      { mediaType: TAR, ...c, annotations: { [TITLE]: '' } },
    ]));
    const out = join(work, 'untitled-out');
    const r = ok(await cli(['pull', P, `${H}/art/untitled:v1`, '-o', out]));
    expect(r.stderr).toContain(`Skipped    ${b.digest} (no title annotation)`);
    expect(r.stderr).toContain(`Skipped    ${c.digest} (empty title)`);
    expect(entries(out)).toEqual(['kept.txt']);
    expect(readFileSync(join(out, 'kept.txt'), 'utf8')).toBe('titled content');
  });

  it('replaces existing files and merges folders by default; --keep-old-files refuses, leaving what was there', async () => {
    // files
    const out = fresh('keep-files');
    writeFileSync(join(out, 'a.txt'), 'old a');
    const refused = await cli(['pull', P, '--keep-old-files', `${H}/art/rt:v1`, '-o', out]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('already exists');
    expect(entries(out)).toEqual(['a.txt']);
    expect(readFileSync(join(out, 'a.txt'), 'utf8')).toBe('old a');
    ok(await cli(['pull', P, `${H}/art/rt:v1`, '-o', out]));
    expect(readFileSync(join(out, 'a.txt'), 'utf8')).toBe('hello artifact\n');

    // folders: an existing file inside the folder
    const out2 = fresh('keep-dirs');
    mkdirSync(join(out2, 'dir'));
    writeFileSync(join(out2, 'dir', 'inner.txt'), 'old inner');
    writeFileSync(join(out2, 'dir', 'mine.txt'), 'not in the artifact');
    const refused2 = await cli(['pull', P, '--keep-old-files', `${H}/art/rt:v1`, '-o', out2]);
    expect(refused2.code).toBe(2);
    expect(refused2.stderr).toContain('already exists');
    // the refused folder layer wrote nothing (other folder layers may have been unpacked; single files come after folders)
    expect(entries(out2).filter((e) => e !== 'emptydir')).toEqual(['dir', 'dir/inner.txt', 'dir/mine.txt']);
    expect(readFileSync(join(out2, 'dir', 'inner.txt'), 'utf8')).toBe('old inner');
    ok(await cli(['pull', P, `${H}/art/rt:v1`, '-o', out2]));
    expect(readFileSync(join(out2, 'dir', 'inner.txt'), 'utf8')).toBe('inner\n');
    expect(readFileSync(join(out2, 'dir', 'mine.txt'), 'utf8')).toBe('not in the artifact'); // merged, not replaced
    // --keep-old-files into a fresh folder works
    ok(await cli(['pull', P, '--keep-old-files', `${H}/art/rt:v1`, '-o', join(work, 'keep-fresh')]));
  });

  it('--include-subject pulls the subject’s files too (recursively)', async () => {
    const subjectBytes = await manifestBytes(`${H}/art/flags:v1`);
    const subject = { mediaType: OCI_MANIFEST, digest: sha256(subjectBytes), size: subjectBytes.length };
    const sig = await pushBlob('art/flags', 'signature bytes');
    const signature = artifact([{ mediaType: TAR, ...sig, annotations: { [TITLE]: 'sig.txt' } }], { subject });
    const sigBytes = Buffer.from(JSON.stringify(signature));
    const sigDigest = await pushManifest(`${H}/art/flags@${sha256(sigBytes)}`, signature);
    const counter = await pushBlob('art/flags', 'counter-signature');
    const topDigest = await pushManifest(
      `${H}/art/flags:counter`,
      artifact([{ mediaType: TAR, ...counter, annotations: { [TITLE]: 'counter.txt' } }], { subject: { mediaType: OCI_MANIFEST, digest: sigDigest, size: sigBytes.length } }),
    );

    const alone = join(work, 'subject-alone');
    ok(await cli(['pull', P, `${H}/art/flags@${sigDigest}`, '-o', alone]));
    expect(entries(alone)).toEqual(['sig.txt']);
    const all = join(work, 'subject-all');
    const r = ok(await cli(['pull', P, '--include-subject', `${H}/art/flags:counter`, '-o', all]));
    expect(digestOf(r)).toBe(topDigest);
    expect(entries(all)).toEqual(['counter.txt', 'data.bin', 'notes.md', 'sig.txt']);
    expect(readFileSync(join(all, 'data.bin'), 'utf8')).toBe('data bytes');
  });

  it('--platform picks a manifest of an index; without it the index is refused', async () => {
    const amd = await pushBlob('art/multi', 'amd64 build');
    const arm = await pushBlob('art/multi', 'arm64 build');
    const mk = (b: { digest: string; size: number }, name: string) => artifact([{ mediaType: TAR, ...b, annotations: { [TITLE]: name } }]);
    const dAmd = await pushManifest(`${H}/art/multi:amd64`, mk(amd, 'app-amd64'));
    const dArm = await pushManifest(`${H}/art/multi:arm64`, mk(arm, 'app-arm64'));
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { mediaType: OCI_MANIFEST, digest: dAmd, size: JSON.stringify(mk(amd, 'app-amd64')).length, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: OCI_MANIFEST, digest: dArm, size: JSON.stringify(mk(arm, 'app-arm64')).length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
    };
    const dIndex = await pushManifest(`${H}/art/multi:v1`, index);
    const none = await cli(['pull', P, `${H}/art/multi:v1`, '-o', join(work, 'multi-none')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--platform');
    expect(existsSync(join(work, 'multi-none'))).toBe(false);
    const out = join(work, 'multi-arm');
    expect(digestOf(ok(await cli(['pull', P, '--platform', 'linux/arm64', `${H}/art/multi:v1`, '-o', out])))).toBe(dIndex);
    expect(entries(out)).toEqual(['app-arm64']);
    const missing = await cli(['pull', P, '--platform', 'linux/s390x', `${H}/art/multi:v1`, '-o', join(work, 'multi-s390x')]);
    expect(missing.code).toBe(4);
  });

  it('--config PATH[:TYPE] saves the config blob when its type matches', async () => {
    const dir = fresh('pull-config');
    ok(await cli(['pull', P, `${H}/art/flags:v1`, '-o', join(dir, 'o1'), '--config', join(dir, 'cfg1.json')]));
    expect(readFileSync(join(dir, 'cfg1.json'), 'utf8')).toBe('{"cfg":true}');
    ok(await cli(['pull', P, `${H}/art/flags:v1`, '-o', join(dir, 'o2'), '--config', `${join(dir, 'cfg2.json')}:application/vnd.example.config+json`]));
    expect(readFileSync(join(dir, 'cfg2.json'), 'utf8')).toBe('{"cfg":true}');
    const other = ok(await cli(['pull', P, `${H}/art/flags:v1`, '-o', join(dir, 'o3'), '--config', `${join(dir, 'cfg3.json')}:application/vnd.example.other`]));
    expect(existsSync(join(dir, 'cfg3.json'))).toBe(false);
    expect(other.stderr).toContain('application/vnd.example.config+json, not application/vnd.example.other');
    expect(entries(join(dir, 'o3'))).toEqual(['data.bin', 'notes.md']);
  });

  it('a layer whose bytes do not match its digest: exit 5, no file under its final name, no temporary files', async () => {
    const dir = fresh('tamper');
    writeFileSync(join(dir, 'good.txt'), 'original bytes!');
    mkdirSync(join(dir, 'folder'));
    writeFileSync(join(dir, 'folder', 'x.txt'), 'x');
    ok(await inDir(dir, () => cli(['push', P, `${H}/art/tamper:file`, 'good.txt'])));
    ok(await inDir(dir, () => cli(['push', P, `${H}/art/tamper2:folder`, 'folder'])));
    const folderLayer = (await manifestOf(`${H}/art/tamper2:folder`)).layers[0];
    // rewrite the registry's stored blobs: same size, other bytes
    const blobFile = (digest: string) => join(reg.rootDir, 'docker/registry/v2/blobs/sha256', digest.slice(7, 9), digest.slice(7), 'data');
    writeFileSync(blobFile(sha256('original bytes!')), 'tampered bytes!');
    const gzipped = readFileSync(blobFile(folderLayer.digest));
    gzipped[gzipped.length - 5] ^= 0xff; // the gzip trailer (size/CRC) no longer matches
    writeFileSync(blobFile(folderLayer.digest), gzipped);

    for (const [ref, name] of [
      [`${H}/art/tamper:file`, 'tamper-out'],
      [`${H}/art/tamper2:folder`, 'tamper-out2'],
    ]) {
      const out = join(work, name);
      const r = await cli(['pull', P, ref, '-o', out]);
      expect([ref, r.code]).toEqual([ref, 5]);
      expect(r.stderr).toMatch(/digest|mismatch|gzip/i);
      expect(entries(out)).toEqual([]);
    }

    // the same through an OCI layout whose blob file was rewritten
    const layout = join(work, 'tamper-layout');
    ok(await inDir(dir, () => cli(['push', '--oci-layout', `${layout}:v1`, 'good.txt'])));
    writeFileSync(join(layout, 'blobs', 'sha256', sha256('original bytes!').slice(7)), 'tampered bytes!');
    const out = join(work, 'tamper-layout-out');
    const r = await cli(['pull', '--oci-layout', `${layout}:v1`, '-o', out]);
    expect(r.code).toBe(5);
    expect(entries(out)).toEqual([]);
  });
});

describe('bad input', () => {
  it('B29: titles that leave the output folder are refused (exit 2, nothing written); ok/../fine.txt is fine; empty is skipped', async () => {
    const payload = await pushBlob('art/evil', 'payload');
    const good = await pushBlob('art/evil', 'good');
    const bad = ['../testbash', 'a/../../x', '/etc/passwd', 'C:\\Windows\\x', '..\\\\x', '..\\x', '/', '..'];
    for (const [i, title] of bad.entries()) {
      await pushManifest(`${H}/art/evil:bad${i}`, artifact([
        { mediaType: TAR, ...good, annotations: { [TITLE]: 'good.txt' } },
        { mediaType: TAR, ...payload, annotations: { [TITLE]: title } },
      ]));
      const parent = fresh(`evil-${i}`);
      const out = join(parent, 'out');
      const r = await cli(['pull', P, `${H}/art/evil:bad${i}`, '-o', out]);
      expect([title, r.code]).toEqual([title, 2]);
      expect(r.stderr).toContain(title);
      expect(r.stderr).toContain('--allow-path-traversal');
      expect(existsSync(out)).toBe(false);
      expect(entries(parent)).toEqual([]);
    }
    expect(readFileSync('/etc/passwd', 'utf8')).not.toBe('payload');

    await pushManifest(`${H}/art/evil:fine`, artifact([
      { mediaType: TAR, ...payload, annotations: { [TITLE]: 'ok/../fine.txt' } },
      { mediaType: TAR, ...good, annotations: { [TITLE]: '' } },
    ]));
    const out = join(work, 'evil-fine');
    const r = ok(await cli(['pull', P, `${H}/art/evil:fine`, '-o', out]));
    expect(entries(out)).toEqual(['fine.txt']);
    expect(readFileSync(join(out, 'fine.txt'), 'utf8')).toBe('payload');
    expect(r.stderr).toContain(`Skipped    ${good.digest} (empty title)`);

    // with --include-subject, a subject with such a title is refused before the referrer's own files are written
    const badSubject = await manifestBytes(`${H}/art/evil:bad0`);
    const referrer = artifact([{ mediaType: TAR, ...good, annotations: { [TITLE]: 'referrer.txt' } }], { subject: { mediaType: OCI_MANIFEST, digest: sha256(badSubject), size: badSubject.length } });
    await pushManifest(`${H}/art/evil:referrer`, referrer);
    const subjOut = join(work, 'evil-subject');
    ok(await cli(['pull', P, `${H}/art/evil:referrer`, '-o', subjOut]));
    expect(entries(subjOut)).toEqual(['referrer.txt']);
    const subjOut2 = join(work, 'evil-subject2');
    const refused = await cli(['pull', P, '--include-subject', `${H}/art/evil:referrer`, '-o', subjOut2]);
    expect(refused.code).toBe(2);
    expect(existsSync(subjOut2)).toBe(false);

    // a symlink already in the output folder that leads out is not written through
    const elsewhere = fresh('evil-elsewhere');
    const linked = fresh('evil-linked');
    symlinkSync(elsewhere, join(linked, 'ok'));
    const through = await cli(['pull', P, `${H}/art/evil:fine`, '-o', linked]);
    expect(through.code).toBe(0); // ok/../fine.txt is `fine.txt`: not through the link
    await pushManifest(`${H}/art/evil:through`, artifact([{ mediaType: TAR, ...payload, annotations: { [TITLE]: 'ok/inside.txt' } }]));
    const r2 = await cli(['pull', P, `${H}/art/evil:through`, '-o', linked]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('ok/inside.txt');
    expect(entries(elsewhere)).toEqual([]);

    // --allow-path-traversal writes where the title says (here: next to the output folder, inside the test folder)
    const parent = fresh('evil-allowed');
    ok(await cli(['pull', P, '--allow-path-traversal', `${H}/art/evil:bad0`, '-o', join(parent, 'out')]));
    expect(readFileSync(join(parent, 'testbash'), 'utf8')).toBe('payload');
  });

  it('B29: folder layers whose tar entries or links leave the output folder are refused, nothing written', async () => {
    const cases: Array<[string, Buffer]> = [
      ['entry ../', rawTar([{ path: 'pkg/', typeflag: '5' }, { path: 'pkg/ok.txt', body: 'ok' }, { path: '../escaped.txt', body: 'evil' }])],
      ['absolute entry', rawTar([{ path: 'pkg/', typeflag: '5' }, { path: '/tmp/lading-evil-abs.txt', body: 'evil' }])],
      ['link out', rawTar([{ path: 'pkg/', typeflag: '5' }, { path: 'pkg/etc', typeflag: '2', linkpath: '/etc' }])],
      ['link then write through it', rawTar([{ path: 'pkg/', typeflag: '5' }, { path: 'pkg/up', typeflag: '2', linkpath: '..' }, { path: 'pkg/up/x.txt', body: 'evil' }])],
    ];
    for (const [i, [name, tar]] of cases.entries()) {
      const blob = await pushBlob('art/eviltar', gz(tar));
      await pushManifest(`${H}/art/eviltar:c${i}`, artifact([{ mediaType: TAR_GZIP, ...blob, annotations: { [CONTENT_DIGEST]: sha256(tar), [UNPACK]: 'true', [TITLE]: 'pkg' } }]));
      const parent = fresh(`eviltar-${i}`);
      const r = await cli(['pull', P, `${H}/art/eviltar:c${i}`, '-o', join(parent, 'out')]);
      expect([name, r.code]).toEqual([name, 2]);
      expect(entries(parent).filter((e) => e !== 'out')).toEqual([]);
      expect(entries(join(parent, 'out'))).toEqual([]);
    }
    expect(existsSync('/tmp/lading-evil-abs.txt')).toBe(false);
  });

  it('B31: modes under umask 022; --preserve-permissions exact; setuid only with it', async () => {
    const dir = fresh('modes');
    writeFileSync(join(dir, 'file.txt'), 'secret');
    mkdirSync(join(dir, 'dir'));
    writeFileSync(join(dir, 'dir', 'inner.txt'), 'inner');
    writeFileSync(join(dir, 'dir', 'run.sh'), '#!/bin/sh\n');
    writeFileSync(join(dir, 'dir', 'suid'), 'suid');
    writeFileSync(join(dir, 'tool'), 'tool');
    chmodSync(join(dir, 'file.txt'), 0o400);
    chmodSync(join(dir, 'dir', 'inner.txt'), 0o400);
    chmodSync(join(dir, 'dir', 'run.sh'), 0o777);
    chmodSync(join(dir, 'dir', 'suid'), 0o4755);
    chmodSync(join(dir, 'tool'), 0o755);
    ok(await inDir(dir, () => cli(['push', P, `${H}/art/modes:v1`, 'file.txt', 'dir', 'tool'])));
    const m = await manifestOf(`${H}/art/modes:v1`);
    expect(m.layers[0].annotations).toEqual({ [FILE_MODE]: '0400', [TITLE]: 'file.txt' });

    const out = join(work, 'modes-out');
    await withUmask(0o022, async () => ok(await cli(['pull', P, `${H}/art/modes:v1`, '-o', out])));
    expect(mode(join(out, 'dir', 'run.sh'))).toBe(0o755);
    expect(mode(join(out, 'dir', 'inner.txt'))).toBe(0o400);
    expect(mode(join(out, 'dir', 'suid'))).toBe(0o755);
    expect(mode(join(out, 'file.txt'))).toBe(0o400);
    expect(mode(join(out, 'tool'))).toBe(0o755);

    const exact = join(work, 'modes-exact');
    await withUmask(0o022, async () => ok(await cli(['pull', P, '--preserve-permissions', `${H}/art/modes:v1`, '-o', exact])));
    expect(mode(join(exact, 'dir', 'run.sh'))).toBe(0o777);
    expect(mode(join(exact, 'dir', 'suid'))).toBe(0o4755);
    expect(mode(join(exact, 'dir', 'inner.txt'))).toBe(0o400);

    // A single file's recorded mode: cut by the umask for group/others by default, exact with --preserve-permissions.
    const strict = join(work, 'modes-077');
    await withUmask(0o077, async () => ok(await cli(['pull', P, `${H}/art/modes:v1`, '-o', strict])));
    expect(mode(join(strict, 'tool'))).toBe(0o700);
    const strictExact = join(work, 'modes-077-exact');
    await withUmask(0o077, async () => ok(await cli(['pull', P, '--preserve-permissions', `${H}/art/modes:v1`, '-o', strictExact])));
    expect(mode(join(strictExact, 'tool'))).toBe(0o755);
    expect(mode(join(strictExact, 'dir', 'run.sh'))).toBe(0o777);
  });

  it('B32 on Unix: the media type follows the last colon; invalid media types exit 2', async () => {
    const dir = fresh('colons');
    writeFileSync(join(dir, 'my:file'), 'colon file');
    ok(await inDir(dir, () => cli(['push', P, `${H}/art/colons:plain`, 'my:file:'])));
    expect((await manifestOf(`${H}/art/colons:plain`)).layers).toEqual([{ mediaType: TAR, digest: sha256('colon file'), size: 10, annotations: { [TITLE]: 'my:file' } }]);
    ok(await inDir(dir, () => cli(['push', P, `${H}/art/colons:typed`, 'my:file:application/vnd.example.file'])));
    expect((await manifestOf(`${H}/art/colons:typed`)).layers[0]).toMatchObject({ mediaType: 'application/vnd.example.file', annotations: { [TITLE]: 'my:file' } });
    const out = join(work, 'colons-out');
    ok(await cli(['pull', P, `${H}/art/colons:typed`, '-o', out]));
    expect(readFileSync(join(out, 'my:file'), 'utf8')).toBe('colon file');

    for (const arg of ['my:file:notatype', '.\\KEYS:test:test:test', 'my:file:application/x:y', 'my:file:text/']) {
      const r = await inDir(dir, () => cli(['push', P, `${H}/art/colons:bad`, arg]));
      expect([arg, r.code]).toEqual([arg, 2]);
      expect(r.stderr).toContain('invalid media type');
    }
    const noFile = await inDir(dir, () => cli(['push', P, `${H}/art/colons:bad`, 'my']));
    expect(noFile.code).toBe(4);
    const tags = await cli(['repo', 'tags', P, `${H}/art/colons`]);
    expect(tags.stdout.split('\n').filter(Boolean)).toEqual(['plain', 'typed']);
  });

  it('push refuses paths outside the working folder unless --disable-path-validation (and pull then refuses the title)', async () => {
    const dir = fresh('outside/inner');
    writeFileSync(join(work, 'outside', 'outside.txt'), 'outside');
    for (const arg of ['../outside.txt', join(work, 'outside', 'outside.txt'), 'sub/../../outside.txt']) {
      const r = await inDir(dir, () => cli(['push', P, `${H}/art/outside:v1`, arg]));
      expect([arg, r.code]).toEqual([arg, 2]);
      expect(r.stderr).toContain('--disable-path-validation');
    }
    ok(await inDir(dir, () => cli(['push', P, '--disable-path-validation', `${H}/art/outside:rel`, '../outside.txt'])));
    expect((await manifestOf(`${H}/art/outside:rel`)).layers[0].annotations[TITLE]).toBe('../outside.txt');
    ok(await inDir(dir, () => cli(['push', P, '--disable-path-validation', `${H}/art/outside:abs`, join(work, 'outside', 'outside.txt')])));
    expect((await manifestOf(`${H}/art/outside:abs`)).layers[0].annotations[TITLE]).toBe('outside.txt');
    // an absolute path inside the working folder needs no flag
    writeFileSync(join(dir, 'inside.txt'), 'inside');
    ok(await inDir(dir, () => cli(['push', P, `${H}/art/outside:inside`, join(dir, 'inside.txt')])));

    const out = join(work, 'outside-out');
    const r = await cli(['pull', P, `${H}/art/outside:rel`, '-o', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('path traversal');
    ok(await cli(['pull', P, `${H}/art/outside:abs`, '-o', out]));
    expect(readdirSync(out)).toEqual(['outside.txt']);
    expect(statSync(join(out, 'outside.txt')).size).toBe(7);
  });
});
