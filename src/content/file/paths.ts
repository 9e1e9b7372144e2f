import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { posix } from 'node:path';
import { LadingError } from '../../errors/errors.js';
import { isValidMediaType } from '../../oci/mediatypes.js';

/** A `push`/`attach` file argument: `path[:mediatype]`. */
export interface FileArg {
  path: string;
  /** Undefined when the argument gave none (`a.txt`, `a.txt:`): the caller's default applies. */
  mediaType?: string;
}

/**
 * Splits a `path[:mediatype]` argument (CASES B32).
 * - Unix: the media type is what follows the LAST colon (file names may hold colons, media types never do):
 *   `my:file:` → `my:file`; `my:file:application/vnd.example.file` → `my:file` + that type.
 * - Windows (`platform === 'win32'`): a leading drive (`C:\`, `C:/`, also after `\\?\`) belongs to the path; the media
 *   type is what follows the next colon (Windows names hold none). A drive-relative path (`c:file1`) is refused.
 * A media type must be `type/subtype` without ':' (`.\KEYS:test:test:test` is refused); an empty one (`a.txt:`) means
 * the default.
 */
export function parseFileArg(arg: string, platform: NodeJS.Platform = process.platform): FileArg {
  let path: string;
  let mediaType: string | undefined;
  if (platform === 'win32') {
    let head = '';
    let rest = arg;
    const device = /^[\\/]{2}[?.][\\/]/.exec(rest); // \\?\C:\... and \\.\C:\...
    if (device) {
      head = device[0];
      rest = rest.slice(head.length);
    }
    if (/^[A-Za-z]:/.test(rest)) {
      if (rest[2] !== '\\' && rest[2] !== '/') {
        throw new LadingError(
          'usage',
          `"${arg}": "${rest.slice(0, 2)}" without a separator is a drive-relative path, which is not supported: use an absolute path (${rest[0]}:\\dir\\file) or a path relative to the working directory`,
        );
      }
      head += rest.slice(0, 3);
      rest = rest.slice(3);
    }
    const colon = rest.indexOf(':');
    if (colon < 0) {
      path = arg;
    } else {
      path = head + rest.slice(0, colon);
      mediaType = rest.slice(colon + 1);
    }
  } else {
    const colon = arg.lastIndexOf(':');
    if (colon < 0) {
      path = arg;
    } else {
      path = arg.slice(0, colon);
      mediaType = arg.slice(colon + 1);
    }
  }
  if (mediaType !== undefined && mediaType !== '' && !isValidMediaType(mediaType)) {
    throw new LadingError(
      'usage',
      `"${arg}": invalid media type "${mediaType}": a media type is type/subtype (e.g. application/vnd.example.file) and has no ':'`,
    );
  }
  if (path === '') throw new LadingError('usage', `"${arg}": empty file path`);
  return mediaType ? { path, mediaType } : { path };
}

/**
 * The `org.opencontainers.image.title` for a pushed path (CASES B32): the path as given, with '/' separators,
 * cleaned (`./a/b/` → `a/b`). An absolute path gives its base name, so a title never holds a drive letter
 * (`C:\Users\me\a.txt` → `a.txt`) or a leading '/'. On Windows '\' is a separator; elsewhere it is a name character.
 */
export function titleOf(path: string, platform: NodeJS.Platform = process.platform): string {
  const win = platform === 'win32';
  const windowsAbsolute = /^[A-Za-z]:[\\/]/.test(path) || (win && (/^[A-Za-z]:/.test(path) || /^[\\/]/.test(path)));
  if (windowsAbsolute || path.startsWith('/')) {
    const parts = path.split(windowsAbsolute || win ? /[\\/]+/ : /\/+/).filter((p) => p !== '' && p !== '.');
    let base = parts.length > 0 ? parts[parts.length - 1] : '';
    base = base.replace(/^[A-Za-z]:/, ''); // drive-relative `c:file1`
    if (base === '' || base === '..') throw new LadingError('usage', `"${path}": cannot name a file after this path`);
    return base;
  }
  const slashed = win ? path.replace(/\\/g, '/') : path;
  const clean = posix.normalize(slashed).replace(/\/+$/, '');
  return clean === '' ? '.' : clean;
}

/**
 * Refuses (kind 'usage') a push path that leaves the working directory: `..` escapes and absolute paths outside
 * `cwd` (CASES B29, oras PR #988). Callers skip it when the user passed --disable-path-validation.
 */
export function checkPushPath(path: string, cwd: string): void {
  const base = resolve(cwd);
  const rel = relative(base, resolve(base, path));
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new LadingError(
      'usage',
      `${path}: outside the working directory ${base}, so its name would escape the output folder of whoever pulls it (use --disable-path-validation to push it anyway)`,
    );
  }
}

/** Result of checking a title or tar entry name against the folder it will be written under. */
export type EntryName = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Cleans a title or tar entry name as a relative '/'-separated path, treating '\' as a separator too (so
 * `..\x` is caught on every platform). The cleaned path has no trailing '/' and is '.' for the folder itself.
 * Refused: NUL bytes, absolute names (`/x`, `\x`), drive letters (`C:x`, `C:\x`), and names that climb out with '..'.
 */
export function checkEntryName(name: string): EntryName {
  if (name.includes('\0')) return { ok: false, reason: 'NUL byte in name' };
  const slashed = name.replace(/\\/g, '/');
  if (slashed.startsWith('/')) return { ok: false, reason: 'absolute path' };
  if (/^[A-Za-z]:/.test(slashed)) return { ok: false, reason: 'drive letter' };
  const clean = posix.normalize(slashed).replace(/\/+$/, '') || '.';
  if (clean === '..' || clean.startsWith('../')) return { ok: false, reason: 'climbs out with ..' };
  return { ok: true, path: clean };
}

/**
 * Where a pulled layer titled `title` is written under `root` (CASES B29). An empty title gives undefined: the blob
 * is not saved as a file. A title that is absolute, has a drive letter, or climbs out with '..' (also written with
 * '\') is refused with kind 'usage' unless `allowTraversal`; one that climbs out and back in (`ok/../fine.txt`) is
 * written at its clean place (`<root>/fine.txt`).
 */
export function resolvePullPath(root: string, title: string, allowTraversal: boolean): string | undefined {
  if (title === '') return undefined;
  const checked = checkEntryName(title);
  if (checked.ok) return join(root, checked.path);
  if (allowTraversal && !title.includes('\0')) return resolve(root, title.replace(/\\/g, '/'));
  throw new LadingError('usage', `path traversal disallowed: ${title} (use --allow-path-traversal)`);
}
