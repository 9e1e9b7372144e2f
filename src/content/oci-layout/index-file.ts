import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LadingError } from '../../errors/errors.js';
import type { Descriptor } from '../../oci/descriptor.js';
import { isManifestType, MediaType } from '../../oci/mediatypes.js';
import { writeFileAtomic } from '../atomic-file.js';
import { withFileLock, type LockOptions } from './lock.js';

/**
 * index.json of an OCI image layout (image-spec image-layout.md): reading it, and changing its
 * `manifests` under an exclusive lock so that concurrent writers never lose each other's entries.
 * The change functions are pure: they take the current list and return the new one, or
 * `undefined` when nothing changes (then nothing is written).
 */

export const REF_NAME = 'org.opencontainers.image.ref.name';
export const INDEX_FILE = 'index.json';
export const LOCK_FILE = 'index.json.lock';

export interface IndexDocument {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
  [field: string]: unknown;
}

/** index.json of a new layout: `{"schemaVersion":2,"mediaType":"…index.v1+json","manifests":[]}`. */
export function emptyIndex(): IndexDocument {
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
}

export function parseIndex(text: string, where: string): IndexDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new LadingError('usage', `${where} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new LadingError('usage', `${where} is not a JSON object`);
  const doc = value as IndexDocument;
  // zot and some other writers leave `"manifests": null` in an empty layout.
  if (doc.manifests === null || doc.manifests === undefined) doc.manifests = [];
  if (!Array.isArray(doc.manifests)) throw new LadingError('usage', `${where}: "manifests" is not a list`);
  return doc;
}

/** The layout's index.json; a layout without one (only `oci-layout`) reads as empty. */
export async function readIndex(root: string): Promise<IndexDocument> {
  const file = join(root, INDEX_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyIndex();
    throw err;
  }
  return parseIndex(text, file);
}

/** Writes index.json through a temporary file and a rename: readers see the old or the new file, never half of one. */
export async function writeIndex(root: string, doc: IndexDocument): Promise<void> {
  await writeFileAtomic(join(root, INDEX_FILE), Readable.from([Buffer.from(JSON.stringify(doc))]));
}

/**
 * Applies `change` to the manifests of index.json while holding `index.json.lock`: the file is
 * re-read under the lock, so a change made meanwhile by another process is kept.
 */
export async function updateIndex(root: string, change: (manifests: Descriptor[]) => Descriptor[] | undefined, lock?: LockOptions): Promise<void> {
  await withFileLock(
    join(root, LOCK_FILE),
    async () => {
      const doc = await readIndex(root);
      const next = change(doc.manifests);
      if (next === undefined) return;
      doc.manifests = next;
      await writeIndex(root, doc);
    },
    lock,
  );
}

export function refName(d: Descriptor): string | undefined {
  const name = d.annotations?.[REF_NAME];
  return typeof name === 'string' && name !== '' ? name : undefined;
}

function hasDigest(d: unknown): d is Descriptor {
  return typeof d === 'object' && d !== null && typeof (d as Descriptor).digest === 'string';
}

/**
 * The entry recorded for `desc`: descriptor fields in image-spec order, `data` dropped, and the
 * ref.name annotation set to `tag` (or removed for an untagged entry).
 */
export function indexEntry(desc: Descriptor, tag?: string): Descriptor {
  const out: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
  if (desc.urls?.length) out.urls = desc.urls;
  const annotations: Record<string, string> = { ...(desc.annotations ?? {}) };
  delete annotations[REF_NAME];
  if (tag !== undefined) annotations[REF_NAME] = tag;
  if (Object.keys(annotations).length > 0) out.annotations = annotations;
  if (desc.platform) out.platform = desc.platform;
  if (desc.artifactType) out.artifactType = desc.artifactType;
  return out;
}

/** What `resolve` hands out for an index.json entry: the entry without its ref.name annotation. */
export function publicDescriptor(entry: Descriptor): Descriptor {
  return indexEntry(entry);
}

/** Records an untagged manifest, unless the digest is listed already (tagged or not). */
export function addUntagged(manifests: Descriptor[], desc: Descriptor): Descriptor[] | undefined {
  if (manifests.some((e) => hasDigest(e) && e.digest === desc.digest)) return undefined;
  return [...manifests, indexEntry(desc)];
}

/**
 * Points `tag` at `desc`: the tag leaves whatever entry carried it (a manifest left without a tag
 * stays listed, untagged, as oras-go keeps it), an untagged entry of `desc` is replaced, and the
 * new entry takes the place of the old one so the list keeps its order.
 */
export function setTag(manifests: Descriptor[], desc: Descriptor, tag: string): Descriptor[] | undefined {
  const next = indexEntry(desc, tag);
  const out: Descriptor[] = [];
  const displaced: Descriptor[] = [];
  let placed = false;
  for (const e of manifests) {
    const mine = hasDigest(e) && refName(e) === tag;
    const untaggedSame = hasDigest(e) && e.digest === desc.digest && refName(e) === undefined;
    if (mine || untaggedSame) {
      if (!placed) out.push(next);
      placed = true;
      if (mine && e.digest !== desc.digest) displaced.push(e);
      continue;
    }
    out.push(e);
  }
  if (!placed) out.push(next);
  for (const d of displaced) {
    if (isManifestType(d.mediaType) && !out.some((e) => hasDigest(e) && e.digest === d.digest)) out.push(indexEntry(d));
  }
  return JSON.stringify(out) === JSON.stringify(manifests) ? undefined : out;
}

/** Drops every entry of `digest`. */
export function removeDigest(manifests: Descriptor[], digest: string): Descriptor[] | undefined {
  const out = manifests.filter((e) => !(hasDigest(e) && e.digest === digest));
  return out.length === manifests.length ? undefined : out;
}

/** The entries that are descriptors (anything else in a foreign index.json is kept but ignored). */
export function entries(doc: IndexDocument): Descriptor[] {
  return doc.manifests.filter(hasDigest);
}
