import { Readable } from 'node:stream';
import { Agent, Client, EnvHttpProxyAgent, request, type Dispatcher } from 'undici';
import { LadingError } from '../../errors/errors.js';
import { redactUrl } from './retry.js';
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

/**
 * An environment variable in either case (HTTPS_PROXY or https_proxy), lower case first as curl reads them; an empty
 * one counts as unset, so `no_proxy=` does not hide `NO_PROXY=*`.
 */
function envVar(env: NodeJS.ProcessEnv, name: string): string | undefined {
  for (const v of [env[name.toLowerCase()], env[name.toUpperCase()]]) if (v !== undefined && v !== '') return v;
  return undefined;
}

/** A proxy URL checked as undici will use it: http(s), a host, nothing after it, well-formed user name and password. */
function checkProxyUrl(name: string, value: string): void {
  const invalid = (why: string) => new LadingError('usage', `invalid ${name} (or ${name.toLowerCase()}): ${why}`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && !/^https?:/i.test(value)) throw invalid(`${value.split(':')[0]}: proxies are http:// or https:// (no SOCKS)`);
  if (!/^https?:\/\/[^/]/i.test(value)) throw invalid('expected a URL such as http://proxy.example:3128, with its scheme');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('not a URL');
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' || /[?#]/.test(value)) {
    throw invalid('a proxy URL has no path, query or fragment (http://[user:password@]host:port)');
  }
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    throw invalid('bad percent-encoding in its user name or password');
  }
}

/** The error codes undici's client takes for a recoverable socket failure and reconnects after, for ever. */
const RECONNECTED = new Set(['UND_ERR_SOCKET', 'UND_ERR_INFO', 'ECONNRESET']);

/**
 * A failed CONNECT to the proxy, said as the proxy's (`the proxy http://proxy:3128/ …`, no credentials) and marked
 * `proxy: true` for the hint. A proxy closing the connection is re-coded LADING_PROXY_CLOSED: undici's tunnel hands its
 * UND_ERR_SOCKET to the origin's client as a connect failure, which that client retries at once and for ever without
 * failing the request (a busy loop of CONNECTs, no error, no timeout). Re-coded, the request fails and the retry layer
 * decides, with its count and backoff.
 */
export function proxyError(err: unknown, proxy: string): Error {
  const e = err as Error & { code?: string };
  const code = e?.code ?? '';
  const name = `the proxy ${proxy} (HTTPS_PROXY/HTTP_PROXY)`;
  let message: string;
  let newCode = code;
  if (RECONNECTED.has(code)) {
    message = `${name} closed the connection before opening a tunnel`;
    newCode = 'LADING_PROXY_CLOSED';
  } else if (code === 'UND_ERR_HEADERS_TIMEOUT') message = `${name} did not answer CONNECT in time (LADING_HTTP_TIMEOUT)`;
  else if (code === 'ECONNREFUSED') message = `${name} refused the connection`;
  else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') message = `${name}: host not found (${code})`;
  else if (code.startsWith('HPE_') || /HTTP\/1\.1 protocol|Parse Error/i.test(e?.message ?? '')) {
    message = `${name} did not answer in HTTP`;
    newCode = 'LADING_PROXY_PROTOCOL';
  } else message = `${name}: ${e?.message ?? String(err)}`;
  return Object.assign(new Error(message, { cause: err }), { code: newCode, proxy: true });
}

/** undici's client to the proxy, with lading's timeouts and its CONNECT failures made final (proxyError). */
class ProxyClient extends Client {
  private readonly shown: string;
  constructor(url: string | URL, options: Client.Options) {
    super(url, options);
    this.shown = redactUrl(String(url));
  }

  override connect(options: Dispatcher.ConnectOptions): Promise<Dispatcher.ConnectData>;
  override connect(options: Dispatcher.ConnectOptions, callback: (err: Error | null, data: Dispatcher.ConnectData) => void): void;
  override connect(options: Dispatcher.ConnectOptions, callback?: (err: Error | null, data: Dispatcher.ConnectData) => void): Promise<Dispatcher.ConnectData> | void {
    if (callback) return super.connect(options, (err, data) => callback(err ? proxyError(err, this.shown) : null, data));
    return super.connect(options).then(
      (data) => {
        if (data.statusCode === 200) return data;
        // Said here rather than by undici ("Proxy response (407) !== 200 when HTTP Tunneling"): named, with advice.
        data.socket.destroy();
        const advice = data.statusCode === 407 ? ': it wants credentials (http://user:password@host:port in the variable)' : '';
        throw Object.assign(new Error(`the proxy ${this.shown} (HTTPS_PROXY/HTTP_PROXY) refused to open a tunnel to ${options.path} (${data.statusCode})${advice}`), {
          code: 'LADING_PROXY_REFUSED',
          proxy: true,
        });
      },
      (err: unknown) => {
        throw proxyError(err, this.shown);
      },
    );
  }
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
    if (value !== undefined) checkProxyUrl(name, value);
  }
  if (!httpProxy && !httpsProxy) return new Agent(options);
  // Values from `env` only (never process.env behind its back): '' means no proxy for that scheme. The client to the
  // proxy gets lading's timeouts (undici's own are 5 minutes) and final CONNECT failures (ProxyClient).
  return new EnvHttpProxyAgent({
    ...options,
    httpProxy: httpProxy ?? '',
    httpsProxy: httpsProxy ?? '',
    noProxy: envVar(env, 'NO_PROXY') ?? '',
    requestTls: connect,
    clientFactory: (url: URL, clientOptions: Client.Options) => new ProxyClient(url, { ...clientOptions, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }),
  } as EnvHttpProxyAgent.Options);
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
