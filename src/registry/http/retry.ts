import { Readable } from 'node:stream';
import { LadingError, toLadingError } from '../../errors/errors.js';
import { dump, headerValue, type HttpRequest, type HttpResponse, type Transport } from './types.js';

/**
 * Retry policy (CASES B17), kept pure: given the attempt number and what happened, say how long
 * to wait or stop. Statuses 408, 429, 500, 502, 503, 504 and connection errors are retried;
 * Retry-After (delta-seconds or HTTP-date) wins over backoff; waits longer than the cap stop.
 */
export interface RetryPolicy {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 3, baseDelayMs: 250, maxDelayMs: 60_000 };

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const RETRY_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED', 'LADING_PROXY_CLOSED']);

export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  // An HTTP date names its month in letters (`Wed, 21 Oct 2026 07:28:00 GMT`); Date.parse alone also takes `-5` or `1 2`.
  if (!/[a-z]{3}/i.test(v) || !/\d{4}/.test(v)) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

/** Delay before retry `attempt` (1-based), or undefined to stop. */
export function retryDelay(
  policy: RetryPolicy,
  attempt: number,
  outcome: { status?: number; retryAfter?: string; errorCode?: string },
  random = Math.random,
  now = Date.now(),
): number | undefined {
  if (attempt > policy.maxRetries) return undefined;
  if (outcome.status !== undefined && !RETRY_STATUS.has(outcome.status)) return undefined;
  if (outcome.status === undefined && !(outcome.errorCode && RETRY_CODES.has(outcome.errorCode))) return undefined;
  const after = parseRetryAfter(outcome.retryAfter, now);
  if (after !== undefined) return after <= policy.maxDelayMs ? after : undefined;
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2)); // "equal jitter"
}

/**
 * Successful GET responses carrying a JSON document (manifests, tag lists, catalog pages, tokens: `application/json`,
 * `…+json`, schema 1's `…+prettyjws`) that declares at most this many bytes are read inside the retry loop, so a
 * connection that drops or stalls mid-body (UND_ERR_SOCKET, UND_ERR_BODY_TIMEOUT) is retried like one that fails
 * before the headers. Other bodies (blobs) stream to the caller; blob downloads resume with Range instead.
 */
export const PREREAD_LIMIT = 4 * 1024 * 1024;

function shouldPreread(req: HttpRequest, res: HttpResponse): boolean {
  if (req.method !== 'GET' || res.status < 200 || res.status > 299) return false;
  const type = headerValue(res, 'content-type')?.split(';')[0].trim().toLowerCase() ?? '';
  if (type !== 'application/json' && !type.endsWith('+json') && !type.endsWith('+prettyjws')) return false;
  const length = headerValue(res, 'content-length')?.trim();
  return length !== undefined && /^\d+$/.test(length) && Number(length) <= PREREAD_LIMIT;
}

/** The whole body as a fresh stream, or the read error (the connection failed mid-body). */
async function preread(res: HttpResponse): Promise<HttpResponse> {
  const chunks: Buffer[] = [];
  for await (const chunk of res.body) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  const bytes = Buffer.concat(chunks);
  return { ...res, body: Readable.from(bytes.length ? [bytes] : [], { objectMode: false }) };
}

export function isRepeatable(req: HttpRequest): boolean {
  return req.body === undefined || typeof req.body === 'function' || typeof req.body === 'string' || Buffer.isBuffer(req.body) || !(req.body instanceof Readable);
}

export class RetryTransport implements Transport {
  constructor(
    private readonly base: Transport,
    private readonly options: { policy?: RetryPolicy; log?: (line: string) => void; sleep?: (ms: number) => Promise<void> } = {},
  ) {}

  async do(req: HttpRequest): Promise<HttpResponse> {
    const policy = this.options.policy ?? DEFAULT_RETRY;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    // Requests marked `retry: false` are not idempotent: a PATCH appends, and a PUT to an upload session commits it
    // (Distribution answers 404 to a second PUT once any byte of the first arrived). They are never resent blindly;
    // the upload asks the registry where it stands instead (upload.ts). PATCH is never repeatable, marked or not.
    const repeatable = isRepeatable(req) && req.method !== 'PATCH' && req.retry !== false;
    for (let attempt = 1; ; attempt++) {
      let res: HttpResponse | undefined;
      let error: unknown;
      try {
        res = await this.base.do(req);
        if (repeatable && shouldPreread(req, res)) res = await preread(res);
      } catch (err) {
        error = err;
        res = undefined;
      }
      const code = error ? ((error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code) : undefined;
      const delay = repeatable && !req.signal?.aborted
        ? retryDelay(policy, attempt, { status: res?.status, retryAfter: res ? headerValue(res, 'retry-after') : undefined, errorCode: code })
        : undefined;
      if (delay === undefined) {
        if (error) throw networkError(error, req);
        const asked = res && repeatable && RETRY_STATUS.has(res.status) ? parseRetryAfter(headerValue(res, 'retry-after')) : undefined;
        if (asked !== undefined && asked > policy.maxDelayMs && attempt <= policy.maxRetries) {
          this.options.log?.(
            `${req.method} ${redactUrl(req.url)}: ${res!.status}; the registry asks to wait ${Math.ceil(asked / 1000)} s, more than the ${Math.round(policy.maxDelayMs / 1000)} s lading waits: not retrying`,
          );
        }
        return res!;
      }
      const why = res ? `${res.status}` : isProxyError(error) ? (error as Error).message : describeCode(String(code));
      if (res) await dump(res.body);
      this.options.log?.(`${req.method} ${redactUrl(req.url)}: ${why}; retrying in ${(delay / 1000).toFixed(1)}s (attempt ${attempt + 1} of ${policy.maxRetries + 1})`);
      await sleep(delay);
    }
  }
}

/** A failed CONNECT to the proxy (undici-transport.ts proxyError): its message names the proxy already. */
function isProxyError(error: unknown): boolean {
  return (error as { proxy?: boolean } | undefined)?.proxy === true;
}

/** A connection-level error code in words, for the one-line retry messages. */
function describeCode(code: string): string {
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return 'no response headers in time (LADING_HTTP_TIMEOUT)';
  if (code === 'UND_ERR_BODY_TIMEOUT') return 'the response body stalled (LADING_HTTP_TIMEOUT)';
  if (code === 'EPIPE') return 'the connection was closed while the request body was being sent';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'the connection was reset';
  return code;
}

/** Query parameters of the registry API, shown as they are; every other value may be a signature (a CDN's `verify=`, `hdnts=`, `Policy=` …). */
const PLAIN_QUERY = new Set(['digest', 'mount', 'from', 'n', 'last', 'artifactType', 'scope', 'service', '_state']);

/** URL for messages: no userinfo, and every query value but the registry API's own removed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.hash = '';
    for (const key of [...new Set(u.searchParams.keys())]) {
      const value = u.searchParams.get(key) ?? '';
      if (!PLAIN_QUERY.has(key)) u.searchParams.set(key, 'REDACTED');
      // Upload state (Distribution's `_state`) is opaque and hundreds of characters long: shown shortened.
      else if (value.length > 40) u.searchParams.set(key, `${value.slice(0, 12)}...`);
    }
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}

/** A connection-level failure as a 'network' error naming the request, with a hint for TLS and resets. */
function networkError(error: unknown, req: HttpRequest) {
  const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code ?? '';
  // A socket's EPIPE is the registry (or a proxy) closing the connection mid-request, not a closed stdout.
  const viaProxy = isProxyError(error);
  const e = code === 'EPIPE' || viaProxy ? new LadingError('network', viaProxy ? (error as Error).message : describeCode(code), { cause: error }) : toLadingError(error);
  if (e.kind !== 'network') return e;
  if (!viaProxy && (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')) e.message = describeCode(code);
  let hint = '';
  if (viaProxy) {
    hint = '; check the proxy, or exempt the host with NO_PROXY';
  } else if (/CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|DEPTH_ZERO/.test(code) || /certificate/i.test(e.message)) {
    hint = ' (TLS: trust the registry\'s CA with --ca-file, or skip verification with --insecure)';
  } else if ((code === 'UND_ERR_SOCKET' || code === 'ECONNRESET') && req.url.startsWith('https:')) {
    hint = ' (the registry closed the connection; if it requires a client certificate, pass --cert-file and --key-file)';
  } else if (code === 'EPIPE' && req.body !== undefined && req.method !== 'PATCH') {
    hint = ' (a registry or proxy that refuses large bodies may close the connection: try --chunk-size)';
  } else if (code === 'ECONNREFUSED') {
    hint = ' (nothing is listening there; check the host and port, and --plain-http)';
  } else if (req.url.startsWith('https:') && /wrong version number|ERR_SSL_|EPROTO/i.test(e.message + code)) {
    e.message = `TLS handshake failed (${/wrong version number/i.test(e.message) ? 'wrong version number' : code})`;
    hint = ': the registry may speak plain HTTP: try --plain-http';
  }
  e.message = `${req.method} ${redactUrl(req.url)}: ${e.message}${hint}`;
  return e;
}
