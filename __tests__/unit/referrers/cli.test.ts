/**
 * `lading discover` and `lading attach` against scripted registries: the referrers API path end to
 * end (tree and JSON output, Link pages, ?artifactType=, OCI-Subject on attach) and what
 * --distribution-spec forces. Every request is asserted.
 */
import { describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lading, type CliResult } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';
import type { FakeRegistry, Step } from '../registry/fake-registry.js';
import { useFakes } from '../registry/harness.js';
import { EMPTY, indexOf, OCI_MANIFEST, referrer, referrersUrl, reply, SBOM, SIG, SUBJECT, SUBJECT_BYTES, TAG, sha } from './helpers.js';

const { fake } = useFakes();

const A = referrer(SBOM, 'a');
const B = referrer(SIG, 'b');
const C = referrer(SBOM, 'c');
/** A signature of the SBOM A. */
const AS = referrer(SIG, 'a-sig', A.desc);
const Q_SBOM = '?artifactType=application%2Fvnd.example.sbom';

const P = '--plain-http';
const headSubject = reply.headManifest(SUBJECT.digest, SUBJECT_BYTES, OCI_MANIFEST);

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

describe('discover over the referrers API', () => {
  it('tree: grouped by artifact type, nested, pages followed', async () => {
    const p2 = `${referrersUrl(SUBJECT.digest)}?last=2`;
    const reg = await fake([
      headSubject,
      reply.referrersPage(referrersUrl(SUBJECT.digest), [A.listed, B.listed], { link: `<${p2}>; rel="next"` }),
      reply.referrersPage(p2, [C.listed]),
      reply.referrersPage(referrersUrl(A.desc.digest), [AS.listed]),
      reply.referrersPage(referrersUrl(AS.desc.digest), []),
      reply.referrersPage(referrersUrl(B.desc.digest), []),
      reply.referrersPage(referrersUrl(C.desc.digest), []),
    ]);
    const r = ok(await lading(['discover', P, `${reg.host}/team/app@${SUBJECT.digest}`]));
    reg.assertDone();
    expect(r.stdout).toBe(
      [
        `${reg.host}/team/app@${SUBJECT.digest}`,
        `├── ${SBOM}`,
        `│   ├── ${A.desc.digest}`,
        `│   │   └── ${SIG}`,
        `│   │       └── ${AS.desc.digest}`,
        `│   └── ${C.desc.digest}`,
        `└── ${SIG}`,
        `    └── ${B.desc.digest}`,
        '',
      ].join('\n'),
    );
  });

  it('--format json: the subject and its referrers, each with its reference, nested; --depth 1 stops after one level', async () => {
    const reg = await fake([headSubject, reply.referrersPage(referrersUrl(SUBJECT.digest), [A.listed])]);
    const r = ok(await lading(['discover', P, '--format', 'json', '--depth', '1', `${reg.host}/team/app@${SUBJECT.digest}`]));
    reg.assertDone();
    expect(JSON.parse(r.stdout)).toEqual({
      reference: `${reg.host}/team/app@${SUBJECT.digest}`,
      mediaType: OCI_MANIFEST,
      digest: SUBJECT.digest,
      size: SUBJECT.size,
      referrers: [
        { reference: `${reg.host}/team/app@${A.desc.digest}`, mediaType: OCI_MANIFEST, digest: A.desc.digest, size: A.desc.size, annotations: { note: 'a' }, artifactType: SBOM, referrers: [] },
      ],
    });
  });

  it('--artifact-type sends ?artifactType= at every level and filters replies that are not marked filtered', async () => {
    const reg = await fake([
      headSubject,
      reply.referrersPage(referrersUrl(SUBJECT.digest, Q_SBOM), [A.listed, B.listed]),
      reply.referrersPage(referrersUrl(A.desc.digest, Q_SBOM), [AS.listed], { 'oci-filters-applied': 'artifactType' }),
      reply.referrersPage(referrersUrl(AS.desc.digest, Q_SBOM), []),
    ]);
    const r = ok(await lading(['discover', P, '--artifact-type', SBOM, `${reg.host}/team/app@${SUBJECT.digest}`]));
    reg.assertDone();
    // B (a signature) is dropped here; AS is kept because the registry said it filtered that page.
    expect(r.stdout).toBe([`${reg.host}/team/app@${SUBJECT.digest}`, `└── ${SBOM}`, `    └── ${A.desc.digest}`, `        └── ${SIG}`, `            └── ${AS.desc.digest}`, ''].join('\n'));
  });

  it('--distribution-spec v1.1-referrers-api on a registry without the API: exit 1 and a clear message', async () => {
    const reg = await fake([headSubject, reply.noReferrersApi(referrersUrl(SUBJECT.digest))]);
    const r = await lading(['discover', P, '--distribution-spec', 'v1.1-referrers-api', `${reg.host}/team/app@${SUBJECT.digest}`]);
    reg.assertDone();
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${reg.host} has no referrers API (GET /v2/team/app/referrers/… answered 404; forced by --distribution-spec v1.1-referrers-api)`);
  });

  it('without --distribution-spec the same registry falls back to the tag schema', async () => {
    const reg = await fake([
      headSubject,
      reply.noReferrersApi(referrersUrl(SUBJECT.digest)),
      reply.getManifest(TAG, indexOf([A.listed])),
      reply.manifestUnknown('GET', `sha256-${A.desc.digest.slice(7)}`),
    ]);
    const r = ok(await lading(['discover', P, `${reg.host}/team/app@${SUBJECT.digest}`]));
    reg.assertDone();
    expect(r.stdout).toBe([`${reg.host}/team/app@${SUBJECT.digest}`, `└── ${SBOM}`, `    └── ${A.desc.digest}`, ''].join('\n'));
  });

  it('--distribution-spec v1.1-referrers-tag: no referrers API request at all', async () => {
    const reg = await fake([headSubject, reply.getManifest(TAG, indexOf([A.listed])), reply.manifestUnknown('GET', `sha256-${A.desc.digest.slice(7)}`)]);
    ok(await lading(['discover', P, '--distribution-spec', 'v1.1-referrers-tag', `${reg.host}/team/app@${SUBJECT.digest}`]));
    reg.assertDone();
    expect(reg.requests.filter((x) => x.includes('/referrers/'))).toEqual([]);
  });

  it('an unknown --distribution-spec value is a usage error before any request', async () => {
    const reg = await fake([]);
    const r = await lading(['discover', P, '--distribution-spec', 'v1.1', `${reg.host}/team/app@${SUBJECT.digest}`]);
    reg.assertDone();
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid --distribution-spec "v1.1": expected v1.1-referrers-api or v1.1-referrers-tag');
  });

  it('--depth below 0 is a usage error; 0 means every level (as in ORAS)', async () => {
    const bad = await lading(['discover', P, '--depth', '-1', `127.0.0.1:1/team/app@${SUBJECT.digest}`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--depth must be 0 (all levels) or more');
    const reg = await fake([headSubject, reply.referrersPage(referrersUrl(SUBJECT.digest), [A.listed]), reply.referrersPage(referrersUrl(A.desc.digest), [AS.listed]), reply.referrersPage(referrersUrl(AS.desc.digest), [])]);
    ok(await lading(['discover', P, '--depth', '0', `${reg.host}/team/app@${SUBJECT.digest}`]));
    reg.assertDone();
  });
});

describe('attach', () => {
  const work = tmpDir('lading-referrers-cli-');
  const file = join(work, 'sbom.json');
  writeFileSync(file, '{"sbom":true}\n');

  /** The requests of an attach up to the manifest PUT: resolve the subject, both blobs exist. */
  const before = () => [
    headSubject,
    { method: 'HEAD', url: `/v2/team/app/blobs/${sha('{"sbom":true}\n')}`, status: 200, headers: { 'content-length': '14' } },
    { method: 'HEAD', url: `/v2/team/app/blobs/${EMPTY.digest}`, status: 200, headers: { 'content-length': '2' } },
  ];

  /**
   * The manifest PUT of the attach: its digest depends on the bytes lading builds, so the step
   * matches any `/v2/team/app/manifests/sha256:…` path (the fake records a request before matching it).
   */
  function manifestPut(reg: FakeRegistry, headers: Record<string, string> = {}): Step {
    return {
      method: 'PUT',
      get path() {
        const last = reg.seen[reg.seen.length - 1]?.path ?? '';
        return /^\/v2\/team\/app\/manifests\/sha256:[0-9a-f]{64}$/.test(last) ? last : '/v2/team/app/manifests/sha256:…';
      },
      status: 201,
      headers: () => ({ 'docker-content-digest': reg.seen[reg.seen.length - 1].digest, ...headers }),
    };
  }

  it('a registry answering OCI-Subject: the manifest PUT is the last request (no tag-schema index)', async () => {
    const reg = await fake(before());
    reg.expect(manifestPut(reg, { 'oci-subject': SUBJECT.digest }));
    const r = ok(await lading(['attach', P, '--concurrency', '1', '--disable-path-validation', '--artifact-type', SBOM, `${reg.host}/team/app@${SUBJECT.digest}`, file]));
    reg.assertDone();
    const put = reg.seen[3];
    expect(reg.requests.slice(0, 3)).toEqual([`HEAD /v2/team/app/manifests/${SUBJECT.digest}`, `HEAD /v2/team/app/blobs/${sha('{"sbom":true}\n')}`, `HEAD /v2/team/app/blobs/${EMPTY.digest}`]);
    expect(JSON.parse(put.body).subject).toEqual(SUBJECT);
    expect(r.stdout).toBe(`Digest: ${put.digest}\n`);
  });

  it('no OCI-Subject: the tag-schema index is read, written and checked after the PUT', async () => {
    const reg = await fake(before());
    reg.expect(manifestPut(reg), reply.manifestUnknown('GET', TAG), {
      method: 'PUT',
      url: `/v2/team/app/manifests/${TAG}`,
      status: 201,
      headers: () => ({ 'docker-content-digest': reg.seen[reg.seen.length - 1].digest }),
    });
    reg.expect({
      method: 'HEAD',
      url: `/v2/team/app/manifests/${TAG}`,
      status: 200,
      headers: () => {
        const put = reg.seen[reg.seen.length - 2];
        return { 'content-type': 'application/vnd.oci.image.index.v1+json', 'docker-content-digest': put.digest, 'content-length': String(put.size) };
      },
    });
    ok(await lading(['attach', P, '--concurrency', '1', '--disable-path-validation', '--artifact-type', SBOM, `${reg.host}/team/app@${SUBJECT.digest}`, file]));
    reg.assertDone();
    const manifest = reg.seen[3];
    expect(JSON.parse(reg.seen[5].body).manifests).toEqual([
      { mediaType: OCI_MANIFEST, digest: manifest.digest, size: manifest.size, artifactType: SBOM, annotations: JSON.parse(manifest.body).annotations },
    ]);
  });

  it('--distribution-spec v1.1-referrers-api on a registry without the API: exit 1 after the push, no index written', async () => {
    const reg = await fake(before());
    reg.expect(manifestPut(reg), reply.noReferrersApi(referrersUrl(SUBJECT.digest)));
    const r = await lading(['attach', P, '--concurrency', '1', '--disable-path-validation', '--distribution-spec', 'v1.1-referrers-api', '--artifact-type', SBOM, `${reg.host}/team/app@${SUBJECT.digest}`, file]);
    reg.assertDone();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${reg.host} has no referrers API (forced by --distribution-spec v1.1-referrers-api): ${reg.seen[3].digest} was pushed`);
  });
});
