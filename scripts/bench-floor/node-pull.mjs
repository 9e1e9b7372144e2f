// Floor for `pull` in Node (npm run bench, section floor-node): the least a Node program does to pull an image's
// layers into files: GET each blob (3 at a time, one keep-alive connection each), hash it (sha256, checked against
// its digest), write it in ≥ 1 MiB writev(2) calls. No manifest handling, resume, retries, progress or atomic rename.
// usage: node node-pull.mjs undici|http HOST REPO TAG OUTDIR
import http from 'node:http';
import { createHash } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { request } from 'undici';

const [client, host, repo, tag, out] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true });
/** GET → an async iterable body (undici's Readable, or node:http's IncomingMessage). */
async function get(path, headers = {}) {
  if (client === 'undici') {
    const res = await request(`http://${host}${path}`, { headers });
    if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode}`);
    return res.body;
  }
  const [hostname, port] = host.split(':');
  return new Promise((resolve, reject) => {
    http.get({ hostname, port, path, headers, agent }, (res) => (res.statusCode === 200 ? resolve(res) : reject(new Error(`GET ${path}: ${res.statusCode}`)))).on('error', reject);
  });
}
let text = '';
for await (const c of await get(`/v2/${repo}/manifests/${tag}`, { accept: 'application/vnd.oci.image.manifest.v1+json' })) text += c;
const layers = JSON.parse(text).layers.map((l) => l.digest);
await mkdir(out, { recursive: true });

async function pull(digest) {
  const file = await open(`${out}/${digest.slice('sha256:'.length)}`, 'w');
  const hash = createHash('sha256');
  let parts = [];
  let length = 0;
  for await (const chunk of await get(`/v2/${repo}/blobs/${digest}`)) {
    hash.update(chunk);
    parts.push(chunk);
    length += chunk.length;
    if (length >= 1 << 20) {
      await file.writev(parts);
      parts = [];
      length = 0;
    }
  }
  if (length > 0) await file.writev(parts);
  await file.close();
  if (`sha256:${hash.digest('hex')}` !== digest) throw new Error(`${digest}: wrong digest`);
}
let next = 0;
await Promise.all([0, 1, 2].map(async () => { while (next < layers.length) await pull(layers[next++]); }));
agent.destroy();
