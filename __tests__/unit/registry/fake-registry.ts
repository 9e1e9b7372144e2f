import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A scripted node:http fake for Registry/Repository tests (grown from `../auth/fake-server.ts`):
 * requests must arrive in the order of the steps; a step may require the exact raw URL (path and
 * query, byte for byte); request bodies are hashed as they stream in (only the first 1 MiB is
 * kept), and a step may stream its reply itself. Anything unexpected gets a 599 and is recorded.
 */

/** A request the fake received. */
export interface Seen {
  method: string;
  /** Path and raw query string, exactly as sent. */
  url: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The first 1 MiB of the body as text. */
  body: string;
  size: number;
  /** sha256 of the whole body. */
  digest: string;
}

export interface Step {
  method: string;
  /** Path only (query not matched) … */
  path?: string;
  /** … or the exact raw path+query. */
  url?: string;
  status?: number;
  /** Reply headers; a function gets the server's own origin. */
  headers?: Record<string, string | string[]> | ((origin: string) => Record<string, string | string[]>);
  /** A string or Buffer is sent as is, anything else as JSON; Content-Length is set unless a header says otherwise. */
  body?: unknown;
  /** Writes the reply itself (streaming); called after the request body has been read. */
  handle?: (res: http.ServerResponse, seen: Seen, origin: string) => void;
}

const KEEP = 1 << 20;

export class FakeRegistry {
  readonly seen: Seen[] = [];
  readonly failures: string[] = [];
  private readonly steps: Step[] = [];
  private readonly server: http.Server;
  origin = '';
  /** host:port, as a registry name. */
  host = '';

  private constructor() {
    this.server = http.createServer((req, res) => {
      const hash = createHash('sha256');
      const kept: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        hash.update(c);
        if (size < KEEP) kept.push(c.subarray(0, KEEP - size));
        size += c.length;
      });
      req.on('end', () => {
        const u = new URL(req.url ?? '/', 'http://fake');
        const seen: Seen = {
          method: req.method ?? '',
          url: req.url ?? '',
          path: u.pathname,
          headers: req.headers,
          body: Buffer.concat(kept).toString('utf8'),
          size,
          digest: `sha256:${hash.digest('hex')}`,
        };
        this.seen.push(seen);
        const step = this.steps.shift();
        const matches = step && step.method === req.method && (step.url !== undefined ? step.url === req.url : step.path === u.pathname);
        if (!step || !matches) {
          const want = step ? `${step.method} ${step.url ?? step.path}` : 'nothing';
          this.failures.push(`unexpected ${req.method} ${req.url} (expected ${want})`);
          res.writeHead(599, { 'content-type': 'text/plain' }).end('unexpected request');
          return;
        }
        if (step.handle) {
          step.handle(res, seen, this.origin);
          return;
        }
        const headers: Record<string, string | string[]> = {
          ...(typeof step.headers === 'function' ? step.headers(this.origin) : (step.headers ?? {})),
        };
        let body: string | Buffer = '';
        if (typeof step.body === 'string' || Buffer.isBuffer(step.body)) body = step.body;
        else if (step.body !== undefined) {
          body = JSON.stringify(step.body);
          headers['content-type'] ??= 'application/json';
        }
        const lower = Object.keys(headers).map((h) => h.toLowerCase());
        if (!lower.includes('content-length') && !lower.includes('transfer-encoding')) headers['content-length'] = String(Buffer.byteLength(body));
        res.writeHead(step.status ?? 200, headers).end(req.method === 'HEAD' ? undefined : body);
      });
    });
  }

  static async start(steps: Step[] = []): Promise<FakeRegistry> {
    const f = new FakeRegistry();
    f.expect(...steps);
    await new Promise<void>((resolve) => f.server.listen(0, '127.0.0.1', resolve));
    f.host = `127.0.0.1:${(f.server.address() as AddressInfo).port}`;
    f.origin = `http://${f.host}`;
    return f;
  }

  expect(...steps: Step[]): void {
    this.steps.push(...steps);
  }

  /** `METHOD raw-url` of every request, in order. */
  get requests(): string[] {
    return this.seen.map((s) => `${s.method} ${s.url}`);
  }

  /** Every scripted step was used and nothing unexpected arrived. */
  assertDone(): void {
    const left = this.steps.map((s) => `${s.method} ${s.url ?? s.path}`);
    if (this.failures.length > 0 || left.length > 0) {
      throw new Error(`fake ${this.origin}: ${[...this.failures, ...left.map((l) => `not requested: ${l}`)].join('; ')}`);
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
