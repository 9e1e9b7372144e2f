import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { LadingError, RegistryResponseError } from '../errors/errors.js';
import type { Descriptor } from '../oci/descriptor.js';
import type { Hash } from 'node:crypto';
import { responseError } from './errors.js';
import { DEFAULT_RETRY, retryDelay, type RetryPolicy } from './http/retry.js';
import { dump, headerValue, type HttpRequest, type HttpResponse } from './http/types.js';

/**
 * Blob uploads (distribution-spec "Pushing blobs"): monolithic by default, chunked when a blob is
 * large, when the host refused a large body (413), or when asked (`--chunk-size`).
 *
 * Chunked: `PATCH <latest Location>` with `Content-Type: application/octet-stream`, `Content-Length`
 * and `Content-Range: <start>-<end>` (inclusive, no `bytes=`), each reply's Location and Range used
 * for the next; then `PUT <Location>?digest=` with an empty body (spec "Pushing a blob in chunks").
 * Every PATCH body is repeatable (bytes, or a stream opened at an offset), so the auth layer can
 * renew an expired token and send the same chunk again without losing the session.
 *
 * When a chunk fails (connection error, 5xx, 416, 404), the upload asks the registry where it
 * stands (`GET <Location>` → 204 `Range: 0-N`) and goes on from byte N+1, which may be inside the
 * chunk. A session that is gone or invalid is started again from byte 0, a bounded number of times.
 * Distribution 2.8 keeps a session only when a dropped PATCH never reached it: once any byte of a
 * PATCH arrived, the bytes stored no longer match the offset in `_state`, and every later request on
 * that session (GET, PATCH, PUT) answers 404 BLOB_UPLOAD_INVALID ("upload resumed at wrong offset").
 *
 * Every way round the loop is bounded: `Range: 0-0` is no byte (PATCH and GET alike), progress is
 * only beyond the most the registry ever acknowledged in the session, resumes without progress and
 * sessions started again are counted, and so is every interruption, progress or not. A chunk cut with
 * nothing reaching the registry is halved first (a body limit enforced by closing the connection), as
 * a 413 is. A session given up is deleted, best effort.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Bytes per PATCH when a blob is chunked and nothing else says otherwise. */
export const DEFAULT_CHUNK_SIZE = 4 * MiB;
/**
 * Blobs larger than this are chunked by default. Measured against Distribution 2.8 on 127.0.0.1
 * (a 256 MiB blob from a file, medians of 5 runs, twice): 1.35-1.4 s in one PUT, 2.0-2.1 s in 4 MiB
 * chunks, 1.6 s in 16 MiB chunks, 1.4-1.5 s in 64 MiB chunks; each PATCH costs Distribution about
 * 12 ms (it reopens the upload and stores its hash state), more over a real network (a round trip). Up to
 * 1 GiB one request is faster and a failed one is cheap to send again; above it, a single request
 * runs into the body-size and time limits of proxies in front of registries, and a failure costs
 * gigabytes, so chunks (which a registry that keeps partial uploads lets us resume) are worth it.
 */
export const DEFAULT_CHUNK_THRESHOLD = 1 * GiB;
/** The smallest chunk: `--chunk-size` below it is refused, and halving after a 413 stops here. */
export const MIN_CHUNK_SIZE = 64 * KiB;
/** The largest `--chunk-size` (a chunk read from a stream is held in memory while it is sent). */
export const MAX_CHUNK_SIZE = 1 * GiB;
/** Times one blob's upload may start over in a new session (the old one lost or invalid). */
export const MAX_SESSION_RESTARTS = 2;
/**
 * Resumes in a row that bring the registry no new byte before the upload gives up. Progress means more bytes
 * than the registry ever acknowledged in the session: bytes it acknowledged, forgot and took again are none.
 */
export const MAX_RESUMES_WITHOUT_PROGRESS = 3;
/**
 * Interruptions one blob may meet (resumes, new sessions, chunks taken only in part), progress or not, beyond
 * its number of chunks: however a registry answers, an upload ends.
 */
export const MAX_EXTRA_RESUMES = 20;
/** A monolithic PUT larger than this that fails at the connection level is sent again in chunks. */
export const CHUNK_FALLBACK_MIN_SIZE = 1 * MiB;
/** How long the DELETE of an abandoned upload session may take (it is best effort). */
const ABANDON_TIMEOUT_MS = 10_000;

// ---- content that can be opened at an offset ----

/**
 * Upload content that can be opened at any byte offset (a file, a buffer). It is also a plain
 * factory (calling it opens at 0), so every store that takes `() => Readable` takes it too. Only
 * values made by `seekable()` carry `openAt`: an old-style factory, which would ignore an offset,
 * can never be taken for one.
 */
export type SeekableContent = (() => Readable) & {
  /** A stream of the content from byte `offset`; `length` bytes are wanted (more may come, fewer only at the end). */
  readonly openAt: (offset: number, length?: number) => Readable;
};

/** Marks an opener as seekable content. */
export function seekable(openAt: (offset: number, length?: number) => Readable): SeekableContent {
  const content = () => openAt(0);
  return Object.assign(content, { openAt });
}

/** A file as seekable content: each open reads from its offset (`createReadStream` with `start`/`end`). */
export function fileContent(path: string): SeekableContent {
  return seekable((offset, length) =>
    createReadStream(path, { start: offset, ...(length !== undefined && length > 0 ? { end: offset + length - 1 } : {}), highWaterMark: MiB }),
  );
}

export function isSeekable(source: unknown): source is SeekableContent {
  return typeof source === 'function' && typeof (source as Partial<SeekableContent>).openAt === 'function';
}

/** What an upload accepts: bytes, seekable content, a factory of fresh streams from byte 0, or a one-shot stream. */
export type UploadSource = Buffer | SeekableContent | (() => Readable) | Readable;

// ---- --chunk-size ----

const UNITS: Record<string, number> = { '': 1, b: 1, k: KiB, kib: KiB, kb: 1000, m: MiB, mib: MiB, mb: 1000 ** 2, g: GiB, gib: GiB, gb: 1000 ** 3 };

/**
 * Parses `--chunk-size`: bytes (`1048576`), or a number with a unit: `K`/`KiB`, `M`/`MiB`, `G`/`GiB`
 * (powers of 1024) or `KB`/`MB`/`GB` (powers of 1000), case-insensitive, fractions allowed (`1.5MiB`).
 * `off` or `0` returns 0: never chunk because of size (a 413 still switches to chunks). `auto` or ''
 * returns undefined (the default). Sizes from 64 KiB to 1 GiB.
 */
export function parseChunkSize(raw: string, flag = '--chunk-size'): number | undefined {
  const v = raw.trim().toLowerCase();
  if (v === '' || v === 'auto') return undefined;
  if (v === 'off' || v === '0') return 0;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(v);
  const unit = m ? UNITS[m[2]] : undefined;
  if (!m || unit === undefined) {
    throw new LadingError('usage', `invalid ${flag} "${raw.trim()}": expected a size such as 4MiB, 512KiB, 16M or 1048576 (bytes), or off`);
  }
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes < MIN_CHUNK_SIZE || bytes > MAX_CHUNK_SIZE) {
    throw new LadingError('usage', `invalid ${flag} "${raw.trim()}": a chunk must be from 64KiB to 1GiB (or off)`);
  }
  return bytes;
}

export function formatSize(n: number): string {
  if (n >= MiB && n % (MiB / 4) === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} bytes`;
}

// ---- per-host policy ----

/**
 * When one host's uploads are chunked, and how large the chunks are. Lives on the `Registry`, so
 * what a 413 taught holds for every later upload to that host in this process.
 */
export class UploadPolicy {
  /** The chunk size a 413 taught for this host (unset until one was seen). */
  learned?: number;
  readonly threshold: number;

  /**
   * `chunkSize`: bytes per PATCH for every blob (`--chunk-size`); 0: never chunk because of size;
   * undefined: chunk blobs above `threshold` with 4 MiB chunks.
   */
  constructor(readonly chunkSize?: number, threshold?: number) {
    if (chunkSize !== undefined && (!Number.isInteger(chunkSize) || chunkSize < 0)) throw new LadingError('usage', `invalid chunk size ${chunkSize}`);
    this.threshold = threshold ?? DEFAULT_CHUNK_THRESHOLD;
  }

  /** Bytes per chunk for a blob of `size` bytes (undefined: not known yet), or undefined for one monolithic request. */
  chunkFor(size: number | undefined, minLength = 0): number | undefined {
    let chunk: number | undefined;
    if (this.learned !== undefined) chunk = this.learned;
    else if (this.chunkSize) chunk = this.chunkSize;
    else if (this.chunkSize === undefined && size !== undefined && size > this.threshold) chunk = DEFAULT_CHUNK_SIZE;
    return chunk === undefined ? undefined : Math.max(chunk, minLength);
  }

  /**
   * A monolithic body of `bytes` was refused (413): chunks from now on, of the configured size
   * (4 MiB by default), and smaller than the body refused (undefined: a stream of unknown size,
   * the configured size). Returns the chunk size.
   */
  refusedWhole(bytes: number | undefined): number {
    const base = this.learned ?? (this.chunkSize || DEFAULT_CHUNK_SIZE);
    this.learned = Math.max(MIN_CHUNK_SIZE, Math.min(base, bytes === undefined ? base : largestPowerOfTwoBelow(bytes)));
    return this.learned;
  }

  /** A chunk of `bytes` was refused (413): half that, not below 64 KiB nor `minLength`; undefined when it cannot shrink. */
  refusedChunk(bytes: number, minLength = 0): number | undefined {
    const next = Math.max(MIN_CHUNK_SIZE, minLength, Math.floor(bytes / 2));
    if (next >= bytes) return undefined;
    this.learned = Math.min(this.learned ?? next, next);
    return next;
  }
}

function largestPowerOfTwoBelow(n: number): number {
  let p = MIN_CHUNK_SIZE;
  while (p * 2 < n) p *= 2;
  return p;
}

// ---- what an upload needs from the repository ----

/** An upload session: the Location to send to, and the registry's `OCI-Chunk-Min-Length` (0 when none). */
export interface Session {
  location: string;
  minLength: number;
}

/** The requests an upload makes, provided by `Repository` (its scopes, Location rules and checks). */
export interface Uploader {
  /** `registry/repository`, for messages. */
  where: string;
  policy: UploadPolicy;
  log(line: string): void;
  /** Trace lines (--debug). */
  debug?(line: string): void;
  /** POST …/uploads/: a new session. */
  start(): Promise<Session>;
  /** One request with the push scopes, through auth, redirects and retries. */
  send(req: HttpRequest): Promise<HttpResponse>;
  /** The reply's Location resolved against the request URL (undefined when there is none). */
  location(res: HttpResponse, requestUrl: string): string | undefined;
  /** `PUT <location>?digest=` with `body`; the reply, unconsumed. */
  put(location: string, digest: string, body: Buffer | (() => Readable) | Readable, length: number): Promise<HttpResponse>;
  /** Checks a PUT's reply (2xx, Docker-Content-Digest, B24 HEAD) and consumes it. */
  finish(res: HttpResponse, desc: { digest: string; size: number }): Promise<Descriptor>;
  /** HEAD of the blob with the push scopes: its size (NaN when not given) when the registry has it, undefined on 404. */
  stat(digest: string): Promise<number | undefined>;
  /** The registry's backoff (base and cap) and sleep, for the wait before asking where a failed upload stands. */
  retry?: RetryPolicy;
  sleep?: (ms: number) => Promise<void>;
}

/** Reads `OCI-Chunk-Min-Length` of a reply that opened a session (as sent: a chunk size never exceeds MAX_CHUNK_SIZE, see `withMinimum`). */
export function minLengthOf(res: HttpResponse): number {
  const v = Number(headerValue(res, 'oci-chunk-min-length') ?? '');
  return Number.isSafeInteger(v) && v > 0 ? v : 0;
}

/** One blob's upload: its session, the latest Location, and whether the session is closed (committed or deleted). */
interface UploadState {
  session: Session;
  location: string;
  closed: boolean;
}

/**
 * Best effort `DELETE <location>` of an upload session that will not be used again (spec "Canceling an upload";
 * Distribution answers 204), so the registry does not keep it: its answer and failure are ignored (one --debug
 * line), and it never takes longer than ABANDON_TIMEOUT_MS.
 */
export async function abandonSession(up: Uploader, location: string): Promise<void> {
  try {
    const res = await up.send({ method: 'DELETE', url: location, signal: AbortSignal.timeout(ABANDON_TIMEOUT_MS) });
    await dump(res.body);
    const deleted = res.status >= 200 && res.status <= 299;
    up.debug?.(`${up.where}: abandoned upload session ${deleted ? 'deleted' : 'not deleted'} (DELETE answered ${res.status})${deleted ? '' : '; ignored'}`);
  } catch (err) {
    up.debug?.(`${up.where}: abandoned upload session not deleted (${(err as Error).message}); ignored`);
  }
}

async function abandon(up: Uploader, state: UploadState): Promise<void> {
  if (state.closed) return;
  state.closed = true;
  await abandonSession(up, state.location);
}

/**
 * The closing `PUT ?digest=` (empty body) of a chunked upload; a 2xx closes the session. The transport never sends
 * a session PUT again (`retry: false`): when it fails (connection, 5xx, 408, 429, or 404 on the session), the wait
 * of a retry, then HEAD of the blob: a reply lost after the registry stored the blob is a success. Otherwise the
 * empty PUT goes again (not after a 404: the session is gone), as many times as the retry policy allows.
 */
async function close(up: Uploader, state: { location: string; closed: boolean }, desc: { digest: string; size: number }): Promise<Descriptor> {
  const what = `blob ${desc.digest}`;
  const retries = (up.retry ?? DEFAULT_RETRY).maxRetries;
  for (let attempt = 1; ; attempt++) {
    let res: HttpResponse | undefined;
    let failure: Failure | undefined;
    try {
      res = await up.put(state.location, desc.digest, Buffer.alloc(0), 0);
    } catch (err) {
      if (!isConnectionFailure(err)) throw err;
      failure = { why: (err as Error).message, error: err as Error };
    }
    const settled = await settlePut(up, state, desc, attempt, res, failure, { at: desc.size, why: 'closing the upload failed, and ' });
    if ('descriptor' in settled) return settled.descriptor;
    const f = settled.failure;
    if (f.res?.status === 404) throw gaveUp(up, what, desc.size, desc.size, f, 'the PUT closing the upload found the session gone, and the registry does not have the blob');
    if (attempt > retries) throw gaveUp(up, what, desc.size, desc.size, f, `the PUT closing the upload failed ${attempt} times`);
  }
}

/**
 * The closing PUT of an upload whose bytes went in one streamed PATCH (stdin): as a chunked upload's (`close`).
 * Sets `at.closed` once the session is committed.
 */
export function closeUpload(up: Uploader, at: { location: string; closed: boolean }, desc: { digest: string; size: number }): Promise<Descriptor> {
  return close(up, at, desc);
}

/**
 * A session PUT's reply that the upload handles itself (the transport does not repeat it): a server error, 408,
 * 429 (worth another try after a wait) or 404 (the session is gone; the blob may be there if an earlier reply was
 * lost). Any other reply is undefined, and is left unread for `finish`.
 */
async function putFailure(up: Uploader, res: HttpResponse, what: string): Promise<Failure | undefined> {
  if (!(res.status >= 500 || [404, 408, 429].includes(res.status))) return undefined;
  const retryAfter = headerValue(res, 'retry-after');
  const err = await responseError(res, 'PUT', `cannot upload ${what} to ${up.where}`);
  return { why: `${res.status}${err.errors[0] ? ` ${err.errors[0].code}` : ''}`, res: err, retryAfter };
}

/** Waits as a retry would after `failure` (backoff, or Retry-After within the cap); false when asked to wait longer. */
async function pause(up: Uploader, attempt: number, failure: Failure): Promise<boolean> {
  const policy = { ...(up.retry ?? DEFAULT_RETRY), maxRetries: Number.POSITIVE_INFINITY };
  const delay = retryDelay(policy, attempt, { status: 503, retryAfter: failure.retryAfter });
  if (delay === undefined) return false;
  await (up.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))))(delay);
  return true;
}

/**
 * What a session PUT came to: its reply (`res`) checked, or its connection `failure`. A reply that is not one the
 * upload handles itself (putFailure) is the outcome, the session closed when it is a 2xx. Otherwise the wait of a
 * retry, then HEAD of the blob: there at its size, the PUT stored it and only the reply was lost. Else the failure,
 * for the caller to decide what comes next. `message` words the give-up when the registry asks to wait too long.
 */
async function settlePut(
  up: Uploader,
  state: { closed: boolean },
  desc: { digest: string; size: number },
  attempt: number,
  res: HttpResponse | undefined,
  failure: Failure | undefined,
  message: { at: number; why: string },
): Promise<{ descriptor: Descriptor } | { failure: Failure }> {
  const what = `blob ${desc.digest}`;
  if (res) {
    failure = await putFailure(up, res, what);
    if (!failure) {
      if (res.status >= 200 && res.status <= 299) state.closed = true;
      return { descriptor: await up.finish(res, desc) };
    }
  }
  const f = failure!;
  if (!(await pause(up, attempt, f))) {
    throw gaveUp(up, what, message.at, desc.size, f, `${message.why}the registry asks to wait longer than ${(up.retry ?? DEFAULT_RETRY).maxDelayMs / 1000}s`);
  }
  if (await landed(up, desc, f)) {
    state.closed = true;
    return { descriptor: { mediaType: 'application/octet-stream', digest: desc.digest, size: desc.size } };
  }
  return { failure: f };
}

/**
 * After a PUT that would have committed the upload failed: whether the registry has the blob anyway, at its size
 * (the registry stored it and the reply was lost). A HEAD that fails or disagrees says no.
 */
async function landed(up: Uploader, desc: { digest: string; size: number }, failure: Failure): Promise<boolean> {
  let size: number | undefined;
  try {
    size = await up.stat(desc.digest);
  } catch (err) {
    up.debug?.(`${up.where}: HEAD of ${desc.digest} after its PUT failed: ${(err as Error).message}`);
    return false;
  }
  if (size !== desc.size) return false;
  up.debug?.(`${up.where}: the PUT of ${desc.digest} failed (${failure.why}), but the registry has the blob (${size} bytes): uploaded`);
  return true;
}

/**
 * Uploads a blob of known digest and size into `session`: one monolithic PUT, or chunks when the
 * host's policy says so; a 413 on the monolithic PUT switches this blob (and the host) to chunks,
 * and so does a connection that fails under a large PUT (for this blob only). A failed upload
 * deletes its session (best effort).
 */
export async function uploadBlob(up: Uploader, session: Session, desc: { digest: string; size: number }, source: UploadSource): Promise<Descriptor> {
  const state: UploadState = { session, location: session.location, closed: false };
  try {
    return await uploadInto(up, state, desc, source);
  } catch (err) {
    await abandon(up, state);
    throw err;
  }
}

async function uploadInto(up: Uploader, state: UploadState, desc: { digest: string; size: number }, source: UploadSource): Promise<Descriptor> {
  let chunk = up.policy.chunkFor(desc.size, state.session.minLength);
  const what = `blob ${desc.digest}`;
  const length = Buffer.isBuffer(source) ? source.length : desc.size;
  let restarts = 0;
  // An error reading the content is the content's (a copy's source that broke), never a reason to send again.
  let contentFailure: Error | undefined;
  const onError = (e: Error) => (contentFailure = e);
  const body = Buffer.isBuffer(source) ? source : source instanceof Readable ? take(source, length, onError) : () => take(source(), length, onError);
  for (let attempt = 1; chunk === undefined; attempt++) {
    let res: HttpResponse | undefined;
    let failure: Failure | undefined;
    try {
      res = await up.put(state.location, desc.digest, body, length);
    } catch (err) {
      if (contentFailure) throw contentFailure;
      if (!isConnectionFailure(err)) throw err;
      failure = { why: (err as Error).message, error: err as Error };
    }
    if (res?.status === 413) {
      await dump(res.body);
      chunk = Math.max(up.policy.refusedWhole(length), state.session.minLength);
      if (source instanceof Readable) {
        throw new LadingError('too-large', `cannot upload blob ${desc.digest} to ${up.where}: the registry refused a body of ${formatSize(length)} (413), and the content was a stream that cannot be read again; chunks of ${formatSize(chunk)} will be used for this registry next time (or pass --chunk-size)`);
      }
      up.log(`${up.where}: a body of ${formatSize(length)} was refused (413 Request Entity Too Large); uploading ${desc.digest} in chunks of ${formatSize(chunk)}`);
      break;
    }
    // The PUT failed, and the transport did not send it again (`retry: false`): Distribution answers 404
    // BLOB_UPLOAD_INVALID to a second PUT on a session that got any byte of the first.
    const settled = await settlePut(up, state, desc, attempt, res, failure, { at: 0, why: '' });
    if ('descriptor' in settled) return settled.descriptor;
    const f = settled.failure;
    if (source instanceof Readable) throw gaveUp(up, what, 0, desc.size, f, 'the content was a stream that cannot be read again');
    if (f.error && length > CHUNK_FALLBACK_MIN_SIZE) {
      // A proxy enforcing a body limit may close the connection before the 413 it sent is read (nginx does not
      // read the body it refuses): a large body that meets a connection failure goes again in chunks, which
      // are halved for as long as they fail without reaching the registry.
      chunk = Math.min(DEFAULT_CHUNK_SIZE, largestPowerOfTwoBelow(length));
      up.log(`${up.where}: sending ${desc.digest} (${formatSize(length)}) in one request failed (${f.why}); uploading it in chunks of ${formatSize(chunk)}`);
      await emptySession(up, state, f.error);
      break;
    }
    if (++restarts > MAX_SESSION_RESTARTS) throw gaveUp(up, what, 0, desc.size, f, `sending it in one request failed ${restarts} times, each in a new upload session`);
    up.log(`${up.where}: sending ${desc.digest} (${formatSize(length)}) in one request failed (${f.why}); sending it again in a new upload session`);
    await abandon(up, state);
    state.session = await up.start();
    state.location = state.session.location;
    state.closed = false;
  }
  const reader = chunkReader(source, desc.size);
  try {
    await sendChunks(up, state, reader, chunk!, desc);
    return await close(up, state, desc);
  } finally {
    reader.close();
  }
}

/**
 * After a monolithic PUT failed at the connection level: the same session when the registry reports it empty
 * (the body never reached it), else a new one (Distribution invalidates a session that got part of a body).
 */
async function emptySession(up: Uploader, state: UploadState, failure: Error): Promise<void> {
  const status = await uploadStatus(up, state.location);
  if (status.kind === 'error') throw failure;
  if (status.kind === 'at' && status.offset === 0) {
    state.location = status.location ?? state.location;
    return;
  }
  await abandon(up, state);
  state.session = await up.start();
  state.location = state.session.location;
  state.closed = false;
}

/**
 * Uploads a one-shot stream whose digest is not known in advance (stdin), in chunks; `expectedSize`
 * (when given) is checked as the bytes are read. Returns the descriptor of what was read.
 */
export async function uploadStreamChunked(up: Uploader, session: Session, stream: Readable, chunk: number, hash: Hash, expectedSize?: number): Promise<Descriptor> {
  const state: UploadState = { session, location: session.location, closed: false };
  const reader = new StreamReader(undefined, stream, { hash, expectedSize });
  try {
    const size = await sendChunks(up, state, reader, Math.max(chunk, session.minLength));
    return await close(up, state, { digest: `sha256:${hash.digest('hex')}`, size });
  } catch (err) {
    await abandon(up, state);
    throw err;
  } finally {
    reader.close();
  }
}

// ---- reading chunks ----

/** A chunk's bytes as a repeatable request body. */
interface Chunk {
  body: Buffer | (() => Readable);
  length: number;
  /** No byte after this chunk (a stream of unknown size ended). */
  last: boolean;
}

interface ChunkReader {
  /** Up to `length` bytes from `offset` (fewer at the end, or the rest of a chunk read before). */
  read(offset: number, length: number): Promise<Chunk>;
  /** The size once known (at the end of a stream of unknown size). */
  size?: number;
  /** Set when the content itself failed (a source error is never resumed as if the registry had failed). */
  failure?: Error;
  /** The content can be read again from byte 0 (a new session can start over). */
  readonly rewindable: boolean;
  /** The first byte that can still be read (0 when the content can be read again). */
  readonly from: number;
  close(): void;
}

function chunkReader(source: UploadSource, size: number): ChunkReader {
  if (Buffer.isBuffer(source)) {
    return {
      size,
      rewindable: true,
      from: 0,
      async read(offset, length) {
        const body = source.subarray(offset, offset + length);
        return { body, length: body.length, last: offset + body.length >= source.length };
      },
      close() {},
    };
  }
  if (isSeekable(source)) return new SeekableReader(source, size);
  if (source instanceof Readable) return new StreamReader(undefined, source, { size });
  return new StreamReader(source, undefined, { size });
}

/** Seekable content: each chunk is its own stream opened at its offset, nothing is held in memory. */
class SeekableReader implements ChunkReader {
  failure?: Error;
  readonly rewindable = true;
  readonly from = 0;
  constructor(private readonly source: SeekableContent, readonly size: number) {}

  async read(offset: number, length: number): Promise<Chunk> {
    const n = Math.max(0, Math.min(length, this.size - offset));
    const body = () => take(this.source.openAt(offset, n), n, (e) => (this.failure = e));
    return { body, length: n, last: offset + n >= this.size };
  }

  close(): void {}
}

/** Pieces of a stream as a repeatable body: a fresh stream over the same buffers each time, nothing copied. */
function piecesBody(pieces: Buffer[]): () => Readable {
  return () => Readable.from(pieces, { objectMode: false });
}

/** The bytes `from` to `from + length` of `pieces`, as subarrays of them (nothing copied). */
function slicePieces(pieces: Buffer[], from: number, length: number): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  const end = from + length;
  for (const p of pieces) {
    const pEnd = at + p.length;
    if (pEnd > from && at < end) out.push(p.subarray(Math.max(0, from - at), Math.min(p.length, end - at)));
    at = pEnd;
    if (at >= end) break;
  }
  return out;
}

/**
 * A stream read once, front to back, one chunk at a time into memory (so a chunk can be sent again,
 * or resumed inside). The chunk is held as the pieces the stream gave, never copied into one buffer,
 * and let go before the next one is read: one chunk in memory, not two or three. Going back before
 * the chunk held (a session started again) opens the factory again and skips to the offset; a
 * one-shot stream cannot go back.
 */
class StreamReader implements ChunkReader {
  failure?: Error;
  size?: number;
  private cursor?: Cursor;
  private held: Buffer[] = [];
  private heldLength = 0;
  private heldAt = 0;

  constructor(
    private readonly open: (() => Readable) | undefined,
    first: Readable | undefined,
    private readonly options: { size?: number; hash?: Hash; expectedSize?: number } = {},
  ) {
    this.size = options.size;
    if (first) this.cursor = new Cursor(first, 0);
  }

  get rewindable(): boolean {
    return this.open !== undefined;
  }

  get from(): number {
    if (this.open) return 0;
    return this.heldLength > 0 ? this.heldAt : (this.cursor?.position ?? 0);
  }

  async read(offset: number, length: number): Promise<Chunk> {
    const heldEnd = this.heldAt + this.heldLength;
    if (offset >= this.heldAt && offset < heldEnd) {
      const n = Math.min(length, heldEnd - offset);
      const body = piecesBody(slicePieces(this.held, offset - this.heldAt, n));
      return { body, length: n, last: this.size !== undefined && offset + n >= this.size };
    }
    // Past the chunk held (the registry has all of it) or before it (a new session): it is not needed any more.
    this.held = [];
    this.heldLength = 0;
    if (!this.cursor || offset < this.cursor.position) {
      if (!this.open) {
        if (this.cursor) throw new LadingError('internal', `cannot go back to byte ${offset} of content that can be read only once (a stream): the upload cannot start again`);
        throw new LadingError('internal', 'no content to upload');
      }
      this.cursor?.close();
      this.cursor = new Cursor(this.open(), 0);
    }
    const cursor = this.cursor;
    try {
      await cursor.skip(offset - cursor.position);
      const want = this.size !== undefined ? Math.min(length, this.size - offset) : length;
      const { pieces, length: got } = await cursor.read(want, (b, at) => this.account(b, at));
      this.held = pieces;
      this.heldLength = got;
      this.heldAt = offset;
      const ended = got < want || (this.size !== undefined && offset + got >= this.size);
      if (this.size !== undefined && got < want) {
        throw new LadingError('digest-mismatch', `the content ended after ${offset + got} bytes, expected ${this.size}`);
      }
      if (ended && this.size === undefined) {
        this.size = offset + got;
        const expected = this.options.expectedSize;
        if (expected !== undefined && this.size !== expected) throw sizeMismatch(expected, this.size);
      }
      return { body: piecesBody(pieces), length: got, last: ended };
    } catch (err) {
      this.failure = err as Error;
      throw err;
    }
  }

  /** Hashes bytes read for the first time (stdin: the digest is computed as the chunks go). */
  private hashed = 0;
  private account(bytes: Buffer, at: number): void {
    const end = at + bytes.length;
    const expected = this.options.expectedSize;
    if (expected !== undefined && end > expected) throw sizeMismatch(expected, end, true);
    if (this.options.hash && end > this.hashed) {
      this.options.hash.update(bytes.subarray(Math.max(0, this.hashed - at)));
      this.hashed = end;
    }
  }

  close(): void {
    this.cursor?.close();
  }
}

function sizeMismatch(expected: number, got: number, more = false): LadingError {
  return new LadingError('digest-mismatch', `blob size mismatch: --size says ${expected} bytes, read ${more ? `more than ${expected}` : got}`);
}

/** Reads a stream by byte counts. */
class Cursor {
  private readonly it: AsyncIterator<unknown>;
  private leftover: Buffer = Buffer.alloc(0);
  private done = false;

  constructor(private readonly stream: Readable, public position: number) {
    this.it = stream[Symbol.asyncIterator]();
  }

  /** Up to `n` bytes, as the pieces read (not copied); fewer only at the end of the stream. `seen` gets each new piece with its offset. */
  async read(n: number, seen?: (bytes: Buffer, at: number) => void): Promise<{ pieces: Buffer[]; length: number }> {
    const pieces: Buffer[] = [];
    let got = 0;
    while (got < n) {
      let piece: Buffer;
      if (this.leftover.length > 0) {
        piece = this.leftover;
        this.leftover = Buffer.alloc(0);
      } else {
        if (this.done) break;
        const r = await this.it.next();
        if (r.done) {
          this.done = true;
          break;
        }
        piece = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
        seen?.(piece, this.position + got);
      }
      if (got + piece.length > n) {
        this.leftover = piece.subarray(n - got);
        piece = piece.subarray(0, n - got);
      }
      pieces.push(piece);
      got += piece.length;
    }
    this.position += got;
    return { pieces, length: got };
  }

  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      const { length } = await this.read(Math.min(left, 4 * MiB));
      if (length === 0) throw new LadingError('digest-mismatch', `the content ended before byte ${this.position + left}`);
      left -= length;
    }
  }

  close(): void {
    this.stream.destroy();
  }
}

/**
 * The first `n` bytes of `src` (which is closed after); fewer is an error. Errors reading `src` go to
 * `onError` first: they are the content's. An error the consumer throws in (a request destroying its
 * body when the connection fails: `Readable.from` passes it to the generator at its `yield`) is not.
 */
function take(src: Readable, n: number, onError: (e: Error) => void): Readable {
  return Readable.from(
    (async function* () {
      const it = src[Symbol.asyncIterator]();
      let left = n;
      try {
        while (left > 0) {
          let r: IteratorResult<unknown>;
          try {
            r = await it.next();
          } catch (err) {
            onError(err as Error);
            throw err;
          }
          if (r.done) break;
          const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
          const piece = b.length > left ? b.subarray(0, left) : b;
          left -= piece.length;
          yield piece;
        }
      } finally {
        src.destroy();
      }
      if (left > 0) {
        const e = new LadingError('digest-mismatch', `the content ended ${left} bytes early`);
        onError(e);
        throw e;
      }
    })(),
    { objectMode: false },
  );
}

// ---- the chunk loop ----

/** A PATCH that did not go through, and what the registry said (if anything). */
interface Failure {
  why: string;
  /** A connection failure (the request never got an answer). */
  error?: Error;
  res?: RegistryResponseError;
  retryAfter?: string;
}

/**
 * The chunk size to use in a session whose registry wants chunks of at least `minLength` bytes: never above
 * MAX_CHUNK_SIZE (a chunk of a stream is held in memory). A minimum above it fails clearly, unless the whole
 * blob fits in one chunk of at most that size.
 */
function withMinimum(up: Uploader, what: string, chunk: number, minLength: number, size: number | undefined): number {
  const wanted = Math.min(chunk, MAX_CHUNK_SIZE);
  if (minLength <= wanted) return wanted;
  if (minLength <= MAX_CHUNK_SIZE) return minLength;
  if (size !== undefined && size <= MAX_CHUNK_SIZE) return MAX_CHUNK_SIZE;
  throw new LadingError(
    'unsupported',
    `cannot upload ${what} to ${up.where} in chunks: the registry requires chunks of at least ${formatSize(minLength)} (OCI-Chunk-Min-Length), above the 1 GiB that lading holds for a chunk; no --chunk-size can change the registry's minimum`,
  );
}

/**
 * Sends the content in chunks to `state`'s session, following Location and Range; resumes where the
 * registry says it stands after a failed chunk, and starts a new session when the old one is gone
 * (deleting the old one). Leaves the latest Location in `state` (for the closing PUT); returns the
 * number of bytes sent.
 */
async function sendChunks(up: Uploader, state: UploadState, reader: ChunkReader, initial: number, desc?: { digest: string; size: number }): Promise<number> {
  const what = desc ? `blob ${desc.digest}` : 'blob';
  let chunkSize = withMinimum(up, what, initial, state.session.minLength, reader.size);
  let offset = 0;
  /** The most bytes the registry acknowledged in this session: only going beyond it is progress. */
  let best = 0;
  let restarts = 0;
  let stalls = 0;
  let setbacks = 0;
  /** Counts one interruption (progress or not) and gives up beyond the blob's number of chunks plus MAX_EXTRA_RESUMES. */
  const setback = (failure: Failure) => {
    const limit = Math.ceil((reader.size ?? offset + chunkSize) / chunkSize) + MAX_EXTRA_RESUMES;
    if (++setbacks > limit) throw gaveUp(up, what, offset, reader.size, failure, `interrupted ${setbacks} times, more than the ${limit} allowed for its size`);
  };
  // Outside the loop, and cleared before each read: a suspended async function keeps its variables, so a chunk, or
  // the reply to the request that carried it (which references its body), would stay in memory while the next one
  // is read.
  let chunk: Chunk | undefined;
  let res: HttpResponse | undefined;
  let failure: Failure | undefined;
  for (;;) {
    chunk = res = failure = undefined;
    if (reader.size !== undefined && offset >= reader.size) return offset;
    chunk = await reader.read(offset, chunkSize);
    if (chunk.length === 0 && chunk.last) return offset;
    const url = state.location;
    try {
      res = await up.send({
        method: 'PATCH',
        url,
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(chunk.length),
          'content-range': `${offset}-${offset + chunk.length - 1}`,
        },
        body: chunk.body,
      });
    } catch (err) {
      // Only an error of the content itself ends the upload here; a request that failed while sending is resumed.
      if (reader.failure) throw reader.failure;
      if (!isConnectionFailure(err)) throw err;
      failure = { why: (err as Error).message, error: err as Error };
    }
    if (res && (res.status === 202 || res.status === 204)) {
      await dump(res.body);
      state.location = up.location(res, url) ?? url;
      const has = acknowledged(res, offset, chunk.length);
      const range = headerValue(res, 'range');
      if (has > offset + chunk.length || has < offset) {
        throw new LadingError('registry', `${up.where}: after a chunk of bytes ${offset}-${offset + chunk.length - 1} of ${what}, the registry reports Range ${range}`);
      }
      const why = { why: `${res.status} with Range ${range}` };
      if (has > best) {
        best = has;
        stalls = 0;
      } else if (++stalls > MAX_RESUMES_WITHOUT_PROGRESS) {
        throw gaveUp(up, what, offset, reader.size, why, best > offset ? `the registry acknowledged no byte beyond the ${best} it had acknowledged before` : 'the registry took none of the bytes sent');
      }
      if (has < offset + chunk.length) setback(why);
      offset = has;
      continue;
    }
    if (res?.status === 413) {
      await dump(res.body);
      const smaller = up.policy.refusedChunk(chunk.length, state.session.minLength);
      if (smaller === undefined) {
        throw new LadingError('too-large', `cannot upload ${what} to ${up.where}: the registry refused a chunk of ${formatSize(chunk.length)} (413 Request Entity Too Large), and chunks cannot be smaller than ${formatSize(Math.max(MIN_CHUNK_SIZE, state.session.minLength))}`);
      }
      up.log(`${up.where}: a chunk of ${formatSize(chunk.length)} was refused (413 Request Entity Too Large); trying chunks of ${formatSize(smaller)}`);
      chunkSize = smaller;
      continue;
    }
    if (res) {
      const retryAfter = headerValue(res, 'retry-after');
      const err = await responseError(res, 'PATCH', `cannot upload ${what} to ${up.where}`);
      // Worth asking the registry where it stands: a server error, a wait asked for, an offset it disagrees with, a session it lost.
      if (!(res.status >= 500 || [404, 408, 416, 429].includes(res.status))) throw err;
      failure = { why: `${res.status}${err.errors[0] ? ` ${err.errors[0].code}` : ''}`, res: err, retryAfter };
    }
    setback(failure!);
    // Wait as a retry would (backoff, or Retry-After within the cap), then ask where the upload stands (spec:
    // "Getting the upload status"). PATCH is never retried below this (http/retry.ts): it appends.
    if (!(await pause(up, stalls + 1, failure!))) throw gaveUp(up, what, offset, reader.size, failure!, `the registry asks to wait longer than ${(up.retry ?? DEFAULT_RETRY).maxDelayMs / 1000}s`);
    const status = await uploadStatus(up, state.location);
    if (status.kind === 'at' && status.offset <= Math.max(best, offset + chunk.length)) {
      if (status.offset < reader.from) {
        // Bytes before the chunk held were acknowledged and are gone from a one-shot stream (stdin).
        throw new LadingError(
          'network',
          `cannot upload ${what} to ${up.where}: stopped at byte ${offset}${reader.size !== undefined ? ` of ${reader.size}` : ''} (${failure!.why}); the registry lost bytes it had taken (it now has ${status.offset}), and bytes before ${reader.from} came from content that can be read only once (a stream): lading can no longer resend them`,
          { cause: failure!.error ?? failure!.res },
        );
      }
      let note = '';
      if (status.offset > best) {
        best = status.offset;
        stalls = 0;
      } else {
        // Nothing new arrived. A body limit enforced by closing the connection looks like this: smaller chunks, as
        // after a 413 (and remembered for the host), before this counts as a resume without progress.
        const smaller = failure!.error && status.offset <= offset ? up.policy.refusedChunk(chunk.length, state.session.minLength) : undefined;
        if (smaller !== undefined) {
          chunkSize = smaller;
          note = ` in chunks of ${formatSize(smaller)}`;
        } else if (++stalls > MAX_RESUMES_WITHOUT_PROGRESS) {
          throw gaveUp(up, what, offset, reader.size, failure!, `${MAX_RESUMES_WITHOUT_PROGRESS} resumes brought no progress`);
        }
      }
      up.log(`${up.where}: upload of ${what} interrupted at byte ${offset} (${failure!.why}); the registry has ${status.offset} bytes, resuming from there${note}`);
      offset = status.offset;
      state.location = status.location ?? state.location;
      continue;
    }
    if (status.kind === 'error') throw gaveUp(up, what, offset, reader.size, failure!, `asking the registry where the upload stands failed: ${status.why}`);
    const lost = status.kind === 'gone' ? status.why : `GET on the session reports ${status.offset} bytes, more than were sent`;
    if (!reader.rewindable) throw gaveUp(up, what, offset, reader.size, failure!, `the upload session is lost (${lost}) and the content was a stream that cannot be read again`);
    restarts++;
    if (restarts > MAX_SESSION_RESTARTS) throw gaveUp(up, what, offset, reader.size, failure!, `the upload session was lost ${restarts} times (last: ${lost})`);
    up.log(`${up.where}: upload session of ${what} lost (${failure!.why}; then ${lost}); starting the upload again`);
    await abandon(up, state);
    state.session = await up.start();
    state.location = state.session.location;
    state.closed = false;
    chunkSize = withMinimum(up, what, chunkSize, state.session.minLength, reader.size);
    offset = 0;
    best = 0;
    stalls = 0;
  }
}

/**
 * The bytes a registry holds after a PATCH of `length` bytes at `offset`, from its `Range: 0-N` (N+1 bytes).
 * `0-0` is read as GET on the session reads it (`uploadStatus`): Distribution answers it for an empty session,
 * so it is no byte, unless the chunk was the single byte 0. No Range: the chunk was taken whole.
 */
function acknowledged(res: HttpResponse, offset: number, length: number): number {
  const end = rangeEnd(res);
  if (end === undefined) return offset + length;
  if (end === 0) return offset === 0 && length === 1 ? 1 : 0;
  return end + 1;
}

type Status = { kind: 'at'; offset: number; location?: string } | { kind: 'gone'; why: string } | { kind: 'error'; why: string };

/** `GET <location>`: 204 with `Range: 0-N` → N+1 bytes stored (`0-0` or no Range: none); 404 and the like → gone. */
async function uploadStatus(up: Uploader, location: string): Promise<Status> {
  let res: HttpResponse;
  try {
    res = await up.send({ method: 'GET', url: location });
  } catch (err) {
    return { kind: 'error', why: (err as Error).message };
  }
  if (res.status === 204 || res.status === 200) {
    await dump(res.body);
    const end = rangeEnd(res);
    // Distribution sends `0-0` for an empty session as well as for one byte; take it as empty.
    return { kind: 'at', offset: end === undefined || end === 0 ? 0 : end + 1, location: up.location(res, location) };
  }
  const err = await responseError(res, 'GET', 'upload status');
  const why = `GET on the session: ${res.status}${err.errors[0] ? ` ${err.errors[0].code}` : ''}`;
  if (res.status === 404 || res.status === 400 || res.status === 410 || res.status === 416) return { kind: 'gone', why };
  return { kind: 'error', why: err.message };
}

/** The inclusive end of a `Range: 0-N` header (with or without `bytes=`), or undefined. */
export function rangeEnd(res: HttpResponse): number | undefined {
  const m = /^\s*(?:bytes[= ])?0-(\d+)\s*$/i.exec(headerValue(res, 'range') ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Errors of the connection itself (reset, closed, timed out), as opposed to answers and local failures. */
function isConnectionFailure(err: unknown): boolean {
  const e = err as { kind?: string; code?: string; cause?: { code?: string; cause?: { code?: string } } };
  if (e?.kind === 'network') return true;
  const code = e?.code ?? e?.cause?.code ?? e?.cause?.cause?.code;
  return typeof code === 'string' && /^(ECONNRESET|EPIPE|ECONNABORTED|ETIMEDOUT|UND_ERR_[A-Z_]+)$/.test(code);
}

/**
 * The error that ends an upload. A registry's refusal keeps its kind (404: not-found, 429: rate-limited); a
 * connection failure, a server error (5xx), a timeout (408) or an offset the registry disagrees with (416) is a
 * network failure (exit code 7), as a request that failed its retries would be.
 */
function gaveUp(up: Uploader, what: string, offset: number, size: number | undefined, failure: Failure, reason: string): LadingError {
  const status = failure.res?.status ?? 0;
  const kind = failure.res && !(status >= 500 || status === 408 || status === 416) ? failure.res.kind : 'network';
  return new LadingError(kind, `cannot upload ${what} to ${up.where}: stopped at byte ${offset}${size !== undefined ? ` of ${size}` : ''} (${failure.why}); ${reason}`, { cause: failure.error ?? failure.res });
}
