import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { readBounded } from '../../../src/registry/http/types.js';
import { appendQuery, resolveLocation } from '../../../src/registry/http/redirect.js';
import { parseRetryAfter, retryDelay } from '../../../src/registry/http/retry.js';
import { warningTexts } from '../../../src/registry/registry.js';

describe('readBounded (B22c)', () => {
  it('stops pulling from the source once one byte more than the limit has arrived', async () => {
    let pulled = 0;
    const source = new Readable({
      highWaterMark: 1,
      read() {
        pulled += 1;
        this.push(Buffer.alloc(1)); // an endless body, one byte at a time
      },
    });
    await expect(readBounded(source, 4096, 'manifest')).rejects.toMatchObject({ kind: 'too-large', message: 'manifest exceeds 4096 bytes' });
    expect(pulled).toBeGreaterThanOrEqual(4097);
    expect(pulled).toBeLessThanOrEqual(4097 + 2);
    expect(source.destroyed).toBe(true);
  });

  it('reads exactly the limit', async () => {
    expect((await readBounded(Readable.from([Buffer.alloc(4000), Buffer.alloc(96)]), 4096, 'x')).length).toBe(4096);
  });
});

describe('resolveLocation and appendQuery (B23, B27)', () => {
  const POST = 'https://registry.example/v2/team/app/blobs/uploads/';
  it.each([
    ['/v2/team/app/blobs/uploads/u?_state=a%2Bb%3D', 'https://registry.example/v2/team/app/blobs/uploads/u?_state=a%2Bb%3D'],
    ['https://registry.example:5000/v2/team/app/blobs/uploads/u?_state=x', 'https://registry.example:5000/v2/team/app/blobs/uploads/u?_state=x'],
    ['https://upload.registry.example/v2/team/app/blobs/uploads/u', 'https://upload.registry.example/v2/team/app/blobs/uploads/u'],
    ['u?_state=x', 'https://registry.example/v2/team/app/blobs/uploads/u?_state=x'],
    ['../u?_state=x', 'https://registry.example/v2/team/app/blobs/u?_state=x'],
    ['//other.example/p?q=1', 'https://other.example/p?q=1'],
    ['?_state=only', 'https://registry.example/v2/team/app/blobs/uploads/?_state=only'],
    // A fragment is never part of a request (break-test: `…#frag&digest=…` hid the digest inside the fragment).
    ['u?_state=x#frag', 'https://registry.example/v2/team/app/blobs/uploads/u?_state=x'],
    ['https://registry.example/u?_state=x#frag?a=b', 'https://registry.example/u?_state=x'],
    ['/v2/u#', 'https://registry.example/v2/u'],
    // Other schemes are absolute URLs, never paths under the registry (Repository refuses them).
    ['javascript:alert(1)', 'javascript:alert(1)'],
    ['data:,x', 'data:,x'],
    ['file:///etc/passwd', 'file:///etc/passwd'],
  ])('%s', (location, expected) => {
    expect(resolveLocation(POST, location)).toBe(expected);
  });

  it('appends without re-encoding or `?&`', () => {
    const D = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
    const enc = 'sha256%3A0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
    expect(appendQuery('https://r/u?_state=a%2fb+c', 'digest', D)).toBe(`https://r/u?_state=a%2fb+c&digest=${enc}`);
    expect(appendQuery('https://r/u', 'digest', D)).toBe(`https://r/u?digest=${enc}`);
    expect(appendQuery('https://r/u?', 'digest', D)).toBe(`https://r/u?digest=${enc}`);
    expect(appendQuery('https://r/u?a=1&', 'digest', D)).toBe(`https://r/u?a=1&digest=${enc}`);
  });
});

describe('retry policy (B17)', () => {
  const policy = { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 60_000 };
  const now = Date.parse('Wed, 21 Oct 2026 07:27:00 GMT');
  it('Retry-After: delta-seconds, HTTP-date, past date, garbage', () => {
    expect(parseRetryAfter('60')).toBe(60_000);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    // Not numbers and not HTTP dates, though Date.parse reads them as years and months: backoff instead.
    expect(parseRetryAfter('-5')).toBeUndefined();
    expect(parseRetryAfter('1 2')).toBeUndefined();
  });
  it('a wait beyond the cap, or past maxRetries, stops', () => {
    expect(retryDelay(policy, 1, { status: 429, retryAfter: '60' })).toBe(60_000);
    expect(retryDelay(policy, 1, { status: 429, retryAfter: '61' })).toBeUndefined();
    expect(retryDelay(policy, 4, { status: 429, retryAfter: '1' })).toBeUndefined();
    expect(retryDelay(policy, 1, { status: 404 })).toBeUndefined();
  });
  it('backoff doubles, with equal jitter', () => {
    expect([1, 2, 3].map((a) => retryDelay(policy, a, { status: 503 }, () => 0))).toEqual([50, 100, 200]);
    expect([1, 2, 3].map((a) => retryDelay(policy, a, { status: 503 }, () => 0.999999))).toEqual([100, 200, 400]);
    expect(retryDelay(policy, 1, { errorCode: 'ECONNRESET' }, () => 0)).toBe(50);
  });
});

describe('warningTexts', () => {
  it.each([
    ['299 - "plain"', ['plain']],
    ['299 - "a", 299 - "b, c"', ['a', 'b, c']],
    ['299 registry.example "quoted \\"x\\"" "Wed, 21 Oct 2026 07:28:00 GMT"', ['quoted "x"']],
    ['not a warning', ['not a warning']],
  ])('%s', (value, texts) => {
    expect(warningTexts(value)).toEqual(texts);
  });
});
