/** ORAS `--oci-layout` reference syntax: PATH[:TAG|@DIGEST], with colons kept in the folder part. */
import { describe, expect, it } from '@jest/globals';
import { parseLayoutReference } from '../../../src/content/oci-layout/store.js';
import { LadingError } from '../../../src/errors/errors.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseLayoutReference', () => {
  it.each([
    ['layout', { path: 'layout' }],
    ['layout:v1', { path: 'layout', reference: 'v1' }],
    [`layout@${D}`, { path: 'layout', reference: D }],
    ['./out/layout:1.0_rc-1', { path: './out/layout', reference: '1.0_rc-1' }],
    ['/abs/path/layout:latest', { path: '/abs/path/layout', reference: 'latest' }],
    [`/abs/path/layout@${D}`, { path: '/abs/path/layout', reference: D }],
    ['./a:b/c', { path: './a:b/c' }],
    ['./a:b/c:t', { path: './a:b/c', reference: 't' }],
    [`./a:b/c@${D}`, { path: './a:b/c', reference: D }],
    ['/x/@scope/layout', { path: '/x/@scope/layout' }],
    ['layout.tar', { path: 'layout.tar' }],
    ['out/layout.tar:v2', { path: 'out/layout.tar', reference: 'v2' }],
    ['layout/', { path: 'layout/' }],
    ['C:\\x\\layout', { path: 'C:\\x\\layout' }],
    ['C:\\x\\layout:v1', { path: 'C:\\x\\layout', reference: 'v1' }],
    [`C:\\x\\layout@${D}`, { path: 'C:\\x\\layout', reference: D }],
    ['C:/x/layout:v1', { path: 'C:/x/layout', reference: 'v1' }],
    ['D:\\', { path: 'D:\\' }],
    ['\\\\server\\share\\layout:v1', { path: '\\\\server\\share\\layout', reference: 'v1' }],
    [`layout:${'t'.repeat(128)}`, { path: 'layout', reference: 't'.repeat(128) }],
  ])('%s', (input, expected) => {
    expect(parseLayoutReference(input)).toEqual(expected);
  });

  it.each([
    ['', /empty/],
    ['layout:', /empty tag/],
    ['layout@', /empty digest/],
    [':v1', /missing layout path/],
    [`@${D}`, /missing layout path/],
    ['layout:-bad', /invalid tag "-bad"/],
    ['layout:.bad', /invalid tag/],
    ['layout:a+b', /invalid tag "a\+b"/],
    [`layout:${'t'.repeat(129)}`, /invalid tag/],
    ['layout@sha256:abc', /invalid digest "sha256:abc"/],
    ['layout@latest', /invalid digest "latest"/],
    [`layout@md5:${'a'.repeat(32)}`, /unsupported algorithm "md5"/],
    [`layout:v1@${D}`, /a tag or a digest, not both/],
    ['C:\\x\\layout:bad tag', /invalid tag/],
  ])('%s is a usage error', (input, message) => {
    let err: unknown;
    try {
      parseLayoutReference(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LadingError);
    expect((err as LadingError).kind).toBe('usage');
    expect((err as LadingError).message).toMatch(message);
    if (input !== '') expect((err as LadingError).message).toContain(`"${input}"`);
  });
});
