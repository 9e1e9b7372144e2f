/**
 * A connection dropped early in a download to a file, before lading had started reading the body (new-user trial of
 * issue 6: cuts after 64–150 KB made `blob fetch` and `pull` exit 13 with nothing said and a .partial file left).
 * The bundled CLI's run against a scripted registry: the download resumes and the file is right.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import type http from 'node:http';
import { join } from 'node:path';
import { lading } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';
import { FakeRegistry } from './fake-registry.js';

const ENV = { DOCKER_CONFIG: '/nonexistent-lading-test-docker-config' };
const SIZE = 1 << 20;
const DATA = Buffer.from(Array.from({ length: SIZE }, (_, i) => (i * 13 + (i >> 10)) & 0xff));
const D = `sha256:${createHash('sha256').update(DATA).digest('hex')}`;

/** The first GET: headers and `cut` bytes at once, then the connection dropped. */
function cutAt(cut: number) {
  return (res: http.ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) });
    res.write(DATA.subarray(0, cut), () => res.socket?.destroy());
  };
}

/** Any `Range: bytes=N-` answered with the rest. */
function rest(res: http.ServerResponse, seen: { headers: http.IncomingHttpHeaders }) {
  const from = Number(/^bytes=(\d+)-$/.exec(String(seen.headers.range))?.[1] ?? NaN);
  if (!Number.isInteger(from)) {
    res.writeHead(599).end(`no Range: ${seen.headers.range}`);
    return;
  }
  res.writeHead(206, { 'content-type': 'application/octet-stream', 'content-length': String(SIZE - from), 'content-range': `bytes ${from}-${SIZE - 1}/${SIZE}` });
  res.end(DATA.subarray(from));
}

describe('a download cut before lading reads its body', () => {
  let reg: FakeRegistry | undefined;
  afterEach(async () => {
    await reg?.close();
    reg = undefined;
  });

  it.each([16 * 1024, 65536, 100_000, 150_000])('cut after %d bytes: blob fetch resumes and writes the right file', async (cut) => {
    reg = await FakeRegistry.start([
      { method: 'GET', path: `/v2/team/app/blobs/${D}`, handle: cutAt(cut) },
      { method: 'GET', path: `/v2/team/app/blobs/${D}`, handle: rest },
      { method: 'GET', path: `/v2/team/app/blobs/${D}`, handle: cutAt(cut) },
      { method: 'GET', path: `/v2/team/app/blobs/${D}`, handle: rest },
    ]);
    const out = tmpDir('lading-early-cut-');
    const r = await lading(['blob', 'fetch', '--plain-http', `${reg.host}/team/app@${D}`, '--output', join(out, 'blob.bin')], { env: ENV });
    expect(r.stderr).toMatch(/connection lost after \d+ of 1048576 bytes; resuming/);
    // The trace shows the resumed request and its Range.
    const debug = await lading(['blob', 'fetch', '--plain-http', '--debug', `${reg.host}/team/app@${D}`, '--output', join(out, 'again.bin')], { env: ENV });
    expect(debug.code).toBe(0);
    expect(debug.stderr).toMatch(new RegExp(`\\[debug\\] GET http://${reg.host}/v2/team/app/blobs/${D} \\(Range: bytes=\\d+-\\) -> 206 `));
    expect(readFileSync(join(out, 'again.bin')).equals(DATA)).toBe(true);
    rmSync(join(out, 'again.bin'));
    expect(r.code).toBe(0);
    expect(readdirSync(out)).toEqual(['blob.bin']);
    expect(readFileSync(join(out, 'blob.bin')).equals(DATA)).toBe(true);
    reg.assertDone();
  }, 20_000);
});
