import { describe, expect, test } from '@jest/globals';
import { parseChallenges } from '../../../src/registry/auth/challenge.js';

describe('parseChallenges', () => {
  test('B01: commas inside a quoted value belong to the value', () => {
    const h =
      'Bearer realm="https://registry.example/oauth2/token",service="registry.example",scope="repository:team/app:pull,push"';
    expect(parseChallenges(h)).toEqual([
      {
        scheme: 'bearer',
        params: { realm: 'https://registry.example/oauth2/token', service: 'registry.example', scope: 'repository:team/app:pull,push' },
      },
    ]);
  });

  test('B01: spaces and \\" escapes inside quoted strings', () => {
    expect(parseChallenges('Bearer realm="a, b \\"c\\" d\\\\e",error="insufficient_scope"')).toEqual([
      { scheme: 'bearer', params: { realm: 'a, b "c" d\\e', error: 'insufficient_scope' } },
    ]);
  });

  test('B02a: unquoted realm=/', () => {
    expect(parseChallenges('Basic realm=/')).toEqual([{ scheme: 'basic', params: { realm: '/' } }]);
  });

  test('B02b: token-form service and empty quoted scope', () => {
    expect(parseChallenges('Bearer realm="https://auth.example/api/v1/token",service=registry.example,scope=""')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.example/api/v1/token', service: 'registry.example', scope: '' } },
    ]);
  });

  test('B02c: optional whitespace around "," and "=" gives the same result', () => {
    const want = [{ scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example' } }];
    expect(parseChallenges('Bearer realm="https://auth.example/token", service="registry.example"')).toEqual(want);
    expect(parseChallenges('Bearer realm = "https://auth.example/token" ,  service= "registry.example" ')).toEqual(want);
    expect(parseChallenges('Bearer realm="https://auth.example/token",service="registry.example"')).toEqual(want);
  });

  test('B02: scheme and parameter names are case-insensitive (lower-cased)', () => {
    expect(parseChallenges('BEARER Realm="r",SERVICE="s"')).toEqual([{ scheme: 'bearer', params: { realm: 'r', service: 's' } }]);
    expect(parseChallenges('BASIC realm="x"')).toEqual([{ scheme: 'basic', params: { realm: 'x' } }]);
    expect(parseChallenges('bearer realm="x"')[0]!.scheme).toBe('bearer');
  });

  test('several challenges in one header and in several headers', () => {
    const want = [
      { scheme: 'bearer', params: { realm: 'https://auth.example/token', scope: 'repository:a:pull,push' } },
      { scheme: 'basic', params: { realm: 'x, y' } },
      { scheme: 'negotiate', params: {} },
    ];
    expect(parseChallenges('Bearer realm="https://auth.example/token",scope="repository:a:pull,push", Basic realm="x, y", Negotiate')).toEqual(want);
    expect(
      parseChallenges(['Bearer realm="https://auth.example/token",scope="repository:a:pull,push"', 'Basic realm="x, y"', 'Negotiate']),
    ).toEqual(want);
  });

  test('unquoted scope with an action list is kept whole', () => {
    expect(parseChallenges('Bearer realm=https://auth.example/token,scope=repository:a:pull,push,service=reg')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.example/token', scope: 'repository:a:pull,push', service: 'reg' } },
    ]);
    expect(parseChallenges('Bearer scope=repository:a:pull,push, Basic realm=x')).toEqual([
      { scheme: 'bearer', params: { scope: 'repository:a:pull,push' } },
      { scheme: 'basic', params: { realm: 'x' } },
    ]);
  });

  test('never throws on garbage; keeps what it can parse', () => {
    for (const g of ['', ',,,', '=', '"', 'Bearer realm="unterminated', '=== , "x" ,', 'Bearer ,,realm', '\u0000\u00ff', 'Negotiate abc==']) {
      expect(() => parseChallenges(g)).not.toThrow();
    }
    expect(parseChallenges('')).toEqual([]);
    expect(parseChallenges('Bearer realm="unterminated')).toEqual([{ scheme: 'bearer', params: { realm: 'unterminated' } }]);
    expect(parseChallenges('Negotiate abc==')).toEqual([{ scheme: 'negotiate', params: {} }]);
    expect(parseChallenges('realm="x", Basic realm="y"')).toEqual([{ scheme: 'basic', params: { realm: 'y' } }]);
  });
});
