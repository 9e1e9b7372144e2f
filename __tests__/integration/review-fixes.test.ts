/**
 * Behaviours a first user tripped over (README trial), each pinned down against the real registry:
 * pushes without a tag go by digest, oversized manifests fail cleanly in the bundled CLI, logout of an
 * unknown registry succeeds, --platform checks single images, error details name the blob.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAction } from '../helpers/action.js';
import { lading } from '../helpers/cli.js';
import { BUSYBOX_V2S2, BUSYBOX_V2S2_DIR, pushV2s2WithSkopeo } from '../helpers/fixtures.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { tmpDir } from '../helpers/tmp.js';

const CLI = fileURLToPath(new URL('../../dist/cli/index.js', import.meta.url));
const P = '--plain-http';

describe('review fixes', () => {
  let reg: RunningRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
    await pushV2s2WithSkopeo(reg, 'hello', 'latest');
  });
  afterAll(async () => reg?.stop());

  it('manifest push without a tag pushes by digest and leaves latest alone', async () => {
    const manifest = JSON.parse(readFileSync(join(BUSYBOX_V2S2_DIR, 'manifest.json'), 'utf8'));
    manifest.annotations = { note: 'by digest' };
    const file = join(tmpDir('lading-bydigest-'), 'm.json');
    writeFileSync(file, JSON.stringify(manifest));
    const r = await lading(['manifest', 'push', P, '--format', 'json', `${reg.host}/hello`, file]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.tags).toEqual([]);
    expect(out.reference).toBe(`${reg.host}/hello@${out.digest}`);
    expect((await lading(['resolve', P, `${reg.host}/hello:latest`])).stdout.trim()).toBe(BUSYBOX_V2S2.manifest.digest);
    expect((await lading(['resolve', P, `${reg.host}/hello@${out.digest}`])).stdout.trim()).toBe(out.digest);
  });

  it('a manifest over --max-manifest-size fails with one message and exit 1 in the bundled CLI (no crash)', () => {
    const r = spawnSync(process.execPath, [CLI, 'manifest', 'fetch', P, '--max-manifest-size', '100', `${reg.host}/hello:latest`], { encoding: 'utf8' });
    expect(r.stderr).toBe(`Error: manifest exceeds 100 bytes (got ${BUSYBOX_V2S2.manifest.size}); use --max-manifest-size\n`);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
  });

  it('logout of a registry without credentials succeeds and says so', async () => {
    const dir = tmpDir('lading-logout-');
    const r = await lading(['logout', '--format', 'json', reg.host], { env: { ...process.env, DOCKER_CONFIG: dir } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ registry: reg.host, loggedIn: false, removed: false });
    const text = await lading(['logout', reg.host], { env: { ...process.env, DOCKER_CONFIG: dir } });
    expect(text.stdout).toBe(`Not logged in to ${reg.host}\n`);
  });

  it('--platform on a single image checks its config', async () => {
    const wrong = await lading(['resolve', P, '--platform', 'linux/arm64', `${reg.host}/hello:latest`]);
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toBe(`Error: ${reg.host}/hello:latest is a single linux/amd64 image, not linux/arm64\n`);
    const right = await lading(['resolve', P, '--platform', 'linux/amd64', `${reg.host}/hello:latest`]);
    expect(right.stdout.trim()).toBe(BUSYBOX_V2S2.manifest.digest);
  });

  it('a manifest naming a missing blob says which one', async () => {
    const manifest = JSON.parse(readFileSync(join(BUSYBOX_V2S2_DIR, 'manifest.json'), 'utf8'));
    const missing = 'sha256:' + 'ab'.repeat(32);
    manifest.layers[1].digest = missing;
    const file = join(tmpDir('lading-missing-'), 'm.json');
    writeFileSync(file, JSON.stringify(manifest));
    const r = await lading(['manifest', 'push', P, `${reg.host}/other:v1`, file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`MANIFEST_BLOB_UNKNOWN: blob unknown to registry (digest ${missing})`);
  });

  it('argument counts and delete refusals read plainly, and point at the command help', async () => {
    const few = await lading(['tag', P, `${reg.host}/hello:latest`]);
    expect(few.stderr).toBe('Error: "lading tag" takes at least 2 arguments: REFERENCE TAG [TAG…]\nRun "lading tag --help" for usage.\n');
    const del = await lading(['manifest', 'delete', P, `${reg.host}/hello:latest`]);
    expect(del.code).toBe(2);
    expect(del.stderr).toBe(`Error: refusing to delete the manifest ${BUSYBOX_V2S2.manifest.digest} and all tags associated with it without confirmation: pass --force (there is no terminal to ask on)\nRun "lading manifest delete --help" for usage.\n`);
    const no = await lading(['blob', 'delete', P, `${reg.host}/hello@${BUSYBOX_V2S2.config.digest}`], { tty: true, stdin: 'n\n' });
    expect(no.code).toBe(1);
    expect(no.stderr).toBe(`Are you sure you want to delete the blob ${BUSYBOX_V2S2.config.digest}? [y/N] Error: cancelled: nothing was deleted\n`);
  });

  it('tag prints one line per tag, in the order given', async () => {
    const r = await lading(['tag', P, `${reg.host}/hello:latest`, 'c1', 'a1', 'b1']);
    expect(r.stdout).toBe('Tagged c1\nTagged a1\nTagged b1\n');
    expect(r.stderr).toBe(`Tagging [registry] ${reg.host}/hello@${BUSYBOX_V2S2.manifest.digest}\n`);
  });

  it('the Action succeeds without a job summary file and words its advice in input terms', async () => {
    const ok = await runAction({ command: 'resolve', reference: `${reg.host}/hello:latest`, 'plain-http': 'true' }, { GITHUB_STEP_SUMMARY: '' });
    expect(ok.code).toBe(0);
    expect(ok.outputs.digest).toBe(BUSYBOX_V2S2.manifest.digest);
    const tls = await runAction({ command: 'resolve', reference: `${reg.host}/hello:latest`, 'plain-http': 'false' });
    expect(tls.code).toBe(1);
    expect(tls.stdout).toMatch(/::error::(GET|HEAD) https:\/\/.*TLS handshake failed \(wrong version number\): the registry may speak plain HTTP: try plain-http: true/);
  });
});
