import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LadingError } from '../../../src/errors/errors.js';
import {
  configFilePath,
  createCredentialProvider,
  credentialKey,
  DOCKER_HUB_KEY,
  readCredential,
  removeCredential,
  storeCredential,
} from '../../../src/registry/credentials/config.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
let dir: string;
let file: string;
let warnings: string[];
const opts = () => ({ configPath: file, env: {}, warn: (m: string) => void warnings.push(m) });
const write = (config: unknown): void => fs.writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
const readBack = (): { auths: Record<string, Record<string, string>> } & Record<string, unknown> => JSON.parse(fs.readFileSync(file, 'utf8'));

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lading-cred-'));
  file = path.join(dir, 'config.json');
  warnings = [];
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('configFilePath', () => {
  it('prefers the explicit path, then $DOCKER_CONFIG, then ~/.docker', () => {
    expect(configFilePath({ configPath: '/x/c.json', env: { DOCKER_CONFIG: '/d' } })).toBe(path.resolve('/x/c.json'));
    expect(configFilePath({ env: { DOCKER_CONFIG: '/d' }, homeDir: '/h' })).toBe(path.join('/d', 'config.json'));
    expect(configFilePath({ env: {}, homeDir: '/h' })).toBe(path.join('/h', '.docker', 'config.json'));
  });

  it('reads ~/.docker/config.json under homeDir and $DOCKER_CONFIG', async () => {
    fs.mkdirSync(path.join(dir, '.docker'));
    fs.writeFileSync(path.join(dir, '.docker', 'config.json'), JSON.stringify({ auths: { 'h.example': { auth: b64('a:home') } } }));
    expect(await readCredential('h.example', { homeDir: dir, env: {} })).toEqual({ username: 'a', password: 'home' });
    fs.mkdirSync(path.join(dir, 'dc'));
    fs.writeFileSync(path.join(dir, 'dc', 'config.json'), JSON.stringify({ auths: { 'h.example': { auth: b64('a:dc') } } }));
    expect(await readCredential('h.example', { homeDir: dir, env: { DOCKER_CONFIG: path.join(dir, 'dc') } })).toEqual({ username: 'a', password: 'dc' });
  });
});

describe('credentialKey (B08, B14)', () => {
  it.each([
    ['registry-1.docker.io', DOCKER_HUB_KEY],
    ['docker.io', DOCKER_HUB_KEY],
    ['index.docker.io', DOCKER_HUB_KEY],
    ['https://index.docker.io/v1/', DOCKER_HUB_KEY],
    ['https://ghcr.io/', 'ghcr.io'],
    ['REGISTRY.EXAMPLE:5000', 'registry.example:5000'],
    ['[2001:db8::1]:5000', '[2001:db8::1]:5000'],
    ['localhost:5000', 'localhost:5000'],
  ])('%s → %s without a warning', (input, key) => {
    const w: string[] = [];
    expect(credentialKey(input, (m) => w.push(m))).toBe(key);
    expect(w).toEqual([]);
  });

  it('drops a repository path with a warning', () => {
    const w: string[] = [];
    expect(credentialKey('registry.example/team/app', (m) => w.push(m))).toBe('registry.example');
    expect(w).toHaveLength(1);
    expect(w[0]).toContain('/team/app');
  });

  it('rejects an invalid host', () => {
    expect(() => credentialKey('bad host!')).toThrow(/invalid registry/);
  });
});

describe('reading config.json', () => {
  it('B11b: a missing or empty file means no credentials', async () => {
    expect(await readCredential('docker.io', opts())).toBeUndefined();
    write('');
    expect(await readCredential('docker.io', opts())).toBeUndefined();
    write('{}');
    expect(await readCredential('localhost:5000', opts())).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('a file that is not JSON is a usage error naming the path, without quoting the file', async () => {
    write('{"auths":{"r.example":{"auth":"c2VjcmV0LXZhbHVl"}},');
    const err = await readCredential('r.example', opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LadingError);
    expect((err as LadingError).kind).toBe('usage');
    expect((err as LadingError).message).toContain(file);
    expect((err as LadingError).message).not.toContain('c2VjcmV0');
  });

  it.each(['https://registry.example', 'http://registry.example', 'registry.example', 'registry.example/', 'https://REGISTRY.example/'])(
    'B08: key %s matches host registry.example',
    async (key) => {
      write({ auths: { [key]: { auth: 'dTo8cGFzcz4=' } } });
      expect(await readCredential('registry.example', opts())).toEqual({ username: 'u', password: '<pass>' });
      expect(await readCredential('other.example', opts())).toBeUndefined();
    },
  );

  it.each([DOCKER_HUB_KEY, 'docker.io', 'index.docker.io', 'registry-1.docker.io', 'https://registry-1.docker.io/'])(
    'B08: Docker Hub credentials are found under %s',
    async (key) => {
      write({ auths: { [key]: { auth: b64('hub:pw') } } });
      expect(await readCredential('docker.io', opts())).toEqual({ username: 'hub', password: 'pw' });
    },
  );

  it('B08: the canonical Docker Hub key wins over an alias, wherever it is in the file', async () => {
    write({ auths: { 'docker.io': { auth: b64('old:alias') }, [DOCKER_HUB_KEY]: { auth: b64('new:canonical') } } });
    expect(await readCredential('docker.io', opts())).toEqual({ username: 'new', password: 'canonical' });
  });

  it('reads username/password fields, identitytoken and registrytoken', async () => {
    write({
      auths: {
        'a.example': { username: 'u', password: 'p' },
        'b.example': { identitytoken: '<refresh>' },
        'c.example': { registrytoken: 'bearer' },
        'd.example': { email: 'x@y' },
      },
    });
    expect(await readCredential('a.example', opts())).toEqual({ username: 'u', password: 'p' });
    // B10: an identity token is never turned into a Basic username/password.
    expect(await readCredential('b.example', opts())).toEqual({ identityToken: '<refresh>' });
    expect(await readCredential('c.example', opts())).toEqual({ registryToken: 'bearer' });
    expect(await readCredential('d.example', opts())).toBeUndefined();
  });

  it('finds the IPv6 key [2001:db8::1]:5000 (B14)', async () => {
    write({ auths: { '[2001:db8::1]:5000': { auth: b64('v6:pw') }, '[2001:db8::1]': { auth: b64('v6:noport') } } });
    expect(await readCredential('[2001:db8::1]:5000', opts())).toEqual({ username: 'v6', password: 'pw' });
    expect(await readCredential('[2001:db8::1]', opts())).toEqual({ username: 'v6', password: 'noport' });
  });

  it('a malformed auth field is ignored with a warning that holds no secret', async () => {
    write({ auths: { 'r.example': { auth: b64('nocolonsecret') } } });
    expect(await readCredential('r.example', opts())).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).not.toContain('nocolonsecret');
  });
});

describe('createCredentialProvider', () => {
  it('static credentials (-u/-p) win over the file', async () => {
    write({ auths: { 'r.example': { auth: b64('file:pw') } } });
    const fromFile = createCredentialProvider(opts());
    expect(await fromFile('r.example')).toEqual({ username: 'file', password: 'pw' });
    const flags = createCredentialProvider({ ...opts(), static: { username: 'flag', password: 'fpw' } });
    expect(await flags('r.example')).toEqual({ username: 'flag', password: 'fpw' });
  });

  it('maps Docker Hub to https://index.docker.io/v1/', async () => {
    write({ auths: { [DOCKER_HUB_KEY]: { auth: b64('hub:pw') } } });
    expect(await createCredentialProvider(opts())('docker.io')).toEqual({ username: 'hub', password: 'pw' });
  });
});

describe('storeCredential (login)', () => {
  it.each(['registry-1.docker.io', 'docker.io', 'index.docker.io', 'https://index.docker.io/v1/'])(
    'B08: login %s writes https://index.docker.io/v1/ and reads back as docker.io',
    async (input) => {
      expect(await storeCredential(input, { username: 'u', password: '<pass>' }, opts())).toBe(DOCKER_HUB_KEY);
      expect(readBack()).toEqual({ auths: { [DOCKER_HUB_KEY]: { auth: 'dTo8cGFzcz4=' } } });
      expect(await readCredential('docker.io', opts())).toEqual({ username: 'u', password: '<pass>' });
    },
  );

  it('B08: https://ghcr.io/ is stored under ghcr.io; a repository path is dropped with a warning', async () => {
    await storeCredential('https://ghcr.io/', { username: 'u', password: '<pass>' }, opts());
    await storeCredential('registry.example/team/app', { username: 'u', password: '<pass>' }, opts());
    expect(Object.keys(readBack().auths).sort()).toEqual(['ghcr.io', 'registry.example']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('registry.example');
    expect(warnings.join()).not.toContain('<pass>');
  });

  it('keeps every other key and entry, and the new entry wins over an old spelling', async () => {
    write({
      auths: { 'https://registry.example': { auth: 'dTo8cGFzcz4=' }, 'other.example': { auth: b64('o:p'), email: 'e' } },
      currentContext: 'desktop-linux',
      proxies: { default: { httpProxy: 'http://p:3128' } },
    });
    await storeCredential('registry.example', { username: 'n', password: 'new' }, opts());
    const out = readBack();
    expect(out.currentContext).toBe('desktop-linux');
    expect(out.proxies).toEqual({ default: { httpProxy: 'http://p:3128' } });
    expect(out.auths['other.example']).toEqual({ auth: b64('o:p'), email: 'e' });
    expect(out.auths['https://registry.example']).toEqual({ auth: 'dTo8cGFzcz4=' });
    expect(out.auths['registry.example']).toEqual({ auth: b64('n:new') });
    expect(await readCredential('registry.example', opts())).toEqual({ username: 'n', password: 'new' });
  });

  it('creates the directory and a 0600 file, leaving no temp files', async () => {
    file = path.join(dir, 'nested', 'deeper', 'config.json');
    await storeCredential('[2001:db8::1]:5000', { username: 'u', password: 'p' }, opts());
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['config.json']);
    expect(readBack().auths).toEqual({ '[2001:db8::1]:5000': { auth: b64('u:p') } });
  });

  it('stores an identity token as identitytoken, never as auth', async () => {
    await storeCredential('r.example', { identityToken: '<refresh>' }, opts());
    expect(readBack().auths['r.example']).toEqual({ identitytoken: '<refresh>' });
    expect(await readCredential('r.example', opts())).toEqual({ identityToken: '<refresh>' });
  });

  it('refuses to overwrite a file that is not JSON', async () => {
    write('not json');
    await expect(storeCredential('r.example', { username: 'u', password: 'p' }, opts())).rejects.toMatchObject({ kind: 'usage' });
    expect(fs.readFileSync(file, 'utf8')).toBe('not json');
  });
});

describe('removeCredential (logout)', () => {
  it('deletes every spelling of the host and keeps the rest', async () => {
    write({ auths: { 'https://registry.example/': { auth: b64('a:b') }, 'registry.example': { auth: b64('c:d') }, 'keep.example': { auth: b64('e:f') } }, x: 1 });
    await removeCredential('registry.example', opts());
    expect(readBack()).toEqual({ auths: { 'keep.example': { auth: b64('e:f') } }, x: 1 });
    expect(await readCredential('registry.example', opts())).toBeUndefined();
  });

  it('removes Docker Hub aliases on logout docker.io', async () => {
    write({ auths: { [DOCKER_HUB_KEY]: { auth: b64('a:b') }, 'registry-1.docker.io': { auth: b64('c:d') } } });
    await removeCredential('docker.io', opts());
    expect(readBack().auths).toEqual({});
  });

  it('an unknown host is a not-found error that says so', async () => {
    write({ auths: { 'keep.example': { auth: b64('e:f') } } });
    const err = await removeCredential('unknown.example', opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LadingError);
    expect((err as LadingError).kind).toBe('not-found');
    expect((err as LadingError).message).toMatch(/not logged in to unknown\.example/);
    await expect(removeCredential('unknown.example', { ...opts(), configPath: path.join(dir, 'none.json') })).rejects.toMatchObject({ kind: 'not-found' });
  });
});
