/** Helpers for the OCI layout tests: stream reading, descriptors, a tar writer, and the store built for child processes. */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import type { Descriptor } from '../../../src/oci/descriptor.js';
import { removeAtExit, tmpDir } from '../../helpers/tmp.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const REF_NAME = 'org.opencontainers.image.ref.name';

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function descOf(bytes: Buffer, mediaType = 'application/octet-stream'): Descriptor {
  return { mediaType, digest: sha256(bytes), size: bytes.length };
}

/** A small image manifest (unique through `note`), optionally a referrer of `subject`. */
export function manifestBytes(note: string, subject?: Descriptor, artifactType?: string): Buffer {
  const empty = { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256('{}'), size: 2 };
  const m: Record<string, unknown> = { schemaVersion: 2, mediaType: OCI_MANIFEST };
  if (artifactType) m.artifactType = artifactType;
  m.config = empty;
  m.layers = [];
  if (subject) m.subject = { mediaType: subject.mediaType, digest: subject.digest, size: subject.size };
  m.annotations = { note };
  return Buffer.from(JSON.stringify(m));
}

export function manifestDesc(note: string, subject?: Descriptor, artifactType?: string): { desc: Descriptor; bytes: Buffer } {
  const bytes = manifestBytes(note, subject, artifactType);
  return { desc: descOf(bytes, OCI_MANIFEST), bytes };
}

export async function expectKind(p: Promise<unknown>, kind: string, message?: RegExp): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  if (!err) throw new Error(`expected a '${kind}' error, but it succeeded`);
  if ((err as { kind?: string }).kind !== kind) throw new Error(`expected a '${kind}' error, got ${(err as { kind?: string }).kind}: ${(err as Error).message}`);
  if (message && !message.test((err as Error).message)) throw new Error(`error message "${(err as Error).message}" does not match ${message}`);
}

// ---- tar writer (ustar, with PAX headers when asked) ----

export interface TarEntry {
  name: string;
  type?: '0' | '5' | '1' | '2';
  data?: Buffer | string;
  linkName?: string;
  /** write the name in a PAX extended header (the ustar name field gets a placeholder) */
  pax?: boolean;
}

function header(name: string, type: string, size: number, linkName = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 'utf8');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write(type, 156, 'latin1');
  h.write(linkName.slice(0, 100), 157, 'utf8');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function pad(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rest)]);
}

export function makeTar(items: TarEntry[], options: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of items) {
    const data = Buffer.from(e.data ?? '');
    const type = e.type ?? '0';
    if (e.pax) {
      const rec = (k: string, v: string) => {
        const body = ` ${k}=${v}\n`;
        let len = body.length + 1;
        while (`${len}${body}`.length !== len) len++;
        return `${len}${body}`;
      };
      const paxData = Buffer.from(rec('path', e.name));
      parts.push(header('PaxHeaders/x', 'x', paxData.length), pad(paxData));
    }
    parts.push(header(e.pax ? 'placeholder' : e.name, type, type === '0' ? data.length : 0, e.linkName));
    if (type === '0' && data.length > 0) parts.push(pad(data));
  }
  if (options.end ?? true) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** The tar entries of a layout folder (files only; folders are implied). */
export function layoutEntries(root: string, files: string[]): TarEntry[] {
  return files.map((f) => ({ name: f, data: readFileSync(join(root, f)) }));
}

// ---- the store, compiled for child processes ----

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));
let built: string | undefined;

/**
 * Transpiles src/content/oci-layout/store.ts and everything it imports (relative imports; packages
 * resolve from the project's node_modules) into a temporary folder, so plain `node` child processes
 * can run the real store. Returns the folder; the store is at content/oci-layout/store.js.
 */
export function buildStoreForChildren(): string {
  if (built) return built;
  // Inside the project's node_modules, so the packages the store imports (tar) resolve from the build.
  const cache = join(SRC, '..', 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const out = mkdtempSync(join(cache, 'lading-layout-build-'));
  removeAtExit(out);
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  const todo = [join(SRC, 'content/oci-layout/store.ts')];
  const done = new Set<string>();
  while (todo.length > 0) {
    const file = todo.pop() as string;
    if (done.has(file)) continue;
    done.add(file);
    const source = readFileSync(file, 'utf8');
    for (const m of source.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) todo.push(join(dirname(file), `${m[1]}.ts`));
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } }).outputText;
    const target = join(out, relative(SRC, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, js);
  }
  built = out;
  return out;
}
