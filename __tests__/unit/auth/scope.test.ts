import { describe, expect, test } from '@jest/globals';
import { mergeScopes, repositoryScope } from '../../../src/registry/auth/scope.js';

describe('repositoryScope', () => {
  test('formats type:name:actions with sorted unique actions', () => {
    expect(repositoryScope('team/app', ['pull', 'push'])).toBe('repository:team/app:pull,push');
    expect(repositoryScope('team/app', ['push', 'pull', 'push'])).toBe('repository:team/app:pull,push');
    expect(repositoryScope('team/app', ['pull'])).toBe('repository:team/app:pull');
    expect(repositoryScope('team/app', ['pull', '*'])).toBe('repository:team/app:*');
  });
});

describe('mergeScopes', () => {
  test('unions actions per resource', () => {
    expect(mergeScopes(['repository:a:pull', 'repository:a:push'])).toEqual(['repository:a:pull,push']);
    expect(mergeScopes(['repository:a:push,pull', 'repository:a:pull', 'repository:b:pull'])).toEqual([
      'repository:a:pull,push',
      'repository:b:pull',
    ]);
    expect(mergeScopes(['repository:a:pull', 'repository:a:delete,*'])).toEqual(['repository:a:*']);
  });

  test('B04: opaque scopes are kept verbatim and never re-wrapped', () => {
    expect(mergeScopes(['repository:team/app:pull', 'aws'])).toEqual(['aws', 'repository:team/app:pull']);
    expect(mergeScopes(['repository:user/image:pull'])).toEqual(['repository:user/image:pull']);
    expect(mergeScopes(['registry:catalog', 'weird:', ':x:y'])).toEqual([':x:y', 'registry:catalog', 'weird:']);
    expect(mergeScopes(['registry:catalog:*'])).toEqual(['registry:catalog:*']);
  });

  test('B07: each scope once, empty dropped, space-separated lists split, stable order', () => {
    const a = mergeScopes(['repository:team/app:pull,push', 'repository:team/app:pull,push', '', 'aws aws']);
    expect(a).toEqual(['aws', 'repository:team/app:pull,push']);
    expect(mergeScopes(['aws', 'repository:team/app:push', 'repository:team/app:pull'])).toEqual(a);
    expect(mergeScopes(['repository:b:pull repository:a:pull'])).toEqual(['repository:a:pull', 'repository:b:pull']);
    expect(mergeScopes([])).toEqual([]);
    expect(mergeScopes([''])).toEqual([]);
  });

  test('names with colons keep their name; actions come after the last colon', () => {
    expect(mergeScopes(['repository:host:5000/a:pull', 'repository:host:5000/a:push'])).toEqual(['repository:host:5000/a:pull,push']);
  });
});
