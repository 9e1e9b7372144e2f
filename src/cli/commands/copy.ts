import { LadingError } from '../../errors/errors.js';
import type { Descriptor } from '../../oci/descriptor.js';
import { parsePlatform } from '../../oci/manifest.js';
import { copy } from '../../ops/copy.js';
import type { Command } from '../command.js';
import { commonFlags, formatBytes, sideFlags } from '../context.js';
import { openTarget, type OpenedTarget } from '../target.js';

/** Wraps a target so every error it raises says which side of the copy it came from. */
function sided<T extends object>(target: T, label: 'source' | 'destination', where: string): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const v = Reflect.get(obj, prop, receiver);
      if (typeof v !== 'function' || prop === 'constructor') return v;
      return async (...args: unknown[]) => {
        try {
          return await (v as (...a: unknown[]) => unknown).apply(obj, args);
        } catch (err) {
          const e = err instanceof LadingError ? err : new LadingError('internal', (err as Error).message, { cause: err });
          if (!e.message.startsWith(`${label} `)) e.message = `${label} ${where}: ${e.message}`;
          throw e;
        }
      };
    },
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
    { long: 'from-oci-layout', type: 'bool', desc: 'the source is an OCI image layout PATH[:TAG|@DIGEST]' },
    { long: 'to-oci-layout', type: 'bool', desc: 'the destination is an OCI image layout PATH[:TAG]' },
    { long: 'from-distribution-spec', type: 'string', value: 'v1.1-referrers-api|v1.1-referrers-tag', desc: 'source: how referrers are listed' },
    { long: 'to-distribution-spec', type: 'string', value: 'v1.1-referrers-api|v1.1-referrers-tag', desc: 'destination: how referrers are recorded' },
    { long: 'format', type: 'string', value: 'text|json', desc: 'output format', default: 'text' },
    ...sideFlags('from'),
    ...sideFlags('to'),
    ...commonFlags,
  ],
  examples: ['lading copy registry.example/app:v1 ghcr.io/org/app:v1,latest', 'lading cp -r --from-oci-layout ./layout:v1 localhost:5000/app:v1'],
  async run(ctx, [source, destination]) {
    const concurrency = ctx.int('concurrency') ?? 3;
    if (concurrency < 1) throw new LadingError('usage', '--concurrency must be at least 1');
    const platform = ctx.str('platform');
    let src: OpenedTarget | undefined;
    let dst: OpenedTarget | undefined;
    try {
      src = await openTarget(ctx, source, { write: false, side: 'from-' });
      dst = await openTarget(ctx, destination, { write: true, withTags: true, side: 'to-' });
      if (!src.reference) throw new LadingError('usage', `"${source}" names no tag or digest to copy`);
      const tags = [...(dst.reference && !dst.tagDefaulted && !dst.reference.includes(':') ? [dst.reference] : []), ...dst.extraTags];
      // A destination without a tag gets the source's tag (as ORAS does), unless the source was named by digest.
      if (tags.length === 0 && src.reference && !src.reference.includes(':') && !src.tagDefaulted) tags.push(src.reference);
      const copied: Descriptor[] = [];
      const root = await copy(sided(src.target, 'source', src.shown), src.reference, sided(dst.target, 'destination', dst.base), tags, {
        concurrency,
        platform: platform ? parsePlatform(platform) : undefined,
        referrers: ctx.bool('recursive'),
        log: (l) => ctx.status(l),
        onBlob: (e) => {
          if (e.status === 'Copying') return;
          if (e.status === 'Copied' || e.status === 'Mounted') copied.push(e.descriptor);
          ctx.status(`${e.status.padEnd(7)} ${e.descriptor.digest} ${e.descriptor.mediaType} ${formatBytes(e.descriptor.size)}`);
        },
      });
      ctx.status(`Copied [${src.kind}] ${src.shown} => [${dst.kind}] ${dst.base}${tags.length ? `:${tags.join(',')}` : ''}`);
      ctx.result(`Digest: ${root.digest}`, { reference: `${dst.base}@${root.digest}`, mediaType: root.mediaType, digest: root.digest, size: root.size, tags, source: `${src.base}@${root.digest}` });
    } finally {
      await src?.close();
      await dst?.close();
    }
  },
};

export const copyCommands = [copyCommand];
