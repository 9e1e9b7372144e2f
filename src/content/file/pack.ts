import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import { lstat, mkdtemp, readdir, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { LadingError } from '../../errors/errors.js';
import { newHasher } from '../../oci/digest.js';
import { checkEntryName } from './paths.js';
import { encodeEntryHeader, END_OF_ARCHIVE, padding, type WritableEntryType } from './tar-format.js';

/** A folder packed as tar+gzip in a temporary file, ready to upload as one layer. */
export interface PackedDirectory {
  /** The temporary `.tar.gz` file. */
  file: string;
  /** sha256 of the gzip file: the layer digest. */
  digest: string;
  /** Size of the gzip file in bytes. */
  size: number;
  /** sha256 of the uncompressed tar: the `io.deis.oras.content.digest` annotation. */
  tarDigest: string;
  /** Removes the temporary file (and its folder); safe to call twice. */
  cleanup(): Promise<void>;
}

export interface PackOptions {
  /** Same tree, same bytes: every mtime becomes 0 (or is clamped to `epoch` when given), modes 0755/0644. */
  reproducible?: boolean;
  /** SOURCE_DATE_EPOCH in seconds: implies `reproducible`; mtimes later than it become it. */
  epoch?: number;
  /** Folder for the temporary file (default: the OS temp folder). */
  tempDir?: string;
}

interface Item {
  name: string;
  source: string;
  type: WritableEntryType;
  stats: Stats;
  linkpath?: string;
}

/** gzip header byte 9 (OS): zlib writes the build platform's code; write "unknown", as Go's compress/gzip does, so the bytes do not depend on it. */
const GZIP_OS_UNKNOWN = 255;

/**
 * Packs folder `dir` as a tar+gzip layer the way oras-go's file store does, in one pass: the tar is hashed, gzipped,
 * and the gzip hashed and written to a temporary file as it is produced.
 *
 * Entries are named `<name>/...` (`name` is the title; `.` gives unprefixed names), sorted by name in byte order,
 * with the folders themselves (`name/`, `name/sub/`), regular files, symlinks (kept as links, target as is), empty
 * files and empty folders. Headers: uid/gid 0, no user/group names, the mode's permission bits (setuid, setgid and
 * sticky included, as Go's archive/tar records them), no atime/ctime. Reproducible packs (`reproducible` or `epoch`)
 * set every mtime to 0, or to min(mtime, epoch) with an epoch, and modes to 0755/0644 (folders 0755, links 0777), so
 * copies of a tree made at different times or under different umasks give the same digest. Sockets, devices and
 * FIFOs are refused (kind 'usage').
 */
export async function packDirectory(dir: string, name: string, options: PackOptions = {}): Promise<PackedDirectory> {
  const checked = checkEntryName(name);
  if (!checked.ok || name === '') {
    throw new LadingError('usage', `cannot name folder entries "${name}": ${checked.ok ? 'empty name' : checked.reason}`);
  }
  const rootStats = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    throw new LadingError(err.code === 'ENOENT' ? 'not-found' : 'usage', `${dir}: ${err.message}`, { cause: err });
  });
  if (!rootStats.isDirectory()) throw new LadingError('usage', `${dir}: not a folder`);

  const rootName = checked.path === '.' ? './' : `${checked.path}/`;
  const childPrefix = checked.path === '.' ? '' : rootName;
  const items: Item[] = [{ name: rootName, source: dir, type: 'Directory', stats: rootStats }];
  await walk(dir, childPrefix, items);
  items.sort((a, b) => Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8')));

  const epoch = options.epoch;
  if (epoch !== undefined && !(Number.isSafeInteger(epoch) && epoch >= 0)) {
    throw new LadingError('usage', `invalid SOURCE_DATE_EPOCH ${epoch}: expected a whole number of seconds`);
  }
  const reproducible = options.reproducible === true || epoch !== undefined;
  const mtimeOf = (stats: Stats): Date => {
    const seconds = Math.floor(stats.mtimeMs / 1000);
    if (!reproducible) return new Date(seconds * 1000);
    return new Date(epoch === undefined ? 0 : Math.min(seconds, epoch) * 1000);
  };

  // Reproducible packs record modes as git does (folders 0755, files 0755 or 0644, links 0777), so the same tree
  // checked out under another umask gives the same digest, as single files of a reproducible push do.
  const modeOf = (item: Item): number => {
    const mode = item.stats.mode & 0o7777;
    if (!reproducible) return mode;
    if (item.type === 'Directory') return 0o755;
    if (item.type === 'SymbolicLink') return 0o777;
    return mode & 0o111 ? 0o755 : 0o644;
  };

  const folder = await mkdtemp(join(options.tempDir ?? tmpdir(), 'lading-pack-'));
  const file = join(folder, 'layer.tar.gz');
  const cleanup = async (): Promise<void> => {
    await rm(folder, { recursive: true, force: true });
  };
  try {
    const tarHash = newHasher('sha256');
    const gzipHash = newHasher('sha256');
    let size = 0;
    await pipeline(
      Readable.from(tarEntries(items, mtimeOf, modeOf)),
      new Transform({
        transform(chunk: Buffer, _enc, cb: TransformCallback) {
          tarHash.update(chunk);
          cb(null, chunk);
        },
      }),
      createGzip(),
      new Transform({
        transform(chunk: Buffer, _enc, cb: TransformCallback) {
          if (size <= 9 && size + chunk.length > 9) chunk[9 - size] = GZIP_OS_UNKNOWN;
          gzipHash.update(chunk);
          size += chunk.length;
          cb(null, chunk);
        },
      }),
      createWriteStream(file, { flags: 'wx', mode: 0o600 }),
    );
    return {
      file,
      digest: `sha256:${gzipHash.digest('hex')}`,
      size,
      tarDigest: `sha256:${tarHash.digest('hex')}`,
      cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function walk(dir: string, prefix: string, items: Item[]): Promise<void> {
  const names = await readdir(dir);
  for (const child of names) {
    const source = join(dir, child);
    const stats = await lstat(source);
    const name = prefix + child;
    if (stats.isDirectory()) {
      items.push({ name: `${name}/`, source, type: 'Directory', stats });
      await walk(source, `${name}/`, items);
    } else if (stats.isFile()) {
      items.push({ name, source, type: 'File', stats });
    } else if (stats.isSymbolicLink()) {
      items.push({ name, source, type: 'SymbolicLink', stats, linkpath: await readlink(source) });
    } else {
      throw new LadingError('usage', `${source}: sockets, devices and FIFOs cannot be pushed (only files, folders and symlinks)`);
    }
  }
}

async function* tarEntries(items: Item[], mtimeOf: (stats: Stats) => Date, modeOf: (item: Item) => number): AsyncGenerator<Buffer> {
  for (const item of items) {
    const size = item.type === 'File' ? item.stats.size : 0;
    yield encodeEntryHeader({
      path: item.name,
      type: item.type,
      mode: modeOf(item),
      size,
      mtime: mtimeOf(item.stats),
      linkpath: item.linkpath,
    });
    if (item.type !== 'File' || size === 0) continue;
    let read = 0;
    // Read at most the size recorded in the header; a file that shrank meanwhile cannot be packed.
    for await (const chunk of createReadStream(item.source, { start: 0, end: size - 1 })) {
      read += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
    if (read !== size) throw new LadingError('usage', `${item.source}: changed while it was being packed (${size} bytes expected, ${read} read)`);
    yield padding(size);
  }
  yield END_OF_ARCHIVE;
}
