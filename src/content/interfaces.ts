import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/descriptor.js';

/**
 * The small capability interfaces every store implements (after oras-go `content/storage.go` and
 * `target.go`). Operations ask for the narrowest one they need, so one copy/push/pull works for a
 * registry, an OCI image layout, a folder of files or memory.
 */

/** Content for a push: a factory gives a fresh stream per attempt (so a failed request can be retried). */
export type Content = Buffer | (() => Readable);

export interface Fetcher {
  /** The content of `desc`, as a stream that fails at its end unless size and digest match. */
  fetch(desc: Descriptor): Promise<Readable>;
}

export interface Pusher {
  /** Stores content that must match `desc` (verified; nothing half-written is kept on failure). */
  push(desc: Descriptor, content: Content): Promise<void>;
}

export interface Exister {
  exists(desc: Descriptor): Promise<boolean>;
}

export interface Deleter {
  delete(desc: Descriptor): Promise<void>;
}

export interface Resolver {
  /** A tag or digest → the descriptor of the manifest it names ('not-found' error otherwise). */
  resolve(reference: string): Promise<Descriptor>;
}

export interface Tagger {
  /** Points `reference` (a tag) at the manifest `desc`, which must already be stored. */
  tag(desc: Descriptor, reference: string): Promise<void>;
}

export interface TagLister {
  tags(): Promise<string[]>;
}

/** The manifests whose `subject` is `subject`, optionally filtered by artifact type. */
export interface ReferrerLister {
  referrers(subject: Descriptor, artifactType?: string): Promise<Descriptor[]>;
}

export type ReadOnlyStorage = Fetcher & Exister;
export type Storage = ReadOnlyStorage & Pusher;
export type ReadOnlyTarget = ReadOnlyStorage & Resolver;
export type Target = Storage & Resolver & Tagger;

/**
 * The whole content of `desc` as bytes, verified by the fetcher (size and digest). For manifests and configs,
 * whose size the descriptor bounds; never for layers of unknown size.
 */
export async function fetchAll(fetcher: Fetcher, desc: Descriptor): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await fetcher.fetch(desc)) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

export function isTagLister(s: object): s is TagLister {
  return typeof (s as TagLister).tags === 'function';
}
export function isReferrerLister(s: object): s is ReferrerLister {
  return typeof (s as ReferrerLister).referrers === 'function';
}
export function isDeleter(s: object): s is Deleter {
  return typeof (s as Deleter).delete === 'function';
}
