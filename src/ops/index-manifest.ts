import type { Readable } from 'node:stream';
import type { ReadOnlyTarget } from '../content/interfaces.js';
import { LadingError } from '../errors/errors.js';
import type { Descriptor, ImageIndex, Platform } from '../oci/descriptor.js';
import { digestOf, isDigest, parseDigest } from '../oci/digest.js';
import { parseManifestJson } from '../oci/manifest.js';
import { isImageManifestType, isIndexType, isManifestType, isValidMediaType, MANIFEST_ACCEPT, MediaType } from '../oci/mediatypes.js';
import { sortedAnnotations } from './push.js';

/**
 * Image indexes built from manifests already stored (ORAS 1.3 `oras manifest index create|update`): each entry is
 * the manifest's plain descriptor, with the platform its image config declares and the manifest's own
 * `artifactType`. Indexes and artifacts (manifests whose config is not an image config) get no platform.
 */

/** The largest config read to find a platform (ORAS: 4 MiB). */
export const MAX_INDEX_CONFIG_SIZE = 4 * 1024 * 1024;
/** The largest manifest read through `targetSource` (as a registry's default limit). */
const DEFAULT_MANIFEST_LIMIT = 4 * 1024 * 1024;

/** Where the manifests of an index come from: the same shape as the CLI's ManifestReader (a registry repository or an OCI layout). */
export interface ManifestSource {
  /** A manifest by tag or digest: its descriptor and exact bytes. */
  fetchManifest(reference: string, accept: string[]): Promise<{ descriptor: Descriptor; bytes: Buffer }>;
  /** A blob (the config), as a stream that verifies its size and digest. */
  fetchBlob(desc: Descriptor): Promise<Readable>;
}

async function readBounded(stream: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    const b = Buffer.from(c as Buffer);
    n += b.length;
    if (n > limit) {
      stream.destroy();
      throw new LadingError('too-large', `${what} exceeds ${limit} bytes`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Any content target (an OCI layout, memory) as a ManifestSource: resolve, then read the manifest bytes. */
export function targetSource(target: ReadOnlyTarget, options: { maxManifestSize?: number } = {}): ManifestSource {
  const limit = options.maxManifestSize ?? DEFAULT_MANIFEST_LIMIT;
  return {
    async fetchManifest(reference) {
      const desc = await target.resolve(reference);
      if (!isManifestType(desc.mediaType)) throw new LadingError('not-found', `${reference}: not a manifest (${desc.mediaType})`);
      if (desc.size > limit) throw new LadingError('too-large', `manifest ${desc.digest} exceeds ${limit} bytes (got ${desc.size})`);
      const bytes = await readBounded(await target.fetch(desc), limit, `manifest ${desc.digest}`);
      return { descriptor: { mediaType: desc.mediaType, digest: desc.digest, size: desc.size }, bytes };
    },
    fetchBlob: (desc) => target.fetch(desc),
  };
}

/** Config media types that hold an image config, and so a platform (OCI and Docker). */
export function isImageConfigType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.ociConfig || mediaType === MediaType.dockerConfig;
}

/**
 * The platform an image config declares, as ORAS reads it (the config unmarshalled as an ocispec.Platform):
 * `architecture`, `os`, `os.version`, `os.features`, `variant`, in Go's field order so the index bytes match
 * ORAS's. Undefined when the config is not JSON or names neither os nor architecture; a field of the wrong type
 * is left out.
 */
export function platformFromConfig(configBytes: Buffer): Platform | undefined {
  let c: unknown;
  try {
    c = JSON.parse(configBytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!c || typeof c !== 'object' || Array.isArray(c)) return undefined;
  const o = c as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const architecture = str(o.architecture);
  const os = str(o.os);
  if (architecture === '' && os === '') return undefined;
  return orderedPlatform({
    architecture,
    os,
    'os.version': typeof o['os.version'] === 'string' ? o['os.version'] : undefined,
    'os.features': Array.isArray(o['os.features']) && o['os.features'].every((f) => typeof f === 'string') ? (o['os.features'] as string[]) : undefined,
    variant: typeof o.variant === 'string' ? o.variant : undefined,
  });
}

/** A platform with its keys in Go's ocispec.Platform order; empty optional fields dropped (omitempty). */
export function orderedPlatform(p: Platform): Platform {
  const out = { architecture: p.architecture ?? '', os: p.os ?? '' } as Platform;
  if (p['os.version']) out['os.version'] = p['os.version'];
  if (p['os.features'] && p['os.features'].length > 0) out['os.features'] = [...p['os.features']];
  if (p.variant) out.variant = p.variant;
  return out;
}

/**
 * An index entry with its keys in Go's ocispec.Descriptor order (mediaType, digest, size, urls, annotations,
 * data, platform, artifactType), as ORAS re-encodes every entry of an index it writes; other keys are dropped.
 */
export function orderedEntry(d: Descriptor): Descriptor {
  const out = { mediaType: d.mediaType, digest: d.digest, size: d.size } as Descriptor;
  if (d.urls && d.urls.length > 0) out.urls = [...d.urls];
  const annotations = sortedAnnotations(d.annotations);
  if (annotations) out.annotations = annotations;
  if (d.data) out.data = d.data;
  if (d.platform) out.platform = orderedPlatform(d.platform);
  if (d.artifactType) out.artifactType = d.artifactType;
  return out;
}

/** What one source turned into: the entry for the index, and the manifest it describes. */
export interface IndexEntry {
  /** The source as given (tag or digest). */
  source: string;
  descriptor: Descriptor;
  /** Why there is no platform: an index, an artifact (no image config), or a config that names none. */
  kind: 'image' | 'index' | 'artifact';
}

/**
 * The index entry for the manifest `reference` names: its plain descriptor; for an image manifest with an image
 * config, the platform from that config; the manifest's `artifactType` when it has one. A nested index keeps no
 * platform (as in ORAS). `reference` is a tag or digest in the source.
 */
export async function describeEntry(source: ManifestSource, reference: string, options: { maxConfigSize?: number } = {}): Promise<IndexEntry> {
  let fetched;
  try {
    fetched = await source.fetchManifest(reference, MANIFEST_ACCEPT);
  } catch (err) {
    if (err instanceof LadingError && err.kind === 'not-found' && !err.message.includes(reference)) {
      err.message = `could not find the manifest ${reference}: ${err.message}`;
    }
    throw err;
  }
  const desc = fetched.descriptor;
  if (!isManifestType(desc.mediaType)) throw new LadingError('usage', `${reference} is not a manifest (${desc.mediaType})`);
  const body = parseManifestJson(fetched.bytes, `manifest ${reference}`);
  const entry: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
  const artifactType = typeof body.artifactType === 'string' && body.artifactType !== '' ? body.artifactType : undefined;
  if (isIndexType(desc.mediaType)) {
    if (artifactType) entry.artifactType = artifactType;
    return { source: reference, descriptor: orderedEntry(entry), kind: 'index' };
  }
  const config = body.config as Descriptor | undefined;
  if (!isImageManifestType(desc.mediaType) || !config || typeof config.digest !== 'string' || !isImageConfigType(config.mediaType)) {
    if (artifactType) entry.artifactType = artifactType;
    return { source: reference, descriptor: orderedEntry(entry), kind: 'artifact' };
  }
  const limit = options.maxConfigSize ?? MAX_INDEX_CONFIG_SIZE;
  if (typeof config.size !== 'number' || config.size > limit) {
    throw new LadingError('too-large', `the config of ${reference} (${config.digest}) is ${config.size} bytes, more than the ${limit} read to find its platform`);
  }
  const configBytes = await readBounded(await source.fetchBlob({ mediaType: config.mediaType, digest: config.digest, size: config.size }), limit, `config ${config.digest}`);
  const platform = platformFromConfig(configBytes);
  if (platform) entry.platform = platform;
  if (artifactType) entry.artifactType = artifactType;
  return { source: reference, descriptor: orderedEntry(entry), kind: 'image' };
}

/** Appends `added` after `entries`, in order, skipping any digest already there (each manifest is listed once). */
export function appendEntries(entries: Descriptor[], added: Descriptor[]): { entries: Descriptor[]; skipped: Descriptor[] } {
  const seen = new Set(entries.map((e) => e.digest));
  const out = [...entries];
  const skipped: Descriptor[] = [];
  for (const d of added) {
    if (seen.has(d.digest)) {
      skipped.push(d);
      continue;
    }
    seen.add(d.digest);
    out.push(d);
  }
  return { entries: out, skipped };
}

/** Removes every entry with one of `digests`; a digest the index does not list is an error (not found), as in ORAS. */
export function removeEntries(entries: Descriptor[], digests: string[], where = 'the index'): Descriptor[] {
  for (const d of digests) {
    try {
      parseDigest(d);
    } catch (err) {
      throw new LadingError('usage', `--remove ${d}: ${(err as Error).message}; --remove takes the digest of an entry`);
    }
  }
  const missing = digests.filter((d) => !entries.some((e) => e.digest === d));
  if (missing.length > 0) throw new LadingError('not-found', `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in ${where}`);
  const remove = new Set(digests);
  return entries.filter((e) => !remove.has(e.digest));
}

export interface IndexFields {
  /** Default: the OCI image index type. */
  mediaType?: string;
  artifactType?: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** An image index in Go's ocispec.Index key order (schemaVersion, mediaType, artifactType, manifests, subject, annotations). */
export function buildIndex(entries: Descriptor[], fields: IndexFields = {}): ImageIndex {
  const index = { schemaVersion: 2, mediaType: fields.mediaType ?? MediaType.ociIndex } as ImageIndex;
  if (fields.artifactType) index.artifactType = fields.artifactType;
  index.manifests = entries.map(orderedEntry);
  if (fields.subject) index.subject = orderedEntry(fields.subject);
  const annotations = sortedAnnotations(fields.annotations);
  if (annotations) index.annotations = annotations;
  return index;
}

/** The bytes (compact JSON, as ORAS writes them) and descriptor of an index. */
export function encodeIndex(index: ImageIndex): { bytes: Buffer; descriptor: Descriptor } {
  const bytes = Buffer.from(JSON.stringify(index));
  const descriptor: Descriptor = { mediaType: index.mediaType ?? MediaType.ociIndex, digest: digestOf(bytes), size: bytes.length };
  if (index.artifactType) descriptor.artifactType = index.artifactType;
  return { bytes, descriptor };
}

/** Reports what an index operation does, one step at a time (the CLI prints these as status lines). */
export type IndexEvent =
  | { kind: 'fetching'; source: string }
  | { kind: 'fetched'; source: string; descriptor: Descriptor }
  | { kind: 'added'; source: string; descriptor: Descriptor }
  | { kind: 'skipped'; source: string; descriptor: Descriptor }
  | { kind: 'removed'; descriptor: Descriptor }
  | { kind: 'merged'; source: string; descriptor: Descriptor; added: number };

export interface CreateIndexOptions {
  annotations?: Record<string, string>;
  artifactType?: string;
  maxConfigSize?: number;
  onEvent?: (e: IndexEvent) => void;
}

export interface BuiltIndex {
  index: ImageIndex;
  bytes: Buffer;
  descriptor: Descriptor;
}

function checkArtifactType(artifactType: string | undefined): void {
  if (artifactType && !isValidMediaType(artifactType)) throw new LadingError('usage', `invalid --artifact-type "${artifactType}": expected a media type such as application/vnd.example+type`);
}

/** Entries for `sources`, in the order given; a manifest named twice (by tag and digest, or twice) is listed once. */
async function entriesFor(source: ManifestSource, sources: string[], current: Descriptor[], options: { maxConfigSize?: number; onEvent?: (e: IndexEvent) => void }): Promise<Descriptor[]> {
  let entries = current;
  for (const s of sources) {
    options.onEvent?.({ kind: 'fetching', source: s });
    const e = await describeEntry(source, s, options);
    options.onEvent?.({ kind: 'fetched', source: s, descriptor: e.descriptor });
    const next = appendEntries(entries, [e.descriptor]);
    options.onEvent?.({ kind: next.skipped.length ? 'skipped' : 'added', source: s, descriptor: e.descriptor });
    entries = next.entries;
  }
  return entries;
}

/** `oras manifest index create`: an index of the manifests `sources` name (tags or digests in `source`), in that order. */
export async function createIndex(source: ManifestSource, sources: string[], options: CreateIndexOptions = {}): Promise<BuiltIndex> {
  checkArtifactType(options.artifactType);
  const entries = await entriesFor(source, sources, [], options);
  const index = buildIndex(entries, { artifactType: options.artifactType, annotations: options.annotations });
  return { index, ...encodeIndex(index) };
}

export interface UpdateIndexOptions {
  /** Manifests to add (tags or digests), after the entries kept. */
  add?: string[];
  /** Digests of entries to remove (each must be in the index). */
  remove?: string[];
  /** Indexes whose entries are appended, after the added manifests. */
  merge?: string[];
  /** Annotations set on the index (a key given replaces the old value). */
  annotations?: Record<string, string>;
  /** A new artifact type; '' removes it; undefined keeps it. */
  artifactType?: string;
  maxConfigSize?: number;
  onEvent?: (e: IndexEvent) => void;
}

/**
 * `oras manifest index update`: reads the index `reference` names, removes entries (by digest), adds manifests,
 * then appends the entries of other indexes, in ORAS's order. The index keeps its media type, subject, other
 * annotations and artifact type; entries are re-encoded in Go's key order (as ORAS re-encodes them). A manifest
 * already listed is not added again, and a merged entry already listed is skipped.
 */
export async function updateIndex(source: ManifestSource, reference: string, options: UpdateIndexOptions = {}): Promise<BuiltIndex & { previous: Descriptor }> {
  checkArtifactType(options.artifactType);
  for (const d of options.remove ?? []) {
    if (!isDigest(d)) throw new LadingError('usage', `--remove "${d}" is not a digest: --remove takes the digest of an entry (sha256:…)`);
  }
  options.onEvent?.({ kind: 'fetching', source: reference });
  const current = await readIndex(source, reference, 'update');
  options.onEvent?.({ kind: 'fetched', source: reference, descriptor: current.descriptor });
  const body = current.body;
  let entries = removeEntries(current.entries, options.remove ?? [], `the index ${reference}`);
  for (const d of options.remove ?? []) options.onEvent?.({ kind: 'removed', descriptor: current.entries.find((e) => e.digest === d)! });
  entries = await entriesFor(source, options.add ?? [], entries, options);
  for (const m of options.merge ?? []) {
    options.onEvent?.({ kind: 'fetching', source: m });
    const other = await readIndex(source, m, 'merge');
    options.onEvent?.({ kind: 'fetched', source: m, descriptor: other.descriptor });
    const next = appendEntries(entries, other.entries);
    options.onEvent?.({ kind: 'merged', source: m, descriptor: other.descriptor, added: next.entries.length - entries.length });
    entries = next.entries;
  }
  const artifactType = options.artifactType !== undefined ? options.artifactType : typeof body.artifactType === 'string' ? body.artifactType : undefined;
  const oldAnnotations = body.annotations && typeof body.annotations === 'object' && !Array.isArray(body.annotations) ? (body.annotations as Record<string, string>) : {};
  const index = buildIndex(entries, {
    mediaType: current.descriptor.mediaType,
    artifactType,
    subject: body.subject && typeof (body.subject as Descriptor).digest === 'string' ? (body.subject as Descriptor) : undefined,
    annotations: { ...oldAnnotations, ...(options.annotations ?? {}) },
  });
  return { index, ...encodeIndex(index), previous: current.descriptor };
}

/** Reads an index (for update or merge); anything else is refused (usage: the reference names the wrong kind of manifest). */
async function readIndex(source: ManifestSource, reference: string, what: 'update' | 'merge'): Promise<{ descriptor: Descriptor; body: Record<string, unknown>; entries: Descriptor[] }> {
  let fetched;
  try {
    fetched = await source.fetchManifest(reference, MANIFEST_ACCEPT);
  } catch (err) {
    if (err instanceof LadingError && err.kind === 'not-found' && !err.message.includes(reference)) err.message = `could not find the index ${reference}: ${err.message}`;
    throw err;
  }
  if (!isIndexType(fetched.descriptor.mediaType)) {
    throw new LadingError('usage', `${reference} is not an index (${fetched.descriptor.mediaType}): ${what === 'update' ? 'only an image index can be updated' : '--merge takes indexes; add a manifest with --add'}`);
  }
  const body = parseManifestJson(fetched.bytes, `index ${reference}`);
  if (!Array.isArray(body.manifests)) throw new LadingError('registry', `index ${reference} has no "manifests" list`);
  const entries = (body.manifests as unknown[]).filter((d): d is Descriptor => !!d && typeof d === 'object' && typeof (d as Descriptor).digest === 'string');
  return { descriptor: fetched.descriptor, body, entries };
}
