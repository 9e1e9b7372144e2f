import { Readable } from 'node:stream';
import type { Content, ReadOnlyTarget, ReferrerLister, Storage, Target } from '../content/interfaces.js';
import { isReferrerLister } from '../content/interfaces.js';
import { LadingError } from '../errors/errors.js';
import type { Descriptor, Platform } from '../oci/descriptor.js';
import { selectPlatform, asIndex } from '../oci/manifest.js';
import { isIndexType, isManifestType } from '../oci/mediatypes.js';
import { RegistryTarget } from '../registry/target.js';
import { readManifest } from './pull.js';
import { forEachLimit, pushManifest } from './push.js';

export interface CopyEvent {
  status: 'Exists' | 'Copying' | 'Copied' | 'Mounted';
  descriptor: Descriptor;
}

export interface CopyOptions {
  concurrency?: number;
  /** Copy only this platform out of an index. */
  platform?: Platform;
  /** Copy the referrers of every manifest copied, recursively (`-r`). */
  referrers?: boolean;
  onBlob?: (e: CopyEvent) => void;
  log?: (line: string) => void;
}

/** The nodes a manifest points at: an index's manifests; an image's config, layers and subject. */
export function successors(desc: Descriptor, manifest: Record<string, unknown>): Descriptor[] {
  const out: Descriptor[] = [];
  if (isIndexType(desc.mediaType) || Array.isArray(manifest.manifests)) out.push(...((manifest.manifests as Descriptor[]) ?? []));
  else {
    if (manifest.config) out.push(manifest.config as Descriptor);
    out.push(...((manifest.layers as Descriptor[]) ?? []));
  }
  if (manifest.subject) out.push(manifest.subject as Descriptor);
  return out;
}

/** A blob as upload content: a fresh fetch from the source per attempt, streamed straight through. */
function streamFrom(src: ReadOnlyTarget, desc: Descriptor): () => Readable {
  return () =>
    Readable.from(
      (async function* () {
        yield* await src.fetch(desc);
      })(),
    );
}

/**
 * Copies the graph under `root` from `src` to `dst`: children before parents, so a manifest is only
 * pushed once everything it points at is there; nodes the destination has are skipped; blobs are
 * streamed from source to destination (mounted when both are repositories of one registry), never
 * buffered whole or written to disk. Manifests are read (bounded) to find their successors.
 */
export async function copyGraph(src: ReadOnlyTarget, dst: Storage, root: Descriptor, options: CopyOptions = {}): Promise<void> {
  const done = new Map<string, Promise<void>>();
  const visit = (desc: Descriptor): Promise<void> => {
    let p = done.get(desc.digest);
    if (!p) {
      p = copyNode(desc);
      done.set(desc.digest, p);
    }
    return p;
  };
  const copyNode = async (desc: Descriptor): Promise<void> => {
    if (await dst.exists(desc)) {
      options.onBlob?.({ status: 'Exists', descriptor: desc });
      return;
    }
    if (isManifestType(desc.mediaType)) {
      const chunks: Buffer[] = [];
      for await (const c of await src.fetch(desc)) chunks.push(Buffer.from(c as Buffer));
      const bytes = Buffer.concat(chunks);
      const manifest = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
      await forEachLimit(successors(desc, manifest), options.concurrency ?? 3, visit);
      options.onBlob?.({ status: 'Copying', descriptor: desc });
      await dst.push(desc, bytes);
      options.onBlob?.({ status: 'Copied', descriptor: desc });
      return;
    }
    options.onBlob?.({ status: 'Copying', descriptor: desc });
    const mounted = await mountOrPush(src, dst, desc, options.log);
    options.onBlob?.({ status: mounted ? 'Mounted' : 'Copied', descriptor: desc });
  };
  await visit(root);
}

/** Mount when source and destination are repositories of one registry; otherwise stream the blob across. */
async function mountOrPush(src: ReadOnlyTarget, dst: Storage, desc: Descriptor, log?: (line: string) => void): Promise<boolean> {
  const content: Content = streamFrom(src, desc);
  if (src instanceof RegistryTarget && dst instanceof RegistryTarget && src.repo.registry.host === dst.repo.registry.host && src.repo.registry.baseUrl === dst.repo.registry.baseUrl && src.repo.name !== dst.repo.name) {
    return dst.repo.mountOrUpload(desc, src.repo.name, content, log);
  }
  await dst.push(desc, content);
  return false;
}

/** Resolves the source reference, narrows to a platform if asked, and copies; returns the copied root. */
export async function copy(src: ReadOnlyTarget, srcRef: string, dst: Target, dstTags: string[], options: CopyOptions = {}): Promise<Descriptor> {
  let root = await src.resolve(srcRef);
  if (options.platform) {
    const manifest = await readManifest(src, root);
    if (isIndexType(root.mediaType) || Array.isArray(manifest.manifests)) root = selectPlatform(asIndex(manifest), options.platform);
  }
  // The root manifest is pushed under its first tag in one request where the destination can.
  const rootBytes = await (async () => {
    const chunks: Buffer[] = [];
    for await (const c of await src.fetch(root)) chunks.push(Buffer.from(c as Buffer));
    return Buffer.concat(chunks);
  })();
  const manifest = JSON.parse(rootBytes.toString('utf8')) as Record<string, unknown>;
  await forEachLimit(successors(root, manifest), options.concurrency ?? 3, (d) => copyGraph(src, dst, d, options));
  await pushManifest(dst, root, rootBytes, dstTags);
  options.onBlob?.({ status: 'Copied', descriptor: root });
  if (options.referrers) await copyReferrers(src, dst, root, manifest, options, new Set([root.digest]));
  return root;
}

/** `-r`: the referrers of a manifest (and, for an index, of its children), copied with their own referrers. */
async function copyReferrers(src: ReadOnlyTarget, dst: Storage, desc: Descriptor, manifest: Record<string, unknown>, options: CopyOptions, seen: Set<string>): Promise<void> {
  if (!isReferrerLister(src)) throw new LadingError('unsupported', 'the source cannot list referrers');
  const lister = src as ReadOnlyTarget & ReferrerLister;
  const subjects = [desc, ...(isIndexType(desc.mediaType) ? ((manifest.manifests as Descriptor[]) ?? []) : [])];
  for (const subject of subjects) {
    for (const r of await lister.referrers(subject)) {
      if (seen.has(r.digest)) continue;
      seen.add(r.digest);
      await copyGraph(src, dst, { mediaType: r.mediaType, digest: r.digest, size: r.size }, options);
      options.log?.(`Copied referrer ${r.digest}${r.artifactType ? ` (${r.artifactType})` : ''}`);
      const child = await readManifest(src, r);
      await copyReferrers(src, dst, r, child, options, seen);
    }
  }
}
