import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Deleter, ReferrerLister, TagLister, Target } from '../content/interfaces.js';
import { OciLayoutStore, parseLayoutReference } from '../content/oci-layout/store.js';
import { isTarFile } from '../content/oci-layout/tar.js';
import { LadingError } from '../errors/errors.js';
import { formatReference, parseReference, parseReferenceWithTags, type Reference } from '../reference/reference.js';
import { RegistryTarget, type ReferrersMode } from '../registry/target.js';
import type { FlagSpec } from './args.js';
import type { Context } from './context.js';

export const ociLayoutFlag: FlagSpec = { long: 'oci-layout', type: 'bool', desc: 'the reference is an OCI image layout folder: PATH[:TAG|@DIGEST]' };
export const distributionSpecFlag: FlagSpec = {
  long: 'distribution-spec',
  type: 'string',
  value: 'v1.1-referrers-api|v1.1-referrers-tag',
  desc: 'how referrers are found and recorded (default: the API when the registry has it, else the tag schema)',
};

export type AnyTarget = Target & TagLister & Deleter & ReferrerLister;

/** A store opened from a command-line reference: a registry repository, or an OCI layout with --oci-layout. */
export interface OpenedTarget {
  target: AnyTarget;
  /** Tag or digest named by the reference, if any. */
  reference?: string;
  /** The reference is the default `latest`, not given: a push goes by digest. */
  tagDefaulted?: boolean;
  /** Extra tags from `REF,TAG2,TAG3`. */
  extraTags: string[];
  /** `[registry] host/repo:tag` or `[oci-layout] path:tag`, for messages. */
  display: string;
  /** The same without the kind: `host/repo:tag` or `path:tag`. */
  shown: string;
  /** Where it is, without tag or digest: `host/repo` or the layout path. */
  base: string;
  kind: 'registry' | 'oci-layout';
  ref?: Reference;
  close(): Promise<void>;
}

function referrersMode(ctx: Context, side = ''): ReferrersMode {
  const v = ctx.str(`${side}distribution-spec`);
  if (v === undefined) return 'auto';
  if (v === 'v1.1-referrers-api') return 'api';
  if (v === 'v1.1-referrers-tag') return 'tag';
  throw new LadingError('usage', `invalid --distribution-spec "${v}": expected v1.1-referrers-api or v1.1-referrers-tag`);
}

export async function openTarget(ctx: Context, input: string, options: { write: boolean; withTags?: boolean; side?: 'from-' | 'to-' }): Promise<OpenedTarget> {
  const side = options.side ?? '';
  if (ctx.bool(`${side}oci-layout`)) {
    const [first, ...extraTags] = options.withTags ? splitTags(input) : [input];
    const { path, reference } = parseLayoutReference(first);
    const store = await OciLayoutStore.open(path, { create: options.write, readOnly: !options.write });
    const shown = `${path}${reference ? (reference.includes(':') ? `@${reference}` : `:${reference}`) : ''}`;
    return { target: store, reference, extraTags, display: `[oci-layout] ${shown}`, shown, base: path, kind: 'oci-layout', close: () => store.close() };
  }
  const { ref, extraTags } = options.withTags ? parseReferenceWithTags(input) : { ref: parseReference(input), extraTags: [] };
  const registry = await ctx.registry(ref, side);
  const repo = registry.repository(ref.repository, { forPush: options.write });
  const target = new RegistryTarget(repo, { referrers: referrersMode(ctx, side), log: (l) => ctx.status(l) });
  const shown = formatReference(ref);
  return { target, reference: ref.digest ?? ref.tag, tagDefaulted: Boolean(ref.tagDefaulted && !ref.digest), extraTags, display: `[registry] ${shown}`, shown, base: `${ref.registry}/${ref.repository}`, kind: 'registry', ref, close: async () => {} };
}

/** `path:tag,tag2` → ['path:tag', 'tag2'] (commas after the last path separator separate tags). */
function splitTags(input: string): string[] {
  const sep = Math.max(input.lastIndexOf('/'), input.lastIndexOf('\\'));
  const comma = input.indexOf(',', sep + 1);
  if (comma < 0) return [input];
  return [input.slice(0, comma), ...input.slice(comma + 1).split(',')];
}

/** How `openLayout` opens a layout: to read it, to change what is in it, or to write into it (created when missing). */
export type LayoutMode = 'read' | 'modify' | 'create';

/** An opened `--oci-layout` reference, with its store typed as the layout it is. */
export type OpenedLayout = OpenedTarget & { kind: 'oci-layout'; target: OciLayoutStore };

/**
 * The OCI layout named by `PATH[:TAG|@DIGEST]` (and `,TAG…` with withTags), for the commands that read or
 * write one piece of content. 'read': a missing layout is not found, a `.tar` archive is read. 'modify' (tag,
 * delete): the layout must exist; 'create' (push): it is created when missing. Writing into a `.tar` archive is
 * refused before anything is read or written.
 */
export async function openLayout(input: string, options: { mode: LayoutMode; withTags?: boolean }): Promise<OpenedLayout> {
  const [first, ...extraTags] = options.withTags ? splitTags(input) : [input];
  const { path, reference } = parseLayoutReference(first);
  if (options.mode !== 'read' && (await isArchive(path))) {
    throw new LadingError(
      'unsupported',
      `${path} is an OCI layout tar archive, which lading reads but does not write; write to a folder, then archive it with tar -cf ${basename(path)} -C FOLDER .`,
    );
  }
  const store = await OciLayoutStore.open(path, { create: options.mode === 'create', readOnly: options.mode === 'read' });
  const shown = `${path}${reference ? (reference.includes(':') ? `@${reference}` : `:${reference}`) : ''}`;
  return { target: store, reference, extraTags, display: `[oci-layout] ${shown}`, shown, base: path, kind: 'oci-layout', close: () => store.close() };
}

/** `PATH[:TAG],TAG2,…` → ['PATH[:TAG]', 'TAG2', …], split as openTarget and openLayout split it (to check it before opening anything). */
export function splitLayoutTags(input: string): string[] {
  return splitTags(input);
}

async function isArchive(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile() && (await isTarFile(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw err;
  }
}
