import type { Readable } from 'node:stream';
import { LadingError } from '../../errors/errors.js';

/** A request as the registry client builds it. Header names are lower-case. */
export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /**
   * Body: bytes are repeatable (safe to retry or resend after a 401); a function returns a
   * fresh stream per attempt (repeatable); a bare stream is one-shot and is never re-sent.
   */
  body?: Buffer | string | Readable | (() => Readable);
  /** Registry scopes this request needs, e.g. ["repository:team/app:pull,push"]; used by the auth layer. */
  scopes?: string[];
  /** Abort signal. */
  signal?: AbortSignal;
  /**
   * `false`: never sent again by the retry layer (a request that is not idempotent: a PATCH appends, a PUT to an
   * upload session commits it once); the caller decides what to do after a failure (upload.ts).
   */
  retry?: false;
}

export interface HttpResponse {
  status: number;
  /** Lower-case header names; repeated headers joined as arrays. */
  headers: Record<string, string | string[] | undefined>;
  /** Must always be consumed or dumped by the caller. */
  body: Readable;
  /** The final URL after redirects. */
  url: string;
}

/** The one-method interface every layer (auth, retry, redirects) wraps. */
export interface Transport {
  do(req: HttpRequest): Promise<HttpResponse>;
}

export function headerValue(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export function headerValues(res: HttpResponse, name: string): string[] {
  const v = res.headers[name.toLowerCase()];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** Reads a body fully, failing once more than `limit` bytes arrive (bounded buffering). */
export async function readBounded(body: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    total += b.length;
    if (total > limit) {
      discard(body);
      throw new LadingError('too-large', `${what} exceeds ${limit} bytes`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Discards a body so the connection can be reused. */
export async function dump(body: Readable): Promise<void> {
  try {
    body.resume();
    for await (const _ of body) {
      /* drain */
    }
  } catch {
    /* ignore */
  }
}

/**
 * Closes a body without reading the rest. Destroying an undici body makes it emit an abort error;
 * a listener keeps that from becoming an unhandled 'error' event that kills the process.
 */
export function discard(body: Readable): void {
  body.on('error', () => {});
  body.destroy();
}
