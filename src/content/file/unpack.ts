import { createWriteStream } from 'node:fs';
import { chmod, link, lstat, lutimes, mkdir, mkdtemp, readdir, readlink, rename, rm, symlink, unlink, utimes } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { posix } from 'node:path';
import { pipeline as pipeStreams, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { LadingError } from '../../errors/errors.js';
import { newHasher, parseDigest } from '../../oci/digest.js';
import { Annotation, currentUmask, pullMode } from './annotations.js';
import { checkEntryName } from './paths.js';
import { ByteSource, readTar, type TarEntry } from './tar-format.js';

export interface UnpackOptions {
  /** The `io.deis.oras.content.digest` annotation: digest of the uncompressed tar; nothing is written on mismatch. */
  expectedTarDigest?: string;
  /** Let symlinks point outside `destDir` (--allow-path-traversal). Entry names never may. */
  allowTraversal?: boolean;
  /** Exact tar modes, setuid/setgid/sticky included (--preserve-permissions); default: see `pullMode` (CASES B31). */
  preservePermissions?: boolean;
  /** Refuse (kind 'usage', nothing moved) when a file of the archive already exists; default: replace it. */
  keepOldFiles?: boolean;
  /** The layer title: when given, every entry must be this folder or inside it, as oras-go requires. */
  prefix?: string;
}

interface DirRecord {
  rel: string;
  mode: number;
  mtime?: Date;
  atime?: Date;
}

/**
 * Unpacks a tar+gzip folder layer under `destDir` (the pull output folder), all or nothing.
 *
 * Entries are extracted into a temporary folder inside `destDir` (`.lading-unpack-XXXXXX`). Each entry is checked
 * before anything is written for it, and refused with kind 'usage': absolute names, drive letters, names climbing
 * out with '..' (also with '\'), names through a symlink of the archive, devices and FIFOs, hard links to anything
 * but an earlier file of the archive, and (unless `allowTraversal`) symlinks whose target resolves outside
 * `destDir`, following the archive's own symlinks. The sha256 of the uncompressed tar is then checked against
 * `expectedTarDigest` (kind 'digest-mismatch'), and only then are the entries moved into `destDir`: existing files
 * are replaced (or refused with `keepOldFiles`), existing folders merged; a failed move puts back what was moved.
 * The temporary folder is removed on success and on every failure; a `destDir` created here is removed on failure.
 *
 * Returns the archive's entries, relative to `destDir`, '/'-separated, in archive order.
 */
export async function unpackTarGz(source: Readable, destDir: string, options: UnpackOptions = {}): Promise<string[]> {
  let algorithm = 'sha256';
  if (options.expectedTarDigest !== undefined) {
    try {
      algorithm = parseDigest(options.expectedTarDigest).algorithm;
    } catch (err) {
      source.destroy();
      throw new LadingError('digest-mismatch', `invalid ${Annotation.contentDigest} "${options.expectedTarDigest}": ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  let prefix: string | undefined;
  if (options.prefix !== undefined) {
    const checked = checkEntryName(options.prefix);
    if (!checked.ok) {
      source.destroy();
      throw new LadingError('usage', `path traversal disallowed: ${options.prefix} (use --allow-path-traversal)`);
    }
    prefix = checked.path === '.' ? undefined : checked.path;
  }

  const dest = resolve(destDir);
  const createdDest = await mkdir(dest, { recursive: true });
  let work: string | undefined;
  try {
    work = await mkdtemp(join(dest, '.lading-unpack-'));
    await chmod(work, 0o700);
    const root = join(work, 'root');
    await makeDir(root);
    const extracted = await extract(source, root, {
      algorithm,
      expectedTarDigest: options.expectedTarDigest,
      allowTraversal: options.allowTraversal === true,
      preservePermissions: options.preservePermissions === true,
      prefix,
      reserved: basename(work),
    });
    // One commit at a time per destination: two folder layers sharing a parent (`a/b`, `a/c`) would otherwise
    // both see `a` missing and race to move it in (ENOTEMPTY for the loser).
    await serialised(dest, () => commit(root, join(work!, 'old'), dest, extracted.dirs, options));
    return extracted.written;
  } catch (err) {
    source.destroy();
    if (createdDest !== undefined) await rm(createdDest, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  } finally {
    if (work !== undefined) await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

interface ExtractOptions {
  algorithm: string;
  expectedTarDigest?: string;
  allowTraversal: boolean;
  preservePermissions: boolean;
  prefix?: string;
  /** Top-level name no entry may take (the temporary folder). */
  reserved: string;
}

function refuse(name: string, reason: string): LadingError {
  return new LadingError('usage', `refusing tar entry "${name}": ${reason}; nothing was written`);
}

/** Extracts into `root`, checks the tar digest, returns the entries and the folders (modes applied after the move). */
async function extract(
  source: Readable,
  root: string,
  options: ExtractOptions,
): Promise<{ written: string[]; dirs: DirRecord[] }> {
  const umask = currentUmask();
  const hasher = newHasher(options.algorithm);
  const gunzip = createGunzip();
  // pipeline, not pipe: a source that already failed (a verifying stream whose small body ended with a digest
  // mismatch before anyone read it) then fails gunzip too, instead of leaving it waiting for data forever.
  pipeStreams(source, gunzip, () => undefined);
  const bytes = new ByteSource(gunzip, (chunk) => hasher.update(chunk));
  const written = new Set<string>();
  const dirs = new Map<string, DirRecord>();
  const symlinks: string[] = [];
  try {
    for await (const entry of readTar(bytes)) {
      const rel = checkName(entry, options);
      if (rel === undefined) continue;
      await makeParents(root, rel, entry.path, dirs, umask);
      const target = join(root, ...rel.split('/'));
      switch (entry.typeflag) {
        case '0':
        case '7': {
          await clear(target, entry.path, false);
          await pipeline(entry.body, createWriteStream(target, { flags: 'wx', mode: 0o600 }));
          await chmod(target, pullMode(entry.mode, { preservePermissions: options.preservePermissions, umask }));
          if (entry.mtime) await utimes(target, entry.atime ?? entry.mtime, entry.mtime).catch(() => undefined);
          break;
        }
        case '5':
        case 'D': {
          if (await clear(target, entry.path, true)) await makeDir(target);
          dirs.set(rel, { rel, mode: entry.mode, mtime: entry.mtime, atime: entry.atime });
          break;
        }
        case '2': {
          if (entry.linkpath === '') throw refuse(entry.path, 'symlink without a target');
          if (!options.allowTraversal && linkLeaves(rel, entry.linkpath)) {
            throw refuse(entry.path, `symlink to "${entry.linkpath}" points outside the output folder (use --allow-path-traversal)`);
          }
          await clear(target, entry.path, false);
          await symlink(entry.linkpath, target);
          if (entry.mtime) await lutimes(target, entry.atime ?? entry.mtime, entry.mtime).catch(() => undefined);
          symlinks.push(rel);
          break;
        }
        case '1': {
          const to = checkEntryName(entry.linkpath);
          const from = to.ok && to.path !== '.' && to.path !== rel ? to.path : undefined;
          const existing = from === undefined ? undefined : await lstatInside(root, from);
          if (from === undefined || !existing?.isFile()) {
            throw refuse(entry.path, `hard link to "${entry.linkpath}", which is not an earlier file of the archive`);
          }
          await clear(target, entry.path, false);
          await link(join(root, ...from.split('/')), target);
          break;
        }
        case '3':
        case '4':
        case '6':
          throw refuse(entry.path, 'devices and FIFOs are not unpacked');
        default:
          throw refuse(entry.path, `unsupported entry type '${entry.typeflag}'`);
      }
      written.delete(rel);
      written.add(rel);
    }
    await bytes.drain();
  } catch (err) {
    throw zlibError(err);
  } finally {
    gunzip.destroy();
  }

  const actual = `${options.algorithm}:${hasher.digest('hex')}`;
  if (options.expectedTarDigest !== undefined && actual !== options.expectedTarDigest) {
    throw new LadingError(
      'digest-mismatch',
      `folder archive: ${Annotation.contentDigest} mismatch: expected ${options.expectedTarDigest}, got ${actual}; nothing was written`,
    );
  }
  if (!options.allowTraversal) {
    for (const rel of symlinks) {
      const parts = rel.split('/');
      const resolved = await resolveInside(root, parts.slice(0, -1), await readlink(join(root, ...parts)), { hops: 64 });
      if (resolved === undefined) {
        throw refuse(rel, 'symlink resolves outside the output folder through other symlinks (use --allow-path-traversal)');
      }
    }
  }
  return { written: [...written], dirs: [...dirs.values()] };
}

/** The clean relative name of an entry, undefined for the output folder itself; refuses unsafe names. */
function checkName(entry: TarEntry, options: ExtractOptions): string | undefined {
  const checked = checkEntryName(entry.path);
  if (!checked.ok) throw refuse(entry.path, `${checked.reason} (path traversal)`);
  const rel = checked.path;
  if (process.platform === 'win32' && rel.includes(':')) throw refuse(entry.path, "':' in a name (alternate data stream)");
  if (rel === '.') {
    if (entry.typeflag !== '5') throw refuse(entry.path, 'names the output folder itself');
    return undefined;
  }
  if (options.prefix !== undefined && rel !== options.prefix && !rel.startsWith(`${options.prefix}/`)) {
    throw refuse(entry.path, `outside the folder "${options.prefix}" the layer is titled`);
  }
  if (rel.split('/')[0] === options.reserved) throw refuse(entry.path, 'name reserved for the temporary folder');
  return rel;
}

/** A folder only its owner uses, whatever the umask: entries are written into it before modes are applied. */
async function makeDir(path: string): Promise<void> {
  await mkdir(path, { mode: 0o700 });
  await chmod(path, 0o700);
}

/** Creates missing parent folders of `rel`; refuses a parent that is a symlink or not a folder. */
async function makeParents(root: string, rel: string, name: string, dirs: Map<string, DirRecord>, umask: number): Promise<void> {
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    const path = join(root, ...parts.slice(0, i));
    const stats = await lstat(path).catch(() => undefined);
    if (stats === undefined) {
      await makeDir(path);
      const parent = parts.slice(0, i).join('/');
      dirs.set(parent, { rel: parent, mode: 0o777 & ~umask });
    } else if (stats.isSymbolicLink()) {
      throw refuse(name, `"${parts.slice(0, i).join('/')}" is a symlink of the archive and nothing is written through symlinks (path traversal)`);
    } else if (!stats.isDirectory()) {
      throw refuse(name, `"${parts.slice(0, i).join('/')}" is not a folder`);
    }
  }
}

/**
 * Makes room for an entry that repeats an earlier name (the later one wins, as in tar). Returns true when the
 * path is free; false when a folder is already there and a folder is wanted.
 */
async function clear(target: string, name: string, wantDirectory: boolean): Promise<boolean> {
  const stats = await lstat(target).catch(() => undefined);
  if (stats === undefined) return true;
  if (stats.isDirectory()) {
    if (wantDirectory) return false;
    throw refuse(name, 'a folder of the same name is earlier in the archive');
  }
  await unlink(target);
  return true;
}

/** lstat of `rel` under root, undefined when missing or reached through a symlink. */
async function lstatInside(root: string, rel: string) {
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    const stats = await lstat(join(root, ...parts.slice(0, i))).catch(() => undefined);
    if (!stats?.isDirectory()) return undefined;
  }
  return lstat(join(root, ...parts)).catch(() => undefined);
}

/** Lexical check: does the target of symlink `rel` leave the output folder? ('\' counts as a separator.) */
function linkLeaves(rel: string, target: string): boolean {
  const t = target.replace(/\\/g, '/');
  if (t.startsWith('/') || /^[A-Za-z]:/.test(t) || t.includes('\0')) return true;
  const resolved = posix.normalize(posix.join(posix.dirname(rel), t));
  return resolved === '..' || resolved.startsWith('../');
}

/**
 * Resolves `target` from folder `base` (parts under root), following symlinks found in the extracted tree and
 * treating missing components lexically. Undefined when the path leaves root or loops.
 */
async function resolveInside(root: string, base: string[], target: string, budget: { hops: number }): Promise<string[] | undefined> {
  const t = target.replace(/\\/g, '/');
  if (t.startsWith('/') || /^[A-Za-z]:/.test(t)) return undefined;
  let parts = [...base];
  for (const component of t.split('/')) {
    if (component === '' || component === '.') continue;
    if (component === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
      continue;
    }
    parts.push(component);
    const path = join(root, ...parts);
    const stats = await lstat(path).catch(() => undefined);
    if (stats?.isSymbolicLink()) {
      if (--budget.hops < 0) return undefined;
      const next = await resolveInside(root, parts.slice(0, -1), await readlink(path), budget);
      if (next === undefined) return undefined;
      parts = next;
    }
  }
  return parts;
}

const commits = new Map<string, Promise<void>>();

/** Runs `fn` after every earlier call with the same key has settled. */
async function serialised<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const before = commits.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = before.then(() => new Promise<void>((resolve) => (release = resolve)));
  commits.set(key, mine);
  await before;
  try {
    return await fn();
  } finally {
    release();
    if (commits.get(key) === mine) commits.delete(key);
  }
}

type Op = { kind: 'move' | 'replace'; rel: string };

/** Moves the extracted tree into dest (merging folders), then applies folder modes and times. */
async function commit(root: string, backup: string, dest: string, dirs: DirRecord[], options: UnpackOptions): Promise<void> {
  const ops: Op[] = [];
  const merged = new Set<string>();
  await plan(root, dest, '', ops, merged, options.keepOldFiles === true);
  await makeDir(backup);
  const undo: Array<() => Promise<void>> = [];
  try {
    let n = 0;
    for (const op of ops) {
      const src = join(root, ...op.rel.split('/'));
      const dst = join(dest, ...op.rel.split('/'));
      if (op.kind === 'replace') {
        const old = join(backup, String(n++));
        await rename(dst, old);
        undo.push(() => rename(old, dst));
      }
      await rename(src, dst);
      undo.push(() => rename(dst, src));
    }
  } catch (err) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw err;
  }
  // Folder modes last (a read-only folder cannot be moved or filled), deepest first; then their times.
  const fresh = dirs.filter((d) => !merged.has(d.rel)).sort((a, b) => b.rel.split('/').length - a.rel.split('/').length);
  const umask = currentUmask();
  for (const d of fresh) {
    await chmod(join(dest, ...d.rel.split('/')), pullMode(d.mode, { preservePermissions: options.preservePermissions, directory: true, umask }));
  }
  for (const d of fresh) {
    if (d.mtime) await utimes(join(dest, ...d.rel.split('/')), d.atime ?? d.mtime, d.mtime).catch(() => undefined);
  }
}

/** Decides, before anything moves, what goes where; refuses conflicts. */
async function plan(root: string, dest: string, rel: string, ops: Op[], merged: Set<string>, keepOldFiles: boolean): Promise<void> {
  const names = (await readdir(rel === '' ? root : join(root, ...rel.split('/')))).sort();
  for (const name of names) {
    const r = rel === '' ? name : `${rel}/${name}`;
    const src = await lstat(join(root, ...r.split('/')));
    const dst = await lstat(join(dest, ...r.split('/'))).catch(() => undefined);
    if (dst === undefined) {
      ops.push({ kind: 'move', rel: r });
    } else if (src.isDirectory() && dst.isDirectory()) {
      merged.add(r);
      await plan(root, dest, r, ops, merged, keepOldFiles);
    } else if (keepOldFiles) {
      throw new LadingError('usage', `${join(dest, ...r.split('/'))} already exists (keep old files): nothing was written`);
    } else if (dst.isDirectory()) {
      throw new LadingError('usage', `${join(dest, ...r.split('/'))} is a folder and the archive has a file there: nothing was written`);
    } else {
      ops.push({ kind: 'replace', rel: r });
    }
  }
}

function zlibError(err: unknown): unknown {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new LadingError('digest-mismatch', `folder archive is not valid gzip: ${(err as Error).message}`, { cause: err });
  }
  return err;
}
