import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, utimesSync, lutimesSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { list, type ReadEntry } from 'tar';
import { packDirectory, type PackedDirectory } from '../../../src/content/file/index.js';
import { tmpDirWithCleanup } from '../../helpers/tmp.js';
import { rejection, sha256, snapshot, withUmask } from './tar-helpers.js';

const { path: work, cleanup } = tmpDirWithCleanup('lading-pack-test-');
afterAll(cleanup);
let counter = 0;
const fresh = (name: string) => {
  const p = join(work, `${counter++}`, name);
  mkdirSync(p, { recursive: true });
  return p;
};

/** A tree with nested folders, an empty file, an empty folder, an executable and a symlink. */
function makeTree(name = 'dir'): string {
  const dir = fresh(name);
  mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
  mkdirSync(join(dir, 'empty-dir'));
  mkdirSync(join(dir, 'a'));
  writeFileSync(join(dir, 'a', 'x.txt'), 'x\n');
  writeFileSync(join(dir, 'a-b'), 'dash\n');
  writeFileSync(join(dir, 'B.txt'), 'upper\n');
  writeFileSync(join(dir, 'empty.txt'), '');
  writeFileSync(join(dir, 'sub', 'deeper', 'data.bin'), Buffer.alloc(70_000, 7));
  writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(dir, 'run.sh'), 0o755);
  symlinkSync('sub/deeper/data.bin', join(dir, 'link'));
  return dir;
}

interface Listed {
  path: string;
  type: string;
  mode: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtime?: number;
  linkpath?: string;
  size: number;
}

/** The entries of a .tar.gz as node-tar's own parser reads them. */
async function listing(file: string): Promise<Listed[]> {
  const entries: Listed[] = [];
  await list({
    file,
    onReadEntry: (e: ReadEntry) => {
      entries.push({
        path: e.path,
        type: e.type,
        mode: e.mode ?? -1,
        uid: e.uid,
        gid: e.gid,
        uname: e.uname,
        gname: e.gname,
        mtime: e.mtime?.getTime(),
        linkpath: e.linkpath,
        size: e.size ?? 0,
      });
    },
  });
  return entries;
}

const packs: PackedDirectory[] = [];
afterAll(async () => {
  for (const p of packs) await p.cleanup();
});
async function pack(dir: string, name: string, options: Parameters<typeof packDirectory>[2] = {}): Promise<PackedDirectory> {
  const p = await packDirectory(dir, name, options);
  packs.push(p);
  return p;
}

describe('packDirectory', () => {
  it('writes a tar+gzip whose digests, size and entries are what ORAS expects', async () => {
    const dir = await withUmask(0o022, async () => makeTree());
    const packed = await pack(dir, 'dir');
    const gzip = readFileSync(packed.file);
    expect(packed.size).toBe(gzip.length);
    expect(packed.digest).toBe(sha256(gzip));
    const tar = gunzipSync(gzip);
    expect(packed.tarDigest).toBe(sha256(tar));
    // gzip header: mtime 0, OS "unknown" (as Go writes it), whatever the platform
    expect(gzip.readUInt32LE(4)).toBe(0);
    expect(gzip[9]).toBe(255);
    // the tar ends with exactly two zero blocks (oras-go hashes what its reader consumes)
    expect(tar.length % 512).toBe(0);
    expect(tar.subarray(tar.length - 1024).every((b) => b === 0)).toBe(true);
    expect(tar.subarray(tar.length - 1536, tar.length - 1024).every((b) => b === 0)).toBe(false);

    const entries = await listing(packed.file);
    expect(entries.map((e) => e.path)).toEqual([
      'dir/',
      'dir/B.txt',
      'dir/a-b',
      'dir/a/',
      'dir/a/x.txt',
      'dir/empty-dir/',
      'dir/empty.txt',
      'dir/link',
      'dir/run.sh',
      'dir/sub/',
      'dir/sub/deeper/',
      'dir/sub/deeper/data.bin',
    ]);
    const byPath = Object.fromEntries(entries.map((e) => [e.path, e]));
    for (const e of entries) {
      expect([e.uid, e.gid]).toEqual([0, 0]);
      expect(e.uname ?? '').toBe('');
      expect(e.gname ?? '').toBe('');
    }
    expect(byPath['dir/run.sh']).toMatchObject({ type: 'File', mode: 0o755, size: 18 });
    expect(byPath['dir/empty.txt']).toMatchObject({ type: 'File', mode: 0o644, size: 0 });
    expect(byPath['dir/sub/']).toMatchObject({ type: 'Directory', mode: 0o755 });
    expect(byPath['dir/link']).toMatchObject({ type: 'SymbolicLink', linkpath: 'sub/deeper/data.bin' });
    expect(byPath['dir/sub/deeper/data.bin'].size).toBe(70_000);

    // GNU tar reads it back to the same tree
    const out = fresh('gnu-out');
    execFileSync('tar', ['-xzf', packed.file, '-C', out]);
    expect(snapshot(join(out, 'dir'))).toEqual(snapshot(dir));
  });

  it('prefixes entries with the title as given, and packs "." without a prefix', async () => {
    const dir = fresh('tree');
    writeFileSync(join(dir, 'f'), 'f');
    expect((await listing((await pack(dir, 'a/b/tree')).file)).map((e) => e.path)).toEqual(['a/b/tree/', 'a/b/tree/f']);
    expect((await listing((await pack(dir, '.')).file)).map((e) => e.path)).toEqual(['./', 'f']);
  });

  it('refuses titles that are absolute or climb out', async () => {
    const dir = fresh('tree');
    for (const name of ['/abs', '../x', 'C:\\x', '']) {
      expect((await rejection(packDirectory(dir, name))).kind).toBe('usage');
    }
  });

  it('is reproducible: two copies with different mtimes give one digest, unlike a plain pack', async () => {
    const one = makeTree('same');
    const two = join(work, `${counter++}`, 'same');
    cpSync(one, two, { recursive: true, verbatimSymlinks: true });
    const walkTimes = (dir: string, seconds: number) => {
      for (const rel of ['', 'a', 'a/x.txt', 'sub', 'sub/deeper', 'sub/deeper/data.bin', 'run.sh', 'empty.txt', 'empty-dir', 'B.txt', 'a-b']) {
        utimesSync(join(dir, rel), seconds, seconds);
      }
    };
    walkTimes(one, 1_600_000_000);
    walkTimes(two, 1_650_000_000);
    lutimesSync(join(one, 'link'), 1_600_000_000, 1_600_000_000);

    const r1 = await pack(one, 'same', { reproducible: true });
    const r2 = await pack(two, 'same', { reproducible: true });
    expect(r2.digest).toBe(r1.digest);
    expect(r2.tarDigest).toBe(r1.tarDigest);
    expect((await listing(r1.file)).every((e) => e.mtime === 0)).toBe(true);

    const p1 = await pack(one, 'same');
    const p2 = await pack(two, 'same');
    expect(p1.digest).not.toBe(r1.digest);
    expect(p1.tarDigest).not.toBe(p2.tarDigest);
    expect((await listing(p1.file)).find((e) => e.path === 'same/a/x.txt')?.mtime).toBe(1_600_000_000_000);

    // SOURCE_DATE_EPOCH clamps later mtimes (copies made after it agree) and keeps earlier ones
    const epoch = 1_620_000_000;
    const three = join(work, `${counter++}`, 'same');
    cpSync(two, three, { recursive: true, verbatimSymlinks: true });
    walkTimes(three, 1_700_000_000);
    const e1 = await pack(one, 'same', { epoch });
    const e2 = await pack(two, 'same', { epoch });
    const e3 = await pack(three, 'same', { epoch });
    expect(e3.digest).toBe(e2.digest);
    expect(e1.digest).not.toBe(e2.digest);
    expect((await listing(e1.file)).every((e) => e.mtime === 1_600_000_000_000)).toBe(true);
    expect((await listing(e2.file)).every((e) => e.mtime === epoch * 1000)).toBe(true);
  });

  it('writes long and non-ASCII names through PAX records that GNU tar reads', async () => {
    const dir = fresh('long');
    const deep = join(dir, 'd'.repeat(80), 'e'.repeat(80));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, `${'f'.repeat(120)}.txt`), 'long');
    writeFileSync(join(dir, 'héllo wörld ✓.txt'), 'unicode');
    symlinkSync(`${'t'.repeat(150)}`, join(dir, 'longlink'));
    const packed = await pack(dir, 'long');
    const names = (await listing(packed.file)).map((e) => e.path);
    expect(names).toContain(`long/${'d'.repeat(80)}/${'e'.repeat(80)}/${'f'.repeat(120)}.txt`);
    expect(names).toContain('long/héllo wörld ✓.txt');
    const out = fresh('gnu-long');
    execFileSync('tar', ['-xzf', packed.file, '-C', out]);
    expect(snapshot(join(out, 'long'))).toEqual(snapshot(dir));
  });

  it('refuses FIFOs and sockets, and cleans up its temporary file', async () => {
    const dir = fresh('fifo');
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    const tempDir = fresh('tmp');
    const err = await rejection(packDirectory(dir, 'fifo', { tempDir }));
    expect(err.kind).toBe('usage');
    expect(err.message).toContain('pipe');
    expect(snapshot(tempDir)).toEqual({});
  });

  it('removes its file on cleanup, and refuses a path that is not a folder', async () => {
    const dir = makeTree();
    const packed = await packDirectory(dir, 'dir', { tempDir: fresh('tmp') });
    expect(existsSync(packed.file)).toBe(true);
    await packed.cleanup();
    await packed.cleanup();
    expect(existsSync(packed.file)).toBe(false);
    expect((await rejection(packDirectory(join(dir, 'run.sh'), 'run.sh'))).kind).toBe('usage');
    expect((await rejection(packDirectory(join(dir, 'missing'), 'missing'))).kind).toBe('not-found');
  });
});
