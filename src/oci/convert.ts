/**
 * Docker schema 2 ↔ OCI image-spec conversion of manifests and indexes (CASES B33): pure functions from
 * manifest JSON to the other family's canonical bytes. No I/O: blobs keep their bytes, digests and sizes; only
 * the media types in the manifests change, so the caller copies blobs as they are and pushes the new manifests.
 *
 * Output bytes are compact JSON with keys in the order of each family's canonical Go writer, so a conversion is
 * reproducible and a round trip docker → oci → docker gives back Docker's own bytes:
 * - Docker (distribution `schema2.Manifest`, `manifestlist.ManifestList`, `distribution.Descriptor`):
 *   schemaVersion, mediaType, config, layers | manifests; descriptors mediaType, size, digest, urls, annotations,
 *   platform; platform architecture, os, os.version, os.features, variant, features.
 * - OCI (image-spec `specs-go/v1`): schemaVersion, mediaType, artifactType, config, layers | manifests, subject,
 *   annotations; descriptors mediaType, digest, size, urls, annotations, data, platform, artifactType; platform
 *   architecture, os, os.version, os.features, variant.
 * Annotation keys are sorted (Go's encoding/json sorts map keys).
 */
import { LadingError } from '../errors/errors.js';
import type { Descriptor, Platform } from './descriptor.js';
import { isIndexType, isSchema1Type, MediaType } from './mediatypes.js';

export type ImageFormat = 'oci' | 'docker';

/** Layer types outside B33's table that both families define (distribution `schema2.MediaTypeUncompressedLayer`, containers/image). */
export const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';
export const DOCKER_FOREIGN_LAYER_TAR = 'application/vnd.docker.image.rootfs.foreign.diff.tar';
export const OCI_NONDISTRIBUTABLE_LAYER_TAR = 'application/vnd.oci.image.layer.nondistributable.v1.tar';

export type Role = 'manifest' | 'config' | 'layer';

/** [Docker, OCI] pairs per role. */
const PAIRS: Record<Role, [docker: string, oci: string][]> = {
  manifest: [
    [MediaType.dockerManifest, MediaType.ociManifest],
    [MediaType.dockerManifestList, MediaType.ociIndex],
  ],
  config: [[MediaType.dockerConfig, MediaType.ociConfig]],
  layer: [
    [MediaType.dockerLayerGzip, MediaType.ociLayerGzip],
    [MediaType.dockerForeignLayerGzip, MediaType.ociLayerNondistributableGzip],
    [DOCKER_LAYER_TAR, MediaType.ociLayerTar],
    [DOCKER_FOREIGN_LAYER_TAR, OCI_NONDISTRIBUTABLE_LAYER_TAR],
  ],
};

const FORMAT_NAME: Record<ImageFormat, string> = { oci: 'OCI', docker: 'Docker schema 2' };

/** The family a manifest media type belongs to (undefined for anything else). */
export function manifestFormat(mediaType: string | undefined): ImageFormat | undefined {
  if (mediaType === MediaType.dockerManifest || mediaType === MediaType.dockerManifestList) return 'docker';
  if (mediaType === MediaType.ociManifest || mediaType === MediaType.ociIndex || mediaType === MediaType.ociArtifactManifest) return 'oci';
  return undefined;
}

export function schema1Error(mediaType?: string): LadingError {
  return new LadingError(
    'unsupported',
    `schema 1 cannot be converted: ${mediaType ? `${mediaType} is ` : ''}a Docker schema 1 manifest, which has no config blob and layers in another order; re-push the image with a current client (e.g. skopeo copy --format v2s2), then convert that`,
  );
}

/**
 * The media type `mediaType` becomes in `to`, in the given role: mapped per B33, kept when already right, or an
 * 'unsupported' error when the target family has no such type (Docker has no zstd layers, no empty config, …).
 */
export function convertMediaType(role: Role, mediaType: string, to: ImageFormat): string {
  const pairs = PAIRS[role];
  if (to === 'oci') {
    const pair = pairs.find(([docker]) => docker === mediaType);
    if (pair) return pair[1];
    // Any other Docker type (a plugin config, a schema 1 manifest, …) has no OCI counterpart; OCI and
    // other types (an artifact's layers) are already valid in an OCI manifest.
    if (mediaType.startsWith('application/vnd.docker.')) throw unsupported(role, mediaType, to);
    return mediaType;
  }
  const pair = pairs.find(([, oci]) => oci === mediaType);
  if (pair) return pair[0];
  if (pairs.some(([docker]) => docker === mediaType)) return mediaType;
  throw unsupported(role, mediaType, to);
}

function unsupported(role: Role, mediaType: string, to: ImageFormat): LadingError {
  let why = '';
  if (mediaType === MediaType.ociLayerZstd || mediaType.endsWith('+zstd')) why = ' (Docker schema 2 has no zstd layers)';
  else if (mediaType === MediaType.ociEmpty) why = ' (the empty config of an artifact; Docker schema 2 holds only container images)';
  else if (role === 'config' && to === 'docker') why = ' (not a container image config: an artifact cannot be a Docker image)';
  return new LadingError('unsupported', `unsupported: ${role} media type ${mediaType} has no ${FORMAT_NAME[to]} equivalent${why}`);
}

/** A conversion's result: canonical bytes (or the source bytes when nothing had to change) and what was lost. */
export interface ConvertedManifest {
  mediaType: string;
  bytes: Buffer;
  /** False when the source was already entirely in the target format: `bytes` are then the source bytes. */
  changed: boolean;
  /** Fields the target format has no place for, dropped (for warnings). */
  notes: string[];
}

export interface ConvertInput {
  /** The manifest's media type when the body has none (the Content-Type or descriptor it came with). */
  mediaType?: string;
  /** The source bytes, returned as they are when nothing needs to change. */
  bytes?: Buffer;
}

/** The media type of a manifest body (its `mediaType`, else the hint, else its shape); schema 1 fails. */
export function sourceMediaType(body: Record<string, unknown>, hint?: string): string {
  const declared = typeof body.mediaType === 'string' ? body.mediaType : undefined;
  if (body.schemaVersion === 1 || isSchema1Type(declared) || isSchema1Type(hint)) throw schema1Error(declared ?? (isSchema1Type(hint) ? hint : undefined));
  if (body.schemaVersion !== 2) throw new LadingError('unsupported', `unsupported: manifest schemaVersion ${JSON.stringify(body.schemaVersion)} (expected 2)`);
  if (declared) return declared;
  if (hint && manifestFormat(hint)) return hint;
  if (Array.isArray(body.manifests)) return MediaType.ociIndex;
  if (body.config && Array.isArray(body.layers)) return MediaType.ociManifest;
  throw new LadingError('usage', 'cannot tell the manifest media type: no mediaType field, and the content is neither an index nor an image manifest');
}

export function isIndexManifest(body: Record<string, unknown>, mediaType: string): boolean {
  return isIndexType(mediaType) || Array.isArray(body.manifests);
}

/** Converts a Docker schema 2 image manifest to an OCI image manifest, or back. */
export function convertImageManifest(body: Record<string, unknown>, to: ImageFormat, input: ConvertInput = {}): ConvertedManifest {
  const from = sourceMediaType(body, input.mediaType);
  const fromFormat = manifestFormat(from);
  if (from === MediaType.ociArtifactManifest) {
    if (to === 'oci') return { mediaType: from, bytes: input.bytes ?? canonical(body), changed: false, notes: [] };
    throw new LadingError('unsupported', `unsupported: an OCI artifact manifest (${from}) has no ${FORMAT_NAME[to]} equivalent`);
  }
  if (!fromFormat || isIndexManifest(body, from)) throw new LadingError('unsupported', `unsupported: ${from} is not an image manifest`);
  const config = descriptorOf(body.config, 'config');
  if (!Array.isArray(body.layers)) throw new LadingError('usage', 'manifest has no "layers" list');
  const layers = body.layers.map((l, i) => descriptorOf(l, `layers[${i}]`));
  const notes: string[] = [];
  const mediaType = convertMediaType('manifest', from, to);
  const newConfig = { ...config, mediaType: convertMediaType('config', config.mediaType, to) };
  const newLayers = layers.map((l) => ({ ...l, mediaType: convertMediaType('layer', l.mediaType, to) }));
  const changed = fromFormat !== to || newConfig.mediaType !== config.mediaType || newLayers.some((l, i) => l.mediaType !== layers[i].mediaType);
  if (!changed) return { mediaType: from, bytes: input.bytes ?? canonical(body), changed, notes };

  let out: Record<string, unknown>;
  if (to === 'docker') {
    if (typeof body.artifactType === 'string') throw new LadingError('unsupported', `unsupported: an artifact (artifactType ${body.artifactType}) cannot be a Docker schema 2 image manifest`);
    if (body.subject) throw new LadingError('unsupported', 'unsupported: a manifest with a subject (a referrer such as a signature or SBOM) cannot be a Docker schema 2 image manifest');
    dropped(notes, body, ['schemaVersion', 'mediaType', 'config', 'layers'], 'the manifest');
    out = {
      schemaVersion: 2,
      mediaType,
      config: dockerDescriptor(newConfig, notes, 'config'),
      layers: newLayers.map((l, i) => dockerDescriptor(l, notes, `layers[${i}]`)),
    };
  } else {
    dropped(notes, body, ['schemaVersion', 'mediaType', 'artifactType', 'config', 'layers', 'subject', 'annotations'], 'the manifest');
    out = { schemaVersion: 2, mediaType };
    if (typeof body.artifactType === 'string') out.artifactType = body.artifactType;
    out.config = ociDescriptor(newConfig, notes, 'config');
    out.layers = newLayers.map((l, i) => ociDescriptor(l, notes, `layers[${i}]`));
    if (body.subject) out.subject = ociDescriptor(descriptorOf(body.subject, 'subject'), notes, 'subject');
    const annotations = sortedAnnotations(body.annotations);
    if (annotations) out.annotations = annotations;
  }
  return { mediaType, bytes: canonical(out), changed, notes };
}

/**
 * Converts a Docker manifest list to an OCI index, or back. `child` gives the converted descriptor of each
 * child manifest (its new media type, digest and size); the platform and annotations of the entry are kept.
 * Children it has no answer for are left as they are (and must then already suit the target format).
 */
export function convertIndex(body: Record<string, unknown>, to: ImageFormat, child: (d: Descriptor) => Descriptor | undefined, input: ConvertInput = {}): ConvertedManifest {
  const from = sourceMediaType(body, input.mediaType);
  const fromFormat = manifestFormat(from);
  if (!fromFormat || !isIndexManifest(body, from)) throw new LadingError('unsupported', `unsupported: ${from} is not an index or manifest list`);
  if (!Array.isArray(body.manifests)) throw new LadingError('usage', 'index has no "manifests" list');
  const entries = body.manifests.map((m, i) => descriptorOf(m, `manifests[${i}]`));
  const notes: string[] = [];
  const mediaType = convertMediaType('manifest', from, to);
  const newEntries = entries.map((e) => {
    const c = child(e);
    return c ? { ...e, mediaType: c.mediaType, digest: c.digest, size: c.size } : e;
  });
  const same = (a: Descriptor, b: Descriptor) => a.mediaType === b.mediaType && a.digest === b.digest && a.size === b.size;
  if (fromFormat === to && newEntries.every((e, i) => same(e, entries[i]))) return { mediaType: from, bytes: input.bytes ?? canonical(body), changed: false, notes };

  let out: Record<string, unknown>;
  if (to === 'docker') {
    if (typeof body.artifactType === 'string') throw new LadingError('unsupported', `unsupported: an index with artifactType ${body.artifactType} cannot be a Docker manifest list`);
    if (body.subject) throw new LadingError('unsupported', 'unsupported: an index with a subject (a referrer) cannot be a Docker manifest list');
    dropped(notes, body, ['schemaVersion', 'mediaType', 'manifests'], 'the index');
    out = {
      schemaVersion: 2,
      mediaType,
      manifests: newEntries.map((e, i) => {
        const where = `manifests[${i}]${e.platform ? ` (${platformName(e.platform)})` : ''}`;
        if (e.mediaType !== MediaType.dockerManifest) {
          throw new LadingError('unsupported', `unsupported: ${where} is ${e.mediaType}; a Docker manifest list holds only Docker image manifests`);
        }
        if (!e.platform) throw new LadingError('unsupported', `unsupported: ${where} (${e.digest}) has no platform, which every entry of a Docker manifest list needs`);
        return dockerDescriptor(e, notes, where);
      }),
    };
  } else {
    dropped(notes, body, ['schemaVersion', 'mediaType', 'artifactType', 'manifests', 'subject', 'annotations'], 'the index');
    out = { schemaVersion: 2, mediaType };
    if (typeof body.artifactType === 'string') out.artifactType = body.artifactType;
    out.manifests = newEntries.map((e, i) => {
      if (e.mediaType.startsWith('application/vnd.docker.')) throw unsupported('manifest', e.mediaType, to);
      return ociDescriptor(e, notes, `manifests[${i}]`);
    });
    if (body.subject) out.subject = ociDescriptor(descriptorOf(body.subject, 'subject'), notes, 'subject');
    const annotations = sortedAnnotations(body.annotations);
    if (annotations) out.annotations = annotations;
  }
  return { mediaType, bytes: canonical(out), changed: true, notes };
}

/** Compact JSON, keys in the order the objects were built. */
function canonical(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function descriptorOf(value: unknown, where: string): Descriptor {
  const d = value as Descriptor;
  if (!d || typeof d !== 'object' || Array.isArray(d)) throw new LadingError('usage', `manifest ${where} is not a descriptor`);
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw new LadingError('usage', `manifest ${where} has no mediaType`);
  if (typeof d.digest !== 'string' || !/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(d.digest)) throw new LadingError('usage', `manifest ${where} has no valid digest`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw new LadingError('usage', `manifest ${where} has no valid size`);
  return d;
}

function sortedAnnotations(value: unknown): Record<string, string> | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const a = value as Record<string, string>;
  const keys = Object.keys(a).sort();
  return keys.length ? Object.fromEntries(keys.map((k) => [k, a[k]])) : undefined;
}

function dropped(notes: string[], obj: object, keep: string[], where: string): void {
  for (const k of Object.keys(obj)) {
    if (keep.includes(k)) continue;
    const v = (obj as Record<string, unknown>)[k];
    const what = k === 'annotations' && v && typeof v === 'object' ? `annotations (${Object.keys(v).sort().join(', ')})` : `"${k}"`;
    notes.push(`dropped ${what} of ${where}: the target format has no place for ${k === 'annotations' ? 'them' : 'it'}`);
  }
}

const DOCKER_DESCRIPTOR_KEYS = ['mediaType', 'size', 'digest', 'urls', 'annotations', 'platform'];
const OCI_DESCRIPTOR_KEYS = ['mediaType', 'digest', 'size', 'urls', 'annotations', 'data', 'platform', 'artifactType'];

function dockerDescriptor(d: Descriptor, notes: string[], where: string): Descriptor {
  // `data` is only an inline copy of the blob: dropping it loses nothing, so it is not worth a warning.
  dropped(notes, d, [...DOCKER_DESCRIPTOR_KEYS, 'data'], where);
  const out = { mediaType: d.mediaType, size: d.size, digest: d.digest } as Descriptor;
  if (Array.isArray(d.urls)) out.urls = d.urls;
  const annotations = sortedAnnotations(d.annotations);
  if (annotations) out.annotations = annotations;
  if (d.platform) out.platform = platform(d.platform, 'docker', notes, where);
  return out;
}

function ociDescriptor(d: Descriptor, notes: string[], where: string): Descriptor {
  dropped(notes, d, OCI_DESCRIPTOR_KEYS, where);
  const out = { mediaType: d.mediaType, digest: d.digest, size: d.size } as Descriptor;
  if (Array.isArray(d.urls)) out.urls = d.urls;
  const annotations = sortedAnnotations(d.annotations);
  if (annotations) out.annotations = annotations;
  if (typeof d.data === 'string') out.data = d.data;
  if (d.platform) out.platform = platform(d.platform, 'oci', notes, where);
  if (typeof d.artifactType === 'string') out.artifactType = d.artifactType;
  return out;
}

/** A platform with the target's key order; Docker's `features` (no OCI field) is dropped going to OCI. */
function platform(p: Platform, to: ImageFormat, notes: string[], where: string): Platform {
  const src = p as Platform & { features?: string[] };
  const keys = ['architecture', 'os', 'os.version', 'os.features', 'variant', ...(to === 'docker' ? ['features'] : [])];
  dropped(notes, src, keys, `the platform of ${where}`);
  const out: Record<string, unknown> = {};
  for (const k of keys) if ((src as unknown as Record<string, unknown>)[k] !== undefined) out[k] = (src as unknown as Record<string, unknown>)[k];
  return out as unknown as Platform;
}

export function platformName(p: Platform | undefined): string {
  if (!p) return 'unknown';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}
