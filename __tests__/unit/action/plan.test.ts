import { describe, expect, it } from '@jest/globals';
import { InputError, parseInputs, toCliArgs } from '../../../src/action/inputs.js';
import { commandInputs, planCredentials, planSecrets, touchedRegistries } from '../../../src/action/plan.js';

const parse = (values: Record<string, string>) => parseInputs((name) => values[name] ?? '');
const plan = (values: Record<string, string>, env: { GITHUB_ACTOR?: string } = {}) => planCredentials(parse(values), env);
const TWO = '- registry: a.example\n  username: ua\n  password: pa\n- registry: docker.io\n  username: ub\n  password: pb\n';

describe('what the Action stores, and what it passes the command', () => {
  it('stores registry/username/password and runs the command on the stored config, with no flag credentials', () => {
    const i = parse({ command: 'resolve', reference: 'r.example/a:1', registry: 'https://R.example/', username: 'u', password: 'p' });
    const p = planCredentials(i);
    expect(p).toEqual({ store: [{ registry: 'https://R.example/', key: 'r.example', username: 'u', password: 'p', from: 'inputs' }] });
    const args = toCliArgs(commandInputs(i, p, '/tmp/job/config.json'));
    expect(args).toEqual(['resolve', 'r.example/a:1', '--format', 'json', '--registry-config', '/tmp/job/config.json']);
  });

  it('takes the registry from the reference when only username/password are given', () => {
    expect(plan({ command: 'pull', reference: 'Registry.Example:5000/team/app:v1', username: 'u', password: 'p' }).store.map((s) => s.key)).toEqual(['registry.example:5000']);
    expect(plan({ command: 'pull', reference: 'alpine', username: 'u', password: 'p' }).store.map((s) => s.key)).toEqual(['https://index.docker.io/v1/']);
    expect(plan({ command: 'repo-ls', reference: 'r.example/team', username: 'u', password: 'p' }).store.map((s) => s.key)).toEqual(['r.example']);
  });

  it('keeps username/password as flags (not stored) for copy/convert without registry, a layout, or an explicit registry-config', () => {
    expect(plan({ command: 'copy', source: 'a.example/x:1', destination: 'b.example/y:1', username: 'u', password: 'p' })).toEqual({ store: [], flags: { username: 'u', password: 'p' } });
    expect(plan({ command: 'pull', reference: './layout:v1', 'oci-layout': 'true', username: 'u', password: 'p' })).toEqual({ store: [], flags: { username: 'u', password: 'p' } });
    const i = parse({ command: 'resolve', reference: 'r.example/a:1', username: 'u', password: 'p', 'registry-config': 'my.json' });
    const p = planCredentials(i);
    expect(p).toEqual({ store: [], flags: { username: 'u', password: 'p' } });
    expect(toCliArgs(commandInputs(i, p))).toEqual(['resolve', 'r.example/a:1', '--format', 'json', '--registry-config', 'my.json', '--username', 'u', '--password-stdin']);
  });

  it('stores every registry-auth entry; copy reads both sides from the stored config', () => {
    const i = parse({ command: 'copy', source: 'a.example/x:1', destination: 'docker.io/me/y:1', 'registry-auth': TWO });
    const p = planCredentials(i);
    expect(p.store.map((s) => [s.key, s.username, s.from])).toEqual([
      ['a.example', 'ua', 'registry-auth'],
      ['https://index.docker.io/v1/', 'ub', 'registry-auth'],
    ]);
    expect(p.flags).toBeUndefined();
    expect(toCliArgs(commandInputs(i, p, '/c.json'))).toEqual(['copy', 'a.example/x:1', 'docker.io/me/y:1', '--format', 'json', '--from-registry-config', '/c.json', '--to-registry-config', '/c.json']);
    expect(planSecrets(i, p)).toEqual(['pa', 'pb']);
  });

  it('setup and version store credentials for later steps, when the registry is named', () => {
    expect(plan({ command: 'setup', registry: 'ghcr.io', username: 'u', password: 'p' }).store.map((s) => s.key)).toEqual(['ghcr.io']);
    expect(plan({ command: 'setup', 'registry-auth': TWO }).store).toHaveLength(2);
    expect(() => plan({ command: 'setup', username: 'u', password: 'p' })).toThrow('command "setup" has no reference: give "registry"');
  });

  describe('ghcr.io and the github-token', () => {
    it('uses the token (as GITHUB_ACTOR, else x-access-token) when the command uses ghcr.io without credentials for it', () => {
      const p = plan({ command: 'push', reference: 'ghcr.io/o/app:1', files: 'a.txt', 'github-token': 'ghs_tok' }, { GITHUB_ACTOR: 'octocat' });
      expect(p.store).toEqual([{ registry: 'ghcr.io', key: 'ghcr.io', username: 'octocat', password: 'ghs_tok', from: 'github-token' }]);
      expect(plan({ command: 'resolve', reference: 'ghcr.io/o/app:1', 'github-token': 'ghs_tok' }).store[0].username).toBe('x-access-token');
      // copy: a ghcr.io side without its own credentials is enough
      expect(plan({ command: 'copy', source: 'a.example/x:1', destination: 'ghcr.io/o/y:1', 'github-token': 'ghs_tok' }).store.map((s) => s.key)).toEqual(['ghcr.io']);
    });

    it.each([
      ['another registry', { command: 'resolve', reference: 'r.example/a:1', 'github-token': 't' }],
      ['no token', { command: 'resolve', reference: 'ghcr.io/o/a:1' }],
      ['credentials given for ghcr.io', { command: 'resolve', reference: 'ghcr.io/o/a:1', username: 'u', password: 'pat', 'github-token': 't' }],
      ['ghcr.io in registry-auth', { command: 'resolve', reference: 'ghcr.io/o/a:1', 'registry-auth': '- registry: https://ghcr.io\n  username: u\n  password: pat', 'github-token': 't' }],
      ['an explicit registry-config', { command: 'resolve', reference: 'ghcr.io/o/a:1', 'registry-config': 'c.json', 'github-token': 't' }],
      ['a layout', { command: 'resolve', reference: './ghcr.io:1', 'oci-layout': 'true', 'github-token': 't' }],
      ['copy with credentials for the ghcr.io side', { command: 'copy', source: 'ghcr.io/o/x:1', destination: 'b.example/y:1', 'source-username': 'u', 'source-password': 'pat', 'github-token': 't' }],
      ['copy with username/password for both sides', { command: 'copy', source: 'ghcr.io/o/x:1', destination: 'b.example/y:1', username: 'u', password: 'pat', 'github-token': 't' }],
      ['logout', { command: 'logout', reference: 'ghcr.io', 'github-token': 't' }],
      ['setup', { command: 'setup', 'github-token': 't' }],
    ])('does not use it with %s', (_, values) => {
      expect(plan(values).store.filter((s) => s.from === 'github-token')).toEqual([]);
    });

    it('logs in to ghcr.io with the token, password on stdin', () => {
      const i = parse({ command: 'login', reference: 'ghcr.io', 'github-token': 'ghs_tok' });
      const p = planCredentials(i, { GITHUB_ACTOR: 'octocat' });
      expect(p.flags).toEqual({ username: 'octocat', password: 'ghs_tok' });
      const cli = commandInputs(i, p, '/c.json');
      expect(toCliArgs(cli)).toEqual(['login', 'ghcr.io', '--format', 'json', '--registry-config', '/c.json', '--username', 'octocat', '--password-stdin']);
      expect(cli.password).toBe('ghs_tok');
    });
  });

  it('logs in with the registry-auth entry for the reference, or the registry input as the reference', () => {
    expect(plan({ command: 'login', reference: 'https://docker.io/', 'registry-auth': TWO }).flags).toEqual({ username: 'ub', password: 'pb' });
    expect(parse({ command: 'login', registry: 'r.example', username: 'u', password: 'p' }).reference).toBe('r.example');
    expect(() => parse({ command: 'login', reference: 'other.example', registry: 'r.example', username: 'u', password: 'p' })).toThrow('name different hosts');
  });

  it.each([
    [{ command: 'login', reference: 'r.example' }, 'command "login" needs credentials for r.example'],
    [{ command: 'login', reference: 'r.example', 'registry-auth': TWO }, 'command "login" needs credentials for r.example'],
    [{ command: 'resolve', reference: 'r.example/a:1', registry: 'r.example', username: 'u', password: 'p', 'registry-config': 'c.json' }, 'input "registry-config" cannot be combined with "registry"'],
    [{ command: 'resolve', reference: 'r.example/a:1', 'registry-auth': TWO, 'registry-config': 'c.json' }, 'input "registry-config" cannot be combined with "registry-auth"'],
    [{ command: 'resolve', reference: 'r.example/a:1', registry: 'u:p@r.example', username: 'u', password: 'p' }, 'input "registry": invalid registry'],
    [{ command: 'resolve', reference: 'r.example/a:1', 'registry-auth': '- registry: a.example\n  username: u\n  password: p\n- registry: https://A.example/v2/\n  username: u\n  password: p' }, 'a.example is listed twice'],
    [{ command: 'resolve', reference: 'r.example/a:1', registry: 'r.example', username: 'a:b', password: 'p' }, 'must not contain ":"'],
  ])('rejects %j before any network call', (values, message) => {
    expect(() => plan(values as Record<string, string>)).toThrow(InputError);
    expect(() => plan(values as Record<string, string>)).toThrow(message);
  });

  it('lists the touched registries: both sides of a copy, none for layouts', () => {
    expect(touchedRegistries(parse({ command: 'copy', source: './l:1', 'source-oci-layout': 'true', destination: 'ghcr.io/o/y:1' }))).toEqual(['ghcr.io']);
    expect(touchedRegistries(parse({ command: 'login', reference: 'https://ghcr.io/v2/' }))).toEqual(['ghcr.io']);
    expect(touchedRegistries(parse({ command: 'resolve', reference: 'NOT A REF' }))).toEqual([]);
  });
});

describe('credential inputs that contradict each other', () => {
  it.each([
    [{ command: 'resolve', reference: 'r.example/a:1', 'registry-auth': TWO, username: 'u', password: 'p' }, 'inputs "registry-auth" and "username" cannot be used together'],
    [{ command: 'resolve', reference: 'r.example/a:1', 'registry-auth': TWO, registry: 'r.example' }, 'inputs "registry-auth" and "registry" cannot be used together'],
    [{ command: 'resolve', reference: 'r.example/a:1', 'registry-auth': 'ghcr.io: x' }, 'input "registry-auth", line 1: expected a list'],
    [{ command: 'resolve', reference: 'r.example/a:1', 'registry-auth': '- registry: ghcr.io\n  username: u' }, '"password" is missing or empty'],
    [{ command: 'resolve', reference: 'r.example/a:1', registry: 'r.example' }, 'input "registry" needs "username" and "password"'],
    [{ command: 'logout', reference: 'r.example', username: 'u', password: 'p' }, 'command "logout" takes no credentials'],
    [{ command: 'resolve', reference: 'r.example/a:1', 'docker-config': 'sure' }, 'input "docker-config" must be true or false'],
    [{ command: 'resolve', reference: 'r.example/a:1', logout: 'maybe' }, 'input "logout" must be true or false'],
  ])('%j fails with one clear message', (values, message) => {
    expect(() => parse(values as Record<string, string>)).toThrow(InputError);
    expect(() => parse(values as Record<string, string>)).toThrow(message);
  });

  it('defaults: isolated config, logout at the end of the job', () => {
    expect(parse({ command: 'version' })).toMatchObject({ dockerConfig: false, logout: true, registryAuth: [] });
  });
});
