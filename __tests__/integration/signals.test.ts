/**
 * The bundled CLI interrupted mid-download by a signal (Ctrl-C, `kill`, an SSH session closing): it exits as a shell
 * expects (128 + the signal's number) and leaves no half-written file behind (break-test of issue 6: SIGHUP left
 * `.partial` files).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../dist/cli/index.js', import.meta.url));
const BLOB = Buffer.alloc(4 << 20, 7);
const DIGEST = `sha256:${createHash('sha256').update(BLOB).digest('hex')}`;

describe('signals mid-download', () => {
  let server: http.Server;
  let host: string;
  let work: string;
  beforeAll(async () => {
    // A registry that sends the first 256 KiB of the blob and then stalls.
    server = http.createServer((req, res) => {
      if (req.url === `/v2/a/b/blobs/${DIGEST}`) {
        res.writeHead(200, { 'content-length': String(BLOB.length), 'content-type': 'application/octet-stream' });
        res.write(BLOB.subarray(0, 256 << 10));
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    work = mkdtempSync(join(tmpdir(), 'lading-signals-'));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(work, { recursive: true, force: true });
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)('%s: exit %d, no partial file left', async (signal, code) => {
    const out = mkdtempSync(join(work, `${signal}-`));
    const child = spawn(process.execPath, [CLI, 'blob', 'fetch', '--plain-http', `${host}/a/b@${DIGEST}`, '--output', join(out, 'blob.bin')], {
      env: { PATH: process.env.PATH, DOCKER_CONFIG: '/nonexistent-lading-test-docker-config' },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    // Wait until the download has started writing its temporary file.
    const deadline = Date.now() + 15_000;
    while (readdirSync(out).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(out).length).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    child.kill(signal);
    expect(await exited).toBe(code);
    expect(readdirSync(out)).toEqual([]);
  }, 30_000);
});
