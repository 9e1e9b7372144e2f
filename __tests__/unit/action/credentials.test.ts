/** Storing and putting back credentials, on real files in a temp folder (and a fake credential helper). */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { dockerConfigFile, isolatedConfigFile, restoreCredentials, storeCredentials, type StoreRecord } from '../../../src/action/credentials.js';
import type { PlannedCredential } from '../../../src/action/plan.js';
import { configFilePath, readCredential } from '../../../src/registry/credentials/config.js';

let dir: string;
let env: NodeJS.ProcessEnv;
let log: { info: string[]; warning: string[] };
let saved: StoreRecord[][];
const b64 = (s: string) => Buffer.from(s).toString('base64');
const cred = (registry: string, username: string, password: string, from: PlannedCredential['from'] = 'inputs'): PlannedCredential => ({ registry, key: registry, username, password, from });
const opts = (dockerConfig = false) => ({
  dockerConfig,
  env,
  info: (m: string) => void log.info.push(m),
  warning: (m: string) => void log.warning.push(m),
  save: (r: StoreRecord[]) => void saved.push(structuredClone(r)),
});
const post = (records: StoreRecord[]) => restoreCredentials(records, opts());
const read = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
const dockerFile = () => path.join(dir, 'docker', 'config.json');
const writeDocker = (config: unknown) => {
  fs.mkdirSync(path.join(dir, 'docker'), { recursive: true });
  fs.writeFileSync(dockerFile(), JSON.stringify(config));
};

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lading-action-cred-'));
  env = { PATH: `${path.join(dir, 'bin')}${path.delimiter}${process.env.PATH}`, RUNNER_TEMP: path.join(dir, 'temp'), DOCKER_CONFIG: path.join(dir, 'docker'), HOME: dir };
  log = { info: [], warning: [] };
  saved = [];
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('where credentials go', () => {
  it('the CLI reads --registry-config, then LADING_REGISTRY_CONFIG (a file), then DOCKER_CONFIG, then ~/.docker; docker-config ignores LADING_REGISTRY_CONFIG', () => {
    const e = { LADING_REGISTRY_CONFIG: '/job/lading.json', DOCKER_CONFIG: '/dc' };
    expect(configFilePath({ configPath: '/flag.json', env: e })).toBe('/flag.json');
    expect(configFilePath({ env: e })).toBe('/job/lading.json');
    expect(configFilePath({ env: { DOCKER_CONFIG: '/dc' } })).toBe('/dc/config.json');
    expect(configFilePath({ env: {}, homeDir: '/home/u' })).toBe('/home/u/.docker/config.json');
    expect(dockerConfigFile(e)).toBe('/dc/config.json');
    expect(isolatedConfigFile({ RUNNER_TEMP: '/rt' })).toBe('/rt/lading/config.json');
  });
});

describe('storing and putting back', () => {
  it('isolated: stores in $RUNNER_TEMP/lading/config.json, saves a record after each write; post removes them and the file', async () => {
    const stored = await storeCredentials([cred('a.example', 'ua', 'pa'), cred('b.example', 'ub', 'pb')], opts());
    const file = path.join(dir, 'temp', 'lading', 'config.json');
    expect(stored).toMatchObject({ file, isolated: true });
    expect(read(file).auths).toEqual({ 'a.example': { auth: b64('ua:pa') }, 'b.example': { auth: b64('ub:pb') } });
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('600');
    expect(saved.map((s) => s.map((r) => r.key))).toEqual([['a.example'], ['a.example', 'b.example']]);
    expect(stored.records.every((r) => r.previous === null && r.createdFile !== undefined && r.isolated)).toBe(true);
    expect(fs.existsSync(dockerFile())).toBe(false);
    await post(stored.records);
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.existsSync(path.dirname(file))).toBe(false);
    // twice: nothing left to do, no warning
    await post(stored.records);
    expect(log.warning).toEqual([]);
  });

  it('docker-config: puts back the entry it replaced and leaves every other entry alone', async () => {
    const before = { auths: { 'a.example': { auth: b64('old:value'), email: 'x@example' }, 'https://a.example': { auth: b64('other:spelling') }, 'other.example': { auth: b64('o:p') } }, psFormat: 'table' };
    writeDocker(before);
    const stored = await storeCredentials([cred('a.example', 'new', 'secret')], opts(true));
    expect(stored).toMatchObject({ file: dockerFile(), isolated: false });
    expect(read(dockerFile()).auths['a.example']).toEqual({ auth: b64('new:secret') });
    expect(read(dockerFile()).auths['other.example']).toEqual({ auth: b64('o:p') });
    await post(stored.records);
    expect(read(dockerFile())).toEqual(before);
  });

  it('docker-config: a Docker config it created is removed once empty, not one that was there', async () => {
    const created = await storeCredentials([cred('a.example', 'u', 'p')], opts(true));
    expect(created.records[0].createdFile).toBe(true);
    await post(created.records);
    expect(fs.existsSync(dockerFile())).toBe(false);
    writeDocker({ auths: {} });
    const existing = await storeCredentials([cred('a.example', 'u', 'p')], opts(true));
    await post(existing.records);
    expect(read(dockerFile())).toEqual({ auths: {} });
  });

  it('post leaves a key that no longer holds what it stored, and a file that is gone', async () => {
    const stored = await storeCredentials([cred('a.example', 'u', 'p'), cred('b.example', 'u', 'p')], opts());
    const file = stored.file;
    const config = read(file);
    config.auths['a.example'] = { auth: b64('someone:else') };
    fs.writeFileSync(file, JSON.stringify(config));
    await post(stored.records);
    expect(read(file).auths).toEqual({ 'a.example': { auth: b64('someone:else') } });
    expect(log.info.join('\n')).toContain('a.example in');
    fs.rmSync(file);
    await post(stored.records);
    expect(fs.existsSync(file)).toBe(false);
    expect(log.warning).toEqual([]);
  });

  it('nested steps in one job: each post step puts back what its own step replaced', async () => {
    const first = await storeCredentials([cred('a.example', 'u1', 'p1')], opts());
    const second = await storeCredentials([cred('a.example', 'u2', 'p2')], opts());
    expect(second.records[0].previous).toEqual({ auth: b64('u1:p1') });
    await post(second.records); // post steps run in reverse order
    expect(read(first.file).auths['a.example']).toEqual({ auth: b64('u1:p1') });
    await post(first.records);
    expect(fs.existsSync(first.file)).toBe(false);
  });

  it('the github-token never replaces credentials already in the config', async () => {
    writeDocker({ auths: { 'https://ghcr.io': { auth: b64('me:pat') } } });
    const stored = await storeCredentials([cred('ghcr.io', 'x-access-token', 'ghs_tok', 'github-token'), cred('a.example', 'u', 'p')], opts(true));
    expect(stored.records.map((r) => r.key)).toEqual(['a.example']);
    expect(await readCredential('ghcr.io', { configPath: dockerFile() })).toEqual({ username: 'me', password: 'pat' });
    expect(log.info.join('\n')).toContain('ghcr.io: keeping the credentials already in');
  });
});

describe('credential helpers named by the Docker config (docker-config: true)', () => {
  /** A docker-credential-fake that keeps one file per server in dir/store. */
  function fakeHelper(): string {
    const bin = path.join(dir, 'bin');
    const store = path.join(dir, 'store');
    fs.mkdirSync(bin, { recursive: true });
    fs.mkdirSync(store, { recursive: true });
    fs.writeFileSync(
      path.join(bin, 'docker-credential-fake'),
      `#!/bin/sh
input=$(cat)
case "$1" in
  store) server=$(printf '%s' "$input" | sed -n 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/p'); printf '%s' "$input" > '${store}'/"$(printf '%s' "$server" | tr ':/' '__')" ;;
  get|erase) f='${store}'/"$(printf '%s' "$input" | tr ':/' '__')"
    if [ ! -f "$f" ]; then echo "credentials not found in native keychain"; exit 1; fi
    if [ "$1" = get ]; then cat "$f"; else rm "$f"; fi ;;
esac
`,
      { mode: 0o755 },
    );
    return store;
  }

  it('stores through the helper and puts the previous value back there', async () => {
    const store = fakeHelper();
    fs.writeFileSync(path.join(store, 'a.example'), JSON.stringify({ ServerURL: 'a.example', Username: 'old', Secret: 'oldsecret' }));
    writeDocker({ credsStore: 'fake' });
    const stored = await storeCredentials([cred('a.example', 'new', 'newsecret'), cred('b.example', 'u', 'p')], opts(true));
    expect(stored.records.map((r) => [r.key, r.helper])).toEqual([
      ['a.example', 'fake'],
      ['b.example', 'fake'],
    ]);
    expect(await readCredential('a.example', { configPath: dockerFile(), env })).toEqual({ username: 'new', password: 'newsecret' });
    expect(read(dockerFile())).toEqual({ credsStore: 'fake' });
    await post(stored.records);
    expect(await readCredential('a.example', { configPath: dockerFile(), env })).toEqual({ username: 'old', password: 'oldsecret' });
    expect(fs.existsSync(path.join(store, 'b.example'))).toBe(false);
    expect(log.warning).toEqual([]);
  });

  it('B11: a helper that cannot be run is a warning; the credentials go into the job config instead', async () => {
    writeDocker({ auths: { 'a.example': { auth: b64('keep:me') } }, credHelpers: { 'b.example': 'missing' } });
    const stored = await storeCredentials([cred('a.example', 'u', 'p'), cred('b.example', 'u', 'p')], opts(true));
    expect(stored).toMatchObject({ file: isolatedConfigFile(env), isolated: true });
    expect(log.warning).toHaveLength(1);
    expect(log.warning[0]).toContain('docker-credential-missing');
    expect(log.warning[0]).toContain("this job's own config instead");
    // what was written to Docker's config before the failure is already put back
    expect(read(dockerFile()).auths).toEqual({ 'a.example': { auth: b64('keep:me') } });
    expect(saved.at(-1)!.map((r) => [r.key, r.isolated])).toEqual([
      ['a.example', true],
      ['b.example', true],
    ]);
    expect(read(stored.file).auths).toEqual({ 'a.example': { auth: b64('u:p') }, 'b.example': { auth: b64('u:p') } });
  });
});
