import { Readable, Transform } from 'node:stream';
import { LadingError, RegistryResponseError, toLadingError } from '../errors/errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import { digestOf, isDigest, markVerified, newHasher, Verifier } from '../oci/digest.js';
import { detectManifestMediaType, parseManifestJson } from '../oci/manifest.js';
import { isSchema1Type, MANIFEST_ACCEPT } from '../oci/mediatypes.js';
import { repositoryScope } from './auth/scope.js';
import { responseError } from './errors.js';
import { appendQuery, resolveLocation } from './http/redirect.js';
import { discard, dump, headerValue, readBounded, type HttpResponse } from './http/types.js';
import { paginate, type Registry } from './registry.js';
import { abandonSession, closeUpload, DEFAULT_CHUNK_SIZE, formatSize, minLengthOf, uploadBlob, uploadStreamChunked, type Session, type UploadSource, type Uploader } from './upload.js';
import { resumableBody } from './resume.js';

/** A fetched manifest: its descriptor and exact bytes. */
export interface FetchedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
}

/** A blob body as a stream that verifies size and digest as it is read. */
export interface FetchedBlob {
  descriptor: Descriptor;
  stream: Readable;
}

/**
 * Upload content: bytes; seekable content (`seekable()` in upload.ts: opened at any offset, so a chunk can be
 * resent or resumed without re-reading what came before); a factory giving a fresh stream from byte 0 per
 * attempt (so a 401 or 5xx can be retried); or a one-shot stream.
 */
export type BlobSource = UploadSource;

/**
 * One repository on a registry: blobs, manifests, tags (distribution-spec v1.1 endpoints).
 * Every method declares its token scope; write methods ask for pull,push up front (CASES B06).
 */
export class Repository {
  private readonly pull: string[];
  private readonly push: string[];
  private readonly del: string[];

  constructor(readonly registry: Registry, readonly name: string, options: { forPush?: boolean } = {}) {
    this.push = [repositoryScope(name, ['pull', 'push'])];
    // Opened for a write verb (tag, push): reads ask for pull,push as well, before the first request (CASES B06).
    this.pull = options.forPush ? this.push : [repositoryScope(name, ['pull'])];
    this.del = [repositoryScope(name, ['delete'])];
  }

  /** `/v2/<name>/blobs/<digest>` (spec: "Pulling blobs"). */
  private blobUrl(digest: string): string {
    return this.registry.url(`/v2/${this.name}/blobs/${digest}`);
  }
  /** `/v2/<name>/manifests/<reference>` (spec: "Pulling manifests"). */
  private manifestUrl(reference: string): string {
    return this.registry.url(`/v2/${this.name}/manifests/${reference}`);
  }
  /** `/v2/<name>/blobs/uploads/` (spec: "Pushing blobs"). */
  private uploadUrl(query = ''): string {
    return this.registry.url(`/v2/${this.name}/blobs/uploads/${query}`);
  }

  private get where(): string {
    return `${this.registry.name}/${this.name}`;
  }

  // ---- blobs ----

  /** HEAD a blob: its descriptor, or undefined when the registry does not have it. */
  async statBlob(digest: string): Promise<Descriptor | undefined> {
    const res = await this.registry.send({ method: 'HEAD', url: this.blobUrl(digest), scopes: this.pull });
    await dump(res.body);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await responseError(res, 'HEAD', `cannot check blob ${digest} in ${this.where}`);
    const size = Number(headerValue(res, 'content-length') ?? NaN);
    return { mediaType: 'application/octet-stream', digest, size: Number.isFinite(size) ? size : -1 };
  }

  /** HEAD with push scope (existence checks before an upload share the write token: B06). */
  async blobExistsForPush(digest: string): Promise<boolean> {
    const res = await this.registry.send({ method: 'HEAD', url: this.blobUrl(digest), scopes: this.push });
    await dump(res.body);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await responseError(res, 'HEAD', `cannot check blob ${digest} in ${this.where}`);
  }

  /** GET a blob as a stream that fails (at its end) unless size and digest match. */
  async fetchBlob(digest: string, expectedSize?: number): Promise<FetchedBlob> {
    if (!isDigest(digest)) throw new LadingError('usage', `invalid digest "${digest}"`);
    const res = await this.registry.send({ method: 'GET', url: this.blobUrl(digest), scopes: this.pull });
    if (res.status !== 200) {
      const err = await responseError(res, 'GET', `cannot fetch blob ${digest} from ${this.where}`);
      if (res.status === 404) err.message = `blob ${digest} not found in ${this.where}`;
      throw err;
    }
    const length = headerValue(res, 'content-length');
    let size = expectedSize ?? (length !== undefined ? Number(length) : undefined);
    // No size from the caller or the response: ask with HEAD, so an endless body cannot be written without bound.
    if (size === undefined) size = (await this.statBlob(digest).catch(() => undefined))?.size;
    if (size !== undefined && size < 0) size = undefined;
    // A dropped connection is resumed with Range from where it broke (when the size is known), and every byte
    // goes through one verifier, so the whole digest is still checked; a body that cannot go on names its request.
    const { log, sleep, retry } = this.registry.options;
    const stream = resumableBody(res, {
      what: `blob ${digest}`,
      size,
      request: (headers) => this.registry.send({ method: 'GET', url: this.blobUrl(digest), headers, scopes: this.pull }),
      policy: retry,
      log,
      sleep,
      verify: new Verifier(digest, size, `blob ${digest}`),
    });
    // Marked: a store writing this stream (an OCI layout) need not hash the same bytes again.
    if (size !== undefined) markVerified(stream, digest, size);
    return { descriptor: { mediaType: 'application/octet-stream', digest, size: size ?? -1 }, stream };
  }

  /**
   * Pushes a blob of known digest and size: HEAD is done by the caller; here POST starts a session,
   * then one monolithic PUT carries the bytes to the Location exactly as given (CASES B23, B24), or
   * PATCHed chunks do when the host's upload policy says so (upload.ts: large blob, --chunk-size, a 413).
   */
  async pushBlob(desc: { digest: string; size: number }, source: BlobSource): Promise<Descriptor> {
    return uploadBlob(this.uploader(), await this.openSession(), desc, source);
  }

  /** POST …/uploads/: the session's Location and the registry's `OCI-Chunk-Min-Length`. */
  private async openSession(): Promise<Session> {
    const url = this.uploadUrl();
    const res = await this.registry.send({ method: 'POST', url, headers: { 'content-length': '0' }, scopes: this.push });
    if (res.status !== 202) throw await responseError(res, 'POST', `cannot start blob upload to ${this.where}`);
    await dump(res.body);
    return { location: this.locationOf(res, url), minLength: minLengthOf(res) };
  }

  /** What upload.ts needs from this repository: its push scope, Location rules and PUT checks. */
  private uploader(): Uploader {
    return {
      where: this.where,
      policy: this.registry.uploads,
      log: (line) => this.registry.options.log?.(line),
      debug: (line) => this.registry.options.debug?.(line),
      start: () => this.openSession(),
      send: (req) => this.registry.send({ ...req, scopes: this.push }),
      location: (res, url) => (headerValue(res, 'location') ? this.locationOf(res, url) : undefined),
      put: (location, digest, body, length) => this.putBlob(location, digest, body, length),
      finish: (res, desc) => this.checkPut(res, desc),
      stat: async (digest) => {
        const res = await this.registry.send({ method: 'HEAD', url: this.blobUrl(digest), scopes: this.push });
        await dump(res.body);
        if (res.status === 404) return undefined;
        if (res.status !== 200) throw await responseError(res, 'HEAD', `cannot check blob ${digest} in ${this.where}`);
        return Number(headerValue(res, 'content-length') ?? NaN);
      },
      retry: this.registry.options.retry,
      sleep: this.registry.options.sleep,
    };
  }

  private locationOf(res: HttpResponse, requestUrl: string): string {
    const location = headerValue(res, 'location');
    if (!location) throw new LadingError('registry', `${this.where}: the registry answered ${res.status} without a Location header`);
    const resolved = resolveLocation(requestUrl, location);
    if (!/^https?:\/\//i.test(resolved)) {
      throw new LadingError('registry', `${this.where}: the registry answered ${res.status} with a Location that is not an http(s) URL (${resolved.split(':')[0].slice(0, 20)}:)`);
    }
    return resolved;
  }

  /**
   * `PUT <location>&digest=` (CASES B23) with the body given; the reply is returned unread. Never repeated by the
   * transport (`retry: false`): a session takes one PUT, and upload.ts decides what follows a failure.
   */
  private putBlob(location: string, digest: string, body: Buffer | (() => Readable) | Readable, length: number): Promise<HttpResponse> {
    return this.registry.send({
      method: 'PUT',
      retry: false,
      url: appendQuery(location, 'digest', digest),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
      body,
      scopes: this.push,
    });
  }

  /** A closing PUT's reply: any 2xx, the digest the registry reports, and a HEAD when it was not 201 (CASES B24d). */
  private async checkPut(res: HttpResponse, desc: { digest: string; size: number }): Promise<Descriptor> {
    if (res.status < 200 || res.status > 299) {
      const err = await responseError(res, 'PUT', `cannot upload blob ${desc.digest} to ${this.where}`);
      throw err;
    }
    await dump(res.body);
    const got = headerValue(res, 'docker-content-digest');
    if (got && got !== desc.digest) {
      throw new LadingError('digest-mismatch', `${this.where}: the registry stored blob ${got}, expected ${desc.digest}`);
    }
    if (res.status !== 201) {
      // CASES B24(d): any 2xx is success, but confirm the blob is really there.
      const stat = await this.statBlob(desc.digest);
      if (!stat) throw new LadingError('registry', `${this.where}: upload of ${desc.digest} answered ${res.status} but the blob is not there`);
    }
    return { mediaType: 'application/octet-stream', digest: desc.digest, size: desc.size };
  }

  /**
   * Pushes a stream whose digest is not known in advance (stdin): one streamed PATCH hashes the
   * bytes on the way out, then PUT ?digest= closes the session. Nothing is buffered whole. When the
   * host's policy chunks (--chunk-size, a 413 seen, or a declared size above the threshold), the
   * stream is sent a chunk at a time instead (each chunk held in memory while it is sent). A failed
   * upload deletes its session (best effort).
   */
  async pushBlobStream(stream: Readable, expectedSize?: number): Promise<Descriptor> {
    const session = await this.openSession();
    const hash = newHasher();
    const chunk = this.registry.uploads.chunkFor(expectedSize, session.minLength);
    if (chunk !== undefined) return uploadStreamChunked(this.uploader(), session, stream, chunk, hash, expectedSize);
    // The session's latest Location, and whether it is still open (deleted when the upload fails).
    const at = { location: session.location, open: true };
    try {
      return await this.streamInto(at, stream, hash, expectedSize);
    } catch (err) {
      if (at.open) await abandonSession(this.uploader(), at.location);
      throw err;
    }
  }

  /** One streamed PATCH of `stream` to `at.location`, then the closing PUT. */
  private async streamInto(at: { location: string; open: boolean }, stream: Readable, hash: ReturnType<typeof newHasher>, expectedSize?: number): Promise<Descriptor> {
    const location = at.location;
    let size = 0;
    // With a declared size the body is checked as it goes: undici would otherwise fail the request with a
    // content-length error that looks like a network fault (exit 7) instead of a size mismatch (exit 5).
    const sizeMismatch = () =>
      new LadingError('digest-mismatch', `blob size mismatch: --size says ${expectedSize} bytes, read ${size > expectedSize! ? `more than ${expectedSize}` : size}`);
    const counted = stream.pipe(
      new Transform({
        transform(chunk: Buffer, _e, cb) {
          size += chunk.length;
          if (expectedSize !== undefined && size > expectedSize) return cb(sizeMismatch());
          hash.update(chunk);
          cb(null, chunk);
        },
        flush(cb) {
          cb(expectedSize !== undefined && size !== expectedSize ? sizeMismatch() : null);
        },
      }),
    );
    stream.on('error', (e) => counted.destroy(e));
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (expectedSize !== undefined) headers['content-length'] = String(expectedSize);
    let res: HttpResponse;
    try {
      res = await this.registry.send({ method: 'PATCH', url: location, headers, body: counted, scopes: this.push, retry: false });
    } catch (err) {
      // A proxy may enforce a body limit by closing the connection instead of answering 413: the same advice.
      const e = toLadingError(err);
      if (e.kind === 'network') {
        e.message += ` (stdin sent in one request cannot be sent again; a registry or proxy that refuses large bodies may close the connection: retry with --chunk-size set to ${formatSize(DEFAULT_CHUNK_SIZE).replace(' ', '')} or less)`;
      }
      throw e;
    }
    if (res.status === 413) {
      // The stream is spent: nothing to resend. Later uploads to this host go in chunks. The size advised depends on
      // the declared size only (how much of a stream was read before the refusal varies from run to run); any size
      // works, since a chunk refused with 413 is halved until it passes.
      const learned = this.registry.uploads.refusedWhole(expectedSize);
      const err = await responseError(res, 'PATCH', `cannot upload blob to ${this.where}`);
      err.message += ` (the registry refuses bodies this large; retry with --chunk-size set to ${formatSize(learned).replace(' ', '')} or less)`;
      throw err;
    }
    if (res.status !== 202 && res.status !== 204) throw await responseError(res, 'PATCH', `cannot upload blob to ${this.where}`);
    await dump(res.body);
    if (expectedSize !== undefined && size !== expectedSize) throw sizeMismatch();
    const digest = `sha256:${hash.digest('hex')}`;
    at.location = this.locationOf(res, location);
    const closing = { location: at.location, closed: false };
    try {
      return { ...(await closeUpload(this.uploader(), closing, { digest, size })), size };
    } finally {
      at.open = !closing.closed;
    }
  }

  /**
   * Cross-repository mount (`POST …/uploads/?mount=<digest>&from=<repo>`), falling back to an upload
   * (CASES B26): 201 means mounted (checked against `Docker-Content-Digest` when the registry sends
   * it); 202 opens a normal session, which the upload then uses (no second POST); a refusal (401/403/
   * 404 …, or an error getting a token for the `from` repository) is logged as one line, "mount from
   * X refused; uploading", and the blob is uploaded as usual. The mount is only an optimisation and
   * is never the reason a copy fails; only an unreachable registry (a network error, which the upload
   * would meet again) ends it here. Returns whether the blob was mounted.
   */
  async mountOrUpload(desc: { digest: string; size: number }, from: string, source: BlobSource, log?: (line: string) => void): Promise<boolean> {
    const url = this.uploadUrl(`?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(from)}`);
    let res: HttpResponse | undefined;
    try {
      res = await this.registry.send({ method: 'POST', url, headers: { 'content-length': '0' }, scopes: [...this.push, repositoryScope(from, ['pull'])] });
    } catch (err) {
      if ((err as LadingError).kind === 'network') throw err;
    }
    if (res?.status === 201) {
      await dump(res.body);
      const got = headerValue(res, 'docker-content-digest');
      if (got && got !== desc.digest) throw new LadingError('digest-mismatch', `${this.where}: mounting ${desc.digest} from ${from}, the registry reports blob ${got}`);
      return true;
    }
    if (res?.status === 202 && headerValue(res, 'location')) {
      await dump(res.body);
      await uploadBlob(this.uploader(), { location: this.locationOf(res, url), minLength: minLengthOf(res) }, desc, source);
      return false;
    }
    if (res) await dump(res.body);
    log?.(`mount from ${from} refused; uploading`);
    await this.pushBlob(desc, source);
    return false;
  }

  async deleteBlob(digest: string): Promise<void> {
    const res = await this.registry.send({ method: 'DELETE', url: this.blobUrl(digest), scopes: this.del.concat(this.push) });
    if (res.status === 202 || res.status === 200 || res.status === 204) {
      await dump(res.body);
      return;
    }
    const err = await responseError(res, 'DELETE', `cannot delete blob ${digest} from ${this.where}`);
    if (res.status === 404) err.message = `blob ${digest} not found in ${this.where}`;
    if (res.status === 405) err.message = `${this.where}: the registry does not allow deleting blobs (405 UNSUPPORTED)`;
    throw err;
  }

  // ---- manifests ----

  /** GET a manifest by tag or digest: exact bytes, bounded by the manifest size limit (CASES B19, B20, B22). */
  async fetchManifest(reference: string, accept: string[] = MANIFEST_ACCEPT): Promise<FetchedManifest> {
    const res = await this.registry.send({
      method: 'GET',
      url: this.manifestUrl(reference),
      headers: { accept: accept.join(', ') },
      scopes: this.pull,
    });
    if (res.status !== 200) throw await this.manifestError(res, 'GET', reference);
    const limit = this.registry.maxManifestSize;
    const length = headerValue(res, 'content-length');
    if (length !== undefined && Number(length) > limit) {
      discard(res.body); // not read: the declared size may be anything
      throw tooLarge(limit, Number(length));
    }
    const bytes = await readBounded(res.body, limit, 'manifest').catch((e) => {
      throw (e as LadingError).kind === 'too-large' ? tooLarge(limit) : e;
    });
    // Schema 1 (a registry's fallback when none of the accepted types is stored) says so before any digest check:
    // its signed body never matches its digest header, which would read as corruption.
    if (isSchema1Type(headerValue(res, 'content-type')?.split(';')[0].trim())) detectManifestMediaType({ schemaVersion: 1 });
    const digest = digestOf(bytes);
    if (isDigest(reference) && reference !== digest) {
      if (reference.startsWith('sha256:') || digestOf(bytes, reference.split(':')[0]) !== reference) {
        throw new LadingError('digest-mismatch', `manifest ${reference} from ${this.where}: content digest is ${digest}`);
      }
    }
    const header = headerValue(res, 'docker-content-digest');
    if (header && header.startsWith('sha256:') && header !== digest && !isDigest(reference)) {
      throw new LadingError('digest-mismatch', `manifest ${this.where}:${reference}: Docker-Content-Digest says ${header}, content is ${digest}`);
    }
    const mediaType = detectManifestMediaType(parseManifestJson(bytes), headerValue(res, 'content-type'));
    return { descriptor: { mediaType, digest: isDigest(reference) ? reference : digest, size: bytes.length }, bytes };
  }

  /** HEAD a manifest: its descriptor; falls back to GET when the digest header is missing (CASES B20a). */
  async resolve(reference: string, accept: string[] = MANIFEST_ACCEPT): Promise<Descriptor> {
    const res = await this.registry.send({
      method: 'HEAD',
      url: this.manifestUrl(reference),
      headers: { accept: accept.join(', ') },
      scopes: this.pull,
    });
    if (res.status !== 200) throw await this.manifestError(res, 'HEAD', reference);
    await dump(res.body);
    const digest = headerValue(res, 'docker-content-digest');
    const type = headerValue(res, 'content-type')?.split(';')[0].trim();
    const size = Number(headerValue(res, 'content-length'));
    if (!digest || !isDigest(digest) || !type || type === 'application/json' || !Number.isFinite(size)) {
      return (await this.fetchManifest(reference, accept)).descriptor;
    }
    if (isDigest(reference) && digest !== reference) {
      throw new LadingError('digest-mismatch', `manifest ${reference} from ${this.where}: the registry reports digest ${digest}`);
    }
    return { mediaType: type, digest, size };
  }

  /** PUT a manifest under a tag or digest; the digest is computed from the bytes sent (CASES B20b). */
  async pushManifest(reference: string, bytes: Buffer, mediaType: string): Promise<Descriptor & { ociSubject?: string }> {
    const digest = digestOf(bytes);
    if (isDigest(reference) && reference !== digest) {
      throw new LadingError('digest-mismatch', `manifest content digest is ${digest}, not ${reference}`);
    }
    const res = await this.registry.send({
      method: 'PUT',
      url: this.manifestUrl(reference),
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: bytes,
      scopes: this.push,
    });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202 && res.status !== 204) {
      throw await this.manifestError(res, 'PUT', reference);
    }
    await dump(res.body);
    const got = headerValue(res, 'docker-content-digest');
    if (got && got.startsWith('sha256:') && got !== digest) {
      throw new LadingError('digest-mismatch', `${this.where}: the registry stored manifest ${got}, we sent ${digest}`);
    }
    // distribution-spec "Pushing Manifests with Subject": OCI-Subject says the registry indexed the referrer.
    const subject = headerValue(res, 'oci-subject');
    return subject ? { mediaType, digest, size: bytes.length, ociSubject: subject } : { mediaType, digest, size: bytes.length };
  }

  /**
   * The referrers API (`GET /v2/<name>/referrers/<digest>`, distribution-spec v1.1): the referrer
   * descriptors, all pages (`Link`), with `?artifactType=` when filtering. A page whose reply says
   * `OCI-Filters-Applied: artifactType` is taken as filtered by the registry; any other page is
   * filtered here. `undefined` when the registry has no referrers API: the first request answered
   * 404 (without NAME_UNKNOWN, which means an unknown repository) or 405.
   */
  async referrers(digest: string, artifactType?: string): Promise<Descriptor[] | undefined> {
    if (!isDigest(digest)) throw new LadingError('usage', `invalid digest "${digest}"`);
    const q = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    const out: Descriptor[] = [];
    let pages = 0;
    const first = this.registry.url(`/v2/${this.name}/referrers/${digest}${q}`);
    try {
      await paginate(this.registry, first, this.pull, `list referrers of ${digest} in ${this.where}`, (page, res) => {
        pages++;
        const p = page as { manifests?: unknown } | null;
        if (!p || typeof p !== 'object' || !Array.isArray(p.manifests)) {
          throw new LadingError('registry', `referrers of ${digest} in ${this.where}: the registry answered without a "manifests" list`);
        }
        const listed = (p.manifests as unknown[]).filter((d): d is Descriptor => !!d && typeof (d as Descriptor).digest === 'string');
        const filtered = /(^|,)\s*artifactType\s*(,|$)/.test(headerValue(res, 'oci-filters-applied') ?? '');
        out.push(...(artifactType && !filtered ? listed.filter((d) => d.artifactType === artifactType) : listed));
      }, { accept: 'application/vnd.oci.image.index.v1+json, application/json' });
    } catch (err) {
      if (pages === 0 && err instanceof RegistryResponseError && ((err.status === 404 && !err.hasCode('NAME_UNKNOWN')) || err.status === 405)) return undefined;
      throw err;
    }
    return out;
  }

  /** DELETE a manifest by digest (a tag is resolved first: Distribution deletes only by digest). */
  async deleteManifest(reference: string): Promise<Descriptor> {
    const desc = await this.resolve(reference);
    const res = await this.registry.send({ method: 'DELETE', url: this.manifestUrl(desc.digest), scopes: this.del.concat(this.push) });
    if (res.status === 202 || res.status === 200 || res.status === 204) {
      await dump(res.body);
      return desc;
    }
    const err = await this.manifestError(res, 'DELETE', desc.digest);
    if (res.status === 405) err.message = `${this.where}: the registry does not allow deleting manifests (405 UNSUPPORTED)`;
    throw err;
  }

  private async manifestError(res: HttpResponse, method: string, reference: string): Promise<LadingError> {
    const err = await responseError(res, method, `${method === 'PUT' ? 'cannot push' : method === 'DELETE' ? 'cannot delete' : 'cannot fetch'} manifest ${this.where}${isDigest(reference) ? '@' : ':'}${reference}`);
    if (res.status === 404 && method !== 'PUT') {
      err.message = `${this.where}${isDigest(reference) ? '@' : ':'}${reference}: not found`;
      if (err.errors[0]?.message && /accept header/i.test(err.errors[0].message)) err.message += ` (${err.errors[0].message})`;
    }
    if (res.status === 404 && method === 'PUT' && err.errors.length === 0) {
      err.message = `cannot push manifest to ${this.where}:${reference}: the registry rejected the reference (404 ${(err.message.split(': ').pop() ?? '').trim()})`;
    }
    return err;
  }

  // ---- tags ----

  /** All tags (`/v2/<name>/tags/list`), following Link pagination; `n` is never sent (CASES B27). */
  async tags(options: { last?: string } = {}): Promise<string[]> {
    const q = options.last ? `?last=${encodeURIComponent(options.last)}` : '';
    const tags: string[] = [];
    await paginate(this.registry, this.registry.url(`/v2/${this.name}/tags/list${q}`), this.pull, `list tags of ${this.where}`, (page) => {
      const list = (page as { tags?: unknown }).tags;
      if (Array.isArray(list)) tags.push(...list.filter((t): t is string => typeof t === 'string'));
    });
    return tags;
  }
}

function tooLarge(limit: number, got?: number): LadingError {
  return new LadingError(
    'too-large',
    `manifest exceeds ${limit} bytes (got ${got ?? `more than ${limit}`}); use --max-manifest-size`,
  );
}
