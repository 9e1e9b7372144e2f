import { redactUrl } from '../http/retry.js';
import { LadingError } from '../../errors/errors.js';
import { printable } from '../../errors/printable.js';
import { currentSecretScope, scrubSecrets, SecretSet } from '../../errors/secrets.js';
import type { Credential, CredentialProvider } from '../credentials/types.js';
import { dump, headerValues, readBounded, type HttpRequest, type HttpResponse, type Transport } from '../http/types.js';
import { parseChallenges } from './challenge.js';
import { mergeScopes } from './scope.js';

export type { Credential, CredentialProvider };

/** Bound on a token server's JSON reply. */
export const TOKEN_RESPONSE_LIMIT = 128 * 1024;
/** Bound on a token server's error body (only a message is taken from it). */
const TOKEN_ERROR_LIMIT = 8 * 1024;
/** Token lifetime when the reply has no `expires_in` (distribution token spec; CASES B07). */
const DEFAULT_LIFETIME_S = 60;
/** Tokens are renewed once this fraction of their lifetime has passed. */
const RENEW_AT = 0.9;

export interface AuthTransportOptions {
  /** Registry name passed to `credentials()`. */
  registry: string;
  credentials: CredentialProvider;
  /**
   * The registry's own origin (`https://registry.example`). Requests to any other origin (an upload Location or
   * a redirect naming another host) get no Authorization and no token, and their 401s are not answered with
   * the registry's credentials (CASES B15, B23c). Unset: every host is authorised (library callers' old default).
   */
  origin?: string;
  /** OAuth2 client_id for the refresh-token exchange; default `lading`. */
  clientId?: string;
  log?: (line: string) => void;
  /**
   * Where the credentials' secrets and the tokens fetched are registered, for scrubbing (default: a set of this
   * transport's own that forwards to the current CLI run's, if any).
   */
  secrets?: SecretSet;
  /** Clock in ms (tests). */
  now?: () => number;
}

interface TokenRealm {
  realm: string;
  service?: string;
}
type HostAuth = { scheme: 'basic' } | ({ scheme: 'bearer' } & TokenRealm);
interface Token {
  token: string;
  renewAt: number;
}

/**
 * Adds registry authentication to a transport, after oras-go `registry/remote/auth/client.go`:
 * remembers per host whether the registry wants Basic or Bearer and then authorises requests up
 * front (Bearer: a cached token for the request's merged scopes, so a push declaring `pull,push`
 * uses one token for HEAD and uploads — CASES B06); on 401 parses the challenge, fetches a token
 * and retries once, plus one more time with the union of scopes on `insufficient_scope`.
 * Token requests go through `base` with only the credentials the token flow needs.
 */
function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

export class AuthTransport implements Transport {
  private readonly hosts = new Map<string, HostAuth>();
  /** Token cache, keyed by realm, service and sorted scope set; promises so concurrent callers share a fetch. */
  private readonly tokens = new Map<string, Promise<Token>>();
  private credential?: Promise<Credential | undefined>;
  private readonly clientId: string;
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  private readonly secrets: SecretSet;

  constructor(
    private readonly base: Transport,
    private readonly options: AuthTransportOptions,
  ) {
    this.clientId = options.clientId ?? 'lading';
    this.log = options.log ?? (() => {});
    this.now = options.now ?? Date.now;
    this.secrets = options.secrets ?? new SecretSet(currentSecretScope());
  }

  async do(req: HttpRequest): Promise<HttpResponse> {
    const url = new URL(req.url);
    // The registry's credentials go to the registry only: another host named by a Location gets nothing.
    if (this.options.origin !== undefined && url.origin !== this.options.origin) return this.base.do(req);
    const host = url.host;
    // A bare stream is consumed by the first attempt and cannot be re-sent.
    const repeatable = !(req.body !== undefined && typeof req.body === 'object' && !Buffer.isBuffer(req.body));
    let scopes = mergeScopes(req.scopes ?? []);
    let sent = await this.preAuthorize(host, scopes, req.signal);
    let res = await this.send(req, sent);
    // A 401 from another host (a redirect target such as a CDN) is that host's business: its challenge must never
    // make lading send the registry's credentials to a realm it names, nor change how the registry is authorised.
    if (res.status === 401 && this.options.origin !== undefined && originOf(res.url) !== this.options.origin) return res;
    // attempt 0: the first 401 (any challenge); attempt 1: the retry was refused for insufficient scope.
    for (let attempt = 0; res.status === 401 && attempt < 2; attempt++) {
      const challenges = parseChallenges(headerValues(res, 'www-authenticate'));
      const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
      const basic = challenges.find((c) => c.scheme === 'basic');
      let next: string | undefined;
      try {
        if (bearer) {
          if (attempt > 0 && bearer.params.error !== 'insufficient_scope') return res;
          const realm: TokenRealm = { realm: resolveRealm(bearer.params.realm!, req.url), service: bearer.params.service || undefined };
          this.learn(host, { scheme: 'bearer', ...realm });
          if (!repeatable) return res;
          // The challenge scope is added verbatim (opaque ones like `aws` too, CASES B04); `scope=""` adds nothing.
          scopes = mergeScopes([...scopes, bearer.params.scope ?? '']);
          const stale = sent?.startsWith('Bearer ') ? sent.slice(7) : undefined;
          next = `Bearer ${await this.token(realm, scopes, req.signal, stale)}`;
        } else if (basic && attempt === 0) {
          this.learn(host, { scheme: 'basic' });
          if (!repeatable) return res;
          next = basicAuthorization(await this.getCredential());
        }
      } catch (err) {
        await dump(res.body);
        throw err;
      }
      // Nothing new to offer (no credentials, or the same ones were just refused): the caller gets the 401.
      if (!next || next === sent) return res;
      await dump(res.body);
      sent = next;
      res = await this.send(req, sent);
      if (res.status === 401 && this.options.origin !== undefined && originOf(res.url) !== this.options.origin) return res;
    }
    return res;
  }

  private send(req: HttpRequest, authorization: string | undefined): Promise<HttpResponse> {
    if (!authorization) return this.base.do(req);
    return this.base.do({ ...req, headers: { ...(req.headers ?? {}), authorization } });
  }

  private learn(host: string, auth: HostAuth): void {
    const prev = this.hosts.get(host);
    if (JSON.stringify(prev) === JSON.stringify(auth)) return;
    this.hosts.set(host, auth);
    this.log(`auth: ${host} uses ${auth.scheme}${auth.scheme === 'bearer' ? ` (realm ${redactUrl(auth.realm)}, service ${printable(auth.service ?? '-')})` : ''}`);
  }

  /** The Authorization value to send up front, once the host's scheme is known. */
  private async preAuthorize(host: string, scopes: string[], signal?: AbortSignal): Promise<string | undefined> {
    const auth = this.hosts.get(host);
    if (!auth) return undefined;
    if (auth.scheme === 'basic') return basicAuthorization(await this.getCredential());
    return `Bearer ${await this.token(auth, scopes, signal)}`;
  }

  /** Credentials are looked up lazily, once per transport. */
  private getCredential(): Promise<Credential | undefined> {
    this.credential ??= this.options.credentials(this.options.registry).then((found) => {
      const cred = normalizeCredential(found);
      // Every secret this transport may send is known to the scrubber before anything can echo it.
      for (const secret of [cred?.password, cred?.identityToken, cred?.registryToken, basicAuthorization(cred)?.slice(6)]) this.secrets.add(secret);
      return cred;
    });
    return this.credential;
  }

  /** A valid token for the scopes: cached unless due for renewal or equal to `stale` (just refused). */
  private async token(realm: TokenRealm, scopes: string[], signal?: AbortSignal, stale?: string): Promise<string> {
    const cred = await this.getCredential();
    if (cred?.registryToken) return cred.registryToken;
    const key = JSON.stringify([realm.realm, realm.service ?? '', scopes]);
    for (let i = 0; i < 3; i++) {
      const cached = this.tokens.get(key);
      if (!cached) break;
      const t = await cached.catch(() => undefined);
      if (t && t.token !== stale && this.now() < t.renewAt) return t.token;
      if (this.tokens.get(key) === cached) {
        this.tokens.delete(key);
        break;
      }
      // Another caller replaced the entry meanwhile: look again.
    }
    const fetching = this.fetchToken(realm, scopes, cred, signal);
    this.tokens.set(key, fetching);
    fetching.catch(() => {
      if (this.tokens.get(key) === fetching) this.tokens.delete(key);
    });
    return (await fetching).token;
  }

  /** One token request (distribution token spec): OAuth2 refresh-token POST, or GET with optional Basic. */
  private async fetchToken(realm: TokenRealm, scopes: string[], cred: Credential | undefined, signal?: AbortSignal): Promise<Token> {
    const started = this.now();
    const u = new URL(realm.realm);
    const where = `${u.origin}${u.pathname}`;
    let req: HttpRequest;
    if (cred?.identityToken) {
      // CASES B10: grant_type, refresh_token, service, client_id, scope (space-joined), as oras-go builds it.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.identityToken });
      if (realm.service) form.append('service', realm.service);
      form.append('client_id', this.clientId);
      if (scopes.length > 0) form.append('scope', scopes.join(' '));
      const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
      req = { method: 'POST', url: realm.realm, headers, body: form.toString(), signal };
    } else {
      if (realm.service) u.searchParams.append('service', realm.service);
      for (const scope of scopes) u.searchParams.append('scope', scope); // repeated, each once (B07)
      const headers: Record<string, string> = { accept: 'application/json' };
      const basic = basicAuthorization(cred);
      if (basic) headers.authorization = basic;
      req = { method: 'GET', url: u.toString(), headers, signal };
    }
    const res = await this.base.do(req);
    if (res.status < 200 || res.status >= 300) {
      let text = '';
      try {
        text = (await readBounded(res.body, TOKEN_ERROR_LIMIT, 'token error')).toString('utf8');
      } catch {
        /* message unavailable */
      }
      // The server's text is one inert line, and never a secret it echoes (the form body it was sent, say).
      const msg = printable(errorMessage(text));
      throw new LadingError('unauthorized', scrubSecrets(`token request ${req.method} ${where}: ${res.status}${msg ? `: ${msg}` : ''}`, [this.secrets]));
    }
    const body = await readBounded(res.body, TOKEN_RESPONSE_LIMIT, 'token response');
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new LadingError('unauthorized', `token response from ${where} is not JSON`);
    }
    const token = [json.token, json.access_token].find((t): t is string => typeof t === 'string' && t !== '');
    // The tokens handed out are secrets too: a registry may quote the Authorization it was sent.
    for (const t of [json.token, json.access_token, json.refresh_token]) if (typeof t === 'string') this.secrets.add(t);
    if (!token) throw new LadingError('unauthorized', `token response from ${where} has no token`);
    const expiresIn = Number(json.expires_in);
    const lifetime = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : DEFAULT_LIFETIME_S;
    // Count from issued_at when given (never from the future, so clock skew cannot extend a token).
    const issued = typeof json.issued_at === 'string' ? Date.parse(json.issued_at) : NaN;
    const from = Number.isFinite(issued) ? Math.min(issued, started) : started;
    this.log(`auth: token for ${scopes.length > 0 ? printable(scopes.join(' ')) : '(no scope)'} from ${where}, lifetime ${lifetime}s`);
    return { token, renewAt: from + lifetime * 1000 * RENEW_AT };
  }
}

/** A helper's `Username: "<token>"` means the secret is an identity (refresh) token, never Basic (B10). */
function normalizeCredential(cred: Credential | undefined): Credential | undefined {
  if (cred?.username === '<token>' && cred.password && !cred.identityToken) {
    return { identityToken: cred.password, registryToken: cred.registryToken };
  }
  return cred;
}

function basicAuthorization(cred: Credential | undefined): string | undefined {
  if (!cred?.username || cred.password === undefined) return undefined;
  return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
}

function resolveRealm(realm: string, requestUrl: string): string {
  try {
    return new URL(realm, requestUrl).toString();
  } catch {
    throw new LadingError('unauthorized', 'registry sent an invalid token realm');
  }
}

/** A short message from a token server's error body (JSON fields or plain text). */
function errorMessage(text: string): string {
  let msg = text;
  try {
    const j = JSON.parse(text) as Record<string, unknown> & { errors?: { message?: string; code?: string }[] };
    const fromErrors = Array.isArray(j.errors) ? j.errors.map((e) => e?.message ?? e?.code).filter(Boolean).join('; ') : '';
    const field = [j.details, j.error_description, j.message, j.error].find((v) => typeof v === 'string' && v !== '');
    msg = fromErrors || (field as string | undefined) || text;
  } catch {
    /* plain text */
  }
  msg = msg.replace(/\s+/g, ' ').trim();
  return msg.length > 300 ? `${msg.slice(0, 300)}…` : msg;
}
