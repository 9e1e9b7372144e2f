import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { forgetAtExit, removeAtExit } from '../../content/oci-layout/cleanup.js';
import { parseLayoutReference } from '../../content/oci-layout/store.js';
import { LadingError } from '../../errors/errors.js';
import type { Descriptor } from '../../oci/descriptor.js';
import { isDigest, newHasher, parseDigest } from '../../oci/digest.js';
import { digestReference } from '../../reference/reference.js';
import { fileContent, type SeekableContent } from '../../registry/upload.js';
import type { Command } from '../command.js';
import { chunkSizeFlag, formatBytes, formatFlag, type Context } from '../context.js';
import { ociLayoutFlag } from '../target.js';
import { blobCopyCommand } from './copy.js';
import { REMOTE } from './manifest.js';
import { confirm, layoutBlobDigest, openFile, ref, registryNames, withLayout, writeOutput, type Names } from './shared.js';

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
    ociLayoutFlag,
    ...REMOTE,
  ],
  examples: [
    'lading blob fetch localhost:5000/hello@sha256:… --output layer.tar.gz',
    'lading blob fetch localhost:5000/hello@sha256:… -o - | tar tz',
    'lading blob fetch --oci-layout ./layout@sha256:… -o layer.tar.gz',
  ],
  async run(ctx, [input]) {
    if (ctx.bool('oci-layout')) {
      const digest = layoutBlobDigest(input);
      if (!ctx.bool('descriptor')) checkFetchOutput(ctx);
      await withLayout(ctx, input, { mode: 'read' }, async (l) => {
        const desc = await l.target.resolve(digest);
        const d = { mediaType: 'application/octet-stream', digest, size: desc.size };
        if (ctx.bool('descriptor')) ctx.result(JSON.stringify(d), { reference: l.names.at(digest), ...d });
        else await saveBlob(ctx, l.names, d, await l.target.fetch(desc));
      });
      return;
    }
    const r = needDigest(ctx, input);
    const repo = (await ctx.registry(r)).repository(r.repository);
    if (ctx.bool('descriptor')) {
      const d = await repo.statBlob(r.digest);
      if (!d) throw new LadingError('not-found', `blob ${r.digest} not found in ${r.registry}/${r.repository}`);
      ctx.result(JSON.stringify(d), { reference: digestReference(r, r.digest), ...d });
      return;
    }
    checkFetchOutput(ctx);
    const blob = await repo.fetchBlob(r.digest);
    await saveBlob(ctx, registryNames(r), blob.descriptor, blob.stream);
  },
};

/** `--output` as blob fetch needs it (without --descriptor). */
function checkFetchOutput(ctx: Context): string {
  const output = ctx.str('output');
  if (output === undefined) throw new LadingError('usage', 'blob fetch needs --output FILE (or "-" for stdout) or --descriptor');
  // ORAS refuses this too: the blob's bytes and the JSON result would both go to stdout (CASES B34).
  if (output === '-' && ctx.json) throw new LadingError('usage', '--output - cannot be used with --format json: the blob goes to stdout');
  return output;
}

/** Writes a fetched blob to --output (verified as it streams) and reports it. */
async function saveBlob(ctx: Context, names: Names, desc: Descriptor, stream: Readable): Promise<void> {
  const output = checkFetchOutput(ctx);
  await writeOutput(ctx, output, stream);
  const size = desc.size;
  if (output !== '-') ctx.status(`Downloaded ${desc.digest} ${formatBytes(size)} to ${output}`);
  if (ctx.json) ctx.result(undefined, { reference: names.at(desc.digest), mediaType: 'application/octet-stream', digest: desc.digest, size, output });
}

const blobPush: Command = {
  name: 'blob push',
  summary: 'Push a file or stdin as a blob (skipped when the registry has it)',
  usage: 'REPOSITORY[@DIGEST] FILE|-',
  args: [2, 2],
  flags: [
    { long: 'size', type: 'int', value: 'BYTES', desc: 'size of the blob read from stdin (checked)' },
    { long: 'media-type', type: 'string', value: 'TYPE', desc: 'media type shown in the descriptor', default: 'application/octet-stream' },
    { long: 'descriptor', type: 'bool', desc: 'print the descriptor' },
    chunkSizeFlag,
    formatFlag,
    ociLayoutFlag,
    ...REMOTE,
  ],
  examples: [
    'lading blob push localhost:5000/hello layer.tar.gz',
    'lading blob push localhost:5000/hello@sha256:… layer.tar.gz',
    'cat x | lading blob push --size 42 localhost:5000/hello -',
    'lading blob push --oci-layout ./layout layer.tar.gz',
  ],
  async run(ctx, [input, file]) {
    if (ctx.bool('oci-layout')) return pushBlobToLayout(ctx, input, file);
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
      const f = await fileBlob(ctx, file, r.digest);
      desc = { digest: f.digest, size: f.size };
      exists = await repo.blobExistsForPush(f.digest);
      if (!exists) await repo.pushBlob(desc, f.open);
    }
    reportBlobPush(ctx, registryNames(r), mediaType, desc, exists);
  },
};

/** A file to push as a blob: its size, and its digest (read once, checked against the one given). */
async function fileBlob(ctx: Context, file: string, given: string | undefined): Promise<{ digest: string; size: number; open: SeekableContent }> {
  if (ctx.parsed.given.has('size')) throw new LadingError('usage', '--size is only for stdin ("-"); a file\'s size is read from disk');
  const f = await openFile(file);
  const digest = await fileDigest(f.open, given ? parseDigest(given).algorithm : 'sha256');
  if (given && given !== digest) {
    throw new LadingError('digest-mismatch', `"${file}" has digest ${digest}, not ${given}`);
  }
  return { digest, size: f.size, open: f.open };
}

function reportBlobPush(ctx: Context, names: Names, mediaType: string, desc: { digest: string; size: number }, exists: boolean): void {
  ctx.status(`${exists ? 'Exists' : 'Pushed'} ${names.kind} ${names.at(desc.digest)}`);
  const d = { mediaType, digest: desc.digest, size: desc.size };
  if (ctx.bool('descriptor')) ctx.result(JSON.stringify(d), { reference: names.at(desc.digest), ...d, exists });
  else ctx.result(`Digest: ${desc.digest}`, { reference: names.at(desc.digest), ...d, exists });
}

/** A blob as a layout stores it: content only (--media-type shapes the descriptor printed, as for a registry). */
function blobDescriptor(digest: string, size: number): Descriptor {
  return { mediaType: 'application/octet-stream', digest, size };
}

/**
 * `blob push --oci-layout`: a file is checked before the layout is created; stdin goes to a temporary file first,
 * hashed and counted on the way (a layout stores a blob only under its digest). A tag in the reference names
 * nothing for a blob and is ignored, as for a registry.
 */
async function pushBlobToLayout(ctx: Context, input: string, file: string): Promise<void> {
  const { reference } = parseLayoutReference(input);
  const given = reference !== undefined && isDigest(reference) ? reference : undefined;
  const mediaType = ctx.str('media-type')!;
  const source = file === '-' ? undefined : await fileBlob(ctx, file, given);
  await withLayout(ctx, input, { mode: 'create' }, async (l) => {
    if (!source && given && (await l.target.exists(blobDescriptor(given, -1)))) {
      ctx.io.stdin.resume();
      return reportBlobPush(ctx, l.names, mediaType, { digest: given, size: (await l.target.resolve(given)).size }, true);
    }
    const spooled = source ? undefined : await spoolStdin(ctx, given ? parseDigest(given).algorithm : 'sha256');
    try {
      const blob = (source ?? spooled)!;
      if (given && blob.digest !== given) throw new LadingError('digest-mismatch', `stdin has digest ${blob.digest}, not ${given}`);
      const desc = blobDescriptor(blob.digest, blob.size);
      const exists = await l.target.exists(desc);
      if (!exists) await l.target.push(desc, blob.open);
      reportBlobPush(ctx, l.names, mediaType, desc, exists);
    } finally {
      await spooled?.remove();
    }
  });
}

/** Stdin into a temporary file, hashed and counted as it is written; `--size` is checked as for a registry upload. */
async function spoolStdin(ctx: Context, algorithm: string): Promise<{ digest: string; size: number; open: SeekableContent; remove: () => Promise<void> }> {
  const expected = ctx.int('size');
  const dir = await mkdtemp(join(tmpdir(), 'lading-stdin-'));
  removeAtExit(dir);
  const remove = async () => {
    await rm(dir, { recursive: true, force: true });
    forgetAtExit(dir);
  };
  const file = join(dir, 'blob');
  const hash = newHasher(algorithm);
  let size = 0;
  const sizeMismatch = () => new LadingError('digest-mismatch', `blob size mismatch: --size says ${expected} bytes, read ${size > expected! ? `more than ${expected}` : size}`);
  const counter = new Transform({
    transform(chunk: Buffer, _e, cb) {
      size += chunk.length;
      if (expected !== undefined && size > expected) return cb(sizeMismatch());
      hash.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      cb(expected !== undefined && size !== expected ? sizeMismatch() : null);
    },
  });
  try {
    await pipeline(ctx.io.stdin, counter, createWriteStream(file));
  } catch (err) {
    await remove();
    throw err;
  }
  return { digest: `${algorithm}:${hash.digest('hex')}`, size, open: fileContent(file), remove };
}

const blobDelete: Command = {
  name: 'blob delete',
  aliases: ['blob rm'],
  summary: 'Delete a blob from a repository',
  usage: 'REPOSITORY@DIGEST',
  args: [1, 1],
  flags: [{ long: 'force', short: 'f', type: 'bool', desc: 'do not prompt; a missing blob is not an error' }, formatFlag, ociLayoutFlag, ...REMOTE],
  async run(ctx, [input]) {
    if (ctx.bool('oci-layout')) {
      const digest = layoutBlobDigest(input);
      const ifMissing = ctx.bool('force') ? (names: Names) => deleteBlob(ctx, names, digest, `OCI layout ${names.base}`, undefined, async () => {}) : undefined;
      await withLayout(ctx, input, { mode: 'modify', ifMissing }, async (l) => {
        const stat = (await l.target.exists(blobDescriptor(digest, -1))) ? await l.target.resolve(digest) : undefined;
        await deleteBlob(ctx, l.names, digest, `OCI layout ${l.names.base}`, stat, () => l.target.delete(stat!));
      });
      return;
    }
    const r = needDigest(ctx, input);
    const repo = (await ctx.registry(r)).repository(r.repository);
    const stat = await repo.statBlob(r.digest);
    await deleteBlob(ctx, registryNames(r), r.digest, `${r.registry}/${r.repository}`, stat, () => repo.deleteBlob(r.digest));
  },
};

/** Confirms, deletes and reports a blob found (`stat`); a missing one is an error, or with --force reported. */
async function deleteBlob(ctx: Context, names: Names, digest: string, where: string, stat: Descriptor | undefined, remove: () => Promise<void>): Promise<void> {
  if (!stat) {
    if (ctx.bool('force')) {
      ctx.status(`Missing ${names.shown}`);
      ctx.result(undefined, { reference: names.at(digest), digest, deleted: false });
      return;
    }
    throw new LadingError('not-found', `blob ${digest} not found in ${where}`);
  }
  await confirm(ctx, `the blob ${digest}`);
  await remove();
  ctx.status(`Deleted ${names.kind} ${names.shown}`);
  ctx.result(`Deleted ${names.at(digest)}`, { reference: names.at(digest), digest, size: stat.size, deleted: true });
}

export const blobCommands = [blobFetch, blobPush, blobDelete, blobCopyCommand];
