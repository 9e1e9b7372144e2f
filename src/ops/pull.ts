import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { ReadOnlyTarget } from '../content/interfaces.js';
import { writeFileAtomic } from '../content/atomic-file.js';
import { Annotation, parseFileMode, resolvePullPath, unpackTarGz } from '../content/file/index.js';
import { LadingError } from '../errors/errors.js';
import type { Descriptor, Platform } from '../oci/descriptor.js';
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
  const chunks: Buffer[] = [];
  for await (const c of await source.fetch(desc)) chunks.push(Buffer.from(c as Buffer));
  return parseManifestJson(Buffer.concat(chunks), `manifest ${desc.digest}`);
}

/** The image manifest a reference names: an index is resolved through --platform. */
export async function resolveManifest(source: ReadOnlyTarget, desc: Descriptor, platform?: Platform): Promise<{ desc: Descriptor; manifest: Record<string, unknown> }> {
  const manifest = await readManifest(source, desc);
  if (!isIndexType(desc.mediaType) && !Array.isArray(manifest.manifests)) {
    const config = (manifest.config ?? {}) as Descriptor;
    if (platform && config.digest && !isEmptyOrArtifactConfig(config.mediaType)) {
      const chunks: Buffer[] = [];
      for await (const c of await source.fetch(config)) chunks.push(Buffer.from(c as Buffer));
      const have = configPlatform(Buffer.concat(chunks));
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

/**
 * Pulls an artifact into a folder: each titled layer to its file (folders unpacked and checked),
 * untitled layers skipped. Every title is checked before anything is written; each file is written
 * under a temporary name and renamed once verified.
 */
export async function pullArtifact(source: ReadOnlyTarget, reference: string, options: PullOptions): Promise<PullResult> {
  const root = await source.resolve(reference);
  const files: PulledFile[] = [];
  await pullInto(source, root, options, files, new Set());
  return { descriptor: root, files };
}

async function pullInto(source: ReadOnlyTarget, top: Descriptor, options: PullOptions, files: PulledFile[], visited: Set<string>): Promise<void> {
  if (visited.has(top.digest)) return;
  visited.add(top.digest);
  const { manifest } = await resolveManifest(source, top, options.platform);
  const image = asImageManifest(manifest);
  await mkdir(options.output, { recursive: true });

  // Plan: every target path is checked before any byte is written (CASES B29).
  const plan: Array<{ layer: Descriptor; title: string; path: string; unpack: boolean }> = [];
  const seen = new Set<string>();
  for (const layer of image.layers) {
    const title = layer.annotations?.[Annotation.title];
    if (!title) {
      options.onFile?.({ status: 'Skipped', title: '', descriptor: layer, reason: 'no title annotation' });
      continue;
    }
    const path = resolvePullPath(options.output, title, Boolean(options.allowPathTraversal));
    if (!path) {
      options.onFile?.({ status: 'Skipped', title, descriptor: layer, reason: 'empty title' });
      continue;
    }
    if (seen.has(path)) throw new LadingError('usage', `the artifact has two layers titled "${title}"`);
    seen.add(path);
    const unpack = layer.annotations?.[Annotation.unpack] === 'true';
    if (options.keepOldFiles && !unpack && existsSync(path)) {
      throw new LadingError('usage', `"${path}" already exists and --keep-old-files is set`);
    }
    plan.push({ layer, title, path, unpack });
  }
  if (options.config) {
    const cfg = image.config;
    if (!options.config.mediaType || options.config.mediaType === cfg.mediaType) {
      const stream = await source.fetch(cfg);
      await writeFileAtomic(options.config.path, stream);
    }
  }

  await forEachLimit(plan, options.concurrency ?? 3, async ({ layer, title, path, unpack }) => {
    options.onFile?.({ status: 'Downloading', title, descriptor: layer });
    const stream = await source.fetch(layer);
    if (unpack) {
      await unpackTarGz(stream, options.output, {
        expectedTarDigest: layer.annotations?.[Annotation.contentDigest],
        allowTraversal: options.allowPathTraversal,
        preservePermissions: options.preservePermissions,
        keepOldFiles: options.keepOldFiles,
      });
    } else {
      await writeFileAtomic(path, stream, parseFileMode(layer.annotations?.[Annotation.fileMode]) ?? 0o644);
    }
    files.push({ title, path, digest: layer.digest, size: layer.size, mediaType: layer.mediaType });
    options.onFile?.({ status: 'Downloaded', title, descriptor: layer });
  });

  const subject = subjectOf(manifest);
  if (options.includeSubject && subject) await pullInto(source, subject, options, files, visited);
}

/** Artifacts have no platform: an empty or non-image config is not checked against --platform. */
function isEmptyOrArtifactConfig(mediaType: string | undefined): boolean {
  return mediaType !== MediaType.ociConfig && mediaType !== MediaType.dockerConfig;
}
