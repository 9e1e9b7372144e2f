/**
 * The referrers graph walk and its renderings, on an in-memory lister: ORAS's tree (grouping, order,
 * `<unknown>` for a referrer without an artifact type), the JSON shape, --depth, and cycles cut.
 */
import { describe, expect, it } from '@jest/globals';
import type { Descriptor } from '../../../src/oci/descriptor.js';
import { discover, discoverJson, formatTree } from '../../../src/ops/discover.js';
import { rejection } from '../registry/harness.js';

const d = (n: number, artifactType?: string): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  size: 100 + n,
  ...(artifactType ? { artifactType } : {}),
});
const S = d(0);

/** A lister over a fixed graph: subject digest → its referrers. */
function graph(edges: Record<string, Descriptor[]>) {
  const calls: string[] = [];
  return {
    calls,
    target: {
      referrers: async (subject: Descriptor, artifactType?: string) => {
        calls.push(`${subject.digest.slice(7, 9)}${artifactType ? `?${artifactType}` : ''}`);
        return (edges[subject.digest] ?? []).filter((r) => !artifactType || r.artifactType === artifactType);
      },
      fetch: async () => {
        throw new Error('not used');
      },
      exists: async () => true,
      resolve: async () => S,
    },
  };
}

describe('discover', () => {
  const a = d(1, 'x/sbom');
  const b = d(2);
  const c = d(3, 'x/sbom');
  const e = d(4, 'x/sig');
  const edges = { [S.digest]: [a, b, c], [a.digest]: [e] };

  it('the tree: groups in order of first appearance, <unknown> for no artifact type, nesting under the digest', async () => {
    const nodes = await discover(graph(edges).target, S);
    expect(formatTree('h/r@' + S.digest, nodes)).toBe(
      [
        `h/r@${S.digest}`,
        '├── x/sbom',
        `│   ├── ${a.digest}`,
        '│   │   └── x/sig',
        `│   │       └── ${e.digest}`,
        `│   └── ${c.digest}`,
        '└── <unknown>',
        `    └── ${b.digest}`,
        '',
      ].join('\n'),
    );
  });

  it('the JSON shape: reference, mediaType, digest, size, annotations, artifactType, referrers (keys in that order)', async () => {
    const withNote = { ...e, annotations: { note: 'n' } };
    const nodes = await discover(graph({ [S.digest]: [withNote] }).target, S);
    const json = discoverJson('h/r', S, nodes);
    expect(json).toEqual({
      reference: `h/r@${S.digest}`,
      mediaType: S.mediaType,
      digest: S.digest,
      size: S.size,
      referrers: [{ reference: `h/r@${e.digest}`, mediaType: e.mediaType, digest: e.digest, size: e.size, annotations: { note: 'n' }, artifactType: 'x/sig', referrers: [] }],
    });
    expect(Object.keys(json.referrers[0])).toEqual(['reference', 'mediaType', 'digest', 'size', 'annotations', 'artifactType', 'referrers']);
  });

  it('depth 1 asks for one level only; 0 and undefined walk everything', async () => {
    const one = graph(edges);
    expect((await discover(one.target, S, { depth: 1 })).map((n) => n.referrers.length)).toEqual([0, 0, 0]);
    expect(one.calls).toEqual(['00']);
    for (const depth of [0, undefined]) {
      const all = graph(edges);
      await discover(all.target, S, { depth });
      expect(all.calls).toEqual(['00', '11', '44', '22', '33']);
    }
    await expect(rejection(discover(graph(edges).target, S, { depth: -1 }))).resolves.toMatchObject({ kind: 'usage' });
  });

  it('the artifact type filter is passed at every level', async () => {
    const g = graph(edges);
    await discover(g.target, S, { artifactType: 'x/sbom' });
    expect(g.calls).toEqual(['00?x/sbom', '11?x/sbom', '33?x/sbom']);
  });

  it('a cycle (a registry listing a referrer of itself, or its subject) is cut', async () => {
    const g = graph({ [S.digest]: [a], [a.digest]: [a, S] });
    const nodes = await discover(g.target, S);
    expect(nodes[0].referrers.map((n) => [n.digest, n.referrers.length])).toEqual([
      [a.digest, 0],
      [S.digest, 0],
    ]);
    expect(g.calls).toEqual(['00', '11']);
  });
});
