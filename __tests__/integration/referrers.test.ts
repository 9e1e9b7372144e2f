/**
 * Referrers with the real registry (Distribution 2.8: no referrers API, no OCI-Subject), so lading
 * maintains the referrers tag schema itself: attach writes `sha256-<hex>` indexes, discover reads
 * them (tree and JSON, --depth, --artifact-type, --platform), an index ORAS wrote (the ORAS e2e data)
 * is read, merged and rewritten, `--delete-old-referrers-index` removes what it superseded, and
 * concurrent attaches to one subject are checked. The same discover output on an OCI layout.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lading, type CliResult } from '../helpers/cli.js';
import { BUSYBOX_OCI, BUSYBOX_OCI_DIR, FIXTURES_DIR } from '../helpers/fixtures.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { skopeoCopy } from '../helpers/skopeo.js';
import { tmpDir } from '../helpers/tmp.js';

const P = '--plain-http';
const NOPATH = '--disable-path-validation';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const SBOM = 'application/vnd.test.sbom';
const SIG = 'application/vnd.test.signature';
const ACCEPT = `${OCI_MANIFEST}, ${OCI_INDEX}`;
const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const tagOf = (digest: string) => digest.replace(':', '-');

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`lading ${r.args.join(' ')}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

interface Raw {
  status: number;
  bytes: Buffer;
  digest?: string;
}

/** A manifest straight from the registry (an independent client: fetch), optionally with Basic auth. */
async function raw(registry: RunningRegistry, repo: string, ref: string, method: 'GET' | 'HEAD' = 'GET'): Promise<Raw> {
  const headers: Record<string, string> = { accept: ACCEPT };
  if (registry.username) headers.authorization = `Basic ${Buffer.from(`${registry.username}:${registry.password}`).toString('base64')}`;
  const res = await fetch(`${registry.url}/v2/${repo}/manifests/${ref}`, { method, headers });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, bytes, digest: res.headers.get('docker-content-digest') ?? undefined };
}

async function rawJson(registry: RunningRegistry, repo: string, ref: string): Promise<Record<string, unknown>> {
  const r = await raw(registry, repo, ref);
  if (r.status !== 200) throw new Error(`GET ${repo}:${ref}: ${r.status} ${r.bytes.toString()}`);
  return JSON.parse(r.bytes.toString());
}

/** The descriptor of a referrer as an index must list it: from the manifest's own bytes. */
async function listed(registry: RunningRegistry, repo: string, digest: string) {
  const r = await raw(registry, repo, digest);
  const m = JSON.parse(r.bytes.toString());
  return { mediaType: OCI_MANIFEST, digest, size: r.bytes.length, artifactType: m.artifactType, annotations: m.annotations };
}

let reg: RunningRegistry;
let H: string;
let work: string;

/** A file in the work folder. */
function file(name: string, content: string): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
}

async function pushSubject(repo: string, content: string): Promise<string> {
  const r = ok(await lading(['push', P, NOPATH, '--format', 'json', `${H}/${repo}:v1`, file(`${repo.replace(/\//g, '_')}-subject.txt`, content)]));
  return JSON.parse(r.stdout).digest;
}

async function attach(ref: string, artifactType: string, note: string, ...extra: string[]): Promise<string> {
  const r = ok(await lading(['attach', P, NOPATH, '--format', 'json', '--artifact-type', artifactType, '-a', `note=${note}`, ...extra, ref, file(`${note}.txt`, `${note}\n`)]));
  return JSON.parse(r.stdout).digest;
}

beforeAll(async () => {
  reg = await startRegistry();
  H = reg.host;
  work = tmpDir('lading-referrers-');
});
afterAll(async () => {
  await reg?.stop();
});

describe('attach and discover through the tag schema', () => {
  let S: string;
  let A: string; // sbom of S
  let B: string; // signature of S
  let C: string; // signature of A (a referrer of a referrer)
  let D: string; // a second sbom of S
  /** The tag-schema index right after the first two attaches. */
  let afterTwo: Record<string, unknown>;

  beforeAll(async () => {
    S = await pushSubject('app', 'the subject\n');
    A = await attach(`${H}/app:v1`, SBOM, 'sbom-a');
    B = await attach(`${H}/app@${S}`, SIG, 'sig-b');
    afterTwo = await rawJson(reg, 'app', tagOf(S));
    C = await attach(`${H}/app@${A}`, SIG, 'sig-of-a');
    D = await attach(`${H}/app:v1`, SBOM, 'sbom-d');
  });

  it('attach twice: the sha256-<hex> tag holds an index listing both referrers (artifactType, annotations)', async () => {
    const index = afterTwo;
    expect(index).toEqual({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [await listed(reg, 'app', A), await listed(reg, 'app', B)] });
    const a = (index.manifests as Array<{ annotations: Record<string, string> }>)[0];
    expect(a.annotations.note).toBe('sbom-a');
    expect(a.annotations['org.opencontainers.image.created']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // Each referrer's manifest names the subject by its full descriptor.
    for (const d of [A, B]) expect((await rawJson(reg, 'app', d)).subject).toEqual({ mediaType: OCI_MANIFEST, digest: S, size: (await raw(reg, 'app', S)).bytes.length });
    const tags = JSON.parse(ok(await lading(['repo', 'tags', P, '--format', 'json', `${H}/app`])).stdout);
    expect(JSON.stringify(tags)).toContain(tagOf(S));
  });

  it('discover: the ORAS tree (subject root, grouped by artifact type, nested), depth 1 and unlimited', async () => {
    const full = ok(await lading(['discover', P, `${H}/app:v1`]));
    expect(full.stdout).toBe(
      [
        `${H}/app@${S}`,
        `├── ${SBOM}`,
        `│   ├── ${A}`,
        `│   │   └── ${SIG}`,
        `│   │       └── ${C}`,
        `│   └── ${D}`,
        `└── ${SIG}`,
        `    └── ${B}`,
        '',
      ].join('\n'),
    );
    expect(ok(await lading(['discover', P, '--depth', '0', `${H}/app:v1`])).stdout).toBe(full.stdout);
    const one = ok(await lading(['discover', P, '--depth', '1', `${H}/app:v1`]));
    expect(one.stdout).toBe([`${H}/app@${S}`, `├── ${SBOM}`, `│   ├── ${A}`, `│   └── ${D}`, `└── ${SIG}`, `    └── ${B}`, ''].join('\n'));
  });

  it('discover --format json: the nested shape, with every reference', async () => {
    const node = async (digest: string, referrers: unknown[]) => {
      const l = await listed(reg, 'app', digest);
      return { reference: `${H}/app@${digest}`, mediaType: l.mediaType, digest, size: l.size, annotations: l.annotations, artifactType: l.artifactType, referrers };
    };
    const subjectSize = (await raw(reg, 'app', S)).bytes.length;
    const json = JSON.parse(ok(await lading(['discover', P, '--format', 'json', `${H}/app:v1`])).stdout);
    expect(json).toEqual({
      reference: `${H}/app@${S}`,
      mediaType: OCI_MANIFEST,
      digest: S,
      size: subjectSize,
      referrers: [await node(A, [await node(C, [])]), await node(B, []), await node(D, [])],
    });
    const shallow = JSON.parse(ok(await lading(['discover', P, '--format', 'json', '--depth', '1', `${H}/app:v1`])).stdout);
    expect(shallow.referrers.map((r: { digest: string; referrers: unknown[] }) => [r.digest, r.referrers])).toEqual([
      [A, []],
      [B, []],
      [D, []],
    ]);
  });

  it('--artifact-type: only that type, at every level', async () => {
    const sboms = ok(await lading(['discover', P, '--artifact-type', SBOM, `${H}/app:v1`]));
    expect(sboms.stdout).toBe([`${H}/app@${S}`, `└── ${SBOM}`, `    ├── ${A}`, `    └── ${D}`, ''].join('\n'));
    const sigs = ok(await lading(['discover', P, '--artifact-type', SIG, `${H}/app:v1`]));
    expect(sigs.stdout).toBe([`${H}/app@${S}`, `└── ${SIG}`, `    └── ${B}`, ''].join('\n'));
    const none = ok(await lading(['discover', P, '--artifact-type', 'application/vnd.none', `${H}/app:v1`]));
    expect(none.stdout).toBe(`${H}/app@${S}\n`);
  });

  it('--distribution-spec v1.1-referrers-api: the registry has no referrers API, a clear error (exit 1)', async () => {
    const r = await lading(['discover', P, '--distribution-spec', 'v1.1-referrers-api', `${H}/app:v1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${H} has no referrers API`);
    const forcedTag = ok(await lading(['discover', P, '--distribution-spec', 'v1.1-referrers-tag', '--depth', '1', `${H}/app:v1`]));
    expect(forcedTag.stdout).toBe([`${H}/app@${S}`, `├── ${SBOM}`, `│   ├── ${A}`, `│   └── ${D}`, `└── ${SIG}`, `    └── ${B}`, ''].join('\n'));
  });
});

describe('attach --platform on an index', () => {
  const ARM = BUSYBOX_OCI.arm64Variant.manifest;
  const MULTI = BUSYBOX_OCI.multi;

  beforeAll(async () => {
    await skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:multi`, `docker://${H}/busybox:multi`, { dest: reg, all: true });
  });

  it('the platform manifest is the subject; the index itself gets no referrer', async () => {
    const r = ok(await lading(['attach', P, NOPATH, '--format', 'json', '--platform', 'linux/arm64/v8', '--artifact-type', SBOM, `${H}/busybox:multi`, file('arm.txt', 'arm\n')]));
    const out = JSON.parse(r.stdout);
    expect(out.subject.digest).toBe(ARM.digest);
    expect((await rawJson(reg, 'busybox', out.digest)).subject).toEqual({ mediaType: OCI_MANIFEST, digest: ARM.digest, size: ARM.size });
    expect(await rawJson(reg, 'busybox', tagOf(ARM.digest))).toEqual({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [await listed(reg, 'busybox', out.digest)] });
    expect((await raw(reg, 'busybox', tagOf(MULTI.digest), 'HEAD')).status).toBe(404);
    expect(ok(await lading(['discover', P, '--platform', 'linux/arm64/v8', `${H}/busybox:multi`])).stdout).toBe([`${H}/busybox@${ARM.digest}`, `└── ${SBOM}`, `    └── ${out.digest}`, ''].join('\n'));
    expect(ok(await lading(['discover', P, `${H}/busybox:multi`])).stdout).toBe(`${H}/busybox@${MULTI.digest}\n`);
  });
});

describe('an index ORAS wrote (ORAS e2e data on Distribution): read, merged, rewritten', () => {
  let oras: RunningRegistry;
  let O: string;
  const REPO = 'command/artifacts';
  const FOOBAR = 'sha256:fd6ed2f36b5465244d5dc86cb4e7df0ab8a9d24adc57825099f522fe009a22bb';
  const MULTI = 'sha256:e2bfc9cc6a84ec2d7365b5a28c6bc5806b7fa581c9ad7883be955a64e3cc034f';
  /** The tag-schema index of foobar as the fixture holds it, and its one (ORAS) entry, byte for byte. */
  const ORAS_INDEX = 'sha256:9014f58b3c912c84379c604e21c76653187349a588d68b27b306b4b1de5dacce';
  const ORAS_ENTRY =
    '{"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"test/sbom.file","digest":"sha256:e2c6633a79985906f1ed55c592718c73c41e809fb9818de232a635904a74d48d","size":660,"annotations":{"org.opencontainers.image.created":"2023-01-18T08:37:42Z"}}';
  const auth = () => ['-u', 'hello', '--password-stdin'];
  const run = (args: string[]) => lading(args, { stdin: 'oras-test\n' });

  beforeAll(async () => {
    oras = await startRegistry({
      mode: 'htpasswd',
      storage: join(FIXTURES_DIR, 'oras-e2e/storage/zot-on-distribution'),
      htpasswdFile: join(FIXTURES_DIR, 'oras-e2e/storage/zot-on-distribution/../../zot/passwd_bcrypt'),
      username: 'hello',
      password: 'oras-test',
    });
    O = oras.host;
  });
  afterAll(async () => {
    await oras?.stop();
  });

  it('discover reads ORAS\'s referrers: nested, and a referrer without an artifact type shown as <unknown>', async () => {
    const foobar = ok(await run(['discover', P, ...auth(), `${O}/${REPO}:foobar`]));
    expect(foobar.stdout).toBe(
      [
        `${O}/${REPO}@${FOOBAR}`,
        '└── test/sbom.file',
        '    └── sha256:e2c6633a79985906f1ed55c592718c73c41e809fb9818de232a635904a74d48d',
        '        └── test/signature.file',
        '            └── sha256:0cb8c4da7e9ff2e7eefca33141091b9239218e3125a35e17e8bcd05fa3a5e714',
        '',
      ].join('\n'),
    );
    const multi = ok(await run(['discover', P, ...auth(), `${O}/${REPO}:multi`]));
    expect(multi.stdout).toBe(
      [
        `${O}/${REPO}@${MULTI}`,
        '├── <unknown>',
        '│   └── sha256:7679bc22c33b87aa345c6950a993db98a6df7a6cc77a35c388908a3a50be6bad',
        '└── referrer/index',
        '    └── sha256:d37baf66300b9006b0f4c7102075d56b970fbf910be5c6bca07fdbb000dfa383',
        '',
      ].join('\n'),
    );
  });

  it('attach merges into ORAS\'s index (its entry kept byte for byte); without the option the old index stays, with --delete-old-referrers-index it goes', async () => {
    expect((await raw(oras, REPO, tagOf(FOOBAR))).digest).toBe(ORAS_INDEX);
    const first = ok(await run(['attach', P, NOPATH, ...auth(), '--format', 'json', '--artifact-type', SBOM, `${O}/${REPO}:foobar`, file('lading-1.txt', 'one\n')]));
    const R1 = JSON.parse(first.stdout).digest;
    const after1 = await raw(oras, REPO, tagOf(FOOBAR));
    expect(after1.bytes.toString()).toBe(`{"schemaVersion":2,"mediaType":"${OCI_INDEX}","manifests":[${ORAS_ENTRY},${JSON.stringify(await listed(oras, REPO, R1))}]}`);
    expect(after1.digest).toBe(sha256(after1.bytes));
    // Without the option the superseded index is still in the repository (by digest).
    expect((await raw(oras, REPO, ORAS_INDEX, 'HEAD')).status).toBe(200);
    expect(first.stderr).not.toContain('Deleted');

    const second = ok(await run(['attach', P, NOPATH, ...auth(), '--format', 'json', '--delete-old-referrers-index', '--artifact-type', SIG, `${O}/${REPO}:foobar`, file('lading-2.txt', 'two\n')]));
    const R2 = JSON.parse(second.stdout).digest;
    const after2 = await raw(oras, REPO, tagOf(FOOBAR));
    expect(JSON.parse(after2.bytes.toString()).manifests.map((m: { digest: string }) => m.digest)).toEqual([
      'sha256:e2c6633a79985906f1ed55c592718c73c41e809fb9818de232a635904a74d48d',
      R1,
      R2,
    ]);
    // The index the second attach replaced (the first attach's) is gone; the one before it was not touched by it.
    expect((await raw(oras, REPO, after1.digest!, 'HEAD')).status).toBe(404);
    expect((await raw(oras, REPO, ORAS_INDEX, 'HEAD')).status).toBe(200);
    expect(second.stderr).toContain(`Deleted the superseded referrers index ${after1.digest}`);
    // The other tags of the repository are untouched.
    expect((await raw(oras, REPO, 'foobar', 'HEAD')).digest).toBe(FOOBAR);
    expect((await raw(oras, REPO, tagOf(MULTI), 'HEAD')).status).toBe(200);
    // discover sees all three, ORAS's referrer of a referrer included.
    const tree = ok(await run(['discover', P, ...auth(), `${O}/${REPO}:foobar`]));
    expect(tree.stdout).toBe(
      [
        `${O}/${REPO}@${FOOBAR}`,
        '├── test/sbom.file',
        '│   └── sha256:e2c6633a79985906f1ed55c592718c73c41e809fb9818de232a635904a74d48d',
        '│       └── test/signature.file',
        '│           └── sha256:0cb8c4da7e9ff2e7eefca33141091b9239218e3125a35e17e8bcd05fa3a5e714',
        `├── ${SBOM}`,
        `│   └── ${R1}`,
        `└── ${SIG}`,
        `    └── ${R2}`,
        '',
      ].join('\n'),
    );
  });
});

describe('concurrent attaches to one subject', () => {
  it('every attach succeeds and the index ends up listing every referrer', async () => {
    const S = await pushSubject('race', 'raced subject\n');
    const n = Number(process.env.RACE_N ?? 6);
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => lading(['attach', P, NOPATH, '--format', 'json', '--artifact-type', SBOM, `${H}/race@${S}`, file(`race-${i}.txt`, `race ${i}\n`)])),
    );
    for (const r of results) ok(r);
    const pushed = results.map((r) => JSON.parse(r.stdout).digest as string);
    const index = await rawJson(reg, 'race', tagOf(S));
    const listedDigests = (index.manifests as Array<{ digest: string }>).map((m) => m.digest);
    expect([...listedDigests].sort()).toEqual([...pushed].sort());
  });

  it('with --delete-old-referrers-index: every referrer listed, and no superseded index left behind', async () => {
    const S = await pushSubject('race-gc', 'raced subject, collected\n');
    const n = Number(process.env.RACE_N ?? 6);
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        lading(['attach', P, NOPATH, '--format', 'json', '--delete-old-referrers-index', '--artifact-type', SIG, `${H}/race-gc@${S}`, file(`race-gc-${i}.txt`, `race gc ${i}\n`)]),
      ),
    );
    for (const r of results) ok(r);
    const pushed = results.map((r) => JSON.parse(r.stdout).digest as string);
    const tagged = await raw(reg, 'race-gc', tagOf(S));
    const listedDigests = (JSON.parse(tagged.bytes.toString()).manifests as Array<{ digest: string }>).map((m) => m.digest);
    expect([...listedDigests].sort()).toEqual([...pushed].sort());
    // The repository's manifests (Distribution's revision links; a delete removes the link, not its folder):
    // the subject, the referrers and one index.
    const dir = join(reg.rootDir, 'docker/registry/v2/repositories/race-gc/_manifests/revisions/sha256');
    const revisions = readdirSync(dir)
      .filter((h) => existsSync(join(dir, h, 'link')))
      .map((h) => `sha256:${h}`);
    expect(revisions.sort()).toEqual([S, ...pushed, tagged.digest!].sort());
  });
});

describe('the same on an OCI layout', () => {
  it('attach and discover: tree rooted at PATH@DIGEST, json, depth', async () => {
    const layout = join(work, 'layout');
    const S = JSON.parse(ok(await lading(['push', '--oci-layout', NOPATH, '--format', 'json', `${layout}:v1`, file('layout-subject.txt', 'layout subject\n')])).stdout).digest;
    const lattach = async (ref: string, type: string, note: string) =>
      JSON.parse(ok(await lading(['attach', '--oci-layout', NOPATH, '--format', 'json', '--artifact-type', type, '-a', `note=${note}`, ref, file(`l-${note}.txt`, note)])).stdout).digest as string;
    const A = await lattach(`${layout}:v1`, SBOM, 'a');
    const B = await lattach(`${layout}@${S}`, SIG, 'b');
    const C = await lattach(`${layout}@${A}`, SIG, 'c');
    const tree = ok(await lading(['discover', '--oci-layout', `${layout}:v1`]));
    expect(tree.stdout).toBe([`${layout}@${S}`, `├── ${SBOM}`, `│   └── ${A}`, `│       └── ${SIG}`, `│           └── ${C}`, `└── ${SIG}`, `    └── ${B}`, ''].join('\n'));
    const one = ok(await lading(['discover', '--oci-layout', '--depth', '1', `${layout}:v1`]));
    expect(one.stdout).toBe([`${layout}@${S}`, `├── ${SBOM}`, `│   └── ${A}`, `└── ${SIG}`, `    └── ${B}`, ''].join('\n'));
    const json = JSON.parse(ok(await lading(['discover', '--oci-layout', '--format', 'json', `${layout}:v1`])).stdout);
    const shape = (n: { reference: string; digest: string; artifactType?: string; annotations?: Record<string, string>; referrers: unknown[] }): unknown => ({
      reference: n.reference,
      digest: n.digest,
      artifactType: n.artifactType,
      note: n.annotations?.note,
      referrers: (n.referrers as (typeof n)[]).map(shape),
    });
    expect(shape(json)).toEqual({
      reference: `${layout}@${S}`,
      digest: S,
      artifactType: undefined,
      note: undefined,
      referrers: [
        { reference: `${layout}@${A}`, digest: A, artifactType: SBOM, note: 'a', referrers: [{ reference: `${layout}@${C}`, digest: C, artifactType: SIG, note: 'c', referrers: [] }] },
        { reference: `${layout}@${B}`, digest: B, artifactType: SIG, note: 'b', referrers: [] },
      ],
    });
    expect(Object.keys(json.referrers[0])).toEqual(['reference', 'mediaType', 'digest', 'size', 'annotations', 'artifactType', 'referrers']);
  });

  it('--platform on a layout index', async () => {
    const layout = join(work, 'busybox-layout');
    cpSync(BUSYBOX_OCI_DIR, layout, { recursive: true });
    const r = JSON.parse(
      ok(await lading(['attach', '--oci-layout', NOPATH, '--format', 'json', '--platform', 'linux/amd64', '--artifact-type', SBOM, `${layout}:multi`, file('amd.txt', 'amd\n')])).stdout,
    );
    const AMD = BUSYBOX_OCI.latest.manifest.digest;
    expect(r.subject.digest).toBe(AMD);
    expect(ok(await lading(['discover', '--oci-layout', '--platform', 'linux/amd64', `${layout}:multi`])).stdout).toBe([`${layout}@${AMD}`, `└── ${SBOM}`, `    └── ${r.digest}`, ''].join('\n'));
    expect(ok(await lading(['discover', '--oci-layout', `${layout}:multi`])).stdout).toBe(`${layout}@${BUSYBOX_OCI.multi.digest}\n`);
  });
});
