/**
 * The bundled Action's credentials, main and post step run as the runner runs them, against real htpasswd
 * registries: what is stored where, what later steps see, what the post step removes and puts back, and
 * that no secret leaks into logs, outputs or the summary (CASES B35) while a missing helper only warns (B11).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runAction, type ActionRun } from '../helpers/action.js';
import { BUSYBOX_OCI, BUSYBOX_OCI_DIR, BUSYBOX_V2S2, pushV2s2WithSkopeo } from '../helpers/fixtures.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { skopeoCopy } from '../helpers/skopeo.js';
import { tmpDir } from '../helpers/tmp.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const errors = (r: { stdout: string }) => r.stdout.split('\n').filter((l) => l.startsWith('::error::'));
const warnings = (r: { stdout: string }) => r.stdout.split('\n').filter((l) => l.startsWith('::warning::'));
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

/** The secret appears only in the ::add-mask:: line: not elsewhere in the logs, outputs, summary or exported variables. */
function expectNoLeak(r: ActionRun, secret: string): void {
  expect(r.stdout.split('\n').filter((l) => l.includes(secret))).toEqual([`::add-mask::${secret}`]);
  expect(r.stderr).not.toContain(secret);
  expect(r.summary).not.toContain(secret);
  expect(Object.values(r.outputs).join('\n')).not.toContain(secret);
  expect(Object.values(r.exported).join('\n')).not.toContain(secret);
}

describe('Action: credentials', () => {
  let auth: RunningRegistry;
  let other: RunningRegistry;
  let plain: RunningRegistry;
  beforeAll(async () => {
    [auth, other, plain] = await Promise.all([startRegistry({ mode: 'htpasswd', accessLog: true }), startRegistry({ mode: 'htpasswd' }), startRegistry()]);
    await Promise.all([pushV2s2WithSkopeo(auth, 'hello', 'v1'), pushV2s2WithSkopeo(plain, 'hello', 'v1')]);
  });
  afterAll(async () => {
    await Promise.all([auth?.stop(), other?.stop(), plain?.stop()]);
  });

  it('stores registry/username/password in the job config, later steps use it, the post step removes it', async () => {
    const ref = `${auth.host}/hello:v1`;
    const r = await runAction({ command: 'resolve', reference: ref, registry: auth.host, username: auth.username!, password: auth.password!, 'plain-http': 'true' });
    expect(errors(r)).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.outputs.digest).toBe(BUSYBOX_V2S2.manifest.digest);
    expect(r.outputs['media-type']).toBe(BUSYBOX_V2S2.manifest.mediaType);
    expect(r.outputs.size).toBe(String(BUSYBOX_V2S2.manifest.size));
    // the job's own config, not the user's Docker config; exported for later steps
    const file = join(r.dir, 'lading', 'config.json');
    expect(readJson(file)).toEqual({ auths: { [auth.host]: { auth: b64(`${auth.username}:${auth.password}`) } } });
    expect(r.exported).toEqual({ LADING_REGISTRY_CONFIG: file });
    expect(existsSync(join(r.dir, 'docker', 'config.json'))).toBe(false);
    expect(JSON.parse(r.state.credentials)).toEqual([expect.objectContaining({ file, key: auth.host, previous: null, isolated: true })]);
    expectNoLeak(r, auth.password!);

    // A later step of the job: no credentials given, the exported config is enough (and without it: 401).
    const later = await runAction({ command: 'resolve', reference: ref, 'plain-http': 'true' }, { LADING_REGISTRY_CONFIG: r.exported.LADING_REGISTRY_CONFIG });
    expect(errors(later)).toEqual([]);
    expect(later.outputs.digest).toBe(BUSYBOX_V2S2.manifest.digest);
    const anonymous = await runAction({ command: 'resolve', reference: ref, 'plain-http': 'true' });
    expect(anonymous.code).toBe(1);
    expect(errors(anonymous)[0]).toMatch(/401|unauthorized|credentials/i);

    // The post step at the end of the job: entry and file gone; the later step now fails; a second run is harmless.
    const post = await r.post();
    expect(post.code).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect(warnings(post)).toEqual([]);
    expect(post.stdout).not.toContain(auth.password!);
    const afterPost = await runAction({ command: 'resolve', reference: ref, 'plain-http': 'true' }, { LADING_REGISTRY_CONFIG: file });
    expect(afterPost.code).toBe(1);
    const again = await r.post();
    expect(again.code).toBe(0);
    expect(warnings(again)).toEqual([]);
  });

  it('docker-config: true writes the user Docker config; the post step puts back the old value and keeps other entries', async () => {
    const home = tmpDir('lading-action-home-');
    const dockerDir = join(home, 'docker');
    mkdirSync(dockerDir);
    const before = {
      auths: { [auth.host]: { auth: b64(`${auth.username}:an-old-password`) }, 'other.example': { auth: b64('someone:theirs') } },
      psFormat: 'table {{.ID}}',
    };
    writeFileSync(join(dockerDir, 'config.json'), JSON.stringify(before, null, 2));
    const r = await runAction(
      { command: 'resolve', reference: `${auth.host}/hello:v1`, registry: auth.host, username: auth.username!, password: auth.password!, 'plain-http': 'true', 'docker-config': 'true' },
      { DOCKER_CONFIG: dockerDir },
    );
    expect(errors(r)).toEqual([]);
    expect(r.outputs.digest).toBe(BUSYBOX_V2S2.manifest.digest); // the old (wrong) value would have been a 401
    const during = readJson(join(dockerDir, 'config.json'));
    expect(during.auths[auth.host]).toEqual({ auth: b64(`${auth.username}:${auth.password}`) });
    expect(during.auths['other.example']).toEqual(before.auths['other.example']);
    expect(r.exported).toEqual({});
    expect(existsSync(join(r.dir, 'lading'))).toBe(false);
    expectNoLeak(r, auth.password!);

    const post = await r.post({ DOCKER_CONFIG: dockerDir });
    expect(post.code).toBe(0);
    expect(readJson(join(dockerDir, 'config.json'))).toEqual(before);
  });

  it('registry-auth: two registries used by a copy, both removed by the post step', async () => {
    const yaml = [
      `- registry: ${auth.host}`,
      `  username: ${auth.username}`,
      `  password: '${auth.password}'`,
      `- registry: http://${other.host}/`,
      `  username: "${other.username}"`,
      `  password: ${other.password}   # the destination`,
    ].join('\n');
    const r = await runAction({ command: 'copy', source: `${auth.host}/hello:v1`, destination: `${other.host}/mirror/hello:v1`, tags: 'stable', 'registry-auth': yaml, 'plain-http': 'true' });
    expect(errors(r)).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.outputs.digest).toBe(BUSYBOX_V2S2.manifest.digest);
    expect(r.outputs.reference).toBe(`${other.host}/mirror/hello@${BUSYBOX_V2S2.manifest.digest}`);
    expect(JSON.parse(r.outputs.tags)).toEqual(['v1', 'stable']);
    const file = join(r.dir, 'lading', 'config.json');
    expect(Object.keys(readJson(file).auths).sort()).toEqual([auth.host, other.host].sort());
    for (const secret of [auth.password!, other.password!]) expectNoLeak(r, secret);
    const post = await r.post();
    expect(post.code).toBe(0);
    expect(existsSync(file)).toBe(false);
  });

  it('ghcr.io: the github-token is stored and masked when no credentials are given for it (no network needed)', async () => {
    const token = 'ghs_fakeToken0123456789';
    // A CA file that cannot be read makes the command fail before it connects anywhere; storing came first.
    const r = await runAction({ command: 'login', reference: 'ghcr.io', 'github-token': token, 'ca-file': '/nonexistent/ca.pem' }, { GITHUB_ACTOR: 'octocat' });
    expect(r.code).toBe(1);
    expect(errors(r)).toEqual(['::error::cannot read CA file "/nonexistent/ca.pem": ENOENT']);
    const file = join(r.dir, 'lading', 'config.json');
    expect(readJson(file)).toEqual({ auths: { 'ghcr.io': { auth: b64(`octocat:${token}`) } } });
    expectNoLeak(r, token);
    const post = await r.post();
    expect(post.code).toBe(0);
    expect(existsSync(file)).toBe(false);
    // Another registry: the token is neither stored nor registered.
    const elsewhere = await runAction({ command: 'resolve', reference: `${plain.host}/hello:v1`, 'plain-http': 'true', 'github-token': token });
    expect(elsewhere.code).toBe(0);
    expect(elsewhere.stdout).not.toContain(token);
    expect(existsSync(join(elsewhere.dir, 'lading'))).toBe(false);
  });

  it.each([
    [
      'registry-auth and username',
      { 'registry-auth': '- registry: a.example\n  username: u\n  password: topsecret-1', username: 'u', password: 'topsecret-2' },
      'inputs "registry-auth" and "username" cannot be used together',
    ],
    ['malformed registry-auth', { 'registry-auth': 'registry: a.example\npassword: topsecret-1' }, 'input "registry-auth", line 1: expected a list of entries'],
    ['a value registry-auth cannot read', { 'registry-auth': '- registry: a.example\n  username: u\n  password: topsecret-1: x' }, 'input "registry-auth", line 3: the value of "password" holds ": "'],
    ['an entry without password', { 'registry-auth': '- registry: a.example\n  username: u' }, 'input "registry-auth", entry 1 (line 1) for a.example: "password" is missing or empty'],
  ])('%s: one clear error, exit 1, before any network call or write', async (_, bad, message) => {
    const before = auth.readLog().length;
    const r = await runAction({ command: 'resolve', reference: `${auth.host}/hello:v1`, 'plain-http': 'true', ...bad });
    expect(r.code).toBe(1);
    expect(errors(r)).toHaveLength(1);
    expect(errors(r)[0]).toContain(`::error::${message}`);
    expect(r.stdout).not.toContain('topsecret');
    expect(r.state).toEqual({});
    expect(existsSync(join(r.dir, 'lading'))).toBe(false);
    expect(auth.readLog().length).toBe(before);
    // (the same step with good inputs does reach the registry: the log check above can fail)
    const control = await runAction({ command: 'resolve', reference: `${auth.host}/hello:v1`, 'plain-http': 'true', registry: auth.host, username: auth.username!, password: auth.password! });
    expect(control.code).toBe(0);
    expect(auth.readLog().length).toBeGreaterThan(before);
    expect((await r.post()).code).toBe(0);
  });

  it('an output that would contain a registered secret fails the step, naming the output, without printing the secret', async () => {
    const leaky = await startRegistry({ mode: 'htpasswd', password: 'leakyname' });
    try {
      const dir = tmpDir('lading-action-leak-');
      writeFileSync(join(dir, 'blob.txt'), 'x\n');
      const r = await runAction({ command: 'blob-push', reference: `${leaky.host}/team/leakyname`, file: join(dir, 'blob.txt'), username: leaky.username!, password: 'leakyname', 'plain-http': 'true' });
      expect(r.code).toBe(1);
      expect(errors(r)).toHaveLength(1);
      expect(errors(r)[0]).toMatch(/^::error::output "reference" would contain a password or token/);
      expect(errors(r)[0]).not.toContain('leakyname');
      expect(r.outputs).toEqual({});
      expect(r.summary).toBe('');
      expect((await r.post()).code).toBe(0);
    } finally {
      await leaky.stop();
    }
  });

  it('B11: a missing credential helper in the Docker config is a warning, not a failure', async () => {
    const home = tmpDir('lading-action-helper-');
    const dockerDir = join(home, 'docker');
    mkdirSync(dockerDir);
    const config = { credsStore: 'nosuch-helper' };
    writeFileSync(join(dockerDir, 'config.json'), JSON.stringify(config));
    // No credentials given: the command reads Docker's config, warns about the helper, and pulls anonymously
    // (token auth with anonymous pull: the registry challenges, so credentials are looked up).
    const anonPull = await startRegistry({
      mode: 'token',
      tokenServer: { grant: (subject, type, _name, requested) => (type !== 'repository' ? [] : subject ? requested : requested.filter((a) => a === 'pull')) },
    });
    try {
      await skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:latest`, `docker://${anonPull.host}/busybox:latest`, { dest: anonPull });
      const anon = await runAction({ command: 'resolve', reference: `${anonPull.host}/busybox:latest`, 'plain-http': 'true' }, { DOCKER_CONFIG: dockerDir });
      expect(errors(anon)).toEqual([]);
      expect(anon.code).toBe(0);
      expect(anon.outputs.digest).toBe(BUSYBOX_OCI.latest.manifest.digest);
      expect(warnings(anon)).toEqual(['::warning::credential helper docker-credential-nosuch-helper could not be run: not found on PATH; continuing without credentials']);
    } finally {
      await anonPull.stop();
    }
    // docker-config: true cannot store through it: a warning, and the job's own config is used instead.
    const r = await runAction(
      { command: 'resolve', reference: `${auth.host}/hello:v1`, registry: auth.host, username: auth.username!, password: auth.password!, 'plain-http': 'true', 'docker-config': 'true' },
      { DOCKER_CONFIG: dockerDir },
    );
    expect(errors(r)).toEqual([]);
    expect(r.outputs.digest).toBe(BUSYBOX_V2S2.manifest.digest);
    expect(warnings(r).join('\n')).toContain('docker-credential-nosuch-helper');
    expect(readJson(join(dockerDir, 'config.json'))).toEqual(config);
    const file = join(r.dir, 'lading', 'config.json');
    expect(r.exported).toEqual({ LADING_REGISTRY_CONFIG: file });
    expectNoLeak(r, auth.password!);
    expect((await r.post({ DOCKER_CONFIG: dockerDir })).code).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect(readJson(join(dockerDir, 'config.json'))).toEqual(config);
  });

  it('logout: false keeps the credentials after the job; the post step is safe when nothing was stored', async () => {
    const r = await runAction({ command: 'resolve', reference: `${auth.host}/hello:v1`, username: auth.username!, password: auth.password!, 'plain-http': 'true', logout: 'false' });
    expect(r.code).toBe(0);
    expect(r.state).toEqual({});
    const post = await r.post();
    expect(post.code).toBe(0);
    expect(post.stdout).toContain('no credentials to remove');
    expect(existsSync(join(r.dir, 'lading', 'config.json'))).toBe(true);
  });
});
