/**
 * What ORAS wrote, read by lading: the ORAS CLI's own end-to-end data (`__tests__/fixtures/oras-e2e`, see its
 * README). A copy of `storage/zot-on-distribution` is served by the real registry (htpasswd, `hello`/`oras-test`):
 * lading lists, fetches, pulls and discovers what is stored there, with exact digests. The `zot/command/*` OCI
 * layouts (copied to a temp folder first) are pulled with `--oci-layout`. Finally lading pushes the same inputs
 * ORAS pushed and gets ORAS's manifests byte for byte (same digests).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lading, type CliResult } from '../helpers/cli.js';
import { run } from '../helpers/exec.js';
import { FIXTURES_DIR } from '../helpers/fixtures.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { copyWritable, tmpDir } from '../helpers/tmp.js';
import { sha256, snapshot } from '../unit/file/tar-helpers.js';

const E2E = join(FIXTURES_DIR, 'oras-e2e');
const FOOBAR = join(E2E, 'files', 'foobar');
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const ENV: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: '/nonexistent-lading-test-docker-config' };
delete ENV.SOURCE_DATE_EPOCH;

/** Manifests of the data, as `manifest fetch --descriptor` reports them. */
const M = {
  blob: { mediaType: OCI_MANIFEST, digest: 'sha256:ccd5f15fb7e0d27d47e2912b948eb846c968511ae02724672d608f3d05bc61a1', size: 571 },
  config: { mediaType: OCI_MANIFEST, digest: 'sha256:0e7404d1cc4a2115fdd83449df19dbef6ad10c0e1c2882241e3fedfe20f012a3', size: 505 },
  empty: { mediaType: OCI_MANIFEST, digest: 'sha256:7156dd4030da2375969c4da97e051d907f54ff8e9d28cc82c57289bbd22e3f9f', size: 519 },
  foobar: { mediaType: OCI_MANIFEST, digest: 'sha256:fd6ed2f36b5465244d5dc86cb4e7df0ab8a9d24adc57825099f522fe009a22bb', size: 851 },
  multi: { mediaType: OCI_INDEX, digest: 'sha256:e2bfc9cc6a84ec2d7365b5a28c6bc5806b7fa581c9ad7883be955a64e3cc034f', size: 706 },
  unnamed: { mediaType: OCI_MANIFEST, digest: 'sha256:977c6cf8e8aeaa35a5b5d6127e5008775d66d65985ac77634f79e1d7501bba83', size: 390 },
  v138: { mediaType: OCI_INDEX, digest: 'sha256:553c18eccc8b22efb7e4de2cc3200263f0ae3950bdae6f55394a156c143568b2', size: 393 },
  emptyIndex: { mediaType: OCI_INDEX, digest: 'sha256:b2a5fcfb112ccde647a5a3dc0215c2c9e7d0ce598924a5ec48aa85beca048286', size: 89 },
  linuxAmd64: { mediaType: OCI_MANIFEST, digest: 'sha256:9d84a5716c66a1d1b9c13f8ed157ba7d1edfe7f9b8766728b8a1f25c0d9c14c1', size: 458 },
  linuxArm64: { mediaType: OCI_MANIFEST, digest: 'sha256:4f93460061882467e6fb3b772dc6ab72130d9ac1906aed2fc7589a5cd145433c', size: 458 },
  linuxArmv7: { mediaType: OCI_MANIFEST, digest: 'sha256:58efe73e78fe043ca31b89007a025c594ce12aa7e6da27d21c7b14b50112e255', size: 458 },
  nonjsonConfig: { mediaType: OCI_MANIFEST, digest: 'sha256:9d16f5505246424aed7116cb21216704ba8c919997d0f1f37e154c11d509e1d2', size: 529 },
  // referrers (no tags of their own)
  sbomFile: 'sha256:e2c6633a79985906f1ed55c592718c73c41e809fb9818de232a635904a74d48d',
  signatureFile: 'sha256:0cb8c4da7e9ff2e7eefca33141091b9239218e3125a35e17e8bcd05fa3a5e714',
  referrerIndex: 'sha256:7679bc22c33b87aa345c6950a993db98a6df7a6cc77a35c388908a3a50be6bad',
  referrerOfIndex: 'sha256:d37baf66300b9006b0f4c7102075d56b970fbf910be5c6bca07fdbb000dfa383',
  referrerOfAmd64: 'sha256:c5e00045954a70e3fd28307dd543d4cc158946117943700b8f520f72ddca031f',
  arm64Artifact: 'sha256:6aa11331ce0c766d6333b60dac98d584d98eea45fa93bbfc9b5bdb915ce3a43f',
  amd64Artifact: 'sha256:ab01d6e284e843d51fb5e753904a540f507a62361a5fd7e434e4f27b285ca5c9',
  sbomOfArm64: 'sha256:359bac7f6a262e0f36e83b6b78ee3cc7a0bb8813e04d330328ca7ca9785e1e0b',
  signatureOfSbom: 'sha256:938419ae89a9947476bbed93abc5eb7abf7d5708be69679fe6cc4b22afe8fdd5',
  referrerOfAmd64Artifact: 'sha256:20e7d3a6ce087c54238c18a3428853b50cdaf4478a9d00caa8304119b58ae8a9',
} as const;
const HELLO_TAR = { digest: 'sha256:2ef548696ac7dd66ef38aab5cc8fc5cc1fb637dfaedb3a9afc89bf16db9277e1', size: 10240 };

let reg: RunningRegistry;
let H: string;
let work: string;

beforeAll(async () => {
  reg = await startRegistry({
    mode: 'htpasswd',
    storage: join(E2E, 'storage', 'zot-on-distribution'),
    htpasswdFile: join(E2E, 'zot', 'passwd_bcrypt'),
    username: 'hello',
    password: 'oras-test',
  });
  H = reg.host;
  work = tmpDir('lading-oras-e2e-');
});

afterAll(async () => {
  await reg?.stop();
});

/** lading against the registry, logged in as the e2e suite's user (password on stdin). */
function z(args: string[], env: NodeJS.ProcessEnv = ENV): Promise<CliResult> {
  const [command, ...rest] = args;
  const sub = command === 'manifest' || command === 'blob' || command === 'repo' ? [command, rest.shift()!] : [command];
  return lading([...sub, '--plain-http', '-u', 'hello', '--password-stdin', ...rest], { stdin: 'oras-test\n', env });
}

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`lading ${r.args.join(' ')} exited ${r.code}\n${r.stderr}`);
  return r;
}

function lines(r: CliResult): string[] {
  return ok(r).stdout.split('\n').filter(Boolean);
}

function digestOf(r: CliResult): string {
  const m = /^Digest: (sha256:[0-9a-f]{64})$/m.exec(ok(r).stdout);
  if (!m) throw new Error(`no digest in ${r.stdout}`);
  return m[1];
}

function files(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((n) => [n, readFileSync(join(dir, n), 'utf8')]));
}

const fixture = (name: string) => readFileSync(join(FOOBAR, name), 'utf8');

describe('the ORAS e2e registry data (zot layouts pushed into Distribution), read by lading', () => {
  it('repo ls / repo tags / manifest fetch --descriptor: what is stored, with exact digests', async () => {
    expect(lines(await z(['repo', 'ls', H]))).toEqual(['command/artifacts', 'command/blobs', 'command/images']);
    expect(lines(await z(['repo', 'tags', `${H}/command/artifacts`, '--exclude-digest-tags']))).toEqual(['blob', 'config', 'empty', 'foobar', 'multi', 'unnamed', 'v1.3.8']);
    const referrerTags = lines(await z(['repo', 'tags', `${H}/command/artifacts`])).filter((t) => t.startsWith('sha256-'));
    expect(referrerTags).toEqual(
      [M.arm64Artifact, M.sbomOfArm64, M.linuxAmd64.digest, M.amd64Artifact, M.multi.digest, M.sbomFile, M.foobar.digest].map((d) => d.replace(':', '-')).sort(),
    );
    expect(lines(await z(['repo', 'tags', `${H}/command/images`]))).toEqual(['empty_index', 'foobar', 'linux-amd64', 'linux-arm64', 'linux-armv7', 'multi', 'nonjson-config']);

    const expected: Array<[string, object]> = [
      ['artifacts:blob', M.blob],
      ['artifacts:config', M.config],
      ['artifacts:empty', M.empty],
      ['artifacts:foobar', M.foobar],
      ['artifacts:multi', M.multi],
      ['artifacts:unnamed', M.unnamed],
      ['artifacts:v1.3.8', M.v138],
      ['images:empty_index', M.emptyIndex],
      ['images:foobar', M.foobar],
      ['images:linux-amd64', M.linuxAmd64],
      ['images:linux-arm64', M.linuxArm64],
      ['images:linux-armv7', M.linuxArmv7],
      ['images:multi', M.multi],
      ['images:nonjson-config', M.nonjsonConfig],
    ];
    for (const [ref, desc] of expected) {
      const d = JSON.parse(ok(await z(['manifest', 'fetch', '--descriptor', `${H}/command/${ref}`])).stdout);
      expect([ref, d]).toEqual([ref, desc]);
      const bytes = ok(await z(['manifest', 'fetch', `${H}/command/${ref}`])).stdoutBytes;
      expect(sha256(bytes)).toBe((desc as { digest: string }).digest);
    }
  });

  it('pull foobar: foo1, foo2 and bar as ORAS pushed them from files/foobar', async () => {
    for (const repo of ['artifacts', 'images']) {
      const out = join(work, `foobar-${repo}`);
      const r = ok(await z(['pull', `${H}/command/${repo}:foobar`, '-o', out]));
      expect(digestOf(r)).toBe(M.foobar.digest);
      expect(files(out)).toEqual({ bar: fixture('bar'), foo1: fixture('foo1'), foo2: fixture('foo2') });
      for (const name of ['foo1', 'foo2', 'bar']) expect(sha256(readFileSync(join(out, name)))).toBe(sha256(readFileSync(join(FOOBAR, name))));
    }
  });

  it('pull blob / config / nonjson-config / empty / unnamed', async () => {
    const blob = join(work, 'blob');
    expect(digestOf(await z(['pull', `${H}/command/artifacts:blob`, '-o', blob]))).toBe(M.blob.digest);
    expect(readdirSync(blob)).toEqual(['hello.tar']);
    expect(sha256(readFileSync(join(blob, 'hello.tar')))).toBe(HELLO_TAR.digest);
    expect((await run('tar', ['-tf', join(blob, 'hello.tar')])).stdout.trim()).toBe('hello.txt');

    // --config PATH[:TYPE]: the image config of `config` (53 bytes) is saved when the type matches
    const cfg = join(work, 'config');
    ok(await z(['pull', `${H}/command/artifacts:config`, '-o', cfg, '--config', `${join(work, 'config.json')}:application/vnd.oci.image.config.v1+json`]));
    expect(sha256(readFileSync(join(work, 'config.json')))).toBe('sha256:fe9dbc99451d0517d65e048c309f0b5afb2cc513b7a3d456b6cc29fe641386c5');
    expect(readdirSync(cfg)).toEqual(['hello.tar']);

    const nonjson = join(work, 'nonjson');
    ok(await z(['pull', `${H}/command/images:nonjson-config`, '-o', nonjson, '--config', join(work, 'nonjson.cfg')]));
    expect(sha256(readFileSync(join(work, 'nonjson.cfg')))).toBe('sha256:02c15a8d1735c65bb8ca86c716615d3c0d8beb87dc68ed88bb49192f90b184e2');
    expect(sha256(readFileSync(join(nonjson, 'artifactfile')))).toBe('sha256:24b9e859bfdff44fbeee998abb782f69fa2b19164464b200351b3be3b690cf4a');

    // the empty artifact and the untitled layer: nothing to write, said so
    for (const [tag, skipped] of [
      ['empty', 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'],
      ['unnamed', 'sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae'],
    ]) {
      const out = join(work, tag);
      const r = ok(await z(['pull', `${H}/command/artifacts:${tag}`, '-o', out]));
      expect(r.stderr).toContain(`Skipped    ${skipped} (no title annotation)`);
      expect(readdirSync(out)).toEqual([]);
    }
  });

  it('pull multi: refused without --platform; each platform gives hello.tar; the image index of v1.3.8 has no platforms', async () => {
    const none = await z(['pull', `${H}/command/artifacts:multi`, '-o', join(work, 'multi-none')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('linux/amd64, linux/arm64, linux/arm/v7');
    expect(existsSync(join(work, 'multi-none'))).toBe(false);
    for (const platform of ['linux/amd64', 'linux/arm64', 'linux/arm/v7']) {
      const out = join(work, `multi-${platform.replace(/\//g, '-')}`);
      const r = ok(await z(['pull', '--platform', platform, '--format', 'json', `${H}/command/images:multi`, '-o', out]));
      const json = JSON.parse(r.stdout);
      expect(json.digest).toBe(M.multi.digest);
      expect(json.files).toEqual([{ title: 'hello.tar', path: join(out, 'hello.tar'), mediaType: 'application/vnd.oci.image.layer.v1.tar', ...HELLO_TAR }]);
      expect(sha256(readFileSync(join(out, 'hello.tar')))).toBe(HELLO_TAR.digest);
    }
    expect((await z(['pull', '--platform', 'linux/amd64', `${H}/command/artifacts:v1.3.8`, '-o', join(work, 'v138')])).code).toBe(4);
  });

  it('pull --include-subject: the signature, the SBOM it signs, and the foobar files the SBOM describes', async () => {
    const out = join(work, 'subjects');
    const r = ok(await z(['pull', '--include-subject', `${H}/command/artifacts@${M.signatureFile}`, '-o', out]));
    expect(digestOf(r)).toBe(M.signatureFile);
    expect(files(out)).toEqual({ bar: fixture('bar'), foo1: fixture('foo1'), foo2: fixture('foo2'), sbom: 'mocked sbom', signature: 'mocked signature' });
    const alone = join(work, 'no-subjects');
    ok(await z(['pull', `${H}/command/artifacts@${M.signatureFile}`, '-o', alone]));
    expect(files(alone)).toEqual({ signature: 'mocked signature' });
  });

  it('discover: the referrers ORAS attached (tag-schema indexes), as a tree and as JSON', async () => {
    const tree = ok(await z(['discover', `${H}/command/artifacts:foobar`])).stdout;
    expect(tree).toContain(`${H}/command/artifacts@${M.foobar.digest}`);
    expect(tree).toContain('test/sbom.file');
    expect(tree.indexOf(M.sbomFile)).toBeGreaterThan(0);
    expect(tree.indexOf(M.signatureFile)).toBeGreaterThan(tree.indexOf(M.sbomFile));

    const json = JSON.parse(ok(await z(['discover', '--format', 'json', `${H}/command/artifacts:foobar`])).stdout);
    expect(json).toMatchObject({ digest: M.foobar.digest, size: M.foobar.size, mediaType: OCI_MANIFEST });
    expect(json.referrers).toHaveLength(1);
    expect(json.referrers[0]).toMatchObject({ digest: M.sbomFile, size: 660, artifactType: 'test/sbom.file', annotations: { 'org.opencontainers.image.created': '2023-01-18T08:37:42Z' } });
    expect(json.referrers[0].referrers).toHaveLength(1);
    expect(json.referrers[0].referrers[0]).toMatchObject({ digest: M.signatureFile, size: 670, artifactType: 'test/signature.file' });
    const depth1 = JSON.parse(ok(await z(['discover', '--format', 'json', '--depth', '1', `${H}/command/artifacts:foobar`])).stdout);
    expect(depth1.referrers.map((r: { digest: string }) => r.digest)).toEqual([M.sbomFile]);
    expect(depth1.referrers[0].referrers ?? []).toEqual([]);
    const filtered = JSON.parse(ok(await z(['discover', '--format', 'json', '--artifact-type', 'test/signature.file', `${H}/command/artifacts:foobar`])).stdout);
    expect(filtered.referrers).toEqual([]);

    const multi = JSON.parse(ok(await z(['discover', '--format', 'json', `${H}/command/artifacts:multi`])).stdout);
    expect(multi.referrers.map((r: { digest: string }) => r.digest).sort()).toEqual([M.referrerIndex, M.referrerOfIndex].sort());
    const amd = JSON.parse(ok(await z(['discover', '--format', 'json', '--platform', 'linux/amd64', `${H}/command/artifacts:multi`])).stdout);
    expect(amd.digest).toBe(M.linuxAmd64.digest);
    expect(amd.referrers.map((r: { digest: string; artifactType: string }) => [r.digest, r.artifactType])).toEqual([[M.referrerOfAmd64, 'referrer/image']]);

    const chain = JSON.parse(ok(await z(['discover', '--format', 'json', `${H}/command/artifacts@${M.arm64Artifact}`])).stdout);
    expect(chain.referrers.map((r: { digest: string }) => r.digest)).toEqual([M.sbomOfArm64]);
    expect(chain.referrers[0].referrers.map((r: { digest: string }) => r.digest)).toEqual([M.signatureOfSbom]);
    const amdArtifact = JSON.parse(ok(await z(['discover', '--format', 'json', `${H}/command/artifacts@${M.amd64Artifact}`])).stdout);
    expect(amdArtifact.referrers.map((r: { digest: string }) => r.digest)).toEqual([M.referrerOfAmd64Artifact]);
  });

  it('blob fetch and manifest fetch of referrers: the bytes ORAS stored', async () => {
    const sbom = JSON.parse(ok(await z(['manifest', 'fetch', `${H}/command/artifacts@${M.sbomFile}`])).stdout);
    expect(sbom.subject).toEqual({ mediaType: OCI_MANIFEST, digest: M.foobar.digest, size: M.foobar.size });
    const layer = sbom.layers[0];
    expect(layer).toEqual({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: 'sha256:f5d51c0823fc419652bb6beb40e8175760dbb8615d2f815a6ca5239c901c6b38', size: 11, annotations: { 'org.opencontainers.image.title': 'sbom' } });
    expect(ok(await z(['blob', 'fetch', `${H}/command/artifacts@${layer.digest}`, '-o', '-'])).stdout).toBe('mocked sbom');
    const index = JSON.parse(ok(await z(['manifest', 'fetch', `${H}/command/artifacts@${M.referrerIndex}`])).stdout);
    expect(index.subject.digest).toBe(M.multi.digest);
    expect(index.manifests.map((m: { digest: string }) => m.digest)).toEqual([M.linuxAmd64.digest, M.linuxArm64.digest, M.linuxArmv7.digest]);
  });
});

describe('lading pushes what ORAS pushed and gets the same manifests, byte for byte', () => {
  it('push of `arm64` (ORAS 1.2, image-spec 1.1) with SOURCE_DATE_EPOCH = its created time gives 6aa11331…', async () => {
    const dir = join(work, 'again-arm64');
    ok(await z(['pull', `${H}/command/artifacts@${M.arm64Artifact}`, '-o', dir]));
    chmodSync(join(dir, 'arm64'), 0o644);
    const epoch = String(Date.parse('2025-06-05T04:26:57Z') / 1000);
    const r = await inDir(dir, () => z(['push', `${H}/command/again:arm64`, 'arm64'], { ...ENV, SOURCE_DATE_EPOCH: epoch }));
    expect(digestOf(r)).toBe(M.arm64Artifact);
    expect(r.stderr).toContain('ArtifactType: application/vnd.unknown.artifact.v1');
  });

  it('push --image-spec v1.0 --reproducible of files/foobar/{foo1,foo2,bar} gives foobar (fd6ed2f3…)', async () => {
    const dir = join(work, 'again-foobar');
    mkdirSync(dir);
    for (const name of ['foo1', 'foo2', 'bar']) copyFileSync(join(FOOBAR, name), join(dir, name));
    const r = await inDir(dir, () => z(['push', '--image-spec', 'v1.0', '--reproducible', `${H}/command/again:foobar`, 'foo1', 'foo2', 'bar']));
    expect(digestOf(r)).toBe(M.foobar.digest);
    // also into a layout, which then holds exactly ORAS's manifest
    const layout = join(work, 'again-layout');
    const l = await inDir(dir, () => lading(['push', '--oci-layout', '--image-spec', 'v1.0', '--reproducible', `${layout}:foobar`, 'foo1', 'foo2', 'bar'], { env: ENV }));
    expect(digestOf(l)).toBe(M.foobar.digest);
  });

  it('--annotation-file with ORAS’s own annotation files: $manifest, $config, file keys as given, a title renamed', async () => {
    const files = join(work, 'annotated');
    copyWritable(join(E2E, 'files'), files);
    ok(await inDir(files, () => z(['push', `${H}/command/annotated:v1`, 'foobar/bar', '--annotation-file', 'foobar/annotation.json'])));
    const m = JSON.parse(ok(await z(['manifest', 'fetch', `${H}/command/annotated:v1`])).stdout);
    expect(m.annotations).toMatchObject({ hi: 'manifest' });
    expect(m.config.annotations).toEqual({ hello: 'config' });
    expect(m.layers[0].annotations).toEqual({ foo: 'bar', 'org.opencontainers.image.title': 'foobar/bar' });

    ok(await inDir(files, () => z(['push', `${H}/command/annotated:renamed`, 'foobar/bar', '--annotation-file', 'foobar/annotation-rename.json'])));
    const renamed = JSON.parse(ok(await z(['manifest', 'fetch', `${H}/command/annotated:renamed`])).stdout);
    expect(renamed.layers[0].annotations).toEqual({ foo: 'bar', 'org.opencontainers.image.title': 'foobar/baz' });
    const out = join(work, 'renamed-out');
    ok(await z(['pull', `${H}/command/annotated:renamed`, '-o', out]));
    expect(snapshot(out, { modes: false })).toEqual({ foobar: { type: 'dir', mode: 0 }, 'foobar/baz': { type: 'file', mode: 0, content: fixture('bar') } });
  });
});

describe('the zot OCI layouts, pulled with --oci-layout', () => {
  let images: string;
  let artifacts: string;
  beforeAll(() => {
    const root = tmpDir('lading-oras-layouts-');
    images = join(root, 'images');
    artifacts = join(root, 'artifacts');
    copyWritable(join(E2E, 'zot', 'command', 'images'), images);
    copyWritable(join(E2E, 'zot', 'command', 'artifacts'), artifacts);
  });

  it('pull foobar, multi (per platform), nonjson-config; refs resolve to the same digests as in the registry', async () => {
    const out = join(work, 'layout-foobar');
    expect(digestOf(await lading(['pull', '--oci-layout', `${images}:foobar`, '-o', out], { env: ENV }))).toBe(M.foobar.digest);
    expect(files(out)).toEqual({ bar: fixture('bar'), foo1: fixture('foo1'), foo2: fixture('foo2') });

    const multi = join(work, 'layout-multi');
    expect(digestOf(await lading(['pull', '--oci-layout', '--platform', 'linux/arm/v7', `${images}:multi`, '-o', multi], { env: ENV }))).toBe(M.multi.digest);
    expect(sha256(readFileSync(join(multi, 'hello.tar')))).toBe(HELLO_TAR.digest);

    const nonjson = join(work, 'layout-nonjson');
    ok(await lading(['pull', '--oci-layout', `${images}:nonjson-config`, '-o', nonjson], { env: ENV }));
    expect(sha256(readFileSync(join(nonjson, 'artifactfile')))).toBe('sha256:24b9e859bfdff44fbeee998abb782f69fa2b19164464b200351b3be3b690cf4a');

    for (const [layout, tag, desc] of [
      [images, 'linux-amd64', M.linuxAmd64],
      [images, 'empty_index', M.emptyIndex],
      [artifacts, 'blob', M.blob],
      [artifacts, 'v1.3.8', M.v138],
    ] as const) {
      const d = JSON.parse(ok(await lading(['manifest', 'fetch', '--oci-layout', '--descriptor', `${layout}:${tag}`], { env: ENV })).stdout);
      expect(d).toMatchObject(desc);
    }
  });

  it('pull --include-subject through the layout’s referrers, and the empty artifact', async () => {
    const out = join(work, 'layout-subjects');
    ok(await lading(['pull', '--oci-layout', '--include-subject', `${artifacts}@${M.signatureFile}`, '-o', out], { env: ENV }));
    expect(files(out)).toEqual({ bar: fixture('bar'), foo1: fixture('foo1'), foo2: fixture('foo2'), sbom: 'mocked sbom', signature: 'mocked signature' });
    const chain = join(work, 'layout-chain');
    ok(await lading(['pull', '--oci-layout', '--include-subject', `${artifacts}@${M.signatureOfSbom}`, '-o', chain], { env: ENV }));
    expect(readdirSync(chain).sort()).toEqual(['arm64', 'sbom', 'signature']);
    const empty = join(work, 'layout-empty');
    const r = ok(await lading(['pull', '--oci-layout', `${artifacts}:empty`, '-o', empty], { env: ENV }));
    expect(digestOf(r)).toBe(M.empty.digest);
    expect(readdirSync(empty)).toEqual([]);

    const tree = JSON.parse(ok(await lading(['discover', '--oci-layout', '--format', 'json', `${artifacts}:foobar`], { env: ENV })).stdout);
    expect(tree.referrers.map((r: { digest: string }) => r.digest)).toEqual([M.sbomFile]);
    expect(tree.referrers[0].referrers.map((r: { digest: string }) => r.digest)).toEqual([M.signatureFile]);
  });
});

async function inDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const before = process.cwd();
  process.chdir(dir);
  try {
    return await fn();
  } finally {
    process.chdir(before);
  }
}
