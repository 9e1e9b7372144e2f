import { LadingError } from '../../errors/errors.js';
import { digestOf } from '../../oci/digest.js';
import { asImageManifest, asIndex, configPlatform, detectManifestMediaType, formatPlatform, parseManifestJson, parsePlatform, platformMatches, selectPlatform } from '../../oci/manifest.js';
import { isIndexType, isValidMediaType, MANIFEST_ACCEPT } from '../../oci/mediatypes.js';
import { digestReference, formatReference, parseReferenceWithTags, requireManifestRef, withDigest, type Reference } from '../../reference/reference.js';
import type { FetchedManifest, Repository } from '../../registry/repository.js';
import type { FlagSpec } from '../args.js';
import type { Command } from '../command.js';
import { commonFlags, formatFlag, manifestSizeFlag, remoteFlags, type Context } from '../context.js';
import { confirm, openFile, readAll, ref, writeOutput } from './shared.js';
import { Readable } from 'node:stream';

const platformFlag: FlagSpec = { long: 'platform', type: 'string', value: 'OS/ARCH[/VARIANT]', desc: 'pick this platform when the reference is an index' };
const outputFlag: FlagSpec = { long: 'output', short: 'o', type: 'string', value: 'FILE', desc: 'write the content to FILE ("-" for stdout)' };
const descriptorFlag: FlagSpec = { long: 'descriptor', type: 'bool', desc: 'print the descriptor (instead of the content, or of the deleted manifest)' };
const prettyFlag: FlagSpec = { long: 'pretty', type: 'bool', desc: 'pretty-print JSON' };
const forceFlag: FlagSpec = { long: 'force', short: 'f', type: 'bool', desc: 'do not prompt; a missing reference is not an error' };

export const REMOTE = [...remoteFlags, ...commonFlags];

/** Fetches a manifest, following --platform into an index. `forPush`: the caller writes next (tag), so ask pull,push now (B06). */
export async function fetchManifestFor(
  ctx: Context,
  r: Reference,
  accept = MANIFEST_ACCEPT,
  options: { forPush?: boolean } = {},
): Promise<{ repo: Repository; fetched: FetchedManifest; ref: Reference }> {
  const repo = (await ctx.registry(r)).repository(r.repository, options);
  let fetched = await repo.fetchManifest(requireManifestRef(r, 'fetching a manifest'), accept);
  let resolved = withDigest(r, fetched.descriptor.digest);
  const platform = ctx.str('platform');
  if (platform !== undefined) {
    const want = parsePlatform(platform);
    if (isIndexType(fetched.descriptor.mediaType)) {
      const child = selectPlatform(asIndex(parseManifestJson(fetched.bytes)), want);
      fetched = await repo.fetchManifest(child.digest, accept);
      resolved = withDigest(r, child.digest);
    } else {
      // A single image: its config says which platform it is; a different one is not there (as ORAS).
      const config = asImageManifest(parseManifestJson(fetched.bytes)).config;
      const blob = await repo.fetchBlob(config.digest, config.size);
      const have = configPlatform(await readAll(blob.stream, ctx.int('max-manifest-size') ?? 4 << 20, 'config'));
      if (!platformMatches(have, want)) {
        throw new LadingError('not-found', `${formatReference(r)} is a single ${formatPlatform(have)} image, not ${formatPlatform(want)}`);
      }
    }
  }
  return { repo, fetched, ref: resolved };
}

function descriptorJson(d: { mediaType: string; digest: string; size: number }): Record<string, unknown> {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

const manifestFetch: Command = {
  name: 'manifest fetch',
  aliases: ['manifest get'],
  summary: 'Fetch a manifest, byte for byte as stored',
  usage: 'REFERENCE',
  args: [1, 1],
  flags: [outputFlag, descriptorFlag, prettyFlag, platformFlag, { long: 'media-type', type: 'list', value: 'TYPE', desc: 'accepted manifest media types (default: OCI and Docker, image and index)' }, formatFlag, manifestSizeFlag, ...REMOTE],
  examples: ['lading manifest fetch localhost:5000/hello:v1', 'lading manifest fetch --descriptor localhost:5000/hello@sha256:…', 'lading manifest fetch --platform linux/arm64 -o m.json localhost:5000/multi:latest'],
  async run(ctx, [input]) {
    const accept = ctx.list('media-type');
    for (const t of accept) if (!isValidMediaType(t)) throw new LadingError('usage', `invalid media type "${t}"`);
    const { fetched, ref: r } = await fetchManifestFor(ctx, ref(ctx, input), accept.length ? accept : MANIFEST_ACCEPT);
    const d = fetched.descriptor;
    if (ctx.bool('descriptor')) {
      const json = descriptorJson(d);
      if (ctx.json) ctx.result(undefined, { reference: digestReference(r, d.digest), ...json });
      else ctx.result(ctx.bool('pretty') ? JSON.stringify(json, null, 2) : JSON.stringify(json), json);
      return;
    }
    const output = ctx.str('output');
    const bytes = ctx.bool('pretty') ? Buffer.from(`${JSON.stringify(JSON.parse(fetched.bytes.toString('utf8')), null, 2)}\n`) : fetched.bytes;
    if (output !== undefined && output !== '-') {
      await writeOutput(ctx, output, Readable.from([bytes]));
      ctx.status(`Fetched ${formatReference(r)} (${d.mediaType}) to ${output}`);
    }
    if (ctx.json) {
      ctx.result(undefined, { reference: digestReference(r, d.digest), ...descriptorJson(d), content: JSON.parse(fetched.bytes.toString('utf8')) });
    } else if (output === undefined || output === '-') {
      ctx.io.stdout.write(bytes);
    }
  },
};

const manifestFetchConfig: Command = {
  name: 'manifest fetch-config',
  aliases: ['manifest get-config'],
  summary: "Fetch an image manifest's config blob",
  usage: 'REFERENCE',
  args: [1, 1],
  flags: [outputFlag, descriptorFlag, platformFlag, formatFlag, manifestSizeFlag, ...REMOTE],
  async run(ctx, [input]) {
    const { repo, fetched, ref: r } = await fetchManifestFor(ctx, ref(ctx, input));
    if (isIndexType(fetched.descriptor.mediaType)) {
      throw new LadingError('usage', `${formatReference(r)} is an index; choose a platform with --platform (e.g. linux/amd64)`);
    }
    const config = asImageManifest(parseManifestJson(fetched.bytes)).config;
    if (ctx.bool('descriptor')) {
      ctx.result(JSON.stringify(descriptorJson(config)), descriptorJson(config));
      return;
    }
    const blob = await repo.fetchBlob(config.digest, config.size);
    const output = ctx.str('output') ?? '-';
    if (ctx.json) {
      const bytes = await readAll(blob.stream, ctx.int('max-manifest-size') ?? 4 << 20, 'config');
      if (output !== '-') await writeOutput(ctx, output, Readable.from([bytes]));
      let content: unknown;
      try {
        content = JSON.parse(bytes.toString('utf8'));
      } catch {
        content = undefined;
      }
      ctx.result(undefined, { reference: digestReference(r, config.digest), manifest: digestReference(r, fetched.descriptor.digest), ...descriptorJson(config), content });
      return;
    }
    await writeOutput(ctx, output, blob.stream);
  },
};

const manifestPush: Command = {
  name: 'manifest push',
  summary: 'Push a manifest from a file or stdin, under a tag or by digest',
  usage: 'REFERENCE[,TAG…] FILE|-',
  args: [2, 2],
  flags: [{ long: 'media-type', type: 'string', value: 'TYPE', desc: "manifest media type (default: the file's mediaType)" }, formatFlag, manifestSizeFlag, ...REMOTE],
  examples: ['lading manifest push localhost:5000/hello:v1 manifest.json', 'lading manifest push localhost:5000/hello:v1,latest - < manifest.json'],
  async run(ctx, [input, file]) {
    const { ref: r, extraTags } = parseReferenceWithTags(input);
    const limit = ctx.int('max-manifest-size')!;
    let bytes: Buffer;
    if (file === '-') bytes = await readAll(ctx.io.stdin, limit, 'manifest');
    else {
      const f = await openFile(file);
      if (f.size > limit) throw new LadingError('too-large', `manifest exceeds ${limit} bytes (got ${f.size}); use --max-manifest-size`);
      bytes = await readAll(f.open(), limit, 'manifest');
    }
    const body = parseManifestJson(bytes, file === '-' ? 'manifest from stdin' : `manifest "${file}"`, 'usage');
    let mediaType = ctx.str('media-type');
    if (mediaType !== undefined) {
      if (!isValidMediaType(mediaType)) throw new LadingError('usage', `invalid media type "${mediaType}"`);
      if (typeof body.mediaType === 'string' && body.mediaType !== mediaType) {
        throw new LadingError('usage', `--media-type ${mediaType} contradicts the manifest's mediaType ${body.mediaType}`);
      }
    } else if (typeof body.mediaType === 'string') {
      mediaType = detectManifestMediaType(body);
    } else {
      throw new LadingError('usage', 'media type not found in file; pass --media-type');
    }
    const repo = (await ctx.registry(r)).repository(r.repository);
    // No tag in the reference: push by digest (as ORAS), never silently to `latest`.
    const tag = r.tagDefaulted ? undefined : r.tag;
    const target = r.digest ?? tag ?? digestOf(bytes);
    const desc = await repo.pushManifest(target, bytes, mediaType);
    const tags = [...(tag ? [tag] : []), ...extraTags];
    await Promise.all(tags.filter((t) => t !== target).map((t) => repo.pushManifest(t, bytes, mediaType!)));
    const byDigest = formatReference({ ...withDigest(r, desc.digest), tag: undefined });
    ctx.status(`Pushed [registry] ${byDigest}${tags.length ? ` (tags: ${tags.join(', ')})` : ''}`);
    ctx.result(`Digest: ${desc.digest}`, { reference: byDigest, ...descriptorJson(desc), tags });
  },
};

const manifestDelete: Command = {
  name: 'manifest delete',
  aliases: ['manifest rm'],
  summary: 'Delete a manifest (by tag or digest; every tag of that digest goes with it)',
  usage: 'REFERENCE',
  args: [1, 1],
  flags: [forceFlag, descriptorFlag, formatFlag, ...REMOTE],
  async run(ctx, [input]) {
    const r = ref(ctx, input);
    const target = requireManifestRef(r, 'manifest delete');
    const repo = (await ctx.registry(r)).repository(r.repository);
    let desc;
    try {
      desc = await repo.resolve(target);
    } catch (err) {
      if (ctx.bool('force') && (err as LadingError).kind === 'not-found') {
        ctx.status(`Missing ${formatReference(r)}`);
        ctx.result(undefined, { reference: formatReference(r), deleted: false });
        return;
      }
      throw err;
    }
    await confirm(ctx, `the manifest ${desc.digest} and all tags associated with it`);
    await repo.deleteManifest(desc.digest);
    ctx.status(`Deleted [registry] ${formatReference(r)}`);
    ctx.result(ctx.bool('descriptor') ? JSON.stringify(descriptorJson(desc)) : `Deleted ${digestReference(r, desc.digest)}`, { reference: digestReference(r, desc.digest), ...descriptorJson(desc), deleted: true });
  },
};

export const manifestCommands = [manifestFetch, manifestFetchConfig, manifestPush, manifestDelete];
