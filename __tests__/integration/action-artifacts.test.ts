/** The bundled Action's artifact commands: push in one "job", pull in another through the outputs, attach, discover. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runAction } from '../helpers/action.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { tmpDir } from '../helpers/tmp.js';

describe('Action: push, pull, attach, discover', () => {
  let reg: RunningRegistry;
  let src: string;
  beforeAll(async () => {
    reg = await startRegistry();
    src = tmpDir('lading-action-art-');
    mkdirSync(join(src, 'docs', 'api'), { recursive: true });
    writeFileSync(join(src, 'app.bin'), 'binary\n', { mode: 0o755 });
    writeFileSync(join(src, 'docs', 'api', 'index.md'), '# api\n');
    writeFileSync(join(src, 'sbom.json'), '{"sbom":true}\n');
  });
  afterAll(async () => reg?.stop());

  it('pushes in one job and pulls in another through the outputs', async () => {
    const pushed = await runAction(
      { command: 'push', reference: `${reg.host}/release:v1`, files: 'app.bin\ndocs:application/vnd.example.docs+tar\n', tags: 'latest', 'artifact-type': 'application/vnd.example.release', annotations: 'org.opencontainers.image.source=https://example.invalid/repo\nnote=a=b', 'plain-http': 'true' },
      { PWD: src },
      src,
    );
    expect(pushed.stdout).not.toContain('::error::');
    expect(pushed.code).toBe(0);
    expect(pushed.outputs.reference).toBe(`${reg.host}/release@${pushed.outputs.digest}`);
    expect(JSON.parse(pushed.outputs.files)).toEqual(['app.bin', 'docs']);
    const json = JSON.parse(pushed.outputs.json);
    expect(json).toMatchObject({ artifactType: 'application/vnd.example.release', tags: ['v1', 'latest'] });
    expect(pushed.summary).toContain('application/vnd.example.release');

    const out = tmpDir('lading-action-pull-');
    const pulled = await runAction({ command: 'pull', reference: pushed.outputs.reference, output: out, 'plain-http': 'true' });
    expect(pulled.code).toBe(0);
    expect(pulled.outputs.digest).toBe(pushed.outputs.digest);
    expect(JSON.parse(pulled.outputs.files).sort()).toEqual([join(out, 'app.bin'), join(out, 'docs')]);
    expect(readFileSync(join(out, 'app.bin'), 'utf8')).toBe('binary\n');
    expect(statSync(join(out, 'app.bin')).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(out, 'docs', 'api', 'index.md'), 'utf8')).toBe('# api\n');
    expect(pulled.summary).toContain('files written');
  });

  it('attaches an SBOM and discovers it', async () => {
    await runAction({ command: 'push', reference: `${reg.host}/release:v2`, files: 'app.bin', 'plain-http': 'true' }, {}, src);
    const attached = await runAction({ command: 'attach', reference: `${reg.host}/release:v2`, files: 'sbom.json', 'artifact-type': 'application/spdx+json', 'plain-http': 'true' }, {}, src);
    expect(attached.stdout).not.toContain('::error::');
    expect(attached.code).toBe(0);
    const found = await runAction({ command: 'discover', reference: `${reg.host}/release:v2`, 'plain-http': 'true' });
    expect(found.code).toBe(0);
    const tree = JSON.parse(found.outputs.json);
    expect(tree.referrers.map((r: { digest: string; artifactType: string }) => [r.digest, r.artifactType])).toEqual([[attached.outputs.digest, 'application/spdx+json']]);
  });

  it('works on an OCI layout, with no registry', async () => {
    const layout = join(tmpDir('lading-action-layout-'), 'layout');
    const pushed = await runAction({ command: 'push', reference: `${layout}:v1`, files: 'sbom.json', 'oci-layout': 'true' }, {}, src);
    expect(pushed.code).toBe(0);
    expect(JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')).manifests[0].digest).toBe(pushed.outputs.digest);
    const out = tmpDir('lading-action-layout-pull-');
    const pulled = await runAction({ command: 'pull', reference: `${layout}:v1`, output: out, 'oci-layout': 'true' });
    expect(pulled.code).toBe(0);
    expect(readFileSync(join(out, 'sbom.json'), 'utf8')).toBe('{"sbom":true}\n');
  });

  it('rejects contradicting inputs before any network call', async () => {
    const r = await runAction({ command: 'attach', reference: `${reg.host}/release:v1`, files: 'x' });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('::error::command "attach" needs the input "artifact-type"');
    const f = await runAction({ command: 'resolve', reference: `${reg.host}/release:v1`, files: 'x' });
    expect(f.stdout).toContain('::error::input "files" does not apply to command "resolve"');
  });
});
