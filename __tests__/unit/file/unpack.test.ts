import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { chmodSync, createReadStream, existsSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { packDirectory, unpackTarGz, type UnpackOptions } from '../../../src/content/file/index.js';
import { tmpDirWithCleanup } from '../../helpers/tmp.js';
import { gz, rawTar, rejection, sha256, snapshot, streamOf, withUmask, type RawEntry } from './tar-helpers.js';

const { path: work, cleanup } = tmpDirWithCleanup('lading-unpack-test-');
afterAll(cleanup);
let counter = 0;
const fresh = (name: string) => {
  const p = join(work, `${counter++}`, name);
  mkdirSync(p, { recursive: true });
  return p;
};
const modeOf = (p: string) => statSync(p).mode & 0o7777;

/** Makes renaming `file` fail (immutable as root, read-only folder otherwise); returns the undo, or undefined if impossible. */
function lock(file: string): (() => void) | undefined {
  if (process.getuid?.() === 0) {
    try {
      execFileSync('chattr', ['+i', file], { stdio: 'ignore' });
      return () => execFileSync('chattr', ['-i', file], { stdio: 'ignore' });
    } catch {
      return undefined;
    }
  }
  const folder = join(file, '..');
  chmodSync(folder, 0o555);
  return () => chmodSync(folder, 0o755);
}

/** A tree with nested folders, an empty file, an empty folder, an executable and symlinks. */
function makeTree(name = 'dir'): string {
  const dir = fresh(name);
  mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
  mkdirSync(join(dir, 'empty-dir'));
  writeFileSync(join(dir, 'empty.txt'), '');
  writeFileSync(join(dir, 'sub', 'deeper', 'data.txt'), 'data\n'.repeat(30_000));
  writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(dir, 'run.sh'), 0o755);
  writeFileSync(join(dir, 'secret.txt'), 'secret');
  chmodSync(join(dir, 'secret.txt'), 0o400);
  symlinkSync('sub/deeper/data.txt', join(dir, 'link'));
  symlinkSync('../empty.txt', join(dir, 'sub', 'up-link'));
  return dir;
}

async function packAndRead(dir: string, name: string): Promise<{ gzip: Buffer; tarDigest: string }> {
  const packed = await packDirectory(dir, name, { tempDir: fresh('tmp') });
  try {
    return { gzip: readFileSync(packed.file), tarDigest: packed.tarDigest };
  } finally {
    await packed.cleanup();
  }
}

const unpack = (data: Buffer, dest: string, options: UnpackOptions = {}) => unpackTarGz(streamOf(data), dest, options);

/** A destination folder with a file and a folder in it already, and its snapshot. */
function occupiedDest(): { dest: string; before: ReturnType<typeof snapshot> } {
  const dest = fresh('out');
  writeFileSync(join(dest, 'keep.txt'), 'keep');
  mkdirSync(join(dest, 'dir'));
  writeFileSync(join(dest, 'dir', 'old.txt'), 'old');
  return { dest, before: snapshot(dest) };
}

describe('pack → unpack round trip', () => {
  it('gives back the identical tree: names, contents, modes, link targets', async () => {
    await withUmask(0o022, async () => {
      const dir = makeTree();
      const { gzip, tarDigest } = await packAndRead(dir, 'dir');
      const dest = fresh('out');
      const written = await unpack(gzip, dest, { expectedTarDigest: tarDigest });
      expect(snapshot(join(dest, 'dir'))).toEqual(snapshot(dir));
      expect(readlinkSync(join(dest, 'dir', 'link'))).toBe('sub/deeper/data.txt');
      expect(written).toEqual([
        'dir',
        'dir/empty-dir',
        'dir/empty.txt',
        'dir/link',
        'dir/run.sh',
        'dir/secret.txt',
        'dir/sub',
        'dir/sub/deeper',
        'dir/sub/deeper/data.txt',
        'dir/sub/up-link',
      ]);
      // nothing but the tree is left in the output folder (no temporary folder)
      expect(Object.keys(snapshot(dest)).filter((k) => !k.startsWith('dir'))).toEqual([]);
    });
  });

  it('keeps modification times', async () => {
    const dir = makeTree();
    execFileSync('touch', ['-d', '2020-01-02T03:04:05Z', join(dir, 'run.sh'), join(dir, 'sub')]);
    const { gzip } = await packAndRead(dir, 'dir');
    const dest = fresh('out');
    await unpack(gzip, dest);
    expect(statSync(join(dest, 'dir', 'run.sh')).mtime.toISOString()).toBe('2020-01-02T03:04:05.000Z');
    expect(statSync(join(dest, 'dir', 'sub')).mtime.toISOString()).toBe('2020-01-02T03:04:05.000Z');
  });
});

describe('B31: modes on pull', () => {
  const archive = () =>
    gz(
      rawTar([
        { path: 'dir/', typeflag: '5', mode: 0o755 },
        { path: 'dir/inner.txt', mode: 0o400, body: 'inner' },
        { path: 'dir/run.sh', mode: 0o777, body: '#!/bin/sh\n' },
        { path: 'dir/suid', mode: 0o4755, body: 'x' },
        { path: 'dir/ro-dir/', typeflag: '5', mode: 0o555 },
        { path: 'dir/ro-dir/f', mode: 0o644, body: 'f' },
      ]),
    );

  it('default: owner keeps its bits, the umask cuts the others, no setuid', async () => {
    await withUmask(0o022, async () => {
      const dest = fresh('out');
      await unpack(archive(), dest);
      expect(modeOf(join(dest, 'dir', 'run.sh'))).toBe(0o755);
      expect(modeOf(join(dest, 'dir', 'inner.txt'))).toBe(0o400);
      expect(modeOf(join(dest, 'dir', 'suid'))).toBe(0o755);
      expect(modeOf(join(dest, 'dir'))).toBe(0o755);
      expect(modeOf(join(dest, 'dir', 'ro-dir'))).toBe(0o755);
    });
  });

  it('reads the umask of the process', async () => {
    await withUmask(0o077, async () => {
      const dest = fresh('out');
      await unpack(archive(), dest);
      expect(modeOf(join(dest, 'dir', 'run.sh'))).toBe(0o700);
      expect(modeOf(join(dest, 'dir', 'inner.txt'))).toBe(0o400);
    });
    // a umask that cuts owner bits does not take them from the owner
    await withUmask(0o277, async () => {
      const dest = fresh('out');
      await unpack(archive(), dest);
      expect(modeOf(join(dest, 'dir', 'run.sh'))).toBe(0o700);
      expect(modeOf(join(dest, 'dir', 'ro-dir', 'f'))).toBe(0o600);
    });
  });

  it('--preserve-permissions: exact tar modes whatever the umask, setuid included', async () => {
    await withUmask(0o022, async () => {
      const dest = fresh('out');
      await unpack(archive(), dest, { preservePermissions: true });
      expect(modeOf(join(dest, 'dir', 'run.sh'))).toBe(0o777);
      expect(modeOf(join(dest, 'dir', 'inner.txt'))).toBe(0o400);
      expect(modeOf(join(dest, 'dir', 'suid'))).toBe(0o4755);
      expect(modeOf(join(dest, 'dir', 'ro-dir'))).toBe(0o555);
      expect(readFileSync(join(dest, 'dir', 'ro-dir', 'f'), 'utf8')).toBe('f');
    });
  });

  it('the B31 push/pull: chmod 0400 inner, 0777 run.sh, umask 022', async () => {
    await withUmask(0o022, async () => {
      const dir = fresh('dir');
      writeFileSync(join(dir, 'inner.txt'), 'inner');
      writeFileSync(join(dir, 'run.sh'), 'run');
      chmodSync(join(dir, 'inner.txt'), 0o400);
      chmodSync(join(dir, 'run.sh'), 0o777);
      const { gzip, tarDigest } = await packAndRead(dir, 'dir');
      const out = fresh('out');
      await unpack(gzip, out, { expectedTarDigest: tarDigest });
      expect(modeOf(join(out, 'dir', 'run.sh'))).toBe(0o755);
      expect(modeOf(join(out, 'dir', 'inner.txt'))).toBe(0o400);
      const exact = fresh('out');
      await unpack(gzip, exact, { expectedTarDigest: tarDigest, preservePermissions: true });
      expect(modeOf(join(exact, 'dir', 'run.sh'))).toBe(0o777);
    });
  });
});

describe('ORAS compatibility', () => {
  /** A folder with a name long enough for GNU long-name records and for PAX records. */
  function gnuTree(): { parent: string; dir: string } {
    const parent = fresh('parent');
    const dir = join(parent, 'dirname');
    const long = join(dir, 'l'.repeat(90), 'm'.repeat(90));
    mkdirSync(long, { recursive: true });
    writeFileSync(join(long, 'n'.repeat(110)), 'long');
    writeFileSync(join(dir, 'exe'), 'exe');
    chmodSync(join(dir, 'exe'), 0o755);
    mkdirSync(join(dir, 'empty'));
    symlinkSync('exe', join(dir, 'ln'));
    return { parent, dir };
  }

  it.each([['gnu'], ['pax'], ['ustar']])('unpacks `tar -C parent -cf - dirname | gzip` (format %s) and checks its digest', async (format) => {
    const { parent, dir } = gnuTree();
    const args = ['-C', parent, `--format=${format}`, '-cf', '-', 'dirname'];
    let tar: Buffer;
    try {
      tar = execFileSync('tar', args, { maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      // ustar cannot hold the long names: drop them for that format
      execFileSync('rm', ['-rf', join(dir, 'l'.repeat(90))]);
      tar = execFileSync('tar', args, { maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'ignore'] });
    }
    expect(tar.length % 10240).toBe(0); // GNU tar pads to whole records: all of it is hashed
    const gzip = execFileSync('gzip', ['-c'], { input: tar });
    const dest = fresh('out');
    await unpack(gzip, dest, { expectedTarDigest: sha256(tar), prefix: 'dirname' });
    expect(snapshot(join(dest, 'dirname'))).toEqual(snapshot(dir));
    expect(gunzipSync(gzip).equals(tar)).toBe(true);
  });

  it('unpacks entries named the way oras-go writes them (folders without "/", PAX for long names)', async () => {
    const long = `dirname/${'p'.repeat(120)}/file.txt`;
    const tar = rawTar([
      { path: 'dirname', typeflag: '5', mode: 0o755 },
      { path: 'dirname/sub', typeflag: '5', mode: 0o750 },
      { path: 'dirname/sub/a.txt', mode: 0o644, body: 'a' },
      { path: `dirname/${'p'.repeat(120)}`, typeflag: '5', paxPath: true },
      { path: long, mode: 0o600, body: 'long', paxPath: true },
      { path: 'dirname/ln', typeflag: '2', linkpath: 'sub/a.txt' },
    ]);
    const dest = fresh('out');
    const written = await unpack(gz(tar), dest, { expectedTarDigest: sha256(tar), prefix: 'dirname' });
    expect(written).toEqual(['dirname', 'dirname/sub', 'dirname/sub/a.txt', `dirname/${'p'.repeat(120)}`, long, 'dirname/ln']);
    expect(readFileSync(join(dest, long), 'utf8')).toBe('long');
    expect(modeOf(join(dest, long))).toBe(0o600);
    expect(modeOf(join(dest, 'dirname', 'sub'))).toBe(0o750);
    expect(readFileSync(join(dest, 'dirname', 'ln'), 'utf8')).toBe('a');
  });

  it('a PAX path is the whole name, even when the ustar header also has a prefix', async () => {
    const name = `dirname/${'q'.repeat(150)}.txt`;
    const tar = rawTar([
      { path: 'dirname/', typeflag: '5' },
      { path: name, body: 'pax', paxPath: true, headerPath: `${'s'.repeat(40)}/${'t'.repeat(90)}` },
    ]);
    expect(tar.subarray(1536 + 345, 1536 + 350).toString()).toBe('sssss'); // the stub header (after the dir and the PAX record) has a ustar prefix
    const dest = fresh('out');
    expect(await unpack(gz(tar), dest)).toEqual(['dirname', name]);
    expect(readFileSync(join(dest, name), 'utf8')).toBe('pax');
  });

  it('header-only entries (links, folders) have no data whatever their size field says, as Go reads them', async () => {
    const tar = rawTar([
      { path: 'dirname/', typeflag: '5' },
      { path: 'dirname/ln', typeflag: '2', linkpath: 'a.txt', size: 512 },
      { path: 'dirname/a.txt', body: 'a' },
    ]);
    const dest = fresh('out');
    expect(await unpack(gz(tar), dest)).toEqual(['dirname', 'dirname/ln', 'dirname/a.txt']);
    expect(readFileSync(join(dest, 'dirname', 'ln'), 'utf8')).toBe('a');
  });

  it('unpacks a file stream (createReadStream) like any other', async () => {
    const dir = makeTree();
    const packed = await packDirectory(dir, 'dir');
    try {
      const dest = fresh('out');
      await unpackTarGz(createReadStream(packed.file), dest, { expectedTarDigest: packed.tarDigest });
      expect(snapshot(join(dest, 'dir'))).toEqual(snapshot(dir));
    } finally {
      await packed.cleanup();
    }
  });
});

describe('refused archives leave the output folder exactly as it was', () => {
  const cases: Array<[string, RawEntry[], string]> = [
    ['../evil', [{ path: 'dir/', typeflag: '5' }, { path: 'dir/ok', body: 'ok' }, { path: '../evil', body: 'evil' }], 'path traversal'],
    ['/abs', [{ path: 'dir/ok', body: 'ok' }, { path: '/tmp/lading-abs-evil', body: 'evil' }], 'absolute'],
    ['dir/../../evil', [{ path: 'dir/../../evil', body: 'evil' }], 'path traversal'],
    ['..\\evil', [{ path: '..\\evil', body: 'evil' }], 'path traversal'],
    ['C:\\evil', [{ path: 'C:\\evil', body: 'evil' }], 'drive letter'],
    [
      'link -> ../../etc, then link/passwd',
      [
        { path: 'dir/', typeflag: '5' },
        { path: 'dir/link', typeflag: '2', linkpath: '../../etc' },
        { path: 'dir/link/passwd', body: 'root::0:0::/:/bin/sh' },
      ],
      'outside the output folder',
    ],
    [
      'symlink to an absolute path',
      [{ path: 'dir/link', typeflag: '2', linkpath: '/etc' }],
      'outside the output folder',
    ],
    [
      'symlink escaping through another symlink',
      [
        { path: 'dir/', typeflag: '5' },
        { path: 'dir/self', typeflag: '2', linkpath: '..' },
        { path: 'dir/out', typeflag: '2', linkpath: 'self/../..' },
      ],
      'through other symlinks',
    ],
    [
      'a write through an inside symlink',
      [
        { path: 'dir/', typeflag: '5' },
        { path: 'dir/here', typeflag: '2', linkpath: '.' },
        { path: 'dir/here/x', body: 'x' },
      ],
      'is a symlink',
    ],
    ['hard link to /etc/passwd', [{ path: 'dir/hl', typeflag: '1', linkpath: '/etc/passwd' }], 'hard link'],
    ['hard link out with ..', [{ path: 'dir/hl', typeflag: '1', linkpath: '../keep.txt' }], 'hard link'],
    ['character device', [{ path: 'dir/null', typeflag: '3' }], 'devices'],
    ['FIFO', [{ path: 'dir/fifo', typeflag: '6' }], 'FIFO'],
  ];

  it.each(cases)('%s', async (_name, entries, message) => {
    const { dest, before } = occupiedDest();
    const err = await rejection(unpack(gz(rawTar(entries)), dest));
    expect(err.kind).toBe('usage');
    expect(err.message).toContain(message);
    expect(snapshot(dest)).toEqual(before);
    expect(existsSync(join(dest, '..', 'evil'))).toBe(false);
    expect(existsSync('/tmp/lading-abs-evil')).toBe(false);
  });

  it('--allow-path-traversal lets symlinks point out, but never names or writes through them', async () => {
    const { dest, before } = occupiedDest();
    const escaping = rawTar([
      { path: 'dir/', typeflag: '5' },
      { path: 'dir/etc', typeflag: '2', linkpath: '../../etc' },
    ]);
    await unpack(gz(escaping), dest, { allowTraversal: true });
    expect(readlinkSync(join(dest, 'dir', 'etc'))).toBe('../../etc');

    const { dest: dest2, before: before2 } = occupiedDest();
    for (const entries of [cases[0][1], cases[5][1]]) {
      const err = await rejection(unpack(gz(rawTar(entries)), dest2, { allowTraversal: true }));
      expect(err.kind).toBe('usage');
      expect(snapshot(dest2)).toEqual(before2);
    }
    expect(before).not.toEqual(snapshot(dest));
  });

  it('refuses entries outside the title folder when a prefix is given', async () => {
    const { dest, before } = occupiedDest();
    const err = await rejection(unpack(gz(rawTar([{ path: 'dir/a', body: 'a' }, { path: 'other.txt', body: 'x' }])), dest, { prefix: 'dir' }));
    expect(err.kind).toBe('usage');
    expect(err.message).toContain('outside the folder "dir"');
    expect(snapshot(dest)).toEqual(before);
  });

  it('skips the output folder itself (`tar -C dir -cf - .`), and refuses it as anything but a folder', async () => {
    const dest = fresh('out');
    expect(await unpack(gz(rawTar([{ path: './', typeflag: '5', mode: 0o700 }, { path: './a.txt', body: 'a' }])), dest)).toEqual(['a.txt']);
    expect(modeOf(dest)).not.toBe(0o700);
    const { dest: dest2, before } = occupiedDest();
    const err = await rejection(unpack(gz(rawTar([{ path: 'new.txt', body: 'n' }, { path: '.', body: 'x' }])), dest2));
    expect(err.kind).toBe('usage');
    expect(snapshot(dest2)).toEqual(before);
  });

  it('hard links to earlier files of the archive are made', async () => {
    const dest = fresh('out');
    await unpack(gz(rawTar([{ path: 'dir/a', body: 'same' }, { path: 'dir/b', typeflag: '1', linkpath: 'dir/a' }])), dest);
    expect(statSync(join(dest, 'dir', 'b')).ino).toBe(statSync(join(dest, 'dir', 'a')).ino);
  });
});

describe('digest and integrity', () => {
  const tar = rawTar([
    { path: 'dir/', typeflag: '5' },
    { path: 'dir/a.txt', body: 'a' },
  ]);

  it('a tar digest mismatch leaves nothing, not even a folder it created', async () => {
    const { dest, before } = occupiedDest();
    const err = await rejection(unpack(gz(tar), dest, { expectedTarDigest: sha256('other') }));
    expect(err.kind).toBe('digest-mismatch');
    expect(err.message).toContain('io.deis.oras.content.digest');
    expect(snapshot(dest)).toEqual(before);

    const missing = join(fresh('parent'), 'new', 'out');
    expect((await rejection(unpack(gz(tar), missing, { expectedTarDigest: sha256('other') }))).kind).toBe('digest-mismatch');
    expect(existsSync(join(missing, '..'))).toBe(false);
  });

  it('the digest covers every byte of the tar, padding included', async () => {
    const padded = Buffer.concat([tar, Buffer.alloc(10240 - (tar.length % 10240))]);
    const dest = fresh('out');
    expect((await rejection(unpack(gz(padded), dest, { expectedTarDigest: sha256(tar) }))).kind).toBe('digest-mismatch');
    await unpack(gz(padded), dest, { expectedTarDigest: sha256(padded) });
    expect(readFileSync(join(dest, 'dir', 'a.txt'), 'utf8')).toBe('a');
  });

  it('rejects an invalid digest annotation, broken gzip, a truncated or corrupt tar', async () => {
    const dest = fresh('out');
    expect((await rejection(unpack(gz(tar), dest, { expectedTarDigest: 'sha256:nope' }))).kind).toBe('digest-mismatch');
    expect((await rejection(unpack(Buffer.from('not gzip at all'), dest))).kind).toBe('digest-mismatch');
    expect((await rejection(unpack(gz(tar.subarray(0, 700)), dest))).kind).toBe('digest-mismatch');
    const bad = Buffer.from(tar);
    bad[10] ^= 0xff; // breaks the header checksum
    expect((await rejection(unpack(gz(bad), dest))).kind).toBe('digest-mismatch');
    expect(snapshot(dest)).toEqual({});
  });

  it('a source stream error fails the unpack and leaves nothing', async () => {
    const { Readable } = await import('node:stream');
    const dest = fresh('out');
    const data = gz(tar);
    const failing = new Readable({
      read() {
        this.push(data.subarray(0, 20));
        this.destroy(new Error('connection reset'));
      },
    });
    expect((await rejection(unpackTarGz(failing, dest))).message).toContain('connection reset');
    expect(snapshot(dest)).toEqual({});
  });
});

describe('existing files', () => {
  const tar = rawTar([
    { path: 'dir/', typeflag: '5' },
    { path: 'dir/new.txt', body: 'new' },
    { path: 'dir/old.txt', body: 'replaced' },
  ]);

  it('replaces existing files and merges existing folders by default', async () => {
    const { dest } = occupiedDest();
    await unpack(gz(tar), dest);
    expect(snapshot(dest, { modes: false })).toEqual({
      dir: { type: 'dir', mode: 0 },
      'dir/new.txt': { type: 'file', mode: 0, content: 'new' },
      'dir/old.txt': { type: 'file', mode: 0, content: 'replaced' },
      'keep.txt': { type: 'file', mode: 0, content: 'keep' },
    });
  });

  it('keepOldFiles: an existing file is an error naming it, and nothing is moved', async () => {
    const { dest, before } = occupiedDest();
    const err = await rejection(unpack(gz(tar), dest, { keepOldFiles: true }));
    expect(err.kind).toBe('usage');
    expect(err.message).toContain(join(dest, 'dir', 'old.txt'));
    expect(snapshot(dest)).toEqual(before);
  });

  it('a move that fails midway puts back what was already moved', async () => {
    const { dest, before } = occupiedDest();
    writeFileSync(join(dest, 'dir', 'stuck.txt'), 'stuck');
    const snap = snapshot(dest);
    // dir/a-new.txt moves first, then replacing dir/stuck.txt fails: it is immutable (root) or its folder read-only
    const undo = lock(join(dest, 'dir', 'stuck.txt'));
    if (!undo) return; // neither chattr (as root) nor chmod can block a rename here
    try {
      const err = await rejection(
        unpack(gz(rawTar([{ path: 'dir/a-new.txt', body: 'a' }, { path: 'dir/stuck.txt', body: 's' }, { path: 'top.txt', body: 't' }])), dest),
      );
      expect(err.message).toMatch(/EPERM|EACCES/);
    } finally {
      undo();
    }
    expect(snapshot(dest)).toEqual(snap);
    expect(before).not.toEqual(snap);
  });

  it('refuses to replace a folder with a file, and replaces a symlink with a folder', async () => {
    const { dest, before } = occupiedDest();
    const err = await rejection(unpack(gz(rawTar([{ path: 'new.txt', body: 'n' }, { path: 'dir', body: 'file now' }])), dest));
    expect(err.kind).toBe('usage');
    expect(snapshot(dest)).toEqual(before);

    const target = fresh('elsewhere');
    const dest2 = fresh('out');
    symlinkSync(target, join(dest2, 'dir'));
    await unpack(gz(tar), dest2);
    expect(statSync(join(dest2, 'dir')).isDirectory()).toBe(true);
    expect(snapshot(target)).toEqual({});
  });
});
