/** lading as a library: references, the registry client, credentials, errors and OCI types. */
export { parseReference, formatReference, withTag, withDigest, type Reference } from './reference/reference.js';
export { Registry, DEFAULT_MAX_MANIFEST_SIZE, type RegistryOptions } from './registry/registry.js';
export { Repository, type FetchedManifest, type FetchedBlob } from './registry/repository.js';
export { createCredentialProvider, storeCredential, removeCredential } from './registry/credentials/config.js';
export type { Credential, CredentialProvider } from './registry/credentials/types.js';
export { LadingError, RegistryResponseError, EXIT_CODES, type ErrorKind } from './errors/errors.js';
export { MediaType, MANIFEST_ACCEPT } from './oci/mediatypes.js';
export { digestOf, parseDigest, VerifyingStream } from './oci/digest.js';
export { parsePlatform, selectPlatform, detectManifestMediaType } from './oci/manifest.js';
export type { Descriptor, ImageManifest, ImageIndex, Platform } from './oci/descriptor.js';
export { main as runCli } from './cli/main.js';
export { seekable, fileContent, parseChunkSize, DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_THRESHOLD, type SeekableContent, type UploadSource } from './registry/upload.js';
export { rateLimitOf, describeRateLimit, type RateLimit } from './registry/http/rate-limit.js';
