import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LadingError } from '../../../src/errors/errors.js';
import {
  createCredentialProvider,
  DOCKER_HUB_KEY,
  readCredential,
  removeCredential,
  storeCredential,
} from '../../../src/registry/credentials/config.js';

// Real docker-credential-* scripts in a temp bin dir that is only on the PATH given through `env`.
let dir: string;
let bin: string;
let file: string;
let warnings: string[];
const env = (): NodeJS.ProcessEnv => ({ PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` });
const opts = () => ({ configPath: file, env: env(), warn: (m: string) => void warnings.push(m) });
const write = (config: unknown): void => fs.writeFileSync(file, JSON.stringify(config));

/** Writes docker-credential-<name>; it appends "<action> <stdin>" to log-<name>, then runs `body`. */
function helper(name: string, body: string): void {
  const log = path.join(dir, `log-${name}`);
  fs.writeFileSync(
    path.join(bin, `docker-credential-${name}`),
    `#!/bin/sh\ninput=$(cat)\nprintf '%s %s\\n' "$1" "$input" >> '${log}'\n${body}\n`,
    { mode: 0o755 },
  );
}
const calls = (name: string): string[] => {
  const log = path.join(dir, `log-${name}`);
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trimEnd().split('\n') : [];
};
const notFound = 'echo "credentials not found in native keychain"; exit 1';

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lading-helper-'));
  bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  file = path.join(dir, 'config.json');
  warnings = [];
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('credential helpers: get', () => {
  it('returns username and secret, asking with the host on stdin (found via env.PATH)', async () => {
    helper('test', `echo '{"ServerURL":"registry.example","Username":"u","Secret":"s3cret"}'`);
    write({ credsStore: 'test' });
    expect(await readCredential('registry.example', opts())).toEqual({ username: 'u', password: 's3cret' });
    expect(calls('test')).toEqual(['get registry.example']);
    expect(warnings).toEqual([]);
  });

  it('B10: Username "<token>" makes Secret an identity token, not a Basic password', async () => {
    helper('test', `echo '{"ServerURL":"registry.example","Username":"<token>","Secret":"<refresh>"}'`);
    write({ credHelpers: { 'registry.example': 'test' } });
    expect(await readCredential('registry.example', opts())).toEqual({ identityToken: '<refresh>' });
  });

  it('asks for Docker Hub with https://index.docker.io/v1/', async () => {
    helper('test', `echo '{"Username":"hub","Secret":"pw"}'`);
    write({ credHelpers: { 'docker.io': 'test' } });
    expect(await createCredentialProvider(opts())('docker.io')).toEqual({ username: 'hub', password: 'pw' });
    expect(calls('test')).toEqual([`get ${DOCKER_HUB_KEY}`]);
  });

  it('credHelpers[host] wins over credsStore; other hosts use credsStore', async () => {
    helper('store', `echo '{"Username":"from-store","Secret":"a"}'`);
    helper('specific', `echo '{"Username":"from-helper","Secret":"b"}'`);
    write({ credsStore: 'store', credHelpers: { 'https://registry.example': 'specific' }, auths: { 'registry.example': { auth: 'dTpw' } } });
    expect(await readCredential('registry.example', opts())).toEqual({ username: 'from-helper', password: 'b' });
    expect(await readCredential('other.example', opts())).toEqual({ username: 'from-store', password: 'a' });
    expect(calls('specific')).toEqual(['get registry.example']);
    expect(calls('store')).toEqual(['get other.example']);
  });

  it('"credentials not found" means no credentials and no warning', async () => {
    helper('test', notFound);
    write({ credsStore: 'test' });
    expect(await readCredential('registry.example', opts())).toBeUndefined();
    expect(calls('test')).toHaveLength(1);
    expect(warnings).toEqual([]);
  });

  it('B11a: a missing helper warns naming it and continues without credentials', async () => {
    write({ credsStore: 'lading-missing-osxkeychain' });
    const provider = createCredentialProvider(opts());
    expect(await provider('docker.io')).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^credential helper docker-credential-lading-missing-osxkeychain could not be run: .*; continuing without credentials$/);
  });

  it('a failing helper or one printing garbage warns and continues; no secret in the warning', async () => {
    helper('test', 'echo "keychain locked" >&2; exit 3');
    helper('garbage', 'echo "not json s3cret"');
    write({ credsStore: 'test', credHelpers: { 'g.example': 'garbage' } });
    expect(await readCredential('registry.example', opts())).toBeUndefined();
    expect(await readCredential('g.example', opts())).toBeUndefined();
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('docker-credential-test');
    expect(warnings[0]).toContain('keychain locked');
    expect(warnings[1]).toContain('docker-credential-garbage');
    expect(warnings[1]).not.toContain('s3cret');
  });
});

describe('credential helpers: store and erase', () => {
  it('login stores through the helper with ServerURL/Username/Secret on stdin, not in the file', async () => {
    helper('test', 'exit 0');
    write({ credsStore: 'test', auths: {} });
    expect(await storeCredential('registry-1.docker.io', { username: 'u', password: 'p w' }, opts())).toBe(DOCKER_HUB_KEY);
    await storeCredential('registry.example', { identityToken: '<refresh>' }, opts());
    expect(calls('test')).toEqual([
      `store ${JSON.stringify({ ServerURL: DOCKER_HUB_KEY, Username: 'u', Secret: 'p w' })}`,
      `store ${JSON.stringify({ ServerURL: 'registry.example', Username: '<token>', Secret: '<refresh>' })}`,
    ]);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ credsStore: 'test', auths: {} });
  });

  it('B11: a missing helper during login is a hard error naming the helper', async () => {
    write({ credsStore: 'lading-missing-helper' });
    const err = await storeCredential('registry.example', { username: 'u', password: 'secretpw' }, opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LadingError);
    expect((err as LadingError).kind).toBe('internal');
    expect((err as LadingError).message).toContain('docker-credential-lading-missing-helper');
    expect((err as LadingError).message).not.toContain('secretpw');
    expect(fs.readFileSync(file, 'utf8')).not.toContain('auths');
  });

  it('a helper failing to store is an error that does not echo the secret', async () => {
    helper('test', 'echo "cannot store $input"; exit 1');
    write({ credsStore: 'test' });
    const err = await storeCredential('registry.example', { username: 'u', password: 'secretpw' }, opts()).catch((e: unknown) => e);
    expect((err as LadingError).message).toContain('docker-credential-test');
    expect((err as LadingError).message).not.toContain('secretpw');
  });

  it('logout erases through the helper with the server URL on stdin', async () => {
    helper('test', 'exit 0');
    write({ credHelpers: { 'docker.io': 'test' } });
    await removeCredential('index.docker.io', opts());
    expect(calls('test')).toEqual([`erase ${DOCKER_HUB_KEY}`]);
  });

  it('logout of a host the helper does not know is not-found', async () => {
    helper('test', notFound);
    write({ credsStore: 'test' });
    await expect(removeCredential('unknown.example', opts())).rejects.toMatchObject({ kind: 'not-found', message: expect.stringMatching(/not logged in/) });
    expect(calls('test')).toEqual(['erase unknown.example']);
  });
});
