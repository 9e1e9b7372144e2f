import { afterAll, afterEach, beforeAll } from '@jest/globals';
import type { Dispatcher } from 'undici';
import { Registry, type RegistryOptions } from '../../../src/registry/registry.js';
import { createDispatcher } from '../../../src/registry/http/undici-transport.js';
import { FakeRegistry, type Step } from './fake-registry.js';

export const DA = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
export const DB = 'sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210';
/** What every manifest GET/HEAD sends by default (CASES B19). */
export const ACCEPT =
  'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, ' +
  'application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, ' +
  'application/vnd.oci.artifact.manifest.v1+json';

/**
 * Registers the hooks for a test file: one shared undici dispatcher, fakes closed after each test.
 * `fake()` starts a scripted server; `client()` builds a Registry on it (plain http, fast retries,
 * sleeps and log lines recorded, never really waiting).
 */
export function useFakes() {
  let dispatcher: Dispatcher;
  const servers: FakeRegistry[] = [];
  beforeAll(() => {
    dispatcher = createDispatcher();
  });
  afterAll(async () => {
    await dispatcher.close();
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function fake(steps: Step[] = []): Promise<FakeRegistry> {
    const f = await FakeRegistry.start(steps);
    servers.push(f);
    return f;
  }

  function client(f: FakeRegistry, options: RegistryOptions = {}) {
    const logs: string[] = [];
    const sleeps: number[] = [];
    const registry = new Registry(f.host, f.host, {
      plainHttp: true,
      retry: { maxRetries: 3, baseDelayMs: 1, maxDelayMs: 60_000 },
      log: (l) => logs.push(l),
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      dispatcher,
      ...options,
    });
    return { registry, repo: registry.repository('team/app'), logs, sleeps };
  }

  return { fake, client };
}

/** Reads a stream to the end. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error & { kind?: string; exitCode?: number }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { kind?: string; exitCode?: number };
  }
  throw new Error('expected a rejection, but the promise resolved');
}
