import { LadingError } from '../../errors/errors.js';
import { isRepeatable, redactUrl } from './retry.js';
import { dump, headerValue, type HttpRequest, type HttpResponse, type Transport } from './types.js';

const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
export const MAX_REDIRECTS = 10;

/**
 * Follows redirects in our own code (CASES B15): the Location is used exactly as given (resolved
 * against the current URL when relative), `Authorization` and cookies are dropped once the origin
 * changes, other headers are kept. A request with a one-shot body is never redirected with its body.
 */
export class RedirectTransport implements Transport {
  constructor(private readonly base: Transport) {}

  async do(req: HttpRequest): Promise<HttpResponse> {
    let current = req;
    const origin = new URL(req.url).origin;
    for (let hop = 0; ; hop++) {
      const res = await this.base.do(current);
      const location = headerValue(res, 'location');
      if (!REDIRECT_STATUS.has(res.status) || !location) return res;
      // A one-shot stream was consumed by this request: it cannot go to the new Location.
      if (res.status !== 303 && !isRepeatable(current)) return res;
      if (hop >= MAX_REDIRECTS) {
        await dump(res.body);
        throw new LadingError('registry', `${req.method} ${redactUrl(req.url)}: more than ${MAX_REDIRECTS} redirects`);
      }
      await dump(res.body);
      const next = resolveLocation(current.url, location);
      if (!/^https?:\/\//i.test(next)) {
        throw new LadingError('registry', `${req.method} ${redactUrl(req.url)}: redirected to an unsupported URL scheme (${next.split(':')[0]}:)`);
      }
      const headers = { ...(current.headers ?? {}) };
      if (new URL(next).origin !== origin) {
        delete headers.authorization;
        delete headers.cookie;
      }
      const method = res.status === 303 ? 'GET' : current.method;
      current = { ...current, url: next, method, headers, body: res.status === 303 ? undefined : current.body };
    }
  }
}


/**
 * Resolves a Location header against the request URL (RFC 3986), keeping its query string byte for
 * byte: absolute values (any scheme) are used as given; relative ones get their path resolved and the query appended
 * raw. A fragment is dropped: it is never part of a request, and a query appended after it would be lost in it.
 */
export function resolveLocation(base: string, fullLocation: string): string {
  const hash = fullLocation.indexOf('#');
  const location = hash >= 0 ? fullLocation.slice(0, hash) : fullLocation;
  if (/^[a-z][a-z0-9+.-]*:/i.test(location)) return location;
  const q = location.indexOf('?');
  const path = q >= 0 ? location.slice(0, q) : location;
  const query = q >= 0 ? location.slice(q) : '';
  const resolved = new URL(path === '' ? '.' : path, base);
  if (path === '') return stripQuery(base) + query;
  return `${resolved.origin}${resolved.pathname}${query}`;
}

function stripQuery(url: string): string {
  const q = url.indexOf('?');
  return q >= 0 ? url.slice(0, q) : url;
}

/** Appends a query parameter without touching the existing query: never `?&`, never re-encoded. */
export function appendQuery(url: string, key: string, value: string): string {
  const sep = url.includes('?') ? (url.endsWith('?') || url.endsWith('&') ? '' : '&') : '?';
  return `${url}${sep}${key}=${encodeURIComponent(value)}`;
}
