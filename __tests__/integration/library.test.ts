/** The README's library example (examples/library.mjs) runs against the real registry through the package's own exports. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUSYBOX_V2S2, pushV2s2WithSkopeo } from '../helpers/fixtures.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { tmpDir } from '../helpers/tmp.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('library example', () => {
  let reg: RunningRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
    await pushV2s2WithSkopeo(reg, 'hello-world', 'latest');
    execFileSync('npm', ['run', 'build:lib', '--silent'], { cwd: root });
  });
  afterAll(async () => reg?.stop());

  it('is quoted verbatim in the README', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toContain(readFileSync(join(root, 'examples', 'library.mjs'), 'utf8').trim());
  });

  it('fetches the manifest and a verified layer', () => {
    const cwd = tmpDir('lading-lib-');
    const out = execFileSync(process.execPath, [join(root, 'examples', 'library.mjs'), `${reg.host}/hello-world:latest`], { cwd, env: { ...process.env, PLAIN_HTTP: 'true', DOCKER_CONFIG: cwd }, encoding: 'utf8' });
    expect(out).toContain(`${BUSYBOX_V2S2.manifest.mediaType} ${BUSYBOX_V2S2.manifest.digest} (587 bytes)`);
    const layer = readFileSync(join(cwd, 'layer.tar.gz'));
    expect(`sha256:${createHash('sha256').update(layer).digest('hex')}`).toBe(BUSYBOX_V2S2.layers[0].digest);
  });

  it('reports a library error by kind, without a stack trace', () => {
    const cwd = tmpDir('lading-lib-err-');
    const r = spawnSync(process.execPath, [join(root, 'examples', 'library.mjs'), `${reg.host}/hello-world:nope`], { cwd, env: { ...process.env, PLAIN_HTTP: 'true', DOCKER_CONFIG: cwd }, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`not-found: ${reg.host}/hello-world:nope: not found\n`);
  });
});
