import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { LadingError } from '../errors/errors.js';

/** Digest algorithms lading can compute, with the length of their hex encoding. */
const ALGORITHMS: Record<string, { node: string; hexLength: number }> = {
  sha256: { node: 'sha256', hexLength: 64 },
  sha512: { node: 'sha512', hexLength: 128 },
};

const DIGEST_RE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

export interface ParsedDigest {
  algorithm: string;
  hex: string;
}

/** Parses and validates `algorithm:hex` (image-spec descriptor digest grammar; sha256/sha512 checked strictly). */
export function parseDigest(digest: string): ParsedDigest {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new LadingError('usage', `invalid digest "${digest}": expected algorithm:hex, e.g. sha256:<64 hex digits>`);
  const [, algorithm, hex] = m;
  const algo = ALGORITHMS[algorithm];
  if (!algo) throw new LadingError('usage', `invalid digest "${digest}": unsupported algorithm "${algorithm}" (sha256 or sha512)`);
  if (hex.length !== algo.hexLength || !/^[a-f0-9]+$/.test(hex)) {
    throw new LadingError('usage', `invalid digest "${digest}": ${algorithm} needs ${algo.hexLength} lower-case hex digits`);
  }
  return { algorithm, hex };
}

export function isDigest(s: string): boolean {
  try {
    parseDigest(s);
    return true;
  } catch {
    return false;
  }
}

export function digestOf(data: Uint8Array | string, algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(ALGORITHMS[algorithm].node).update(data).digest('hex')}`;
}

export function newHasher(algorithm = 'sha256'): Hash {
  const algo = ALGORITHMS[algorithm];
  if (!algo) throw new LadingError('usage', `unsupported digest algorithm "${algorithm}"`);
  return createHash(algo.node);
}

const verifiedStreams = new WeakMap<object, { digest: string; size: number }>();

/**
 * Marks `stream` as one that fails unless its bytes are exactly `digest` and `size` (a VerifyingStream, or a
 * wrapper around one), so that a store writing what it reads from there does not hash the same bytes twice
 * (a pull used to hash every byte twice: once downloading, once writing the layout blob).
 */
export function markVerified<T extends object>(stream: T, digest: string, size: number): T {
  verifiedStreams.set(stream, { digest, size });
  return stream;
}

/** Whether `stream` was marked by markVerified for exactly this digest and size. */
export function isVerified(stream: object, digest: string, size: number): boolean {
  const v = verifiedStreams.get(stream);
  return v !== undefined && v.digest === digest && v.size === size;
}

/**
 * Hashes and counts bytes and judges them against an expected digest and size: `update` fails at once on bytes
 * beyond the expected size (trailing data is rejected, nothing unbounded is read), `finish` on a short body or a
 * wrong digest. The check behind VerifyingStream, usable inside another stream without a layer of its own.
 */
export class Verifier {
  private readonly hash: Hash;
  readonly algorithm: string;
  private seen = 0;
  actualDigest?: string;
  constructor(
    readonly expectedDigest: string | undefined,
    readonly expectedSize: number | undefined,
    private readonly what = 'content',
  ) {
    this.algorithm = expectedDigest ? parseDigest(expectedDigest).algorithm : 'sha256';
    this.hash = newHasher(this.algorithm);
  }
  get bytes(): number {
    return this.seen;
  }
  update(chunk: Uint8Array): void {
    this.seen += chunk.length;
    if (this.expectedSize !== undefined && this.seen > this.expectedSize) {
      throw new LadingError('digest-mismatch', `${this.what}: more data than the expected ${this.expectedSize} bytes`);
    }
    this.hash.update(chunk);
  }
  finish(): void {
    if (this.expectedSize !== undefined && this.seen !== this.expectedSize) {
      throw new LadingError('digest-mismatch', `${this.what}: size mismatch: expected ${this.expectedSize} bytes, got ${this.seen}`);
    }
    const actual = `${this.algorithm}:${this.hash.digest('hex')}`;
    this.actualDigest = actual;
    if (this.expectedDigest && actual !== this.expectedDigest) {
      throw new LadingError('digest-mismatch', `${this.what}: digest mismatch: expected ${this.expectedDigest}, got ${actual}`);
    }
  }
}

/**
 * A pass-through stream that hashes and counts what flows through it, and fails
 * at the end when the size or digest does not match what was expected. Bytes beyond
 * the expected size fail immediately (trailing data is rejected, nothing unbounded is read).
 */
export class VerifyingStream extends Transform {
  private readonly verifier: Verifier;
  constructor(expectedDigest: string | undefined, expectedSize: number | undefined, what = 'content') {
    super();
    if (expectedDigest && expectedSize !== undefined) markVerified(this, expectedDigest, expectedSize);
    this.verifier = new Verifier(expectedDigest, expectedSize, what);
  }
  get bytes(): number {
    return this.verifier.bytes;
  }
  get actualDigest(): string | undefined {
    return this.verifier.actualDigest;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.verifier.update(chunk);
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    try {
      this.verifier.finish();
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb();
  }
}
