/**
 * Several writers on one layout at once: separate store instances in this process, and separate
 * node processes running the real store. index.json must stay valid JSON and keep every entry.
 */
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { withFileLock } from '../../../src/content/oci-layout/lock.js';
import { OciLayoutStore } from '../../../src/content/oci-layout/store.js';
import { tmpDir } from '../../helpers/tmp.js';
import { buildStoreForChildren, manifestDesc, REF_NAME } from './helpers.js';

interface Entry {
  digest: string;
  annotations?: Record<string, string>;
}

function readIndexFile(dir: string): Entry[] {
  return (JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Entry[] }).manifests;
}

/** Writer `w` pushes `n` manifests: even ones tagged `w<w>-<i>`, odd ones untagged. */
async function writer(dir: string, w: number, n: number): Promise<void> {
  const s = await OciLayoutStore.open(dir);
  for (let i = 0; i < n; i++) {
    const m = manifestDesc(`writer ${w} item ${i}`);
    if (i % 2 === 0) await s.pushReference(m.desc, m.bytes, `w${w}-${i}`);
    else await s.push(m.desc, m.bytes);
  }
}

function expectAllEntries(dir: string, writers: number, n: number): void {
  const entries = readIndexFile(dir); // throws if index.json is not valid JSON
  const byDigest = new Map(entries.map((e) => [e.digest, e]));
  expect(entries.length).toBe(writers * n);
  for (let w = 0; w < writers; w++) {
    for (let i = 0; i < n; i++) {
      const e = byDigest.get(manifestDesc(`writer ${w} item ${i}`).desc.digest);
      expect(e).toBeDefined();
      expect(e?.annotations?.[REF_NAME]).toBe(i % 2 === 0 ? `w${w}-${i}` : undefined);
    }
  }
  expect(readdirSync(dir).sort()).toEqual(['blobs', 'index.json', 'oci-layout']); // no lock or temporary file left
}

describe('concurrent writers', () => {
  it('keep every entry: 8 store instances in one process, pushing and tagging at once into a new layout', async () => {
    const dir = join(tmpDir('lading-layout-'), 'shared');
    await Promise.all(Array.from({ length: 8 }, (_, w) => writer(dir, w, 12)));
    expectAllEntries(dir, 8, 12);
    const s = await OciLayoutStore.open(dir, { readOnly: true });
    expect((await s.tags()).length).toBe(8 * 6);
  });

  it('keep every entry: 5 node processes pushing and tagging at once into a new layout', async () => {
    const build = buildStoreForChildren();
    const dir = join(tmpDir('lading-layout-'), 'shared');
    const script = join(build, 'writer.mjs');
    writeFileSync(
      script,
      `import { OciLayoutStore } from './content/oci-layout/store.js';
import { createHash } from 'node:crypto';
const [dir, w, n, startAt] = process.argv.slice(2);
while (Date.now() < Number(startAt)) await new Promise((r) => setTimeout(r, 5));
const s = await OciLayoutStore.open(dir);
for (let i = 0; i < Number(n); i++) {
  const empty = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:' + createHash('sha256').update('{}').digest('hex'), size: 2 };
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: empty, layers: [], annotations: { note: 'writer ' + w + ' item ' + i } }));
  const desc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:' + createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
  if (i % 2 === 0) await s.pushReference(desc, bytes, 'w' + w + '-' + i);
  else await s.push(desc, bytes);
}
`,
    );
    const startAt = Date.now() + 1500; // every process starts writing at the same moment
    await Promise.all(
      Array.from(
        { length: 5 },
        (_, w) =>
          new Promise<void>((resolve, reject) =>
            execFile(process.execPath, [script, dir, String(w), '20', String(startAt)], { timeout: 60_000 }, (err, _out, stderr) =>
              err ? reject(new Error(`writer ${w} failed: ${stderr || err.message}`)) : resolve(),
            ),
          ),
      ),
    );
    expectAllEntries(dir, 5, 20);
  });
});

describe('the index.json lock', () => {
  it('is exclusive: critical sections never overlap', async () => {
    const dir = tmpDir('lading-layout-');
    const lock = join(dir, 'x.lock');
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        withFileLock(lock, async () => {
          inside++;
          most = Math.max(most, inside);
          await new Promise((r) => setTimeout(r, 2));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(existsSync(lock)).toBe(false);
  });

  it('is released when the work fails', async () => {
    const lock = join(tmpDir('lading-layout-'), 'x.lock');
    await expect(withFileLock(lock, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(existsSync(lock)).toBe(false);
  });

  it('left over from a crashed writer is broken once stale (~30 s old)', async () => {
    const dir = tmpDir('lading-layout-');
    const s = await OciLayoutStore.open(dir);
    const lock = join(dir, 'index.json.lock');
    writeFileSync(lock, '12345@elsewhere crashed\n');
    const old = new Date(Date.now() - 31_000);
    utimesSync(lock, old, old);
    const a = manifestDesc('a');
    const started = Date.now();
    await s.pushReference(a.desc, a.bytes, 'v1');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await s.resolve('v1')).toEqual(a.desc);
    expect(existsSync(lock)).toBe(false);
  });

  it('held by a live writer makes others wait until it is released', async () => {
    const dir = tmpDir('lading-layout-');
    const s = await OciLayoutStore.open(dir);
    const lock = join(dir, 'index.json.lock');
    writeFileSync(lock, 'someone else\n');
    const a = manifestDesc('a');
    let done = false;
    const push = s.pushReference(a.desc, a.bytes, 'v1').then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false);
    expect(readIndexFile(dir)).toEqual([]);
    rmSync(lock);
    await push;
    expect(readIndexFile(dir)).toEqual([{ ...a.desc, annotations: { [REF_NAME]: 'v1' } }]);
  });

  it('gives up after waitMs with an error naming the lock file', async () => {
    const dir = tmpDir('lading-layout-');
    const s = await OciLayoutStore.open(dir, { lock: { staleMs: 60_000, waitMs: 200 } });
    writeFileSync(join(dir, 'index.json.lock'), 'someone else\n');
    const a = manifestDesc('a');
    await expect(s.pushReference(a.desc, a.bytes, 'v1')).rejects.toThrow(/timed out .* waiting for the lock .*index\.json\.lock/);
  });
});
