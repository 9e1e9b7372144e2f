import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, open } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LadingError } from '../../errors/errors.js';
import { ByteSource, readTar } from '../file/tar-format.js';

/**
 * A small, streaming tar reader: enough to unpack an OCI image layout archive as `skopeo copy …
 * oci-archive:` or `tar -cf x.tar -C layout .` make it. Regular files, folders and hard links, in
 * ustar/GNU/PAX form (PAX `path`/`linkpath`/`size`, GNU long names). Symbolic links and special
 * files are refused, as is any entry whose path would land outside the target folder.
 */

const BLOCK = 512;

/** Whether the first 512 bytes look like a tar header (ustar magic, or an old-style header whose checksum holds). */
export function looksLikeTar(header: Buffer): boolean {
  if (header.length < BLOCK) return false;
  if (header.subarray(257, 262).toString('latin1') === 'ustar') return true;
  const field = header.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim();
  if (!/^[0-7]+$/.test(field) || header[0] === 0) return false;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  return parseInt(field, 8) === sum;
}

/** Whether the file at `path` starts with a tar header. */
export async function isTarFile(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(BLOCK);
    const { bytesRead } = await handle.read(buf, 0, BLOCK, 0);
    return bytesRead === BLOCK && looksLikeTar(buf);
  } finally {
    await handle.close();
  }
}

/** `root`-relative target of an archive path, or an error when it would escape `root`. */
function safeTarget(root: string, name: string): string | undefined {
  const clean = name.replace(/\\/g, '/');
  if (clean.startsWith('/') || isAbsolute(name) || /^[A-Za-z]:/.test(clean)) {
    throw new LadingError('usage', `tar: refusing entry "${name}": absolute path`);
  }
  const parts = clean.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new LadingError('usage', `tar: refusing entry "${name}": it escapes the layout folder ("..")`);
  if (parts.length === 0) return undefined; // "./" itself
  const target = resolve(root, ...parts);
  const rel = relative(root, target);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new LadingError('usage', `tar: refusing entry "${name}": it escapes the layout folder`);
  return target;
}

/**
 * Unpacks the tar archive at `archive` into the existing folder `root`. Fails (leaving what was
 * written for the caller to remove) on anything unsafe or unsupported.
 */
export async function extractTar(archive: string, root: string): Promise<void> {
  try {
    await extractEntries(archive, resolve(root));
  } catch (err) {
    // A broken archive is a bad input here, not content failing its digest.
    if (err instanceof LadingError && err.kind === 'digest-mismatch') throw new LadingError('usage', `layout archive "${archive}": ${err.message}`, { cause: err });
    throw err;
  }
}

async function extractEntries(archive: string, rootAbs: string): Promise<void> {
  const hardLinks: Array<{ target: string; from: string; name: string; linkName: string }> = [];
  // The tar framing (ustar/GNU/PAX, checksums, truncation) is read by the one shared reader.
  for await (const entry of readTar(new ByteSource(createReadStream(archive)))) {
    const { path: name, typeflag: type, linkpath: linkName } = entry;
    const target = safeTarget(rootAbs, name);
    switch (type) {
      case '0':
      case '7': {
        if (!target) throw new LadingError('usage', `tar: refusing entry "${name}": not a file name`);
        await mkdir(dirname(target), { recursive: true });
        // 'wx': a second entry of the same name, or a link placed first, is refused rather than followed.
        await pipeline(Readable.from(entry.body), createWriteStream(target, { flags: 'wx', mode: 0o644 }));
        break;
      }
      case '5':
        if (target) await mkdir(target, { recursive: true });
        break;
      case '1': {
        if (!target) throw new LadingError('usage', `tar: refusing entry "${name}": not a file name`);
        const from = safeTarget(rootAbs, linkName);
        if (!from) throw new LadingError('usage', `tar: refusing hard link "${name}" to "${linkName}"`);
        hardLinks.push({ target, from, name, linkName });
        break;
      }
      case '2':
        throw new LadingError('unsupported', `tar: refusing symbolic link "${name}" -> "${linkName}" (an OCI layout archive holds only files and folders)`);
      default:
        throw new LadingError('unsupported', `tar: refusing entry "${name}" of type '${type}' (only files and folders are extracted)`);
    }
  }
  // Hard links are copies of files the archive already held.
  for (const l of hardLinks) {
    await mkdir(dirname(l.target), { recursive: true });
    await copyFile(l.from, l.target);
  }
}
