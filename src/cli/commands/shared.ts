import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { writeFileAtomic } from '../../content/atomic-file.js';
import type { ReadOnlyTarget } from '../../content/interfaces.js';
import { parseLayoutReference } from '../../content/oci-layout/store.js';
import { LadingError } from '../../errors/errors.js';
import type { Descriptor } from '../../oci/descriptor.js';
import { isDigest } from '../../oci/digest.js';
import { asImageManifest, asIndex, configPlatform, formatPlatform, parseManifestJson, parsePlatform, platformMatches, selectPlatform } from '../../oci/manifest.js';
import { isIndexType, isManifestType } from '../../oci/mediatypes.js';
import { digestReference, formatReference, parseReference, withDigest, type Reference } from '../../reference/reference.js';
import { DEFAULT_MAX_MANIFEST_SIZE } from '../../registry/registry.js';
import { fileContent, type SeekableContent } from '../../registry/upload.js';
import type { FetchedManifest, Repository } from '../../registry/repository.js';
import type { Context } from '../context.js';
import { openLayout, type LayoutMode, type OpenedLayout, type OpenedTarget } from '../target.js';
import { readBounded } from '../../registry/http/types.js';

export function ref(ctx: Context, input: string | undefined, what = 'reference'): Reference {
  if (!input) throw new LadingError('usage', `missing ${what}`);
  return parseReference(input);
}

/** Writes content to `--output FILE` (atomically) or to stdout for `-`. The stream verifies itself. */
export async function writeOutput(ctx: Context, output: string, stream: Readable): Promise<void> {
  if (output === '-') {
    await pipeline(stream, ctx.io.stdout, { end: false });
    return;
  }
  await writeFileAtomic(output, stream);
}

/** A file to read: size known, a fresh stream per attempt, from any offset (so uploads can be retried and resumed). */
export async function openFile(path: string): Promise<{ size: number; open: SeekableContent }> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new LadingError('not-found', `cannot read "${path}": ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (!info.isFile()) throw new LadingError('usage', `"${path}" is not a regular file`);
  return { size: info.size, open: fileContent(path) };
}

/** Reads a stream whole, failing past `limit` bytes: the registry client's bounded read. */
export const readAll = readBounded;

/** Asks on a terminal, or demands --force when there is none (ORAS silently exits 0 there). */
export async function confirm(ctx: Context, what: string): Promise<void> {
  if (ctx.bool('force')) return;
  if (!ctx.io.stdinIsTTY) {
    throw new LadingError('usage', `refusing to delete ${what} without confirmation: pass --force (there is no terminal to ask on)`);
  }
  ctx.io.stderr.write(`Are you sure you want to delete ${what}? [y/N] `);
  const answer = await new Promise<string>((resolve) => {
    ctx.io.stdin.once('data', (d) => resolve(String(d)));
    ctx.io.stdin.once('end', () => resolve(''));
  });
  ctx.io.stdin.pause();
  if (!/^y(es)?$/i.test(answer.trim())) throw new LadingError('internal', 'cancelled: nothing was deleted');
}

/** How a command names what it works on in its messages and JSON: a registry repository or an OCI layout. */
export interface Names {
  /** `[registry]` or `[oci-layout]`, for status lines. */
  kind: '[registry]' | '[oci-layout]';
  /** The reference as given: `host/repo:tag`, `path:tag`, `path@digest`. */
  shown: string;
  /** Where, without tag or digest: `host/repo` or the layout path. */
  base: string;
  /** The reference once its digest is known, for messages: `host/repo:tag@digest`, `path@digest`. */
  resolved(digest: string): string;
  /** The JSON `reference`: `host/repo@digest` or `path@digest`. */
  at(digest: string): string;
}

export function registryNames(r: Reference): Names {
  return {
    kind: '[registry]',
    shown: formatReference(r),
    base: `${r.registry}/${r.repository}`,
    resolved: (digest) => formatReference(withDigest(r, digest)),
    at: (digest) => digestReference(r, digest),
  };
}

export function layoutNames(l: Pick<OpenedTarget, 'shown' | 'base'>): Names {
  return { kind: '[oci-layout]', shown: l.shown, base: l.base, resolved: (digest) => `${l.base}@${digest}`, at: (digest) => `${l.base}@${digest}` };
}

/** Reads manifests and blobs, wherever they are: what --platform needs to look into an index or an image config. */
export interface ManifestReader {
  /** A manifest by tag or digest, its exact bytes (a registry negotiates `accept`; a layout checks it). */
  fetchManifest(reference: string, accept: string[]): Promise<FetchedManifest>;
  /** A blob (a config), as a stream that verifies size and digest. */
  fetchBlob(desc: Descriptor): Promise<Readable>;
}

/** A registry repository as a ManifestReader: the same requests the commands have always made. */
export function repositoryReader(repo: Repository): ManifestReader {
  return {
    fetchManifest: (reference, accept) => repo.fetchManifest(reference, accept),
    fetchBlob: async (desc) => (await repo.fetchBlob(desc.digest, desc.size)).stream,
  };
}

/** A tag or digest → the descriptor of the manifest it names; a digest that names a blob is not a manifest (not found, as from a registry). */
export async function resolveManifestIn(target: ReadOnlyTarget, reference: string, where: string): Promise<Descriptor> {
  const desc = await target.resolve(reference);
  if (!isManifestType(desc.mediaType)) throw new LadingError('not-found', `${where}@${desc.digest}: not a manifest (a blob of ${desc.size} bytes)`);
  return desc;
}

/** Any content Target (an OCI layout) as a ManifestReader: resolve, then read the manifest bytes, bounded by `limit`. */
export function targetReader(target: ReadOnlyTarget, where: string, limit: number): ManifestReader {
  return {
    async fetchManifest(reference, accept) {
      const desc = await resolveManifestIn(target, reference, where);
      if (!accept.includes(desc.mediaType)) {
        throw new LadingError('not-found', `${where}@${desc.digest} is ${desc.mediaType}, which is not among the accepted media types (${accept.join(', ')})`);
      }
      if (desc.size > limit) throw new LadingError('too-large', `manifest exceeds ${limit} bytes (got ${desc.size}); use --max-manifest-size`);
      const bytes = await readAll(await target.fetch(desc), limit, 'manifest');
      return { descriptor: { mediaType: desc.mediaType, digest: desc.digest, size: desc.size }, bytes };
    },
    fetchBlob: (desc) => target.fetch(desc),
  };
}

/**
 * Reads the manifest `reference` names and follows --platform: into an index (the matching child), or for a
 * single image a check of its config (another platform is not found, as ORAS says). `shown` names it in errors.
 */
export async function fetchManifestWithPlatform(ctx: Context, reader: ManifestReader, reference: string, accept: string[], shown: (digest: string) => string): Promise<FetchedManifest> {
  let fetched = await reader.fetchManifest(reference, accept);
  const platform = ctx.str('platform');
  if (platform === undefined) return fetched;
  const want = parsePlatform(platform);
  if (isIndexType(fetched.descriptor.mediaType)) {
    const child = selectPlatform(asIndex(parseManifestJson(fetched.bytes)), want);
    fetched = await reader.fetchManifest(child.digest, accept);
  } else {
    // A single image: its config says which platform it is; a different one is not there (as ORAS).
    const config = asImageManifest(parseManifestJson(fetched.bytes)).config;
    const have = configPlatform(await readAll(await reader.fetchBlob(config), ctx.int('max-manifest-size') ?? 4 << 20, 'config'));
    if (!platformMatches(have, want)) {
      throw new LadingError('not-found', `${shown(fetched.descriptor.digest)} is a single ${formatPlatform(have)} image, not ${formatPlatform(want)}`);
    }
  }
  return fetched;
}

/** An `--oci-layout` reference opened for one command: the store, its names, and a reader for its manifests. */
export interface Layout {
  opened: OpenedLayout;
  target: OpenedLayout['target'];
  names: Names;
  reader: ManifestReader;
}

/**
 * Opens the layout `input` names for `fn` (see openLayout for the modes), and closes it (an extracted archive is
 * removed) after. `ifMissing` runs instead of `fn` when the layout itself is not there (delete --force; not with withTags).
 */
export async function withLayout<T>(
  ctx: Context,
  input: string,
  options: { mode: LayoutMode; withTags?: boolean; ifMissing?: (names: Names) => T | Promise<T> },
  fn: (layout: Layout) => Promise<T>,
): Promise<T> {
  let opened: OpenedLayout;
  try {
    opened = await openLayout(input, options);
  } catch (err) {
    // Not there at all: named as given (a reference without `,TAG…` is shown exactly as it was written).
    if (options.ifMissing && (err as LadingError).kind === 'not-found') return await options.ifMissing(layoutNames({ shown: input, base: parseLayoutReference(input).path }));
    throw err;
  }
  try {
    const names = layoutNames(opened);
    const limit = ctx.int('max-manifest-size') ?? DEFAULT_MAX_MANIFEST_SIZE;
    return await fn({ opened, target: opened.target, names, reader: targetReader(opened.target, opened.base, limit) });
  } finally {
    await opened.close();
  }
}

/** The tag or digest of a layout reference; a layout names no default tag (as pull and discover). */
export function layoutReference(layout: Layout, input: string, what: string): string {
  if (!layout.opened.reference) throw new LadingError('usage', `"${input}" names no tag or digest: ${what} needs PATH:TAG or PATH@DIGEST`);
  return layout.opened.reference;
}

/** The digest of a layout blob reference (`PATH@DIGEST`), checked before the layout is opened. */
export function layoutBlobDigest(input: string): string {
  const { reference } = parseLayoutReference(input);
  if (!reference || !isDigest(reference)) throw new LadingError('usage', `"${input}" names no blob: use PATH@sha256:<digest>`);
  return reference;
}
