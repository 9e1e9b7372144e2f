import { Readable } from 'node:stream';
import type { Content, Deleter, ReferrerLister, TagLister, Target } from '../content/interfaces.js';
import { contentBytes } from '../content/memory.js';
import { LadingError } from '../errors/errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import { parseManifestJson } from '../oci/manifest.js';
import { isManifestType, MediaType } from '../oci/mediatypes.js';
import { referrerDescriptor, referrersIndex, referrersTag, subjectOf } from '../oci/referrers.js';
import type { Repository } from './repository.js';

/** How referrers are listed and maintained: the API, the tag schema, or the API when the registry has it. */
export type ReferrersMode = 'auto' | 'api' | 'tag';

export interface RegistryTargetOptions {
  referrers?: ReferrersMode;
  /** After rewriting a referrers tag-schema index, delete the index it superseded. */
  deleteSupersededIndex?: boolean;
  /**
   * Writes of the tag-schema index per referrer (default 5): after each write the tag is resolved
   * again; when it moved (another writer), the index is re-read and merged again.
   */
  indexAttempts?: number;
  /**
   * Pause between writing the tag-schema index and checking the tag (default: three times the
   * PUT's duration, 50 ms to 2 s), so that a write racing ours lands before the check.
   */
  settleMs?: number;
  /** Pause before re-reading a referrers tag that moved under us (default 25–125 ms, random, times the attempt). */
  retryDelayMs?: () => number;
  sleep?: (ms: number) => Promise<void>;
  log?: (line: string) => void;
}

interface ReadIndex {
  digest: string;
  manifests: Descriptor[];
  bytes: Buffer;
}

/**
 * A repository as a content Target: manifests and blobs by media type, tags, deletes and referrers.
 *
 * Referrers (distribution-spec v1.1): a manifest pushed with a `subject` is indexed by the registry
 * when it answers with `OCI-Subject`; otherwise (e.g. Distribution 2.8) this class maintains the
 * subject's `<alg>-<hex>` referrers tag-schema index: read, merge, write, then check that the tag
 * resolves to what was written (merging again if another writer moved it). `referrers()` asks the
 * referrers API and falls back to the tag schema when the registry has none (404).
 * `referrers: 'api'` never touches the tag schema; `'tag'` never calls the referrers API.
 */
export class RegistryTarget implements Target, TagLister, Deleter, ReferrerLister {
  private apiSupported?: boolean;
  /** Delete the superseded tag-schema index after writing a new one (`--delete-old-referrers-index`). */
  deleteSupersededIndex: boolean;

  constructor(readonly repo: Repository, private readonly options: RegistryTargetOptions = {}) {
    if (options.referrers === 'api') this.apiSupported = true;
    if (options.referrers === 'tag') this.apiSupported = false;
    this.deleteSupersededIndex = Boolean(options.deleteSupersededIndex);
  }

  private get mode(): ReferrersMode {
    return this.options.referrers ?? 'auto';
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    if (isManifestType(desc.mediaType)) {
      const m = await this.repo.fetchManifest(desc.digest);
      if (m.bytes.length !== desc.size) throw new LadingError('digest-mismatch', `manifest ${desc.digest}: ${m.bytes.length} bytes, descriptor says ${desc.size}`);
      return Readable.from([m.bytes]);
    }
    return (await this.repo.fetchBlob(desc.digest, desc.size)).stream;
  }

  async exists(desc: Descriptor): Promise<boolean> {
    if (!isManifestType(desc.mediaType)) return this.repo.blobExistsForPush(desc.digest);
    try {
      await this.repo.resolve(desc.digest);
      return true;
    } catch (err) {
      if ((err as LadingError).kind === 'not-found') return false;
      throw err;
    }
  }

  async push(desc: Descriptor, content: Content): Promise<void> {
    if (isManifestType(desc.mediaType)) {
      await this.pushManifest(desc, await contentBytes(content), desc.digest);
      return;
    }
    // Content made by seekable() (files) keeps its openAt through here: a chunked upload resumes at an offset.
    await this.repo.pushBlob(desc, content);
  }

  /** Pushes a manifest straight under a tag (one request instead of push + tag). */
  async pushReference(desc: Descriptor, content: Content, reference: string): Promise<void> {
    await this.pushManifest(desc, await contentBytes(content), reference);
  }

  private async pushManifest(desc: Descriptor, bytes: Buffer, reference: string): Promise<void> {
    const pushed = await this.repo.pushManifest(reference, bytes, desc.mediaType);
    if (pushed.digest !== desc.digest) throw new LadingError('digest-mismatch', `manifest content is ${pushed.digest}, descriptor says ${desc.digest}`);
    const manifest = parseManifestJson(bytes);
    const subject = subjectOf(manifest);
    if (!subject) return;
    const referrer = referrerDescriptor(desc, manifest);
    // Forced tag schema: the index is written whatever the registry says (and its API is never used).
    if (this.mode === 'tag') return this.addToReferrersIndex(subject, referrer);
    if (pushed.ociSubject) {
      this.apiSupported = true;
      return;
    }
    if (this.mode === 'api') {
      // No OCI-Subject although the API was asked for: find out whether the registry has the API at all.
      if ((await this.repo.referrers(subject.digest)) === undefined) {
        throw new LadingError(
          'unsupported',
          `${this.repo.registry.name} has no referrers API (forced by --distribution-spec v1.1-referrers-api): ${desc.digest} was pushed, but nothing lists it as a referrer of ${subject.digest}; attach again without --distribution-spec (or with v1.1-referrers-tag) to record it in the referrers tag schema`,
        );
      }
      return;
    }
    // distribution-spec "Pushing Manifests with Subject": no OCI-Subject → the client maintains the tag schema.
    await this.addToReferrersIndex(subject, referrer);
  }

  /**
   * Tag schema: adds one referrer to the subject's `<alg>-<hex>` index: read, merge, write, check.
   * Distribution has no conditional PUT, so two writers can race: one that read the tag before the
   * other's PUT landed writes an index without the other's entry. After writing, we wait a few of
   * our own round trips (`settleMs`) and resolve the tag again; if it moved and the index there
   * lacks our entry, it is read and merged again (up to `indexAttempts` writes, with a growing
   * random pause). What remains unprotected: a stale write landing after that check (a writer
   * stalled for longer than the pause), which drops our entry without anyone noticing.
   */
  private async addToReferrersIndex(subject: Descriptor, referrer: Descriptor): Promise<void> {
    const tag = referrersTag(subject.digest);
    const attempts = Math.max(1, this.options.indexAttempts ?? 5);
    const replaced: ReadIndex[] = [];
    for (let attempt = 1; ; attempt++) {
      const old = await this.readReferrersIndex(tag);
      if (old?.manifests.some((m) => m.digest === referrer.digest)) {
        if (attempt > 1) this.options.log?.(`Referrers index ${tag} already lists ${referrer.digest}`);
        await this.deleteSuperseded(tag, replaced, old);
        return;
      }
      if (attempt > attempts) {
        throw new LadingError(
          'registry',
          `the referrers index ${tag} kept changing while ${referrer.digest} was added to it (other writers?); ${referrer.digest} was pushed but is not listed: attach it again`,
        );
      }
      const manifests = [...(old?.manifests ?? []), referrer];
      const bytes = Buffer.from(JSON.stringify(referrersIndex(manifests)));
      const started = Date.now();
      const pushed = await this.repo.pushManifest(tag, bytes, MediaType.ociIndex);
      if (old) replaced.push(old);
      // A writer that read the tag before our PUT landed writes within about one round trip after it:
      // wait a few of our own round trips before checking, so that such a write is seen.
      const settle = this.options.settleMs ?? Math.min(2000, Math.max(50, 3 * (Date.now() - started)));
      if (settle > 0) await this.sleep(settle);
      const now = await this.resolveTag(tag);
      if (now === pushed.digest) {
        this.options.log?.(`Updated referrers index ${tag} (${manifests.length} referrer${manifests.length === 1 ? '' : 's'})`);
        await this.deleteSuperseded(tag, replaced, { digest: pushed.digest, manifests, bytes });
        return;
      }
      replaced.push({ digest: pushed.digest, manifests, bytes });
      this.options.log?.(`Referrers index ${tag} changed while it was written (now ${now ?? 'missing'}); merging again`);
      await this.sleep(this.options.retryDelayMs?.() ?? attempt * (25 + Math.floor(Math.random() * 100)));
    }
  }

  /**
   * With `deleteSupersededIndex`: deletes the indexes this update replaced. Never the one the tag
   * resolves to now (a DELETE by digest drops every tag on it), and never an empty index (the same
   * bytes, hence digest, may be another subject's). Should a racing writer have put the tag on a
   * digest just deleted (same bytes written again), the tag is gone with it: the index we know
   * to be current is then written back.
   */
  private async deleteSuperseded(tag: string, replaced: ReadIndex[], current: ReadIndex): Promise<void> {
    if (!this.deleteSupersededIndex || replaced.length === 0) return;
    const now = await this.resolveTag(tag);
    const done = new Set<string>([current.digest, ...(now ? [now] : [])]);
    let deleted = 0;
    for (const old of replaced) {
      if (done.has(old.digest) || old.manifests.length === 0) continue;
      done.add(old.digest);
      try {
        await this.repo.deleteManifest(old.digest);
        deleted++;
        this.options.log?.(`Deleted the superseded referrers index ${old.digest}`);
      } catch (err) {
        if ((err as LadingError).kind === 'not-found') continue; // another writer deleted it first
        this.options.log?.(`Could not delete the superseded referrers index ${old.digest}: ${(err as Error).message}`);
      }
    }
    if (deleted > 0 && (await this.resolveTag(tag)) === undefined) {
      await this.repo.pushManifest(tag, current.bytes, MediaType.ociIndex);
      this.options.log?.(`Referrers index ${tag} was deleted with a superseded index (a racing writer wrote the same bytes again); wrote ${current.digest} back`);
    }
  }

  private sleep(ms: number): Promise<void> {
    return this.options.sleep ? this.options.sleep(ms) : new Promise<void>((r) => setTimeout(r, ms));
  }

  private async resolveTag(tag: string): Promise<string | undefined> {
    try {
      return (await this.repo.resolve(tag)).digest;
    } catch (err) {
      if ((err as LadingError).kind === 'not-found') return undefined;
      throw err;
    }
  }

  private async readReferrersIndex(tag: string): Promise<ReadIndex | undefined> {
    let m;
    try {
      m = await this.repo.fetchManifest(tag);
    } catch (err) {
      if ((err as LadingError).kind === 'not-found') return undefined;
      throw err;
    }
    const body = parseManifestJson(m.bytes);
    if (!Array.isArray(body.manifests)) {
      throw new LadingError('registry', `${this.repo.registry.name}/${this.repo.name}:${tag} should be a referrers index (tag schema), but it is a ${m.descriptor.mediaType} without a "manifests" list`);
    }
    const manifests = (body.manifests as unknown[]).filter((d): d is Descriptor => !!d && typeof (d as Descriptor).digest === 'string');
    return { digest: m.descriptor.digest, manifests, bytes: m.bytes };
  }

  async resolve(reference: string): Promise<Descriptor> {
    return this.repo.resolve(reference);
  }

  async tag(desc: Descriptor, reference: string): Promise<void> {
    const m = await this.repo.fetchManifest(desc.digest);
    await this.repo.pushManifest(reference, m.bytes, desc.mediaType);
  }

  async tags(): Promise<string[]> {
    return [...new Set(await this.repo.tags())].sort();
  }

  async delete(desc: Descriptor): Promise<void> {
    if (isManifestType(desc.mediaType)) await this.repo.deleteManifest(desc.digest);
    else await this.repo.deleteBlob(desc.digest);
  }

  async referrers(subject: Descriptor, artifactType?: string): Promise<Descriptor[]> {
    if (this.apiSupported !== false) {
      const viaApi = await this.repo.referrers(subject.digest, artifactType);
      if (viaApi) {
        this.apiSupported = true;
        return viaApi;
      }
      if (this.mode === 'api') throw new LadingError('unsupported', `${this.repo.registry.name} has no referrers API (GET /v2/${this.repo.name}/referrers/… answered 404; forced by --distribution-spec v1.1-referrers-api)`);
      this.apiSupported = false;
    }
    const index = await this.readReferrersIndex(referrersTag(subject.digest));
    const all = index?.manifests ?? [];
    return artifactType ? all.filter((d) => d.artifactType === artifactType) : all;
  }
}
