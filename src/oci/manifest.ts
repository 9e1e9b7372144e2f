import { LadingError } from '../errors/errors.js';
import type { Descriptor, ImageIndex, ImageManifest, Platform } from './descriptor.js';
import { isIndexType, isManifestType, isSchema1Type, MediaType } from './mediatypes.js';

/** Parses manifest bytes as JSON, with a clear error for anything else. */
export function parseManifestJson(bytes: Buffer, what = 'manifest', kind: 'registry' | 'usage' = 'registry'): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    // Only the position: JSON.parse quotes the input, which may be anything (even a password piped by mistake).
    const at = /position (\d+)/.exec((err as Error).message);
    throw new LadingError(kind, `${what} is not valid JSON${at ? ` (at byte ${at[1]})` : ''}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new LadingError(kind, `${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * The media type of a manifest (CASES B20): the body's `mediaType` when set, else a specific
 * Content-Type, else worked out from the structure (`manifests` → index, `config`+`layers` → image).
 * Schema 1 fails clearly.
 */
export function detectManifestMediaType(body: Record<string, unknown>, contentType?: string): string {
  const ct = contentType?.split(';')[0].trim();
  const declared = typeof body.mediaType === 'string' ? body.mediaType : undefined;
  if (isSchema1Type(declared) || isSchema1Type(ct) || body.schemaVersion === 1) {
    throw new LadingError('unsupported', 'Docker schema 1 manifests are not supported (schema 1 cannot be read or converted; re-push the image with a current client)');
  }
  if (declared) return declared;
  if (ct && isManifestType(ct)) return ct;
  if (Array.isArray(body.manifests)) return MediaType.ociIndex;
  if (body.config && Array.isArray(body.layers)) return MediaType.ociManifest;
  if (ct && ct !== 'application/json' && ct !== 'application/octet-stream' && ct !== 'text/plain') return ct;
  throw new LadingError('usage', 'cannot tell the manifest media type: no mediaType field, and the content is neither an index nor an image manifest');
}

export function asIndex(body: Record<string, unknown>): ImageIndex {
  if (!Array.isArray(body.manifests)) throw new LadingError('usage', 'index has no "manifests" list');
  return body as unknown as ImageIndex;
}

export function asImageManifest(body: Record<string, unknown>): ImageManifest {
  // CASES B19: an index never has a config to read; the caller must pick a platform first.
  if (Array.isArray(body.manifests) || isIndexType(typeof body.mediaType === 'string' ? body.mediaType : undefined)) {
    throw new LadingError('usage', 'reference is an index; choose --platform (e.g. linux/amd64)');
  }
  if (!body.config || typeof body.config !== 'object') throw new LadingError('usage', 'manifest has no "config" descriptor');
  if (!Array.isArray(body.layers)) throw new LadingError('usage', 'manifest has no "layers" list');
  return body as unknown as ImageManifest;
}

/** os/arch[/variant][:os.version] → Platform (ORAS --platform syntax). */
export function parsePlatform(s: string): Platform {
  const [main, osVersion] = s.split(':', 2);
  const parts = main.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new LadingError('usage', `invalid platform "${s}": expected os/arch[/variant][:os_version]`);
  }
  const p: Platform = { os: parts[0], architecture: parts[1] };
  if (parts[2]) p.variant = parts[2];
  if (osVersion) p['os.version'] = osVersion;
  return p;
}

export function formatPlatform(p: Platform | undefined): string {
  if (!p) return 'unknown';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Whether `have` satisfies the requested platform (variant and os.version only compared when requested). */
export function platformMatches(have: Platform | undefined, want: Platform): boolean {
  if (!have) return false;
  if (have.os !== want.os || have.architecture !== want.architecture) return false;
  if (want.variant && have.variant !== want.variant) return false;
  if (want['os.version'] && have['os.version'] !== want['os.version']) return false;
  return true;
}

/** Picks the one manifest of an index that matches the platform, or fails naming what is there. */
export function selectPlatform(index: ImageIndex, want: Platform): Descriptor {
  const match = index.manifests.find((m) => platformMatches(m.platform, want));
  if (!match) {
    const have = index.manifests.map((m) => formatPlatform(m.platform)).join(', ') || 'none';
    throw new LadingError('not-found', `no manifest for platform ${formatPlatform(want)} in the index (available: ${have})`);
  }
  return match;
}

export { isIndexType };

/** The platform an image config declares (`os`, `architecture`, `variant`, `os.version`); undefined when it names none. */
export function configPlatform(configBytes: Buffer): Platform | undefined {
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(configBytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof c.os !== 'string' || typeof c.architecture !== 'string') return undefined;
  const p: Platform = { os: c.os, architecture: c.architecture };
  if (typeof c.variant === 'string') p.variant = c.variant;
  if (typeof c['os.version'] === 'string') p['os.version'] = c['os.version'];
  return p;
}
