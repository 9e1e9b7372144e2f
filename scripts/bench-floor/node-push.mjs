// Floor for `push` in Node (npm run bench, section floor-node): the least a Node program does to push an OCI layout's
// image with undici: for each blob (3 at a time) POST an upload session and PUT the file's bytes in one request,
// hashing them as they are read (sha256, checked against the digest before the last byte leaves), then PUT the
// manifest. No existence checks, retries, chunking, progress.
// usage: node node-push.mjs LAYOUT TAG HOST REPO
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { Transform } from 'node:stream';
import { request } from 'undici';

const [layout, tag, host, repo] = process.argv.slice(2);
const blobPath = (digest) => `${layout}/blobs/sha256/${digest.slice('sha256:'.length)}`;
const index = JSON.parse(readFileSync(`${layout}/index.json`, 'utf8'));
const top = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
const manifestBytes = readFileSync(blobPath(top.digest));
const manifest = JSON.parse(manifestBytes);

async function push(desc) {
  const post = await request(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await post.body.dump();
  if (post.statusCode !== 202) throw new Error(`POST: ${post.statusCode}`);
  const location = new URL(post.headers.location, `http://${host}`);
  location.searchParams.set('digest', desc.digest);
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
  const body = createReadStream(blobPath(desc.digest), { highWaterMark: 1 << 20 }).pipe(checked);
  const put = await request(location, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) } });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`PUT ${desc.digest}: ${put.statusCode}`);
}
const blobs = [manifest.config, ...manifest.layers];
let next = 0;
await Promise.all([0, 1, 2].map(async () => { while (next < blobs.length) await push(blobs[next++]); }));
const put = await request(`http://${host}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifestBytes, headers: { 'content-type': top.mediaType } });
await put.body.dump();
if (put.statusCode !== 201) throw new Error(`PUT manifest: ${put.statusCode}`);
