/**
 * skopeo as an independent OCI client: seed registries and read back what they serve.
 * Flags for each registry follow its mode: `--tls-verify=false` for plain HTTP, a cert dir holding the generated
 * CA for TLS, `--creds user:pass` when the registry has a user (htpasswd/token), `--no-creds` otherwise.
 * Passwords appear on skopeo's command line: test-only, generated credentials.
 */
import { createHash } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';
import type { RunningRegistry } from './registry.js';
import { tmpDir } from './tmp.js';

const SKOPEO = process.env.LADING_TEST_SKOPEO_BIN ?? 'skopeo';
const GLOBAL_FLAGS = ['--insecure-policy'];

const certDirs = new Map<string, string>();

/** A directory in skopeo's `--cert-dir` format (`ca.crt`) trusting the registry's CA. */
function certDirFor(caFile: string): string {
  let dir = certDirs.get(caFile);
  if (!dir) {
    dir = tmpDir('lading-skopeo-certs-');
    copyFileSync(caFile, join(dir, 'ca.crt'));
    certDirs.set(caFile, dir);
  }
  return dir;
}

/** skopeo flags to reach `registry`; side '' for inspect, 'src'/'dest' for copy. */
export function skopeoRegistryFlags(registry: RunningRegistry, side: '' | 'src' | 'dest' = ''): string[] {
  const p = side === '' ? '--' : `--${side}-`;
  const flags: string[] = [];
  if (registry.caFile) flags.push(`${p}tls-verify=true`, `${p}cert-dir`, certDirFor(registry.caFile));
  else flags.push(`${p}tls-verify=false`);
  if (registry.username !== undefined && registry.password !== undefined) flags.push(`${p}creds`, `${registry.username}:${registry.password}`);
  else flags.push(`${p}no-creds`);
  return flags;
}

export interface SkopeoCopyOptions {
  /** registry of a docker:// source */
  src?: RunningRegistry;
  /** registry of a docker:// destination */
  dest?: RunningRegistry;
  /** copy every manifest of an index (`--all`) */
  all?: boolean;
  /** `--preserve-digests` (default true: skopeo may otherwise re-compress and change digests) */
  preserveDigests?: boolean;
  /** `--format` for the destination (e.g. 'v2s2', 'oci') */
  format?: string;
}

/** `skopeo copy SRC DEST` with any transports (`dir:`, `oci:PATH:TAG`, `docker://HOST/REPO:TAG`). */
export async function skopeoCopy(source: string, destination: string, options: SkopeoCopyOptions = {}): Promise<void> {
  const args = [...GLOBAL_FLAGS, 'copy', '--retry-times', '0'];
  if (options.preserveDigests ?? true) args.push('--preserve-digests');
  if (options.all) args.push('--all');
  if (options.format) args.push('--format', options.format);
  if (options.src) args.push(...skopeoRegistryFlags(options.src, 'src'));
  if (options.dest) args.push(...skopeoRegistryFlags(options.dest, 'dest'));
  args.push(source, destination);
  await run(SKOPEO, args);
}

/** The raw manifest bytes the registry serves for `repo:tag` or `repo@digest`. */
export async function skopeoInspectRaw(registry: RunningRegistry, reference: string): Promise<Buffer> {
  const { stdoutBytes } = await run(SKOPEO, [...GLOBAL_FLAGS, 'inspect', '--raw', '--retry-times', '0', ...skopeoRegistryFlags(registry), `docker://${registry.host}/${reference}`]);
  return stdoutBytes;
}

/** sha256 digest of the manifest the registry serves for `reference`. */
export async function skopeoManifestDigest(registry: RunningRegistry, reference: string): Promise<string> {
  const raw = await skopeoInspectRaw(registry, reference);
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

/** Copy `repo:tag` (or `repo@digest`) from the registry into a skopeo `dir:` directory (digests preserved). */
export async function skopeoCopyToDir(registry: RunningRegistry, reference: string, dir: string): Promise<void> {
  await skopeoCopy(`docker://${registry.host}/${reference}`, `dir:${dir}`, { src: registry });
}

/** Copy `repo:tag` from the registry into an OCI layout at `layoutDir` under `layoutTag`. */
export async function skopeoCopyToOciLayout(registry: RunningRegistry, reference: string, layoutDir: string, layoutTag: string, all = false): Promise<void> {
  await skopeoCopy(`docker://${registry.host}/${reference}`, `oci:${layoutDir}:${layoutTag}`, { src: registry, all });
}
