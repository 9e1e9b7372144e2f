import { read } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { LadingError } from '../errors/errors.js';
import { markVerified, Verifier } from '../oci/digest.js';

/** Bytes per read(2) of a file being sent: 1 MiB (64 KiB reads cost a third more time on a 512 MiB push). */
export const READ_SIZE = 1 << 20;

/**
 * An open file of known size and digest as a stream that checks what it reads: one read(2) per 1 MiB, each piece
 * hashed as it is read (no Transform layer behind the file stream: it sits on every byte of a push), the digest and
 * size judged at the end, a file shorter than `size` failing as a size mismatch. The file is closed when the stream
 * ends or is destroyed. Marked verified (digest.ts) so nothing downstream hashes the bytes again.
 */
export function verifiedFileStream(handle: FileHandle, digest: string, size: number, what: string): Readable {
  const verifier = new Verifier(digest, size, what);
  let position = 0;
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= handle.close().catch(() => undefined));
  const out = new Readable({
    highWaterMark: READ_SIZE,
    read() {
      const want = Math.min(READ_SIZE, size - position);
      if (want <= 0) {
        try {
          verifier.finish();
        } catch (err) {
          this.destroy(err as Error);
          return;
        }
        close().then(() => this.push(null));
        return;
      }
      const buffer = Buffer.allocUnsafe(want);
      read(handle.fd, buffer, 0, want, position, (err, bytesRead) => {
        if (this.destroyed) return;
        if (err) {
          this.destroy(err);
          return;
        }
        if (bytesRead === 0) {
          this.destroy(new LadingError('digest-mismatch', `${what}: size mismatch: expected ${size} bytes, the file ends after ${position}`));
          return;
        }
        const piece = bytesRead < want ? buffer.subarray(0, bytesRead) : buffer;
        position += bytesRead;
        try {
          verifier.update(piece);
        } catch (e) {
          this.destroy(e as Error);
          return;
        }
        this.push(piece);
      });
    },
    destroy(err, callback) {
      close().then(() => callback(err));
    },
  });
  return markVerified(out, digest, size);
}
