/**
 * Tar framing over node-tar's header codec: node-tar (`Header`, `Pax`) encodes and decodes the 512-byte headers
 * (octal and base-256 numbers, checksums, ustar prefix, PAX records); this file only frames blocks, so reading is
 * strictly sequential and each entry is fully handled before the next header is read.
 */
import { Header, type HeaderData } from 'tar/header';
import { Pax } from 'tar/pax';
import { LadingError } from '../../errors/errors.js';

export const BLOCK = 512;
/** Largest PAX or GNU long-name record accepted (node-tar's own limit). */
export const MAX_META_SIZE = 1024 * 1024;
/** Largest size an ustar numeric field holds in octal; above it a PAX `size` record is written. */
const MAX_OCTAL_SIZE = 0o77777777777;

export type WritableEntryType = 'File' | 'Directory' | 'SymbolicLink';

export interface EntryHeader {
  path: string;
  type: WritableEntryType;
  /** Permission bits (with setuid/setgid/sticky), never the file type bits. */
  mode: number;
  size: number;
  mtime: Date;
  linkpath?: string;
}

/**
 * The header block(s) of one entry: uid/gid 0, no user or group names, no atime/ctime, ustar magic. Names or
 * link targets that do not fit ustar (long, non-ASCII) and sizes above 8 GiB get a PAX record first.
 */
export function encodeEntryHeader(entry: EntryHeader): Buffer {
  const header = new Header({
    path: entry.path,
    type: entry.type,
    mode: entry.mode & 0o7777,
    uid: 0,
    gid: 0,
    size: entry.type === 'File' ? entry.size : 0,
    mtime: entry.mtime,
    linkpath: entry.linkpath ?? '',
  });
  const block = Buffer.alloc(BLOCK);
  const needPax = header.encode(block, 0);
  if (!needPax) return block;
  const pax = new Pax({
    path: entry.path,
    linkpath: entry.linkpath,
    size: entry.type === 'File' && entry.size > MAX_OCTAL_SIZE ? entry.size : undefined,
  }).encode();
  return Buffer.concat([pax, block]);
}

/** Zero bytes that pad `size` bytes of data up to a whole block. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/** Two zero blocks, and nothing after them: oras-go's reader hashes exactly what its tar reader consumes. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

/** Pulls bytes from an async iterable in exact amounts, calling `onChunk` for every chunk as it is pulled. */
export class ByteSource {
  private readonly iterator: AsyncIterator<Buffer>;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;

  constructor(source: AsyncIterable<Buffer | Uint8Array>, private readonly onChunk: (chunk: Buffer) => void = () => undefined) {
    this.iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.iterator.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value as Uint8Array);
    this.onChunk(chunk);
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    return true;
  }

  /** Up to `max` bytes (at least one unless the source ended), from what is buffered or the next chunk. */
  private async take(max: number): Promise<Buffer | undefined> {
    while (this.buffered === 0) {
      if (!(await this.pull())) return undefined;
    }
    const first = this.chunks[0];
    if (first.length <= max) {
      this.chunks.shift();
      this.buffered -= first.length;
      return first;
    }
    this.chunks[0] = first.subarray(max);
    this.buffered -= max;
    return first.subarray(0, max);
  }

  /** Exactly `n` bytes; undefined when the source ended before the first byte; a 'digest-mismatch' error when it ended inside. */
  async readExact(n: number): Promise<Buffer | undefined> {
    while (this.buffered < n) {
      if (!(await this.pull())) break;
    }
    if (this.buffered === 0 && n > 0) return undefined;
    if (this.buffered < n) throw truncated();
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const first = this.chunks[0];
      if (first.length <= need) {
        parts.push(first);
        this.chunks.shift();
        need -= first.length;
      } else {
        parts.push(first.subarray(0, need));
        this.chunks[0] = first.subarray(need);
        need = 0;
      }
    }
    this.buffered -= n;
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
  }

  /** Streams exactly `n` bytes in chunks. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      const chunk = await this.take(left);
      if (!chunk) throw truncated();
      left -= chunk.length;
      yield chunk;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.stream(n)) {
      // discarded
    }
  }

  /** Reads (and so hashes) everything left. */
  async drain(): Promise<void> {
    this.chunks = [];
    this.buffered = 0;
    while (await this.pull()) {
      this.chunks = [];
      this.buffered = 0;
    }
  }
}

function truncated(): LadingError {
  return new LadingError('digest-mismatch', 'tar archive is truncated');
}

export function corrupt(message: string): LadingError {
  return new LadingError('digest-mismatch', `invalid tar archive: ${message}`);
}

/** One file-system entry read from a tar, after PAX and GNU long-name records were applied. */
export interface TarEntry {
  /** Entry name as stored (not yet checked). */
  path: string;
  /** The typeflag: '0' file, '1' hard link, '2' symlink, '3'/'4' devices, '5' directory, '6' FIFO, '7' contiguous file, ... */
  typeflag: string;
  mode: number;
  size: number;
  mtime?: Date;
  atime?: Date;
  linkpath: string;
  /** The entry data (regular files only); must be consumed or left alone before the next entry is read. */
  body: AsyncIterable<Buffer>;
}

/** Typeflags with no data after the header whatever their size field says (as Go's archive/tar reads them). */
const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/**
 * Reads the entries of an uncompressed tar in order. The end is two zero blocks (what follows is left in the
 * source for the caller to drain), or the end of input at a block boundary, as Go's archive/tar accepts.
 * Errors have kind 'digest-mismatch' (content that is not a valid archive).
 */
export async function* readTar(source: ByteSource): AsyncGenerator<TarEntry> {
  let ex: HeaderData | undefined;
  let gex: HeaderData | undefined;
  for (;;) {
    const block = await source.readExact(BLOCK);
    if (!block) {
      if (ex) throw corrupt('extended header without an entry');
      return;
    }
    if (isZeroBlock(block)) {
      const next = await source.readExact(BLOCK);
      if (!next || isZeroBlock(next)) return;
      throw corrupt('a zero block followed by data');
    }
    const header = new Header(block, 0, ex, gex);
    if (!header.cksumValid) throw corrupt('header checksum mismatch');
    const typeflag = header.typeKey === 'Unsupported' ? String.fromCharCode(block[156]) : header.typeKey;
    const size = header.size;
    if (size === undefined || !Number.isSafeInteger(size) || size < 0) throw corrupt('invalid size field');
    const dataSize = HEADER_ONLY.has(typeflag) ? 0 : size;

    // Records that describe the next entry.
    if (typeflag === 'x' || typeflag === 'X' || typeflag === 'g' || typeflag === 'L' || typeflag === 'N' || typeflag === 'K') {
      if (size > MAX_META_SIZE) throw corrupt(`extended header of ${size} bytes (limit ${MAX_META_SIZE})`);
      const data = (await source.readExact(size)) ?? Buffer.alloc(0);
      if (data.length < size) throw truncated();
      await source.skip(padding(size).length);
      const text = data.toString('utf8');
      if (typeflag === 'g') {
        gex = Pax.parse(text, gex, true);
      } else if (typeflag === 'x' || typeflag === 'X') {
        ex = Pax.parse(text, ex, false);
      } else {
        const value = text.replace(/\0[\s\S]*$/, '');
        ex = { ...(ex ?? {}), ...(typeflag === 'K' ? { linkpath: value } : { path: value }) };
      }
      continue;
    }

    let consumed = 0;
    const data = source.stream(dataSize);
    const entry: TarEntry = {
      // node-tar prepends the ustar prefix field even to a PAX path; a PAX or GNU long name is the whole name.
      path: ex?.path ?? header.path ?? '',
      typeflag,
      mode: (header.mode ?? 0) & 0o7777,
      size: dataSize,
      mtime: header.mtime,
      atime: header.atime,
      linkpath: ex?.linkpath ?? header.linkpath ?? '',
      body: {
        [Symbol.asyncIterator]: async function* () {
          for await (const chunk of data) {
            consumed += chunk.length;
            yield chunk;
          }
        },
      },
    };
    ex = undefined;
    yield entry;
    // Skip what the consumer left of the data, then the padding.
    await source.skip(dataSize - consumed + padding(dataSize).length);
  }
}
