import { printable } from './printable.js';
import { scrubSecrets } from './secrets.js';

/**
 * One catalogue of error kinds. Every error lading raises is a LadingError with a kind;
 * the kind decides the process exit code (documented in the README).
 */
export type ErrorKind =
  | 'usage' // bad flags, malformed reference, contradicting inputs
  | 'unauthorized' // 401/403, wrong credentials, missing credential helper on store
  | 'not-found' // unknown repository, tag, digest or file
  | 'digest-mismatch' // content does not match its digest or size
  | 'rate-limited' // 429 beyond the retry cap
  | 'unsupported' // the registry or input cannot do this (schema 1, delete disabled)
  | 'too-large' // a bounded read exceeded its limit (manifest size)
  | 'network' // connection refused, TLS, DNS, timeouts after retries
  | 'registry' // any other registry error response
  | 'internal';

export const EXIT_CODES: Record<ErrorKind, number> = {
  internal: 1,
  registry: 1,
  unsupported: 1,
  'too-large': 1,
  usage: 2,
  unauthorized: 3,
  'not-found': 4,
  'digest-mismatch': 5,
  'rate-limited': 6,
  network: 7,
};

export class LadingError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = 'LadingError';
  }
  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

/** A registry error code from the JSON body, e.g. {code:"MANIFEST_UNKNOWN", message, detail}. */
export interface RegistryErrorCode {
  code: string;
  message?: string;
  detail?: unknown;
}

/** An unsuccessful HTTP response from a registry, with the method, a redacted URL and the error codes. */
export class RegistryResponseError extends LadingError {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly errors: RegistryErrorCode[];
  constructor(
    kind: ErrorKind,
    init: { method: string; url: string; status: number; errors: RegistryErrorCode[]; text?: string },
  ) {
    super(kind, formatResponseError(init));
    this.name = 'RegistryResponseError';
    this.method = init.method;
    this.url = init.url;
    this.status = init.status;
    this.errors = init.errors;
  }
  hasCode(code: string): boolean {
    return this.errors.some((e) => e.code === code);
  }
}

function formatResponseError(init: {
  method: string;
  url: string;
  status: number;
  errors: RegistryErrorCode[];
  text?: string;
}): string {
  const head = `${init.method} ${init.url}: ${init.status} ${statusText(init.status)}`;
  // Everything after the head is the server's text: one inert line (printable), and never a secret it echoes.
  if (init.errors.length > 0) {
    const parts = [...new Set(init.errors.map((e) => `${e.message ? `${e.code}: ${e.message}` : e.code}${detailText(e.detail)}`))];
    return `${head}: ${shown(parts.join('; '))}`;
  }
  const text = (init.text ?? '').trim();
  return text ? `${head}: ${shown(text)}` : head;
}

/** Server text as it goes into a message: secrets scrubbed, control characters escaped. */
function shown(text: string): string {
  return printable(scrubSecrets(text));
}

/** The identifying part of an error's detail (Distribution: {"digest"}, {"Tag"}, {"Name"}), e.g. which blob is unknown. */
function detailText(detail: unknown): string {
  if (typeof detail === 'string' && /^[a-z0-9]+:[a-f0-9]{32,}$/.test(detail)) return ` (digest ${detail})`;
  if (!detail || typeof detail !== 'object') return '';
  const d = detail as Record<string, unknown>;
  for (const key of ['digest', 'Digest', 'Tag', 'tag', 'Name', 'name']) {
    if (typeof d[key] === 'string' && (d[key] as string).length <= 200) return ` (${key.toLowerCase()} ${d[key]})`;
  }
  return '';
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    405: 'Method Not Allowed',
    408: 'Request Timeout',
    413: 'Payload Too Large',
    416: 'Range Not Satisfiable',
    429: 'Too Many Requests',
    500: 'Internal Server Error',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
    504: 'Gateway Timeout',
  };
  return texts[status] ?? '';
}

/** Kind of error for an HTTP status. */
export function kindForStatus(status: number): ErrorKind {
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 404) return 'not-found';
  if (status === 429) return 'rate-limited';
  if (status === 405) return 'unsupported';
  if (status === 413) return 'too-large';
  return 'registry';
}

export function usageError(message: string): LadingError {
  return new LadingError('usage', message);
}

/** Wraps anything thrown into a LadingError (network errors get kind 'network'). */
export function toLadingError(err: unknown): LadingError {
  if (err instanceof LadingError) return err;
  const e = err as { code?: string; message?: string; syscall?: string; path?: string; cause?: { code?: string; message?: string } };
  const code = e?.code ?? e?.cause?.code;
  // Local file errors carry a path: they are about the user's files, not the network.
  if (typeof code === 'string' && typeof e.path === 'string' && FILE_ERRORS[code]) {
    return new LadingError(code === 'ENOENT' ? 'not-found' : 'internal', `cannot ${e.syscall ?? 'access'} "${e.path}": ${FILE_ERRORS[code]}`, { cause: err });
  }
  if (code === 'EPIPE' && !e.path) return new LadingError('internal', 'the output was closed before everything was written', { cause: err });
  if (typeof code === 'string' && FILE_ERRORS[code]) return new LadingError('internal', `${FILE_ERRORS[code]} (${code})`, { cause: err });
  if (typeof code === 'string' && /^(E[A-Z]+|UND_ERR_[A-Z_]+|ERR_TLS_[A-Z_]+|ERR_SSL_[A-Z_0-9]+|(UNABLE|DEPTH|SELF|CERT)_[A-Z_]+)$/.test(code)) {
    return new LadingError('network', `${e.message ?? code}${e.cause?.message ? `: ${e.cause.message}` : ''}`, { cause: err });
  }
  return new LadingError('internal', e?.message ?? String(err), { cause: err });
}

const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a folder',
  ENOTDIR: 'a part of the path is not a folder',
  EEXIST: 'it already exists',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'the name is too long',
  EXDEV: 'cannot move across file systems',
};
