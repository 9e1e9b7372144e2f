/**
 * Paths and known digests of the busybox fixtures (see __tests__/fixtures/README.md and images/digests.txt),
 * and `pushV2s2WithSkopeo` to seed a registry with the Docker-format image through an independent client.
 */
import { fileURLToPath } from 'node:url';
import type { RunningRegistry } from './registry.js';
import { skopeoCopy, skopeoManifestDigest } from './skopeo.js';

export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const IMAGES_DIR = fileURLToPath(new URL('../fixtures/images/', import.meta.url));
/** skopeo `dir:` layout of the Docker schema 2 image */
export const BUSYBOX_V2S2_DIR = fileURLToPath(new URL('../fixtures/images/busybox-v2s2', import.meta.url));
/** OCI image layout with tags latest, arm64-variant, multi */
export const BUSYBOX_OCI_DIR = fileURLToPath(new URL('../fixtures/images/busybox-oci', import.meta.url));

export interface KnownDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

export const DIGEST_CONFIG_LATEST = 'sha256:cc1677f485dbd0d3d3f0ee5c40ee72c698952cc4719e09eae3116baa5800054c';
export const DIGEST_CONFIG_ARM64 = 'sha256:a67968a573ae4545d44ec09ba7e031e6d23c4a5d6bfa2e50a0cab72ec090401d';
export const DIGEST_LAYER0 = 'sha256:0656eef56b5dc53afb8d64fda451c9375c5e7fba22ee338ad42a3261a6182331';
export const DIGEST_LAYER1 = 'sha256:b132d099120cbe8b79d9c7740866c1a31fa09183b44dedc3b2f95ae597362b69';

/** busybox-v2s2: Docker schema 2 manifest, same config/layer bytes as the OCI latest image, Docker media types */
export const BUSYBOX_V2S2 = {
  manifest: { mediaType: DOCKER_MANIFEST, digest: 'sha256:3e537ab4f53559dffbda4b57a01f7ffafa1584b6d5aa01a3b3405b94cfc1db07', size: 587 },
  config: { mediaType: DOCKER_CONFIG, digest: DIGEST_CONFIG_LATEST, size: 872 },
  layers: [
    { mediaType: DOCKER_LAYER_GZIP, digest: DIGEST_LAYER0, size: 1084069 },
    { mediaType: DOCKER_LAYER_GZIP, digest: DIGEST_LAYER1, size: 326 },
  ],
} as const satisfies { manifest: KnownDescriptor; config: KnownDescriptor; layers: readonly KnownDescriptor[] };

const OCI_LAYERS = [
  { mediaType: OCI_LAYER_GZIP, digest: DIGEST_LAYER0, size: 1084069 },
  { mediaType: OCI_LAYER_GZIP, digest: DIGEST_LAYER1, size: 326 },
] as const;

/** busybox-oci: tags of the OCI layout */
export const BUSYBOX_OCI = {
  /** tag latest, linux/amd64 */
  latest: {
    manifest: { mediaType: OCI_MANIFEST, digest: 'sha256:02212e7491b1056c9b35b497e376e4e55784728e7ad762d61b415cd459f5027f', size: 577 },
    config: { mediaType: OCI_CONFIG, digest: DIGEST_CONFIG_LATEST, size: 872 },
    layers: OCI_LAYERS,
  },
  /** tag arm64-variant: config says arm64, the binary is x86-64 */
  arm64Variant: {
    manifest: { mediaType: OCI_MANIFEST, digest: 'sha256:399bb80abdb7c907ae53d0c2e84cab331f8397889642150740c1f8c311450b9c', size: 578 },
    config: { mediaType: OCI_CONFIG, digest: DIGEST_CONFIG_ARM64, size: 1060 },
    layers: OCI_LAYERS,
  },
  /** tag multi: index of latest (linux/amd64) and arm64-variant (linux/arm64/v8) */
  multi: { mediaType: OCI_INDEX, digest: 'sha256:94d99676a23220d5506b8eb11f03c1f1efeb1258cb2973936e3bb6875981e27b', size: 580 },
} as const;

/** Absolute path of a blob in the OCI layout fixture. */
export function ociBlobPath(digest: string): string {
  const [algorithm, hex] = digest.split(':');
  return fileURLToPath(new URL(`../fixtures/images/busybox-oci/blobs/${algorithm}/${hex}`, import.meta.url));
}

/**
 * Push busybox-v2s2 to `registry` as `repo:tag` with skopeo (not project code), digests preserved, and check that
 * the registry then serves manifest 3e537ab4…. Returns that digest.
 */
export async function pushV2s2WithSkopeo(registry: RunningRegistry, repo: string, tag: string): Promise<string> {
  await skopeoCopy(`dir:${BUSYBOX_V2S2_DIR}`, `docker://${registry.host}/${repo}:${tag}`, { dest: registry });
  const digest = await skopeoManifestDigest(registry, `${repo}:${tag}`);
  if (digest !== BUSYBOX_V2S2.manifest.digest) {
    throw new Error(`skopeo pushed ${repo}:${tag} but the registry serves ${digest}, expected ${BUSYBOX_V2S2.manifest.digest}`);
  }
  return digest;
}
