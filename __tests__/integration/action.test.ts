/** The bundled Action (dist/action/index.js) run as the runner runs it, against the real registry. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runAction } from '../helpers/action.js';
import { BUSYBOX_V2S2, pushV2s2WithSkopeo } from '../helpers/fixtures.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { tmpDir } from '../helpers/tmp.js';

describe('the Action', () => {
  let reg: RunningRegistry;
  let auth: RunningRegistry;
  beforeAll(async () => {
    [reg, auth] = await Promise.all([startRegistry(), startRegistry({ mode: 'htpasswd' })]);
    await Promise.all([pushV2s2WithSkopeo(reg, 'hello', 'v1'), pushV2s2WithSkopeo(auth, 'hello', 'v1')]);
  });
  afterAll(async () => {
    await Promise.all([reg?.stop(), auth?.stop()]);
  });

  it('resolves a tag and sets digest, reference and json outputs, with a job summary', async () => {
    const r = await runAction({ command: 'resolve', reference: `${reg.host}/hello:v1`, 'plain-http': 'true' });
    expect(r.code).toBe(0);
    expect(r.outputs.digest).toBe(BUSYBOX_V2S2.manifest.digest);
    expect(r.outputs.reference).toBe(`${reg.host}/hello@${BUSYBOX_V2S2.manifest.digest}`);
    expect(JSON.parse(r.outputs.json)).toEqual({ reference: r.outputs.reference, mediaType: BUSYBOX_V2S2.manifest.mediaType, digest: BUSYBOX_V2S2.manifest.digest, size: BUSYBOX_V2S2.manifest.size });
    expect(r.summary).toContain('lading resolve');
    // The operation's log lines sit in one group named after it.
    expect(r.stdout).toContain(`::group::lading resolve ${reg.host}/hello:v1\n`);
    expect(r.stdout).toContain('::endgroup::');
    expect(r.summary).toContain(BUSYBOX_V2S2.manifest.digest);
  });

  it('pushes a blob and a manifest with tags, with credentials masked and never printed', async () => {
    const dir = tmpDir('lading-action-files-');
    const file = join(dir, 'blob.txt');
    writeFileSync(file, 'hello action\n');
    const creds = { username: auth.username!, password: auth.password!, 'plain-http': 'true' };
    const blob = await runAction({ command: 'blob-push', reference: `${auth.host}/art`, file, ...creds });
    expect(blob.code).toBe(0);
    expect(blob.outputs.digest).toBe('sha256:' + (await import('node:crypto')).createHash('sha256').update('hello action\n').digest('hex'));
    // The runner learns the secret from ::add-mask::; it appears nowhere else.
    const masked = blob.stdout.split('\n').filter((l) => l.includes(auth.password!));
    expect(masked).toEqual([`::add-mask::${auth.password}`]);
    expect(blob.stderr).not.toContain(auth.password!);
    expect(blob.summary).not.toContain(auth.password!);
    for (const v of Object.values(blob.outputs)) expect(v).not.toContain(auth.password!);

    const fetched = await runAction({ command: 'manifest-fetch', reference: `${auth.host}/hello:v1`, output: join(dir, 'm.json'), ...creds });
    expect(fetched.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, 'm.json'), 'utf8'));
    expect(manifest.mediaType).toBe(BUSYBOX_V2S2.manifest.mediaType);
    const pushed = await runAction({ command: 'manifest-push', reference: `${auth.host}/hello:v2`, file: join(dir, 'm.json'), tags: 'v3\nv4', ...creds });
    expect(pushed.code).toBe(0);
    expect(pushed.outputs.digest).toBe(BUSYBOX_V2S2.manifest.digest);
    expect(JSON.parse(pushed.outputs.json).tags).toEqual(['v2', 'v3', 'v4']);
    const tags = await runAction({ command: 'repo-tags', reference: `${auth.host}/hello`, ...creds });
    expect(JSON.parse(tags.outputs.json).tags).toEqual(['v1', 'v2', 'v3', 'v4']);
  });

  it('fails the step with one clear message for bad inputs, before any network call', async () => {
    const r = await runAction({ command: 'frobnicate' });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('::error::unknown command "frobnicate"');
    const missing = await runAction({ command: 'tag', reference: `${reg.host}/hello:v1`, 'plain-http': 'true' });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('::error::command "tag" needs the input "tags"');
  });

  it('fails with the same message the CLI prints, without the password', async () => {
    const r = await runAction({ command: 'resolve', reference: `${auth.host}/hello:v1`, username: auth.username!, password: 'wrong-password-123', 'plain-http': 'true' });
    expect(r.code).toBe(1);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error::'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/401/);
    expect(r.stdout.replace('::add-mask::wrong-password-123', '')).not.toContain('wrong-password-123');
    const notFound = await runAction({ command: 'resolve', reference: `${reg.host}/hello:nope`, 'plain-http': 'true' });
    expect(notFound.code).toBe(1);
    expect(notFound.stdout).toContain(`::error::${reg.host}/hello:nope: not found`);
  });
});
