import type { Descriptor, ImageIndex } from './descriptor.js';
import { parseDigest } from './digest.js';
import { MediaType } from './mediatypes.js';

/** The referrers tag schema tag for a subject (distribution-spec v1.1: `<alg>-<ref>`, at most 128 characters). */
export function referrersTag(subjectDigest: string): string {
  const { algorithm, hex } = parseDigest(subjectDigest);
  return `${algorithm}-${hex}`.slice(0, 128);
}

/** Whether a tag looks like a referrers tag schema tag (or a cosign-style `sha256-<hex>.sig`). */
export function isDigestTag(tag: string): boolean {
  return /^[a-z0-9]+-[a-f0-9]{32,}(\.[A-Za-z0-9_.-]+)?$/.test(tag);
}

/**
 * The descriptor of a referrer as listed in a referrers index: media type, digest, size, the
 * manifest's artifactType (else its config media type) and its annotations (image-spec 1.1).
 */
export function referrerDescriptor(desc: Descriptor, manifest: Record<string, unknown>): Descriptor {
  const out: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
  const config = manifest.config as { mediaType?: string } | undefined;
  const artifactType = typeof manifest.artifactType === 'string' ? manifest.artifactType : config?.mediaType;
  if (artifactType) out.artifactType = artifactType;
  if (manifest.annotations && typeof manifest.annotations === 'object' && Object.keys(manifest.annotations).length > 0) {
    out.annotations = manifest.annotations as Record<string, string>;
  }
  return out;
}

/** The subject of a manifest, if it has one. */
export function subjectOf(manifest: Record<string, unknown>): Descriptor | undefined {
  const s = manifest.subject as Descriptor | undefined;
  return s && typeof s.digest === 'string' ? s : undefined;
}

/** A referrers index listing `referrers` (the shape both the API and the tag schema use). */
export function referrersIndex(referrers: Descriptor[]): ImageIndex {
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: referrers };
}
