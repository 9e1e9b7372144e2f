/**
 * Listing referrers through RegistryTarget against scripted registries: the referrers API (an index,
 * Link pages, ?artifactType= with and without OCI-Filters-Applied), the fall back to the tag schema
 * on 404, and the forced modes. Every request is asserted, in order, byte for byte.
 */
import { describe, expect, it } from '@jest/globals';
import { RegistryTarget, type RegistryTargetOptions } from '../../../src/registry/target.js';
import { rejection, useFakes } from '../registry/harness.js';
import type { FakeRegistry } from '../registry/fake-registry.js';
import { indexOf, referrer, referrersUrl, reply, SBOM, SIG, SUBJECT, TAG } from './helpers.js';

const { fake, client } = useFakes();

const A = referrer(SBOM, 'a');
const B = referrer(SIG, 'b');
const C = referrer(SBOM, 'c');
const D = referrer(SIG, 'd');
const Q_SBOM = '?artifactType=application%2Fvnd.example.sbom';

const target = (reg: FakeRegistry, options: RegistryTargetOptions = {}) => new RegistryTarget(client(reg).repo, options);

describe('the referrers API', () => {
  it('GET /v2/<name>/referrers/<digest> → the index manifests, in order; Accept asks for an index', async () => {
    const reg = await fake([reply.referrersPage(referrersUrl(SUBJECT.digest), [A.listed, B.listed])]);
    expect(await target(reg).referrers(SUBJECT)).toEqual([A.listed, B.listed]);
    reg.assertDone();
    expect(reg.seen[0].headers.accept).toBe('application/vnd.oci.image.index.v1+json, application/json');
  });

  it('follows Link pages (relative and absolute) to the end', async () => {
    const p2 = `${referrersUrl(SUBJECT.digest)}?last=b&n=2`;
    const p3 = `${referrersUrl(SUBJECT.digest)}?last=c&n=2`;
    const reg = await fake([
      reply.referrersPage(referrersUrl(SUBJECT.digest), [A.listed, B.listed], { link: `<${p2}>; rel="next"` }),
      { ...reply.referrersPage(p2, [C.listed]), headers: (o) => ({ link: `<${o}${p3}>; rel="next"` }) },
      reply.referrersPage(p3, [D.listed]),
    ]);
    expect(await target(reg).referrers(SUBJECT)).toEqual([A.listed, B.listed, C.listed, D.listed]);
    reg.assertDone();
    expect(reg.requests).toEqual([`GET ${referrersUrl(SUBJECT.digest)}`, `GET ${p2}`, `GET ${p3}`]);
  });

  it('--artifact-type sends ?artifactType=; without OCI-Filters-Applied the reply is filtered here', async () => {
    const reg = await fake([reply.referrersPage(referrersUrl(SUBJECT.digest, Q_SBOM), [A.listed, B.listed, C.listed])]);
    expect(await target(reg).referrers(SUBJECT, SBOM)).toEqual([A.listed, C.listed]);
    reg.assertDone();
  });

  it('with OCI-Filters-Applied: artifactType the registry\'s filtering is trusted (nothing dropped here)', async () => {
    // A registry that says it filtered is taken at its word: what it lists is what is shown.
    const reg = await fake([reply.referrersPage(referrersUrl(SUBJECT.digest, Q_SBOM), [A.listed, B.listed], { 'oci-filters-applied': 'artifactType' })]);
    expect(await target(reg).referrers(SUBJECT, SBOM)).toEqual([A.listed, B.listed]);
    reg.assertDone();
  });

  it('OCI-Filters-Applied is read per page, and as a list (other filters beside artifactType)', async () => {
    const p2 = `${referrersUrl(SUBJECT.digest)}?artifactType=application%2Fvnd.example.sbom&last=x`;
    const reg = await fake([
      reply.referrersPage(referrersUrl(SUBJECT.digest, Q_SBOM), [A.listed, B.listed], { 'oci-filters-applied': 'annotation, artifactType', link: `<${p2}>; rel="next"` }),
      reply.referrersPage(p2, [C.listed, D.listed]),
    ]);
    expect(await target(reg).referrers(SUBJECT, SBOM)).toEqual([A.listed, B.listed, C.listed]);
    reg.assertDone();
  });

  it('a header naming another filter only is not artifactType filtering', async () => {
    const reg = await fake([reply.referrersPage(referrersUrl(SUBJECT.digest, Q_SBOM), [A.listed, B.listed], { 'oci-filters-applied': 'artifactTypes' })]);
    expect(await target(reg).referrers(SUBJECT, SBOM)).toEqual([A.listed]);
    reg.assertDone();
  });

  it('a reply without a "manifests" list is an error', async () => {
    const reg = await fake([{ method: 'GET', url: referrersUrl(SUBJECT.digest), status: 200, body: { schemaVersion: 2 } }]);
    const err = await rejection(target(reg).referrers(SUBJECT));
    reg.assertDone();
    expect(err.message).toBe(`referrers of ${SUBJECT.digest} in ${reg.host}/team/app: the registry answered without a "manifests" list`);
  });

  it('404 NAME_UNKNOWN is an unknown repository (the API exists): an error, not a fall back', async () => {
    const reg = await fake([
      { method: 'GET', url: referrersUrl(SUBJECT.digest), status: 404, body: { errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] } },
    ]);
    const err = await rejection(target(reg).referrers(SUBJECT));
    reg.assertDone();
    expect(err.kind).toBe('not-found');
  });

  it('a 404 on a later page is an error too (the API exists), not a silent fall back', async () => {
    const p2 = `${referrersUrl(SUBJECT.digest)}?last=a`;
    const reg = await fake([reply.referrersPage(referrersUrl(SUBJECT.digest), [A.listed], { link: `<${p2}>; rel="next"` }), reply.noReferrersApi(p2)]);
    const err = await rejection(target(reg).referrers(SUBJECT));
    reg.assertDone();
    expect(err.kind).toBe('not-found');
  });
});

describe('no referrers API: the tag schema', () => {
  it('404 → the sha256-<hex> tag is read instead; later lookups go straight to the tag', async () => {
    const other = referrer(SBOM, 'other', { ...SUBJECT, digest: A.desc.digest, size: A.desc.size });
    const otherTag = `sha256-${A.desc.digest.slice(7)}`;
    const reg = await fake([
      reply.noReferrersApi(referrersUrl(SUBJECT.digest)),
      reply.getManifest(TAG, indexOf([A.listed, B.listed])),
      reply.getManifest(otherTag, indexOf([other.listed])),
    ]);
    const t = target(reg);
    expect(await t.referrers(SUBJECT)).toEqual([A.listed, B.listed]);
    expect(await t.referrers(A.desc)).toEqual([other.listed]);
    reg.assertDone();
  });

  it('no tag either: no referrers', async () => {
    const reg = await fake([reply.noReferrersApi(referrersUrl(SUBJECT.digest, Q_SBOM)), reply.manifestUnknown('GET', TAG)]);
    expect(await target(reg).referrers(SUBJECT, SBOM)).toEqual([]);
    reg.assertDone();
  });

  it('the artifact type filter applies to the tag-schema index', async () => {
    const reg = await fake([reply.noReferrersApi(referrersUrl(SUBJECT.digest, Q_SBOM)), reply.getManifest(TAG, indexOf([A.listed, B.listed, C.listed]))]);
    expect(await target(reg).referrers(SUBJECT, SBOM)).toEqual([A.listed, C.listed]);
    reg.assertDone();
  });

  it('forced tag schema: no referrers API request at all', async () => {
    const reg = await fake([reply.getManifest(TAG, indexOf([A.listed]))]);
    expect(await target(reg, { referrers: 'tag' }).referrers(SUBJECT)).toEqual([A.listed]);
    reg.assertDone();
    expect(reg.requests).toEqual([`GET /v2/team/app/manifests/${TAG}`]);
  });

  it('forced API on a registry without it: a clear error, and the tag is not read', async () => {
    const reg = await fake([reply.noReferrersApi(referrersUrl(SUBJECT.digest))]);
    const err = await rejection(target(reg, { referrers: 'api' }).referrers(SUBJECT));
    reg.assertDone();
    expect(err.kind).toBe('unsupported');
    expect(err.message).toBe(`${reg.host} has no referrers API (GET /v2/team/app/referrers/… answered 404; forced by --distribution-spec v1.1-referrers-api)`);
  });
});
