import { createHash } from 'node:crypto';
import type { Step } from '../registry/fake-registry.js';

export const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha('{}'), size: 2 };
export const SBOM = 'application/vnd.example.sbom';
export const SIG = 'application/vnd.example.signature';

/** The subject every test attaches to: a small image manifest. */
export const SUBJECT_BYTES = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: EMPTY, layers: [] }));
export const SUBJECT = { mediaType: OCI_MANIFEST, digest: sha(SUBJECT_BYTES), size: SUBJECT_BYTES.length };
/** The referrers tag-schema tag of SUBJECT. */
export const TAG = `sha256-${SUBJECT.digest.slice('sha256:'.length)}`;

/** A referrer manifest of `subject` (artifactType, annotations) and its descriptor as a referrers index lists it. */
export function referrer(artifactType: string, note: string, subject = SUBJECT) {
  const bytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType, config: EMPTY, layers: [EMPTY], subject, annotations: { note } }),
  );
  const desc = { mediaType: OCI_MANIFEST, digest: sha(bytes), size: bytes.length };
  const listed = { ...desc, artifactType, annotations: { note } };
  return { bytes, desc, listed };
}

export function indexOf(manifests: unknown[]): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
}

const manifestHeaders = (bytes: Buffer, type = OCI_MANIFEST) => ({ 'content-type': type, 'docker-content-digest': sha(bytes), 'content-length': String(bytes.length) });

/** Scripted replies, as Distribution 2.8 gives them. */
export const reply = {
  putManifest: (ref: string, bytes: Buffer, extra: Record<string, string> = {}): Step => ({
    method: 'PUT',
    url: `/v2/team/app/manifests/${ref}`,
    status: 201,
    headers: (o) => ({ location: `${o}/v2/team/app/manifests/${sha(bytes)}`, 'docker-content-digest': sha(bytes), ...extra }),
  }),
  getManifest: (ref: string, bytes: Buffer, type = OCI_INDEX): Step => ({ method: 'GET', url: `/v2/team/app/manifests/${ref}`, status: 200, headers: manifestHeaders(bytes, type), body: bytes }),
  headManifest: (ref: string, bytes: Buffer, type = OCI_INDEX): Step => ({ method: 'HEAD', url: `/v2/team/app/manifests/${ref}`, status: 200, headers: manifestHeaders(bytes, type) }),
  manifestUnknown: (method: 'GET' | 'HEAD', ref: string): Step => ({
    method,
    url: `/v2/team/app/manifests/${ref}`,
    status: 404,
    body: { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: ref } }] },
  }),
  /** Distribution 2.8: no referrers route at all. */
  noReferrersApi: (url: string): Step => ({ method: 'GET', url, status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: '404 page not found\n' }),
  referrersPage: (url: string, manifests: unknown[], headers: Record<string, string> = {}): Step => ({
    method: 'GET',
    url,
    status: 200,
    headers: { 'content-type': OCI_INDEX, ...headers },
    body: { schemaVersion: 2, mediaType: OCI_INDEX, manifests },
  }),
};

export const referrersUrl = (digest: string, query = '') => `/v2/team/app/referrers/${digest}${query}`;
