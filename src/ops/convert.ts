import { fetchAll, type ReadOnlyTarget, type Target } from '../content/interfaces.js';
import { LadingError, toLadingError } from '../errors/errors.js';
import { convertImageManifest, convertIndex, isIndexManifest, platformName, schema1Error, sourceMediaType, type ImageFormat } from '../oci/convert.js';
import type { Descriptor, Platform } from '../oci/descriptor.js';
import { digestOf } from '../oci/digest.js';
import { asIndex, configPlatform, formatPlatform, parseManifestJson, platformMatches, selectPlatform } from '../oci/manifest.js';
import { isManifestType, isSchema1Type, MediaType } from '../oci/mediatypes.js';
import { copyGraph, successors, type CopyEvent } from './copy.js';
import { forEachLimit, pushManifest } from './push.js';

export interface ConvertOptions {
  to: ImageFormat;
  /** Convert only this platform out of an index (a single image is checked against its config). */
  platform?: Platform;
  concurrency?: number;
  /** Work out the converted manifests without writing anything (no destination needed). */
  dryRun?: boolean;
  /** Blobs and unchanged manifests, as the copy engine reports them. */
  onBlob?: (e: CopyEvent) => void;
  /** A converted manifest written to the destination. */
  onManifest?: (node: ConvertedNode) => void;
  log?: (line: string) => void;
  /** How the two sides are named in errors (`source NAME: …`, `destination NAME: …`), as the copy engine names them. */
  names?: { source?: string; destination?: string };
}

type Side = 'source' | 'destination';

/** Runs one read or write of a side, naming that side in its error (once: an error already named keeps its name). */
async function on<T>(side: Side, names: ConvertOptions['names'], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = toLadingError(err);
    if (!e.message.startsWith(`${side} `) && !e.message.startsWith(`${side}:`)) {
      const name = names?.[side];
      e.message = `${side}${name ? ` ${name}` : ''}: ${e.message}`;
    }
    throw e;
  }
}

/** One manifest of the conversion: where it came from, what it became, and (for an index) its children. */
export interface ConvertedNode {
  /** The manifest in the source. */
  source: Descriptor;
  /** The converted manifest (the source descriptor when nothing had to change). */
  descriptor: Descriptor;
  /** The converted manifest's bytes (compact canonical JSON), or the source bytes when unchanged. */
  bytes: Buffer;
  /** False when the manifest was already in the target format: it is then copied byte for byte. */
  changed: boolean;
  /** What the target format had no place for (dropped annotations, fields). */
  notes: string[];
  /** For an index: its child manifests, converted, in the index's order. */
  children: ConvertedNode[];
  /** The source manifest, parsed. */
  manifest: Record<string, unknown>;
  /** The index entry's platform, for a child. */
  platform?: Platform;
}

async function fetchBytes(src: ReadOnlyTarget, desc: Descriptor, names: ConvertOptions['names']): Promise<Buffer> {
  return on('source', names, () => fetchAll(src, desc));
}

function checkNotSchema1(desc: Descriptor): void {
  if (isSchema1Type(desc.mediaType)) throw schema1Error(desc.mediaType);
}

/** A schema 1 error raised by the registry client (on GET), worded as convert words it. */
function asSchema1(err: unknown): unknown {
  if (err instanceof LadingError && err.kind === 'unsupported' && /schema 1/i.test(err.message) && !err.message.startsWith('schema 1 cannot be converted')) {
    const e = schema1Error();
    e.message = `${e.message} (${err.message})`;
    return e;
  }
  return err;
}

/**
 * Reads the manifest `desc` names from `src` and works out its conversion to `to`; an index is converted child by
 * child (each child read and converted, then the index rewritten with the new child descriptors). Nothing is written.
 */
export async function planConversion(
  src: ReadOnlyTarget,
  desc: Descriptor,
  to: ImageFormat,
  names?: ConvertOptions['names'],
  memo = new Map<string, Promise<ConvertedNode>>(),
): Promise<ConvertedNode> {
  let p = memo.get(desc.digest);
  if (!p) {
    p = planNode(src, desc, to, names, memo);
    memo.set(desc.digest, p);
  }
  return p;
}

async function planNode(src: ReadOnlyTarget, desc: Descriptor, to: ImageFormat, names: ConvertOptions['names'], memo: Map<string, Promise<ConvertedNode>>): Promise<ConvertedNode> {
  checkNotSchema1(desc);
  const bytes = await fetchBytes(src, desc, names).catch((err: unknown) => {
    throw asSchema1(err);
  });
  const manifest = parseManifestJson(bytes, `manifest ${desc.digest}`);
  const mediaType = sourceMediaType(manifest, desc.mediaType);
  const source: Descriptor = { mediaType, digest: desc.digest, size: desc.size };
  if (isIndexManifest(manifest, mediaType)) {
    const entries = asIndex(manifest).manifests;
    const children: ConvertedNode[] = [];
    for (const [i, entry] of entries.entries()) {
      if (!entry || typeof entry !== 'object' || typeof entry.digest !== 'string') continue; // convertIndex names it
      if (!isManifestType(entry.mediaType) && !isSchema1Type(entry.mediaType)) continue;
      try {
        const child = await planConversion(src, entry, to, names, memo);
        children.push({ ...child, platform: entry.platform });
      } catch (err) {
        const e = err instanceof LadingError ? err : new LadingError('internal', (err as Error).message, { cause: err });
        e.message = `child manifests[${i}]${entry.platform ? ` (${platformName(entry.platform)})` : ''} ${entry.digest}: ${e.message}`;
        throw e;
      }
    }
    const byDigest = new Map(children.map((c) => [c.source.digest, c.descriptor]));
    const out = convertIndex(manifest, to, (d) => byDigest.get(d.digest), { mediaType, bytes });
    const descriptor = out.changed ? { mediaType: out.mediaType, digest: digestOf(out.bytes), size: out.bytes.length } : source;
    return { source, descriptor, bytes: out.bytes, changed: out.changed, notes: out.notes, children, manifest };
  }
  const out = convertImageManifest(manifest, to, { mediaType, bytes });
  const descriptor = out.changed ? { mediaType: out.mediaType, digest: digestOf(out.bytes), size: out.bytes.length } : source;
  return { source, descriptor, bytes: out.bytes, changed: out.changed, notes: out.notes, children: [], manifest };
}

/**
 * `lading convert`: resolves `srcRef` in `src` (narrowed to `options.platform` out of an index), converts its
 * manifest (and an index's children) to `to`, copies the blobs unchanged to `dst` with the copy engine (mounted
 * within one registry, skipped when present), pushes the converted children, then the converted root under
 * `dstTags` (by digest when there is none). Manifests already in the target format are copied byte for byte.
 * With `dryRun`, nothing is written and `dst` may be undefined. Returns the converted root.
 */
export async function convert(src: ReadOnlyTarget, srcRef: string, dst: Target | undefined, dstTags: string[], options: ConvertOptions): Promise<ConvertedNode> {
  let root = await on('source', options.names, () => src.resolve(srcRef)).catch((err: unknown) => {
    throw asSchema1(err);
  });
  checkNotSchema1(root);
  if (options.platform) root = await narrowToPlatform(src, root, options.platform, options.names);
  const node = await planConversion(src, root, options.to, options.names);
  if (options.dryRun) return node;
  if (!dst) throw new LadingError('usage', 'no destination to convert to');
  await write(src, dst, node, dstTags, options);
  return node;
}

/** The child of an index for `platform`; a single image must say that platform in its config. */
async function narrowToPlatform(src: ReadOnlyTarget, desc: Descriptor, platform: Platform, names: ConvertOptions['names']): Promise<Descriptor> {
  const manifest = parseManifestJson(await fetchBytes(src, desc, names).catch((err: unknown) => Promise.reject(asSchema1(err))), `manifest ${desc.digest}`);
  const mediaType = sourceMediaType(manifest, desc.mediaType);
  if (isIndexManifest(manifest, mediaType)) return selectPlatform(asIndex(manifest), platform);
  const config = manifest.config as Descriptor | undefined;
  if (config?.digest && (config.mediaType === MediaType.dockerConfig || config.mediaType === MediaType.ociConfig)) {
    const have = configPlatform(await fetchBytes(src, config, names));
    if (!platformMatches(have, platform)) throw new LadingError('not-found', `the image is ${formatPlatform(have)}, not ${formatPlatform(platform)}`);
  }
  return desc;
}

/** Children before parents: blobs and child manifests first, so a manifest is pushed only once what it names is there. */
async function write(src: ReadOnlyTarget, dst: Target, node: ConvertedNode, rootTags: string[] | undefined, options: ConvertOptions): Promise<void> {
  const isRoot = rootTags !== undefined;
  const copyOptions = { concurrency: options.concurrency, onBlob: options.onBlob, log: options.log, names: options.names };
  const toDst = <T>(fn: () => Promise<T>) => on('destination', options.names, fn);
  if (!node.changed && !isRoot) {
    await copyGraph(src, dst, node.source, copyOptions);
    return;
  }
  const planned = new Set(node.children.map((c) => c.source.digest));
  for (const child of node.children) await write(src, dst, child, undefined, options);
  const rest = successors(node.source, node.manifest).filter((d) => !planned.has(d.digest));
  await forEachLimit(rest, options.concurrency ?? 3, (d) => copyGraph(src, dst, d, copyOptions));
  if (isRoot) {
    await toDst(() => pushManifest(dst, node.descriptor, node.bytes, rootTags));
  } else {
    if (await toDst(() => dst.exists(node.descriptor))) {
      options.onBlob?.({ status: 'Exists', descriptor: node.descriptor });
      return;
    }
    await toDst(() => dst.push(node.descriptor, node.bytes));
  }
  if (node.changed) options.onManifest?.(node);
  else options.onBlob?.({ status: 'Copied', descriptor: node.descriptor });
}

/** Every converted manifest of a conversion, the root first, then each index's children (depth first). */
export function flattenConversion(node: ConvertedNode): ConvertedNode[] {
  return [node, ...node.children.flatMap(flattenConversion)];
}
