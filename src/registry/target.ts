import { Readable } from 'node:stream';
import type { Content, Deleter, ReferrerLister, TagLister, Target } from '../content/interfaces.js';
import { contentBytes } from '../content/memory.js';
import { LadingError } from '../errors/errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import { asIndex, parseManifestJson } from '../oci/manifest.js';
import { isManifestType, MediaType } from '../oci/mediatypes.js';
import { referrerDescriptor, referrersIndex, referrersTag, subjectOf } from '../oci/referrers.js';
import type { Repository } from './repository.js';

/** How referrers are listed and maintained: the API, the tag schema, or the API when the registry has it. */
export type ReferrersMode = 'auto' | 'api' | 'tag';

export interface RegistryTargetOptions {
  referrers?: ReferrersMode;
  /** After rewriting a referrers tag-schema index, delete the index it superseded. */
  deleteSupersededIndex?: boolean;
  log?: (line: string) => void;
}

/**
 * A repository as a content Target: manifests and blobs by media type, tags, deletes and referrers.
 * Pushing a manifest with a `subject` to a registry without the referrers API (no `OCI-Subject`
 * header, e.g. Distribution 2.8) updates the `<alg>-<hex>` referrers index tag: read, merge, write.
 */
export class RegistryTarget implements Target, TagLister, Deleter, ReferrerLister {
  private apiSupported?: boolean;

  constructor(readonly repo: Repository, private readonly options: RegistryTargetOptions = {}) {
    if (options.referrers === 'api') this.apiSupported = true;
    if (options.referrers === 'tag') this.apiSupported = false;
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
    if (pushed.ociSubject) {
      this.apiSupported = true;
      return;
    }
    if (this.apiSupported === true && this.options.referrers === 'api') return;
    await this.addToReferrersIndex(subject, referrerDescriptor(desc, manifest));
  }

  /** Tag schema: add one referrer to the subject's `<alg>-<hex>` index (read, merge, write). */
  private async addToReferrersIndex(subject: Descriptor, referrer: Descriptor): Promise<void> {
    const tag = referrersTag(subject.digest);
    const old = await this.readReferrersIndex(tag);
    if (old?.manifests.some((m) => m.digest === referrer.digest)) return;
    const manifests = [...(old?.manifests ?? []), referrer];
    const bytes = Buffer.from(JSON.stringify(referrersIndex(manifests)));
    const pushed = await this.repo.pushManifest(tag, bytes, MediaType.ociIndex);
    this.options.log?.(`Updated referrers index ${tag} (${manifests.length} referrer${manifests.length === 1 ? '' : 's'})`);
    if (old && this.options.deleteSupersededIndex && old.digest !== pushed.digest) {
      await this.repo.deleteManifest(old.digest).catch((err: LadingError) => this.options.log?.(`could not delete the superseded referrers index ${old.digest}: ${err.message}`));
    }
  }

  private async readReferrersIndex(tag: string): Promise<{ digest: string; manifests: Descriptor[] } | undefined> {
    try {
      const m = await this.repo.fetchManifest(tag);
      return { digest: m.descriptor.digest, manifests: asIndex(parseManifestJson(m.bytes)).manifests };
    } catch (err) {
      if ((err as LadingError).kind === 'not-found') return undefined;
      throw err;
    }
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
      if (this.options.referrers === 'api') throw new LadingError('unsupported', `${this.repo.registry.name} has no referrers API (forced by --distribution-spec v1.1-referrers-api)`);
      this.apiSupported = false;
    }
    const index = await this.readReferrersIndex(referrersTag(subject.digest));
    const all = index?.manifests ?? [];
    return artifactType ? all.filter((d) => d.artifactType === artifactType) : all;
  }
}
