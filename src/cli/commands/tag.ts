import { LadingError } from '../../errors/errors.js';
import type { Descriptor } from '../../oci/descriptor.js';
import { parsePlatform } from '../../oci/manifest.js';
import { MANIFEST_ACCEPT } from '../../oci/mediatypes.js';
import { isValidTag, parseReference, requireManifestRef } from '../../reference/reference.js';
import type { Command } from '../command.js';
import { formatFlag, manifestSizeFlag, type Context } from '../context.js';
import { ociLayoutFlag } from '../target.js';
import { fetchManifestFor, REMOTE } from './manifest.js';
import { forEachLimit } from '../../ops/push.js';
import { fetchManifestWithPlatform, layoutReference, ref, registryNames, resolveManifestIn, withLayout, type Names } from './shared.js';

/** Runs `fn` over items with at most `limit` in flight (the ops' forEachLimit), results in input order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  await forEachLimit(items.map((item, i) => ({ item, i })), limit, async ({ item, i }) => {
    out[i] = await fn(item);
  });
  return out;
}

const tag: Command = {
  name: 'tag',
  summary: 'Give a manifest one or more new tags (concurrently)',
  usage: 'REFERENCE TAG [TAG…]',
  args: [2, Infinity],
  flags: [{ long: 'concurrency', type: 'int', value: 'N', desc: 'tags pushed at once', default: 5 }, formatFlag, manifestSizeFlag, ociLayoutFlag, ...REMOTE],
  examples: ['lading tag localhost:5000/hello:latest v1.0.0 v2.0.0', 'lading tag --oci-layout ./layout:latest v1.0.0'],
  async run(ctx, [input, ...given]) {
    const tags = [...new Set(given)];
    if (ctx.bool('oci-layout')) {
      const concurrency = checkTags(ctx, tags);
      await withLayout(ctx, input, { mode: 'modify' }, async (l) => {
        const d = await resolveManifestIn(l.target, layoutReference(l, input, 'tag'), l.names.base);
        await tagAll(ctx, l.names, d, tags, concurrency, (t) => l.target.tag(d, t));
      });
      return;
    }
    const r = ref(ctx, input);
    requireManifestRef(r, 'tag');
    const concurrency = checkTags(ctx, tags);
    const { repo, fetched } = await fetchManifestFor(ctx, r, undefined, { forPush: true });
    const d = fetched.descriptor;
    await tagAll(ctx, registryNames(r), d, tags, concurrency, async (t) => {
      await repo.pushManifest(t, fetched.bytes, d.mediaType);
    });
  },
};

/** The tags are valid and --concurrency is at least 1: that number. */
function checkTags(ctx: Context, tags: string[]): number {
  for (const t of tags) if (!isValidTag(t)) throw new LadingError('usage', `invalid tag "${t}" (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')`);
  const concurrency = ctx.int('concurrency')!;
  if (concurrency < 1) throw new LadingError('usage', '--concurrency must be at least 1');
  return concurrency;
}

async function tagAll(ctx: Context, names: Names, d: Descriptor, tags: string[], concurrency: number, tagOne: (tag: string) => Promise<void>): Promise<void> {
  ctx.status(`Tagging ${names.kind} ${names.at(d.digest)}`);
  await mapLimit(tags, concurrency, tagOne);
  ctx.result(tags.map((t) => `Tagged ${t}`).join('\n'), { reference: names.at(d.digest), mediaType: d.mediaType, digest: d.digest, size: d.size, tags });
}

const resolve: Command = {
  name: 'resolve',
  summary: 'Resolve a tag to its digest',
  usage: 'REFERENCE',
  args: [1, 1],
  flags: [
    { long: 'full-reference', short: 'l', type: 'bool', desc: 'print the full reference (registry/repository@digest)' },
    { long: 'platform', type: 'string', value: 'OS/ARCH[/VARIANT]', desc: 'resolve the manifest of this platform inside an index' },
    formatFlag,
    manifestSizeFlag,
    ociLayoutFlag,
    ...REMOTE,
  ],
  examples: ['lading resolve localhost:5000/hello:v1', 'lading resolve --oci-layout --platform linux/arm64 ./layout:multi'],
  async run(ctx, [input]) {
    if (ctx.bool('oci-layout')) {
      const platform = ctx.str('platform');
      if (platform !== undefined) parsePlatform(platform);
      await withLayout(ctx, input, { mode: 'read' }, async (l) => {
        const reference = layoutReference(l, input, 'resolve');
        const desc =
          platform !== undefined
            ? (await fetchManifestWithPlatform(ctx, l.reader, reference, MANIFEST_ACCEPT, () => l.names.shown)).descriptor
            : await resolveManifestIn(l.target, reference, l.names.base);
        reportResolved(ctx, l.names, desc);
      });
      return;
    }
    const r = ref(ctx, input);
    const target = requireManifestRef(r, 'resolve');
    let desc;
    if (ctx.str('platform') !== undefined) {
      parsePlatform(ctx.str('platform')!);
      desc = (await fetchManifestFor(ctx, r)).fetched.descriptor;
    } else {
      desc = await (await ctx.registry(r)).repository(r.repository).resolve(target);
    }
    reportResolved(ctx, registryNames(r), desc);
  },
};

function reportResolved(ctx: Context, names: Names, desc: Descriptor): void {
  const full = names.at(desc.digest);
  ctx.result(ctx.bool('full-reference') ? full : desc.digest, { reference: full, mediaType: desc.mediaType, digest: desc.digest, size: desc.size });
}

const repoTags: Command = {
  name: 'repo tags',
  aliases: ['repo show-tags'],
  summary: 'List the tags of a repository, sorted',
  usage: 'REPOSITORY[@DIGEST]',
  args: [1, 1],
  flags: [
    { long: 'last', type: 'string', value: 'TAG', desc: 'start after this tag' },
    { long: 'exclude-digest-tags', type: 'bool', desc: 'hide sha256-<hex> tags (referrers and signatures)' },
    formatFlag,
    ociLayoutFlag,
    ...REMOTE,
  ],
  examples: ['lading repo tags localhost:5000/hello', 'lading repo tags --oci-layout ./layout'],
  async run(ctx, [input]) {
    if (ctx.bool('oci-layout')) {
      await withLayout(ctx, input, { mode: 'read' }, async (l) => {
        // PATH@DIGEST: the tags of that digest; a tag in the reference is ignored, as for a registry.
        const reference = l.opened.reference;
        const digest = reference?.includes(':') ? reference : undefined;
        await listTags(ctx, l.names.base, digest, () => l.target.tags(), (t) => l.target.resolve(t));
      });
      return;
    }
    const r = ref(ctx, input, 'repository');
    const repo = (await ctx.registry(r)).repository(r.repository);
    await listTags(ctx, `${r.registry}/${r.repository}`, r.digest, (last) => repo.tags({ last }), (t) => repo.resolve(t));
  },
};

/** Lists, sorts and filters the tags (--last, --exclude-digest-tags, and those of `digest` when one is given). */
async function listTags(
  ctx: Context,
  repository: string,
  digest: string | undefined,
  list: (last: string | undefined) => Promise<string[]>,
  resolve: (tag: string) => Promise<Descriptor>,
): Promise<void> {
  const last = ctx.str('last');
  let tags = [...new Set(await list(last))].sort(compareTags);
  if (last !== undefined) tags = tags.filter((t) => compareTags(t, last) > 0);
  if (ctx.bool('exclude-digest-tags')) tags = tags.filter((t) => !/^[a-z0-9]+-[a-f0-9]{32,}(\.[A-Za-z0-9_.-]+)?$/.test(t));
  if (digest) {
    // ORAS: REPOSITORY@DIGEST lists the tags that point at that digest.
    const hits = await mapLimit(tags, 8, async (t) => ((await resolve(t)).digest === digest ? t : undefined));
    tags = hits.filter((t): t is string => t !== undefined);
  }
  ctx.result(tags.join('\n') + (tags.length ? '\n' : ''), { repository, tags });
}

/** Tags compare by code unit (the order the distribution spec asks registries to use). */
function compareTags(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const repoLs: Command = {
  name: 'repo ls',
  aliases: ['repo list'],
  summary: 'List the repositories of a registry, optionally under a namespace',
  usage: 'REGISTRY[/NAMESPACE]',
  args: [1, 1],
  flags: [{ long: 'last', type: 'string', value: 'REPOSITORY', desc: 'start after this repository' }, formatFlag, ...REMOTE],
  async run(ctx, [input]) {
    const slash = input.indexOf('/');
    const host = slash >= 0 ? input.slice(0, slash) : input;
    const namespace = slash >= 0 ? input.slice(slash + 1).replace(/\/+$/, '') : '';
    const probe = parseReference(`${host}/${namespace || 'x'}`);
    if (!/[.:]|^localhost$|^\[/.test(host)) throw new LadingError('usage', `"${host}" is not a registry host`);
    const registry = await ctx.registry(probe);
    const last = ctx.str('last');
    let repos = await registry.catalog({ last: last !== undefined ? (namespace ? `${namespace}/${last}` : last) : undefined });
    if (namespace) repos = repos.filter((r) => r.startsWith(`${namespace}/`)).map((r) => r.slice(namespace.length + 1));
    if (last !== undefined) repos = repos.filter((r) => r > last);
    ctx.result(repos.join('\n') + (repos.length ? '\n' : ''), { registry: probe.registry, namespace: namespace || undefined, repositories: repos });
  },
};

export const tagCommands = [tag, resolve, repoTags, repoLs];
