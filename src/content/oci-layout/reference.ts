import { LadingError } from '../../errors/errors.js';
import { parseDigest } from '../../oci/digest.js';

/** A tag as the distribution spec allows it (and ORAS validates for `--oci-layout` references). */
export const LAYOUT_TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export interface LayoutReference {
  /** The layout folder (or `.tar` archive), exactly as given. */
  path: string;
  /** A tag or `alg:hex` digest, when one was given. */
  reference?: string;
}

/** Index just past the last path separator (`/`, or `\` as Windows paths use), 0 when there is none. */
function afterLastSeparator(s: string): number {
  return Math.max(s.lastIndexOf('/'), s.lastIndexOf('\\')) + 1;
}

/**
 * Parses ORAS's `--oci-layout` reference syntax, `PATH[:TAG|@DIGEST]` (oras `parseOCILayoutReference`):
 * an `@` after the last path separator splits off a digest; otherwise a `:` after the last path
 * separator splits off a tag. Colons in the folder part stay in the path, so `C:\x\layout`,
 * `C:/x/layout:v1` and `./a:b/c` all parse as a Windows or POSIX path would read.
 * `PATH:TAG@DIGEST` is refused rather than guessed at (a layout reference names one or the other).
 */
export function parseLayoutReference(s: string): LayoutReference {
  if (s === '') throw new LadingError('usage', 'invalid OCI layout reference: empty (expected PATH[:TAG|@DIGEST])');
  const base = afterLastSeparator(s);
  const at = s.indexOf('@', base);
  if (at >= 0) {
    const path = s.slice(0, at);
    const digest = s.slice(at + 1);
    if (digest === '') throw new LadingError('usage', `invalid OCI layout reference "${s}": empty digest after '@' (expected PATH@sha256:<64 hex digits>)`);
    try {
      parseDigest(digest);
    } catch (err) {
      throw new LadingError('usage', `invalid OCI layout reference "${s}": ${(err as Error).message}`);
    }
    if (path.slice(base).includes(':')) {
      throw new LadingError('usage', `invalid OCI layout reference "${s}": give a tag or a digest, not both (PATH:TAG or PATH@DIGEST)`);
    }
    if (path === '') throw new LadingError('usage', `invalid OCI layout reference "${s}": missing layout path before '@'`);
    return { path, reference: digest };
  }
  const colon = s.lastIndexOf(':');
  if (colon >= base) {
    const path = s.slice(0, colon);
    const tag = s.slice(colon + 1);
    if (path === '') throw new LadingError('usage', `invalid OCI layout reference "${s}": missing layout path before ':'`);
    if (tag === '') throw new LadingError('usage', `invalid OCI layout reference "${s}": empty tag after ':' (expected PATH:TAG)`);
    if (!LAYOUT_TAG_RE.test(tag)) {
      throw new LadingError(
        'usage',
        `invalid OCI layout reference "${s}": invalid tag "${tag}" (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')`,
      );
    }
    return { path, reference: tag };
  }
  return { path: s };
}
