/** Annotation keys of the ORAS file store (oras-go `content/file`), plus lading's own file-mode key. */
export const Annotation = {
  /** The file or folder name as pushed: '/' separators, relative (CASES B32). */
  title: 'org.opencontainers.image.title',
  /** Digest of the uncompressed tar of a folder layer (oras-go checks it on pull). */
  contentDigest: 'io.deis.oras.content.digest',
  /** "true" when the layer is a tar+gzip of a folder, to be unpacked on pull. */
  unpack: 'io.deis.oras.content.unpack',
  /** Permission bits of a single file, e.g. "0755" (CASES B31); folders carry modes in the tar. */
  fileMode: 'land.lading.file.mode',
} as const;

/** Mode given to a single pulled file whose push recorded no mode annotation (CASES B31). */
export const DEFAULT_FILE_MODE = 0o644;

/** Formats permission bits as four octal digits ("0755"); file type and setuid/setgid/sticky bits are dropped. */
export function fileMode(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

/**
 * Parses a mode annotation written by `fileMode` ("0755", also "755"); anything else (absent, empty, not octal,
 * more than four digits) gives undefined, so a malformed annotation from a registry falls back to the default.
 * Only the permission bits are kept.
 */
export function parseFileMode(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const m = /^\s*(?:0o)?([0-7]{3,4})\s*$/.exec(s);
  if (!m) return undefined;
  return parseInt(m[1], 8) & 0o777;
}

/** The process umask, read without changing it. */
export function currentUmask(): number {
  // process.umask() without an argument is a documentation-only deprecation (DEP0139): it reads, it does not set.
  return typeof process.umask === 'function' ? process.umask() : 0o022;
}

/**
 * The mode a pulled entry gets from the mode recorded for it (CASES B31).
 * - default: the recorded permission bits cut by the umask, except that the owner keeps every bit the record gave
 *   (0777 under umask 022 → 0755; 0400 stays 0400); directories stay owner-rwx so later pulls can update them;
 *   setuid, setgid and sticky are dropped.
 * - `preservePermissions`: exactly the recorded bits, setuid/setgid/sticky included, whatever the umask.
 */
export function pullMode(
  recorded: number,
  options: { preservePermissions?: boolean; directory?: boolean; umask?: number } = {},
): number {
  if (options.preservePermissions) return recorded & 0o7777;
  const umask = options.umask ?? currentUmask();
  const mode = ((recorded & 0o777) & ~umask) | (recorded & 0o700);
  return options.directory ? mode | 0o700 : mode;
}
