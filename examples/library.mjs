// Resolve a tag, read the image manifest, and stream its first layer to a file, verified.
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createCredentialProvider, LadingError, parseReference, Registry } from 'lading';

try {
  const ref = parseReference(process.argv[2] ?? 'localhost:5000/hello-world:latest');
  const registry = new Registry(ref.registry, ref.host, {
    plainHttp: process.env.PLAIN_HTTP === 'true' ? true : undefined,
    credentials: createCredentialProvider(), // ~/.docker/config.json and credential helpers
  });
  const repo = registry.repository(ref.repository);

  const { descriptor, bytes } = await repo.fetchManifest(ref.digest ?? ref.tag);
  console.log(`${descriptor.mediaType} ${descriptor.digest} (${descriptor.size} bytes)`);

  const manifest = JSON.parse(bytes.toString('utf8'));
  const layer = manifest.layers[0];
  const blob = await repo.fetchBlob(layer.digest, layer.size); // fails if bytes don't match the digest
  await pipeline(blob.stream, createWriteStream('layer.tar.gz'));
  console.log(`layer ${layer.digest} saved to layer.tar.gz`);
} catch (err) {
  if (!(err instanceof LadingError)) throw err;
  console.error(`${err.kind}: ${err.message}`); // kinds: usage, unauthorized, not-found, digest-mismatch, network, …
  process.exitCode = 1;
}
