import { verifiedFileStream } from '../file-stream.js';
import { mkdtemp, mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { LadingError } from '../../errors/errors.js';
import type { Descriptor } from '../../oci/descriptor.js';
import { digestOf, isDigest, isVerified, parseDigest, VerifyingStream } from '../../oci/digest.js';
import { isManifestType, MediaType } from '../../oci/mediatypes.js';
import { referrerDescriptor, subjectOf } from '../../oci/referrers.js';
import { writeFileAtomic } from '../atomic-file.js';
import type { Content, Deleter, ReferrerLister, TagLister, Target } from '../interfaces.js';
import { forgetAtExit, removeAtExit } from './cleanup.js';
import {
  addUntagged,
  emptyIndex,
  entries,
  INDEX_FILE,
  LOCK_FILE,
  publicDescriptor,
  readIndex,
  refName,
  removeDigest,
  setTag,
  updateIndex,
  writeIndex,
} from './index-file.js';
import { withFileLock, type LockOptions } from './lock.js';
import { LAYOUT_TAG_RE } from './reference.js';
import { extractTar, isTarFile } from './tar.js';

export { parseLayoutReference, type LayoutReference } from './reference.js';

/** The `oci-layout` file of a layout lading writes (image-spec image-layout.md). */
export const OCI_LAYOUT_FILE = 'oci-layout';
export const OCI_LAYOUT_CONTENT = '{"imageLayoutVersion":"1.0.0"}';
/** Manifests are read into memory (referrers, resolve by digest) only up to this size, as from a registry. */
export const MANIFEST_LIMIT = 4 * 1024 * 1024;

export interface OciLayoutOpenOptions {
  /** Create the layout when the folder is missing or empty (default: true unless readOnly). */
  create?: boolean;
  /** Refuse every write (push, tag, delete). A `.tar` archive always opens read-only. */
  readOnly?: boolean;
  /** Timing of the index.json lock (tests shorten the stale timeout). */
  lock?: LockOptions;
  /** Where a `.tar` archive is extracted (default: the OS temporary folder). */
  tempDir?: string;
}

/** Names a folder may hold while another process is still creating a layout in it. */
const IN_CREATION = /^(blobs|index\.json|index\.json\.lock(\.stale\..*)?|\.index\.json\..*\.partial|\.oci-layout\..*\.partial)$/;

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}

/**
 * An OCI image layout (image-spec image-layout.md) as a content Target: blobs under
 * `blobs/<alg>/<hex>`, manifests and tags in `index.json` (the tag is the
 * `org.opencontainers.image.ref.name` annotation), after oras-go v2 `content/oci`.
 *
 * - Every blob is written to a temporary file next to its final name, verified (size and digest)
 *   while streaming, then renamed: nothing half-written is ever left under a blob's name.
 * - Every manifest pushed is listed in index.json, untagged when it has no tag, so referrers pushed
 *   without a tag stay discoverable (as oras-go does). A tag moved away leaves the old manifest listed untagged.
 * - index.json changes are made under `index.json.lock` (see lock.ts) and written atomically, so
 *   several processes can push and tag into one layout at once.
 * - A `.tar` archive of a layout is extracted to a temporary folder and opened read-only.
 */
export class OciLayoutStore implements Target, TagLister, Deleter, ReferrerLister {
  /** Manifests read so far, by digest (content-addressed, so never stale). */
  private readonly manifests = new Map<string, Record<string, unknown> | null>();
  private closed = false;

  private constructor(
    /** The layout folder or archive, as given to `open`. */
    readonly path: string,
    /** The layout folder read and written (for an archive: where it was extracted). */
    readonly root: string,
    readonly readOnly: boolean,
    private readonly extractedTo: string | undefined,
    private readonly lockOptions: LockOptions | undefined,
  ) {}

  static async open(path: string, options: OciLayoutOpenOptions = {}): Promise<OciLayoutStore> {
    if (path === '') throw new LadingError('usage', 'OCI layout path is empty');
    const readOnly = options.readOnly ?? false;
    const create = options.create ?? !readOnly;
    const st = await statOrUndefined(path);

    if (st?.isDirectory()) {
      const names = await readdir(path);
      if (names.includes(OCI_LAYOUT_FILE)) {
        await checkLayoutVersion(path);
        return new OciLayoutStore(path, path, readOnly, undefined, options.lock);
      }
      if (!names.every((n) => IN_CREATION.test(n))) {
        throw new LadingError('usage', `${path} is not an OCI image layout: it has no oci-layout file and is not empty`);
      }
      if (!create || readOnly) throw new LadingError('not-found', `${path} is not an OCI image layout (no oci-layout file)`);
      await createLayout(path, options.lock);
      return new OciLayoutStore(path, path, false, undefined, options.lock);
    }

    if (st?.isFile()) {
      if (!(await isTarFile(path))) {
        throw new LadingError('usage', `${path} is a file but not a tar archive: expected an OCI image layout folder or a layout archive (.tar)`);
      }
      return OciLayoutStore.openArchive(path, options);
    }
    if (st) throw new LadingError('usage', `${path} is neither a folder nor a file`);

    if (/\.tar$/i.test(path)) {
      if (!create || readOnly) throw new LadingError('not-found', `OCI layout archive ${path} does not exist`);
      throw new LadingError('unsupported', `${path}: writing an OCI layout tar archive is not supported; write to a folder, then archive it with tar -cf ${basename(path)} -C FOLDER .`);
    }
    if (!create || readOnly) throw new LadingError('not-found', `OCI image layout ${path} does not exist`);
    await createLayout(path, options.lock);
    return new OciLayoutStore(path, path, false, undefined, options.lock);
  }

  private static async openArchive(path: string, options: OciLayoutOpenOptions): Promise<OciLayoutStore> {
    const dir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'lading-layout-'));
    removeAtExit(dir);
    const drop = async () => {
      await rm(dir, { recursive: true, force: true });
      forgetAtExit(dir);
    };
    try {
      await extractTar(path, dir);
      let root = dir;
      if (!(await statOrUndefined(join(dir, OCI_LAYOUT_FILE)))) {
        // `tar -cf x.tar layout` puts the layout one folder down.
        const names = await readdir(dir);
        if (names.length === 1 && (await statOrUndefined(join(dir, names[0], OCI_LAYOUT_FILE)))) root = join(dir, names[0]);
        else throw new LadingError('usage', `${path} is not an OCI image layout archive: it has no oci-layout file`);
      }
      await checkLayoutVersion(root);
      return new OciLayoutStore(path, root, true, dir, options.lock);
    } catch (err) {
      await drop();
      throw err;
    }
  }

  /** Removes the folder an archive was extracted to. The store is unusable afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.extractedTo) {
      await rm(this.extractedTo, { recursive: true, force: true });
      forgetAtExit(this.extractedTo);
    }
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    const file = this.blobPath(desc.digest);
    let handle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') throw this.notFound(desc.digest);
      throw err;
    }
    const { size } = await handle.stat();
    if (size !== desc.size) {
      await handle.close();
      throw new LadingError('digest-mismatch', `blob ${desc.digest} in OCI layout ${this.path}: ${size} bytes, descriptor says ${desc.size}`);
    }
    // Read in 1 MiB pieces and hashed as read; the file is closed at the end or when the reader destroys the stream.
    return verifiedFileStream(handle, desc.digest, desc.size, `blob ${desc.digest} in OCI layout ${this.path}`);
  }

  async exists(desc: Descriptor): Promise<boolean> {
    const st = await statOrUndefined(this.blobPath(desc.digest));
    return st?.isFile() ?? false;
  }

  async push(desc: Descriptor, content: Content): Promise<void> {
    await this.store(desc, content, undefined);
  }

  /** push, then tag, with one index.json update. */
  async pushReference(desc: Descriptor, content: Content, tag: string): Promise<void> {
    checkTag(tag);
    await this.store(desc, content, tag);
  }

  async resolve(reference: string): Promise<Descriptor> {
    this.checkOpen();
    const listed = entries(await readIndex(this.root));
    if (isDigest(reference)) {
      const entry = listed.filter((e) => e.digest === reference).pop();
      if (entry) return publicDescriptor(entry);
      return this.describeBlob(reference);
    }
    const entry = listed.filter((e) => refName(e) === reference).pop();
    if (entry) return publicDescriptor(entry);
    if (reference.includes(':') && !reference.includes('/')) parseDigest(reference); // a malformed digest: say so
    throw new LadingError('not-found', `${reference}: not found in OCI layout ${this.path}`);
  }

  async tag(desc: Descriptor, tag: string): Promise<void> {
    this.checkWritable();
    checkTag(tag);
    if (!(await this.exists(desc))) throw this.notFound(desc.digest);
    await updateIndex(this.root, (m) => setTag(m, desc, tag), this.lockOptions);
  }

  async tags(): Promise<string[]> {
    this.checkOpen();
    const names = new Set<string>();
    for (const e of entries(await readIndex(this.root))) {
      const name = refName(e);
      if (name !== undefined) names.add(name);
    }
    return [...names].sort();
  }

  /** Removes the blob and every index.json entry of its digest (the index first: never an entry without its blob). */
  async delete(desc: Descriptor): Promise<void> {
    this.checkWritable();
    const file = this.blobPath(desc.digest);
    let found = false;
    await updateIndex(
      this.root,
      (m) => {
        const next = removeDigest(m, desc.digest);
        if (next) found = true;
        return next;
      },
      this.lockOptions,
    );
    try {
      await rm(file);
      found = true;
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
    }
    this.manifests.delete(desc.digest);
    if (!found) throw this.notFound(desc.digest);
  }

  /**
   * Manifests in the layout whose `subject` is `subject`: every manifest listed in index.json and
   * every manifest reachable through a listed index. Described as the referrers API lists them
   * (artifactType: the manifest's, else its config media type; annotations).
   */
  async referrers(subject: Descriptor, artifactType?: string): Promise<Descriptor[]> {
    this.checkOpen();
    const queue = entries(await readIndex(this.root));
    const seen = new Set<string>();
    const out: Descriptor[] = [];
    while (queue.length > 0) {
      const d = queue.shift() as Descriptor;
      if (typeof d?.digest !== 'string' || seen.has(d.digest) || !isManifestType(d.mediaType)) continue;
      seen.add(d.digest);
      const manifest = await this.readManifest(d);
      if (!manifest) continue;
      if (subjectOf(manifest)?.digest === subject.digest) {
        const r = referrerDescriptor(d, manifest);
        if (artifactType === undefined || r.artifactType === artifactType) out.push(r);
      }
      if (Array.isArray(manifest.manifests)) queue.push(...(manifest.manifests as Descriptor[]));
    }
    return out;
  }

  private async store(desc: Descriptor, content: Content, tag: string | undefined): Promise<void> {
    this.checkWritable();
    const file = this.blobPath(desc.digest);
    if (!(await statOrUndefined(file))?.isFile()) await this.writeBlob(desc, content, file);
    if (tag !== undefined) {
      await updateIndex(this.root, (m) => setTag(m, desc, tag), this.lockOptions);
    } else if (isManifestType(desc.mediaType)) {
      // Most pushes of a manifest already listed need no lock at all.
      if (entries(await readIndex(this.root)).some((e) => e.digest === desc.digest)) return;
      await updateIndex(this.root, (m) => addUntagged(m, desc), this.lockOptions);
    }
  }

  /**
   * Streams the content through a VerifyingStream into a temporary file next to the blob's final
   * name (writeFileAtomic: blobs/<alg>/.<hex>.<random>.partial), renamed only once verified and
   * removed on any failure. The source is only read once the file is open (a lazy generator, handed to the
   * writer as it is), so a verification error always reaches the writer instead of going unhandled.
   */
  private async writeBlob(desc: Descriptor, content: Content, file: string): Promise<void> {
    const verified = async function* (): AsyncGenerator<Buffer> {
      const source = Buffer.isBuffer(content) ? Readable.from([content]) : content();
      // A source that verifies this very digest and size (a registry download) is not hashed twice.
      let verifier: Readable = source;
      if (!isVerified(source, desc.digest, desc.size)) {
        verifier = new VerifyingStream(desc.digest, desc.size, `content for ${desc.digest}`);
        pipeline(source, verifier as VerifyingStream, () => undefined); // errors on either side surface through `verifier`
      }
      try {
        for await (const chunk of verifier) yield chunk as Buffer;
      } finally {
        source.destroy();
      }
    };
    await writeFileAtomic(file, verified());
  }

  /** The descriptor of a blob not listed in index.json: a manifest's media type when it is one, else octet-stream (as oras-go). */
  private async describeBlob(digest: string): Promise<Descriptor> {
    const st = await statOrUndefined(this.blobPath(digest));
    if (!st?.isFile()) throw this.notFound(digest);
    const desc: Descriptor = { mediaType: 'application/octet-stream', digest, size: st.size };
    const manifest = await this.readManifest(desc);
    const mediaType = manifest ? manifestMediaType(manifest) : undefined;
    return mediaType ? { ...desc, mediaType } : desc;
  }

  /** A manifest as JSON (verified), or undefined when it is missing, too large, or not a JSON object. */
  private async readManifest(desc: Descriptor): Promise<Record<string, unknown> | undefined> {
    const cached = this.manifests.get(desc.digest);
    if (cached !== undefined) return cached ?? undefined;
    if (desc.size > MANIFEST_LIMIT) return undefined;
    let bytes: Buffer;
    try {
      bytes = await readFile(this.blobPath(desc.digest));
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return undefined;
      throw err;
    }
    if (bytes.length > MANIFEST_LIMIT) return undefined;
    const actual = digestOf(bytes, parseDigest(desc.digest).algorithm);
    if (actual !== desc.digest) {
      throw new LadingError('digest-mismatch', `blob ${desc.digest} in OCI layout ${this.path} is corrupt: its digest is ${actual}`);
    }
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch {
      value = null;
    }
    const manifest = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
    this.manifests.set(desc.digest, manifest);
    return manifest ?? undefined;
  }

  private blobPath(digest: string): string {
    this.checkOpen();
    const { algorithm, hex } = parseDigest(digest);
    return join(this.root, 'blobs', algorithm, hex);
  }

  private notFound(digest: string): LadingError {
    return new LadingError('not-found', `${digest}: not found in OCI layout ${this.path}`);
  }

  private checkOpen(): void {
    if (this.closed) throw new LadingError('internal', `OCI layout ${this.path} is closed`);
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.readOnly) {
      throw new LadingError('unsupported', `OCI layout ${this.path} is ${this.extractedTo ? 'a tar archive, read-only' : 'opened read-only'}`);
    }
  }
}

function checkTag(tag: string): void {
  if (!LAYOUT_TAG_RE.test(tag)) {
    throw new LadingError('usage', `invalid tag "${tag}" (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')`);
  }
}

/** The media type of a manifest from its content: declared, or worked out from its shape; undefined for other JSON. */
function manifestMediaType(m: Record<string, unknown>): string | undefined {
  if (typeof m.mediaType === 'string') return isManifestType(m.mediaType) ? m.mediaType : undefined;
  if (m.schemaVersion !== 2) return undefined;
  if (Array.isArray(m.manifests)) return MediaType.ociIndex;
  if (m.config && typeof m.config === 'object' && Array.isArray(m.layers)) return MediaType.ociManifest;
  return undefined;
}

async function checkLayoutVersion(root: string): Promise<void> {
  const file = join(root, OCI_LAYOUT_FILE);
  let version: unknown;
  try {
    version = (JSON.parse(await readFile(file, 'utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch (err) {
    throw new LadingError('usage', `${file} is not valid: ${(err as Error).message}`);
  }
  if (typeof version !== 'string' || !/^1\.\d+\.\d+$/.test(version)) {
    throw new LadingError('unsupported', `${file}: unsupported imageLayoutVersion ${JSON.stringify(version)} (lading reads 1.x layouts)`);
  }
}

/**
 * Creates the layout files that are missing: `blobs/`, `index.json`, then `oci-layout` last (its
 * presence marks a complete layout). Done under the index lock, so concurrent creators agree.
 */
async function createLayout(path: string, lock: LockOptions | undefined): Promise<void> {
  await mkdir(join(path, 'blobs'), { recursive: true });
  await withFileLock(
    join(path, LOCK_FILE),
    async () => {
      if (!(await statOrUndefined(join(path, INDEX_FILE)))) await writeIndex(path, emptyIndex());
      if (!(await statOrUndefined(join(path, OCI_LAYOUT_FILE)))) {
        await writeFileAtomic(join(path, OCI_LAYOUT_FILE), Readable.from([Buffer.from(OCI_LAYOUT_CONTENT)]));
      }
    },
    lock,
  );
}
