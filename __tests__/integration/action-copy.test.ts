/** The bundled Action's copy: per-side credentials, outputs, and no password in any output. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runAction } from '../helpers/action.js';
import { BUSYBOX_V2S2, pushV2s2WithSkopeo } from '../helpers/fixtures.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';

describe('Action: copy', () => {
  let src: RunningRegistry;
  let dst: RunningRegistry;
  beforeAll(async () => {
    [src, dst] = await Promise.all([startRegistry({ mode: 'htpasswd' }), startRegistry({ mode: 'htpasswd' })]);
    await pushV2s2WithSkopeo(src, 'hello', 'v1');
  });
  afterAll(async () => {
    await Promise.all([src?.stop(), dst?.stop()]);
  });

  it('copies between registries with their own credentials, digest unchanged, secrets never shown', async () => {
    const r = await runAction({
      command: 'copy',
      source: `${src.host}/hello:v1`,
      destination: `${dst.host}/mirror/hello:v1`,
      tags: 'stable',
      'plain-http': 'true',
      'source-username': src.username!,
      'source-password': src.password!,
      'destination-username': dst.username!,
      'destination-password': dst.password!,
    });
    expect(r.stdout).not.toContain('::error::');
    expect(r.code).toBe(0);
    expect(r.outputs.digest).toBe(BUSYBOX_V2S2.manifest.digest);
    expect(r.outputs.reference).toBe(`${dst.host}/mirror/hello@${BUSYBOX_V2S2.manifest.digest}`);
    expect(JSON.parse(r.outputs.json).tags).toEqual(['v1', 'stable']);
    for (const secret of [src.password!, dst.password!]) {
      const lines = r.stdout.split('\n').filter((l) => l.includes(secret));
      expect(lines).toEqual([`::add-mask::${secret}`]);
      expect(r.stderr + r.summary + Object.values(r.outputs).join('\n')).not.toContain(secret);
    }
    expect(r.stdout).not.toMatch(/Using --(from-|to-)?password/);
    const check = await runAction({ command: 'resolve', reference: `${dst.host}/mirror/hello:stable`, username: dst.username!, password: dst.password!, 'plain-http': 'true' });
    expect(check.outputs.digest).toBe(BUSYBOX_V2S2.manifest.digest);
  });

  it('names the side that failed', async () => {
    const r = await runAction({ command: 'copy', source: `${src.host}/hello:v1`, destination: `${dst.host}/mirror/hello:v2`, 'plain-http': 'true', 'source-username': src.username!, 'source-password': src.password!, 'destination-username': dst.username!, 'destination-password': 'wrong-password-x' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/::error::destination 127\.0\.0\.1:\d+\/mirror\/hello: .*401/);
  });
});
