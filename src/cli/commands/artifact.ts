import { readFile, writeFile } from 'node:fs/promises';
import { parseFileArg } from '../../content/file/index.js';
import { LadingError } from '../../errors/errors.js';
import type { Descriptor } from '../../oci/descriptor.js';
import { parsePlatform } from '../../oci/manifest.js';
import { isValidMediaType } from '../../oci/mediatypes.js';
import { discover, discoverJson, formatTree } from '../../ops/discover.js';
import { pullArtifact, resolveManifest } from '../../ops/pull.js';
import { pushArtifact, type PushAnnotations, type PushOptions, type PushResult } from '../../ops/push.js';
import { RegistryTarget } from '../../registry/target.js';
import type { FlagSpec } from '../args.js';
import type { Command } from '../command.js';
import { chunkSizeFlag, formatBytes, type Context } from '../context.js';
import { distributionSpecFlag, ociLayoutFlag, openTarget, type OpenedTarget } from '../target.js';
import { REMOTE } from './manifest.js';

const annotationFlags: FlagSpec[] = [
  { long: 'annotation', short: 'a', type: 'list', value: 'KEY=VALUE', desc: 'manifest annotation' },
  { long: 'annotation-file', type: 'string', value: 'FILE', desc: 'JSON annotations: {"$manifest": {…}, "$config": {…}, "<file title>": {…}}' },
  { long: 'export-manifest', type: 'string', value: 'FILE', desc: 'also write the pushed manifest to FILE' },
];
const pushCommonFlags: FlagSpec[] = [
  { long: 'artifact-type', type: 'string', value: 'TYPE', desc: 'artifact type of the manifest' },
  ...annotationFlags,
  { long: 'concurrency', type: 'int', value: 'N', desc: 'blobs uploaded at once', default: 5 },
  { long: 'disable-path-validation', type: 'bool', desc: 'allow file paths outside the working folder' },
  { long: 'reproducible', type: 'bool', desc: 'same inputs give the same digest (also when SOURCE_DATE_EPOCH is set)' },
  { long: 'format', type: 'string', value: 'text|json', desc: 'output format', default: 'text' },
  chunkSizeFlag,
  ociLayoutFlag,
];

/** -a KEY=VALUE and --annotation-file, merged; a key given twice for one target is an error. */
async function annotations(ctx: Context): Promise<PushAnnotations> {
  const out: PushAnnotations = {};
  const file = ctx.str('annotation-file');
  if (file) {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      throw new LadingError('usage', `cannot read --annotation-file "${file}": ${(err as NodeJS.ErrnoException).code ?? 'not valid JSON'}`);
    }
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw new LadingError('usage', `--annotation-file "${file}" must hold a JSON object`);
    for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
      if (!value || typeof value !== 'object' || Object.values(value).some((v) => typeof v !== 'string')) {
        throw new LadingError('usage', `--annotation-file: "${key}" must map to an object of strings`);
      }
      const map = value as Record<string, string>;
      if (key === '$manifest') out.manifest = map;
      else if (key === '$config') out.config = map;
      else (out.files ??= {})[key] = map;
    }
  }
  for (const a of ctx.list('annotation')) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new LadingError('usage', `invalid annotation "${a}": expected KEY=VALUE`);
    const [k, v] = [a.slice(0, eq), a.slice(eq + 1)];
    out.manifest ??= {};
    if (k in out.manifest) throw new LadingError('usage', `annotation "${k}" is given twice`);
    out.manifest[k] = v;
  }
  return out;
}

function fileArgs(args: string[]) {
  return args.map((a) => {
    const f = parseFileArg(a);
    if (f.mediaType !== undefined && !isValidMediaType(f.mediaType)) throw new LadingError('usage', `invalid media type "${f.mediaType}" in "${a}"`);
    return f;
  });
}

function epochOf(ctx: Context): number | undefined {
  const raw = ctx.io.env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new LadingError('usage', `SOURCE_DATE_EPOCH must be a number of seconds, got "${raw}"`);
  return Number(raw);
}

async function pushOptions(ctx: Context, files: string[]): Promise<PushOptions> {
  const imageSpec = ctx.str('image-spec') ?? 'v1.1';
  if (imageSpec !== 'v1.1' && imageSpec !== 'v1.0') throw new LadingError('usage', `invalid --image-spec "${imageSpec}": expected v1.1 or v1.0`);
  const artifactType = ctx.str('artifact-type');
  if (artifactType !== undefined && !isValidMediaType(artifactType)) throw new LadingError('usage', `invalid --artifact-type "${artifactType}"`);
  const concurrency = ctx.int('concurrency') ?? 5;
  if (concurrency < 1) throw new LadingError('usage', '--concurrency must be at least 1');
  const config = ctx.str('config');
  return {
    files: fileArgs(files),
    artifactType,
    config: config ? fileArgs([config])[0] : undefined,
    annotations: await annotations(ctx),
    imageSpec,
    reproducible: ctx.bool('reproducible'),
    epoch: epochOf(ctx),
    concurrency,
    disablePathValidation: ctx.bool('disable-path-validation'),
    onBlob: (e) => {
      if (e.status === 'Uploading') return;
      ctx.status(`${e.status.padEnd(9)} ${e.title.padEnd(24)} ${e.descriptor.digest} ${formatBytes(e.descriptor.size)}`);
    },
  };
}

/** push and attach: --export-manifest, then the result (text: the digest; JSON: descriptor, files and `extra`). */
async function report(ctx: Context, opened: OpenedTarget, result: PushResult, extra: Record<string, unknown>): Promise<void> {
  const exported = ctx.str('export-manifest');
  if (exported) await writeFile(exported, result.manifest);
  const d = result.descriptor;
  ctx.result(`Digest: ${d.digest}`, {
    reference: `${opened.base}@${d.digest}`,
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    artifactType: d.artifactType,
    ...extra,
    files: filesJson(result.layers),
  });
}

function filesJson(layers: Descriptor[]) {
  return layers.map((l) => ({ title: l.annotations?.['org.opencontainers.image.title'], mediaType: l.mediaType, digest: l.digest, size: l.size }));
}

const push: Command = {
  name: 'push',
  summary: 'Push files and folders as an OCI artifact',
  usage: 'REFERENCE[,TAG…] FILE[:MEDIATYPE]…',
  args: [1, Infinity],
  flags: [
    ...pushCommonFlags,
    { long: 'config', type: 'string', value: 'FILE[:MEDIATYPE]', desc: 'config blob (default: the empty config)' },
    { long: 'image-spec', type: 'string', value: 'v1.1|v1.0', desc: 'manifest format', default: 'v1.1' },
    ...REMOTE,
  ],
  examples: ['lading push localhost:5000/app:v1 app.tar.gz:application/vnd.example.app docs/', 'lading push --oci-layout ./layout:v1 sbom.json'],
  async run(ctx, [input, ...files]) {
    const opts = await pushOptions(ctx, files);
    const opened = await openTarget(ctx, input, { write: true, withTags: true });
    try {
      const byDigest = opened.reference?.includes(':') ? opened.reference : undefined;
      const tags = [...(opened.reference && !opened.tagDefaulted && !byDigest ? [opened.reference] : []), ...opened.extraTags];
      // REPO@DIGEST: the manifest built must be that one (a reproducible push checked against a known digest).
      const result = await pushArtifact(opened.target, tags, { ...opts, expectedDigest: byDigest });
      // Without a tag the manifest is pushed by digest: say so, never `:latest`.
      ctx.status(`Pushed ${tags.length && !opened.tagDefaulted && !byDigest ? opened.display : `[${opened.kind}] ${opened.base}@${result.descriptor.digest}`}`);
      ctx.status(`ArtifactType: ${result.descriptor.artifactType ?? '(none)'}`);
      await report(ctx, opened, result, { tags });
    } finally {
      await opened.close();
    }
  },
};

const attach: Command = {
  name: 'attach',
  summary: 'Attach files to an existing artifact or image as a referrer',
  usage: 'SUBJECT FILE[:MEDIATYPE]…',
  args: [1, Infinity],
  flags: [
    ...pushCommonFlags,
    distributionSpecFlag,
    {
      long: 'delete-old-referrers-index',
      type: 'bool',
      desc: 'registries without the referrers API: delete the referrers tag-schema index this attach replaced',
    },
    { long: 'platform', type: 'string', value: 'OS/ARCH[/VARIANT]', desc: 'attach to this platform of an index' },
    ...REMOTE,
  ],
  examples: ['lading attach --artifact-type application/vnd.example.sbom localhost:5000/app:v1 sbom.json'],
  async run(ctx, [input, ...files]) {
    if (!ctx.str('artifact-type')) throw new LadingError('usage', 'attach needs --artifact-type');
    const opts = await pushOptions(ctx, files);
    if (opts.files.length === 0 && !(opts.annotations?.manifest && Object.keys(opts.annotations.manifest).length)) {
      throw new LadingError('usage', 'attach needs at least one file or annotation');
    }
    const opened = await openTarget(ctx, input, { write: true });
    try {
      if (!opened.reference) throw new LadingError('usage', `"${input}" names no tag or digest to attach to`);
      // An OCI layout lists referrers by reading its manifests: it has no referrers index to replace.
      if (ctx.bool('delete-old-referrers-index') && opened.target instanceof RegistryTarget) opened.target.deleteSupersededIndex = true;
      let subject = await opened.target.resolve(opened.reference);
      const platform = ctx.str('platform');
      if (platform) subject = (await resolveManifest(opened.target, subject, parsePlatform(platform))).desc;
      const result = await pushArtifact(opened.target, [], { ...opts, subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size } });
      ctx.status(`Attached to ${opened.display}`);
      await report(ctx, opened, result, { subject });
    } finally {
      await opened.close();
    }
  },
};

const pull: Command = {
  name: 'pull',
  summary: 'Pull the files of an artifact into a folder',
  usage: 'REFERENCE',
  args: [1, 1],
  flags: [
    { long: 'output', short: 'o', type: 'string', value: 'DIR', desc: 'folder to write into', default: '.' },
    { long: 'keep-old-files', type: 'bool', desc: 'fail instead of replacing existing files' },
    { long: 'include-subject', type: 'bool', desc: 'also pull the subject of the artifact, recursively' },
    { long: 'platform', type: 'string', value: 'OS/ARCH[/VARIANT]', desc: 'pick this platform when the reference is an index' },
    { long: 'config', type: 'string', value: 'PATH[:MEDIATYPE]', desc: 'save the config blob (when its media type matches)' },
    { long: 'allow-path-traversal', type: 'bool', desc: 'allow titles and archive entries that land outside the output folder' },
    { long: 'preserve-permissions', type: 'bool', desc: 'apply archive modes exactly, setuid/setgid/sticky included' },
    { long: 'concurrency', type: 'int', value: 'N', desc: 'files downloaded at once', default: 3 },
    { long: 'format', type: 'string', value: 'text|json', desc: 'output format', default: 'text' },
    ociLayoutFlag,
    ...REMOTE,
  ],
  examples: ['lading pull localhost:5000/app:v1 -o out/', 'lading pull --oci-layout ./layout:v1 -o out/'],
  async run(ctx, [input]) {
    const concurrency = ctx.int('concurrency') ?? 3;
    if (concurrency < 1) throw new LadingError('usage', '--concurrency must be at least 1');
    const platform = ctx.str('platform');
    const cfg = ctx.str('config');
    const opened = await openTarget(ctx, input, { write: false });
    try {
      if (!opened.reference) throw new LadingError('usage', `"${input}" names no tag or digest to pull`);
      const result = await pullArtifact(opened.target, opened.reference, {
        output: ctx.str('output')!,
        keepOldFiles: ctx.bool('keep-old-files'),
        allowPathTraversal: ctx.bool('allow-path-traversal'),
        preservePermissions: ctx.bool('preserve-permissions'),
        includeSubject: ctx.bool('include-subject'),
        platform: platform ? parsePlatform(platform) : undefined,
        config: cfg ? parseFileArg(cfg) : undefined,
        concurrency,
        onFile: (e) => {
          if (e.status === 'Downloaded') ctx.status(`Downloaded ${e.title.padEnd(24)} ${e.descriptor.digest} ${formatBytes(e.descriptor.size)}`);
          if (e.status === 'Skipped') ctx.status(`Skipped    ${e.descriptor.digest} (${e.reason})`);
        },
      });
      ctx.status(`Pulled ${opened.display}`);
      ctx.result(`Digest: ${result.descriptor.digest}`, {
        reference: `${opened.base}@${result.descriptor.digest}`,
        mediaType: result.descriptor.mediaType,
        digest: result.descriptor.digest,
        size: result.descriptor.size,
        files: result.files,
      });
    } finally {
      await opened.close();
    }
  },
};

const discoverCommand: Command = {
  name: 'discover',
  summary: 'Show the referrers of an artifact or image (signatures, SBOMs, …)',
  usage: 'REFERENCE',
  args: [1, 1],
  flags: [
    { long: 'artifact-type', type: 'string', value: 'TYPE', desc: 'only referrers of this artifact type' },
    { long: 'depth', type: 'int', value: 'N', desc: 'levels of referrers to show (default 0: all)' },
    { long: 'format', type: 'string', value: 'tree|json', desc: 'output format', default: 'tree' },
    { long: 'platform', type: 'string', value: 'OS/ARCH[/VARIANT]', desc: 'discover for this platform of an index' },
    distributionSpecFlag,
    ociLayoutFlag,
    ...REMOTE,
  ],
  async run(ctx, [input]) {
    const depth = ctx.int('depth');
    if (depth !== undefined && depth < 0) throw new LadingError('usage', '--depth must be 0 (all levels) or more');
    const opened = await openTarget(ctx, input, { write: false });
    try {
      if (!opened.reference) throw new LadingError('usage', `"${input}" names no tag or digest`);
      let subject = await opened.target.resolve(opened.reference);
      const platform = ctx.str('platform');
      if (platform) subject = (await resolveManifest(opened.target, subject, parsePlatform(platform))).desc;
      const nodes = await discover(opened.target, subject, { artifactType: ctx.str('artifact-type'), depth });
      if (ctx.json) ctx.result(undefined, discoverJson(opened.base, subject, nodes));
      else ctx.result(formatTree(`${opened.base}@${subject.digest}`, nodes), undefined);
    } finally {
      await opened.close();
    }
  },
};

export const artifactCommands = [push, pull, attach, discoverCommand];
