// Floor for `copy` in Node (npm run bench, section floor-node): the least a Node program does to copy an image
// between registries with undici: for each blob (3 at a time) POST an upload session at the destination and PUT the
// source's GET body straight into it, hashing as it passes (checked against the digest before the last byte
// leaves), then PUT the manifest. No existence checks, mounts, retries, resume, progress.
// usage: node node-copy.mjs FROM_HOST/REPO:TAG TO_HOST/REPO
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { request } from 'undici';

const [from, to] = process.argv.slice(2);
const [, srcHost, srcRepo, tag] = /^([^/]+)\/(.+):([^:/]+)$/.exec(from);
const [, dstHost, dstRepo] = /^([^/]+)\/(.+)$/.exec(to);
const mediaType = 'application/vnd.oci.image.manifest.v1+json';
const got = await request(`http://${srcHost}/v2/${srcRepo}/manifests/${tag}`, { headers: { accept: mediaType } });
const manifestBytes = Buffer.from(await got.body.arrayBuffer());
const manifest = JSON.parse(manifestBytes);

async function copy(desc) {
  const post = await request(`http://${dstHost}/v2/${dstRepo}/blobs/uploads/`, { method: 'POST' });
  await post.body.dump();
  if (post.statusCode !== 202) throw new Error(`POST: ${post.statusCode}`);
  const location = new URL(post.headers.location, `http://${dstHost}`);
  location.searchParams.set('digest', desc.digest);
  const src = await request(`http://${srcHost}/v2/${srcRepo}/blobs/${desc.digest}`);
  if (src.statusCode !== 200) throw new Error(`GET ${desc.digest}: ${src.statusCode}`);
  const hash = createHash('sha256');
  let seen = 0;
  const checked = new Transform({
    transform(chunk, _enc, done) {
      hash.update(chunk);
      seen += chunk.length;
      if (seen === desc.size && `sha256:${hash.digest('hex')}` !== desc.digest) return done(new Error(`${desc.digest}: wrong digest`));
      done(null, chunk);
    },
  });
  const put = await request(location, { method: 'PUT', body: src.body.pipe(checked), headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) } });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`PUT ${desc.digest}: ${put.statusCode}`);
}
const blobs = [manifest.config, ...manifest.layers];
let next = 0;
await Promise.all([0, 1, 2].map(async () => { while (next < blobs.length) await copy(blobs[next++]); }));
const put = await request(`http://${dstHost}/v2/${dstRepo}/manifests/${tag}`, { method: 'PUT', body: manifestBytes, headers: { 'content-type': mediaType } });
await put.body.dump();
if (put.statusCode !== 201) throw new Error(`PUT manifest: ${put.statusCode}`);
