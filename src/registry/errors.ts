import { kindForStatus, LadingError, RegistryResponseError, type RegistryErrorCode } from '../errors/errors.js';
import { redactUrl } from './http/retry.js';
import { headerValue, readBounded, type HttpResponse } from './http/types.js';

/** Error bodies are read up to this many bytes. */
export const ERROR_BODY_LIMIT = 8 * 1024;

/**
 * Turns an unsuccessful response into a RegistryResponseError with the registry's error codes
 * (JSON `{"errors":[…]}`), or its plain text when the body is not JSON (CASES B17). Consumes the body.
 */
export async function responseError(res: HttpResponse, method: string, what?: string): Promise<RegistryResponseError> {
  let text = '';
  let errors: RegistryErrorCode[] = [];
  try {
    const buf = await readBounded(res.body, ERROR_BODY_LIMIT, 'error body').catch(() => Buffer.alloc(0));
    text = buf.toString('utf8');
    const parsed = JSON.parse(text) as { errors?: RegistryErrorCode[] };
    if (Array.isArray(parsed.errors)) errors = parsed.errors.filter((e) => e && typeof e.code === 'string');
  } catch {
    /* not JSON: keep the text */
  }
  let kind = kindForStatus(res.status);
  if (errors.some((e) => e.code === 'DIGEST_INVALID' || e.code === 'SIZE_INVALID') && method !== 'DELETE') kind = 'digest-mismatch';
  if (errors.some((e) => e.code === 'TOOMANYREQUESTS')) kind = 'rate-limited';
  if (errors.some((e) => e.code === 'UNSUPPORTED') && res.status !== 400) kind = 'unsupported';
  // A markup body (an S3/GCS XML error, an HTML page) is not shown: a storage service's error can echo the
  // request's signature and access key, which the URL in the message already hides.
  const shown = errors.length === 0 && /^\s*</.test(text) ? '(an XML or HTML error page, not shown)' : text.slice(0, 500);
  const err = new RegistryResponseError(kind, { method, url: redactUrl(res.url), status: res.status, errors, text: shown });
  if (what) err.message = `${what}: ${err.message}`;
  if (res.status === 401) {
    const challenge = headerValue(res, 'www-authenticate');
    if (challenge) err.message += ' (authentication required or credentials rejected: log in with `lading login` or pass -u/-p)';
  }
  return err;
}

export function notFound(message: string): LadingError {
  return new LadingError('not-found', message);
}
