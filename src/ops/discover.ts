import type { ReadOnlyTarget, ReferrerLister } from '../content/interfaces.js';
import { LadingError } from '../errors/errors.js';
import type { Descriptor } from '../oci/descriptor.js';

export interface ReferrerNode {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  referrers: ReferrerNode[];
}

export interface DiscoverOptions {
  /** Only referrers of this artifact type, at every level (as ORAS filters). */
  artifactType?: string;
  /** Levels of referrers to follow (1 = direct referrers only); 0 or undefined = all (ORAS: 0). */
  depth?: number;
}

/**
 * The referrers graph of a subject: its referrers, theirs, and so on (cycles cut), through the
 * registry's referrers API or the tag schema, whichever the target uses.
 */
export async function discover(target: ReadOnlyTarget & ReferrerLister, subject: Descriptor, options: DiscoverOptions = {}): Promise<ReferrerNode[]> {
  if (options.depth !== undefined && (!Number.isInteger(options.depth) || options.depth < 0)) throw new LadingError('usage', '--depth must be 0 (all levels) or more');
  const depth = options.depth ? options.depth : Infinity;
  const walk = async (d: Descriptor, level: number, path: Set<string>): Promise<ReferrerNode[]> => {
    const found = await target.referrers(d, options.artifactType);
    const out: ReferrerNode[] = [];
    for (const r of found) {
      const node: ReferrerNode = { mediaType: r.mediaType, digest: r.digest, size: r.size, referrers: [] };
      if (r.artifactType) node.artifactType = r.artifactType;
      if (r.annotations && Object.keys(r.annotations).length) node.annotations = r.annotations;
      if (level < depth && !path.has(r.digest)) node.referrers = await walk(r, level + 1, new Set([...path, r.digest]));
      out.push(node);
    }
    return out;
  };
  return walk(subject, 1, new Set([subject.digest]));
}

/** What ORAS shows for a referrer without an artifact type. */
export const UNKNOWN_ARTIFACT_TYPE = '<unknown>';

/**
 * ORAS's tree: the subject (`HOST/REPO@DIGEST`, or `PATH@DIGEST` for a layout) as the root, its
 * referrers grouped by artifact type (in order of first appearance), their digests under the type,
 * and each referrer's own referrers nested under its digest.
 */
export function formatTree(root: string, nodes: ReferrerNode[]): string {
  const lines = [root];
  const render = (list: ReferrerNode[], prefix: string) => {
    const groups = new Map<string, ReferrerNode[]>();
    for (const n of list) {
      const key = n.artifactType || UNKNOWN_ARTIFACT_TYPE;
      groups.set(key, [...(groups.get(key) ?? []), n]);
    }
    const entries = [...groups.entries()];
    entries.forEach(([type, members], gi) => {
      const lastGroup = gi === entries.length - 1;
      lines.push(`${prefix}${lastGroup ? '└── ' : '├── '}${type}`);
      const inner = prefix + (lastGroup ? '    ' : '│   ');
      members.forEach((m, mi) => {
        const lastMember = mi === members.length - 1;
        lines.push(`${inner}${lastMember ? '└── ' : '├── '}${m.digest}`);
        if (m.referrers.length) render(m.referrers, inner + (lastMember ? '    ' : '│   '));
      });
    });
  };
  render(nodes, '');
  return `${lines.join('\n')}\n`;
}

/** One node of `discover --format json` (ORAS's shape: a descriptor with its reference, and its referrers). */
export interface DiscoverJson {
  reference: string;
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  artifactType?: string;
  referrers: DiscoverJson[];
}

/** `discover --format json`: the subject with `reference` = `BASE@DIGEST`, and every referrer the same way, nested. */
export function discoverJson(base: string, subject: Descriptor, nodes: ReferrerNode[]): DiscoverJson {
  const one = (d: { mediaType: string; digest: string; size: number; annotations?: Record<string, string>; artifactType?: string }, children: ReferrerNode[]): DiscoverJson => {
    const out = { reference: `${base}@${d.digest}`, mediaType: d.mediaType, digest: d.digest, size: d.size } as DiscoverJson;
    if (d.annotations && Object.keys(d.annotations).length) out.annotations = d.annotations;
    if (d.artifactType) out.artifactType = d.artifactType;
    out.referrers = children.map((c) => one(c, c.referrers));
    return out;
  };
  return one({ mediaType: subject.mediaType, digest: subject.digest, size: subject.size }, nodes);
}
