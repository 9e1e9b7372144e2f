import { readFileSync } from 'node:fs';
import type { Dispatcher } from 'undici';
import { LadingError } from '../errors/errors.js';
import { printable, printableLines } from '../errors/printable.js';
import { currentSecretScope, scrubSecrets, SecretSet } from '../errors/secrets.js';
import { hostname } from '../reference/reference.js';
import { AuthTransport } from './auth/client.js';
import type { CredentialProvider } from './credentials/types.js';
import { RedirectTransport, resolveLocation } from './http/redirect.js';
import { DEFAULT_RETRY, redactUrl, RetryTransport, type RetryPolicy } from './http/retry.js';
import { dump, headerValue, headerValues, readBounded, type HttpRequest, type HttpResponse, type Transport } from './http/types.js';
import { createDispatcher, UndiciTransport } from './http/undici-transport.js';
import { responseError } from './errors.js';
import { rateLimitOf, type RateLimit } from './http/rate-limit.js';
import { Repository } from './repository.js';
import { UploadPolicy } from './upload.js';

/** Connection and behaviour settings for one registry host. */
export interface RegistryOptions {
  /** Use http://. Default: true only for `localhost` (as ORAS), false otherwise. */
  plainHttp?: boolean;
  insecure?: boolean;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  credentials?: CredentialProvider;
  /** Status lines (retries, warnings) for stderr. */
  log?: (line: string) => void;
  /** Request trace with secrets scrubbed (--debug). */
  debug?: (line: string) => void;
  maxManifestSize?: number;
  retry?: RetryPolicy;
  /** Waits between retries (tests inject a recorder instead of really sleeping). */
  sleep?: (ms: number) => Promise<void>;
  /** Injected dispatcher (tests); otherwise one keep-alive agent per registry. */
  dispatcher?: Dispatcher;
  /** Environment for HTTP(S)_PROXY / NO_PROXY (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Timeout in ms for response headers and for each gap in a response body (default 60 s); a timeout is retried as a connection error. */
  timeoutMs?: number;
  /** Called with every rate limit a response reports (RateLimit-Remaining and kin: see http/rate-limit.ts). */
  onRateLimit?: (registry: string, limit: RateLimit) => void;
  /** Injected bottom transport (tests). */
  transport?: Transport;
  /**
   * Blob uploads to this host (`--chunk-size`): bytes per PATCH for every blob; 0: never chunk because of
   * size; unset: blobs above `chunkThreshold` go in 4 MiB chunks, the others in one request (upload.ts).
   */
  chunkSize?: number;
  /** Blobs larger than this are chunked when `chunkSize` is unset (default upload.ts DEFAULT_CHUNK_THRESHOLD). */
  chunkThreshold?: number;
}

export const DEFAULT_MAX_MANIFEST_SIZE = 4 * 1024 * 1024;
const CATALOG_LIMIT = 16 * 1024 * 1024;

/**
 * A challenge's realm for the trace: a token realm is a URL like any other (absolute, or a path on the registry),
 * so its query values are hidden; any other realm (Basic's `realm="Registry Realm"`) is free text, shown printable.
 */
export function traceRealm(realm: string, requestUrl: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(realm)) return redactUrl(realm);
  if (realm.startsWith('/')) {
    try {
      return redactUrl(new URL(realm, requestUrl).toString());
    } catch {
      /* shown as text */
    }
  }
  return printable(realm);
}

/** The headers of a response worth a trace line, as shown: the server's text printable, realms as traceRealm shows them. */
export function traceHeaders(res: HttpResponse, requestUrl: string): string {
  return ['docker-content-digest', 'content-type', 'content-length', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit', 'ratelimit-policy', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'retry-after', 'www-authenticate']
    .map((h) => [h, headerValue(res, h)])
    .filter(([, v]) => v)
    .map(([h, v]) => {
      if (h !== 'www-authenticate') return `${h}: ${printable(v!)}`;
      // Outside the realms the challenge is printable; the realms are each shown by traceRealm.
      const parts = v!.split(/(\brealm=(?:"[^"]*"|[^\s,"]+))/gi);
      return `${h}: ${parts
        .map((p, i) => {
          if (i % 2 === 0) return printable(p);
          const quoted = p[6] === '"';
          return `realm="${traceRealm(quoted ? p.slice(7, -1) : p.slice(6), requestUrl)}"`;
        })
        .join('')}`;
    })
    .join('; ');
}

/** A request in the trace: method, redacted URL, and the Range it asks for (a resumed download). */
function what(req: HttpRequest): string {
  const range = req.headers?.range;
  return `${req.method} ${redactUrl(req.url)}${range ? ` (Range: ${printable(range)})` : ''}`;
}

/** Prints request method, URL (redacted), status: never request headers but Range, so never credentials. */
class DebugTransport implements Transport {
  constructor(private readonly base: Transport, private readonly debug: (line: string) => void) {}
  async do(req: HttpRequest): Promise<HttpResponse> {
    const started = Date.now();
    try {
      const res = await this.base.do(req);
      const extra = traceHeaders(res, req.url);
      this.debug(`${what(req)} -> ${res.status} (${Date.now() - started} ms)${extra ? ` [${extra}]` : ''}`);
      return res;
    } catch (err) {
      this.debug(`${what(req)} -> error ${printable((err as Error).message)}`);
      throw err;
    }
  }
}

/** One registry host: the transport stack (auth → redirects → debug → retry → undici) and the endpoints not tied to a repository. */
export class Registry {
  readonly baseUrl: string;
  readonly transport: Transport;
  readonly maxManifestSize: number;
  /** Chunked or monolithic uploads, and the chunk size a 413 taught: per host, for the rest of the process. */
  readonly uploads: UploadPolicy;
  private readonly warned = new Set<string>();
  /** The rate limit the latest response reported, if any did. */
  rateLimit?: RateLimit;

  /** The options given, with `log` and `debug` showing every line scrubbed and printable (errors/secrets.ts, errors/printable.ts). */
  readonly options: RegistryOptions;
  /** The secrets of this registry's credentials and tokens (forwarded to the CLI run it was made in, if any). */
  readonly secrets = new SecretSet(currentSecretScope());

  constructor(readonly name: string, readonly host: string, given: RegistryOptions = {}) {
    const { log, debug } = given;
    // Every status and trace line (retries, warnings, auth, uploads, resumes) passes here: scrubbed of every known
    // secret, with no control character but LF.
    const shown = (line: string) => printableLines(scrubSecrets(line, [this.secrets]));
    const options: RegistryOptions = {
      ...given,
      log: log && ((line: string) => log(shown(line))),
      debug: debug && ((line: string) => debug(shown(line))),
    };
    this.options = options;
    const plain = options.plainHttp ?? hostname(host) === 'localhost';
    this.baseUrl = `${plain ? 'http' : 'https'}://${host}`;
    this.maxManifestSize = options.maxManifestSize ?? DEFAULT_MAX_MANIFEST_SIZE;
    this.uploads = new UploadPolicy(options.chunkSize, options.chunkThreshold);
    let bottom: Transport = options.transport ?? new UndiciTransport(options.dispatcher ?? createDispatcher(readTls(options), options.env, options.timeoutMs));
    // The trace is next to the wire: every attempt is a line (a 429 and its rate-limit headers before the retry).
    if (options.debug) bottom = new DebugTransport(bottom, options.debug);
    bottom = new RetryTransport(bottom, { policy: options.retry ?? DEFAULT_RETRY, log: options.log, sleep: options.sleep });
    const base = new RedirectTransport(bottom);
    this.transport = new AuthTransport(base, {
      registry: name,
      origin: new URL(this.baseUrl).origin,
      credentials: options.credentials ?? (async () => undefined),
      secrets: this.secrets,
      // Which scheme a host uses and each token fetched are trace lines (--debug), not status: ORAS prints neither.
      log: options.debug,
    });
  }

  url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  /** `forPush`: a write verb's repository, whose reads ask for pull,push too, so one token serves the command (B06). */
  repository(name: string, options: { forPush?: boolean } = {}): Repository {
    return new Repository(this, name, options);
  }

  /** Sends a request and shows a registry `Warning` header once per text (distribution-spec "Warnings"). */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const res = await this.transport.do(req);
    const limit = rateLimitOf(res);
    if (limit) {
      this.rateLimit = limit;
      this.options.onRateLimit?.(this.name, limit);
    }
    for (const text of headerValues(res, 'warning').flatMap(warningTexts)) {
      if (!this.warned.has(text)) {
        this.warned.add(text);
        this.options.log?.(`Warning from ${this.name}: ${printable(text)}`);
      }
    }
    return res;
  }

  /** GET /v2/: checks that the registry is reachable and the credentials work (login). */
  async ping(): Promise<void> {
    const res = await this.send({ method: 'GET', url: this.url('/v2/'), scopes: [] });
    if (res.status !== 200) throw await responseError(res, 'GET', `cannot log in to ${this.name}`);
    await dump(res.body);
  }

  /** The catalog, following `Link` pagination (distribution-spec: content discovery). */
  async catalog(options: { last?: string; pageSize?: number } = {}): Promise<string[]> {
    const q = new URLSearchParams();
    if (options.pageSize) q.set('n', String(options.pageSize));
    if (options.last) q.set('last', options.last);
    const first = this.url(`/v2/_catalog${q.size ? `?${q}` : ''}`);
    const all: string[] = [];
    await paginate(this, first, ['registry:catalog:*'], 'list repositories', (page) => {
      const repos = (page as { repositories?: unknown }).repositories;
      if (Array.isArray(repos)) all.push(...repos.filter((r): r is string => typeof r === 'string'));
    });
    return [...new Set(all)];
  }
}

/**
 * The texts of a `Warning` header value (RFC 7234 5.5: `code agent "text" [date]`, comma-separated,
 * commas allowed inside the quoted text); distribution-spec registries send code 299. Anything
 * unparsable is shown whole.
 */
export function warningTexts(value: string): string[] {
  const re = /(?:^|,)\s*\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"(?:\s+"[^"]*")?\s*(?=,|$)/y;
  const texts: string[] = [];
  let end = 0;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    texts.push(m[1].replace(/\\(.)/g, '$1'));
    end = re.lastIndex;
  }
  return end === value.length && texts.length > 0 ? texts : [value.trim()];
}

function readTls(options: RegistryOptions) {
  const read = (path: string | undefined, what: string) => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new LadingError('usage', `cannot read ${what} "${path}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  if (Boolean(options.certFile) !== Boolean(options.keyFile)) throw new LadingError('usage', '--cert-file and --key-file go together');
  return { insecure: options.insecure, ca: read(options.caFile, 'CA file'), cert: read(options.certFile, 'certificate file'), key: read(options.keyFile, 'key file') };
}

/** Parses `Link: <url>; rel="next"` (the URL part first, so commas inside it are safe: CASES B27). */
export function nextLink(res: HttpResponse): string | undefined {
  for (const value of headerValues(res, 'link')) {
    const re = /<([^>]*)>\s*((?:;\s*[^;,]*)*)/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(value))) {
      if (/;\s*rel="?next"?/i.test(m[2])) return m[1];
    }
  }
  return undefined;
}

/** GETs a JSON list endpoint page by page, following Link until there is none; guards against loops. */
export async function paginate(
  registry: Registry,
  firstUrl: string,
  scopes: string[],
  what: string,
  onPage: (page: unknown, res: HttpResponse) => void,
  options: { accept?: string } = {},
): Promise<void> {
  const seen = new Set<string>();
  let url: string | undefined = firstUrl;
  while (url) {
    if (seen.has(url)) break;
    seen.add(url);
    const res = await registry.send({ method: 'GET', url, headers: { accept: options.accept ?? 'application/json' }, scopes });
    if (res.status !== 200) throw await responseError(res, 'GET', `cannot ${what}`);
    const body = await readBounded(res.body, CATALOG_LIMIT, 'list response');
    let page: unknown;
    try {
      page = JSON.parse(body.toString('utf8'));
    } catch {
      throw new LadingError('registry', `cannot ${what}: the registry sent a response that is not JSON`);
    }
    onPage(page, res);
    const link = nextLink(res);
    url = link ? resolveLocation(url, link) : undefined;
  }
}

