import { parseLayoutReference } from '../../content/oci-layout/store.js';
import { LadingError } from '../../errors/errors.js';
import { platformName, type ImageFormat } from '../../oci/convert.js';
import { parsePlatform } from '../../oci/manifest.js';
import { convert, flattenConversion, type ConvertedNode } from '../../ops/convert.js';
import { parseReferenceWithTags } from '../../reference/reference.js';
import type { Command } from '../command.js';
import { commonFlags, formatBytes, sideFlags, type Context } from '../context.js';
import { openTarget, splitLayoutTags, type OpenedTarget } from '../target.js';

/** The destination as written, checked without opening it (a dry run contacts and creates nothing there). */
function parseDestination(ctx: Context, input: string): { base: string; tags: string[]; digest?: string } {
  if (ctx.bool('to-oci-layout')) {
    const [first, ...extra] = splitLayoutTags(input);
    const { path, reference } = parseLayoutReference(first);
    const digest = reference?.includes(':') ? reference : undefined;
    return { base: path, tags: [...(reference && !digest ? [reference] : []), ...extra], digest };
  }
  const { ref, extraTags } = parseReferenceWithTags(input);
  const tags = [...(ref.tag && !ref.tagDefaulted && !ref.digest ? [ref.tag] : []), ...extraTags];
  return { base: `${ref.registry}/${ref.repository}`, tags, digest: ref.digest };
}

const TYPE_NAME: Record<string, string> = {
  'application/vnd.docker.distribution.manifest.v2+json': 'Docker manifest',
  'application/vnd.docker.distribution.manifest.list.v2+json': 'Docker manifest list',
  'application/vnd.oci.image.manifest.v1+json': 'OCI manifest',
  'application/vnd.oci.image.index.v1+json': 'OCI index',
};
const typeName = (mt: string) => TYPE_NAME[mt] ?? mt;

function describe(node: ConvertedNode): string {
  const platform = node.platform ? ` ${platformName(node.platform)}` : '';
  if (!node.changed) return `Unchanged${platform} ${node.source.digest} (already ${typeName(node.source.mediaType)})`;
  return `Converted${platform} ${node.source.digest} (${typeName(node.source.mediaType)}) => ${node.descriptor.digest} (${typeName(node.descriptor.mediaType)}, ${formatBytes(node.descriptor.size)})`;
}

const convertCommand: Command = {
  name: 'convert',
  summary: 'Convert an image between Docker schema 2 and OCI (manifests and indexes); blobs are copied unchanged',
  usage: 'SOURCE DESTINATION[,TAG…] --to oci|docker',
  args: [2, 2],
  flags: [
    { long: 'to', type: 'string', value: 'oci|docker', desc: 'the format to convert to (required)' },
    { long: 'dry-run', type: 'bool', desc: 'print the converted manifest (an index, then each child, one per line) and push nothing' },
    { long: 'platform', type: 'string', value: 'OS/ARCH[/VARIANT]', desc: 'convert only this platform out of an index' },
    { long: 'concurrency', type: 'int', value: 'N', desc: 'blobs copied at once', default: 3 },
    { long: 'from-oci-layout', type: 'bool', desc: 'the source is an OCI image layout PATH[:TAG|@DIGEST]' },
    { long: 'to-oci-layout', type: 'bool', desc: 'the destination is an OCI image layout PATH[:TAG]' },
    { long: 'format', type: 'string', value: 'text|json', desc: 'output format', default: 'text' },
    ...sideFlags('from'),
    ...sideFlags('to'),
    ...commonFlags,
  ],
  examples: [
    'lading convert --to oci registry.example/app:v1 registry.example/app:v1-oci',
    'lading convert --to docker --from-oci-layout ./layout:v1 localhost:5000/app:v1',
    'lading convert --to oci --dry-run registry.example/app:v1 registry.example/app:v1-oci',
  ],
  async run(ctx, [source, destination]) {
    const to = ctx.str('to');
    if (to === undefined) throw new LadingError('usage', '--to is required: --to oci or --to docker');
    if (to !== 'oci' && to !== 'docker') throw new LadingError('usage', `invalid --to "${to}": expected oci or docker`);
    const concurrency = ctx.int('concurrency') ?? 3;
    if (concurrency < 1) throw new LadingError('usage', '--concurrency must be at least 1');
    const platformFlag = ctx.str('platform');
    const platform = platformFlag !== undefined ? parsePlatform(platformFlag) : undefined;
    const readsStdin = (side: string) => ctx.bool(`${side}-password-stdin`) || ctx.bool(`${side}-identity-token-stdin`);
    if (readsStdin('from') && readsStdin('to')) {
      throw new LadingError('usage', "only one side can read its secret from stdin: give the other side's with --from-password/--to-password or a --from-registry-config/--to-registry-config file");
    }
    const dryRun = ctx.bool('dry-run');
    const target = parseDestination(ctx, destination);
    if (target.digest) {
      throw new LadingError('usage', `"${destination}" names a digest, but the converted manifest gets a new one: give the destination a tag, or none to push by digest`);
    }
    let src: OpenedTarget | undefined;
    let dst: OpenedTarget | undefined;
    try {
      src = await openTarget(ctx, source, { write: false, side: 'from-' });
      if (!src.reference) throw new LadingError('usage', `"${source}" names no tag or digest to convert`);
      // A dry run opens only the source: the destination is neither contacted nor created.
      if (!dryRun) dst = await openTarget(ctx, destination, { write: true, withTags: true, side: 'to-' });
      const root = await convert(src.target, src.reference, dst?.target, target.tags, {
        to: to as ImageFormat,
        names: { source: src.shown, destination: dst?.base ?? target.base },
        platform,
        concurrency,
        dryRun,
        log: (l) => ctx.status(l),
        onBlob: (e) => {
          if (e.status === 'Copying') return;
          ctx.status(`${e.status.padEnd(7)} ${e.descriptor.digest} ${e.descriptor.mediaType} ${formatBytes(e.descriptor.size)}`);
        },
        onManifest: (n) => ctx.status(`Pushed  ${n.descriptor.digest} ${n.descriptor.mediaType} ${formatBytes(n.descriptor.size)}`),
      });
      const all = flattenConversion(root);
      for (const n of all) {
        ctx.status(describe(n));
        for (const note of n.notes) ctx.warn(`${n.source.digest}: ${note}`);
      }
      const json = {
        reference: `${target.base}@${root.descriptor.digest}`,
        mediaType: root.descriptor.mediaType,
        digest: root.descriptor.digest,
        size: root.descriptor.size,
        source: { digest: root.source.digest, mediaType: root.source.mediaType },
      };
      if (dryRun) {
        ctx.status(`Dry run: nothing was pushed; ${target.base}${target.tags.length ? `:${target.tags.join(',')}` : ''} would get ${root.descriptor.digest}`);
        const manifests = all.map((n) => n.bytes.toString('utf8'));
        ctx.result(`${manifests.join('\n')}\n`, {
          ...json,
          dryRun: true,
          manifest: JSON.parse(manifests[0]) as unknown,
          children: all.slice(1).map((n) => ({
            mediaType: n.descriptor.mediaType,
            digest: n.descriptor.digest,
            size: n.descriptor.size,
            source: { digest: n.source.digest, mediaType: n.source.mediaType },
            manifest: JSON.parse(n.bytes.toString('utf8')) as unknown,
          })),
        });
        return;
      }
      ctx.status(`Converted [${src.kind}] ${src.shown} => [${dst!.kind}] ${dst!.base}${target.tags.length ? `:${target.tags.join(',')}` : ` (by digest)`}`);
      ctx.result(`Digest: ${root.descriptor.digest}`, json);
    } finally {
      await src?.close();
      await dst?.close();
    }
  },
};

export const convertCommands: Command[] = [convertCommand];
