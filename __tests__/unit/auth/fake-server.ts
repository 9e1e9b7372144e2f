import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the fake received. */
export interface Seen {
  method: string;
  /** Path and raw query string, exactly as sent. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One scripted exchange: the expected method and path (query not matched) and the reply. */
export interface Step {
  method: string;
  path: string;
  status: number;
  /** Reply headers; a function gets the server's own origin (for a realm on the registry itself). */
  headers?: Record<string, string | string[]> | ((origin: string) => Record<string, string | string[]>);
  /** A string is sent as is, anything else as JSON. */
  body?: unknown;
}

/**
 * A scripted HTTP server on 127.0.0.1, port 0: requests must arrive in the order of the steps;
 * anything unexpected gets a 599 and is recorded in `failures`, which `assertDone` reports.
 */
export class FakeServer {
  readonly seen: Seen[] = [];
  readonly failures: string[] = [];
  private readonly steps: Step[] = [];
  private readonly server: http.Server;
  origin = '';

  private constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const u = new URL(req.url ?? '/', 'http://fake');
        this.seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          path: u.pathname,
          query: u.searchParams,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        const step = this.steps.shift();
        if (!step || step.method !== req.method || step.path !== u.pathname) {
          this.failures.push(`unexpected ${req.method} ${req.url} (expected ${step ? `${step.method} ${step.path}` : 'nothing'})`);
          res.writeHead(599, { 'content-type': 'text/plain' }).end('unexpected request');
          return;
        }
        const body = step.body === undefined ? '' : typeof step.body === 'string' ? step.body : JSON.stringify(step.body);
        const headers: Record<string, string | string[]> = {
          ...(typeof step.headers === 'function' ? step.headers(this.origin) : (step.headers ?? {})),
        };
        if (typeof step.body === 'object') headers['content-type'] ??= 'application/json';
        res.writeHead(step.status, headers).end(req.method === 'HEAD' ? undefined : body);
      });
    });
  }

  static async start(steps: Step[] = []): Promise<FakeServer> {
    const f = new FakeServer();
    f.expect(...steps);
    await new Promise<void>((resolve) => f.server.listen(0, '127.0.0.1', resolve));
    f.origin = `http://127.0.0.1:${(f.server.address() as AddressInfo).port}`;
    return f;
  }

  expect(...steps: Step[]): void {
    this.steps.push(...steps);
  }

  /** Every scripted step was used and nothing unexpected arrived. */
  assertDone(): void {
    const left = this.steps.map((s) => `${s.method} ${s.path}`);
    if (this.failures.length > 0 || left.length > 0) {
      throw new Error(`fake ${this.origin}: ${[...this.failures, ...left.map((l) => `not requested: ${l}`)].join('; ')}`);
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
