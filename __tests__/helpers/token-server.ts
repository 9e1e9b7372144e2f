/**
 * A token server for Distribution's `auth: token` mode (docker token spec + OAuth2 form), on node:http.
 *
 * - `GET /token?service=S&scope=…&scope=…` with optional Basic credentials →
 *   `{token, access_token, expires_in, issued_at}` (+ `refresh_token` when `offline_token=true` and authenticated).
 *   Anonymous → a token with an empty access list (the registry then answers `insufficient_scope`).
 * - `POST /token` form: `grant_type=password` (username, password; `access_type=offline` adds a refresh token)
 *   or `grant_type=refresh_token` (refresh_token) → `{access_token, refresh_token?, expires_in, issued_at, scope}`.
 * - Wrong credentials / unknown refresh token → 401 `{"errors":[{"code":"UNAUTHORIZED",…}]}`.
 *
 * Tokens are RS256 JWTs whose header names the key by `x5c` (self-signed cert, also the registry's
 * `rootcertbundle`) or by `kid` (libtrust fingerprint of the same key). Every request is recorded in `requests`.
 */
import { X509Certificate, createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { selfSignedCert } from './certs.js';
import { removeDir, tmpDir } from './tmp.js';

export const DEFAULT_SERVICE = 'oci-test-registry';
export const DEFAULT_ISSUER = 'lading-test-issuer';

export type TokenSigning = 'x5c' | 'kid';

/** One entry of the JWT `access` claim. */
export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

/** Decides which of the requested actions a subject gets (undefined subject = anonymous). */
export type GrantPolicy = (subject: string | undefined, type: string, name: string, requested: string[]) => string[];

export interface TokenServerOptions {
  /** username → password; default none (anonymous tokens only) */
  users?: Record<string, string>;
  /** how the JWT header names the key; default x5c */
  signing?: TokenSigning;
  /** serve HTTPS with this certificate (e.g. `testTlsMaterial()`), default plain HTTP */
  tls?: { cert: string; key: string };
  service?: string;
  issuer?: string;
  /** token lifetime in seconds, default 300 (see setTokenLifetime) */
  tokenLifetime?: number;
  /** default: authenticated users get every requested `repository` action and `registry:catalog:*`; anonymous gets nothing */
  grant?: GrantPolicy;
}

export interface TokenRequestRecord {
  method: string;
  /** path and query as received */
  url: string;
  query: URLSearchParams;
  /** parsed body of a POST */
  form?: URLSearchParams;
  authorization?: string;
  /** response status */
  status?: number;
}

export interface RunningTokenServer {
  /** base URL, e.g. http://127.0.0.1:PORT */
  url: string;
  /** url + '/token' (the registry's auth.token.realm) */
  realm: string;
  service: string;
  issuer: string;
  signing: TokenSigning;
  /** PEM of the signing certificate (rootcertbundle) and a file holding it */
  certPem: string;
  certFile: string;
  /** libtrust key id of the signing key */
  keyId: string;
  requests: TokenRequestRecord[];
  users: Map<string, string>;
  /** refresh token → username */
  refreshTokens: Map<string, string>;
  /** lifetime (seconds) of tokens issued from now on; negative values make already-expired tokens */
  setTokenLifetime(seconds: number): void;
  /** mint a token directly with this server's key (bypasses the HTTP endpoint and `requests`) */
  issueToken(subject: string | undefined, access: AccessEntry[]): string;
  stop(): Promise<void>;
}

const MAX_FORM_BYTES = 64 * 1024;

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** libtrust key id: SHA-256 of the DER SPKI, first 240 bits, base32 (RFC 4648, no padding), 12 groups of 4 joined by ':'. */
export function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const hash = createHash('sha256').update(der).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of hash) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join(':');
}

/** Sign an RS256 JWT. */
export function signJwt(header: Record<string, unknown>, claims: Record<string, unknown>, privateKey: KeyObject): string {
  const input = `${base64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', ...header }))}.${base64url(JSON.stringify(claims))}`;
  return `${input}.${base64url(sign('sha256', Buffer.from(input), privateKey))}`;
}

/** Decode (without verifying) a JWT's header and claims, for assertions. */
export function decodeJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [header, claims] = token.split('.');
  if (header === undefined || claims === undefined) throw new Error('not a JWT');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as Record<string, unknown>,
  };
}

/** A signer: a fresh RSA key with a self-signed certificate; `token()` mints JWTs like the server does. */
export interface JwtSigner {
  privateKey: KeyObject;
  certPem: string;
  keyId: string;
  token(options: { signing?: TokenSigning; issuer?: string; service?: string; subject?: string; access: AccessEntry[]; lifetimeSeconds?: number }): string;
}

export async function createJwtSigner(commonName = 'lading test token signer'): Promise<JwtSigner> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const certPem = await selfSignedCert(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), commonName);
  const certDer = new X509Certificate(certPem).raw.toString('base64');
  const keyId = libtrustKeyId(publicKey);
  return {
    privateKey,
    certPem,
    keyId,
    token({ signing = 'x5c', issuer = DEFAULT_ISSUER, service = DEFAULT_SERVICE, subject, access, lifetimeSeconds = 300 }) {
      const now = Math.floor(Date.now() / 1000);
      const header = signing === 'x5c' ? { x5c: [certDer] } : { kid: keyId };
      const claims = {
        iss: issuer,
        sub: subject ?? '',
        aud: service,
        exp: now + lifetimeSeconds,
        nbf: now - 1,
        iat: now,
        jti: randomBytes(12).toString('hex'),
        access,
      };
      return signJwt(header, claims, privateKey);
    },
  };
}

/** Parse `type:name:actions` (name may itself contain ':' e.g. a host:port prefix). Unknown shapes → undefined. */
export function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope.slice(last + 1).split(',').filter((a) => a !== ''),
  };
}

const defaultGrant: GrantPolicy = (subject, type, name, requested) => {
  if (subject === undefined) return [];
  if (type === 'repository') return requested;
  if (type === 'registry' && name === 'catalog') return ['*'];
  return [];
};

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function unauthorized(res: ServerResponse, message: string): void {
  sendJson(res, 401, { errors: [{ code: 'UNAUTHORIZED', message }] });
}

function parseBasic(header: string | undefined): { username: string; password: string } | undefined {
  const match = /^basic\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) {
        reject(new Error('form too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startTokenServer(options: TokenServerOptions = {}): Promise<RunningTokenServer> {
  const service = options.service ?? DEFAULT_SERVICE;
  const issuer = options.issuer ?? DEFAULT_ISSUER;
  const signing = options.signing ?? 'x5c';
  const grant = options.grant ?? defaultGrant;
  let lifetime = options.tokenLifetime ?? 300;

  const signer = await createJwtSigner();
  const dir = tmpDir('lading-token-');
  const certFile = join(dir, 'signing-cert.pem');
  writeFileSync(certFile, signer.certPem);

  const users = new Map(Object.entries(options.users ?? {}));
  const refreshTokens = new Map<string, string>();
  const requests: TokenRequestRecord[] = [];

  function accessFor(subject: string | undefined, scopes: string[]): AccessEntry[] {
    const access: AccessEntry[] = [];
    for (const scope of scopes) {
      const parsed = parseScope(scope);
      if (!parsed) continue;
      const actions = grant(subject, parsed.type, parsed.name, parsed.actions);
      if (actions.length > 0) access.push({ type: parsed.type, name: parsed.name, actions });
    }
    return access;
  }

  function mint(subject: string | undefined, scopes: string[]): { token: string; expires_in: number; issued_at: string } {
    const issued = new Date();
    const token = signer.token({ signing, issuer, service, subject, access: accessFor(subject, scopes), lifetimeSeconds: lifetime });
    return { token, expires_in: lifetime, issued_at: issued.toISOString() };
  }

  function newRefreshToken(username: string): string {
    const refresh = randomBytes(24).toString('base64url');
    refreshTokens.set(refresh, username);
    return refresh;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, record: TokenRequestRecord): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    if (url.pathname !== '/token') {
      sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', message: `no route ${url.pathname}` }] });
      return;
    }
    const basic = parseBasic(record.authorization);
    if (req.method === 'GET') {
      const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
      let subject: string | undefined;
      if (basic) {
        if (users.get(basic.username) !== basic.password) {
          unauthorized(res, 'invalid credentials');
          return;
        }
        subject = basic.username;
      }
      const minted = mint(subject, scopes);
      const body: Record<string, unknown> = { token: minted.token, access_token: minted.token, expires_in: minted.expires_in, issued_at: minted.issued_at };
      if (subject !== undefined && url.searchParams.get('offline_token') === 'true') body.refresh_token = newRefreshToken(subject);
      sendJson(res, 200, body);
      return;
    }
    if (req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      record.form = form;
      const scopes = form.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
      const grantType = form.get('grant_type');
      let subject: string;
      let refresh: string | undefined;
      if (grantType === 'password') {
        const username = form.get('username') ?? '';
        if (!users.has(username) || users.get(username) !== form.get('password')) {
          unauthorized(res, 'invalid credentials');
          return;
        }
        subject = username;
        if (form.get('access_type') === 'offline') refresh = newRefreshToken(subject);
      } else if (grantType === 'refresh_token') {
        const known = refreshTokens.get(form.get('refresh_token') ?? '');
        if (known === undefined) {
          unauthorized(res, 'invalid refresh token');
          return;
        }
        subject = known;
      } else {
        sendJson(res, 400, { error: 'unsupported_grant_type', error_description: `grant_type ${grantType ?? '(none)'}` });
        return;
      }
      const minted = mint(subject, scopes);
      const body: Record<string, unknown> = {
        access_token: minted.token,
        scope: scopes.join(' '),
        expires_in: minted.expires_in,
        issued_at: minted.issued_at,
      };
      if (refresh !== undefined) body.refresh_token = refresh;
      sendJson(res, 200, body);
      return;
    }
    res.writeHead(405, { allow: 'GET, POST' });
    res.end();
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const record: TokenRequestRecord = {
      method: req.method ?? '',
      url: req.url ?? '',
      query: new URL(req.url ?? '/', 'http://token.invalid').searchParams,
      authorization: req.headers.authorization,
    };
    requests.push(record);
    res.on('finish', () => {
      record.status = res.statusCode;
    });
    handle(req, res, record).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { errors: [{ code: 'UNKNOWN', message: String(error) }] });
      else res.destroy();
    });
  };

  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, listener) : createHttpServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const { port } = server.address() as AddressInfo;
  const base = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;

  let stopped: Promise<void> | undefined;
  return {
    url: base,
    realm: `${base}/token`,
    service,
    issuer,
    signing,
    certPem: signer.certPem,
    certFile,
    keyId: signer.keyId,
    requests,
    users,
    refreshTokens,
    setTokenLifetime(seconds: number) {
      lifetime = seconds;
    },
    issueToken(subject, access) {
      return signer.token({ signing, issuer, service, subject, access, lifetimeSeconds: lifetime });
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).finally(() => removeDir(dir));
      return stopped;
    },
  };
}
