import { pipeline, Readable } from 'node:stream';
import type { Content, ReadOnlyTarget, ReferrerLister, Storage, TagLister, Target } from '../content/interfaces.js';
import { fetchAll, isReferrerLister } from '../content/interfaces.js';
import { lazyStream } from '../content/lazy-stream.js';
import { LadingError, toLadingError } from '../errors/errors.js';
import type { Descriptor, Platform } from '../oci/descriptor.js';
import { isVerified, markVerified, VerifyingStream } from '../oci/digest.js';
import { asIndex, parseManifestJson, selectPlatform } from '../oci/manifest.js';
import { isIndexType, isManifestType } from '../oci/mediatypes.js';
import { RegistryTarget } from '../registry/target.js';
import { resolveManifest } from './pull.js';
import { pushManifest } from './push.js';

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
  /**
   * How the two sides are named in errors: every error says which side failed, as
   * `source NAME: …` or `destination NAME: …` (default: just `source`/`destination`).
   */
  names?: { source?: string; destination?: string };
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

type Side = 'source' | 'destination';

/** Errors already named by side (never named twice, whichever wrapper sees them next). */
const labelled = new WeakSet<Error>();

/** Names the side of every error raised on it: `source NAME: …` / `destination NAME: …`. */
class Sides {
  constructor(private readonly names: CopyOptions['names'] = {}) {}

  label(err: unknown, side: Side): LadingError {
    const e = toLadingError(err);
    if (labelled.has(e)) return e;
    const name = this.names?.[side];
    e.message = `${side}${name ? ` ${name}` : ''}: ${e.message}`;
    labelled.add(e);
    return e;
  }

  async src<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.label(err, 'source');
    }
  }

  async dst<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.label(err, 'destination');
    }
  }
}

/** Reads a manifest from the source (bounded by the source: size limit, size and digest verified). */
async function fetchManifestBytes(src: ReadOnlyTarget, desc: Descriptor, sides: Sides): Promise<{ bytes: Buffer; manifest: Record<string, unknown> }> {
  return sides.src(async () => {
    const bytes = await fetchAll(src, desc);
    return { bytes, manifest: parseManifestJson(bytes, `manifest ${desc.digest}`) };
  });
}

/**
 * A blob as upload content: a fresh fetch from the source per attempt, streamed straight through.
 * A failure of the source (at the fetch or mid-body) is named as the source's and remembered in
 * `failure`, so that whatever the destination makes of its broken request body, the error reported
 * is the source's. The stream carries a copy without a cause: a destination transport must not
 * take a source's connection error for its own and retry the upload.
 * It is deliberately not `seekable()` (registry/upload.ts): opening at an offset would mean fetching again and
 * skipping, so a chunked upload reads it once, front to back, holding the current chunk in memory to resend or
 * resume inside it; only a new upload session (the old one lost) fetches the blob again from the source.
 */
function streamFrom(src: ReadOnlyTarget, desc: Descriptor, sides: Sides, failure: { error?: LadingError }): () => Readable {
  return () =>
    markVerified(
      lazyStream(
        async () => {
          // Verified exactly once: by the source's own stream when it says so, else here; the stream handed on
          // is marked, so a destination that checks digests (an OCI layout) does not hash the bytes again.
          const fetched = await src.fetch(desc);
          if (isVerified(fetched, desc.digest, desc.size)) return fetched;
          const verifier = new VerifyingStream(desc.digest, desc.size, `blob ${desc.digest}`);
          pipeline(fetched, verifier, () => undefined);
          return verifier;
        },
        (err) => {
          const e = sides.label(err, 'source');
          failure.error = e;
          return new LadingError(e.kind, e.message);
        },
      ),
      desc.digest,
      desc.size,
    );
}

/** Two registry repositories on one registry (same host and scheme), where a blob can be mounted. */
function mountable(src: ReadOnlyTarget, dst: Storage): { from: string; target: RegistryTarget } | undefined {
  if (!(src instanceof RegistryTarget) || !(dst instanceof RegistryTarget)) return undefined;
  if (src.repo.registry.baseUrl !== dst.repo.registry.baseUrl || src.repo.name === dst.repo.name) return undefined;
  return { from: src.repo.name, target: dst };
}

/**
 * One blob from `src` to `dst`: mounted when both are repositories of one registry (CASES B26: a
 * refused mount falls back to an upload), otherwise streamed across. Returns whether it was mounted.
 */
async function transferBlob(src: ReadOnlyTarget, dst: Storage, desc: Descriptor, sides: Sides, log?: (line: string) => void): Promise<boolean> {
  const failure: { error?: LadingError } = {};
  const content: Content = streamFrom(src, desc, sides, failure);
  const mount = mountable(src, dst);
  try {
    if (mount) return await mount.target.repo.mountOrUpload(desc, mount.from, content, log);
    await dst.push(desc, content);
    return false;
  } catch (err) {
    throw failure.error ?? sides.label(err, 'destination');
  }
}

/**
 * The traversal shared by one copy: each node visited once (a blob shared by two images of an index
 * is copied once), children before parents. `concurrency` bounds the requests in flight across the
 * whole graph (existence checks, manifest reads, blob transfers, manifest pushes), however deep it
 * is; a node waiting for its children holds no slot. After a failure nothing new starts.
 */
class GraphCopier {
  readonly sides: Sides;
  private readonly done = new Map<string, Promise<void>>();
  /** Nodes this copy wrote (or mounted) at the destination. */
  private readonly copied = new Set<string>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** The first failure: anything waiting for a slot afterwards fails with it instead of starting. */
  private failure?: unknown;

  constructor(
    private readonly src: ReadOnlyTarget,
    private readonly dst: Storage,
    private readonly options: CopyOptions,
  ) {
    this.sides = new Sides(options.names);
  }

  get concurrency(): number {
    return Math.max(1, this.options.concurrency ?? 3);
  }

  /** Runs `fn` in one of the `concurrency` slots (first come, first served). */
  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active < this.concurrency) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the slot is handed over
    try {
      if (this.failure !== undefined) throw this.failure;
      return await fn();
    } catch (err) {
      this.failure ??= err;
      throw err;
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }

  /** Marks a node as present at the destination (copied by the caller). */
  markDone(desc: Descriptor): void {
    this.done.set(desc.digest, Promise.resolve());
  }

  visit(desc: Descriptor): Promise<void> {
    let p = this.done.get(desc.digest);
    if (!p) {
      p = this.copyNode(desc);
      this.done.set(desc.digest, p);
    }
    return p;
  }

  async visitAll(descs: Descriptor[]): Promise<void> {
    await Promise.all(descs.map((d) => this.visit(d)));
  }

  private async copyNode(desc: Descriptor): Promise<void> {
    const { src, dst, options, sides } = this;
    if (isManifestType(desc.mediaType)) {
      const fetched = await this.limited(async () => ((await sides.dst(() => dst.exists(desc))) ? undefined : fetchManifestBytes(src, desc, sides)));
      if (!fetched) {
        options.onBlob?.({ status: 'Exists', descriptor: desc });
        return;
      }
      await this.visitAll(successors(desc, fetched.manifest));
      await this.limited(async () => {
        options.onBlob?.({ status: 'Copying', descriptor: desc });
        await sides.dst(() => dst.push(desc, fetched.bytes));
      });
      this.copied.add(desc.digest);
      options.onBlob?.({ status: 'Copied', descriptor: desc });
      return;
    }
    const status = await this.limited(async () => {
      if (await sides.dst(() => dst.exists(desc))) return 'Exists' as const;
      options.onBlob?.({ status: 'Copying', descriptor: desc });
      return (await transferBlob(src, dst, desc, sides, options.log)) ? ('Mounted' as const) : ('Copied' as const);
    });
    if (status !== 'Exists') this.copied.add(desc.digest);
    options.onBlob?.({ status, descriptor: desc });
  }

  /** `-r`: the referrers of a manifest (and, for an index, of its children), copied with their own referrers. */
  async copyReferrers(desc: Descriptor, manifest: Record<string, unknown>, seen: Set<string>): Promise<void> {
    const { src, sides } = this;
    if (!isReferrerLister(src)) throw sides.label(new LadingError('unsupported', 'this source cannot list referrers'), 'source');
    const lister = src as ReadOnlyTarget & ReferrerLister;
    const subjects = [desc, ...(isIndexType(desc.mediaType) || Array.isArray(manifest.manifests) ? ((manifest.manifests as Descriptor[]) ?? []) : [])];
    for (const subject of subjects) {
      const found = await sides.src(() => lister.referrers(subject));
      for (const r of found) {
        if (seen.has(r.digest)) continue;
        seen.add(r.digest);
        const node: Descriptor = { mediaType: r.mediaType, digest: r.digest, size: r.size };
        await this.visit(node);
        if (this.copied.has(node.digest)) this.options.log?.(`Copied referrer ${r.digest}${r.artifactType ? ` (${r.artifactType})` : ''}`);
        const child = await fetchManifestBytes(src, node, sides);
        await this.copyReferrers(node, child.manifest, seen);
      }
    }
  }
}

/** Copies the graph under `root` from `src` to `dst` (see `copy`); the root itself is pushed by digest. */
export async function copyGraph(src: ReadOnlyTarget, dst: Storage, root: Descriptor, options: CopyOptions = {}): Promise<void> {
  await new GraphCopier(src, dst, options).visit(root);
}

/** What `copyReference` did: the root copied, and whether anything had to be written. */
export interface CopyResult {
  root: Descriptor;
  /** 'exists': the destination already had the root and every tag pointed at it; nothing was written (referrers aside). */
  status: 'copied' | 'exists';
}

/**
 * Resolves `srcRef`, narrows it to a platform if asked, and copies its graph: children before
 * parents, so a manifest is only pushed once everything it points at is there; nodes the
 * destination has are skipped (a manifest the destination has is taken as complete); blobs are
 * streamed from source to destination (mounted when both are repositories of one registry),
 * never buffered whole or written to disk. The root is written last, under its tags: a copy that
 * fails leaves no tag at the destination. With `referrers`, the root is pushed by digest first,
 * then its referrers, and the tags last.
 */
export async function copyReference(src: ReadOnlyTarget, srcRef: string, dst: Target, dstTags: string[], options: CopyOptions = {}): Promise<CopyResult> {
  const g = new GraphCopier(src, dst, options);
  const { sides } = g;
  let root = await sides.src(() => src.resolve(srcRef));
  let fetched: { bytes: Buffer; manifest: Record<string, unknown> } | undefined;
  if (options.platform) {
    fetched = await fetchManifestBytes(src, root, sides);
    const platform = options.platform;
    if (isIndexType(root.mediaType) || Array.isArray(fetched.manifest.manifests)) {
      root = await sides.src(async () => selectPlatform(asIndex(fetched!.manifest), platform));
      fetched = undefined;
    } else {
      // A single image: its config must name that platform (else "not found", as pull and fetch say).
      const image = root;
      await sides.src(() => resolveManifest(src, image, platform));
    }
  }
  const rootDesc: Descriptor = { mediaType: root.mediaType, digest: root.digest, size: root.size };

  // What the destination has already: the root, and each tag on it.
  const rootExists = await sides.dst(() => dst.exists(rootDesc));
  let tagsMissing = dstTags;
  if (rootExists) {
    const current = await Promise.all(
      dstTags.map((t) =>
        sides.dst(() =>
          dst.resolve(t).then(
            (d) => d.digest,
            (err) => {
              if ((err as LadingError).kind === 'not-found') return undefined;
              throw err;
            },
          ),
        ),
      ),
    );
    tagsMissing = dstTags.filter((_, i) => current[i] !== rootDesc.digest);
  }
  if (rootExists && tagsMissing.length === 0 && !options.referrers) {
    options.onBlob?.({ status: 'Exists', descriptor: rootDesc });
    return { root: rootDesc, status: 'exists' };
  }

  fetched ??= await fetchManifestBytes(src, rootDesc, sides);
  const { bytes, manifest } = fetched;
  let pushedByDigest = false;
  if (!rootExists) {
    await g.visitAll(successors(rootDesc, manifest));
    if (options.referrers) {
      // Referrers need their subject first: the root goes in by digest now, the tags at the very end.
      await sides.dst(() => dst.push(rootDesc, bytes));
      pushedByDigest = true;
    }
  }
  g.markDone(rootDesc);
  if (options.referrers) await g.copyReferrers(rootDesc, manifest, new Set([rootDesc.digest]));
  // Last: the root under its first tag in one request where the destination can (by digest without
  // tags), or only the tags missing when it is there already.
  if ((!rootExists && !pushedByDigest) || tagsMissing.length > 0) await sides.dst(() => pushManifest(dst, rootDesc, bytes, tagsMissing));
  options.onBlob?.({ status: rootExists ? 'Exists' : 'Copied', descriptor: rootDesc });
  return { root: rootDesc, status: rootExists && tagsMissing.length === 0 ? 'exists' : 'copied' };
}

/** `copyReference`, returning the copied root. */
export async function copy(src: ReadOnlyTarget, srcRef: string, dst: Target, dstTags: string[], options: CopyOptions = {}): Promise<Descriptor> {
  return (await copyReference(src, srcRef, dst, dstTags, options)).root;
}

/** What `copyBlob` did. */
export type BlobCopyStatus = 'exists' | 'mounted' | 'copied';

/**
 * One blob between two stores (`blob copy`): skipped when the destination has it, mounted when both
 * are repositories of one registry, streamed otherwise. Verified either way: a streamed blob by its
 * digest as it passes (source) and as it lands (destination); a mount by the destination's answer.
 */
export async function copyBlob(src: ReadOnlyTarget, dst: Storage, desc: Descriptor, options: Pick<CopyOptions, 'log' | 'names'> = {}): Promise<BlobCopyStatus> {
  const sides = new Sides(options.names);
  if (await sides.dst(() => dst.exists(desc))) return 'exists';
  return (await transferBlob(src, dst, desc, sides, options.log)) ? 'mounted' : 'copied';
}

/** A referrers tag-schema tag (`sha256-<64 hex>`, `<alg>-<hex>`): recreated by `-r`, not copied as a tag. */
export function isReferrersTag(tag: string): boolean {
  return /^[a-z0-9]+-[a-f0-9]{32,}$/.test(tag);
}

export interface TagFilter {
  /** Copy only tags matching one of these (all tags when empty). */
  include?: RegExp[];
  /** Never copy tags matching one of these. */
  exclude?: RegExp[];
}

export interface TagCopy {
  tag: string;
  mediaType: string;
  digest: string;
  size: number;
}

export interface SkippedTag {
  tag: string;
  /** exists: the destination has the tag at the same digest; excluded/not-included: the filters; referrers-tag: a tag-schema index. */
  reason: 'exists' | 'excluded' | 'not-included' | 'referrers-tag';
  digest?: string;
}

export interface AllTagsResult {
  copied: TagCopy[];
  skipped: SkippedTag[];
}

/**
 * `--all-tags`: every tag of the source repository, filtered, copied under the same name. Tags the
 * destination has at the same digest are skipped ("Exists"); referrers tag-schema tags
 * (`sha256-<hex>`) are skipped too: they are indexes that `-r` rebuilds at the destination (a copy
 * as a tag would overwrite the destination's own index). Tags are copied one after another, each
 * with `concurrency` blobs in flight; the first failure stops the copy.
 */
export async function copyAllTags(
  src: ReadOnlyTarget & TagLister,
  dst: Target,
  filter: TagFilter,
  options: CopyOptions & { onTag?: (t: TagCopy | SkippedTag, status: 'copied' | 'skipped') => void } = {},
): Promise<AllTagsResult> {
  const sides = new Sides(options.names);
  const tags = [...new Set(await sides.src(() => src.tags()))].sort();
  const result: AllTagsResult = { copied: [], skipped: [] };
  const skip = (s: SkippedTag) => {
    result.skipped.push(s);
    options.onTag?.(s, 'skipped');
  };
  for (const tag of tags) {
    if (isReferrersTag(tag)) skip({ tag, reason: 'referrers-tag' });
    else if (filter.include?.length && !filter.include.some((re) => re.test(tag))) skip({ tag, reason: 'not-included' });
    else if (filter.exclude?.some((re) => re.test(tag))) skip({ tag, reason: 'excluded' });
    else {
      const r = await copyReference(src, tag, dst, [tag], { ...options, names: { ...options.names, source: `${options.names?.source ?? ''}:${tag}`.replace(/^:/, '') } });
      if (r.status === 'exists') skip({ tag, reason: 'exists', digest: r.root.digest });
      else {
        const t = { tag, mediaType: r.root.mediaType, digest: r.root.digest, size: r.root.size };
        result.copied.push(t);
        options.onTag?.(t, 'copied');
      }
    }
  }
  return result;
}
