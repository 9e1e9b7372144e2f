import { LadingError, toLadingError } from '../../errors/errors.js';
import type { Descriptor } from '../../oci/descriptor.js';
import { isDigest } from '../../oci/digest.js';
import { parsePlatform } from '../../oci/manifest.js';
import { copyAllTags, copyBlob, copyReference, type CopyEvent, type CopyOptions } from '../../ops/copy.js';
import { RegistryTarget } from '../../registry/target.js';
import type { Command } from '../command.js';
import { chunkSizeFlag, commonFlags, formatBytes, manifestSizeFlag, sideFlags, type Context } from '../context.js';

/** The destination's `--chunk-size`, spelled like copy's other per-side flags. */
const toChunkSizeFlag = { ...chunkSizeFlag, long: 'to-chunk-size', desc: `destination: ${chunkSizeFlag.desc}` };
import { openTarget, type OpenedTarget } from '../target.js';

/** One stdin, one secret: only one side may read its password or token from it. */
function checkStdinSides(ctx: Context): void {
  const reads = (side: string) => ctx.bool(`${side}-password-stdin`) || ctx.bool(`${side}-identity-token-stdin`);
  if (reads('from') && reads('to')) {
    throw new LadingError('usage', 'only one side can read its secret from stdin: give the other side\'s with --from-password/--to-password or a --from-registry-config/--to-registry-config file');
  }
}

/** A status line per node, as the copy goes. */
function reporter(ctx: Context, copied?: Descriptor[]): (e: CopyEvent) => void {
  return (e) => {
    if (e.status === 'Copying') return;
    if (e.status === 'Copied' || e.status === 'Mounted') copied?.push(e.descriptor);
    ctx.status(`${e.status.padEnd(7)} ${e.descriptor.digest} ${e.descriptor.mediaType} ${formatBytes(e.descriptor.size)}`);
  };
}

/** Compiles --include/--exclude patterns; a bad one is a usage error naming the flag. */
function patterns(ctx: Context, flag: string): RegExp[] {
  return ctx.list(flag).map((p) => {
    try {
      return new RegExp(p);
    } catch (err) {
      throw new LadingError('usage', `invalid --${flag} regular expression "${p}": ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`);
    }
  });
}

const copyCommand: Command = {
  name: 'copy',
  aliases: ['cp'],
  summary: 'Copy an artifact or image, with its whole graph, between registries and OCI layouts',
  usage: 'SOURCE DESTINATION[,TAG…]',
  args: [2, 2],
  flags: [
    { long: 'recursive', short: 'r', type: 'bool', desc: 'also copy the referrers (signatures, SBOMs), recursively' },
    { long: 'platform', type: 'string', value: 'OS/ARCH[/VARIANT]', desc: 'copy only this platform out of an index' },
    { long: 'concurrency', type: 'int', value: 'N', desc: 'blobs copied at once', default: 3 },
    { long: 'all-tags', type: 'bool', desc: 'copy every tag of the SOURCE repository to the DESTINATION repository (referrers tag-schema tags excepted; -r recreates those)' },
    { long: 'include', type: 'list', value: 'REGEXP', desc: 'with --all-tags: only tags matching one of these' },
    { long: 'exclude', type: 'list', value: 'REGEXP', desc: 'with --all-tags: not the tags matching any of these' },
    { long: 'from-oci-layout', type: 'bool', desc: 'the source is an OCI image layout PATH[:TAG|@DIGEST]' },
    { long: 'to-oci-layout', type: 'bool', desc: 'the destination is an OCI image layout PATH[:TAG]' },
    { long: 'from-distribution-spec', type: 'string', value: 'v1.1-referrers-api|v1.1-referrers-tag', desc: 'source: how referrers are listed' },
    { long: 'to-distribution-spec', type: 'string', value: 'v1.1-referrers-api|v1.1-referrers-tag', desc: 'destination: how referrers are recorded' },
    { long: 'format', type: 'string', value: 'text|json', desc: 'output format', default: 'text' },
    manifestSizeFlag,
    toChunkSizeFlag,
    ...sideFlags('from'),
    ...sideFlags('to'),
    ...commonFlags,
  ],
  examples: [
    'lading copy registry.example/app:v1 ghcr.io/org/app:v1,latest',
    'lading cp -r --from-oci-layout ./layout:v1 localhost:5000/app:v1',
    "lading copy --all-tags --include '^v1\\.' registry.example/app mirror.example/app",
  ],
  async run(ctx, [source, destination]) {
    const concurrency = ctx.int('concurrency') ?? 3;
    if (concurrency < 1) throw new LadingError('usage', '--concurrency must be at least 1');
    checkStdinSides(ctx);
    const allTags = ctx.bool('all-tags');
    const include = patterns(ctx, 'include');
    const exclude = patterns(ctx, 'exclude');
    if (!allTags && (include.length || exclude.length)) throw new LadingError('usage', '--include and --exclude filter the tags of --all-tags');
    const platform = ctx.str('platform');
    let src: OpenedTarget | undefined;
    let dst: OpenedTarget | undefined;
    try {
      src = await openTarget(ctx, source, { write: false, side: 'from-' });
      dst = await openTarget(ctx, destination, { write: true, withTags: true, side: 'to-' });
      const options: CopyOptions = {
        concurrency,
        platform: platform ? parsePlatform(platform) : undefined,
        referrers: ctx.bool('recursive'),
        log: (l) => ctx.status(l),
      };
      if (allTags) return await copyEveryTag(ctx, src, dst, { include, exclude }, options);
      if (!src.reference) throw new LadingError('usage', `"${source}" names no tag or digest to copy`);
      const tags = [...(dst.reference && !dst.tagDefaulted && !dst.reference.includes(':') ? [dst.reference] : []), ...dst.extraTags];
      // A destination without a tag gets the source's tag (as ORAS does), unless the source was named by digest.
      if (tags.length === 0 && src.reference && !src.reference.includes(':') && !src.tagDefaulted) tags.push(src.reference);
      const { root } = await copyReference(src.target, src.reference, dst.target, tags, {
        ...options,
        names: { source: src.shown, destination: dst.base },
        onBlob: reporter(ctx),
      });
      ctx.status(`Copied [${src.kind}] ${src.shown} => [${dst.kind}] ${dst.base}${tags.length ? `:${tags.join(',')}` : ''}`);
      ctx.result(`Digest: ${root.digest}`, { reference: `${dst.base}@${root.digest}`, mediaType: root.mediaType, digest: root.digest, size: root.size, tags, source: `${src.base}@${root.digest}` });
    } finally {
      await src?.close();
      await dst?.close();
    }
  },
};

/** `copy --all-tags SRC_REPO DST_REPO`: each tag reported as it is copied or skipped; JSON lists both. */
async function copyEveryTag(ctx: Context, src: OpenedTarget, dst: OpenedTarget, filter: { include: RegExp[]; exclude: RegExp[] }, options: CopyOptions): Promise<void> {
  if ((src.reference && !src.tagDefaulted) || (dst.reference && !dst.tagDefaulted) || dst.extraTags.length > 0) {
    throw new LadingError('usage', '--all-tags copies repositories: give SOURCE and DESTINATION without a tag or digest');
  }
  if (options.platform) throw new LadingError('usage', '--platform cannot be used with --all-tags (it would put one platform under each multi-platform tag)');
  const result = await copyAllTags(src.target, dst.target, filter, {
    ...options,
    names: { source: src.base, destination: dst.base },
    onBlob: reporter(ctx),
    onTag: (t, status) => {
      if (status === 'copied') ctx.status(`Copied  tag ${t.tag} ${(t as { digest: string }).digest}`);
      else {
        const s = t as { tag: string; reason: string; digest?: string };
        ctx.status(s.reason === 'exists' ? `Exists  tag ${s.tag} ${s.digest}` : `Skipped tag ${s.tag} (${s.reason === 'referrers-tag' ? 'referrers tag schema index; -r copies referrers' : s.reason})`);
      }
    },
  });
  ctx.status(`Copied ${result.copied.length} tag${result.copied.length === 1 ? '' : 's'} [${src.kind}] ${src.base} => [${dst.kind}] ${dst.base}; skipped ${result.skipped.length}`);
  ctx.result(
    result.copied.map((t) => `${t.tag} ${t.digest}`).join('\n'),
    { source: src.base, destination: dst.base, copied: result.copied.map((t) => ({ ...t, reference: `${dst.base}@${t.digest}` })), skipped: result.skipped },
  );
}

export const copyCommands = [copyCommand];

/**
 * `blob copy SRC_REPO@DIGEST DST_REPO`: one blob between repositories, registries or layouts (the
 * per-side flags of copy). Skipped when the destination has it, mounted when both are repositories
 * of one registry (then checked with a HEAD at the destination), streamed and verified otherwise.
 */
export const blobCopyCommand: Command = {
  name: 'blob copy',
  aliases: ['blob cp'],
  summary: 'Copy one blob to another repository or registry (mounted within one registry, else streamed), verified',
  usage: 'SOURCE@DIGEST DESTINATION',
  args: [2, 2],
  flags: [
    { long: 'from-oci-layout', type: 'bool', desc: 'the source is an OCI image layout PATH@DIGEST' },
    { long: 'to-oci-layout', type: 'bool', desc: 'the destination is an OCI image layout PATH' },
    { long: 'format', type: 'string', value: 'text|json', desc: 'output format', default: 'text' },
    toChunkSizeFlag,
    ...sideFlags('from'),
    ...sideFlags('to'),
    ...commonFlags,
  ],
  examples: ['lading blob copy registry.example/app@sha256:… ghcr.io/org/app', 'lading blob copy --to-oci-layout localhost:5000/app@sha256:… ./layout'],
  async run(ctx, [source, destination]) {
    checkStdinSides(ctx);
    let src: OpenedTarget | undefined;
    let dst: OpenedTarget | undefined;
    try {
      src = await openTarget(ctx, source, { write: false, side: 'from-' });
      const digest = src.reference;
      if (!digest || !isDigest(digest)) throw new LadingError('usage', `"${source}" names no blob: use REPOSITORY@sha256:<digest>${src.kind === 'oci-layout' ? ' (or PATH@sha256:<digest>)' : ''}`);
      dst = await openTarget(ctx, destination, { write: true, side: 'to-' });
      if (dst.reference && isDigest(dst.reference) && dst.reference !== digest) {
        throw new LadingError('usage', `the destination names ${dst.reference}, the source ${digest}: give the destination without a digest`);
      }
      const names = { source: src.shown, destination: dst.base };
      const s = src;
      const size = await (async () => {
        try {
          if (s.target instanceof RegistryTarget) {
            const stat = await s.target.repo.statBlob(digest);
            if (!stat) throw new LadingError('not-found', `blob ${digest} not found in ${s.base}`);
            return stat.size;
          }
          return (await s.target.resolve(digest)).size;
        } catch (err) {
          const e = toLadingError(err);
          e.message = `source ${names.source}: ${e.message}`;
          throw e;
        }
      })();
      const desc: Descriptor = { mediaType: 'application/octet-stream', digest, size };
      const status = await copyBlob(src.target, dst.target, desc, { names, log: (l) => ctx.status(l) });
      if (status === 'mounted' && dst.target instanceof RegistryTarget) {
        const there = await dst.target.repo.statBlob(digest);
        if (!there || (there.size >= 0 && there.size !== size)) {
          throw new LadingError('digest-mismatch', `destination ${names.destination}: after mounting ${digest}, the registry ${there ? `reports ${there.size} bytes, not ${size}` : 'does not have it'}`);
        }
      }
      const word = status === 'exists' ? 'Exists' : status === 'mounted' ? 'Mounted' : 'Copied';
      ctx.status(`${word.padEnd(7)} ${digest} ${formatBytes(size)} [${src.kind}] ${src.base} => [${dst.kind}] ${dst.base}`);
      ctx.result(`Digest: ${digest}`, { reference: `${dst.base}@${digest}`, digest, size, mounted: status === 'mounted', exists: status === 'exists' });
    } finally {
      await src?.close();
      await dst?.close();
    }
  },
};
