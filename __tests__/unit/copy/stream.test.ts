/**
 * Copy streams blobs from source to destination (CASES B22(b): a 50 MiB layer copies with a 1 KiB
 * manifest limit on both sides, and the destination receives its first bytes before the source has
 * sent its last), and a source that disappears mid-copy (blob 404, body cut off) fails the copy with
 * an error naming the source, its kind kept (exit code), and no manifest written at the destination.
 * The source is the scripted fake; the destination is an in-memory registry transport that records
 * what it was sent.
 */
import { createHash } from 'node:crypto';
import type http from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { copyReference } from '../../../src/ops/copy.js';
import type { HttpRequest, HttpResponse, Transport } from '../../../src/registry/http/types.js';
import { Registry } from '../../../src/registry/registry.js';
import { RegistryTarget } from '../../../src/registry/target.js';
import type { Step } from '../registry/fake-registry.js';
import { rejection, useFakes } from '../registry/harness.js';

const { fake, client } = useFakes();

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const LAYER_TYPE = 'application/vnd.example.layer.v1';

/** 50 MiB of deterministic bytes, produced chunk by chunk (never held whole). */
const BIG = 50 * 1024 * 1024;
const CHUNK = 1024 * 1024;
const chunkAt = (i: number) => Buffer.alloc(CHUNK, (i * 7) % 251);
const bigStream = () => Readable.from((function* () { for (let i = 0; i < BIG / CHUNK; i++) yield chunkAt(i); })());
const BIG_DIGEST = (() => {
  const h = createHash('sha256');
  for (let i = 0; i < BIG / CHUNK; i++) h.update(chunkAt(i));
  return `sha256:${h.digest('hex')}`;
})();

const CONFIG = Buffer.from('{}');
function artifact(layer: { digest: string; size: number }) {
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI,
      artifactType: 'application/vnd.example',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(CONFIG), size: 2 },
      layers: [{ mediaType: LAYER_TYPE, ...layer }],
    }),
  );
  return { bytes, digest: sha(bytes) };
}

/** The source's requests up to the layer GET: resolve the tag, read the manifest, the config blob. */
function sourceSteps(m: { bytes: Buffer; digest: string }, layer: Step): Step[] {
  const headers = { 'content-type': OCI, 'docker-content-digest': m.digest, 'content-length': String(m.bytes.length) };
  return [
    { method: 'HEAD', url: '/v2/src/art/manifests/v1', headers },
    { method: 'GET', url: `/v2/src/art/manifests/${m.digest}`, headers: { 'content-type': OCI }, body: m.bytes },
    { method: 'GET', url: `/v2/src/art/blobs/${sha(CONFIG)}`, body: CONFIG },
    layer,
  ];
}

/**
 * A destination registry in memory (a Transport under the real client stack): HEAD answers from
 * what was stored, uploads are one POST + PUT, manifests are PUT. Every request is recorded; a blob
 * PUT's body is hashed as it is read, and `onFirstChunk` runs at its first byte (with the digest).
 */
class MemoryRegistry implements Transport {
  readonly requests: string[] = [];
  readonly blobs = new Map<string, number>();
  readonly manifests = new Map<string, Buffer>();
  onFirstChunk?: (digest: string) => void;

  async do(req: HttpRequest): Promise<HttpResponse> {
    const url = new URL(req.url);
    this.requests.push(`${req.method} ${url.pathname}`);
    const reply = (status: number, headers: Record<string, string> = {}): HttpResponse => ({ status, headers, body: Readable.from([]), url: req.url });
    const blob = /^\/v2\/.+\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url.pathname);
    const manifest = /^\/v2\/.+\/manifests\/(.+)$/.exec(url.pathname);
    if (req.method === 'HEAD' && blob) return this.blobs.has(blob[1]) ? reply(200, { 'content-length': String(this.blobs.get(blob[1])) }) : reply(404);
    if (req.method === 'HEAD' && manifest) {
      const m = this.manifests.get(manifest[1]);
      return m ? reply(200, { 'content-type': OCI, 'docker-content-digest': sha(m), 'content-length': String(m.length) }) : reply(404);
    }
    if (req.method === 'POST' && url.pathname.endsWith('/blobs/uploads/')) return reply(202, { location: `${url.origin}${url.pathname}session?_state=x` });
    if (req.method === 'PUT' && url.pathname.endsWith('/blobs/uploads/session')) {
      const body = typeof req.body === 'function' ? req.body() : (req.body as Readable);
      const h = createHash('sha256');
      let size = 0;
      for await (const c of body) {
        if (size === 0) this.onFirstChunk?.(url.searchParams.get('digest') ?? '');
        h.update(c as Buffer);
        size += (c as Buffer).length;
      }
      const digest = `sha256:${h.digest('hex')}`;
      if (digest !== url.searchParams.get('digest')) return reply(400);
      this.blobs.set(digest, size);
      return reply(201, { 'docker-content-digest': digest });
    }
    if (req.method === 'PUT' && manifest) {
      const bytes = req.body as Buffer;
      this.manifests.set(manifest[1], bytes);
      this.manifests.set(sha(bytes), bytes);
      return reply(201, { 'docker-content-digest': sha(bytes) });
    }
    return reply(599);
  }
}

function destination(mem: MemoryRegistry) {
  const registry = new Registry('dest.example', 'dest.example', { transport: mem, maxManifestSize: 1024, retry: { maxRetries: 3, baseDelayMs: 1, maxDelayMs: 1 }, sleep: async () => {} });
  return new RegistryTarget(registry.repository('dst/art', { forPush: true }));
}

describe('B22(b): a 50 MiB layer copies, streamed', () => {
  it('no manifest-size cap on blobs; the destination gets its first byte before the source has sent half', async () => {
    const m = artifact({ digest: BIG_DIGEST, size: BIG });
    // How much of the layer the source had produced when the destination got its first byte.
    let produced = 0;
    const serve = (res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG) });
      const counted = bigStream();
      counted.on('data', (c: Buffer) => {
        produced += c.length;
      });
      counted.pipe(res);
    };
    const f = await fake(sourceSteps(m, { method: 'GET', url: `/v2/src/art/blobs/${BIG_DIGEST}`, handle: serve }));
    const src = new RegistryTarget(client(f, { maxManifestSize: 1024 }).registry.repository('src/art'));
    const mem = new MemoryRegistry();
    let producedAtFirstByte: number | undefined;
    mem.onFirstChunk = (digest) => {
      if (digest === BIG_DIGEST) producedAtFirstByte ??= produced;
    };
    const result = await copyReference(src, 'v1', destination(mem), ['v1'], { concurrency: 1 });
    f.assertDone();
    expect(result.root.digest).toBe(m.digest);
    expect(mem.blobs.get(BIG_DIGEST)).toBe(BIG);
    // Streamed: socket and stream buffers hold a few MiB at most, never the whole layer.
    expect(producedAtFirstByte).toBeLessThan(BIG / 2);
    expect(sha(mem.manifests.get('v1')!)).toBe(m.digest);
  }, 30_000);
});

describe('a source that disappears mid-copy', () => {
  const LAYER = Buffer.alloc(256 * 1024, 'x');
  const m = artifact({ digest: sha(LAYER), size: LAYER.length });
  const names = { source: 'src.example/src/art:v1', destination: 'dest.example/dst/art' };

  it('blob GET 404 after the manifest was read: not-found, named as the source, nothing tagged', async () => {
    const f = await fake(sourceSteps(m, { method: 'GET', url: `/v2/src/art/blobs/${sha(LAYER)}`, status: 404, body: { errors: [{ code: 'BLOB_UNKNOWN' }] } }));
    const src = new RegistryTarget(client(f).registry.repository('src/art'));
    const mem = new MemoryRegistry();
    const err = await rejection(copyReference(src, 'v1', destination(mem), ['v1'], { concurrency: 1, names }));
    f.assertDone();
    expect(err.kind).toBe('not-found');
    expect(err.message).toMatch(new RegExp(`^source src\\.example/src/art:v1: blob ${sha(LAYER)} not found in `));
    expect(err.message).not.toContain('destination');
    expect(mem.requests.filter((r) => r.includes('/manifests/') && r.startsWith('PUT'))).toEqual([]);
    expect(mem.manifests.size).toBe(0);
  });

  it('the body cut off halfway: a network error named as the source, not retried as the destination\'s, nothing tagged', async () => {
    const cut = (res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(LAYER.length) });
      res.write(LAYER.subarray(0, LAYER.length / 2), () => setTimeout(() => res.socket?.destroy(), 20));
    };
    // The download resumes with Range (issue 6); here every resumed reply breaks before its first byte, until it gives up.
    const empty = (res: http.ServerResponse) => {
      res.writeHead(206, { 'content-length': String(LAYER.length / 2), 'content-range': `bytes ${LAYER.length / 2}-${LAYER.length - 1}/${LAYER.length}` });
      res.flushHeaders();
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const resumes = Array.from({ length: 5 }, () => ({ method: 'GET', url: `/v2/src/art/blobs/${sha(LAYER)}`, handle: empty }));
    const f = await fake([...sourceSteps(m, { method: 'GET', url: `/v2/src/art/blobs/${sha(LAYER)}`, handle: cut }), ...resumes]);
    const src = new RegistryTarget(client(f).registry.repository('src/art'));
    const mem = new MemoryRegistry();
    const err = await rejection(copyReference(src, 'v1', destination(mem), ['v1'], { concurrency: 1, names }));
    f.assertDone();
    expect(err.kind).toBe('network');
    expect(err.message).toMatch(/^source src\.example\/src\/art:v1: (blob sha256:[a-f0-9]+: )?GET http:\/\/127\.0\.0\.1:\d+\/v2\/src\/art\/blobs\/sha256:[a-f0-9]+: /);
    expect(err.message).not.toContain('destination');
    expect(mem.requests.filter((r) => r.startsWith('PUT') && r.includes('/manifests/'))).toEqual([]);
    expect(mem.blobs.has(sha(LAYER))).toBe(false);
  });

  it('without names, errors still say which side failed', async () => {
    const f = await fake(sourceSteps(m, { method: 'GET', url: `/v2/src/art/blobs/${sha(LAYER)}`, status: 404 }));
    const src = new RegistryTarget(client(f).registry.repository('src/art'));
    const err = await rejection(copyReference(src, 'v1', destination(new MemoryRegistry()), ['v1'], { concurrency: 1 }));
    expect(err.message).toMatch(/^source: blob sha256:[a-f0-9]+ not found/);
  });
});

describe('-r: the tags are written after the referrers', () => {
  it('a referrer\'s blob gone at the source: the root is there by digest, but not tagged', async () => {
    const LAYER = Buffer.from('the image layer');
    const m = artifact({ digest: sha(LAYER), size: LAYER.length });
    const GONE = Buffer.from('the signature, gone');
    const referrer = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI,
        artifactType: 'application/vnd.example.signature',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(CONFIG), size: 2 },
        layers: [{ mediaType: LAYER_TYPE, digest: sha(GONE), size: GONE.length }],
        subject: { mediaType: OCI, digest: m.digest, size: m.bytes.length },
      }),
    );
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ mediaType: OCI, digest: sha(referrer), size: referrer.length, artifactType: 'application/vnd.example.signature' }],
      }),
    );
    const f = await fake([
      ...sourceSteps(m, { method: 'GET', url: `/v2/src/art/blobs/${sha(LAYER)}`, body: LAYER }),
      { method: 'GET', url: `/v2/src/art/referrers/${m.digest}`, status: 404, headers: { 'content-type': 'text/plain' }, body: '404 page not found' },
      { method: 'GET', url: `/v2/src/art/manifests/${m.digest.replace(':', '-')}`, headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' }, body: index },
      { method: 'GET', url: `/v2/src/art/manifests/${sha(referrer)}`, headers: { 'content-type': OCI }, body: referrer },
      { method: 'GET', url: `/v2/src/art/blobs/${sha(GONE)}`, status: 404 },
    ]);
    const src = new RegistryTarget(client(f).registry.repository('src/art'));
    const mem = new MemoryRegistry();
    const err = await rejection(copyReference(src, 'v1', destination(mem), ['v1'], { concurrency: 1, referrers: true }));
    f.assertDone();
    expect(err.kind).toBe('not-found');
    expect(err.message).toMatch(/^source: blob sha256:[a-f0-9]+ not found/);
    expect(mem.manifests.has(m.digest)).toBe(true);
    expect(mem.manifests.has('v1')).toBe(false);
    expect(mem.manifests.has(sha(referrer))).toBe(false);
  });
});
