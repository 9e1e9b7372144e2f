/**
 * A fault-injecting reverse proxy for integration tests: lading talks to it as if it were the registry, it forwards
 * to the real registry (plain HTTP) and injects faults on the requests that rules select.
 *
 *   const registry = await startRegistry();
 *   const proxy = await startFaultProxy(registry.url, [
 *     { method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'cut-response', afterBytes: 65536 } },
 *   ]);
 *   proxy.add({ method: 'PUT', path: /\/manifests\//, times: Infinity, fault: { kind: 'max-body', bytes: 1024 } });
 *   const r = await lading(['pull', '--plain-http', `${proxy.host}/repo:tag`, '-o', dir], { env });
 *   expect(proxy.bytesOut((q) => q.url.includes('/blobs/'))).toBeLessThan(1.2 * size);
 *   await proxy.close();
 *
 * Faults:
 * - `status`: answer with that status (headers, body) without forwarding; a request body is read and discarded first.
 * - `cut-response`: forward; relay the status line, headers and `afterBytes` bytes of the response body, then end and
 *   destroy the client connection (the client sees a response shorter than its Content-Length).
 * - `cut-request`: read `afterBytes` bytes of the request body, then destroy the client connection. By default the
 *   registry never sees the request; with `forwardPartial` it gets those bytes and then a dropped connection.
 * - `stall-response`: relay `afterBytes` bytes of the response body (0: only the headers), send nothing for `ms`, then
 *   continue. With `beforeHeaders` the status line and headers are held back for `ms` instead (the client waits for
 *   headers; `afterBytes` is ignored).
 * - `max-body`: a request whose body is larger than `bytes` (by Content-Length, or counted while buffering up to
 *   `bytes` when chunked) gets 413 with a short text body once its body has been read (like a proxy with a body-size
 *   limit; reading it first makes the client see the 413 instead of a broken pipe); smaller bodies are forwarded
 *   and do not use up `times`. With `close`, the 413 goes out as soon as the body is known to be too large, with
 *   `Connection: close`, and the connection is closed without reading the rest (as nginx does): the client may see
 *   the 413 or only a broken pipe.
 *
 * Rules are checked in order; the first rule matching the method and `path` (tested against path + query) with
 * `times` left applies (`times` defaults to 1; Infinity is allowed). Every request is recorded in `requests`, with
 * the request body bytes received from the client (`bytesIn`) and the response body bytes sent to it (`bytesOut`).
 * The Host header is forwarded unchanged, so Distribution builds absolute upload Locations pointing at the proxy
 * (it uses X-Forwarded-Host, else Host); Locations naming the upstream are rewritten to the proxy as a safety net.
 * Bodies are streamed both ways; connections to the client are kept alive.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

export type Fault =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'cut-response'; afterBytes: number }
  | { kind: 'cut-request'; afterBytes: number; forwardPartial?: boolean }
  | { kind: 'stall-response'; afterBytes: number; ms: number; beforeHeaders?: boolean }
  | { kind: 'max-body'; bytes: number; close?: boolean };

export interface FaultRule {
  method?: string;
  /** tested against path + query */
  path?: RegExp;
  /** matching requests that get the fault; default 1; Infinity allowed */
  times?: number;
  fault: Fault;
}

export interface ProxiedRequest {
  method: string;
  /** path + query as received */
  url: string;
  /** status sent to the client (undefined when the connection was cut before a response) */
  status?: number;
  /** request body bytes received from the client */
  bytesIn: number;
  /** response body bytes sent to the client */
  bytesOut: number;
  /** the fault applied to this request, if any */
  fault?: Fault['kind'];
}

export interface FaultProxy {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT */
  host: string;
  add(rule: FaultRule): void;
  /** remove all rules */
  clear(): void;
  requests: ProxiedRequest[];
  bytesIn(filter?: (r: ProxiedRequest) => boolean): number;
  bytesOut(filter?: (r: ProxiedRequest) => boolean): number;
  /** forget recorded requests */
  reset(): void;
  close(): Promise<void>;
}

interface ActiveRule {
  rule: FaultRule;
  left: number;
}

/** Hop-by-hop headers (RFC 9110 7.6.1) plus ones node sets itself. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function forwardHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

export async function startFaultProxy(upstream: string, rules: FaultRule[] = []): Promise<FaultProxy> {
  const target = new URL(upstream);
  if (target.protocol !== 'http:') throw new Error(`fault proxy: upstream must be http:, got ${upstream}`);
  const active: ActiveRule[] = rules.map((rule) => ({ rule, left: rule.times ?? 1 }));
  const requests: ProxiedRequest[] = [];
  const agent = new http.Agent({ keepAlive: true });
  const timers = new Set<NodeJS.Timeout>();
  let proxyOrigin = '';

  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  /** First matching rule with times left; a max-body rule whose request declares a small enough body is skipped. */
  const pick = (req: http.IncomingMessage): ActiveRule | undefined => {
    for (const entry of active) {
      const { rule } = entry;
      if (entry.left <= 0) continue;
      if (rule.method && rule.method.toUpperCase() !== req.method) continue;
      if (rule.path && !rule.path.test(req.url ?? '')) continue;
      if (rule.fault.kind === 'max-body') {
        const length = req.headers['content-length'];
        const chunked = /chunked/i.test(req.headers['transfer-encoding'] ?? '');
        if (!chunked && Number(length ?? 0) <= rule.fault.bytes) continue;
      }
      return entry;
    }
    return undefined;
  };

  /** End the client connection after what was written has been flushed, then make sure it is gone. */
  const cutClient = (socket: Socket | null): void => {
    if (!socket || socket.destroyed) return;
    socket.end(() => socket.destroy());
    later(200, () => socket.destroy());
  };

  const sendStatus = (res: http.ServerResponse, record: ProxiedRequest, status: number, headers: Record<string, string>, body: string): void => {
    const payload = Buffer.from(body);
    record.status = status;
    record.bytesOut += payload.length;
    res.writeHead(status, { 'content-length': String(payload.length), ...headers });
    res.end(payload);
  };

  const forward = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    record: ProxiedRequest,
    fault: Fault | undefined,
    buffered?: Buffer[],
  ): void => {
    const headers = forwardHeaders(req.headers);
    if (buffered) headers['content-length'] = String(buffered.reduce((n, b) => n + b.length, 0));
    const upstreamReq = http.request({
      host: target.hostname,
      port: target.port || 80,
      method: req.method,
      path: req.url,
      headers,
      agent,
    });
    let responded = false;
    upstreamReq.on('error', () => {
      if (req.socket.destroyed) return; // a cut-request dropped the client on purpose
      if (!responded && !res.headersSent) {
        sendStatus(res, record, 502, { 'content-type': 'text/plain', connection: 'close' }, 'fault proxy: upstream error\n');
      } else {
        res.socket?.destroy();
      }
    });
    res.on('close', () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });
    req.on('aborted', () => upstreamReq.destroy());

    upstreamReq.on('response', (upRes) => {
      responded = true;
      if (fault?.kind === 'stall-response' && fault.beforeHeaders) {
        upRes.pause();
        later(fault.ms, () => {
          if (!res.destroyed) relay(upRes, undefined);
          upRes.resume();
        });
        return;
      }
      relay(upRes, fault);
    });

    const relay = (upRes: http.IncomingMessage, fault: Fault | undefined): void => {
      const outHeaders = forwardHeaders(upRes.headers);
      const location = upRes.headers.location;
      if (typeof location === 'string' && location.startsWith(target.origin)) outHeaders.location = proxyOrigin + location.slice(target.origin.length);
      record.status = upRes.statusCode ?? 502;
      res.writeHead(record.status, upRes.statusMessage, outHeaders);
      const limit = fault?.kind === 'cut-response' || fault?.kind === 'stall-response' ? fault.afterBytes : Infinity;
      let triggered = false;
      let stalling = false;
      let ended = false;
      const finish = (): void => {
        if (ended && !stalling && !res.destroyed) res.end();
      };
      const write = (data: Buffer): void => {
        if (data.length === 0 || res.destroyed) return;
        record.bytesOut += data.length;
        if (!res.write(data)) {
          upRes.pause();
          res.once('drain', () => {
            if (!stalling) upRes.resume();
          });
        }
      };
      /** Apply the fault once `limit` body bytes have been relayed; `rest` is what this chunk held beyond them. */
      const trigger = (rest: Buffer): void => {
        triggered = true;
        if (!res.headersSent) res.flushHeaders();
        if (fault?.kind === 'cut-response') {
          upRes.destroy();
          cutClient(res.socket);
        } else if (fault?.kind === 'stall-response') {
          stalling = true;
          upRes.pause();
          later(fault.ms, () => {
            stalling = false;
            write(rest);
            upRes.resume();
            finish();
          });
        }
      };
      if (limit === 0) trigger(Buffer.alloc(0));
      upRes.on('data', (chunk: Buffer) => {
        if (triggered && fault?.kind === 'cut-response') return;
        if (!triggered && record.bytesOut + chunk.length >= limit) {
          const head = chunk.subarray(0, limit - record.bytesOut);
          write(head);
          trigger(chunk.subarray(head.length));
          return;
        }
        write(chunk);
      });
      upRes.on('end', () => {
        if (fault?.kind === 'cut-response' && triggered) return;
        ended = true;
        finish();
      });
      upRes.on('error', () => res.socket?.destroy());
    };

    if (buffered) {
      for (const chunk of buffered) upstreamReq.write(chunk);
      upstreamReq.end();
      return;
    }
    if (fault?.kind === 'cut-request') {
      let seen = 0;
      req.on('data', (chunk: Buffer) => {
        if (seen >= fault.afterBytes) return;
        const part = chunk.subarray(0, fault.afterBytes - seen);
        seen += part.length;
        record.bytesIn += part.length;
        upstreamReq.write(part);
        if (seen >= fault.afterBytes) {
          upstreamReq.destroy();
          req.socket.destroy();
        }
      });
      req.on('end', () => {
        // body smaller than afterBytes: still drop the connection
        upstreamReq.destroy();
        req.socket.destroy();
      });
      if (fault.afterBytes === 0) {
        upstreamReq.flushHeaders();
        later(50, () => {
          upstreamReq.destroy();
          req.socket.destroy();
        });
      }
      return;
    }
    req.on('data', (chunk: Buffer) => {
      record.bytesIn += chunk.length;
      if (!upstreamReq.write(chunk)) {
        req.pause();
        upstreamReq.once('drain', () => req.resume());
      }
    });
    req.on('end', () => upstreamReq.end());
  };

  const server = http.createServer((req, res) => {
    const record: ProxiedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', bytesIn: 0, bytesOut: 0 };
    requests.push(record);
    const entry = pick(req);
    const fault = entry?.rule.fault;
    if (!entry || !fault) {
      forward(req, res, record, undefined);
      return;
    }
    if (fault.kind === 'max-body' && fault.close) {
      const refuse = (): void => {
        entry.left--;
        record.fault = 'max-body';
        record.status = 413;
        req.removeAllListeners('data');
        res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' });
        res.end(`413 Request Entity Too Large (fault proxy: body over ${fault.bytes} bytes, closing)\n`, () => cutClient(req.socket));
      };
      const declared = req.headers['content-length'];
      if (declared !== undefined && Number(declared) > fault.bytes) {
        refuse();
        return;
      }
      const chunks: Buffer[] = [];
      let refused = false;
      req.on('data', (chunk: Buffer) => {
        record.bytesIn += chunk.length;
        chunks.push(chunk);
        if (!refused && record.bytesIn > fault.bytes) {
          refused = true;
          refuse();
        }
      });
      req.on('end', () => {
        if (!refused) forward(req, res, record, undefined, chunks);
      });
      return;
    }
    if (fault.kind === 'max-body') {
      // Chunked (no Content-Length): buffer up to the limit; over it → 413, else forward what was buffered.
      const declared = req.headers['content-length'];
      const chunks: Buffer[] = [];
      let over = declared !== undefined && Number(declared) > fault.bytes;
      req.on('data', (chunk: Buffer) => {
        record.bytesIn += chunk.length;
        if (!over) {
          chunks.push(chunk);
          if (record.bytesIn > fault.bytes) {
            over = true;
            chunks.length = 0;
          }
        }
      });
      req.on('end', () => {
        if (over) {
          entry.left--;
          record.fault = 'max-body';
          sendStatus(res, record, 413, { 'content-type': 'text/plain' }, `413 Request Entity Too Large (fault proxy: body over ${fault.bytes} bytes)\n`);
        } else {
          forward(req, res, record, undefined, chunks);
        }
      });
      return;
    }
    entry.left--;
    record.fault = fault.kind;
    if (fault.kind === 'status') {
      req.on('data', (chunk: Buffer) => {
        record.bytesIn += chunk.length;
      });
      req.on('end', () => sendStatus(res, record, fault.status, { 'content-type': 'text/plain', ...(fault.headers ?? {}) }, fault.body ?? ''));
      return;
    }
    if (fault.kind === 'cut-request' && !fault.forwardPartial) {
      let seen = 0;
      const drop = (): void => {
        req.socket.destroy();
      };
      if (fault.afterBytes === 0) {
        drop();
        return;
      }
      req.on('data', (chunk: Buffer) => {
        if (seen >= fault.afterBytes) return;
        const part = Math.min(chunk.length, fault.afterBytes - seen);
        seen += part;
        record.bytesIn += part;
        if (seen >= fault.afterBytes) drop();
      });
      req.on('end', drop);
      return;
    }
    forward(req, res, record, fault);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  proxyOrigin = `http://${host}`;

  const sum = (key: 'bytesIn' | 'bytesOut', filter?: (r: ProxiedRequest) => boolean): number =>
    requests.filter((r) => !filter || filter(r)).reduce((n, r) => n + r[key], 0);

  let closing: Promise<void> | undefined;
  return {
    url: proxyOrigin,
    host,
    add(rule) {
      active.push({ rule, left: rule.times ?? 1 });
    },
    clear() {
      active.length = 0;
    },
    requests,
    bytesIn: (filter) => sum('bytesIn', filter),
    bytesOut: (filter) => sum('bytesOut', filter),
    reset() {
      requests.length = 0;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      });
      return closing;
    },
  };
}
