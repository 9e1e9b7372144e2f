import { chmod, lstat, mkdir, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, sep } from 'node:path';
import { fetchAll, type ReadOnlyTarget } from '../content/interfaces.js';
import { writeFileAtomic } from '../content/atomic-file.js';
import { Annotation, DEFAULT_FILE_MODE, parseFileMode, pullMode, resolvePullPath, unpackTarGz } from '../content/file/index.js';
import { LadingError } from '../errors/errors.js';
import type { Descriptor, ImageManifest, Platform } from '../oci/descriptor.js';
import { asIndex, asImageManifest, configPlatform, formatPlatform, parseManifestJson, platformMatches, selectPlatform } from '../oci/manifest.js';
import { isIndexType, MediaType } from '../oci/mediatypes.js';
import { subjectOf } from '../oci/referrers.js';
import { forEachLimit } from './push.js';

export interface PullOptions {
  output: string;
  keepOldFiles?: boolean;
  allowPathTraversal?: boolean;
  preservePermissions?: boolean;
  platform?: Platform;
  includeSubject?: boolean;
  /** Save the config blob here (only when its media type matches `mediaType`, if given). */
  config?: { path: string; mediaType?: string };
  concurrency?: number;
  onFile?: (event: { status: 'Skipped' | 'Downloading' | 'Downloaded' | 'Restored'; title: string; descriptor: Descriptor; reason?: string }) => void;
}

export interface PulledFile {
  title: string;
  path: string;
  digest: string;
  size: number;
  mediaType: string;
}

export interface PullResult {
  descriptor: Descriptor;
  files: PulledFile[];
}

/** Reads a manifest through a target, verified by digest and bounded by its descriptor's size. */
export async function readManifest(source: ReadOnlyTarget, desc: Descriptor): Promise<Record<string, unknown>> {
  return parseManifestJson(await fetchAll(source, desc), `manifest ${desc.digest}`);
}

/** The image manifest a reference names: an index is resolved through --platform. */
export async function resolveManifest(source: ReadOnlyTarget, desc: Descriptor, platform?: Platform): Promise<{ desc: Descriptor; manifest: Record<string, unknown> }> {
  const manifest = await readManifest(source, desc);
  if (!isIndexType(desc.mediaType) && !Array.isArray(manifest.manifests)) {
    const config = (manifest.config ?? {}) as Descriptor;
    if (platform && config.digest && !isEmptyOrArtifactConfig(config.mediaType)) {
      const have = configPlatform(await fetchAll(source, config));
      if (!platformMatches(have, platform)) throw new LadingError('not-found', `the image is ${formatPlatform(have)}, not ${formatPlatform(platform)}`);
    }
    return { desc, manifest };
  }
  const index = asIndex(manifest);
  if (!platform) {
    const have = index.manifests.map((m) => formatPlatform(m.platform)).join(', ');
    throw new LadingError('usage', `the reference is an index (${have}); choose one with --platform`);
  }
  const child = selectPlatform(index, platform);
  return { desc: child, manifest: await readManifest(source, child) };
}

interface PlannedLayer {
  layer: Descriptor;
  title: string;
  path: string;
  unpack: boolean;
}

/**
 * Pulls an artifact into a folder: each titled layer to its file (folders unpacked and checked),
 * untitled layers skipped. The whole graph (the manifest and, with `includeSubject`, its subjects) is read
 * and every title checked before anything is written, the output folder included; each file is written
 * under a temporary name and renamed once verified. Folders are unpacked first, then single files written.
 */
export async function pullArtifact(source: ReadOnlyTarget, reference: string, options: PullOptions): Promise<PullResult> {
  const root = await source.resolve(reference);

  // 1. The manifests: the one named (through --platform), then its subjects.
  const images: ImageManifest[] = [];
  const visited = new Set<string>();
  for (let next: Descriptor | undefined = root; next && !visited.has(next.digest); ) {
    visited.add(next.digest);
    const { desc, manifest } = await resolveManifest(source, next, options.platform);
    visited.add(desc.digest);
    images.push(asImageManifest(manifest));
    next = options.includeSubject ? subjectOf(manifest) : undefined;
  }

  // 2. Plan: every target path is checked before any byte is written (CASES B29).
  const plan: PlannedLayer[] = [];
  const byPath = new Map<string, PlannedLayer>();
  for (const image of images) {
    for (const layer of image.layers) {
      const annotations = layer.annotations ?? {};
      const title = annotations[Annotation.title];
      if (title === undefined || title === '') {
        options.onFile?.({ status: 'Skipped', title: '', descriptor: layer, reason: title === undefined ? 'no title annotation' : 'empty title' });
        continue;
      }
      const path = resolvePullPath(options.output, title, Boolean(options.allowPathTraversal))!;
      const unpack = annotations[Annotation.unpack] === 'true';
      const earlier = byPath.get(path);
      if (earlier) {
        if (earlier.layer.digest === layer.digest && earlier.unpack === unpack) continue; // the same content twice
        throw new LadingError('usage', `two layers are titled "${title}" (${earlier.layer.digest} and ${layer.digest}): nothing was written`);
      }
      const planned = { layer, title, path, unpack };
      byPath.set(path, planned);
      plan.push(planned);
    }
  }
  if (!options.allowPathTraversal) {
    for (const p of plan) if (!p.unpack) await checkNoLinkOut(options.output, p.path, p.title);
  }
  if (options.keepOldFiles) {
    for (const p of plan) {
      if (!p.unpack && (await lstat(p.path).catch(() => undefined))) {
        throw new LadingError('usage', `${p.path} already exists (keep old files): nothing was written`);
      }
    }
  }

  // 3. Write.
  await mkdir(options.output, { recursive: true });
  const files: PulledFile[] = [];
  if (options.config) {
    const cfg = images[0].config;
    if (!options.config.mediaType || options.config.mediaType === cfg.mediaType) {
      await writeFileAtomic(options.config.path, await source.fetch(cfg));
    } else {
      options.onFile?.({ status: 'Skipped', title: '(config)', descriptor: cfg, reason: `config is ${cfg.mediaType}, not ${options.config.mediaType}` });
    }
  }
  const pullOne = async ({ layer, title, path, unpack }: PlannedLayer): Promise<void> => {
    options.onFile?.({ status: 'Downloading', title, descriptor: layer });
    if (unpack) {
      await unpackTarGz(await source.fetch(layer), options.output, {
        expectedTarDigest: layer.annotations?.[Annotation.contentDigest],
        allowTraversal: options.allowPathTraversal,
        preservePermissions: options.preservePermissions,
        keepOldFiles: options.keepOldFiles,
      });
    } else {
      const recorded = parseFileMode(layer.annotations?.[Annotation.fileMode]) ?? DEFAULT_FILE_MODE;
      const mode = pullMode(recorded, { preservePermissions: options.preservePermissions });
      await writeFileAtomic(path, await source.fetch(layer), mode);
      // The file was created with `mode` cut by the umask; give it the mode B31 asks for.
      await chmod(path, mode);
    }
    files.push({ title, path, digest: layer.digest, size: layer.size, mediaType: layer.mediaType });
    options.onFile?.({ status: 'Downloaded', title, descriptor: layer });
  };
  // Folders first (unpacks are all or nothing, and refuse old files with --keep-old-files before any single file
  // is written), then files, which merge into the folders; one phase never races the other for a shared parent.
  await forEachLimit(plan.filter((p) => p.unpack), options.concurrency ?? 3, pullOne);
  await forEachLimit(plan.filter((p) => !p.unpack), options.concurrency ?? 3, pullOne);
  return { descriptor: root, files };
}

/**
 * Refuses a file whose folder resolves outside the output folder through a symlink already on disk (one the user
 * left there): the title is inside lexically, but writing would follow the link. Links an archive brings are
 * checked when it is unpacked, and can only point inside.
 */
async function checkNoLinkOut(output: string, path: string, title: string): Promise<void> {
  const outputReal = await realpath(output).catch(() => undefined);
  if (outputReal === undefined) return; // a folder still to be made holds no symlinks
  let existing = dirname(path);
  while (!(await lstat(existing).catch(() => undefined))) existing = dirname(existing);
  const real = await realpath(existing).catch(() => existing);
  const rel = relative(outputReal, real);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new LadingError('usage', `path traversal disallowed: ${title} would be written through a symlink to ${real}, outside the output folder (use --allow-path-traversal)`);
  }
}

/** Artifacts have no platform: an empty or non-image config is not checked against --platform. */
function isEmptyOrArtifactConfig(mediaType: string | undefined): boolean {
  return mediaType !== MediaType.ociConfig && mediaType !== MediaType.dockerConfig;
}
