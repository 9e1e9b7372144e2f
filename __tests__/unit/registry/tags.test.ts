import { describe, expect, it } from '@jest/globals';
import type { Step } from './fake-registry.js';
import { useFakes } from './harness.js';

const { fake, client } = useFakes();

const LIST = '/v2/team/app/tags/list';
const tagsFrom = (from: number, n: number) => Array.from({ length: n }, (_, i) => `v0.${from + i}`);
const page = (url: string, tags: string[], link?: string): Step => ({
  method: 'GET',
  url,
  status: 200,
  headers: link ? { link } : {},
  body: { name: 'team/app', tags },
});

describe('B27: tag list pagination', () => {
  it('(a) a relative Link is resolved against the request URL; its query (n=0) is kept exactly', async () => {
    const first = tagsFrom(0, 100);
    const second = tagsFrom(100, 69);
    const reg = await fake([
      page(LIST, first, `<${LIST}?last=v0.99&n=0>; rel="next"`),
      page(`${LIST}?last=v0.99&n=0`, second),
    ]);
    const tags = await client(reg).repo.tags();
    reg.assertDone();
    expect(tags).toHaveLength(169);
    expect(tags).toEqual([...first, ...second]);
    expect(reg.seen.map((s) => s.headers.accept)).toEqual(['application/json', 'application/json']);
  });

  it('(b) never sends n: the first request has no query, or only `last`', async () => {
    const reg = await fake([page(LIST, ['a']), page(`${LIST}?last=v1.0`, ['v1.1'])]);
    const { repo } = client(reg);
    expect(await repo.tags()).toEqual(['a']);
    expect(await repo.tags({ last: 'v1.0' })).toEqual(['v1.1']);
    reg.assertDone();
  });

  it('(c) follows Link until none, whatever the page sizes (an empty orderby= kept)', async () => {
    const reg = await fake([
      page(LIST, ['t1', 't2', 't3'], `<${LIST}?last=t3&n=1000&orderby=>; rel="next"`),
      page(`${LIST}?last=t3&n=1000&orderby=`, ['t4'], `<${LIST}?last=t4&n=1000&orderby=>; rel="next"`),
      page(`${LIST}?last=t4&n=1000&orderby=`, [], `<${LIST}?last=t4b&n=1000&orderby=>; rel="next"`),
      page(`${LIST}?last=t4b&n=1000&orderby=`, ['t5', 't6']),
    ]);
    expect(await client(reg).repo.tags()).toEqual(['t1', 't2', 't3', 't4', 't5', 't6']);
    reg.assertDone();
  });

  it('stops when a next URL repeats (loop guard)', async () => {
    const reg = await fake([
      page(LIST, ['a'], `<${LIST}?last=a>; rel="next"`),
      page(`${LIST}?last=a`, ['b'], (`<${LIST}>; rel="next"`)),
    ]);
    expect(await client(reg).repo.tags()).toEqual(['a', 'b']);
    reg.assertDone();

    const self = await fake([page(LIST, ['a'], `<${LIST}>; rel="next"`)]);
    expect(await client(self).repo.tags()).toEqual(['a']);
    self.assertDone();
  });

  it('a cursor with commas: <…> is parsed before splitting the header on commas', async () => {
    const reg = await fake([
      page(LIST, ['a'], `<${LIST}?last=x,y>; rel="prev", <${LIST}?last=a,b&n=2>; rel="next"`),
      page(`${LIST}?last=a,b&n=2`, ['c'], `<${LIST}?last=c,d>; rel=next; title="p, 3"`),
      page(`${LIST}?last=c,d`, ['e']),
    ]);
    expect(await client(reg).repo.tags()).toEqual(['a', 'c', 'e']);
    reg.assertDone();
  });

  it('an absolute Link to another origin is followed as given', async () => {
    const other = await fake([page(`${LIST}?last=a&sig=x%2By`, ['b'])]);
    const reg = await fake([page(LIST, ['a'], `<${other.origin}${LIST}?last=a&sig=x%2By>; rel="next"`)]);
    expect(await client(reg).repo.tags()).toEqual(['a', 'b']);
    reg.assertDone();
    other.assertDone();
  });

  it('the catalog paginates the same way (URL-encoded last kept)', async () => {
    const reg = await fake([
      { method: 'GET', url: '/v2/_catalog', status: 200, headers: { link: '</v2/_catalog?last=probe%2Fa&n=1>; rel="next"' }, body: { repositories: ['probe/a'] } },
      { method: 'GET', url: '/v2/_catalog?last=probe%2Fa&n=1', status: 200, body: { repositories: ['team/app'] } },
    ]);
    expect(await client(reg).registry.catalog()).toEqual(['probe/a', 'team/app']);
    reg.assertDone();
  });
});
