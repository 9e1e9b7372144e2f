/**
 * Pushing a manifest with a subject through RegistryTarget, against scripted registries: the
 * referrers API path (OCI-Subject → no tag-schema index), the tag schema (read, merge, write,
 * check), a tag that moves under us (merge again), and the forced modes. Every request is asserted.
 */
import { describe, expect, it } from '@jest/globals';
import { RegistryTarget, type RegistryTargetOptions } from '../../../src/registry/target.js';
import { rejection, useFakes } from '../registry/harness.js';
import type { FakeRegistry } from '../registry/fake-registry.js';
import { indexOf, OCI_INDEX, referrer, referrersUrl, reply, SBOM, SIG, SUBJECT, TAG, sha } from './helpers.js';

const { fake, client } = useFakes();

const A = referrer(SBOM, 'a');
const B = referrer(SIG, 'b');
const C = referrer(SBOM, 'c');

function target(reg: FakeRegistry, options: RegistryTargetOptions = {}) {
  const { repo } = client(reg);
  const logs: string[] = [];
  const sleeps: number[] = [];
  const t = new RegistryTarget(repo, {
    log: (l) => logs.push(l),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    retryDelayMs: () => 7,
    settleMs: 0,
    ...options,
  });
  return { t, logs, sleeps };
}

/** The JSON bodies of the PUTs to the referrers tag. */
const indexPuts = (reg: FakeRegistry) => reg.seen.filter((s) => s.method === 'PUT' && s.path.endsWith(`/manifests/${TAG}`)).map((s) => JSON.parse(s.body));

describe('referrers API registries: the registry indexes the referrer', () => {
  it('a manifest PUT answered with OCI-Subject writes no tag-schema index (one request)', async () => {
    const reg = await fake([reply.putManifest(A.desc.digest, A.bytes, { 'oci-subject': SUBJECT.digest })]);
    const { t } = target(reg);
    await t.push(A.desc, A.bytes);
    reg.assertDone();
    expect(reg.requests).toEqual([`PUT /v2/team/app/manifests/${A.desc.digest}`]);
    expect(reg.seen[0].headers['content-type']).toBe(A.desc.mediaType);
  });

  it('after OCI-Subject, listing uses the referrers API without probing the tag schema', async () => {
    const reg = await fake([
      reply.putManifest(A.desc.digest, A.bytes, { 'oci-subject': SUBJECT.digest }),
      reply.referrersPage(referrersUrl(SUBJECT.digest), [A.listed]),
    ]);
    const { t } = target(reg);
    await t.push(A.desc, A.bytes);
    expect(await t.referrers(SUBJECT)).toEqual([A.listed]);
    reg.assertDone();
  });

  it('forced API (v1.1-referrers-api), no OCI-Subject, but the API answers: no index written', async () => {
    const reg = await fake([reply.putManifest(A.desc.digest, A.bytes), reply.referrersPage(referrersUrl(SUBJECT.digest), [A.listed])]);
    const { t } = target(reg, { referrers: 'api' });
    await t.push(A.desc, A.bytes);
    reg.assertDone();
    expect(reg.requests).toEqual([`PUT /v2/team/app/manifests/${A.desc.digest}`, `GET ${referrersUrl(SUBJECT.digest)}`]);
  });

  it('forced API on a registry without it: a clear error after the push, and no tag-schema index', async () => {
    const reg = await fake([reply.putManifest(A.desc.digest, A.bytes), reply.noReferrersApi(referrersUrl(SUBJECT.digest))]);
    const { t } = target(reg, { referrers: 'api' });
    const err = await rejection(t.push(A.desc, A.bytes));
    reg.assertDone();
    expect(err.kind).toBe('unsupported');
    expect(err.message).toBe(
      `${reg.host} has no referrers API (forced by --distribution-spec v1.1-referrers-api): ${A.desc.digest} was pushed, but nothing lists it as a referrer of ${SUBJECT.digest}; attach again without --distribution-spec (or with v1.1-referrers-tag) to record it in the referrers tag schema`,
    );
  });

  it('forced tag schema (v1.1-referrers-tag): the index is written even when the registry answers OCI-Subject', async () => {
    const after = indexOf([A.listed]);
    const reg = await fake([
      reply.putManifest(A.desc.digest, A.bytes, { 'oci-subject': SUBJECT.digest }),
      reply.manifestUnknown('GET', TAG),
      reply.putManifest(TAG, after),
      reply.headManifest(TAG, after),
      // …and listing still reads the tag, never the API.
      reply.getManifest(TAG, after),
    ]);
    const { t } = target(reg, { referrers: 'tag' });
    await t.push(A.desc, A.bytes);
    expect(await t.referrers(SUBJECT)).toEqual([A.listed]);
    reg.assertDone();
    expect(reg.requests.some((r) => r.includes('/referrers/'))).toBe(false);
  });
});

describe('the referrers tag schema (no OCI-Subject)', () => {
  it('no index yet: GET tag (404), PUT the new index under the tag, HEAD the tag to check it', async () => {
    const after = indexOf([A.listed]);
    const reg = await fake([reply.putManifest(A.desc.digest, A.bytes), reply.manifestUnknown('GET', TAG), reply.putManifest(TAG, after), reply.headManifest(TAG, after)]);
    const { t, logs } = target(reg);
    await t.push(A.desc, A.bytes);
    reg.assertDone();
    expect(reg.requests).toEqual([
      `PUT /v2/team/app/manifests/${A.desc.digest}`,
      `GET /v2/team/app/manifests/${TAG}`,
      `PUT /v2/team/app/manifests/${TAG}`,
      `HEAD /v2/team/app/manifests/${TAG}`,
    ]);
    // Exactly the bytes of a referrers index: the referrer's media type, digest, size, artifactType and annotations.
    expect(reg.seen[2].body).toBe(after.toString());
    expect(reg.seen[2].headers['content-type']).toBe(OCI_INDEX);
    expect(JSON.parse(reg.seen[2].body).manifests).toEqual([
      { mediaType: A.desc.mediaType, digest: A.desc.digest, size: A.desc.size, artifactType: SBOM, annotations: { note: 'a' } },
    ]);
    expect(logs).toEqual([`Updated referrers index ${TAG} (1 referrer)`]);
  });

  it('an existing index is read, merged (its entries kept as they were, unknown fields too) and rewritten', async () => {
    const foreign = { mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: SIG, digest: B.desc.digest, size: B.desc.size, annotations: { x: 'y' }, 'vnd.other.field': 1 };
    const before = indexOf([foreign]);
    const after = indexOf([foreign, A.listed]);
    const reg = await fake([reply.putManifest(A.desc.digest, A.bytes), reply.getManifest(TAG, before), reply.putManifest(TAG, after), reply.headManifest(TAG, after)]);
    const { t } = target(reg);
    await t.push(A.desc, A.bytes);
    reg.assertDone();
    expect(reg.seen[2].body).toBe(after.toString());
  });

  it('a referrer already listed is not written again', async () => {
    const reg = await fake([reply.putManifest(A.desc.digest, A.bytes), reply.getManifest(TAG, indexOf([A.listed]))]);
    const { t } = target(reg);
    await t.push(A.desc, A.bytes);
    reg.assertDone();
  });

  it('a referrers tag that holds an image manifest is a clear error, not a crash', async () => {
    const reg = await fake([reply.putManifest(A.desc.digest, A.bytes), reply.getManifest(TAG, B.bytes, B.desc.mediaType)]);
    const err = await rejection(target(reg).t.push(A.desc, A.bytes));
    reg.assertDone();
    expect(err.kind).toBe('registry');
    expect(err.message).toBe(`${reg.host}/team/app:${TAG} should be a referrers index (tag schema), but it is a ${B.desc.mediaType} without a "manifests" list`);
  });

  it('the tag moved while we wrote and the new index lacks our entry: read again, merge again, check again', async () => {
    const mine = indexOf([A.listed]);
    const theirs = indexOf([B.listed]);
    const merged = indexOf([B.listed, A.listed]);
    const reg = await fake([
      reply.putManifest(A.desc.digest, A.bytes),
      reply.manifestUnknown('GET', TAG),
      reply.putManifest(TAG, mine),
      reply.headManifest(TAG, theirs), // another writer's index replaced ours
      reply.getManifest(TAG, theirs),
      reply.putManifest(TAG, merged),
      reply.headManifest(TAG, merged),
    ]);
    const { t, logs, sleeps } = target(reg);
    await t.push(A.desc, A.bytes);
    reg.assertDone();
    expect(indexPuts(reg)).toEqual([JSON.parse(mine.toString()), JSON.parse(merged.toString())]);
    expect(sleeps).toEqual([7]);
    expect(logs).toEqual([`Referrers index ${TAG} changed while it was written (now ${sha(theirs)}); merging again`, `Updated referrers index ${TAG} (2 referrers)`]);
  });

  it('the tag moved, and the other writer had already merged our entry: nothing more to write', async () => {
    const mine = indexOf([A.listed]);
    const theirs = indexOf([A.listed, B.listed]);
    const reg = await fake([
      reply.putManifest(A.desc.digest, A.bytes),
      reply.manifestUnknown('GET', TAG),
      reply.putManifest(TAG, mine),
      reply.headManifest(TAG, theirs),
      reply.getManifest(TAG, theirs),
    ]);
    const { t, logs } = target(reg);
    await t.push(A.desc, A.bytes);
    reg.assertDone();
    expect(logs[1]).toBe(`Referrers index ${TAG} already lists ${A.desc.digest}`);
  });

  it('a tag that keeps moving: gives up after indexAttempts (here 3) writes with an error that says the referrer is not listed', async () => {
    const others = [indexOf([B.listed]), indexOf([C.listed]), indexOf([B.listed, C.listed])];
    const reg = await fake([
      reply.putManifest(A.desc.digest, A.bytes),
      reply.manifestUnknown('GET', TAG),
      reply.putManifest(TAG, indexOf([A.listed])),
      reply.headManifest(TAG, others[0]),
      reply.getManifest(TAG, others[0]),
      reply.putManifest(TAG, indexOf([B.listed, A.listed])),
      reply.headManifest(TAG, others[1]),
      reply.getManifest(TAG, others[1]),
      reply.putManifest(TAG, indexOf([C.listed, A.listed])),
      reply.headManifest(TAG, others[2]),
      reply.getManifest(TAG, others[2]),
    ]);
    const err = await rejection(target(reg, { indexAttempts: 3 }).t.push(A.desc, A.bytes));
    reg.assertDone();
    expect(indexPuts(reg)).toHaveLength(3);
    expect(err.kind).toBe('registry');
    expect(err.message).toBe(
      `the referrers index ${TAG} kept changing while ${A.desc.digest} was added to it (other writers?); ${A.desc.digest} was pushed but is not listed: attach it again`,
    );
  });

  it('deleting the superseded index: checks the tag first, then deletes the old index by digest', async () => {
    const before = indexOf([B.listed]);
    const after = indexOf([B.listed, A.listed]);
    const reg = await fake([
      reply.putManifest(A.desc.digest, A.bytes),
      reply.getManifest(TAG, before),
      reply.putManifest(TAG, after),
      reply.headManifest(TAG, after),
      reply.headManifest(TAG, after),
      reply.headManifest(sha(before), before),
      { method: 'DELETE', url: `/v2/team/app/manifests/${sha(before)}`, status: 202 },
      reply.headManifest(TAG, after),
    ]);
    const { t, logs } = target(reg, { deleteSupersededIndex: true });
    await t.push(A.desc, A.bytes);
    reg.assertDone();
    expect(reg.requests.slice(4)).toEqual([
      `HEAD /v2/team/app/manifests/${TAG}`,
      `HEAD /v2/team/app/manifests/${sha(before)}`,
      `DELETE /v2/team/app/manifests/${sha(before)}`,
      `HEAD /v2/team/app/manifests/${TAG}`,
    ]);
    expect(logs).toEqual([`Updated referrers index ${TAG} (2 referrers)`, `Deleted the superseded referrers index ${sha(before)}`]);
  });

  it('the superseded index is not deleted when the tag points at it again (a racing writer wrote the same bytes)', async () => {
    const before = indexOf([B.listed]);
    const after = indexOf([B.listed, A.listed]);
    const reg = await fake([
      reply.putManifest(A.desc.digest, A.bytes),
      reply.getManifest(TAG, before),
      reply.putManifest(TAG, after),
      reply.headManifest(TAG, before), // moved back to the old bytes…
      reply.getManifest(TAG, before), // …which lack our entry: merge again
      reply.putManifest(TAG, after),
      reply.headManifest(TAG, after),
      reply.headManifest(TAG, before), // and before deleting, the tag is on `before` once more: nothing is deleted
    ]);
    await target(reg, { deleteSupersededIndex: true }).t.push(A.desc, A.bytes);
    reg.assertDone();
  });

  it('a tag deleted along with a superseded index (same bytes written again meanwhile) is written back', async () => {
    const before = indexOf([B.listed]);
    const after = indexOf([B.listed, A.listed]);
    const reg = await fake([
      reply.putManifest(A.desc.digest, A.bytes),
      reply.getManifest(TAG, before),
      reply.putManifest(TAG, after),
      reply.headManifest(TAG, after),
      reply.headManifest(TAG, after),
      reply.headManifest(sha(before), before),
      { method: 'DELETE', url: `/v2/team/app/manifests/${sha(before)}`, status: 202 },
      reply.manifestUnknown('HEAD', TAG),
      reply.putManifest(TAG, after),
    ]);
    const { t, logs } = target(reg, { deleteSupersededIndex: true });
    await t.push(A.desc, A.bytes);
    reg.assertDone();
    expect(reg.seen[8].body).toBe(after.toString());
    expect(logs[2]).toBe(`Referrers index ${TAG} was deleted with a superseded index (a racing writer wrote the same bytes again); wrote ${sha(after)} back`);
  });

  it('the check after the write waits first (by default three times the PUT\'s duration, at least 50 ms)', async () => {
    const after = indexOf([A.listed]);
    const reg = await fake([reply.putManifest(A.desc.digest, A.bytes), reply.manifestUnknown('GET', TAG), reply.putManifest(TAG, after), reply.headManifest(TAG, after)]);
    const { repo } = client(reg);
    const sleeps: Array<[number, number]> = [];
    const t = new RegistryTarget(repo, {
      sleep: async (ms) => {
        sleeps.push([ms, reg.seen.length]);
      },
    });
    await t.push(A.desc, A.bytes);
    reg.assertDone();
    expect(sleeps).toHaveLength(1);
    const [ms, seenBefore] = sleeps[0];
    expect(ms).toBeGreaterThanOrEqual(50);
    expect(ms).toBeLessThanOrEqual(2000);
    expect(seenBefore).toBe(3); // after the index PUT, before the HEAD
  });

  it('an empty superseded index is never deleted (its digest may be another subject\'s index too)', async () => {
    const before = indexOf([]);
    const after = indexOf([A.listed]);
    const reg = await fake([
      reply.putManifest(A.desc.digest, A.bytes),
      reply.getManifest(TAG, before),
      reply.putManifest(TAG, after),
      reply.headManifest(TAG, after),
      reply.headManifest(TAG, after),
    ]);
    await target(reg, { deleteSupersededIndex: true }).t.push(A.desc, A.bytes);
    reg.assertDone();
  });

  it('a registry that refuses deletes (405): the attach still succeeds, the refusal is reported', async () => {
    const before = indexOf([B.listed]);
    const after = indexOf([B.listed, A.listed]);
    const reg = await fake([
      reply.putManifest(A.desc.digest, A.bytes),
      reply.getManifest(TAG, before),
      reply.putManifest(TAG, after),
      reply.headManifest(TAG, after),
      reply.headManifest(TAG, after),
      reply.headManifest(sha(before), before),
      { method: 'DELETE', url: `/v2/team/app/manifests/${sha(before)}`, status: 405, body: { errors: [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }] } },
    ]);
    const { t, logs } = target(reg, { deleteSupersededIndex: true });
    await t.push(A.desc, A.bytes);
    reg.assertDone();
    expect(logs[1]).toBe(`Could not delete the superseded referrers index ${sha(before)}: ${reg.host}/team/app: the registry does not allow deleting manifests (405 UNSUPPORTED)`);
  });

  it('without the option nothing is deleted', async () => {
    const before = indexOf([B.listed]);
    const after = indexOf([B.listed, A.listed]);
    const reg = await fake([reply.putManifest(A.desc.digest, A.bytes), reply.getManifest(TAG, before), reply.putManifest(TAG, after), reply.headManifest(TAG, after)]);
    await target(reg).t.push(A.desc, A.bytes);
    reg.assertDone();
  });
});
