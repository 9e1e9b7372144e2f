#!/usr/bin/env node
// The ORAS 0.15 walkthrough, done with lading against two local CNCF Distribution registries:
// a "Docker Hub" holding a Docker-format busybox image and a second registry it moves to, as OCI.
// Starts the registries itself (installing Debian's docker-registry when it can) and stops them after.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cli = join(root, 'dist', 'cli', 'index.js');
const image = join(root, '__tests__', 'fixtures', 'images', 'busybox-v2s2');
const work = mkdtempSync(join(tmpdir(), 'lading-demo-'));
const registries = [];

function registryBinary() {
  const bin = process.env.LADING_REGISTRY_BIN ?? '/usr/bin/docker-registry';
  if (existsSync(bin)) return bin;
  const isRoot = process.getuid?.() === 0;
  console.log(`docker-registry is not installed; ${isRoot ? 'installing it with apt-get' : 'it is needed for the demo'}…`);
  if (isRoot && spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    spawnSync('apt-get', ['install', '-y', '-qq', 'docker-registry'], { stdio: 'inherit', env });
    if (existsSync(bin)) return bin;
  }
  console.error('\nThe demo needs a CNCF Distribution registry binary. Install it with:\n  sudo apt-get install docker-registry   (Debian/Ubuntu)\nor point LADING_REGISTRY_BIN at a "registry" binary from github.com/distribution/distribution.');
  process.exit(1);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startRegistry(bin, name) {
  const port = await freePort();
  const dir = join(work, name);
  mkdirSync(join(dir, 'data'), { recursive: true });
  const config = join(dir, 'config.yml');
  writeFileSync(config, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: demo-${name}\n`);
  const proc = spawn(bin, ['serve', config], { stdio: 'ignore' });
  registries.push(proc);
  const url = `http://127.0.0.1:${port}/v2/`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).ok) return `127.0.0.1:${port}`;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`registry ${name} did not start on port ${port}`);
}

function lading(...args) {
  console.log(`\n$ lading ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  if (r.stderr) process.stdout.write(r.stderr.replace(/^/gm, '  '));
  if (r.stdout) process.stdout.write(r.stdout.length > 1200 ? `${r.stdout.slice(0, 1200)}…\n` : r.stdout.endsWith('\n') ? r.stdout : `${r.stdout}\n`);
  if (r.status !== 0) throw new Error(`lading ${args[0]} exited with ${r.status}`);
  return r.stdout;
}

function cleanup() {
  for (const p of registries) p.kill();
  rmSync(work, { recursive: true, force: true });
}

try {
  if (!existsSync(cli)) throw new Error('dist/cli/index.js is missing: run npm run build');
  const bin = registryBinary();
  const [hub, dest] = await Promise.all([startRegistry(bin, 'hub'), startRegistry(bin, 'dest')]);
  console.log(`Registries: ${hub} stands in for Docker Hub, ${dest} is where the image goes.`);
  const P = '--plain-http';

  console.log('\n# 0. Seed the "Docker Hub" registry with a Docker-format busybox image (its blobs, then its manifest).');
  const seed = JSON.parse(readFileSync(join(image, 'manifest.json'), 'utf8'));
  for (const b of [seed.config, ...seed.layers]) lading('blob', 'push', P, `${hub}/library/hello-world@${b.digest}`, join(image, b.digest.slice(7)));
  lading('manifest', 'push', P, `${hub}/library/hello-world:latest`, join(image, 'manifest.json'));

  console.log('\n# 1. Fetch the Docker manifest, byte for byte.');
  const digest = lading('resolve', P, `${hub}/library/hello-world:latest`).trim();
  const manifest = JSON.parse(lading('manifest', 'fetch', P, `${hub}/library/hello-world@${digest}`));

  console.log('\n# 2. Fetch its config and layers to files (digests verified while streaming).');
  const blobs = [manifest.config, ...manifest.layers];
  for (const b of blobs) lading('blob', 'fetch', P, `${hub}/library/hello-world@${b.digest}`, '--output', join(work, b.digest.slice(7)));

  console.log('\n# 3. Push them to the other registry: with a digest, and without one.');
  lading('blob', 'push', P, `${dest}/oras-repo/hello-world:latest@${blobs[0].digest}`, join(work, blobs[0].digest.slice(7)));
  for (const b of blobs.slice(1)) lading('blob', 'push', P, `${dest}/oras-repo/hello-world`, join(work, b.digest.slice(7)));

  console.log('\n# 4. Rewrite the media types from Docker to OCI and push the manifest.');
  manifest.mediaType = 'application/vnd.oci.image.manifest.v1+json';
  manifest.config.mediaType = 'application/vnd.oci.image.config.v1+json';
  for (const l of manifest.layers) l.mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip';
  const file = join(work, 'hello-manifest.json');
  writeFileSync(file, JSON.stringify(manifest, null, 2));
  lading('manifest', 'push', P, `${dest}/oras-repo/hello-world:latest`, file);

  console.log('\n# 5. Read it back: OCI media types now.');
  lading('manifest', 'fetch', P, '--pretty', `${dest}/oras-repo/hello-world:latest`);
  const skopeo = spawnSync('sh', ['-c', 'command -v skopeo'], { encoding: 'utf8' }).stdout.trim();
  if (skopeo) {
    const out = join(work, 'skopeo-copy');
    execFileSync(skopeo, ['copy', '--src-tls-verify=false', '--preserve-digests', `docker://${dest}/oras-repo/hello-world:latest`, `dir:${out}`], { stdio: 'ignore' });
    const copied = createHash('sha256').update(readFileSync(join(out, 'manifest.json'))).digest('hex');
    console.log(`\nskopeo copied the image; its manifest digest is sha256:${copied}`);
    mkdirSync(join(work, 'rootfs'));
    execFileSync('tar', ['-xzf', join(out, manifest.layers[0].digest.slice(7)), '-C', join(work, 'rootfs')]);
    console.log(`busybox from the pulled layer says: ${execFileSync(join(work, 'rootfs', 'bin', 'busybox'), ['echo', 'hello from an OCI image moved by lading'], { encoding: 'utf8' }).trim()}`);
  } else {
    console.log('\n(skopeo is not installed: skipping the check with another client)');
  }

  console.log('\n# 6. Tag it several times at once and list the tags.');
  lading('tag', P, `${dest}/oras-repo/hello-world:latest`, 'v1.0.0', 'v2.0.0');
  lading('repo', 'tags', P, `${dest}/oras-repo/hello-world`);
  lading('repo', 'ls', P, dest);
  console.log('\nDemo complete.');
} catch (err) {
  console.error(`\nDemo failed: ${err.message}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
