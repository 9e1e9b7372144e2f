import { describe, expect, it } from '@jest/globals';
import { parseRegistryAuth, RegistryAuthError } from '../../../src/action/registry-auth.js';

describe('registry-auth: the YAML subset', () => {
  it('reads a list of registries, with comments, quotes and blank lines', () => {
    const text = [
      '# the registries of this job',
      '- registry: ghcr.io',
      '  username: octo-cat',
      '  password: ghp_abc#not-a-comment   # a comment',
      '',
      '-   registry: "registry.example:5000"',
      '    username: \'ci\'',
      "    password: 'it''s: \"quoted\" # too'",
      '-',
      '  registry: docker.io',
      '  username: "a\\"b"',
      '  password: "tab\\there"',
    ].join('\n');
    expect(parseRegistryAuth(text)).toEqual([
      { registry: 'ghcr.io', username: 'octo-cat', password: 'ghp_abc#not-a-comment' },
      { registry: 'registry.example:5000', username: 'ci', password: 'it\'s: "quoted" # too' },
      { registry: 'docker.io', username: 'a"b', password: 'tab\there' },
    ]);
  });

  it('reads an empty input (or comments only) as no registries, and CRLF lines like LF', () => {
    expect(parseRegistryAuth('')).toEqual([]);
    expect(parseRegistryAuth('\n# nothing\n')).toEqual([]);
    expect(parseRegistryAuth('- registry: a.example\r\n  username: u\r\n  password: p\r\n')).toEqual([{ registry: 'a.example', username: 'u', password: 'p' }]);
  });

  it.each([
    ['registry: ghcr.io\nusername: u\npassword: p', 'line 1: expected a list of entries'],
    ['- registry: ghcr.io\n  username: u', 'entry 1 (line 1) for ghcr.io: "password" is missing or empty'],
    ['- registry: ghcr.io\n  username: u\n  password:', '"password" is missing or empty'],
    ['- registry: ghcr.io\n  username: u\n  password: ""', '"password" is missing or empty'],
    ['- username: u\n  password: p', 'entry 1 (line 1): "registry" is missing or empty'],
    ['- registry: ghcr.io\n  user: u\n  password: p', 'line 2: unknown key "user"'],
    ['- registry: ghcr.io\n  username: u\n  username: v\n  password: p', 'line 3: "username" given twice'],
    ['- registry: ghcr.io\n\tusername: u', 'line 2: indent with spaces, not tabs'],
    ['- registry: ghcr.io\n    username: u\n  password: p', 'line 2: keys of an entry must line up'],
    ['- registry: a.example\n  username: u\n  password: p\n - registry: b.example', 'line 4: list items must line up'],
    ['- registry: ghcr.io\n  username: u\n  password: |\n    p', 'line 3: block scalars (| or >) are not read here'],
    ['- registry: ghcr.io\n  username: u\n  password: *alias', 'line 3: the value of "password" starts with a YAML indicator'],
    ['- registry: ghcr.io\n  username: u\n  password: "open', 'line 3: the value of "password" has no closing quote'],
    ["- registry: ghcr.io\n  username: u\n  password: 'a' b", 'line 3: unexpected text after the quoted value'],
    ['- registry: ghcr.io\n  username: u\n  password: a: b', 'line 3: the value of "password" holds ": "'],
    ['- registry: ghcr.io\n  username: u\n  password: "a\\qb"', 'line 3: the value of "password" uses an escape'],
    ['[{registry: ghcr.io}]', 'line 1: expected a list of entries'],
    ['- registry: ghcr.io\n  username: u\n  password: p\n- registry: GHCR.io\n  username: u\n  password: p', 'GHCR.io is listed twice'],
    ['- registry: ghcr.io\n  username: u\n  password: p\n  extra line', 'line 4: expected "key: value"'],
  ])('rejects %j with an error naming the line', (text, message) => {
    expect(() => parseRegistryAuth(text)).toThrow(RegistryAuthError);
    expect(() => parseRegistryAuth(text)).toThrow(message);
  });

  it('never quotes a value in an error: any value may be a password', () => {
    const secret = 'S3cr3t-value-xyz';
    for (const text of [
      `- registry: ghcr.io\n  username: u\n  password: ${secret}: more`,
      `- registry: ghcr.io\n  username: u\n  password: "${secret}`,
      `- registry: ghcr.io\n  username: u\n  password: '${secret}' tail`,
      `- registry: ghcr.io\n  ${secret}: p`,
      `${secret}`,
      `- registry: ghcr.io\n  username: u\n  password: *${secret}`,
    ]) {
      let message = '';
      try {
        parseRegistryAuth(text);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/^input "registry-auth"/);
      expect(message).not.toContain(secret.slice(0, 8));
    }
  });
});
