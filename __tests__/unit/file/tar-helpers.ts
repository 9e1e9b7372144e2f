/** Test helpers: craft tar archives byte by byte (node-tar's header codec) and snapshot folder trees. */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { Header, Pax } from 'tar';

export interface RawEntry {
  path: string;
  /** typeflag: '0' file, '1' hard link, '2' symlink, '3' char device, '5' directory, '6' FIFO */
  typeflag?: string;
  mode?: number;
  body?: string | Buffer;
  linkpath?: string;
  /** Write a PAX record with the path (as Go's archive/tar does for long names) and keep only a stub in the header. */
  paxPath?: boolean;
  /** With paxPath: the stub name in the ustar header (default: the last 99 characters). */
  headerPath?: string;
  /** The size field, when it should lie about the data (default: the body length for files, 0 otherwise). */
  size?: number;
}

const TYPES: Record<string, 'File' | 'Link' | 'SymbolicLink' | 'CharacterDevice' | 'Directory' | 'FIFO'> = {
  '0': 'File',
  '1': 'Link',
  '2': 'SymbolicLink',
  '3': 'CharacterDevice',
  '5': 'Directory',
  '6': 'FIFO',
};

/** An uncompressed tar with exactly these entries, in this order, ending in two zero blocks. */
export function rawTar(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const typeflag = e.typeflag ?? '0';
    const body = e.body === undefined ? Buffer.alloc(0) : Buffer.from(e.body);
    if (e.paxPath) parts.push(new Pax({ path: e.path }).encode());
    const block = Buffer.alloc(512);
    new Header({
      path: e.paxPath ? (e.headerPath ?? e.path.slice(-99)) : e.path,
      type: TYPES[typeflag],
      mode: e.mode ?? (typeflag === '5' ? 0o755 : 0o644),
      uid: 0,
      gid: 0,
      size: e.size ?? (typeflag === '0' ? body.length : 0),
      mtime: new Date(1_700_000_000_000),
      linkpath: e.linkpath ?? '',
    }).encode(block, 0);
    parts.push(block);
    if (body.length > 0) {
      parts.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function gz(tar: Buffer): Buffer {
  return gzipSync(tar);
}

export function streamOf(data: Buffer): Readable {
  return Readable.from([data]);
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export type Node =
  | { type: 'dir'; mode: number }
  | { type: 'file'; mode: number; content: string }
  | { type: 'symlink'; target: string };

/** Every entry under `dir` (relative, '/'-separated) with its type, permission bits, content or link target. */
export function snapshot(dir: string, options: { modes?: boolean } = {}): Record<string, Node> {
  const out: Record<string, Node> = {};
  const walk = (abs: string, rel: string): void => {
    for (const name of readdirSync(abs).sort()) {
      const path = join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(path);
      const mode = options.modes === false ? 0 : st.mode & 0o7777;
      if (st.isSymbolicLink()) out[r] = { type: 'symlink', target: readlinkSync(path) };
      else if (st.isDirectory()) {
        out[r] = { type: 'dir', mode };
        walk(path, r);
      } else out[r] = { type: 'file', mode, content: readFileSync(path, 'utf8') };
    }
  };
  walk(dir, '');
  return out;
}

/** Runs `fn` with the process umask set to `mask`, then restores it. */
export async function withUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask);
  try {
    return await fn();
  } finally {
    process.umask(previous);
  }
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<{ kind?: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { kind?: string; message: string };
  }
  throw new Error('expected a rejection');
}
