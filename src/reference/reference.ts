import { LadingError } from '../errors/errors.js';
import { parseDigest } from '../oci/digest.js';

/**
 * A registry reference: `[host[:port]/]repository[:tag][@digest]`, parsed and normalised here and
 * nowhere else (CASES B12, B14). Values are immutable; use withTag/withDigest for variants.
 */
export interface Reference {
  /** Canonical registry name used in messages and credential lookups: `docker.io` for Docker Hub. */
  readonly registry: string;
  /** The host[:port] requests go to: `registry-1.docker.io` for Docker Hub. */
  readonly host: string;
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
  /** True when the input named neither tag nor digest and `tag` is the default `latest`: writes then go by digest, as ORAS does. */
  readonly tagDefaulted?: boolean;
}

export const DOCKER_HUB = 'docker.io';
export const DOCKER_HUB_HOST = 'registry-1.docker.io';
/** The tag a reference names when it has neither tag nor digest. */
export const DEFAULT_TAG = 'latest';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const REPOSITORY_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?$`);

export function isDockerHub(registry: string): boolean {
  return DOCKER_HUB_ALIASES.has(registry.toLowerCase());
}

/** Validates and normalises a registry host (`REGISTRY.EXAMPLE:5000` → `registry.example:5000`). */
export function normalizeRegistry(host: string): string {
  if (!HOST_RE.test(host)) {
    if (/^[0-9a-fA-F]*:[0-9a-fA-F:]*:/.test(host)) {
      throw new LadingError('usage', `invalid registry "${host}": an IPv6 address must be in brackets, with the port outside: [2001:db8::1]:5000`);
    }
    throw new LadingError('usage', `invalid registry "${host}"`);
  }
  const port = /:(\d+)$/.exec(host.replace(/^\[[^\]]*\]/, ''));
  if (port && (Number(port[1]) < 1 || Number(port[1]) > 65535)) {
    throw new LadingError('usage', `invalid registry "${host}": port out of range`);
  }
  const lower = host.toLowerCase();
  return isDockerHub(lower) ? DOCKER_HUB : lower;
}

/** Whether the first path segment names a registry host: it has a '.' or ':', is bracketed, or is `localhost`. */
function looksLikeHost(segment: string): boolean {
  return segment.includes('.') || segment.includes(':') || segment.startsWith('[') || segment.toLowerCase() === 'localhost';
}

export interface ParseOptions {
  /** Registry used when the reference names none (default docker.io, like docker). */
  defaultRegistry?: string;
}

export function parseReference(input: string, options: ParseOptions = {}): Reference {
  const raw = input.trim();
  if (raw === '') throw new LadingError('usage', 'invalid reference: empty');
  if (/\s/.test(raw)) throw new LadingError('usage', `invalid reference "${input}": contains white space`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    throw new LadingError('usage', `invalid reference "${input}": leave out the scheme (use --plain-http for http)`);
  }

  // `user:password@host/repo`: never echo it (it would print the password) and say where credentials go.
  const firstSlash = raw.indexOf('/');
  const at0 = raw.indexOf('@');
  const afterAt = raw.slice(at0 + 1);
  const digestAfter = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(afterAt);
  if (at0 > 0 && raw.slice(0, at0).includes(':') && (firstSlash > at0 || (firstSlash < 0 && !digestAfter))) {
    throw new LadingError('usage', 'invalid reference: credentials do not belong in a reference; use -u USER with --password-stdin');
  }
  let rest = raw;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      parseDigest(digest);
    } catch (err) {
      throw new LadingError('usage', `invalid reference "${input}": ${(err as Error).message}`);
    }
  }

  // Split off the registry: the first segment if it looks like a host and more segments follow.
  let registry: string | undefined;
  const slash = rest.indexOf('/');
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    const after = close >= 0 ? rest.indexOf('/', close) : -1;
    if (close < 0 || after < 0) throw new LadingError('usage', `invalid reference "${input}": expected [ipv6]:port/repository`);
    registry = rest.slice(0, after);
    rest = rest.slice(after + 1);
  } else if (slash > 0 && looksLikeHost(rest.slice(0, slash))) {
    registry = rest.slice(0, slash);
    rest = rest.slice(slash + 1);
  }

  // Split off the tag: a ':' after the last '/'.
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) {
      throw new LadingError('usage', `invalid reference "${input}": invalid tag "${tag}" (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')`);
    }
  }

  let repository = rest;
  if (registry === undefined && /^[0-9a-fA-F]*:[0-9a-fA-F:]*:/.test(raw)) {
    throw new LadingError('usage', `invalid reference "${input}": an IPv6 registry address must be in brackets, e.g. [2001:db8::1]:5000/repo`);
  }
  try {
    registry = normalizeRegistry(registry ?? options.defaultRegistry ?? DOCKER_HUB);
  } catch (err) {
    throw new LadingError('usage', `invalid reference "${input}": ${(err as Error).message}`);
  }
  if (repository === '') throw new LadingError('usage', `invalid reference "${input}": missing repository`);
  if (repository !== repository.toLowerCase()) {
    throw new LadingError('usage', `invalid reference "${input}": repository name must be lowercase ("${repository}")`);
  }
  if (!REPOSITORY_RE.test(repository)) {
    throw new LadingError('usage', `invalid reference "${input}": invalid repository name "${repository}"`);
  }
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (repository.length > 255) throw new LadingError('usage', `invalid reference "${input}": repository name longer than 255 characters`);

  // No tag and no digest means `latest`, as docker, crane and regclient read it (CASES B14).
  const tagDefaulted = tag === undefined && digest === undefined;
  if (tagDefaulted) tag = DEFAULT_TAG;

  return freeze({ registry, host: registry === DOCKER_HUB ? DOCKER_HUB_HOST : registry, repository, tag, digest, tagDefaulted });
}

function freeze(ref: Reference): Reference {
  const out: { -readonly [K in keyof Reference]: Reference[K] } = { registry: ref.registry, host: ref.host, repository: ref.repository };
  if (ref.tag !== undefined) out.tag = ref.tag;
  if (ref.digest !== undefined) out.digest = ref.digest;
  if (ref.tagDefaulted && out.tag !== undefined) out.tagDefaulted = true;
  return Object.freeze(out);
}

/** The manifest reference used on the wire: the digest when there is one (it decides), else the tag. */
export function manifestRef(ref: Reference): string | undefined {
  return ref.digest ?? ref.tag;
}

export function requireManifestRef(ref: Reference, what = 'this command'): string {
  const r = manifestRef(ref);
  if (!r) throw new LadingError('usage', `${what} needs a tag or digest in the reference (${formatReference(ref)}:TAG or @sha256:…)`);
  return r;
}

export function withTag(ref: Reference, tag: string): Reference {
  if (!TAG_RE.test(tag)) throw new LadingError('usage', `invalid tag "${tag}"`);
  return freeze({ ...ref, tag, digest: undefined, tagDefaulted: false });
}

export function withDigest(ref: Reference, digest: string): Reference {
  parseDigest(digest);
  return freeze({ ...ref, digest });
}

export function repositoryOf(ref: Reference): Reference {
  return freeze({ registry: ref.registry, host: ref.host, repository: ref.repository });
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** host/repository[:tag][@digest]. */
export function formatReference(ref: Reference, options: { tag?: boolean } = {}): string {
  let s = `${ref.registry}/${ref.repository}`;
  if (ref.tag && options.tag !== false) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

/** `host/repository@digest`: the form every JSON result's `reference` takes once the digest is known. */
export function digestReference(ref: Reference, digest: string): string {
  return `${ref.registry}/${ref.repository}@${digest}`;
}

/** The hostname without port or brackets. */
export function hostname(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const i = registry.lastIndexOf(':');
  return i >= 0 ? registry.slice(0, i) : registry;
}

/** `REF[,TAG…]`: a reference followed by extra tags separated by commas (ORAS push syntax). */
export function parseReferenceWithTags(input: string): { ref: Reference; extraTags: string[] } {
  const [first, ...more] = input.split(',');
  const ref = parseReference(first);
  for (const t of more) {
    if (!TAG_RE.test(t)) throw new LadingError('usage', `invalid reference "${input}": invalid tag "${t}"`);
  }
  return { ref, extraTags: more };
}
