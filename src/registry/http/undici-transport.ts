import { Readable } from 'node:stream';
import { Agent, EnvHttpProxyAgent, request, type Dispatcher } from 'undici';
import { LadingError } from '../../errors/errors.js';
import type { HttpRequest, HttpResponse, Transport } from './types.js';

export interface TlsOptions {
  /** Skip TLS certificate verification (--insecure). */
  insecure?: boolean;
  /** PEM CA bundle(s) to trust in addition to nothing else (--ca-file). */
  ca?: string | Buffer;
  /** Client certificate and key (--cert-file, --key-file). */
  cert?: string | Buffer;
  key?: string | Buffer;
}

export const USER_AGENT = 'lading/0.1';

/** How long to wait for response headers, and between two chunks of a response body, by default. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** An environment variable in either case (HTTPS_PROXY or https_proxy), lower case first as curl reads them. */
function envVar(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name.toLowerCase()] ?? env[name.toUpperCase()];
  return v === undefined || v === '' ? undefined : v;
}

/**
 * Creates the one dispatcher a client uses: keep-alive connections, TLS settings applied, and the
 * HTTP(S)_PROXY / NO_PROXY variables of `env` honoured for every host contacted (registry, token
 * realm, redirect targets: CASES B18). Node's own fetch does not read them; undici's EnvHttpProxyAgent
 * does, with NO_PROXY suffixes, leading dots, ports and `*`. `timeoutMs` bounds the wait for response
 * headers and each gap in a response body (default 60 s).
 */
export function createDispatcher(tls: TlsOptions = {}, env: NodeJS.ProcessEnv = process.env, timeoutMs = DEFAULT_TIMEOUT_MS): Dispatcher {
  const connect = {
    rejectUnauthorized: !tls.insecure,
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert ? { cert: tls.cert } : {}),
    ...(tls.key ? { key: tls.key } : {}),
  };
  const options = {
    keepAliveTimeout: 30_000,
    // A registry that accepts the connection but never answers, or stalls mid-body, fails within a minute
    // (retried as a connection error: UND_ERR_HEADERS_TIMEOUT / UND_ERR_BODY_TIMEOUT) instead of undici's
    // five-minute defaults.
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connections: 16,
    connect,
  };
  const httpProxy = envVar(env, 'HTTP_PROXY');
  const httpsProxy = envVar(env, 'HTTPS_PROXY');
  for (const [name, value] of [['HTTP_PROXY', httpProxy], ['HTTPS_PROXY', httpsProxy]] as const) {
    if (value !== undefined && !/^https?:\/\/[^/]/i.test(value)) {
      throw new LadingError('usage', `invalid ${name} (or ${name.toLowerCase()}): expected a URL such as http://proxy.example:3128, with its scheme`);
    }
    if (value !== undefined) {
      try {
        new URL(value);
      } catch {
        throw new LadingError('usage', `invalid ${name} (or ${name.toLowerCase()}): not a URL`);
      }
    }
  }
  if (!httpProxy && !httpsProxy) return new Agent(options);
  // Values from `env` only (never process.env behind its back): '' means no proxy for that scheme.
  return new EnvHttpProxyAgent({ ...options, httpProxy: httpProxy ?? '', httpsProxy: httpsProxy ?? '', noProxy: envVar(env, 'NO_PROXY') ?? '', requestTls: connect });
}

/** The bottom transport: one HTTP exchange through undici, no redirects followed. */
export class UndiciTransport implements Transport {
  constructor(private readonly dispatcher: Dispatcher = createDispatcher(), private readonly userAgent = USER_AGENT) {}

  async do(req: HttpRequest): Promise<HttpResponse> {
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...(req.headers ?? {}) };
    let body: Buffer | string | Readable | undefined;
    if (typeof req.body === 'function') body = req.body();
    else body = req.body;
    const res = await request(req.url, {
      method: req.method as Dispatcher.HttpMethod,
      headers,
      body,
      dispatcher: this.dispatcher,
      signal: req.signal,
    } as Parameters<typeof request>[1]);
    return {
      status: res.statusCode,
      headers: res.headers as Record<string, string | string[] | undefined>,
      body: res.body as unknown as Readable,
      url: req.url,
    };
  }
}
