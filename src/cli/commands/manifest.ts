import { parseLayoutReference } from '../../content/oci-layout/store.js';
import { LadingError } from '../../errors/errors.js';
import type { Descriptor } from '../../oci/descriptor.js';
import { digestOf, isDigest, parseDigest } from '../../oci/digest.js';
import { asImageManifest, detectManifestMediaType, parseManifestJson } from '../../oci/manifest.js';
import { isIndexType, isManifestType, isValidMediaType, MANIFEST_ACCEPT } from '../../oci/mediatypes.js';
import { formatReference, isValidTag, parseReferenceWithTags, requireManifestRef, withDigest, type Reference } from '../../reference/reference.js';
import type { FetchedManifest, Repository } from '../../registry/repository.js';
import type { FlagSpec } from '../args.js';
import type { Command } from '../command.js';
import { commonFlags, formatFlag, manifestSizeFlag, remoteFlags, type Context } from '../context.js';
import { ociLayoutFlag, splitLayoutTags } from '../target.js';
import {
  confirm,
  fetchManifestWithPlatform,
  layoutReference,
  openFile,
  readAll,
  ref,
  registryNames,
  repositoryReader,
  resolveManifestIn,
  withLayout,
  writeOutput,
  type Layout,
  type ManifestReader,
  type Names,
} from './shared.js';
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
  const fetched = await fetchManifestWithPlatform(ctx, repositoryReader(repo), requireManifestRef(r, 'fetching a manifest'), accept, () => formatReference(r));
  return { repo, fetched, ref: withDigest(r, fetched.descriptor.digest) };
}

/**
 * The manifest REF names (following --platform), from the registry or, with --oci-layout, from the layout,
 * handed to `fn` with a reader for its blobs and the names to print (the layout is closed after `fn`).
 */
async function withManifest<T>(ctx: Context, input: string, accept: string[], fn: (m: { fetched: FetchedManifest; reader: ManifestReader; names: Names }) => Promise<T>): Promise<T> {
  if (ctx.bool('oci-layout')) {
    return withLayout(ctx, input, { mode: 'read' }, async (l) => {
      const fetched = await fetchManifestWithPlatform(ctx, l.reader, layoutReference(l, input, 'fetching a manifest'), accept, () => l.names.shown);
      return fn({ fetched, reader: l.reader, names: l.names });
    });
  }
  const r = ref(ctx, input);
  const { repo, fetched } = await fetchManifestFor(ctx, r, accept);
  return fn({ fetched, reader: repositoryReader(repo), names: registryNames(r) });
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
  flags: [outputFlag, descriptorFlag, prettyFlag, platformFlag, { long: 'media-type', type: 'list', value: 'TYPE', desc: 'accepted manifest media types (default: OCI and Docker, image and index)' }, formatFlag, manifestSizeFlag, ociLayoutFlag, ...REMOTE],
  examples: [
    'lading manifest fetch localhost:5000/hello:v1',
    'lading manifest fetch --descriptor localhost:5000/hello@sha256:…',
    'lading manifest fetch --platform linux/arm64 -o m.json localhost:5000/multi:latest',
    'lading manifest fetch --oci-layout ./layout:v1',
  ],
  async run(ctx, [input]) {
    const accept = ctx.list('media-type');
    for (const t of accept) if (!isValidMediaType(t)) throw new LadingError('usage', `invalid media type "${t}"`);
    await withManifest(ctx, input, accept.length ? accept : MANIFEST_ACCEPT, async ({ fetched, names }) => {
      const d = fetched.descriptor;
      if (ctx.bool('descriptor')) {
        const json = descriptorJson(d);
        if (ctx.json) ctx.result(undefined, { reference: names.at(d.digest), ...json });
        else ctx.result(ctx.bool('pretty') ? JSON.stringify(json, null, 2) : JSON.stringify(json), json);
        return;
      }
      const output = ctx.str('output');
      const bytes = ctx.bool('pretty') ? Buffer.from(`${JSON.stringify(JSON.parse(fetched.bytes.toString('utf8')), null, 2)}\n`) : fetched.bytes;
      if (output !== undefined && output !== '-') {
        await writeOutput(ctx, output, Readable.from([bytes]));
        ctx.status(`Fetched ${names.resolved(d.digest)} (${d.mediaType}) to ${output}`);
      }
      if (ctx.json) {
        ctx.result(undefined, { reference: names.at(d.digest), ...descriptorJson(d), content: JSON.parse(fetched.bytes.toString('utf8')) });
      } else if (output === undefined || output === '-') {
        ctx.io.stdout.write(bytes);
      }
    });
  },
};

const manifestFetchConfig: Command = {
  name: 'manifest fetch-config',
  aliases: ['manifest get-config'],
  summary: "Fetch an image manifest's config blob",
  usage: 'REFERENCE',
  args: [1, 1],
  flags: [outputFlag, descriptorFlag, platformFlag, formatFlag, manifestSizeFlag, ociLayoutFlag, ...REMOTE],
  examples: ['lading manifest fetch-config localhost:5000/hello:v1', 'lading manifest fetch-config --oci-layout --platform linux/arm64 ./layout:multi'],
  async run(ctx, [input]) {
    await withManifest(ctx, input, MANIFEST_ACCEPT, async ({ fetched, reader, names }) => {
      if (isIndexType(fetched.descriptor.mediaType)) {
        throw new LadingError('usage', `${names.resolved(fetched.descriptor.digest)} is an index; choose a platform with --platform (e.g. linux/amd64)`);
      }
      const config = asImageManifest(parseManifestJson(fetched.bytes)).config;
      if (ctx.bool('descriptor')) {
        ctx.result(JSON.stringify(descriptorJson(config)), descriptorJson(config));
        return;
      }
      const stream = await reader.fetchBlob(config);
      const output = ctx.str('output') ?? '-';
      if (ctx.json) {
        const bytes = await readAll(stream, ctx.int('max-manifest-size') ?? 4 << 20, 'config');
        if (output !== '-') await writeOutput(ctx, output, Readable.from([bytes]));
        let content: unknown;
        try {
          content = JSON.parse(bytes.toString('utf8'));
        } catch {
          content = undefined;
        }
        ctx.result(undefined, { reference: names.at(config.digest), manifest: names.at(fetched.descriptor.digest), ...descriptorJson(config), content });
        return;
      }
      await writeOutput(ctx, output, stream);
    });
  },
};

const manifestPush: Command = {
  name: 'manifest push',
  summary: 'Push a manifest from a file or stdin, under a tag or by digest',
  usage: 'REFERENCE[,TAG…] FILE|-',
  args: [2, 2],
  flags: [{ long: 'media-type', type: 'string', value: 'TYPE', desc: "manifest media type (default: the file's mediaType)" }, formatFlag, manifestSizeFlag, ociLayoutFlag, ...REMOTE],
  examples: [
    'lading manifest push localhost:5000/hello:v1 manifest.json',
    'lading manifest push localhost:5000/hello:v1,latest - < manifest.json',
    'lading manifest push --oci-layout ./layout:v1 manifest.json',
  ],
  async run(ctx, [input, file]) {
    const parsed = ctx.bool('oci-layout') ? undefined : parseReferenceWithTags(input);
    if (!parsed) checkLayoutInput(input);
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
    if (!parsed) {
      // --oci-layout
      await withLayout(ctx, input, { mode: 'create', withTags: true }, (l) => pushToLayout(ctx, l, bytes, body, mediaType!));
      return;
    }
    const { ref: r, extraTags } = parsed;
    const repo = (await ctx.registry(r)).repository(r.repository);
    // No tag in the reference: push by digest (as ORAS), never silently to `latest`.
    const tag = r.tagDefaulted ? undefined : r.tag;
    const target = r.digest ?? tag ?? digestOf(bytes);
    const desc = await repo.pushManifest(target, bytes, mediaType);
    const tags = [...(tag ? [tag] : []), ...extraTags];
    await Promise.all(tags.filter((t) => t !== target).map((t) => repo.pushManifest(t, bytes, mediaType!)));
    reportPush(ctx, registryNames(r), desc, tags);
  },
};

function reportPush(ctx: Context, names: Names, desc: Descriptor, tags: string[]): void {
  ctx.status(`Pushed ${names.kind} ${names.at(desc.digest)}${tags.length ? ` (tags: ${tags.join(', ')})` : ''}`);
  ctx.result(`Digest: ${desc.digest}`, { reference: names.at(desc.digest), ...descriptorJson(desc), tags });
}

/** `PATH[:TAG|@DIGEST][,TAG…]` checked before the manifest is read or the layout is created. */
function checkLayoutInput(input: string): void {
  const [first, ...extraTags] = splitLayoutTags(input);
  parseLayoutReference(first);
  for (const t of extraTags) if (!isValidTag(t)) throw new LadingError('usage', `invalid reference "${input}": invalid tag "${t}"`);
}

/**
 * `manifest push --oci-layout`: the manifest goes in as a blob listed in index.json, then under each tag. As a
 * registry does, the layout takes only a manifest whose blobs (an index: whose manifests) it already has.
 */
async function pushToLayout(ctx: Context, l: Layout, bytes: Buffer, body: Record<string, unknown>, mediaType: string): Promise<void> {
  if (!isManifestType(mediaType)) {
    throw new LadingError('usage', `${mediaType} is not a manifest media type (OCI or Docker image manifest or index): an OCI layout lists only manifests`);
  }
  const reference = l.opened.reference;
  const byDigest = reference !== undefined && isDigest(reference);
  const digest = digestOf(bytes, byDigest ? parseDigest(reference).algorithm : 'sha256');
  if (byDigest && reference !== digest) throw new LadingError('digest-mismatch', `manifest content digest is ${digest}, not ${reference}`);
  const children = (Array.isArray(body.manifests) ? body.manifests : [body.config, ...(Array.isArray(body.layers) ? body.layers : []), ...(Array.isArray(body.blobs) ? body.blobs : [])]) as unknown[];
  for (const child of children) {
    const d = child as Descriptor | undefined;
    if (!d || typeof d !== 'object' || typeof d.digest !== 'string') continue;
    if (!(await l.target.exists(d))) {
      throw new LadingError('unsupported', `cannot push the manifest: ${d.digest} (${d.mediaType}) is not in OCI layout ${l.names.base}; push it first (lading blob push --oci-layout)`);
    }
  }
  const desc: Descriptor = { mediaType, digest, size: bytes.length };
  await l.target.push(desc, bytes);
  const tags = [...(reference !== undefined && !byDigest ? [reference] : []), ...l.opened.extraTags];
  for (const t of tags) await l.target.tag(desc, t);
  reportPush(ctx, l.names, desc, tags);
}

const manifestDelete: Command = {
  name: 'manifest delete',
  aliases: ['manifest rm'],
  summary: 'Delete a manifest (by tag or digest; every tag of that digest goes with it)',
  usage: 'REFERENCE',
  args: [1, 1],
  flags: [forceFlag, descriptorFlag, formatFlag, ociLayoutFlag, ...REMOTE],
  async run(ctx, [input]) {
    if (ctx.bool('oci-layout')) {
      await withLayout(ctx, input, { mode: 'modify', ifMissing: ctx.bool('force') ? (names) => reportMissing(ctx, names) : undefined }, (l) => {
        const reference = layoutReference(l, input, 'manifest delete');
        return deleteManifest(ctx, l.names, () => resolveManifestIn(l.target, reference, l.names.base), (d) => l.target.delete(d));
      });
      return;
    }
    const r = ref(ctx, input);
    const target = requireManifestRef(r, 'manifest delete');
    const repo = (await ctx.registry(r)).repository(r.repository);
    await deleteManifest(ctx, registryNames(r), () => repo.resolve(target), async (d) => {
      await repo.deleteManifest(d.digest);
    });
  },
};

/** Resolves, confirms, deletes and reports; with --force, a reference that is not there is reported and not an error. */
async function deleteManifest(ctx: Context, names: Names, resolve: () => Promise<Descriptor>, remove: (desc: Descriptor) => Promise<void>): Promise<void> {
  let desc;
  try {
    desc = await resolve();
  } catch (err) {
    if (ctx.bool('force') && (err as LadingError).kind === 'not-found') return reportMissing(ctx, names);
    throw err;
  }
  await confirm(ctx, `the manifest ${desc.digest} and all tags associated with it`);
  await remove(desc);
  ctx.status(`Deleted ${names.kind} ${names.shown}`);
  ctx.result(ctx.bool('descriptor') ? JSON.stringify(descriptorJson(desc)) : `Deleted ${names.at(desc.digest)}`, { reference: names.at(desc.digest), ...descriptorJson(desc), deleted: true });
}

function reportMissing(ctx: Context, names: Names): void {
  ctx.status(`Missing ${names.shown}`);
  ctx.result(undefined, { reference: names.shown, deleted: false });
}

export const manifestCommands = [manifestFetch, manifestFetchConfig, manifestPush, manifestDelete];
