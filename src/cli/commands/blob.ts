import { LadingError } from '../../errors/errors.js';
import { newHasher, parseDigest } from '../../oci/digest.js';
import { digestReference, formatReference, withDigest } from '../../reference/reference.js';
import type { Command } from '../command.js';
import { formatBytes, formatFlag, type Context } from '../context.js';
import { REMOTE } from './manifest.js';
import { confirm, openFile, ref, writeOutput } from './shared.js';

function needDigest(ctx: Context, input: string | undefined) {
  const r = ref(ctx, input);
  if (!r.digest) throw new LadingError('usage', `"${input}" names no blob: use REPOSITORY@sha256:<digest>`);
  return r as typeof r & { digest: string };
}

/** Reads a file once to learn its digest (the upload then streams it again from disk). */
async function fileDigest(open: () => NodeJS.ReadableStream, algorithm = 'sha256'): Promise<string> {
  const hash = newHasher(algorithm);
  for await (const chunk of open()) hash.update(chunk as Buffer);
  return `${algorithm}:${hash.digest('hex')}`;
}

const blobFetch: Command = {
  name: 'blob fetch',
  aliases: ['blob get'],
  summary: 'Fetch a blob to a file or stdout, verifying its digest',
  usage: 'REPOSITORY@DIGEST',
  args: [1, 1],
  flags: [
    { long: 'output', short: 'o', type: 'string', value: 'FILE', desc: 'write the blob to FILE ("-" for stdout)' },
    { long: 'descriptor', type: 'bool', desc: 'print the descriptor (from a HEAD request) instead' },
    formatFlag,
    ...REMOTE,
  ],
  examples: ['lading blob fetch localhost:5000/hello@sha256:… --output layer.tar.gz', 'lading blob fetch localhost:5000/hello@sha256:… -o - | tar tz'],
  async run(ctx, [input]) {
    const r = needDigest(ctx, input);
    const output = ctx.str('output');
    const repo = (await ctx.registry(r)).repository(r.repository);
    if (ctx.bool('descriptor')) {
      const d = await repo.statBlob(r.digest);
      if (!d) throw new LadingError('not-found', `blob ${r.digest} not found in ${r.registry}/${r.repository}`);
      ctx.result(JSON.stringify(d), { reference: digestReference(r, r.digest), ...d });
      return;
    }
    if (output === undefined) throw new LadingError('usage', 'blob fetch needs --output FILE (or "-" for stdout) or --descriptor');
    // ORAS refuses this too: the blob's bytes and the JSON result would both go to stdout (CASES B34).
    if (output === '-' && ctx.json) throw new LadingError('usage', '--output - cannot be used with --format json: the blob goes to stdout');
    const blob = await repo.fetchBlob(r.digest);
    await writeOutput(ctx, output, blob.stream);
    const size = blob.descriptor.size;
    if (output !== '-') ctx.status(`Downloaded ${r.digest} ${formatBytes(size)} to ${output}`);
    if (ctx.json) ctx.result(undefined, { reference: digestReference(r, r.digest), mediaType: 'application/octet-stream', digest: r.digest, size, output });
  },
};

const blobPush: Command = {
  name: 'blob push',
  summary: 'Push a file or stdin as a blob (skipped when the registry has it)',
  usage: 'REPOSITORY[@DIGEST] FILE|-',
  args: [2, 2],
  flags: [
    { long: 'size', type: 'int', value: 'BYTES', desc: 'size of the blob read from stdin (checked)' },
    { long: 'media-type', type: 'string', value: 'TYPE', desc: 'media type shown in the descriptor', default: 'application/octet-stream' },
    { long: 'descriptor', type: 'bool', desc: 'print the descriptor' },
    formatFlag,
    ...REMOTE,
  ],
  examples: ['lading blob push localhost:5000/hello layer.tar.gz', 'lading blob push localhost:5000/hello@sha256:… layer.tar.gz', 'cat x | lading blob push --size 42 localhost:5000/hello -'],
  async run(ctx, [input, file]) {
    const r = ref(ctx, input);
    if (r.digest) parseDigest(r.digest);
    const mediaType = ctx.str('media-type')!;
    const repo = (await ctx.registry(r)).repository(r.repository);
    const sizeFlag = ctx.int('size') ?? -1;
    let desc: { digest: string; size: number };
    let exists = false;
    if (file === '-') {
      const expected = sizeFlag >= 0 ? sizeFlag : undefined;
      if (r.digest && (await repo.blobExistsForPush(r.digest))) {
        exists = true;
        ctx.io.stdin.resume();
        desc = { digest: r.digest, size: expected ?? -1 };
      } else {
        const pushed = await repo.pushBlobStream(ctx.io.stdin, expected);
        if (r.digest && pushed.digest !== r.digest) {
          throw new LadingError('digest-mismatch', `stdin has digest ${pushed.digest}, not ${r.digest}`);
        }
        desc = pushed;
      }
    } else {
      if (ctx.parsed.given.has('size')) throw new LadingError('usage', '--size is only for stdin ("-"); a file\'s size is read from disk');
      const f = await openFile(file);
      const digest = await fileDigest(f.open, r.digest ? parseDigest(r.digest).algorithm : 'sha256');
      if (r.digest && r.digest !== digest) {
        throw new LadingError('digest-mismatch', `"${file}" has digest ${digest}, not ${r.digest}`);
      }
      desc = { digest, size: f.size };
      exists = await repo.blobExistsForPush(digest);
      if (!exists) await repo.pushBlob(desc, f.open);
    }
    const full = withDigest(r, desc.digest);
    ctx.status(`${exists ? 'Exists' : 'Pushed'} [registry] ${formatReference({ ...full, tag: undefined })}`);
    const d = { mediaType, digest: desc.digest, size: desc.size };
    if (ctx.bool('descriptor')) ctx.result(JSON.stringify(d), { reference: digestReference(r, desc.digest), ...d, exists });
    else ctx.result(`Digest: ${desc.digest}`, { reference: digestReference(r, desc.digest), ...d, exists });
  },
};

const blobDelete: Command = {
  name: 'blob delete',
  aliases: ['blob rm'],
  summary: 'Delete a blob from a repository',
  usage: 'REPOSITORY@DIGEST',
  args: [1, 1],
  flags: [{ long: 'force', short: 'f', type: 'bool', desc: 'do not prompt; a missing blob is not an error' }, formatFlag, ...REMOTE],
  async run(ctx, [input]) {
    const r = needDigest(ctx, input);
    const repo = (await ctx.registry(r)).repository(r.repository);
    const stat = await repo.statBlob(r.digest);
    if (!stat) {
      if (ctx.bool('force')) {
        ctx.status(`Missing ${formatReference(r)}`);
        ctx.result(undefined, { reference: digestReference(r, r.digest), digest: r.digest, deleted: false });
        return;
      }
      throw new LadingError('not-found', `blob ${r.digest} not found in ${r.registry}/${r.repository}`);
    }
    await confirm(ctx, `the blob ${r.digest}`);
    await repo.deleteBlob(r.digest);
    ctx.status(`Deleted [registry] ${formatReference(r)}`);
    ctx.result(`Deleted ${digestReference(r, r.digest)}`, { reference: digestReference(r, r.digest), digest: r.digest, size: stat.size, deleted: true });
  },
};

export const blobCommands = [blobFetch, blobPush, blobDelete];
