/**
 * Bad inputs and failure exit codes against real Distribution registries: malformed references (2), unknown
 * commands and flags (2), wrong credentials (3), unknown tags/digests/repositories (4); a password given with -p
 * never printed by a failing command; a credential helper that is not installed (B11).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lading, type CliResult } from '../helpers/cli.js';
import { BUSYBOX_OCI, BUSYBOX_OCI_DIR, DIGEST_LAYER1, ociBlobPath } from '../helpers/fixtures.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { skopeoCopy } from '../helpers/skopeo.js';
import { tmpDir } from '../helpers/tmp.js';

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const P = '--plain-http';
/** Usage errors point at the help of the command that was run. */
const usageTail = (args: string[]) => {
  const words = args.filter((a) => !a.startsWith('-')).slice(0, 2);
  const known = ['manifest', 'blob', 'repo'].includes(words[0]) ? words.join(' ') : words[0];
  return `Run "lading ${known} --help" for usage.\n`;
};
const LATEST = BUSYBOX_OCI.latest.manifest;

let plain: RunningRegistry;
let basic: RunningRegistry;
let work: string;

beforeAll(async () => {
  [plain, basic] = await Promise.all([startRegistry(), startRegistry({ mode: 'htpasswd', password: 'Sup3r-Secret-Pa55word' })]);
  await skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:latest`, `docker://${plain.host}/busybox:latest`, { dest: plain });
  await skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:latest`, `docker://${basic.host}/busybox:latest`, { dest: basic });
  work = tmpDir('lading-bad-');
  writeFileSync(join(work, 'hello.txt'), 'hello\n');
});
afterAll(async () => {
  await Promise.all([plain?.stop(), basic?.stop()]);
});

function usage(r: CliResult, message: string): void {
  expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 2, stdout: '', stderr: `Error: ${message}\n${usageTail(r.args)}` });
}

describe('malformed references: exit 2 before any request', () => {
  it('upper-case repository', async () => {
    const ref = `${plain.host}/BusyBox:latest`;
    usage(await lading(['manifest', 'fetch', P, ref]), `invalid reference "${ref}": repository name must be lowercase ("BusyBox")`);
    usage(await lading(['tag', P, ref, 'v2']), `invalid reference "${ref}": repository name must be lowercase ("BusyBox")`);
  });

  it('bad tag', async () => {
    const ref = `${plain.host}/busybox:-latest`;
    usage(await lading(['resolve', P, ref]), `invalid reference "${ref}": invalid tag "-latest" (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')`);
    const long = `${plain.host}/busybox:${'a'.repeat(129)}`;
    expect((await lading(['manifest', 'fetch', P, long])).code).toBe(2);
    usage(await lading(['manifest', 'push', P, `${plain.host}/busybox:v1,bad/tag`, join(work, 'hello.txt')]), `invalid reference "${plain.host}/busybox:v1,bad/tag": invalid tag "bad/tag"`);
  });

  it('bad digest', async () => {
    const short = `${plain.host}/busybox@sha256:abc`;
    usage(await lading(['blob', 'fetch', P, short, '-o', '-']), `invalid reference "${short}": invalid digest "sha256:abc": sha256 needs 64 lower-case hex digits`);
    const upper = `${plain.host}/busybox@${LATEST.digest.toUpperCase().replace('SHA256', 'sha256')}`;
    expect((await lading(['manifest', 'fetch', P, upper])).code).toBe(2);
    const algo = `${plain.host}/busybox@md5:${'0'.repeat(32)}`;
    usage(await lading(['manifest', 'fetch', P, algo]), `invalid reference "${algo}": invalid digest "md5:${'0'.repeat(32)}": unsupported algorithm "md5" (sha256 or sha512)`);
  });

  it('IPv6 address without brackets', async () => {
    const r = await lading(['manifest', 'fetch', P, '2001:db8::1/busybox:latest']);
    usage(r, 'invalid reference "2001:db8::1/busybox:latest": invalid registry "2001:db8::1": an IPv6 address must be in brackets, with the port outside: [2001:db8::1]:5000');
    const loopback = await lading(['repo', 'tags', P, '::1:5000/busybox']);
    expect(loopback.code).toBe(2);
    expect(loopback.stderr).toContain('must be in brackets');
  });

  it('a scheme, a missing repository, white space', async () => {
    usage(await lading(['manifest', 'fetch', `http://${plain.host}/busybox:latest`]), `invalid reference "http://${plain.host}/busybox:latest": leave out the scheme (use --plain-http for http)`);
    usage(await lading(['manifest', 'fetch', P, `${plain.host}/:latest`]), `invalid reference "${plain.host}/:latest": missing repository`);
    usage(await lading(['manifest', 'fetch', P, `${plain.host}/busy box:latest`]), `invalid reference "${plain.host}/busy box:latest": contains white space`);
  });

  it('a reference without the part a command needs', async () => {
    // no tag and no digest means `latest` (as docker reads it)
    const latest = await lading(['manifest', 'fetch', P, `${plain.host}/busybox`]);
    expect(latest.code).toBe(0);
    expect(latest.stdoutBytes.equals(readFileSync(ociBlobPath(LATEST.digest)))).toBe(true);
    usage(await lading(['blob', 'fetch', P, `${plain.host}/busybox`, '-o', '-']), `"${plain.host}/busybox" names no blob: use REPOSITORY@sha256:<digest>`);
    usage(await lading(['repo', 'ls', P, 'busybox']), '"busybox" is not a registry host');
  });
});

describe('unknown commands, flags and arguments: exit 2', () => {
  it('unknown command and subcommand', async () => {
    const top = await lading(['frobnicate']);
    expect(top).toMatchObject({ code: 2, stdout: '', stderr: 'Error: unknown command "frobnicate"; run "lading --help"\n' });
    const sub = await lading(['manifest', 'frobnicate', `${plain.host}/busybox:latest`]);
    expect(sub).toMatchObject({ code: 2, stdout: '', stderr: 'Error: unknown command "manifest frobnicate"; run "lading manifest --help"\n' });
  });

  it('unknown flag, with a suggestion for a near miss', async () => {
    usage(await lading(['manifest', 'fetch', '--frobnicate', `${plain.host}/busybox:latest`]), 'unknown flag: --frobnicate');
    usage(await lading(['manifest', 'fetch', '--desc', `${plain.host}/busybox:latest`]), 'unknown flag: --desc (did you mean --descriptor?)');
    usage(await lading(['blob', 'push', '-Z', `${plain.host}/busybox`, join(work, 'hello.txt')]), 'unknown flag: -Z');
  });

  it('bad flag values and argument counts', async () => {
    usage(await lading(['manifest', 'fetch', '--max-manifest-size', 'lots', `${plain.host}/busybox:latest`]), 'invalid value "lots" for --max-manifest-size: expected an integer');
    usage(await lading(['manifest', 'fetch', P, '--output']), 'flag --output needs a value');
    usage(await lading(['manifest', 'fetch', P]), '"lading manifest fetch" takes exactly 1 argument: REFERENCE');
    usage(await lading(['resolve', P, `${plain.host}/busybox:latest`, 'extra']), '"lading resolve" takes exactly 1 argument: REFERENCE');
    usage(await lading(['manifest', 'fetch', P, '--platform', 'linux', `${plain.host}/busybox:latest`]), 'invalid platform "linux": expected os/arch[/variant][:os_version]');
    usage(await lading(['tag', P, '--concurrency', '0', `${plain.host}/busybox:latest`, 'x']), '--concurrency must be at least 1');
  });

  it('credential flags that do not go together', async () => {
    const r = await lading(['resolve', P, '-p', 'only-a-password', `${plain.host}/busybox:latest`]);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toBe(`Warning: Using --password via the command line is insecure; use --password-stdin.\nError: a password needs --username\n${usageTail(['resolve'])}`);
    usage(await lading(['resolve', P, '-u', 'someone', `${plain.host}/busybox:latest`]), '--username needs a password: --password-stdin or -p');
    usage(await lading(['resolve', P, '-u', 'a', '-p', 'b', '--password-stdin', `${plain.host}/busybox:latest`], { stdin: 'c' }), 'give only one of --password, --password-stdin, --identity-token and --identity-token-stdin');
  });
});

describe('wrong credentials: exit 3', () => {
  it('for reads and writes', async () => {
    const H = basic.host;
    for (const args of [
      ['manifest', 'fetch', `${H}/busybox:latest`],
      ['blob', 'push', `${H}/busybox`, join(work, 'hello.txt')],
      ['repo', 'ls', H],
    ]) {
      const r = await lading([...args, P, '-u', basic.username!, '--password-stdin'], { stdin: 'wrong-password' });
      expect(r.code).toBe(3);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('401 Unauthorized');
    }
  });
});

describe('unknown tag, digest, repository: exit 4', () => {
  it('on every command that reads', async () => {
    const H = plain.host;
    const nope = sha256('nope');
    const cases: Array<[string[], string]> = [
      [['manifest', 'fetch', `${H}/busybox:nope`], `Error: ${H}/busybox:nope: not found\n`],
      [['manifest', 'fetch', `${H}/busybox@${nope}`], `Error: ${H}/busybox@${nope}: not found\n`],
      [['manifest', 'fetch-config', `${H}/busybox:nope`], `Error: ${H}/busybox:nope: not found\n`],
      [['resolve', `${H}/nothing/here:latest`], `Error: ${H}/nothing/here:latest: not found\n`],
      [['tag', `${H}/busybox:nope`, 'v2'], `Error: ${H}/busybox:nope: not found\n`],
      [['manifest', 'delete', `${H}/busybox@${nope}`], `Error: ${H}/busybox@${nope}: not found\n`],
      [['blob', 'fetch', `${H}/busybox@${nope}`, '-o', '-'], `Error: blob ${nope} not found in ${H}/busybox\n`],
      [['blob', 'delete', `${H}/busybox@${nope}`], `Error: blob ${nope} not found in ${H}/busybox\n`],
    ];
    for (const [args, stderr] of cases) {
      const r = await lading([...args, P]);
      expect({ args, code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ args, code: 4, stdout: '', stderr });
    }
    const tags = await lading(['repo', 'tags', P, `${H}/nothing/here`]);
    expect(tags.code).toBe(4);
    expect(tags.stderr).toContain('NAME_UNKNOWN');
  });

  it('the blob exists elsewhere but not in this repository', async () => {
    const r = await lading(['blob', 'fetch', P, `${plain.host}/other@${DIGEST_LAYER1}`, '-o', '-']);
    expect(r.code).toBe(4);
    expect(r.stdoutBytes.length).toBe(0);
  });
});

describe('network failures: exit 7', () => {
  it('https to a plain-HTTP registry suggests --plain-http', async () => {
    const r = await lading(['manifest', 'fetch', `${plain.host}/busybox:latest`]);
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
      code: 7,
      stdout: '',
      stderr: `Error: GET https://${plain.host}/v2/busybox/manifests/latest: TLS handshake failed (wrong version number): the registry may speak plain HTTP: try --plain-http\n`,
    });
  });
});

describe('a password given with -p is never printed', () => {
  let token: RunningRegistry;
  beforeAll(async () => {
    token = await startRegistry({ mode: 'token', password: 'Sup3r-Secret-Pa55word' });
  });
  afterAll(async () => {
    await token?.stop();
  });

  it('by any failing command', async () => {
    const secret = 'Sup3r-Secret-Pa55word';
    const wrong = 'Wr0ng-Secret-Pa55word';
    const forms = (pw: string) => [pw, Buffer.from(`tester:${pw}`).toString('base64'), encodeURIComponent(pw)];
    const cfg = join(tmpDir('lading-secret-'), 'config.json');
    const runs: Array<{ args: string[]; pw: string; code: number }> = [
      // wrong password: htpasswd, token (the token server's error), login
      { args: ['manifest', 'fetch', P, `${basic.host}/busybox:latest`], pw: wrong, code: 3 },
      { args: ['blob', 'push', P, '--debug', `${basic.host}/busybox`, join(work, 'hello.txt')], pw: wrong, code: 3 },
      { args: ['manifest', 'fetch', P, '--debug', `${token.host}/busybox:latest`], pw: wrong, code: 3 },
      { args: ['login', P, '--registry-config', cfg, basic.host], pw: wrong, code: 3 },
      { args: ['login', P, '--debug', '--registry-config', cfg, token.host], pw: wrong, code: 3 },
      // right password, other failures
      { args: ['manifest', 'fetch', P, '--debug', `${basic.host}/busybox:nope`], pw: secret, code: 4 },
      { args: ['blob', 'push', P, `${basic.host}/busybox@${sha256('x')}`, join(work, 'hello.txt')], pw: secret, code: 5 },
      { args: ['manifest', 'fetch', P, `${token.host}/busybox@${sha256('x')}`], pw: secret, code: 4 },
      { args: ['manifest', 'fetch', `${basic.host}/busybox:latest`], pw: secret, code: 7 }, // https to a plain-http port
      { args: ['resolve', P, '--frobnicate', `${basic.host}/busybox:latest`], pw: secret, code: 2 },
      // the password pasted into the reference as user info as well
      { args: ['manifest', 'fetch', P, `tester:${secret}@${basic.host}/busybox:latest`], pw: secret, code: 2 },
      { args: ['login', P, '--registry-config', cfg, `https://tester:${secret}@${basic.host}/`], pw: secret, code: 2 },
    ];
    for (const { args, pw, code } of runs) {
      const r = await lading([...args, '-u', 'tester', '-p', pw]);
      expect({ args, code: r.code }).toEqual({ args, code });
      for (const f of forms(pw)) {
        expect({ args, leaked: r.stdout.includes(f) || r.stderr.includes(f) }).toEqual({ args, leaked: false });
      }
    }
  });
});

describe('a credential helper that is not installed (B11)', () => {
  let anon: RunningRegistry;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    // token auth with anonymous pull: the registry challenges, so lading does look for credentials
    anon = await startRegistry({
      mode: 'token',
      tokenServer: { grant: (subject, type, _name, requested) => (type !== 'repository' ? [] : subject ? requested : requested.filter((a) => a === 'pull')) },
    });
    await skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:latest`, `docker://${anon.host}/busybox:latest`, { dest: anon });
    const dir = tmpDir('lading-helper-');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ credsStore: 'nonexistent-helper' }));
    env = { ...process.env, DOCKER_CONFIG: dir };
  });
  afterAll(async () => {
    await anon?.stop();
  });

  it('warns naming the helper and pulls anonymously', async () => {
    const r = await lading(['manifest', 'fetch', P, `${anon.host}/busybox:latest`], { env });
    expect(r.code).toBe(0);
    expect(r.stdoutBytes.equals(readFileSync(ociBlobPath(LATEST.digest)))).toBe(true);
    expect(r.stderr).toBe('Warning: credential helper docker-credential-nonexistent-helper could not be run: not found on PATH; continuing without credentials\n');
    const blob = await lading(['blob', 'fetch', P, `${anon.host}/busybox@${DIGEST_LAYER1}`, '-o', '-'], { env });
    expect(blob.code).toBe(0);
    expect(sha256(blob.stdoutBytes)).toBe(DIGEST_LAYER1);
    expect(blob.stderr).toContain('docker-credential-nonexistent-helper');
  });

  it('an anonymous push is then refused with exit 3', async () => {
    const r = await lading(['blob', 'push', P, `${anon.host}/busybox`, join(work, 'hello.txt')], { env });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('docker-credential-nonexistent-helper');
  });

  it('login cannot store through it: a hard error naming the helper', async () => {
    const r = await lading(['login', P, '-u', anon.username!, '--password-stdin', anon.host], { env, stdin: anon.password });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('credential helper docker-credential-nonexistent-helper could not be run: not found on PATH');
  });
});
