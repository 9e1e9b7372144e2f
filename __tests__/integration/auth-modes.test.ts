/**
 * The same core flow (blob push, manifest push, fetch, tag, repo tags, repo ls) against real Distribution registries
 * in htpasswd, TLS and token mode; login/logout with a config file; the token scopes each command asks for (B06).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lading, type CliResult } from '../helpers/cli.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { skopeoInspectRaw } from '../helpers/skopeo.js';
import { tmpDir } from '../helpers/tmp.js';

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY = Buffer.from('{}');
const HELLO = Buffer.from('hello from lading, authenticated\n');
const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: 'application/vnd.lading.test',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(EMPTY), size: EMPTY.length },
    layers: [{ mediaType: 'text/plain', digest: sha256(HELLO), size: HELLO.length }],
  }),
);

let work: string;
beforeAll(() => {
  work = tmpDir('lading-auth-');
  writeFileSync(join(work, 'empty.json'), EMPTY);
  writeFileSync(join(work, 'hello.txt'), HELLO);
  writeFileSync(join(work, 'manifest.json'), MANIFEST);
});

function expectOk(r: CliResult): void {
  if (r.code !== 0) throw new Error(`exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

/**
 * blob push ×2, manifest push, manifest fetch, tag, repo tags, repo ls, blob fetch. `auth` gives the flags and the
 * stdin (a password for --password-stdin) of every command.
 */
async function coreFlow(reg: RunningRegistry, repo: string, auth: () => { flags: string[]; stdin?: string }): Promise<void> {
  const H = reg.host;
  const run = (args: string[]) => {
    const a = auth();
    return lading([...args, ...a.flags], { stdin: a.stdin });
  };
  for (const [file, bytes] of [['empty.json', EMPTY], ['hello.txt', HELLO]] as const) {
    const r = await run(['blob', 'push', `${H}/${repo}`, join(work, file)]);
    expectOk(r);
    expect(r.stdout).toBe(`Digest: ${sha256(bytes)}\n`);
    expect(r.stderr).toContain(`Pushed [registry] ${H}/${repo}@${sha256(bytes)}`);
  }
  const pushed = await run(['manifest', 'push', `${H}/${repo}:v1`, join(work, 'manifest.json')]);
  expectOk(pushed);
  expect(pushed.stdout).toBe(`Digest: ${sha256(MANIFEST)}\n`);
  const fetched = await run(['manifest', 'fetch', `${H}/${repo}:v1`]);
  expectOk(fetched);
  expect(fetched.stdoutBytes.equals(MANIFEST)).toBe(true);
  // no auth chatter on stderr (that is --debug's)
  expect(fetched.stderr).toBe('');
  expect((await skopeoInspectRaw(reg, `${repo}:v1`)).equals(MANIFEST)).toBe(true);
  const tagged = await run(['tag', `${H}/${repo}:v1`, 'v2', 'v3']);
  expectOk(tagged);
  expect(tagged.stdout).toBe('Tagged v2\nTagged v3\n');
  const tags = await run(['repo', 'tags', `${H}/${repo}`]);
  expectOk(tags);
  expect(tags.stdout).toBe('v1\nv2\nv3\n');
  const repos = await run(['repo', 'ls', H]);
  expectOk(repos);
  expect(repos.stdout.split('\n')).toContain(repo);
  const blob = await run(['blob', 'fetch', `${H}/${repo}@${sha256(HELLO)}`, '-o', '-']);
  expectOk(blob);
  expect(blob.stdoutBytes.equals(HELLO)).toBe(true);
  expect(blob.stderr).toBe('');
  const deleted = await run(['manifest', 'delete', '--force', `${H}/${repo}:v2`]);
  expectOk(deleted);
  expect(deleted.stdout).toBe(`Deleted ${H}/${repo}@${sha256(MANIFEST)}\n`);
  expect((await run(['manifest', 'fetch', `${H}/${repo}:v1`])).code).toBe(4);
  const blobDeleted = await run(['blob', 'delete', '--force', `${H}/${repo}@${sha256(HELLO)}`]);
  expectOk(blobDeleted);
  expect((await run(['blob', 'fetch', `${H}/${repo}@${sha256(HELLO)}`, '-o', '-'])).code).toBe(4);
}

describe('htpasswd', () => {
  let reg: RunningRegistry;
  let H: string;
  beforeAll(async () => {
    reg = await startRegistry({ mode: 'htpasswd' });
    H = reg.host;
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('core flow with -u and --password-stdin', async () => {
    await coreFlow(reg, 'basic/core', () => ({ flags: ['--plain-http', '-u', reg.username!, '--password-stdin'], stdin: `${reg.password}\n` }));
  });

  it('-p works too, with a warning', async () => {
    const file = join(work, 'manifest.json');
    const p = ['--plain-http', '-u', reg.username!, '-p', reg.password!];
    for (const f of ['empty.json', 'hello.txt']) expectOk(await lading(['blob', 'push', ...p, `${H}/basic/flow`, join(work, f)]));
    expectOk(await lading(['manifest', 'push', ...p, `${H}/basic/flow:v1,v2,v3`, file]));
    const r = await lading(['repo', 'tags', ...p, `${H}/basic/flow`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('v1\nv2\nv3\n');
    expect(r.stderr).toBe('Warning: Using --password via the command line is insecure; use --password-stdin.\n');
  });

  it('anonymous and wrong credentials are refused with exit 3', async () => {
    const anon = await lading(['manifest', 'fetch', '--plain-http', `${H}/basic/flow:v1`]);
    expect(anon.code).toBe(3);
    expect(anon.stdout).toBe('');
    expect(anon.stderr).toContain('401 Unauthorized');
    expect(anon.stderr).toContain('log in with `lading login` or pass -u/-p');
    const wrong = await lading(['blob', 'push', '--plain-http', '-u', reg.username!, '--password-stdin', `${H}/basic/flow`, join(work, 'hello.txt')], { stdin: 'wrong-password' });
    expect(wrong.code).toBe(3);
    expect(wrong.stdout).toBe('');
  });

  describe('login and logout', () => {
    let cfg: string;
    beforeAll(() => {
      cfg = join(tmpDir('lading-login-'), 'config.json');
    });

    it('a wrong password: exit 3, nothing written', async () => {
      const r = await lading(['login', '--plain-http', '--registry-config', cfg, '-u', reg.username!, '--password-stdin', H], { stdin: 'not-the-password\n' });
      expect(r.code).toBe(3);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`Error: login to ${H} failed: the registry rejected the credentials\n`);
      expect(existsSync(cfg)).toBe(false);
    });

    it('without credentials and without a terminal: usage error', async () => {
      const r = await lading(['login', '--plain-http', '--registry-config', cfg, H]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('no credentials given');
      expect(existsSync(cfg)).toBe(false);
    });

    it('stores the entry, later commands use it, logout removes it', async () => {
      writeFileSync(cfg, JSON.stringify({ auths: { 'other.example': { auth: 'dTpw' } }, credHelpers: {} }));
      const r = await lading(['login', '--plain-http', '--registry-config', cfg, '-u', reg.username!, '--password-stdin', H], { stdin: `${reg.password}\n` });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('Login Succeeded\n');
      const config = JSON.parse(readFileSync(cfg, 'utf8'));
      expect(config).toEqual({
        auths: { 'other.example': { auth: 'dTpw' }, [H]: { auth: Buffer.from(`${reg.username}:${reg.password}`).toString('base64') } },
        credHelpers: {},
      });

      const tags = await lading(['repo', 'tags', '--plain-http', '--registry-config', cfg, `${H}/basic/flow`]);
      expect(tags).toMatchObject({ code: 0, stdout: 'v1\nv2\nv3\n', stderr: '' });
      // DOCKER_CONFIG points at the same directory: also found without the flag
      const viaEnv = await lading(['resolve', '--plain-http', `${H}/basic/flow:v1`], { env: { ...process.env, DOCKER_CONFIG: join(cfg, '..') } });
      expect(viaEnv.stdout).toBe(`${sha256(MANIFEST)}\n`);

      const out = await lading(['logout', '--registry-config', cfg, H]);
      expect(out.code).toBe(0);
      expect(out.stdout).toBe(`Removed login credentials for ${H}\n`);
      expect(JSON.parse(readFileSync(cfg, 'utf8'))).toEqual({ auths: { 'other.example': { auth: 'dTpw' } }, credHelpers: {} });

      const after = await lading(['repo', 'tags', '--plain-http', '--registry-config', cfg, `${H}/basic/flow`]);
      expect(after.code).toBe(3);
      const again = await lading(['logout', '--registry-config', cfg, H]);
      // Logged out already: said on stdout, exit 0 (cleanup steps must not fail on it).
      expect(again.code).toBe(0);
      expect(again.stdout).toBe(`Not logged in to ${H}\n`);
    });

    it('login https://HOST/ stores under the bare host (B08)', async () => {
      const file = join(tmpDir('lading-login-'), 'config.json');
      const r = await lading(['login', '--plain-http', '--registry-config', file, '-u', reg.username!, '--password-stdin', `https://${H}/`], { stdin: reg.password });
      expect(r.code).toBe(0);
      expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).auths)).toEqual([H]);
    });
  });
});

describe('TLS', () => {
  let reg: RunningRegistry;
  let H: string;
  beforeAll(async () => {
    reg = await startRegistry({ mode: 'tls' });
    H = reg.host;
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('core flow with --ca-file', async () => {
    await coreFlow(reg, 'tls/flow', () => ({ flags: ['--ca-file', reg.caFile!] }));
  });

  it('without --ca-file the certificate is not trusted: exit 7 with a TLS message', async () => {
    const r = await lading(['manifest', 'fetch', `${H}/tls/flow:v1`]);
    expect(r.code).toBe(7);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `Error: GET https://${H}/v2/tls/flow/manifests/v1: unable to verify the first certificate (TLS: trust the registry's CA with --ca-file, or skip verification with --insecure)\n`,
    );
    // same for a write, and the same for localhost when https is forced
    const push = await lading(['blob', 'push', `${H}/tls/flow`, join(work, 'hello.txt')]);
    expect(push.code).toBe(7);
    const local = await lading(['resolve', '--plain-http=false', `localhost:${H.split(':')[1]}/tls/flow:v1`]);
    expect(local.code).toBe(7);
    expect(local.stderr).toContain('unable to verify the first certificate (TLS: trust the registry');
  });

  it('--insecure skips verification', async () => {
    for (const f of ['empty.json', 'hello.txt']) expectOk(await lading(['blob', 'push', '--insecure', `${H}/tls/insecure`, join(work, f)]));
    expectOk(await lading(['manifest', 'push', '--insecure', `${H}/tls/insecure:v1`, join(work, 'manifest.json')]));
    const r = await lading(['manifest', 'fetch', '--insecure', `${H}/tls/insecure:v1`]);
    expect(r.code).toBe(0);
    expect(r.stdoutBytes.equals(MANIFEST)).toBe(true);
  });

  it('an unreadable --ca-file is a usage error', async () => {
    const r = await lading(['manifest', 'fetch', '--ca-file', join(work, 'no-such-ca.pem'), `${H}/tls/flow:v1`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot read CA file "${join(work, 'no-such-ca.pem')}": ENOENT`);
  });
});

describe('token', () => {
  let reg: RunningRegistry;
  let H: string;
  beforeAll(async () => {
    reg = await startRegistry({ mode: 'token' });
    H = reg.host;
  });
  afterAll(async () => {
    await reg?.stop();
  });
  const auth = () => ({ flags: ['--plain-http', '-u', reg.username!, '--password-stdin'], stdin: reg.password! });
  /** Runs one command and returns the scope lists of the token requests it made, in order. */
  async function scopesOf(args: string[]): Promise<{ result: CliResult; scopes: string[][] }> {
    const requests = reg.tokenServer!.requests;
    requests.length = 0;
    const a = auth();
    const result = await lading([...args, ...a.flags], { stdin: a.stdin });
    return { result, scopes: requests.map((q) => q.query.getAll('scope')) };
  }

  it('core flow with -u and --password-stdin', async () => {
    await coreFlow(reg, 'tok/flow', auth);
  });

  it('write commands ask for pull,push in their first token request (B06)', async () => {
    const blob = await scopesOf(['blob', 'push', `${H}/tok/new`, join(work, 'hello.txt')]);
    expectOk(blob.result);
    expect(blob.scopes[0]).toEqual(['repository:tok/new:pull,push']);
    expect(blob.scopes).toHaveLength(1);

    const stdin = await scopesOf(['blob', 'push', `${H}/tok/new`, join(work, 'empty.json')]);
    expect(stdin.scopes).toEqual([['repository:tok/new:pull,push']]);

    const manifest = await scopesOf(['manifest', 'push', `${H}/tok/new:v1`, join(work, 'manifest.json')]);
    expectOk(manifest.result);
    expect(manifest.scopes).toEqual([['repository:tok/new:pull,push']]);

    const tag = await scopesOf(['tag', `${H}/tok/new:v1`, 'v2']);
    expectOk(tag.result);
    expect(tag.scopes[0]).toEqual(['repository:tok/new:pull,push']);
    expect(tag.scopes).toHaveLength(1);
  });

  it('--debug shows the auth trace', async () => {
    const r = await lading(['resolve', '--debug', '--plain-http', '-u', reg.username!, '--password-stdin', `${H}/tok/new:v1`], { stdin: reg.password });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`[debug] auth: ${H} uses bearer (realm ${reg.tokenServer!.realm}, service ${reg.tokenServer!.service})`);
    expect(r.stderr).toContain(`[debug] auth: token for repository:tok/new:pull from ${reg.tokenServer!.realm}, lifetime 300s`);
  });

  it('read commands ask only for pull', async () => {
    for (const args of [
      ['manifest', 'fetch', `${H}/tok/new:v1`],
      ['resolve', `${H}/tok/new:v2`],
      ['repo', 'tags', `${H}/tok/new`],
      ['blob', 'fetch', `${H}/tok/new@${sha256(HELLO)}`, '-o', '-'],
    ]) {
      const { result, scopes } = await scopesOf(args);
      expectOk(result);
      expect(scopes).toEqual([['repository:tok/new:pull']]);
    }
    const ls = await scopesOf(['repo', 'ls', H]);
    expectOk(ls.result);
    expect(ls.scopes).toEqual([['registry:catalog:*']]);
  });

  it('every token request carries the Basic credentials and the service', () => {
    const requests = reg.tokenServer!.requests;
    expect(requests.length).toBeGreaterThan(0);
    for (const q of requests) {
      expect(q.authorization).toBe(`Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString('base64')}`);
      expect(q.query.get('service')).toBe(reg.tokenServer!.service);
      expect(q.status).toBe(200);
    }
  });

  it('wrong credentials: exit 3', async () => {
    const r = await lading(['manifest', 'fetch', '--plain-http', '-u', reg.username!, '--password-stdin', `${H}/tok/new:v1`], { stdin: 'wrong' });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('token request GET');
  });

  it('anonymous: exit 3', async () => {
    const r = await lading(['manifest', 'fetch', '--plain-http', `${H}/tok/new:v1`]);
    expect(r.code).toBe(3);
  });
});
