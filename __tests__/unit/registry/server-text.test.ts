/**
 * Server text in status lines, trace lines and errors of the registry client: control characters escaped
 * (src/errors/printable.ts), secrets scrubbed (src/errors/secrets.ts). Header values a real HTTP stack would
 * refuse to carry (CR, LF, ESC) come from an injected transport.
 */
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from '@jest/globals';
import { LadingError } from '../../../src/errors/errors.js';
import { addSecret, clearSecrets } from '../../../src/errors/secrets.js';
import type { HttpRequest, HttpResponse, Transport } from '../../../src/registry/http/types.js';
import { Registry } from '../../../src/registry/registry.js';
import { resumableBody } from '../../../src/registry/resume.js';
import { rejection, useFakes } from './harness.js';

afterEach(() => clearSecrets());

/** A bottom transport answering every request with `status` and `headers` (a token request with a token). */
function answering(status: number, headers: Record<string, string>): Transport {
  return {
    async do(req: HttpRequest): Promise<HttpResponse> {
      if (new URL(req.url).pathname.endsWith('/token') || new URL(req.url).pathname === '/t') {
        return { status: 200, headers: { 'content-type': 'application/json' }, body: Readable.from([Buffer.from('{"token":"tok-1"}')]), url: req.url };
      }
      return { status, headers, body: Readable.from([]), url: req.url };
    },
  };
}

function registry(transport: Transport) {
  const logs: string[] = [];
  const debug: string[] = [];
  const reg = new Registry('r.example', 'r.example', { transport, log: (l) => logs.push(l), debug: (l) => debug.push(l), retry: { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1 } });
  return { reg, logs, debug };
}

describe('Registry: Warning header and the --debug trace', () => {
  it('a Warning text with ESC, CR and LF is shown once, escaped', async () => {
    const { reg, logs } = registry(answering(200, { warning: '299 - "\u001b[32mok\r\nPushed r.example/x:latest\u009b"' }));
    await reg.send({ method: 'GET', url: 'https://r.example/v2/' });
    await reg.send({ method: 'GET', url: 'https://r.example/v2/' });
    expect(logs).toEqual(['Warning from r.example: \\x1b[32mok\\r\\nPushed r.example/x:latest\\u009b']);
  });

  it('trace lines show header values printable; a Basic realm as text; token realms redacted as URLs', async () => {
    const { reg, debug } = registry(
      answering(401, {
        'content-type': 'text/plain\r\n::error::x',
        'www-authenticate': 'Basic realm="Registry\tRealm", Bearer realm="https://auth.example/token?sig=SECRET",service="reg\u001b"',
      }),
    );
    const res = await reg.send({ method: 'GET', url: 'https://r.example/v2/' });
    expect(res.status).toBe(401);
    const line = debug.find((l) => l.startsWith('GET https://r.example/v2/ -> 401'));
    expect(line).toContain('content-type: text/plain\\r\\n::error::x');
    expect(line).toContain('www-authenticate: Basic realm="Registry\\tRealm", Bearer realm="https://auth.example/token?sig=REDACTED",service="reg\\x1b"');
    expect(line).not.toContain('SECRET');
  });

  it('a relative token realm and an unquoted one are URLs too: their query values are hidden', async () => {
    const { reg, debug } = registry(answering(401, { 'www-authenticate': 'Bearer realm="/token?sig=SECRET",service="reg", Bearer realm=https://a.example/t?k=SECRET' }));
    await reg.send({ method: 'GET', url: 'https://r.example/v2/' });
    expect(debug[0]).toContain('realm="https://r.example/token?sig=REDACTED"');
    expect(debug[0]).toContain('realm="https://a.example/t?k=REDACTED"');
    expect(debug[0]).not.toContain('SECRET');
  });

  it('status and trace lines are scrubbed of every registered secret', async () => {
    addSecret('REG-SECRET-1');
    const { reg, logs, debug } = registry(answering(200, { warning: '299 - "your token is REG-SECRET-1"', 'content-type': 'REG-SECRET-1' }));
    await reg.send({ method: 'GET', url: 'https://r.example/v2/' });
    expect(logs).toEqual(['Warning from r.example: your token is ***']);
    expect(debug.join('\n')).not.toContain('REG-SECRET-1');
  });
});

describe('token server errors', () => {
  const { fake, client } = useFakes();

  it('the message is printable and never holds the password, its Basic value or their encodings', async () => {
    const password = 'pa ss/w+rd=';
    const basic = Buffer.from(`alice:${password}`).toString('base64');
    const srv = await fake([
      { method: 'GET', path: '/v2/a/manifests/1', status: 401, headers: (o) => ({ 'www-authenticate': `Bearer realm="${o}/token",service="s"` }) },
      { method: 'GET', path: '/token', status: 401, body: { details: `\u001b]0;owned\u0007 bad credentials ${encodeURIComponent(password)} ${basic} ${password}` } },
    ]);
    const { registry } = client(srv, { credentials: async () => ({ username: 'alice', password }) });
    const err = await rejection(registry.send({ method: 'GET', url: `${srv.origin}/v2/a/manifests/1`, scopes: ['repository:a:pull'] }));
    srv.assertDone();
    expect(err).toBeInstanceOf(LadingError);
    expect(err.message).toBe(`token request GET ${srv.origin}/token: 401: \\x1b]0;owned\\x07 bad credentials *** *** ***`);
  });
});

describe('resumed downloads', () => {
  it('a Content-Range with control characters is quoted escaped', async () => {
    const first: HttpResponse = {
      status: 200,
      headers: { 'content-length': '100' },
      url: 'https://r.example/v2/a/blobs/sha256:x',
      body: new Readable({
        read() {
          this.push(Buffer.alloc(10));
          this.destroy(Object.assign(new Error('reset'), { code: 'UND_ERR_SOCKET' }));
        },
      }),
    };
    const out = resumableBody(first, {
      what: 'blob x',
      size: 100,
      sleep: async () => undefined,
      request: async () => ({ status: 206, headers: { 'content-range': 'bytes 10-99/100\r\nFAKE: done\u001b[0m' }, body: Readable.from([]), url: first.url }),
    });
    const err = await new Promise<Error>((resolve) => {
      out.on('error', resolve);
      out.resume();
    });
    expect(err.message).toContain('the registry answered 206 with Content-Range "bytes 10-99/100\\r\\nFAKE: done\\x1b[0m"');
  });
});
