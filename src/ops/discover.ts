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
  artifactType?: string;
  /** Levels of referrers to follow (1 = direct referrers only); default unlimited. */
  depth?: number;
}

/**
 * The referrers graph of a subject: its referrers, theirs, and so on (cycles cut), through the
 * registry's referrers API or the tag schema, whichever the target uses.
 */
export async function discover(target: ReadOnlyTarget & ReferrerLister, subject: Descriptor, options: DiscoverOptions = {}): Promise<ReferrerNode[]> {
  const depth = options.depth ?? Infinity;
  if (depth < 1) throw new LadingError('usage', '--depth must be at least 1');
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

/** ORAS-style tree: referrers grouped by artifact type under the subject. */
export function formatTree(root: string, nodes: ReferrerNode[]): string {
  const lines = [root];
  const render = (list: ReferrerNode[], prefix: string) => {
    const groups = new Map<string, ReferrerNode[]>();
    for (const n of list) {
      const key = n.artifactType ?? n.mediaType;
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
