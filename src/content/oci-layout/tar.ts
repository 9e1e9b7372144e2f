import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LadingError } from '../../errors/errors.js';

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
  const stored = parseOctal(header.subarray(148, 156));
  return stored !== undefined && stored === checksum(header) && header[0] !== 0;
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

function checksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  return sum;
}

function parseOctal(field: Buffer): number | undefined {
  const s = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (s === '') return undefined;
  if (!/^[0-7]+$/.test(s)) return undefined;
  return parseInt(s, 8);
}

/** A numeric field: octal, or GNU base-256 (high bit set) for sizes beyond 8 GiB. */
function parseNumber(field: Buffer, what: string): number {
  if (field[0] & 0x80) {
    let n = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i];
    if (!Number.isSafeInteger(n)) throw new LadingError('unsupported', `tar: ${what} too large`);
    return n;
  }
  return parseOctal(field) ?? 0;
}

function cString(field: Buffer): string {
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? field.length : end).toString('utf8');
}

/** PAX extended header records: `<len> <key>=<value>\n`. */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = parseInt(data.subarray(pos, space).toString('latin1'), 10);
    if (!Number.isFinite(len) || len <= 0 || pos + len > data.length) throw new LadingError('usage', 'tar: malformed PAX header');
    const record = data.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
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

async function readExactly(handle: FileHandle, length: number, position: number, what: string): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    if (bytesRead === 0) throw new LadingError('usage', `tar: truncated archive (${what})`);
    done += bytesRead;
  }
  return buf;
}

/** Largest PAX or GNU long-name payload read into memory. */
const MAX_META = 1024 * 1024;

/**
 * Unpacks the tar archive at `archive` into the existing folder `root`. Fails (leaving what was
 * written for the caller to remove) on anything unsafe or unsupported.
 */
export async function extractTar(archive: string, root: string): Promise<void> {
  const rootAbs = resolve(root);
  const handle = await open(archive, 'r');
  try {
    const { size: total } = await handle.stat();
    let pos = 0;
    let pax: Record<string, string> = {};
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      if (pos + BLOCK > total) throw new LadingError('usage', 'tar: truncated archive (no end-of-archive marker)');
      const header = await readExactly(handle, BLOCK, pos, 'header');
      pos += BLOCK;
      if (header.every((b) => b === 0)) return; // end of archive
      if (parseOctal(header.subarray(148, 156)) !== checksum(header)) throw new LadingError('usage', `tar: bad header checksum at offset ${pos - BLOCK}`);
      const type = String.fromCharCode(header[156] || 0x30);
      const size = pax.size !== undefined ? Number(pax.size) : parseNumber(header.subarray(124, 136), 'size');
      if (!Number.isSafeInteger(size) || size < 0) throw new LadingError('usage', `tar: bad entry size at offset ${pos - BLOCK}`);
      const dataStart = pos;
      pos += Math.ceil(size / BLOCK) * BLOCK;
      if (dataStart + size > total) throw new LadingError('usage', 'tar: truncated archive (entry data)');

      if (type === 'x' || type === 'L' || type === 'K') {
        if (size > MAX_META) throw new LadingError('too-large', `tar: extended header of ${size} bytes`);
        const data = await readExactly(handle, size, dataStart, 'extended header');
        if (type === 'x') pax = { ...pax, ...parsePax(data) };
        else if (type === 'L') longName = cString(data);
        else longLink = cString(data);
        continue;
      }
      if (type === 'g') continue; // global PAX header: nothing we use

      let name = pax.path ?? longName;
      if (name === undefined) {
        name = cString(header.subarray(0, 100));
        const prefix = header.subarray(257, 262).toString('latin1') === 'ustar' ? cString(header.subarray(345, 500)) : '';
        if (prefix) name = `${prefix}/${name}`;
      }
      const linkName = pax.linkpath ?? longLink ?? cString(header.subarray(157, 257));
      pax = {};
      longName = undefined;
      longLink = undefined;

      const target = safeTarget(rootAbs, name);
      switch (type) {
        case '0':
        case '7': {
          if (!target) throw new LadingError('usage', `tar: refusing entry "${name}": not a file name`);
          await mkdir(dirname(target), { recursive: true });
          // 'wx': a second entry of the same name, or a link placed first, is refused rather than followed.
          const out = createWriteStream(target, { flags: 'wx', mode: 0o644 });
          if (size === 0) {
            await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())));
          } else {
            await pipeline(handle.createReadStream({ start: dataStart, end: dataStart + size - 1, autoClose: false }), out);
          }
          break;
        }
        case '5':
          if (target) await mkdir(target, { recursive: true });
          break;
        case '1': {
          if (!target) throw new LadingError('usage', `tar: refusing entry "${name}": not a file name`);
          const from = safeTarget(rootAbs, linkName);
          if (!from) throw new LadingError('usage', `tar: refusing hard link "${name}" to "${linkName}"`);
          await mkdir(dirname(target), { recursive: true });
          await copyFile(from, target);
          break;
        }
        case '2':
          throw new LadingError('unsupported', `tar: refusing symbolic link "${name}" -> "${linkName}" (an OCI layout archive holds only files and folders)`);
        default:
          throw new LadingError('unsupported', `tar: refusing entry "${name}" of type '${type}' (only files and folders are extracted)`);
      }
    }
  } finally {
    await handle.close();
  }
}

