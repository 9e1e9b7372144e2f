/**
 * `lading convert` against a real Distribution 2.8 registry, checked with skopeo and by running busybox from the
 * converted image's layer: Docker → OCI, OCI → Docker, the multi-platform index → a Docker manifest list, dry runs,
 * same-repository conversion, OCI layouts on either side, and the errors (schema 1, unsupported types, usage).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { lading, type CliResult } from '../helpers/cli.js';
import { run } from '../helpers/exec.js';
import { BUSYBOX_OCI, BUSYBOX_OCI_DIR, BUSYBOX_V2S2, BUSYBOX_V2S2_DIR, DIGEST_CONFIG_ARM64, DIGEST_LAYER0, DIGEST_LAYER1, ociBlobPath, pushV2s2WithSkopeo } from '../helpers/fixtures.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { skopeoCopy, skopeoInspectRaw, skopeoRegistryFlags } from '../helpers/skopeo.js';
import { tmpDir } from '../helpers/tmp.js';

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const PLAIN = ['--from-plain-http', '--to-plain-http'];
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

const v2s2Bytes = readFileSync(join(BUSYBOX_V2S2_DIR, 'manifest.json'));
const ociLatestBytes = readFileSync(ociBlobPath(BUSYBOX_OCI.latest.manifest.digest));

/**
 * The canonical OCI form of the Docker busybox, built here from the OCI fixture (not by lading): the fixture's
 * `latest` manifest 02212e74… has the same config and layers, key for key, but umoci wrote it without a top-level
 * `mediaType` and with an `org.opencontainers.image.created` annotation. The Docker image has no annotation (nor a
 * place for one) and lading writes `mediaType` (as image-spec recommends), so the converted digest differs from
 * 02212e74… by exactly those two things.
 */
const ociFromDocker = (() => {
  const m = JSON.parse(ociLatestBytes.toString()) as Record<string, unknown>;
  delete m.annotations;
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, ...m }));
})();
const OCI_FROM_DOCKER = sha256(ociFromDocker);

/** The Docker forms of the multi index's children and of the index, written by hand in Docker's key order. */
const dockerArm = Buffer.from(
  `{"schemaVersion":2,"mediaType":"${DOCKER_MANIFEST}","config":{"mediaType":"${DOCKER_CONFIG}","size":1060,"digest":"${DIGEST_CONFIG_ARM64}"},` +
    `"layers":[{"mediaType":"${DOCKER_LAYER}","size":1084069,"digest":"${DIGEST_LAYER0}"},{"mediaType":"${DOCKER_LAYER}","size":326,"digest":"${DIGEST_LAYER1}"}]}`,
);
const dockerList = Buffer.from(
  `{"schemaVersion":2,"mediaType":"${DOCKER_LIST}","manifests":[` +
    `{"mediaType":"${DOCKER_MANIFEST}","size":${v2s2Bytes.length},"digest":"${BUSYBOX_V2S2.manifest.digest}","platform":{"architecture":"amd64","os":"linux"}},` +
    `{"mediaType":"${DOCKER_MANIFEST}","size":${dockerArm.length},"digest":"${sha256(dockerArm)}","platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}`,
);

/**
 * Runs `lading convert ARGS`: through main() once the command is registered there, else the way main() runs a
 * command (parse the flags, check the argument count, build the Context, map errors to exit codes).
 */
async function convert(args: string[]): Promise<CliResult> {
  return lading(['convert', ...args]);
}

function expectOk(r: CliResult): void {
  if (r.code !== 0) throw new Error(`exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

let reg: RunningRegistry;
let H: string;
let work: string;

beforeAll(async () => {
  reg = await startRegistry();
  H = reg.host;
  work = tmpDir('lading-convert-');
  // Seeded by an independent client: the Docker-format busybox, the OCI one, and the multi-platform OCI index.
  await pushV2s2WithSkopeo(reg, 'busybox', 'v2s2');
  await skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:latest`, `docker://${H}/busybox:oci`, { dest: reg });
  await skopeoCopy(`oci:${BUSYBOX_OCI_DIR}:multi`, `docker://${H}/busybox:multi`, { dest: reg, all: true });
});
afterAll(async () => {
  await reg?.stop();
});

/** `skopeo inspect` (not raw): skopeo parses the manifest and the config it names. */
async function skopeoInspect(reference: string): Promise<Record<string, unknown>> {
  const { stdout } = await run('skopeo', ['--insecure-policy', 'inspect', '--retry-times', '0', ...skopeoRegistryFlags(reg), `docker://${H}/${reference}`]);
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** Extracts a layer blob of a skopeo `dir:` copy and runs busybox from it. */
async function runBusyboxFrom(dir: string, layerDigest: string, words: string[]): Promise<string> {
  const root = join(dir, 'rootfs');
  mkdirSync(root);
  await run('tar', ['-xzf', join(dir, layerDigest.split(':')[1]), '-C', root]);
  return (await run(join(root, 'bin', 'busybox'), ['echo', ...words])).stdout;
}

async function tagAbsent(reference: string): Promise<void> {
  const r = await lading(['resolve', '--plain-http', `${H}/${reference}`]);
  expect(r.code).toBe(4);
}

describe('Docker → OCI', () => {
  it('converts the Docker busybox into another repository: blobs mounted, the canonical OCI digest, runnable with skopeo', async () => {
    const r = await convert(['--to', 'oci', ...PLAIN, `${H}/busybox:v2s2`, `${H}/converted/busybox:oci`]);
    expectOk(r);
    expect(r.stdout).toBe(`Digest: ${OCI_FROM_DOCKER}\n`);
    expect(OCI_FROM_DOCKER).not.toBe(BUSYBOX_OCI.latest.manifest.digest); // see ociFromDocker
    for (const blob of [BUSYBOX_V2S2.config.digest, DIGEST_LAYER0, DIGEST_LAYER1]) expect(r.stderr).toContain(`Mounted ${blob}`);
    expect(r.stderr).toContain(`Converted ${BUSYBOX_V2S2.manifest.digest} (Docker manifest) => ${OCI_FROM_DOCKER} (OCI manifest, ${ociFromDocker.length} B)`);

    const raw = await skopeoInspectRaw(reg, 'converted/busybox:oci');
    expect(raw.equals(ociFromDocker)).toBe(true);
    const dir = join(work, 'oci-dir');
    await skopeoCopy(`docker://${H}/converted/busybox:oci`, `dir:${dir}`, { src: reg });
    expect(readFileSync(join(dir, 'manifest.json')).equals(ociFromDocker)).toBe(true);
    expect(await runBusyboxFrom(dir, DIGEST_LAYER0, ['converted', 'to', 'OCI'])).toBe('converted to OCI\n');
  });

  it('same repository, new tag: the Docker tag is untouched; --format json', async () => {
    const r = await convert(['--to', 'oci', ...PLAIN, '--format', 'json', `${H}/busybox:v2s2`, `${H}/busybox:v2s2-as-oci`]);
    expectOk(r);
    expect(JSON.parse(r.stdout)).toEqual({
      reference: `${H}/busybox@${OCI_FROM_DOCKER}`,
      mediaType: OCI_MANIFEST,
      digest: OCI_FROM_DOCKER,
      size: ociFromDocker.length,
      source: { digest: BUSYBOX_V2S2.manifest.digest, mediaType: DOCKER_MANIFEST },
    });
    for (const blob of [BUSYBOX_V2S2.config.digest, DIGEST_LAYER0, DIGEST_LAYER1]) expect(r.stderr).toContain(`Exists  ${blob}`);
    expect((await skopeoInspectRaw(reg, 'busybox:v2s2')).equals(v2s2Bytes)).toBe(true);
    expect((await skopeoInspectRaw(reg, 'busybox:v2s2-as-oci')).equals(ociFromDocker)).toBe(true);
  });

  it('--dry-run prints the converted manifest and pushes nothing', async () => {
    const r = await convert(['--to', 'oci', '--dry-run', ...PLAIN, `${H}/busybox:v2s2`, `${H}/dry/busybox:oci`]);
    expectOk(r);
    expect(r.stdout).toBe(`${ociFromDocker.toString()}\n`);
    expect(r.stderr).toContain(`would get ${OCI_FROM_DOCKER}`);
    await tagAbsent('dry/busybox:oci');
    await tagAbsent(`dry/busybox@${OCI_FROM_DOCKER}`);
  });
});

describe('OCI → Docker', () => {
  it('converts the OCI busybox into exactly the Docker fixture (3e537ab4…), which skopeo reads and copies', async () => {
    const r = await convert(['--to', 'docker', ...PLAIN, `${H}/busybox:oci`, `${H}/converted/busybox:docker`]);
    expectOk(r);
    expect(r.stdout).toBe(`Digest: ${BUSYBOX_V2S2.manifest.digest}\n`);
    expect(r.stderr).toContain('Warning: ');
    expect(r.stderr).toContain('dropped annotations (org.opencontainers.image.created) of the manifest');
    const info = await skopeoInspect('converted/busybox:docker');
    expect(info.Digest).toBe(BUSYBOX_V2S2.manifest.digest);
    expect(info.Architecture).toBe('amd64');
    expect(info.Layers).toEqual([DIGEST_LAYER0, DIGEST_LAYER1]);
    const dir = join(work, 'docker-dir');
    await skopeoCopy(`docker://${H}/converted/busybox:docker`, `dir:${dir}`, { src: reg });
    expect(readFileSync(join(dir, 'manifest.json')).equals(v2s2Bytes)).toBe(true);
    expect(await runBusyboxFrom(dir, DIGEST_LAYER0, ['back', 'to', 'Docker'])).toBe('back to Docker\n');
  });

  it('the multi-platform OCI index becomes a Docker manifest list of Docker manifests, platforms kept', async () => {
    const r = await convert(['--to', 'docker', ...PLAIN, `${H}/busybox:multi`, `${H}/converted/busybox:list`]);
    expectOk(r);
    expect(r.stdout).toBe(`Digest: ${sha256(dockerList)}\n`);
    expect((await skopeoInspectRaw(reg, 'converted/busybox:list')).equals(dockerList)).toBe(true);
    expect((await skopeoInspectRaw(reg, `converted/busybox@${BUSYBOX_V2S2.manifest.digest}`)).equals(v2s2Bytes)).toBe(true);
    expect((await skopeoInspectRaw(reg, `converted/busybox@${sha256(dockerArm)}`)).equals(dockerArm)).toBe(true);
    // skopeo resolves the list to the amd64 image and reads its config
    const info = await skopeoInspect('converted/busybox:list');
    expect(info.Digest).toBe(sha256(dockerList));
    expect(info.Architecture).toBe('amd64');
  });

  it('--platform converts one child of the index', async () => {
    const r = await convert(['--to', 'docker', '--platform', 'linux/arm64', ...PLAIN, `${H}/busybox:multi`, `${H}/converted/busybox:arm64`]);
    expectOk(r);
    expect(r.stdout).toBe(`Digest: ${sha256(dockerArm)}\n`);
    expect((await skopeoInspectRaw(reg, 'converted/busybox:arm64')).equals(dockerArm)).toBe(true);
  });

  it('--dry-run of the index prints the list, then each child, one per line; nothing is pushed', async () => {
    const r = await convert(['--to', 'docker', '--dry-run', ...PLAIN, `${H}/busybox:multi`, `${H}/dry/busybox:list`]);
    expectOk(r);
    expect(r.stdout.split('\n')).toEqual([dockerList.toString(), v2s2Bytes.toString(), dockerArm.toString(), '']);
    await tagAbsent('dry/busybox:list');
    await tagAbsent(`dry/busybox@${sha256(dockerArm)}`);
  });
});

describe('OCI layouts', () => {
  it('from a layout (--from-oci-layout) to the registry', async () => {
    const r = await convert(['--to', 'docker', '--from-oci-layout', '--to-plain-http', `${BUSYBOX_OCI_DIR}:latest`, `${H}/fromlayout/busybox:docker`]);
    expectOk(r);
    expect(r.stdout).toBe(`Digest: ${BUSYBOX_V2S2.manifest.digest}\n`);
    expect((await skopeoInspectRaw(reg, 'fromlayout/busybox:docker')).equals(v2s2Bytes)).toBe(true);
  });

  it('from the registry to a layout (--to-oci-layout), which skopeo reads and runs from', async () => {
    const layout = join(work, 'layout');
    const r = await convert(['--to', 'oci', '--to-oci-layout', '--from-plain-http', `${H}/busybox:v2s2`, `${layout}:oci`]);
    expectOk(r);
    expect(r.stdout).toBe(`Digest: ${OCI_FROM_DOCKER}\n`);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
    expect(index.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'oci').map((m) => m.digest)).toEqual([OCI_FROM_DOCKER]);
    const { stdoutBytes } = await run('skopeo', ['--insecure-policy', 'inspect', '--raw', `oci:${layout}:oci`]);
    expect(stdoutBytes.equals(ociFromDocker)).toBe(true);
    const dir = join(work, 'layout-dir');
    await skopeoCopy(`oci:${layout}:oci`, `dir:${dir}`);
    expect(await runBusyboxFrom(dir, DIGEST_LAYER0, ['from', 'a', 'layout'])).toBe('from a layout\n');
  });

  it('layout to layout: the multi index to a Docker manifest list', async () => {
    const layout = join(work, 'layout2');
    const r = await convert(['--to', 'docker', '--from-oci-layout', '--to-oci-layout', `${BUSYBOX_OCI_DIR}:multi`, `${layout}:list`]);
    expectOk(r);
    expect(r.stdout).toBe(`Digest: ${sha256(dockerList)}\n`);
    const blobs = readdirSync(join(layout, 'blobs', 'sha256')).sort();
    expect(blobs).toEqual(
      [BUSYBOX_V2S2.manifest.digest, sha256(dockerArm), sha256(dockerList), BUSYBOX_V2S2.config.digest, DIGEST_CONFIG_ARM64, DIGEST_LAYER0, DIGEST_LAYER1].map((d) => d.split(':')[1]).sort(),
    );
    expect(readFileSync(join(layout, 'blobs', 'sha256', sha256(dockerList).split(':')[1])).equals(dockerList)).toBe(true);
  });
});

describe('errors', () => {
  /** A registry that serves one schema 1 manifest: with a digest header on HEAD (tag 1.0) or only on GET (1.1). */
  async function schema1Registry(): Promise<{ host: string; close: () => Promise<void> }> {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'old/app', tag: '1.0', architecture: 'amd64', fsLayers: [], history: [], signatures: [] }));
    const server = http.createServer((req, res) => {
      const url = req.url ?? '';
      if (url === '/v2/') return res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      const m = /^\/v2\/old\/app\/manifests\/(1\.[01])$/.exec(url);
      if (!m) return res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NAME_UNKNOWN"}]}');
      const headers: Record<string, string> = { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'content-length': String(body.length) };
      if (m[1] === '1.0' || req.method === 'GET') headers['docker-content-digest'] = sha256(body);
      res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    return { host: `127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  it('a schema 1 manifest from a registry: "schema 1 cannot be converted", exit 1, nothing pushed', async () => {
    const old = await schema1Registry();
    try {
      for (const tag of ['1.0', '1.1']) {
        const r = await convert(['--to', 'oci', ...PLAIN, `${old.host}/old/app:${tag}`, `${H}/schema1/app:oci`]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^Error: schema 1 cannot be converted/m);
      }
    } finally {
      await old.close();
    }
    await tagAbsent('schema1/app:oci');
  });

  it('a schema 1 manifest in a layout fails the same way', async () => {
    const layout = join(work, 'schema1-layout');
    const body = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'old/app', tag: '1.0', fsLayers: [], history: [] }));
    mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(layout, 'blobs', 'sha256', sha256(body).split(':')[1]), body);
    writeFileSync(
      join(layout, 'index.json'),
      JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws', digest: sha256(body), size: body.length, annotations: { 'org.opencontainers.image.ref.name': 'old' } }] }),
    );
    const r = await convert(['--to', 'oci', '--from-oci-layout', '--to-plain-http', `${layout}:old`, `${H}/schema1/app:layout`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: schema 1 cannot be converted/m);
    await tagAbsent('schema1/app:layout');
  });

  it('an OCI artifact to Docker is unsupported: exit 1, a clear message, nothing tagged', async () => {
    const file = join(work, 'note.txt');
    writeFileSync(file, 'an artifact, not an image\n');
    expectOk(await lading(['push', '--plain-http', '--disable-path-validation', `${H}/artifact:v1`, file]));
    const r = await convert(['--to', 'docker', ...PLAIN, `${H}/artifact:v1`, `${H}/artifact:docker`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Error: unsupported: config media type application/vnd.oci.empty.v1+json has no Docker schema 2 equivalent');
    await tagAbsent('artifact:docker');
  });

  it.each([
    ['no --to', [], /--to is required/],
    ['an unknown --to', ['--to', 'podman'], /invalid --to "podman": expected oci or docker/],
    ['a destination digest', ['--to', 'oci', '--dst-digest'], /names a digest/],
    ['both sides reading stdin', ['--to', 'oci', '--from-username', 'a', '--from-password-stdin', '--to-username', 'b', '--to-password-stdin'], /only one side can read its secret from stdin/],
  ])('usage: %s exits 2', async (_what, flags, message) => {
    const dst = flags.includes('--dst-digest') ? `${H}/x/busybox@${OCI_FROM_DOCKER}` : `${H}/x/busybox:oci`;
    const r = await convert([...flags.filter((f) => f !== '--dst-digest'), ...PLAIN, `${H}/busybox:v2s2`, dst]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    await tagAbsent('x/busybox:oci');
  });

  it('an unreachable destination exits 7 and names the destination side; the source is untouched', async () => {
    const r = await convert(['--to', 'oci', ...PLAIN, `${H}/busybox:v2s2`, '127.0.0.1:1/x/busybox:oci']);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/^Error: destination 127\.0\.0\.1:1\/x\/busybox: /m);
    expect((await skopeoInspectRaw(reg, 'busybox:v2s2')).equals(v2s2Bytes)).toBe(true);
  });

  it('a missing source exits 4 and names the source side', async () => {
    const r = await convert(['--to', 'oci', ...PLAIN, `${H}/busybox:nope`, `${H}/x/busybox:oci`]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(new RegExp(`^Error: source ${H.replace(/\./g, '\\.')}/busybox:nope: `, 'm'));
  });
});
