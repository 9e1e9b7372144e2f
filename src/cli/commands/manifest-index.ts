import { resolve as resolvePath } from 'node:path';
import { Readable } from 'node:stream';
import { parseLayoutReference } from '../../content/oci-layout/store.js';
import { LadingError } from '../../errors/errors.js';
import { isDigest, parseDigest } from '../../oci/digest.js';
import { createIndex, updateIndex, type BuiltIndex, type IndexEvent } from '../../ops/index-manifest.js';
import { pushManifest } from '../../ops/push.js';
import { isValidTag, parseReference, type Reference } from '../../reference/reference.js';
import { RegistryTarget } from '../../registry/target.js';
import type { FlagSpec } from '../args.js';
import type { Command } from '../command.js';
import { formatFlag, manifestSizeFlag, type Context } from '../context.js';
import { ociLayoutFlag, openTarget, type OpenedTarget } from '../target.js';
import { REMOTE } from './manifest.js';
import { registryNames, repositoryReader, withLayout, writeOutput, type ManifestReader, type Names } from './shared.js';

/**
 * `manifest index create` and `manifest index update` (ORAS 1.3): image indexes built from manifests in the
 * same repository (or OCI layout), each entry with the platform its image config declares.
 */

const annotationFlag: FlagSpec = { long: 'annotation', short: 'a', type: 'list', value: 'KEY=VALUE', desc: 'index annotation' };
const outputFlag: FlagSpec = { long: 'output', short: 'o', type: 'string', value: 'FILE', desc: 'write the index to FILE ("-" for stdout) instead of pushing it' };
const prettyFlag: FlagSpec = { long: 'pretty', type: 'bool', desc: 'pretty-print the index written by --output' };

/** Where the index goes and where its manifests come from: a registry repository or an OCI layout. */
interface IndexTarget {
  opened: OpenedTarget;
  names: Names;
  reader: ManifestReader;
  /** A SOURCE argument → the tag or digest it names in this repository or layout. */
  sourceRef(source: string): string;
}

/** `-a KEY=VALUE`, each key once; checked before anything is read. */
function annotationsOf(ctx: Context): Record<string, string> | undefined {
  const list = ctx.list('annotation');
  if (list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const a of list) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new LadingError('usage', `invalid annotation "${a}": expected KEY=VALUE`);
    const k = a.slice(0, eq);
    if (k in out) throw new LadingError('usage', `annotation "${k}" is given twice`);
    out[k] = a.slice(eq + 1);
  }
  return out;
}

/** `sha256:…` without a path: a digest, so a malformed one says so (instead of reading as a repository). */
function checkDigestLike(source: string): void {
  if (/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:/.test(source) && !source.includes('/')) parseDigest(source);
}

function registrySource(base: Reference, source: string): string {
  if (isDigest(source) || isValidTag(source)) return source;
  checkDigestLike(source);
  let r: Reference;
  try {
    r = parseReference(source);
  } catch (err) {
    throw new LadingError('usage', `invalid source "${source}": expected a tag, a digest or a reference in ${base.registry}/${base.repository} (${(err as Error).message})`);
  }
  if (r.registry !== base.registry || r.repository !== base.repository) {
    throw new LadingError('usage', `source "${source}" is not in ${base.registry}/${base.repository}: an index lists manifests of its own repository (copy it there first with lading copy)`);
  }
  return r.digest ?? r.tag!;
}

function layoutSource(base: string, source: string): string {
  if (isDigest(source) || isValidTag(source)) return source;
  checkDigestLike(source);
  const { path, reference } = parseLayoutReference(source);
  if (resolvePath(path) !== resolvePath(base) || !reference) {
    throw new LadingError('usage', `source "${source}" is not a tag or digest in OCI layout ${base}: an index lists manifests of its own layout`);
  }
  return reference;
}

/** Opens REF for reading its manifests and, unless `push` is false (--output), for writing the index. */
async function withIndexTarget<T>(ctx: Context, input: string, push: boolean, fn: (t: IndexTarget) => Promise<T>): Promise<T> {
  if (ctx.bool('oci-layout')) {
    // The sources are in the layout, so it must exist; without a push it is only read (a .tar archive works too).
    return withLayout(ctx, input, { mode: push ? 'modify' : 'read', withTags: true }, (l) =>
      fn({ opened: l.opened, names: l.names, reader: l.reader, sourceRef: (s) => layoutSource(l.opened.base, s) }),
    );
  }
  const opened = await openTarget(ctx, input, { write: push, withTags: true });
  try {
    const ref = opened.ref!;
    const repo = (opened.target as RegistryTarget).repo;
    return await fn({ opened, names: registryNames(ref), reader: repositoryReader(repo), sourceRef: (s) => registrySource(ref, s) });
  } finally {
    await opened.close();
  }
}

function short(digest: string): string {
  const [alg, hex] = digest.split(':');
  return alg === 'sha256' ? hex.slice(0, 12) : digest;
}

/** Status lines as ORAS prints them (stderr). */
function reporter(ctx: Context): (e: IndexEvent) => void {
  return (e) => {
    switch (e.kind) {
      case 'fetching':
        return ctx.status(`Fetching  ${e.source}`);
      case 'fetched':
        return ctx.status(`Fetched   ${e.descriptor.digest} ${e.source}`);
      case 'added':
        return ctx.status(`Added     ${e.descriptor.digest} ${e.source}`);
      case 'skipped':
        return ctx.status(`Skipped   ${e.descriptor.digest} ${e.source} (already in the index)`);
      case 'removed':
        return ctx.status(`Removed   ${e.descriptor.digest}`);
      case 'merged':
        return ctx.status(`Merged    ${e.descriptor.digest} ${e.source} (${e.added} new entr${e.added === 1 ? 'y' : 'ies'})`);
    }
  };
}

/** --output and tags cannot go together (nothing is pushed to tag); --output - and --format json would share stdout. */
function checkOutput(ctx: Context, extraTags: string[]): string | undefined {
  const output = ctx.str('output');
  if (output === undefined) return undefined;
  if (output === '') throw new LadingError('usage', '--output needs a file name, or "-" for stdout');
  if (output === '-' && ctx.json) throw new LadingError('usage', '--output - and --format json both write to stdout: write the index to a file, or leave out --format json');
  if (extraTags.length > 0) throw new LadingError('usage', `--output writes the index without pushing it, so it cannot be tagged ${extraTags.join(', ')}`);
  return output;
}

/** Writes the index to --output, or pushes it (under `tags`, else by digest), then prints the result. */
async function finish(ctx: Context, t: IndexTarget, built: BuiltIndex, output: string | undefined, tags: string[]): Promise<void> {
  const d = built.descriptor;
  if (output !== undefined) {
    const bytes = ctx.bool('pretty') ? Buffer.from(`${JSON.stringify(built.index, null, 2)}\n`) : built.bytes;
    await writeOutput(ctx, output, Readable.from([bytes]));
    if (output !== '-') ctx.status(`Wrote     ${output} (not pushed)`);
    tags = [];
  } else {
    await pushManifest(t.opened.target, d, built.bytes, tags);
    ctx.status(`Pushed    ${t.names.kind} ${tags.length ? `${t.names.base}:${tags[0]}` : t.names.at(d.digest)}`);
    for (const tag of tags.slice(1)) ctx.status(`Tagged    ${tag}`);
  }
  const json = { reference: t.names.at(d.digest), mediaType: d.mediaType, digest: d.digest, size: d.size, manifests: built.index.manifests, tags };
  if (output === '-') ctx.status(`Digest: ${d.digest}`);
  else ctx.result(`Digest: ${d.digest}`, json);
}

const indexCreate: Command = {
  name: 'manifest index create',
  aliases: ['manifest index pack'],
  summary: 'Create an image index from manifests in the same repository, each with the platform of its config',
  usage: 'REFERENCE[,TAG…] [SOURCE…]',
  args: [1, Infinity],
  flags: [annotationFlag, { long: 'artifact-type', type: 'string', value: 'TYPE', desc: 'artifact type of the index' }, outputFlag, prettyFlag, formatFlag, manifestSizeFlag, ociLayoutFlag, ...REMOTE],
  examples: [
    'lading manifest index create localhost:5000/hello:v1 linux-amd64 linux-arm64',
    'lading manifest index create localhost:5000/hello linux-amd64 sha256:…     # pushed by digest',
    'lading manifest index create -a org.opencontainers.image.created=2024-01-01T00:00:00Z localhost:5000/hello:v1,latest amd64 arm64',
    'lading manifest index create --output - --pretty localhost:5000/hello amd64 arm64',
    'lading manifest index create --oci-layout ./layout:v1 linux-amd64 linux-arm64',
  ],
  async run(ctx, [input, ...sources]) {
    const annotations = annotationsOf(ctx);
    const output = ctx.str('output');
    await withIndexTarget(ctx, input, output === undefined, async (t) => {
      checkOutput(ctx, t.opened.extraTags);
      const refs = sources.map((s) => t.sourceRef(s));
      const built = await createIndex(t.reader, refs, { annotations, artifactType: ctx.str('artifact-type'), onEvent: reporter(ctx) });
      ctx.status(`Packed    ${short(built.descriptor.digest)} ${built.descriptor.mediaType}`);
      const reference = t.opened.reference;
      const byDigest = reference !== undefined && isDigest(reference);
      if (byDigest && output === undefined && reference !== built.descriptor.digest) {
        throw new LadingError('digest-mismatch', `the index built is ${built.descriptor.digest}, not ${reference} as the reference says; nothing was pushed`);
      }
      const tags = [...(reference !== undefined && !byDigest && !t.opened.tagDefaulted ? [reference] : []), ...t.opened.extraTags];
      await finish(ctx, t, built, output, tags);
    });
  },
};

const indexUpdate: Command = {
  name: 'manifest index update',
  summary: 'Add, remove and merge the entries of an image index, and push the new index',
  usage: 'REFERENCE[,TAG…] [--add SOURCE]… [--remove DIGEST]… [--merge INDEX]…',
  args: [1, 1],
  flags: [
    { long: 'add', type: 'list', value: 'SOURCE', desc: 'manifest (tag or digest) to add, with the platform of its config' },
    { long: 'remove', type: 'list', value: 'DIGEST', desc: 'digest of an entry to remove' },
    { long: 'merge', type: 'list', value: 'INDEX', desc: 'index (tag or digest) whose entries are added' },
    { long: 'tag', type: 'list', value: 'TAG', desc: 'also tag the new index TAG' },
    annotationFlag,
    { long: 'artifact-type', type: 'string', value: 'TYPE', desc: 'new artifact type of the index ("" removes it)' },
    outputFlag,
    prettyFlag,
    formatFlag,
    manifestSizeFlag,
    ociLayoutFlag,
    ...REMOTE,
  ],
  examples: [
    'lading manifest index update localhost:5000/hello:v1 --add linux-s390x --remove sha256:…',
    'lading manifest index update localhost:5000/hello@sha256:… --merge v1-windows     # prints the new digest',
    'lading manifest index update --output index.json localhost:5000/hello:v1 --add linux-riscv64',
  ],
  async run(ctx, [input]) {
    const annotations = annotationsOf(ctx);
    for (const d of ctx.list('remove')) {
      if (!isDigest(d)) throw new LadingError('usage', `--remove "${d}" is not a digest: --remove takes the digest of an entry (sha256:…)`);
    }
    for (const t of ctx.list('tag')) if (!isValidTag(t)) throw new LadingError('usage', `invalid --tag "${t}"`);
    const changes = ['add', 'remove', 'merge', 'annotation', 'artifact-type'].some((f) => ctx.parsed.given.has(f));
    const output = ctx.str('output');
    await withIndexTarget(ctx, input, output === undefined, async (t) => {
      const extraTags = [...t.opened.extraTags, ...ctx.list('tag')];
      checkOutput(ctx, extraTags);
      const reference = t.opened.reference;
      if (reference === undefined || t.opened.tagDefaulted) {
        throw new LadingError('usage', `"${input}" names no tag or digest: manifest index update needs REFERENCE:TAG or REFERENCE@DIGEST`);
      }
      if (!changes) {
        ctx.status('Nothing to update as no change is requested');
        return;
      }
      const artifactType = ctx.parsed.given.has('artifact-type') ? (ctx.str('artifact-type') ?? '') : undefined;
      const built = await updateIndex(t.reader, reference, {
        add: ctx.list('add').map((s) => t.sourceRef(s)),
        remove: ctx.list('remove'),
        merge: ctx.list('merge').map((s) => t.sourceRef(s)),
        annotations,
        artifactType,
        onEvent: reporter(ctx),
      });
      ctx.status(`Updated   ${built.descriptor.digest}`);
      // A tag moves to the new index; an index named by digest cannot change, so the new one is pushed by digest.
      const tags = [...(isDigest(reference) ? [] : [reference]), ...extraTags];
      await finish(ctx, t, built, output, tags);
    });
  },
};

export const manifestIndexCommands: Command[] = [indexCreate, indexUpdate];
