import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { Content, Storage, Target } from '../content/interfaces.js';
import { Annotation, checkPushPath, fileMode, packDirectory, titleOf, type PackedDirectory } from '../content/file/index.js';
import { LadingError } from '../errors/errors.js';
import type { Descriptor, ImageManifest } from '../oci/descriptor.js';
import { digestOf, newHasher } from '../oci/digest.js';
import { MediaType } from '../oci/mediatypes.js';
import { fileContent } from '../registry/upload.js';

export const DEFAULT_ARTIFACT_TYPE = 'application/vnd.unknown.artifact.v1';
export const DEFAULT_CONFIG_TYPE = 'application/vnd.unknown.config.v1+json';
/** The empty JSON descriptor of image-spec 1.1 (`{}`), with its data inline, as ORAS writes it. */
export const EMPTY_CONFIG: Descriptor = { mediaType: MediaType.ociEmpty, digest: digestOf('{}'), size: 2, data: 'e30=' };

export interface PushFile {
  path: string;
  mediaType?: string;
}

/** Annotations as in ORAS's --annotation-file: `$manifest`, `$config`, and file titles as keys. */
export interface PushAnnotations {
  manifest?: Record<string, string>;
  config?: Record<string, string>;
  files?: Record<string, Record<string, string>>;
}

export interface BlobEvent {
  status: 'Exists' | 'Uploading' | 'Uploaded' | 'Skipped';
  descriptor: Descriptor;
  title: string;
}

export interface PushOptions {
  files: PushFile[];
  artifactType?: string;
  config?: PushFile;
  annotations?: PushAnnotations;
  imageSpec?: 'v1.1' | 'v1.0';
  subject?: Descriptor;
  /** Same inputs → same digest: no wall-clock `created`, tar headers normalised, modes normalised. */
  reproducible?: boolean;
  /** SOURCE_DATE_EPOCH (seconds): clamps tar mtimes and sets `created`; implies reproducible. */
  epoch?: number;
  concurrency?: number;
  disablePathValidation?: boolean;
  /** The reference named a digest (`REPO@sha256:…`): the manifest built must have it. */
  expectedDigest?: string;
  cwd?: string;
  /** Time source for `created` (tests). */
  now?: () => Date;
  onBlob?: (event: BlobEvent) => void;
}

export interface PushResult {
  descriptor: Descriptor;
  manifest: Buffer;
  layers: Descriptor[];
}

interface Prepared {
  desc: Descriptor;
  title: string;
  content: Content;
  packed?: PackedDirectory;
}

/**
 * Annotations with their keys sorted, as ORAS writes them (Go's encoding/json sorts map keys): the manifest bytes
 * then depend neither on the order of `-a` flags and `--annotation-file` keys nor on how this code adds them.
 */
export function sortedAnnotations(annotations: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!annotations) return undefined;
  const keys = Object.keys(annotations).sort();
  if (keys.length === 0) return undefined;
  return Object.fromEntries(keys.map((k) => [k, annotations[k]]));
}

/** A descriptor with its keys in the order of Go's ocispec.Descriptor (mediaType, digest, size, urls, annotations, data, platform, artifactType). */
export function orderedDescriptor(d: Descriptor): Descriptor {
  const out = { mediaType: d.mediaType, digest: d.digest, size: d.size } as Descriptor;
  if (d.urls) out.urls = d.urls;
  const annotations = sortedAnnotations(d.annotations);
  if (annotations) out.annotations = annotations;
  if (d.data !== undefined) out.data = d.data;
  if (d.platform) out.platform = d.platform;
  if (d.artifactType) out.artifactType = d.artifactType;
  return out;
}

/** One read of a file: its sha256 and size (the upload then streams it again from disk). */
async function hashFile(path: string): Promise<{ digest: string; size: number }> {
  const h = newHasher();
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${h.digest('hex')}`, size };
}

async function prepareFile(file: PushFile, options: PushOptions, reproducible: boolean): Promise<Prepared> {
  const cwd = options.cwd ?? process.cwd();
  if (!options.disablePathValidation) checkPushPath(file.path, cwd);
  const abs = isAbsolute(file.path) ? file.path : resolvePath(cwd, file.path);
  const title = titleOf(file.path);
  let info;
  try {
    info = await stat(abs);
  } catch (err) {
    throw new LadingError('not-found', `cannot push "${file.path}": ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (err as Error).message}`);
  }
  // --annotation-file keys: the title, or the path exactly as given (ORAS looks files up by the argument).
  const extra = options.annotations?.files?.[title] ?? options.annotations?.files?.[file.path] ?? {};
  if (info.isDirectory()) {
    const packed = await packDirectory(abs, title, { reproducible, epoch: options.epoch });
    const desc: Descriptor = {
      mediaType: file.mediaType ?? MediaType.ociLayerGzip,
      digest: packed.digest,
      size: packed.size,
      // As in ORAS, the annotation file has the last word (it may rename the title).
      annotations: { [Annotation.title]: title, [Annotation.contentDigest]: packed.tarDigest, [Annotation.unpack]: 'true', ...extra },
    };
    return { desc, title: desc.annotations![Annotation.title], content: fileContent(packed.file), packed };
  }
  if (!info.isFile()) throw new LadingError('usage', `cannot push "${file.path}": not a regular file or folder`);
  const { digest, size } = await hashFile(abs);
  // Modes survive a round trip; under --reproducible they are normalised as git does (0755 or 0644).
  const perm = info.mode & 0o777;
  const mode = reproducible ? (perm & 0o111 ? 0o755 : 0o644) : perm;
  const annotations: Record<string, string> = { [Annotation.title]: title };
  if (mode !== 0o644) annotations[Annotation.fileMode] = fileMode(mode);
  Object.assign(annotations, extra);
  return {
    desc: { mediaType: file.mediaType ?? MediaType.ociLayerTar, digest, size, annotations },
    title: annotations[Annotation.title],
    // Seekable: a chunked upload reads each chunk from its offset, and resumes there.
    content: fileContent(abs),
  };
}

/** Runs `fn` over items with at most `limit` in flight; the first failure stops new work. */
export async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  // Every worker is waited for, even after one failed: a command must not return (and its caller clean up or
  // exit) while other items are still writing files or temporary folders. The first error is the one reported.
  const results = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
}

/** Pushes a blob unless the target has it; reports what happened. */
export async function pushIfMissing(target: Storage, p: { desc: Descriptor; title: string; content: Content }, onBlob?: (e: BlobEvent) => void): Promise<void> {
  if (await target.exists(p.desc)) {
    onBlob?.({ status: 'Exists', descriptor: p.desc, title: p.title });
    return;
  }
  onBlob?.({ status: 'Uploading', descriptor: p.desc, title: p.title });
  await target.push(p.desc, p.content);
  onBlob?.({ status: 'Uploaded', descriptor: p.desc, title: p.title });
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Builds the manifest (image-spec 1.1 artifact, or 1.0 with the artifact type as config type). */
export function buildManifest(layers: Descriptor[], config: Descriptor, options: PushOptions, created: string | undefined): ImageManifest {
  const given = { ...(options.annotations?.manifest ?? {}) };
  if (created && given['org.opencontainers.image.created'] === undefined) given['org.opencontainers.image.created'] = created;
  const annotations = sortedAnnotations(given);
  config = orderedDescriptor(config);
  layers = layers.map(orderedDescriptor);
  const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers };
  if ((options.imageSpec ?? 'v1.1') === 'v1.1') {
    const artifactType = options.artifactType ?? (config.mediaType === MediaType.ociEmpty ? DEFAULT_ARTIFACT_TYPE : undefined);
    // Key order as ORAS writes it: schemaVersion, mediaType, artifactType, config, layers, subject, annotations.
    const ordered = { schemaVersion: 2, mediaType: MediaType.ociManifest } as ImageManifest;
    if (artifactType) ordered.artifactType = artifactType;
    Object.assign(ordered, { config, layers });
    if (options.subject) ordered.subject = orderedDescriptor(options.subject);
    if (annotations) ordered.annotations = annotations;
    return ordered;
  }
  if (annotations) manifest.annotations = annotations;
  return manifest;
}

/**
 * Pushes files and folders as an OCI artifact: blobs first (skipped when present), then the config,
 * then the manifest under the first tag (or by digest), then the other tags.
 * With no files, an image-spec 1.1 manifest gets the empty descriptor as its one layer, as oras-go packs it.
 */
export async function pushArtifact(target: Target, tags: string[], options: PushOptions): Promise<PushResult> {
  const imageSpec = options.imageSpec ?? 'v1.1';
  if (imageSpec === 'v1.0' && options.subject) throw new LadingError('usage', 'a subject (attach) needs --image-spec v1.1');
  const reproducible = Boolean(options.reproducible || options.epoch !== undefined);
  const prepared: Prepared[] = [];
  try {
    const titles = new Set<string>();
    for (const f of options.files) {
      const p = await prepareFile(f, options, reproducible);
      if (titles.has(p.title)) throw new LadingError('usage', `"${p.title}" is given twice`);
      titles.add(p.title);
      prepared.push(p);
    }
    let config: Prepared;
    if (options.config) {
      const c = await prepareFile({ path: options.config.path, mediaType: options.config.mediaType ?? (imageSpec === 'v1.0' ? options.artifactType : undefined) ?? DEFAULT_CONFIG_TYPE }, { ...options, disablePathValidation: true, annotations: undefined }, reproducible);
      if (c.packed) {
        await c.packed.cleanup();
        throw new LadingError('usage', `--config "${options.config.path}" is a folder: the config must be a file`);
      }
      config = { ...c, title: '(config)', desc: { mediaType: c.desc.mediaType, digest: c.desc.digest, size: c.desc.size } };
    } else if (imageSpec === 'v1.0') {
      const bytes = Buffer.from('{}');
      config = { desc: { mediaType: options.artifactType ?? DEFAULT_CONFIG_TYPE, digest: digestOf(bytes), size: 2 }, title: '(config)', content: bytes };
    } else {
      config = { desc: { ...EMPTY_CONFIG }, title: '(config)', content: Buffer.from('{}') };
    }
    if (options.annotations?.config) config.desc.annotations = { ...options.annotations.config };
    const layers = prepared.map((p) => p.desc);
    if (layers.length === 0 && imageSpec === 'v1.1') layers.push({ ...EMPTY_CONFIG });

    // Each distinct blob once: a file given as config and as a layer, or the empty blob as config and layer.
    const blobs = new Map<string, Prepared>();
    for (const p of [...prepared, config]) if (!blobs.has(p.desc.digest)) blobs.set(p.desc.digest, p);
    if (layers.some((l) => l.digest === EMPTY_CONFIG.digest) && !blobs.has(EMPTY_CONFIG.digest)) {
      blobs.set(EMPTY_CONFIG.digest, { desc: { ...EMPTY_CONFIG }, title: '(empty)', content: Buffer.from('{}') });
    }
    await forEachLimit([...blobs.values()], options.concurrency ?? 5, (p) => pushIfMissing(target, p, options.onBlob));

    const created = options.epoch !== undefined ? rfc3339(new Date(options.epoch * 1000)) : reproducible ? undefined : rfc3339((options.now ?? (() => new Date()))());
    const manifest = buildManifest(layers, config.desc, options, created);
    const bytes = Buffer.from(JSON.stringify(manifest));
    const desc: Descriptor = { mediaType: MediaType.ociManifest, digest: digestOf(bytes), size: bytes.length };
    if (manifest.artifactType) desc.artifactType = manifest.artifactType;
    if (options.expectedDigest !== undefined && options.expectedDigest !== desc.digest) {
      throw new LadingError('digest-mismatch', `the manifest built is ${desc.digest}, not ${options.expectedDigest} as the reference says; nothing was pushed under that digest`);
    }
    await pushManifest(target, desc, bytes, tags);
    return { descriptor: desc, manifest: bytes, layers: manifest.layers };
  } finally {
    await Promise.all(prepared.map((p) => p.packed?.cleanup()));
  }
}

/** Pushes a manifest under its first tag (in one request where the target can) and tags the rest. */
export async function pushManifest(target: Target, desc: Descriptor, bytes: Buffer, tags: string[]): Promise<void> {
  const [first, ...rest] = tags;
  const withRef = target as Target & { pushReference?: (d: Descriptor, c: Content, ref: string) => Promise<void> };
  if (first && withRef.pushReference) await withRef.pushReference(desc, bytes, first);
  else {
    await target.push(desc, bytes);
    if (first) await target.tag(desc, first);
  }
  await Promise.all(rest.map((t) => target.tag(desc, t)));
}

