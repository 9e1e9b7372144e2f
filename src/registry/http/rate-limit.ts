import { headerValue, type HttpResponse } from './types.js';

/** What a registry says about its rate limit in one response. */
export interface RateLimit {
  /** Requests (Docker Hub: pulls) left in the current window. */
  remaining: number;
  /** The window's quota, when given. */
  limit?: number;
  /** The window's length in seconds, when given. */
  windowSeconds?: number;
}

const int = (s: string | undefined): number | undefined => {
  const m = s === undefined ? null : /^\s*"?(\d+)/.exec(s);
  return m ? Number(m[1]) : undefined;
};
const param = (s: string | undefined, name: string): number | undefined => {
  const m = s === undefined ? null : new RegExp(`(?:^|[;,\\s])${name}\\s*=\\s*"?(\\d+)`, 'i').exec(s);
  return m ? Number(m[1]) : undefined;
};

/**
 * The rate limit a response reports, in any of the forms registries send:
 * Docker Hub `RateLimit-Limit: 100;w=21600` / `RateLimit-Remaining: 76;w=21600`; the IETF draft's single
 * `RateLimit: limit=100, remaining=50, reset=5` (draft 7) or `RateLimit: "default";r=50;t=30` with
 * `RateLimit-Policy: "default";q=100;w=60` (draft 8 and later); GitHub's `X-RateLimit-Remaining` / `-Limit`.
 * Undefined when the response says nothing about it.
 */
export function rateLimitOf(res: HttpResponse): RateLimit | undefined {
  const remainingHeader = headerValue(res, 'ratelimit-remaining') ?? headerValue(res, 'x-ratelimit-remaining');
  const combined = headerValue(res, 'ratelimit');
  const policy = headerValue(res, 'ratelimit-policy');
  const limitHeader = headerValue(res, 'ratelimit-limit') ?? headerValue(res, 'x-ratelimit-limit');
  const remaining = int(remainingHeader) ?? param(combined, 'remaining') ?? param(combined, 'r');
  if (remaining === undefined) return undefined;
  const limit = int(limitHeader) ?? param(combined, 'limit') ?? param(policy, 'q') ?? int(policy);
  const windowSeconds = param(remainingHeader, 'w') ?? param(limitHeader, 'w') ?? param(policy, 'w');
  return { remaining, ...(limit !== undefined ? { limit } : {}), ...(windowSeconds !== undefined ? { windowSeconds } : {}) };
}

/** "76 of 100 left (window 21600 s)". */
export function describeRateLimit(r: RateLimit): string {
  return `${r.remaining}${r.limit !== undefined ? ` of ${r.limit}` : ''} left${r.windowSeconds !== undefined ? ` (window ${r.windowSeconds} s)` : ''}`;
}
